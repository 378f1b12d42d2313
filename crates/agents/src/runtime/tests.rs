//! The agents against real python3 and node running the example services.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use leakproof_diff::{compare, GroupBy};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::*;

/// Generous: CI machines are slow and shared.
const READY: Duration = Duration::from_secs(30);

/// The runtimes under test.
#[derive(Clone, Copy)]
enum AgentKind {
    Python,
    Node,
}

/// A runtime agent with what the tests look at: every process's reply, the injection.
struct TestAgent {
    agent: RuntimeAgent,
    source: PathBuf,
    injection: &'static Injection,
}

/// One sample, with what the engine does not need: the agents' detail and how many answered.
#[derive(Debug)]
struct Sample {
    bytes: f64,
    detail: f64,
    processes: usize,
}

#[derive(serde::Deserialize)]
struct FullReply {
    bytes: f64,
    detail: f64,
}

impl TestAgent {
    fn prepare(kind: AgentKind) -> Result<TestAgent, AgentError> {
        let (row, injection) = match kind {
            AgentKind::Python => (&PYTHON, &python::INJECTION),
            AgentKind::Node => (&NODE, &node::INJECTION),
        };
        let (agent, source) = RuntimeAgent::prepare(row, injection)?;
        Ok(TestAgent {
            agent,
            source,
            injection,
        })
    }

    fn apply_env(&self, cmd: &mut Command) {
        cmd.env(client::DIR_VAR, self.dir());
        (self.injection.apply_env)(cmd, self.dir(), &self.source);
    }

    fn dir(&self) -> &Path {
        self.agent.dir()
    }

    fn set_timeouts(&mut self, sample: Duration, snapshot: Duration) {
        self.agent.set_timeouts(sample, snapshot);
    }

    fn wait_ready(&self, timeout: Duration) -> Result<(), AgentError> {
        self.agent.wait_ready(timeout)
    }

    fn trace_frames(&self, frames: u16) -> Result<(), AgentError> {
        self.agent.trace_frames(frames)
    }

    fn sample(&self) -> Result<Sample, AgentError> {
        let request = client::command("sample");
        let timeout = self.agent.sample_timeout;
        let replies = client::ask_all::<FullReply>(self.dir(), &request, timeout)?;
        if replies.is_empty() {
            return Err(self.agent.no_process());
        }
        Ok(Sample {
            bytes: replies.iter().map(|r| r.bytes).sum(),
            detail: replies.iter().map(|r| r.detail).sum(),
            processes: replies.len(),
        })
    }

    fn snapshot(&self) -> Result<Snapshot, AgentError> {
        self.agent.snapshot()
    }
}

type Agent = TestAgent;

/// An agent with timeouts long enough for a loaded CI machine.
fn prepare(kind: AgentKind) -> Result<TestAgent, AgentError> {
    let mut agent = TestAgent::prepare(kind)?;
    agent.set_timeouts(Duration::from_secs(30), Duration::from_secs(120));
    Ok(agent)
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .canonicalize()
        .expect("the example exists")
}

/// The 1-based line of `example` holding `marker`.
fn line_of(name: &str, marker: &str) -> u32 {
    let text = std::fs::read_to_string(example(name)).expect("read example");
    let i = text
        .lines()
        .position(|l| l.contains(marker))
        .expect("marker");
    u32::try_from(i + 1).expect("line")
}

