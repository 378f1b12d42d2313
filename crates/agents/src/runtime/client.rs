//! The Rust side of the agent protocol: one line of JSON to each process's Unix socket, one line back.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use leakproof_diff::{Frame, Site, Snapshot};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::AgentError;

/// The environment variable telling the agent where to put its socket.
pub(super) const DIR_VAR: &str = "LEAKPROOF_AGENT_DIR";

/// Longest reply line accepted (a snapshot of a large heap is a few MB).
const MAX_REPLY: u64 = 256 << 20;

/// A `sample` reply.
#[derive(Debug, Deserialize)]
pub(super) struct SampleReply {
    pub(super) bytes: f64,
    /// Seconds the target spent answering (its pause), when the agent says.
    #[serde(default)]
    pub(super) spent: f64,
}

/// A `snapshot` reply: sites as `[[frame, ...], bytes, count]`, frames innermost first.
#[derive(Debug, Deserialize)]
pub(super) struct SnapshotReply {
    sites: Vec<(Vec<WireFrame>, u64, u64)>,
}

/// `[file, line (1-based), function or null]`.
#[derive(Debug, Deserialize)]
struct WireFrame(String, u32, Option<String>);

impl WireFrame {
    fn into_frame(self) -> Frame {
        Frame {
            function: self.2.filter(|f| !f.is_empty()),
            file: Some(self.0).filter(|f| !f.is_empty()),
            line: Some(self.1).filter(|&l| l > 0),
            ..Frame::default()
        }
    }
}

/// The sockets in `dir` with the process id they are named after.
fn sockets(dir: &Path) -> Vec<(u32, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let pid = path
                .file_name()?
                .to_str()?
                .strip_suffix(".sock")?
                .parse()
                .ok()?;
            Some((pid, path))
        })
        .collect();
    out.sort();
    out
}

/// Sends `cmd` to one process. `Ok(None)` when the process is gone (no socket, nobody listening,
/// or it died while answering).
fn ask(
    pid: u32,
    path: &Path,
    request: &str,
    timeout: Duration,
) -> Result<Option<String>, AgentError> {
    let io = |source| AgentError::Io { pid, source };
    let mut stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            let _ = std::fs::remove_file(path); // left behind by a killed process
            return Ok(None);
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    let timeout = timeout.max(Duration::from_millis(1));
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let timed_out = |e: std::io::Error| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => AgentError::Timeout { pid, timeout },
        _ => io(e),
    };
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(timed_out)?;
    let mut line = String::new();
    let read = BufReader::new(std::io::Read::take(stream, MAX_REPLY)).read_line(&mut line);
    match read {
        Ok(_) if line.ends_with('\n') => Ok(Some(line)),
        Ok(_) | Err(_) if !Path::new(&format!("/proc/{pid}")).exists() => Ok(None),
        Ok(_) => Err(AgentError::BadReply {
            pid,
            detail: "connection closed before a full line".into(),
        }),
        Err(e) => Err(timed_out(e)),
    }
}

/// Parses a reply line: `{"ok":true,...}` into `T`, `{"ok":false,"error":...}` into an error.
fn parse<T: DeserializeOwned>(pid: u32, line: &str) -> Result<T, AgentError> {
    let bad = |detail: String| AgentError::BadReply { pid, detail };
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| bad(format!("not JSON ({e})")))?;
    if value.get("ok") != Some(&serde_json::Value::Bool(true)) {
        let error = value.get("error").and_then(|e| e.as_str()).unwrap_or("");
        return Err(bad(format!("agent error: {error}")));
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

/// `{"cmd":"NAME"}`.
pub(super) fn command(name: &str) -> String {
    serde_json::json!({ "cmd": name }).to_string()
}

/// Sends `request` (one line of JSON) to every live process's agent and parses the replies;
/// processes that are gone are skipped.
pub(super) fn ask_all<T: DeserializeOwned>(
    dir: &Path,
    request: &str,
    timeout: Duration,
) -> Result<Vec<T>, AgentError> {
    let mut replies = Vec::new();
    for (pid, path) in sockets(dir) {
        if let Some(line) = ask(pid, &path, request, timeout)? {
            replies.push(parse(pid, &line)?);
        }
    }
    Ok(replies)
}

/// True when at least one process in `dir` answers `hello`.
pub(super) fn any_answers(dir: &Path, timeout: Duration) -> bool {
    sockets(dir).iter().any(|(pid, path)| {
        matches!(ask(*pid, path, &command("hello"), timeout), Ok(Some(line))
            if parse::<serde_json::Value>(*pid, &line).is_ok())
    })
}

/// One snapshot of every process's sites: identical stacks add up; largest site first.
pub(super) fn merge_snapshots(replies: Vec<SnapshotReply>) -> Snapshot {
    let mut merged: HashMap<Vec<Frame>, (u64, u64)> = HashMap::new();
    for reply in replies {
        for (frames, bytes, blocks) in reply.sites {
            let frames = frames.into_iter().map(WireFrame::into_frame).collect();
            let e = merged.entry(frames).or_insert((0, 0));
            e.0 = e.0.saturating_add(bytes);
            e.1 = e.1.saturating_add(blocks);
        }
    }
    let mut sites: Vec<Site> = merged
        .into_iter()
        .map(|(frames, (bytes, blocks))| Site {
            frames,
            bytes,
            blocks,
        })
        .collect();
    sites.sort_by(|a, b| {
        (b.bytes, b.blocks)
            .cmp(&(a.bytes, a.blocks))
            .then_with(|| location_key(a).cmp(&location_key(b)))
    });
    let mut snapshot = Snapshot::from_sites(sites);
    snapshot.symbolized = true;
    snapshot
}

fn location_key(site: &Site) -> Vec<String> {
    site.frames.iter().map(Frame::location).collect()
}
