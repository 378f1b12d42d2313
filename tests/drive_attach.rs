//! `leakproof watch --pid` attaching to services that are already running, end to end: real
//! `python3.8`, `python3.13`, Debian's stripped `python3` (no debug symbols) and `node` services
//! from examples/, started by the test without leakproof, under a steady request load from the
//! test. Leaking ones come out Leaking on their own heap with the line named, bounded ones Stable;
//! each kept serving throughout and was left as it was (its threads, descriptors and listening
//! ports). Then the faults: a PID that vanishes, a target that is not an interpreter, an inspector
//! port that is taken, a second leakproof, a ptrace refused, a container's mount namespace, gdb
//! missing, a Python that never releases the GIL, a leakproof killed mid-watch, and `--agent none`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{brief, holder_names, one_drive_at_a_time, site_lines};

const PYTHON_OLDEST: &str = "/root/.pyenv/versions/3.8.18/bin/python3.8";
const PYTHON_NEWEST: &str = "/root/.pyenv/versions/3.13.0/bin/python3.13";
/// Debian's CPython: stripped, no debug symbols.
const PYTHON_STRIPPED: &str = "/usr/bin/python3";

/// Requests per second of the load.
const RATE: f64 = 40.0;
/// Requests before the watch.
const WARM_UP: usize = 2000;

/// A service started by the test (not by leakproof), killed when dropped.
struct Service {
    child: Child,
    port: u16,
}

impl Service {
    /// Starts `program args... --port 0` and waits for its `listening on PORT` line.
    fn start(program: &str, args: &[&str]) -> Service {
        Service::start_with(Command::new(program).args(args))
    }