/// A service in its own process group, killed (whole group) on drop.
struct Service {
    child: Child,
    port: u16,
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Starts `cmd` with `agent` applied and waits for its `listening on PORT` line.
fn start(mut cmd: Command, agent: &Agent) -> Service {
    agent.apply_env(&mut cmd);
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn service");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let port = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    Service { child, port }
}

fn python_service(agent: &Agent, extra: &[&str]) -> Service {
    let mut cmd = Command::new("python3");
    cmd.arg(example("py_service.py"))
        .args(["--port", "0"])
        .args(extra);
    start(cmd, agent)
}

fn node_service(agent: &Agent, extra: &[&str]) -> Service {
    let mut cmd = Command::new("node");
    cmd.arg(example("node_service.js"))
        .args(["--port", "0"])
        .args(extra);
    start(cmd, agent)
}

/// `n` plain HTTP/1.0 GETs, one connection each.
fn requests(port: u16, n: usize) {
    for _ in 0..n {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut reply = String::new();
        s.read_to_string(&mut reply).expect("read");
        assert!(reply.starts_with("HTTP/1."), "{reply}");
    }
}

/// Bytes per request that the runtime heap grew by over `n` requests after a warm-up.
fn growth_per_request(agent: &Agent, port: u16, n: usize) -> f64 {
    requests(port, 100);
    let first = agent.sample().expect("sample");
    assert!(first.bytes > 0.0 && first.detail > 0.0, "{first:?}");
    // A sample every tenth of the requests, and the Theil–Sen slope through them: one reading
    // that a loaded machine caught mid-request does not decide the rate, as it did between two.
    let mut samples = vec![first.bytes];
    for _ in 0..10 {
        requests(port, n / 10);
        samples.push(agent.sample().expect("sample").bytes);
    }
    let config = leakproof_trend::Config::heap()
        .with_min_samples(3)
        .with_warmup(leakproof_trend::Warmup::Fixed(0));
    let fit = leakproof_trend::analyze(&samples, &config).expect("analyze");
    fit.slope.expect("11 samples have an estimate") / (n / 10) as f64
}

/// The user frame (`file:line`) of the site that grew most over `n` requests.
fn top_growing_line(agent: &Agent, port: u16, n: usize) -> String {
    requests(port, 50);
    agent.trace_frames(8).expect("deeper tracebacks");
    let old = agent.snapshot().expect("snapshot");
    requests(port, n);
    let new = agent.snapshot().expect("snapshot");
    assert!(new.total_bytes > 0 && !new.sites.is_empty());
    let diffs = compare(&old, &new, GroupBy::Line, false);
    let top = diffs.first().expect("a growing site");
    let user = top.user_frame.expect("a user frame");
    let frame = &top.traceback[user];
    assert!(frame.function.is_some(), "{frame:?}");
    format!(
        "{}:{}",
        frame.file.as_deref().unwrap_or(""),
        frame.line.unwrap_or(0)
    )
}

#[test]
fn python_heap_grows_by_a_page_per_request_only_when_leaking() {
    let agent = prepare(AgentKind::Python).expect("prepare");
    let leaking = python_service(&agent, &["--leak"]);
    agent.wait_ready(READY).expect("ready");
    let per_request = growth_per_request(&agent, leaking.port, 300);
    // Each page is an 880-character str (~930 bytes) plus its slot in the deque.
    assert!((800.0..1200.0).contains(&per_request), "{per_request}");
    drop(leaking);

    let agent = prepare(AgentKind::Python).expect("prepare");
    let bounded = python_service(&agent, &[]);
    agent.wait_ready(READY).expect("ready");
    let per_request = growth_per_request(&agent, bounded.port, 300);
    assert!(per_request.abs() < 100.0, "{per_request}");
}

#[test]
fn python_snapshots_name_the_leaking_line() {
    let agent = prepare(AgentKind::Python).expect("prepare");
    let service = python_service(&agent, &["--leak"]);
    agent.wait_ready(READY).expect("ready");
    let line = line_of("py_service.py", "# the growing line");
    let top = top_growing_line(&agent, service.port, 300);
    assert!(
        top.ends_with(&format!("examples/py_service.py:{line}")),
        "{top}"
    );
}

#[test]
fn forked_python_workers_each_answer() {
    let agent = prepare(AgentKind::Python).expect("prepare");
    let service = python_service(&agent, &["--workers", "3"]);
    agent.wait_ready(READY).expect("ready");
    // The forked workers bind their sockets a moment after the parent's `listening` line.
    assert_eq!(processes_within(&agent, 3), 3);
    requests(service.port, 30);
    // One worker killed: its socket is skipped (and removed), the others still answer.
    let pids: Vec<u32> = client_pids(&agent);
    let victim = *pids
        .iter()
        .find(|&&p| p != service.child.id())
        .expect("a worker");
    let _ = nix::sys::signal::kill(Pid::from_raw(victim as i32), Signal::SIGKILL);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(agent.sample().expect("sample").processes, 2);
}

fn client_pids(agent: &Agent) -> Vec<u32> {
    std::fs::read_dir(agent.dir())
        .expect("dir")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".sock")?
                .parse()
                .ok()
        })
        .collect()
}

