#![allow(dead_code)] // each test file uses the helpers it needs
//! Helpers shared by the end-to-end tests that start examples/leaky_server (tests/cli.rs and
//! tests/drive_api.rs) and by those that drive services with agents (tests/drive_agents.rs,
//! tests/drive_jvm.rs).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// The example server binary, built by cargo beside the test (target/<profile>/examples/), or
/// built now when missing.
pub fn server() -> &'static Path {
    static SERVER: OnceLock<PathBuf> = OnceLock::new();
    SERVER.get_or_init(|| {
        let exe = std::env::current_exe().expect("current exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps/<test>");
        let path = profile_dir.join("examples").join("leaky_server");
        if !path.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "--example", "leaky_server"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            if profile_dir.file_name().is_some_and(|p| p == "release") {
                cmd.arg("--release");
            }
            if let Some(target_dir) = profile_dir.parent() {
                cmd.env("CARGO_TARGET_DIR", target_dir);
            }
            let status = cmd
                .status()
                .expect("run cargo build --example leaky_server");
            assert!(
                status.success(),
                "cargo build --example leaky_server failed"
            );
        }
        path
    })
}

/// The `leakproof` binary run with `args`, stdin closed: its output.
pub fn leakproof(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run leakproof")
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// One service drive at a time in a test process: each runs a service and a full collection after
/// every request, and two of them on the 2 cores of CI would slow each other's services into
/// different warm-ups (under nextest, the `service-drives` group does the same across processes).
pub fn one_drive_at_a_time() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `leakproof drive --target TARGET --http URL --json EXTRA...` through the real binary, one at a
/// time: its output and its report.
pub fn drive_json(target: &str, url: &str, extra: &[&str]) -> (Output, serde_json::Value) {
    let _turn = one_drive_at_a_time();
    let out = Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args(["drive", "--target", target, "--http", url, "--json"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("run leakproof");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, json)
}

/// The verdicts, slopes and notes of a report: what a failed assertion needs to be understood,
/// short enough to survive a truncated CI log (the whole JSON runs to many kilobytes).
pub fn brief(report: &serde_json::Value) -> String {
    let resources = report["resources"].as_array().cloned().unwrap_or_default();
    let mut lines: Vec<String> = resources
        .iter()
        .map(|r| {
            let a = &r["analysis"];
            format!(
                "{} {} slope {} ci {} advisory {}: {}",
                r["resource"], a["verdict"], a["slope"], a["slope_ci"], r["advisory"], a["reason"]
            )
        })
        .collect();
    lines.push(format!(
        "iterations {}, failure {}",
        report["iterations"], report["failure"]
    ));
    let notes = report["notes"].as_array().into_iter().flatten();
    lines.extend(notes.map(|n| n.to_string()));
    lines.join("\n")
}

/// The user line (`file:line`, the file's last component) of each growing site of a report.
pub fn site_lines(report: &serde_json::Value) -> Vec<String> {
    let sites = report["sites"].as_array().cloned().unwrap_or_default();
    sites
        .iter()
        .filter_map(|s| {
            let frame = &s["traceback"][s["user_frame"].as_u64()? as usize];
            let file = frame["file"].as_str()?.rsplit('/').next()?.to_owned();
            Some(format!("{file}:{}", frame["line"]))
        })
        .collect()
}

/// The `name` of each holder in a report.
pub fn holder_names(report: &serde_json::Value) -> Vec<String> {
    let holders = report["holders"].as_array().cloned().unwrap_or_default();
    holders
        .iter()
        .filter_map(|h| h["name"].as_str().map(str::to_owned))
        .collect()
}

/// Compiles `tests/native/NAME.c` with debug info into `dir`; `None` (with the reason printed)
/// when gcc is not installed.
pub fn compile_c(dir: &Path, name: &str) -> Option<PathBuf> {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("skipped: gcc is not installed");
        return None;
    }
    let out = dir.join(name);
    let status = Command::new("gcc")
        .args(["-g", "-O0", "-o"])
        .arg(&out)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/native/{name}.c")))
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc failed");
    Some(out)
}

/// `NAME.c:LINE` of the line of `tests/native/NAME.c` that holds `marker`.
pub fn native_line(name: &str, marker: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/native/{name}.c"));
    let line = std::fs::read_to_string(path)
        .expect("source")
        .lines()
        .position(|l| l.contains(marker))
        .expect("marker")
        + 1;
    format!("{name}.c:{line}")
}

/// `leakproof watch --agent native --json` of `tests/native/ticker.c` compiled and run as
/// `ticker MODE`, 3 s at 50 ms: its output and report; `None` when gcc is not installed.
pub fn watch_ticker(mode: &str) -> Option<(Output, serde_json::Value)> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let program = compile_c(tmp.path(), "ticker")?;
    let program = program.to_str().expect("utf-8 path");
    let out = leakproof(&[
        "watch",
        "--agent",
        "native",
        "--interval",
        "50ms",
        "--duration",
        "3s",
        "--json",
        "--",
        program,
        mode,
    ]);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Some((out, report))
}

/// One `GET /item` of `tests/native/tcp_server.c`, and its 200.
pub fn get_item(port: u16) -> std::io::Result<()> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    s.write_all(b"GET /item HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    if reply.starts_with("HTTP/1.1 200") && reply.ends_with("ok\n") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("bad reply {reply:?}")))
    }
}

/// A drive of the compiled `tcp_server PORT MODE` through the Rust API, one `GET /item` an
/// iteration.
pub fn drive_tcp_server(program: &Path, mode: &str) -> leakproof::Report {
    let port = free_port();
    let mut cmd = Command::new(program);
    cmd.arg(port.to_string()).arg(mode);
    leakproof::harness::Drive::new(cmd)
        .ready_tcp(format!("127.0.0.1:{port}"))
        .run(|| get_item(port))
        .expect("drive")
}