    fn start_with(cmd: &mut Command) -> Service {
        let mut child = cmd
            .args(["--port", "0"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the service");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its first line");
        let port = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not a port: {line:?}"));
        Service { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One GET: true on `200`.
    fn get(port: u16) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reply = String::new();
        s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").is_ok()
            && s.read_to_string(&mut reply).is_ok()
            && reply.starts_with("HTTP/1.")
            && reply.contains(" 200 ")
    }

    /// [`WARM_UP`] requests as fast as they are answered: a service in production has served
    /// many, and a runtime's heap grows over its first few hundred (caches, compiled code).
    fn warm_up(&self) {
        for _ in 0..WARM_UP {
            assert!(Service::get(self.port), "the service does not answer");
        }
    }

    /// A steady load of [`RATE`] requests per second until the returned [`Load`] stops.
    fn load(&self) -> Load {
        let port = self.port;
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (s, o, f) = (stop.clone(), ok.clone(), failed.clone());
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut sent = 0u64;
            while !s.load(Ordering::Relaxed) {
                // On a fixed schedule, catching up after a slow request: the rate per second is
                // what a leak per request turns into growth per second.
                let due = started + Duration::from_secs_f64(sent as f64 / RATE);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                sent += 1;
                let counter = if Service::get(port) { &o } else { &f };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        Load {
            stop,
            ok,
            failed,
            thread: Some(thread),
        }
    }
}

impl Drop for Service {
    /// Kills the service and what it started (an interpreter under a shell).
    fn drop(&mut self) {
        for pid in leakproof_sample::descendants(self.pid()).unwrap_or_default() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running load; its counts.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    fn counts(&self) -> (u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a process has that an agent would change: its threads, its Unix-domain sockets (an
/// agent serves on one; TCP connections come and go with the load) and its listening TCP ports.
#[derive(Debug, PartialEq, Eq)]
struct Footprint {
    threads: usize,
    unix_sockets: usize,
    listening: Vec<SocketAddr>,
}

fn footprint(pid: u32) -> Footprint {
    let unix: std::collections::HashSet<String> =
        std::fs::read_to_string(format!("/proc/{pid}/net/unix"))
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(6).map(str::to_owned))
            .collect();
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .map(|t| t.to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let unix_sockets = fds
        .iter()
        .filter_map(|t| t.strip_prefix("socket:[")?.strip_suffix(']'))
        .filter(|inode| unix.contains(*inode))
        .count();
    Footprint {
        threads: std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count()),
        unix_sockets,
        listening: leakproof_sample::listening_tcp(pid).unwrap_or_default(),
    }
}

/// Waits (up to 5 s) until `pid`'s footprint is `before` again: the agent detached.
fn left_as_it_was(pid: u32, before: &Footprint) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = footprint(pid);
        if now == *before {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("before {before:?}, after {now:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `leakproof watch --pid PID --json EXTRA...`: its output and report.
fn watch(pid: u32, extra: &[&str]) -> (Output, serde_json::Value) {
    watch_with(pid, extra, &[])
}

/// [`watch`] with `env` set for leakproof (and so for the gdb it starts).
fn watch_with(pid: u32, extra: &[&str], env: &[(&str, &str)]) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args(["watch", "--pid", &pid.to_string(), "--json"])
        .args(extra)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run leakproof");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

fn verdict<'a>(report: &'a serde_json::Value, resource: &str) -> &'a serde_json::Value {
    report["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == resource))
        .map_or(&serde_json::Value::Null, |r| &r["analysis"]["verdict"])
}

fn notes(report: &serde_json::Value) -> String {
    let notes = report["notes"].as_array().cloned().unwrap_or_default();
    notes
        .iter()
        .filter_map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One service of the main test: how to start it, and what its watch must find.
struct Case {
    name: &'static str,
    program: &'static str,
    args: &'static [&'static str],
    heap: &'static str,
    /// The leaking line, or `None` for a bounded service (Stable).
    line: Option<&'static str>,
    /// The holder a leaking service's report names (issue 21), as its code spells it.
    holder: Option<&'static str>,
}

/// Starts the service, loads it for a warm-up, watches it for 30 s, and checks the verdict, the
/// line, that it served every request meanwhile and that it was left as it was.
fn run_case(case: &Case) -> Result<(), String> {
    let service = Service::start(case.program, case.args);
    service.warm_up();
    let load = service.load();
    std::thread::sleep(Duration::from_secs(3));
    let before = footprint(service.pid());
    let served_before = load.counts().0;
    let (out, report) = watch(service.pid(), &["--interval", "100ms", "--duration", "30s"]);
    let fail = |what: String| Err(format!("{}: {what}\n{}", case.name, brief(&report)));
    let (served, failed) = load.counts();
    drop(load);
    let code = out.status.code();
    let lines = site_lines(&report);
    let probe = format!("{}+tree-rss", case.heap);
    if report["config"]["probe"] != probe.as_str() {
        return fail(format!("probe {}, not {probe}", report["config"]["probe"]));
    }
    match case.line {
        Some(line) => {
            if code != Some(1) || verdict(&report, case.heap) != "leaking" {
                return fail(format!("exit {code:?}, not a leaking {}", case.heap));
            }
            if !lines.iter().any(|l| l == line) {
                return fail(format!("{line} not among the sites {lines:?}"));
            }
            let holders = holder_names(&report);
            if let Some(holder) = case.holder.filter(|h| !holders.iter().any(|n| n == h)) {
                return fail(format!("holder {holder} not among {holders:?}"));
            }
        }
        None if code != Some(0) || verdict(&report, case.heap) != "stable" => {
            return fail(format!("exit {code:?}, not a stable {}", case.heap));
        }
        None => {}
    }
    if !notes(&report).contains("in leakproof's collections") {
        return fail("no line on the time spent in the target".to_owned());
    }
    // 30 s at 40 requests per second, minus a generous allowance for a loaded machine.
    if failed > 0 || served - served_before < 300 {
        return fail(format!(
            "served {} during the watch, {failed} failed",
            served - served_before
        ));
    }
    left_as_it_was(service.pid(), &before).or_else(|e| fail(format!("not left clean: {e}")))?;
    if !Service::get(service.port) {
        return fail("does not serve after the watch".to_owned());
    }
    Ok(())
}

#[test]
fn running_services_are_judged_on_their_own_heap_and_left_as_they_were() {
    let _turn = one_drive_at_a_time();
    let cases = [
        Case {
            name: "python3.8 leaking",
            program: PYTHON_OLDEST,
            args: &["examples/py_service.py", "--leak"],
            heap: "python-heap",
            line: Some("py_service.py:24"),
            holder: Some("py_service.HISTORY (deque) \u{2190} module py_service"),
        },
        Case {
            name: "python3.8 bounded",
            program: PYTHON_OLDEST,
            args: &["examples/py_service.py"],
            heap: "python-heap",
            line: None,
            holder: None,
        },
        Case {
            name: "python3.13 leaking",
            program: PYTHON_NEWEST,
            args: &["examples/py_service.py", "--leak"],
            heap: "python-heap",
            line: Some("py_service.py:24"),
            holder: Some("py_service.HISTORY (deque) \u{2190} module py_service"),
        },
        Case {
            name: "python3.13 bounded",
            program: PYTHON_NEWEST,
            args: &["examples/py_service.py"],
            heap: "python-heap",
            line: None,
            holder: None,
        },
        Case {
            name: "stripped python3 leaking",
            program: PYTHON_STRIPPED,
            args: &["examples/py_service.py", "--leak"],
            heap: "python-heap",
            line: Some("py_service.py:24"),
            holder: Some("py_service.HISTORY (deque) \u{2190} module py_service"),
        },
        // `--inspect-port=0`: SIGUSR1 opens the inspector on a free port, so that services of
        // other tests on this machine cannot take node's default 9229 first.
        Case {
            name: "node leaking",
            program: "node",
            args: &["--inspect-port=0", "examples/node_service.js", "--leak"],
            heap: "js-heap",
            line: Some("node_service.js:28"),
            holder: Some("history (Array) in node_service.js's module scope"),
        },
        // Its heap less compiled code still creeps 0.5–0.9 KiB/s this young (V8 compiling under
        // the new load), under the watch's node floor of 2 KiB/s.
        Case {
            name: "node bounded",
            program: "node",
            args: &["--inspect-port=0", "examples/node_service.js"],
            heap: "js-heap",
            line: None,
            holder: None,
        },
    ];
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|case| scope.spawn(move || run_case(case)))
            .collect();
        runs.into_iter()
            .filter_map(|r| r.join().expect("a case panicked").err())
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A short watch: 2 s at 100 ms.
const SHORT: [&str; 4] = ["--interval", "100ms", "--duration", "2s"];

#[test]
fn a_pid_that_does_not_exist_is_bad_input() {
    let _turn = one_drive_at_a_time();
    let mut child = Command::new("true").spawn().expect("true");
    let pid = child.id();
    let _ = child.wait();
    let out = Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args(["watch", "--pid", &pid.to_string()])
        .output()
        .expect("run leakproof");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("no process with PID {pid}")),
        "{stderr}"
    );
}

#[test]
fn a_service_that_ends_mid_watch_is_judged_on_what_was_seen() {
    let _turn = one_drive_at_a_time();
    let mut service = Service::start(PYTHON_NEWEST, &["examples/py_service.py"]);
    let pid = service.pid();
    let killer = std::thread::spawn(move || {
        // After the attach and its calibration (about 2 s): the watch has samples to judge.
        std::thread::sleep(Duration::from_secs(8));
        let _ = service.child.kill();
        let _ = service.child.wait();
    });
    let started = Instant::now();
    let (out, report) = watch(pid, &["--interval", "100ms", "--duration", "20s"]);
    killer.join().expect("killer");
    assert!(started.elapsed() < Duration::from_secs(15), "it waited on");
    assert_eq!(
        report["config"]["probe"],
        "python-heap+tree-rss",
        "{}",
        brief(&report)
    );
    // Said as the run's failure (or in a note when the samples already decided).
    let said = format!("{}\n{}", report["failure"], notes(&report));
    assert!(
        said.contains(&format!("process {pid} ended")),
        "{}",
        brief(&report)
    );
    assert_ne!(out.status.code(), Some(2));
}

#[test]
fn a_target_that_is_no_interpreter_is_judged_on_rss_with_one_line() {
    let _turn = one_drive_at_a_time();
    let mut sleep = Command::new("sleep").arg("30").spawn().expect("sleep");
    let (out, report) = watch(sleep.id(), &[&SHORT[..], &["--agent", "python"]].concat());
    let (_, auto) = watch(sleep.id(), &SHORT);
    let _ = sleep.kill();
    let _ = sleep.wait();
    assert_eq!(report["config"]["probe"], "tree-rss");
    let said = notes(&report);
    assert!(
        said.contains(&format!(
            "no process in the tree of PID {} runs python",
            sleep.id()
        )),
        "{said}"
    );
    assert_ne!(out.status.code(), Some(2));
    // `auto` finds no interpreter: RSS, without a word about agents.
    assert_eq!(auto["config"]["probe"], "tree-rss");
    assert!(!notes(&auto).contains("agent"), "{}", notes(&auto));
}

#[test]
fn a_node_whose_inspector_port_is_taken_is_judged_on_rss_and_keeps_serving() {
    let _turn = one_drive_at_a_time();
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = taken.local_addr().expect("addr").port();
    let flag = format!("--inspect-port={port}");
    let service =
        Service::start_with(Command::new("node").args([&flag, "examples/node_service.js"]));
    let before = footprint(service.pid());
    let (_, report) = watch(service.pid(), &SHORT);
    assert_eq!(report["config"]["probe"], "tree-rss", "{}", brief(&report));
    let said = notes(&report);
    assert!(said.contains("did not open its inspector"), "{said}");
    assert!(said.contains(&format!("port {port} taken")), "{said}");
    assert!(Service::get(service.port), "it stopped serving");
    left_as_it_was(service.pid(), &before).expect("left as it was");
}

#[test]
fn a_second_leakproof_is_refused_and_the_first_goes_on() {
    let _turn = one_drive_at_a_time();
    let python = Service::start(PYTHON_NEWEST, &["examples/py_service.py"]);
    let node = Service::start("node", &["--inspect-port=0", "examples/node_service.js"]);
    let before = (footprint(python.pid()), footprint(node.pid()));
    let firsts: Vec<_> = [python.pid(), node.pid()]
        .into_iter()
        .map(|pid| {
            std::thread::spawn(move || watch(pid, &["--interval", "100ms", "--duration", "8s"]))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(4)); // the first ones are attached by now
    for pid in [python.pid(), node.pid()] {
        let (_, second) = watch(pid, &SHORT);
        assert_eq!(second["config"]["probe"], "tree-rss", "{}", brief(&second));
        let said = notes(&second);
        assert!(
            said.contains("another leakproof agent already runs"),
            "{said}"
        );
    }
    for (first, heap) in firsts.into_iter().zip(["python-heap", "js-heap"]) {
        let (_, report) = first.join().expect("first watch");
        assert_eq!(
            report["config"]["probe"],
            format!("{heap}+tree-rss"),
            "{}",
            brief(&report)
        );
    }
    left_as_it_was(python.pid(), &before.0).expect("python left as it was");
    left_as_it_was(node.pid(), &before.1).expect("node left as it was");
}

/// A leakproof killed mid-watch (`SIGKILL`: none of its own clean-up runs) leaves its targets as
/// they were: each agent sees its leakproof gone and detaches by itself within about a second,
/// the last one removing leakproof's directory, and the target goes on serving.
#[test]
fn a_killed_leakproof_leaves_its_targets_as_they_were() {
    let _turn = one_drive_at_a_time();
    let python = Service::start(PYTHON_NEWEST, &["examples/py_service.py"]);
    let node = Service::start("node", &["--inspect-port=0", "examples/node_service.js"]);
    for service in [&python, &node] {
        let pid = service.pid();
        let before = footprint(pid);
        let mut watch = Command::new(env!("CARGO_BIN_EXE_leakproof"))
            .args(["watch", "--pid", &pid.to_string(), "--duration", "60s"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run leakproof");
        let deadline = Instant::now() + Duration::from_secs(30);
        let dir = loop {
            if let Some(dir) = agent_dir(pid) {
                break dir;
            }
            assert!(Instant::now() < deadline, "process {pid}: no agent socket");
            std::thread::sleep(Duration::from_millis(50));
        };
        // Killed and reaped: a zombie would still count as alive to the agent.
        let _ = watch.kill();
        let _ = watch.wait();
        left_as_it_was(pid, &before).unwrap_or_else(|e| panic!("process {pid}: {e}"));
        assert!(Service::get(service.port), "process {pid} does not serve");
        let deadline = Instant::now() + Duration::from_secs(5);
        while dir.exists() {
            assert!(Instant::now() < deadline, "{} is left", dir.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The directory of the agent socket `pid` serves on, once it does.
fn agent_dir(pid: u32) -> Option<std::path::PathBuf> {
    let unix = std::fs::read_to_string(format!("/proc/{pid}/net/unix")).ok()?;
    let socket = format!("/{pid}.sock");
    unix.lines()
        .filter_map(|l| l.split_whitespace().nth(7))
        .find(|path| path.ends_with(&socket) && path.contains("leakproof-agent-"))
        .and_then(|path| std::path::Path::new(path).parent().map(|p| p.to_owned()))
}

/// `/proc/PID/status`'s `State` letter and `TracerPid` of `pid`.
fn state_and_tracer(pid: u32) -> (String, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| {
                v.trim()
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect()
            })
            .unwrap_or_default()
    };
    (field("State:"), field("TracerPid:"))
}

/// The processes still alive whose environment has `tag` (set for a leakproof that has exited:
/// what it started and left behind, such as a gdb).
fn left_behind(tag: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|v| v == tag.as_bytes()))
        })
        .collect()
}

/// Python process `pid` watched with `env`: the one line it says, an RSS-only verdict (exit 0, 1
/// or 3) within `within`, and the target running on as it was (not stopped, not traced, its
/// footprint unchanged) with nothing that leakproof started left behind.
fn fault(pid: u32, env: &[(&str, &str)], says: &str, within: Duration) -> Result<(), String> {
    let before = footprint(pid);
    let tag = format!("LEAKPROOF_TEST_FAULT={pid}");
    let mut env = env.to_vec();
    env.push((
        "LEAKPROOF_TEST_FAULT",
        &tag["LEAKPROOF_TEST_FAULT=".len()..],
    ));
    let started = Instant::now();
    let (out, report) = watch_with(pid, &SHORT, &env);
    let took = started.elapsed();
    let fail = |what: String| Err(format!("{says}: {what}\n{}", brief(&report)));
    let said = notes(&report);
    if report["config"]["probe"] != "tree-rss" || !said.contains(says) {
        return fail(format!("probe {}, notes {said}", report["config"]["probe"]));
    }
    if said.lines().filter(|l| l.contains("cannot attach")).count() != 1 {
        return fail(format!("not one line: {said}"));
    }
    if !matches!(out.status.code(), Some(0 | 1 | 3)) || took > within {
        return fail(format!("exit {:?} after {took:?}", out.status.code()));
    }
    let (state, tracer) = state_and_tracer(pid);
    let left = left_behind(&tag);
    if "tT".contains(state.as_str()) || tracer != "0" || !left.is_empty() {
        return fail(format!(
            "state {state}, tracer {tracer}, left behind {left:?}"
        ));
    }
    left_as_it_was(pid, &before).or_else(|e| fail(format!("not left as it was: {e}")))
}

/// A child killed when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn gdb_missing_and_a_gil_never_released_are_one_line_and_an_rss_verdict() {
    let _turn = one_drive_at_a_time();
    // A PATH without gdb: leakproof looks it up there.
    let empty = tempfile::tempdir().expect("a directory");
    let no_gdb = empty.path().to_str().expect("a path");
    let service = Service::start(PYTHON_NEWEST, &["examples/py_service.py"]);
    // One thread computing without ever blocking: no thread enters PyEval_RestoreThread, so gdb
    // finds no safe point (it waits 5 s), and leaves the target running.
    let busy = Command::new(PYTHON_OLDEST)
        .args(["-c", "while True:\n    pass\n"])
        .stdin(Stdio::null())
        .spawn()
        .map(Killed)
        .expect("start python");
    std::thread::sleep(Duration::from_millis(300)); // in its loop
    let failures: Vec<String> = std::thread::scope(|scope| {
        let runs = [
            scope.spawn(|| {
                let says = "attaching to a running Python needs gdb, which is not on PATH";
                fault(
                    service.pid(),
                    &[("PATH", no_gdb)],
                    says,
                    Duration::from_secs(15),
                )
            }),
            scope.spawn(|| {
                let says = "released the GIL within 5s (busy computing?): nothing was loaded";
                fault(busy.0.id(), &[], says, Duration::from_secs(20))
            }),
        ];
        runs.into_iter()
            .filter_map(|r| r.join().expect("a fault panicked").err())
            .collect()
    });
    assert!(Service::get(service.port), "it stopped serving");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_refused_ptrace_is_one_line_and_an_rss_verdict() {
    let _turn = one_drive_at_a_time();
    // A service of `nobody`, watched by a root leakproof without CAP_SYS_PTRACE: the kernel
    // refuses gdb.
    let service = Service::start_with(Command::new("setpriv").args([
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        PYTHON_STRIPPED,
        "examples/py_service.py",
    ]));
    let out = Command::new("setpriv")
        .args(["--inh-caps=-sys_ptrace", "--bounding-set=-sys_ptrace"])
        .arg(env!("CARGO_BIN_EXE_leakproof"))
        .args(["watch", "--pid", &service.pid().to_string(), "--json"])
        .args(SHORT)
        .output()
        .expect("run leakproof");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report");
    assert_eq!(report["config"]["probe"], "tree-rss", "{}", brief(&report));
    let said = notes(&report);
    assert!(said.contains("not allowed to trace process"), "{said}");
    assert!(Service::get(service.port), "it stopped serving");
}

#[test]
fn a_process_in_another_mount_namespace_is_judged_on_rss_with_one_line() {
    let _turn = one_drive_at_a_time();
    let service = Service::start_with(Command::new("unshare").args([
        "--mount",
        "--propagation",
        "private",
        PYTHON_NEWEST,
        "examples/py_service.py",
    ]));
    let (_, report) = watch(service.pid(), &SHORT);
    assert_eq!(report["config"]["probe"], "tree-rss", "{}", brief(&report));
    assert!(
        notes(&report).contains("another mount namespace"),
        "{}",
        notes(&report)
    );
}

#[test]
fn agent_none_keeps_the_rss_only_watch() {
    let _turn = one_drive_at_a_time();
    let service = Service::start(PYTHON_OLDEST, &["examples/py_service.py"]);
    let before = footprint(service.pid());
    let (_, report) = watch(service.pid(), &[&SHORT[..], &["--agent", "none"]].concat());
    assert_eq!(report["config"]["probe"], "tree-rss", "{}", brief(&report));
    assert_eq!(footprint(service.pid()), before);
}

#[test]
fn an_interpreter_under_a_shell_is_found_among_its_descendants() {
    let _turn = one_drive_at_a_time();
    // `; true`: the shell waits for the interpreter instead of becoming it.
    let line = format!("{PYTHON_NEWEST} examples/py_service.py --port 0; true");
    let shell = Service::start_with(Command::new("sh").args(["-c", &line]));
    let python = leakproof_sample::descendants(shell.pid()).expect("descendants");
    let (_, report) = watch(shell.pid(), &SHORT);
    assert_eq!(
        report["config"]["probe"],
        "python-heap+tree-rss",
        "{}",
        brief(&report)
    );
    let said = notes(&report);
    assert!(
        python
            .iter()
            .any(|p| said.contains(&format!("loaded into process {p} "))),
        "{python:?}: {said}"
    );
}