#[test]
fn an_existing_sitecustomize_still_runs_after_ours() {
    let theirs = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        theirs.path().join("sitecustomize.py"),
        "MARK = 'theirs loaded'\n",
    )
    .expect("write");
    let agent = prepare(AgentKind::Python).expect("prepare");
    let mut cmd = Command::new("python3");
    cmd.env("PYTHONPATH", theirs.path()).args([
        "-c",
        "import sys, tracemalloc; print(sys.modules['sitecustomize'].MARK, tracemalloc.is_tracing())",
    ]);
    agent.apply_env(&mut cmd);
    let out = cmd.output().expect("run python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "theirs loaded True",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_agent_that_cannot_listen_never_stops_the_target() {
    let agent = prepare(AgentKind::Python).expect("prepare");
    // Too long a path for a Unix socket: the bind fails inside the target.
    let deep = agent.dir().join("d".repeat(120));
    std::fs::create_dir(&deep).expect("mkdir");
    let mut cmd = Command::new("python3");
    cmd.args(["-c", "print('alive')"]);
    agent.apply_env(&mut cmd);
    cmd.env(client::DIR_VAR, &deep);
    let out = cmd.output().expect("run python3");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "alive");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("leakproof agent not started"),
        "{stderr}"
    );
    assert!(matches!(agent.sample(), Err(AgentError::NoProcess { .. })));
}

#[test]
fn a_target_that_ignores_the_agent_is_not_ready_and_has_no_process() {
    let agent = prepare(AgentKind::Python).expect("prepare");
    // `-I` (isolated mode) ignores PYTHONPATH: the agent never loads.
    let _service = python_service(&agent, &[]);
    let mut cmd = Command::new("python3");
    cmd.arg("-I")
        .arg(example("py_service.py"))
        .args(["--port", "0"]);
    let other = prepare(AgentKind::Python).expect("prepare");
    let _isolated = start(cmd, &other);
    let err = other.wait_ready(Duration::from_millis(500)).unwrap_err();
    assert!(matches!(err, AgentError::NotReady { .. }), "{err}");
    assert!(matches!(other.sample(), Err(AgentError::NoProcess { .. })));
    agent
        .wait_ready(READY)
        .expect("the other agent is unaffected");
}

/// A process that listens on `<dir>/<pid>.sock` and answers every request with `reply` (or never
/// answers when `reply` is empty).
fn fake_agent(agent: &Agent, reply: &str) -> Child {
    let script = format!(
        "import os, socket, time\n\
         s = socket.socket(socket.AF_UNIX)\n\
         s.bind(os.path.join({dir:?}, '%d.sock' % os.getpid()))\n\
         s.listen(8)\n\
         held = []\n\
         while True:\n\
         \x20   c, _ = s.accept()\n\
         \x20   held.append(c)\n\
         \x20   c.recv(100)\n\
         \x20   if {reply:?}: c.sendall({reply:?}.encode())\n",
        dir = agent.dir().to_str().expect("utf-8 dir"),
    );
    Command::new("python3")
        .args(["-c", &script])
        .spawn()
        .expect("spawn")
}

