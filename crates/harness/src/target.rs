//! A target process started in its own process group, with its stderr tail kept and a guaranteed
//! stop: what `Drive` and `Watch` start, and how messages describe how a process ended.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use leakproof_agents::{AgentChoice, Pending};

/// A target that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start target `{program}`: {source}")]
pub struct SpawnError {
    /// The command line.
    pub program: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// How many of the target's last stderr lines are kept for failure messages.
const STDERR_LINES: usize = 20;
/// Longest stderr line kept (longer lines are cut, so a binary blob cannot eat memory).
const STDERR_LINE_BYTES: usize = 512;
/// Default time between SIGTERM and SIGKILL.
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(3);

/// Process groups of targets that are running now, so a signal handler can stop them all
/// ([`stop_all_targets`]).
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn live_groups() -> std::sync::MutexGuard<'static, Vec<i32>> {
    LIVE_GROUPS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Stops every target started by this process that is still running: SIGTERM to each process group,
/// then SIGKILL to those still alive after `grace`; then removes every runtime agent's directory.
///
/// Meant for a Ctrl-C / SIGTERM handler of a program that drives targets (the `leakproof` CLI calls it
/// before exiting), so that no target outlives its driver. Normal runs do not need it: a [`Target`]
/// stops its group when dropped.
pub fn stop_all_targets(grace: Duration) {
    let groups: Vec<i32> = live_groups().clone();
    for &pgid in &groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && groups.iter().any(|&g| group_alive(g)) {
        thread::sleep(Duration::from_millis(10));
    }
    for &pgid in &groups {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    // The runtime agents' private directories (their sockets are gone with the targets).
    leakproof_agents::cleanup_all();
}

/// A `sh -c LINE` command: how the CLI runs a target given as one shell command line, for
/// [`Drive::new`](crate::drive::Drive::new).
///
/// A simple command (no `;`, `&`, `|`, parentheses, backquotes or quotes) is run as
/// `sh -c 'exec LINE'`, so the program itself is the target's main process: its exit status is the
/// target's, and it dies with its driver.
pub fn shell_command(line: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(exec_line(line).unwrap_or_else(|| line.to_owned()));
    cmd
}

/// True while any live (not zombie) process is in process group `pgid`.
///
/// Zombies do not count: an orphaned member that was killed stays a zombie until init reaps it,
/// which some container inits never do, but it runs no code and holds no memory.
pub(crate) fn group_alive(pgid: i32) -> bool {
    // Signal "None" only checks existence and permission.
    if matches!(killpg(Pid::from_raw(pgid), None), Err(Errno::ESRCH)) {
        return false;
    }
    match group_members(pgid) {
        Ok(members) => !members.is_empty(),
        Err(_) => true,
    }
}

use leakproof_sample::process_group_members as group_members;

/// The last lines a target wrote to stderr, filled by a thread that drains the pipe.
#[derive(Debug, Default)]
struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, mut bytes: Vec<u8>) {
        while matches!(bytes.last(), Some(b'\n' | b'\r')) {
            bytes.pop();
        }
        bytes.truncate(STDERR_LINE_BYTES);
        if self.lines.len() == STDERR_LINES {
            self.lines.pop_front();
        }
        self.lines
            .push_back(String::from_utf8_lossy(&bytes).into_owned());
    }
}

/// A process started in a new process group (its PID is the group ID), with stdin closed and stderr
/// captured into a bounded ring of recent lines. Dropping it stops the whole group: SIGTERM, then
/// SIGKILL after the grace period, so no target is left behind.
#[derive(Debug)]
pub struct Target {
    child: Child,
    pgid: i32,
    program: String,
    tail: Arc<Mutex<Tail>>,
    status: Option<ExitStatus>,
    grace: Duration,
    stopped: bool,
    /// Kills the group when the pipe to it closes, i.e. when this process dies.
    guardian: Option<Child>,
}

impl Target {
    /// A `sh -c LINE` command (see [`shell_command`]).
    #[cfg(test)]
    pub(crate) fn shell(line: &str) -> Command {
        shell_command(line)
    }

