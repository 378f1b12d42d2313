//! HotSpot's Dynamic Attach on Linux, from outside the JVM: nothing is injected and nothing is
//! spawned. A JVM listens on `/tmp/.java_pid<pid>` once asked; asking is creating
//! `.attach_pid<pid>` in its working directory (or `/tmp`) and sending it `SIGQUIT`, after which
//! its signal dispatcher starts the attach listener instead of printing a thread dump. A request
//! is `1\0jcmd\0<command>\0\0\0` (protocol 1, the `jcmd` operation, three arguments); the reply
//! is the return code on a line, then the command's output, then end of file.
//!
//! `SIGQUIT` kills a process that has not installed its handler (a JVM still starting), so it is
//! sent only once the JVM's performance-data file says it is a HotSpot JVM that accepts attach,
//! and `/proc/<pid>/status` says `SIGQUIT` is caught.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{parse, JvmError};

/// How long a JVM has to open its socket after `SIGQUIT`.
const SOCKET_WAIT: Duration = Duration::from_secs(5);

/// Longest reply accepted (a class histogram of a large application is a few MB).
const MAX_REPLY: u64 = 64 << 20;

/// The performance-data file of `pid`: `/tmp/hsperfdata_<user>/<pid>`, for any user.
pub(super) fn perf_file(pid: u32) -> Option<PathBuf> {
    let entries = std::fs::read_dir("/tmp").ok()?;
    entries.filter_map(Result::ok).find_map(|e| {
        let name = e.file_name();
        let file = e.path().join(pid.to_string());
        (name.to_string_lossy().starts_with("hsperfdata_") && file.is_file()).then_some(file)
    })
}

/// The attach socket of `pid`.
fn socket_path(pid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/.java_pid{pid}"))
}

/// Why a JVM cannot be attached to yet; [`Precheck::Never`] will not change by waiting.
pub(super) enum Precheck {
    /// Ready: send `SIGQUIT` (or the socket is already there).
    Ready,
    /// Not yet (still starting): the error to give if it never gets ready.
    NotYet(JvmError),
    /// Never (attach disabled).
    Never(JvmError),
}

/// Whether `pid` is a HotSpot JVM we can judge (attach allowed, a collector with exact counters),
/// and may be sent `SIGQUIT` now (or already listens).
pub(super) fn precheck(pid: u32) -> Precheck {
    let perf = perf_file(pid)
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|data| parse::perf_data(&data));
    let Some(perf) = perf else {
        return Precheck::NotYet(JvmError::NotHotSpot { pid });
    };
    if parse::attachable(&perf) == Some(false) {
        return Precheck::Never(JvmError::Disabled { pid });
    }
    if let Err(collector) = parse::exact_collector(&perf) {
        return Precheck::Never(JvmError::Collector { pid, collector });
    }
    if socket_path(pid).exists() {
        return Precheck::Ready;
    }
    match leakproof_sample::catches_signal(pid, sigquit()) {
        Ok(true) => Precheck::Ready,
        Ok(false) => Precheck::NotYet(JvmError::NoHandler { pid }),
        Err(e) => Precheck::Never(JvmError::Probe(e)),
    }
}

fn sigquit() -> i32 {
    nix::sys::signal::Signal::SIGQUIT as i32
}

/// Makes `pid` open its attach socket (see the module's documentation); call after
/// [`precheck`] said [`Precheck::Ready`].
pub(super) fn start_listener(pid: u32) -> Result<(), JvmError> {
    let socket = socket_path(pid);
    if UnixStream::connect(&socket).is_ok() {
        return Ok(());
    }
    let file = attach_file(pid)?;
    let sent = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGQUIT,
    );
    let started = sent.is_ok() && wait_for(&socket, SOCKET_WAIT);
    let _ = std::fs::remove_file(&file);
    match sent {
        Err(e) => Err(JvmError::Io {
            pid,
            source: std::io::Error::from(e),
        }),
        Ok(()) if !started => Err(JvmError::NoSocket {
            pid,
            timeout: SOCKET_WAIT,
        }),
        Ok(()) => Ok(()),
    }
}

/// Creates `.attach_pid<pid>` where the JVM looks: its working directory, else `/tmp`.
fn attach_file(pid: u32) -> Result<PathBuf, JvmError> {
    let name = format!(".attach_pid{pid}");
    let mut last = None;
    let cwd = leakproof_sample::working_dir(pid).ok();
    for dir in cwd.iter().map(PathBuf::as_path).chain([Path::new("/tmp")]) {
        let path = dir.join(&name);
        match std::fs::File::create(&path) {
            Ok(_) => return Ok(path),
            Err(e) => last = Some(e),
        }
    }
    Err(JvmError::Io {
        pid,
        source: last.unwrap_or_else(|| std::io::Error::other("no directory")),
    })
}

/// Polls for a socket that accepts a connection, 10 ms then doubling up to 200 ms, until `wait`.
fn wait_for(socket: &Path, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(10);
    loop {
        if UnixStream::connect(socket).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// Runs the diagnostic `command` (`GC.run`, `GC.class_histogram`) in `pid` and returns its
/// output; the whole exchange takes at most `timeout`.
pub(super) fn jcmd(pid: u32, command: &str, timeout: Duration) -> Result<String, JvmError> {
    let io = |source| JvmError::Io { pid, source };
    let deadline = Instant::now() + timeout;
    let mut stream = UnixStream::connect(socket_path(pid)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    stream
        .write_all(format!("1\0jcmd\0{command}\0\0\0").as_bytes())
        .map_err(|e| timed_out(pid, command, timeout, e))?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timeout_error(pid, command, timeout));
        }
        stream.set_read_timeout(Some(left)).map_err(io)?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(pid, command, timeout, e)),
        }
        if reply.len() as u64 > MAX_REPLY {
            return Err(bad(pid, command, "a reply over 64 MiB".to_owned()));
        }
    }
    parse::reply(&reply).map_err(|detail| bad(pid, command, detail))
}

fn timed_out(pid: u32, command: &str, timeout: Duration, e: std::io::Error) -> JvmError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => timeout_error(pid, command, timeout),
        _ => JvmError::Io { pid, source: e },
    }
}

fn timeout_error(pid: u32, command: &str, timeout: Duration) -> JvmError {
    JvmError::Timeout {
        pid,
        command: command.to_owned(),
        timeout,
    }
}

fn bad(pid: u32, command: &str, detail: String) -> JvmError {
    JvmError::BadReply {
        pid,
        command: command.to_owned(),
        detail,
    }
}