#[test]
fn a_silent_agent_times_out_and_garbage_is_a_bad_reply() {
    let mut agent = Agent::prepare(AgentKind::Python).expect("prepare");
    agent.set_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    let mut silent = fake_agent(&agent, "");
    let waited = agent.wait_ready(Duration::from_secs(1));
    let err = retry_until_listening(|| agent.sample());
    let _ = silent.kill();
    let _ = silent.wait();
    assert!(waited.is_err());
    assert!(matches!(err, AgentError::Timeout { .. }), "{err}");

    let agent = prepare(AgentKind::Python).expect("prepare");
    let mut garbage = fake_agent(&agent, "garbage\n");
    let err = retry_until_listening(|| agent.snapshot().map(drop));
    let _ = garbage.kill();
    let _ = garbage.wait();
    assert!(matches!(err, AgentError::BadReply { .. }), "{err}");
}

/// The first error of `f` other than "no process yet".
fn retry_until_listening<T: std::fmt::Debug>(
    mut f: impl FnMut() -> Result<T, AgentError>,
) -> AgentError {
    for _ in 0..1000 {
        match f() {
            Err(AgentError::NoProcess { .. }) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return e,
            Ok(v) => panic!("unexpected success {v:?}"),
        }
    }
    panic!("the fake agent never listened");
}

#[test]
fn node_heap_grows_only_when_leaking() {
    let agent = prepare(AgentKind::Node).expect("prepare");
    let leaking = node_service(&agent, &["--leak"]);
    agent.wait_ready(READY).expect("ready");
    // A page is a tree of cons strings over one 24-character line: ~300 B in V8.
    let per_request = growth_per_request(&agent, leaking.port, 300);
    assert!(per_request > 250.0, "{per_request}");
    drop(leaking);

    let agent = prepare(AgentKind::Node).expect("prepare");
    let bounded = node_service(&agent, &[]);
    agent.wait_ready(READY).expect("ready");
    let per_request = growth_per_request(&agent, bounded.port, 300);
    assert!(per_request < 200.0, "{per_request}");
}

#[test]
fn node_snapshots_name_the_leaking_line() {
    let agent = prepare(AgentKind::Node).expect("prepare");
    let service = node_service(&agent, &["--leak"]);
    agent.wait_ready(READY).expect("ready");
    // V8's sampling profiler records functions, not lines: the frame is `remember`'s first line.
    let line = line_of("node_service.js", "function remember(");
    let top = top_growing_line(&agent, service.port, 1000);
    assert!(
        top.ends_with(&format!("examples/node_service.js:{line}")),
        "{top}"
    );
}

#[test]
fn node_cluster_workers_each_answer() {
    let agent = prepare(AgentKind::Node).expect("prepare");
    let service = node_service(&agent, &["--workers", "2"]);
    agent.wait_ready(READY).expect("ready");
    requests(service.port, 10);
    assert_eq!(processes_within(&agent, 3), 3, "primary and two workers");
}