    /// Starts `cmd` in its own process group, stdin from `/dev/null`, stderr captured (the last
    /// lines are kept for failure messages; see [`Target::stderr_tail`]). Stdout is left as `cmd`
    /// configured it.
    ///
    /// The target never outlives this process, even when it is killed with SIGKILL: the main
    /// process gets SIGKILL when the spawning *thread* dies (`PR_SET_PDEATHSIG`, so spawn from a
    /// thread that outlives the target), and a guardian `sh`, in a group of its own, kills the
    /// whole group (workers, a compound command's children) once this process is gone.
    pub fn spawn(mut cmd: Command) -> Result<Target, SpawnError> {
        use std::os::unix::process::CommandExt;
        let program = describe(&cmd);
        leakproof_sample::process::kill_with_parent(&mut cmd);
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|source| SpawnError {
            program: program.clone(),
            source,
        })?;
        let pgid = i32::try_from(child.id()).map_err(|_| SpawnError {
            program: program.clone(),
            source: std::io::Error::other("process id out of range"),
        })?;
        live_groups().push(pgid);
        let guardian = guardian(pgid).ok();
        let tail = Arc::new(Mutex::new(Tail::default()));
        if let Some(stderr) = child.stderr.take() {
            let tail = Arc::clone(&tail);
            // Detached on purpose: a grandchild that keeps the pipe open must not block the stop.
            let _ = thread::Builder::new()
                .name("leakproof-target-stderr".into())
                .spawn(move || {
                    let mut reader = BufReader::new(stderr);
                    loop {
                        let mut line = Vec::new();
                        match reader.read_until(b'\n', &mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => tail
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(line),
                        }
                    }
                });
        }
        Ok(Target {
            child,
            pgid,
            program,
            tail,
            status: None,
            grace: DEFAULT_GRACE,
            stopped: false,
            guardian,
        })
    }

    /// Starts `cmd` with `agent` injected into it (its environment: see [`Pending::inject`]),
    /// what every adapter that starts a target does; the agent is made ready once the target is.
    pub(crate) fn start(
        mut cmd: Command,
        agent: AgentChoice,
        notes: &mut Vec<String>,
    ) -> Result<(Target, Option<Pending>), SpawnError> {
        let pending = Pending::inject(agent, &mut cmd, notes);
        Ok((Target::spawn(cmd)?, pending))
    }

    /// The last line the target wrote to stderr that is not blank, trimmed.
    pub fn last_stderr_line(&self) -> Option<String> {
        last_line(&self.stderr_tail().join("\n")).map(str::to_owned)
    }

    /// Sets the time between SIGTERM and SIGKILL when the target is stopped (default 3 s).
    pub fn set_grace(&mut self, grace: Duration) {
        self.grace = grace;
    }

    /// The target's PID, which is also its process group ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The command that was started, for messages.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The exit status if the main process has exited (it is reaped then), `None` while it runs.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
            }
        }
        self.status
    }

    /// Waits up to `timeout` for the main process to exit; its status if it did.
    pub fn wait_status(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The last lines (at most 20) the target wrote to stderr, oldest first.
    pub fn stderr_tail(&self) -> Vec<String> {
        // Give the drain thread a moment to read what a just-exited process wrote.
        thread::sleep(Duration::from_millis(20));
        let tail = self.tail.lock().unwrap_or_else(PoisonError::into_inner);
        tail.lines.iter().cloned().collect()
    }

    /// Stops the whole process group: SIGTERM, then SIGKILL to whatever is left after the grace
    /// period. Returns the main process's exit status. Idempotent; also done on drop.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if self.stopped {
            return self.status;
        }
        self.stopped = true;
        let pg = Pid::from_raw(self.pgid);
        let _ = killpg(pg, Signal::SIGTERM);
        let deadline = Instant::now() + self.grace;
        loop {
            let leader_done = self.try_status().is_some();
            if leader_done && !group_alive(self.pgid) {
                break;
            }
            if Instant::now() >= deadline {
                let _ = killpg(pg, Signal::SIGKILL);
                if self.status.is_none() {
                    self.status = self.child.wait().ok();
                }
                // Orphaned members are reaped by init; wait briefly for them to disappear.
                let gone_by = Instant::now() + Duration::from_secs(1);
                while group_alive(self.pgid) && Instant::now() < gone_by {
                    thread::sleep(Duration::from_millis(5));
                }
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        live_groups().retain(|&g| g != self.pgid);
        if let Some(mut guardian) = self.guardian.take() {
            // Before its pipe closes: a stopped group's id must not be signalled later.
            let _ = guardian.kill();
            let _ = guardian.wait();
        }
        self.status
    }
}