/// How many processes answer a sample, polled for up to 10 s until there are `expected`.
fn processes_within(agent: &Agent, expected: usize) -> usize {
    let mut processes = 0;
    for _ in 0..500 {
        processes = agent.sample().expect("sample").processes;
        if processes == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    processes
}

#[test]
fn the_directory_is_private_and_removed() {
    let agent = prepare(AgentKind::Node).expect("prepare");
    let dir = agent.dir().to_owned();
    let mode = std::fs::metadata(&dir).expect("dir").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    assert!(dir.join("agent.js").is_file());
    drop(agent);
    assert!(!dir.exists());

    let agent = prepare(AgentKind::Python).expect("prepare");
    let dir = agent.dir().to_owned();
    assert!(dir.join("sitecustomize.py").is_file());
    // cleanup_all() would also remove the directories of the tests running beside this one.
    registry::cleanup_where(|d| *d == dir);
    assert!(!dir.exists(), "removed before the agent drops");
    drop(agent);
}

#[test]
fn env_keeps_what_the_target_had() {
    let agent = prepare(AgentKind::Python).expect("prepare");
    let mut cmd = Command::new("true");
    cmd.env("PYTHONPATH", "/a:/b");
    agent.apply_env(&mut cmd);
    let expected = format!("{}:/a:/b", agent.dir().display());
    assert_eq!(env_of(&cmd, "PYTHONPATH"), Some(expected.into()));
    assert_eq!(env_of(&cmd, client::DIR_VAR), Some(agent.dir().into()));

    let agent = prepare(AgentKind::Node).expect("prepare");
    let mut cmd = Command::new("true");
    cmd.env("NODE_OPTIONS", "--max-old-space-size=64");
    agent.apply_env(&mut cmd);
    let expected = format!(
        "--max-old-space-size=64 --require \"{}\"",
        agent.dir().join("agent.js").display()
    );
    assert_eq!(env_of(&cmd, "NODE_OPTIONS"), Some(expected.into()));
    assert_eq!(
        agent.agent.descriptor.label,
        "js heap + external, compiled code excluded (after full GC)"
    );
}

#[test]
fn node_holders_are_found_in_each_cluster_worker_and_the_snapshots_deleted() {
    let agent = prepare(AgentKind::Node).expect("prepare");
    let service = node_service(&agent, &["--workers", "2", "--leak"]);
    agent.wait_ready(READY).expect("ready");
    assert_eq!(processes_within(&agent, 3), 3, "primary and two workers");
    requests(service.port, 20);
    let before = node_heap::Before::take(agent.dir()).expect("before");
    requests(service.port, 100);
    let holders = before
        .holders(agent.dir(), Duration::from_secs(30))
        .expect("holders");
    let names: Vec<&str> = holders.iter().map(|h| h.name.as_str()).collect();
    assert!(!names.is_empty(), "{holders:#?}");
    assert!(
        names
            .iter()
            .all(|n| *n == "history (Array) in node_service.js's module scope"),
        "{names:?}"
    );
    let left: Vec<_> = std::fs::read_dir(agent.dir())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "heapsnapshot"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_heap_snapshot_name_that_is_not_a_word_is_refused() {
    let agent = prepare(AgentKind::Node).expect("prepare");
    let _service = node_service(&agent, &[]);
    agent.wait_ready(READY).expect("ready");
    let request = r#"{"cmd":"heap_snapshot","name":"../escape"}"#;
    let reply = client::ask_all::<serde_json::Value>(agent.dir(), request, READY);
    let e = reply.expect_err("refused").to_string();
    assert!(e.contains("bad snapshot name"), "{e}");
}

#[test]
fn node_open_sites_name_the_line_that_opened_each_kept_descriptor() {
    let agent = prepare(AgentKind::Node).expect("prepare");
    let service = node_service(&agent, &["--leak-fds"]);
    agent.wait_ready(READY).expect("ready");
    requests(service.port, 3); // opened before tracing: not named
    agent.agent.trace_opens(true).expect("trace");
    requests(service.port, 5);
    let open = agent.agent.ask_open_sites().expect("open sites");
    agent.agent.trace_opens(false).expect("untrace");
    // One site, a block per descriptor kept, its innermost frame the opening line.
    assert_eq!(open.fds.sites.len(), 1, "{:#?}", open.fds);
    let site = &open.fds.sites[0];
    assert_eq!(site.blocks, 5, "{site:#?}");
    let top = &site.frames[0];
    let line = line_of("node_service.js", "// the opening line with --leak-fds");
    assert_eq!(top.line, Some(line), "{top:?}");
    assert_eq!(top.function.as_deref(), Some("keepDescriptor"));
    assert!(top
        .file
        .as_deref()
        .is_some_and(|f| f.ends_with("examples/node_service.js")));
    assert!(open.threads.sites.is_empty(), "{:#?}", open.threads);
}

#[test]
fn a_node_service_that_closes_its_connections_has_no_open_sites() {
    let agent = prepare(AgentKind::Node).expect("prepare");
    let service = node_service(&agent, &[]);
    agent.wait_ready(READY).expect("ready");
    agent.agent.trace_opens(true).expect("trace");
    requests(service.port, 5);
    let open = agent.agent.ask_open_sites().expect("open sites");
    agent.agent.trace_opens(false).expect("untrace");
    assert!(open.fds.sites.is_empty(), "{:#?}", open.fds);
}