/// A `sh` in its own process group that waits for end-of-file on its stdin, a pipe whose only
/// writer is this process (std's pipes are close-on-exec), then SIGKILLs process group `pgid`.
/// The kernel closes the pipe when this process dies, however it dies.
fn guardian(pgid: i32) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt;
    Command::new("sh")
        .arg("-c")
        .arg(format!("read _ ; kill -KILL -{pgid} 2>/dev/null"))
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// `exec LINE` (after any leading `NAME=value` assignments) when `LINE` is one simple command
/// that `sh` can replace itself with; `None` for anything else (lists, pipes, background jobs,
/// subshells, quotes, builtins and reserved words), which runs unchanged.
fn exec_line(line: &str) -> Option<String> {
    // Lists, pipes, background jobs, subshells, and quotes (which would hide word boundaries).
    const SPECIAL: &[char] = &[';', '&', '|', '(', ')', '`', '\'', '"', '\\', '\n'];
    if line.contains(SPECIAL) {
        return None;
    }
    const BUILTINS: &[&str] = &[
        "if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
        "in", "{", "}", "!", "exec", "cd", "export", ".", "source", "set", "unset", "trap", "eval",
        "exit", "return", "shift", "wait", "alias", "umask", "ulimit", "readonly", "local", ":",
    ];
    let is_assignment = |w: &str| {
        w.split_once('=').is_some_and(|(name, _)| {
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    };
    let mut offset = 0;
    for word in line.split_whitespace() {
        let at = offset + line[offset..].find(word)?;
        offset = at + word.len();
        if is_assignment(word) {
            continue;
        }
        if BUILTINS.contains(&word) {
            return None;
        }
        return Some(format!("{}exec {}", &line[..at], &line[at..]));
    }
    None
}

impl Drop for Target {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `program arg1 arg2` of a command, for messages (`sh -c LINE` shows as `LINE`).
fn describe(cmd: &Command) -> String {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if program == "sh" && args.len() == 2 && args[0] == "-c" {
        // Shown as the user wrote it, without the `exec` that `Target::shell` may have added.
        return match args[1].split_once("exec ") {
            Some((before, after))
                if exec_line(&format!("{before}{after}")).as_ref() == Some(&args[1]) =>
            {
                format!("{before}{after}")
            }
            _ => args[1].clone(),
        };
    }
    std::iter::once(program)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last line of `text` that is not blank, trimmed: what messages quote of a process's stderr.
pub fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// "exit status 3" / "killed by signal 9 (SIGKILL)", for messages.
pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    if let Some(sig) = status.signal() {
        let name = Signal::try_from(sig)
            .map(|s| format!(" ({})", s.as_str()))
            .unwrap_or_default();
        let core = if status.core_dumped() {
            ", core dumped"
        } else {
            ""
        };
        return format!("killed by signal {sig}{name}{core}");
    }
    status.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines_cut_to_size() {
        let mut tail = Tail::default();
        for i in 0..30 {
            tail.push(format!("line {i}\n").into_bytes());
        }
        tail.push(vec![b'x'; 2000]);
        assert_eq!(tail.lines.len(), STDERR_LINES);
        assert_eq!(tail.lines[0], "line 11");
        assert_eq!(tail.lines.back().map(String::len), Some(STDERR_LINE_BYTES));
    }

    #[test]
    fn stop_kills_the_whole_group_including_grandchildren() {
        // The shell ignores SIGTERM and starts a grandchild that ignores it too: SIGKILL must follow.
        let mut target =
            Target::spawn(Target::shell("trap '' TERM; sleep 30 & sleep 30; wait")).expect("spawn");
        target.set_grace(Duration::from_millis(200));
        let pgid = target.pgid;
        thread::sleep(Duration::from_millis(100));
        assert!(group_alive(pgid));
        let status = target.stop();
        assert!(status.is_some());
        assert!(!group_alive(pgid), "process group {pgid} still alive");
        assert!(!live_groups().contains(&pgid));
    }

    #[test]
    fn stderr_and_status_of_a_crashing_target_are_kept() {
        let mut target =
            Target::spawn(Target::shell("echo first >&2; echo boom >&2; exit 7")).expect("spawn");
        let status = target.wait_status(Duration::from_secs(5)).expect("exited");
        assert_eq!(describe_status(status), "exit status 7");
        assert_eq!(
            target.stderr_tail(),
            vec!["first".to_string(), "boom".to_string()]
        );
        assert_eq!(target.program(), "echo first >&2; echo boom >&2; exit 7");
    }

    #[test]
    fn simple_commands_are_execed_and_shown_as_written() {
        assert_eq!(
            exec_line("python3 -m http.server 8000").as_deref(),
            Some("exec python3 -m http.server 8000")
        );
        assert_eq!(
            exec_line("  A=1 B=x=y node app.js > log").as_deref(),
            Some("  A=1 B=x=y exec node app.js > log")
        );
        for compound in [
            "a; b", "a && b", "a | b", "a &", "(a)", "cd x", "if x", "A=1", "", "echo 'x'",
            "exec a",
        ] {
            assert_eq!(exec_line(compound), None, "{compound}");
        }
        let target = Target::spawn(Target::shell("A=1 sleep 5")).expect("spawn");
        assert_eq!(target.program(), "A=1 sleep 5");
        let comm = || std::fs::read_to_string(format!("/proc/{}/comm", target.pid()));
        let deadline = Instant::now() + Duration::from_secs(10);
        while comm().expect("comm").trim() != "sleep" && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(comm().expect("comm").trim(), "sleep", "sh replaced itself");
    }

    const HELPER_VAR: &str = "LEAKPROOF_TEST_TARGET_HELPER";

    /// Runs this test binary as a driver that spawns `line` as a target and prints its group.
    fn driver(line: &str) -> (Child, i32) {
        use std::io::BufRead;
        let exe = std::env::current_exe().expect("test binary");
        let mut helper = Command::new(exe)
            .args([
                "target::tests::targets_die_with_their_driver_even_on_sigkill",
                "--exact",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(HELPER_VAR, line)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn driver");
        let stdout = BufReader::new(helper.stdout.take().expect("stdout"));
        let pgid = stdout
            .lines()
            .map_while(Result::ok)
            // libtest prints `test NAME ... ` before the test's own output, on the same line.
            .find_map(|l| {
                l.rsplit_once("pgid ")
                    .and_then(|(_, p)| p.trim().parse().ok())
            })
            .expect("the driver names the target's group");
        (helper, pgid)
    }

    #[test]
    fn targets_die_with_their_driver_even_on_sigkill() {
        if let Some(line) = std::env::var_os(HELPER_VAR) {
            let target = Target::spawn(Target::shell(&line.to_string_lossy())).expect("spawn");
            println!("pgid {}", target.pgid);
            thread::sleep(Duration::from_secs(60));
            return;
        }
        // A real server run directly (sh execs it), and one behind a shell that stays with a
        // second child: the driver is SIGKILLed; nothing of either group may survive.
        for (line, members) in [
            ("python3 -m http.server 0 --bind 127.0.0.1", 1),
            (
                "python3 -m http.server 0 --bind 127.0.0.1 & sleep 1000; wait",
                3,
            ),
        ] {
            let (mut helper, pgid) = driver(line);
            let started = Instant::now() + Duration::from_secs(30);
            while group_members(pgid).map_or(0, |m| m.len()) < members && Instant::now() < started {
                thread::sleep(Duration::from_millis(10));
            }
            assert!(group_alive(pgid), "{line}: the target runs");
            helper.kill().expect("SIGKILL the driver");
            helper.wait().expect("reap the driver");
            let deadline = Instant::now() + Duration::from_secs(5);
            while group_alive(pgid) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            let survived = group_alive(pgid);
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            assert!(
                !survived,
                "{line}: group {pgid} outlived its SIGKILLed driver"
            );
        }
    }

    #[test]
    fn spawning_a_missing_program_is_a_typed_error() {
        let err = Target::spawn(Command::new("/nonexistent/leakproof-target")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot start target `/nonexistent/leakproof-target`"),
            "{err}"
        );
    }
}
