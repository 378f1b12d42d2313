//! `leakproof drive` on a native target through the real binary: a C HTTP server compiled by gcc
//! that keeps a 200-byte record per request is LEAKING (exit 1) on its native heap, and the report
//! names the C line that allocates. Skipped, with the reason printed, when gcc is not installed.
#![cfg(target_os = "linux")]

mod common;

use common::leakproof;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/native/tcp_server.c");
const TICKER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/native/ticker.c");

/// A temporary directory, removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compiles `source` with gcc into a fresh temporary directory (returned, to keep it alive);
/// `None`, with the reason printed, when gcc is not installed.
fn compile(source: &str, name: &str) -> Option<(TempDir, std::path::PathBuf)> {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("skipped: gcc is not installed");
        return None;
    }
    let tmp = std::env::temp_dir().join(format!("leakproof-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let tmp = TempDir(tmp);
    let program = tmp.0.join(name);
    let status = Command::new("gcc")
        .args(["-g", "-O0", "-o"])
        .arg(&program)
        .arg(source)
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc failed on {source}");
    Some((tmp, program))
}

/// `leakproof watch --agent native --json` of `ticker MODE` for 3 s at 50 ms: exit code and report.
fn watch_ticker(mode: &str) -> Option<(Option<i32>, serde_json::Value)> {
    let (_tmp, program) = compile(TICKER, &format!("ticker-{mode}"))?;
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
    Some((out.status.code(), report))
}

/// The `native-heap` resource of a JSON report.
fn native_heap(report: &serde_json::Value) -> &serde_json::Value {
    report["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == "native-heap"))
        .unwrap_or_else(|| panic!("no native-heap in {:#}", report["notes"]))
}

#[test]
fn watch_a_c_program_that_leaks_per_tick_is_leaking_on_its_native_heap() {
    let Some((code, report)) = watch_ticker("leak") else {
        return;
    };
    let heap = native_heap(&report);
    let brief = format!("{:#}\nnotes {:#}", heap["analysis"], report["notes"]);
    assert_eq!(heap["analysis"]["verdict"], "leaking", "{brief}");
    assert_eq!(code, Some(1), "{brief}");
    // 64 bytes (usable size 72) every 10 ms: about 7 KiB/s (less when a loaded machine delays
    // the ticks).
    let slope = heap["analysis"]["slope"].as_f64().expect("slope") / 0.05;
    assert!((2000.0..10000.0).contains(&slope), "{slope} B/s: {brief}");
    let line = std::fs::read_to_string(TICKER)
        .expect("source")
        .lines()
        .position(|l| l.contains("THE_ALLOCATION"))
        .expect("marker")
        + 1;
    let named = report["sites"].as_array().into_iter().flatten().any(|s| {
        let user = &s["traceback"][s["user_frame"].as_u64().unwrap_or(0) as usize];
        user["function"] == "tick" && user["line"] == line
    });
    assert!(named, "ticker.c:{line} named: {:#}", report["sites"]);
    // From two pictures: the program allocates on its own, so it writes the later one too.
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("native-heap sites: growth over ") && !notes.contains("allocated nothing"),
        "{notes}"
    );
}

#[test]
fn watch_a_c_program_that_frees_what_it_allocates_is_stable_on_its_native_heap() {
    let Some((code, report)) = watch_ticker("bounded") else {
        return;
    };
    let heap = native_heap(&report);
    let brief = format!("{:#}\nnotes {:#}", heap["analysis"], report["notes"]);
    assert_eq!(heap["analysis"]["verdict"], "stable", "{brief}");
    assert_eq!(code, Some(0), "{brief}");
}

#[test]
fn drive_a_leaking_c_server_is_exit_1_and_names_the_malloc_line() {
    if Command::new("gcc").arg("--version").output().is_err() {
        eprintln!("skipped: gcc is not installed");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("leakproof-native-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let program = tmp.join("tcp_server");
    let status = Command::new("gcc")
        .args(["-g", "-O0", "-o"])
        .arg(&program)
        .arg(Path::new(SOURCE))
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc failed");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let target = format!("{} {port} leak", program.display());
    let url = format!("http://127.0.0.1:{port}/item");
    let out = leakproof(&["drive", "--target", &target, "--http", &url]);
    let _ = std::fs::remove_dir_all(&tmp);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}\n{stderr}");
    assert!(text.contains("native-heap  leaking"), "{text}");
    let line = std::fs::read_to_string(SOURCE)
        .expect("source")
        .lines()
        .position(|l| l.contains("THE_ALLOCATION"))
        .expect("marker")
        + 1;
    let at = format!("tcp_server.c:{line}");
    assert!(
        text.lines()
            .any(|l| l.contains("-> handle") && l.ends_with(&at)),
        "the user frame names the malloc line:\n{text}"
    );
    // Named from a true before/after difference: the server is idle between requests, and the
    // "after" picture is written during the final locate iteration, not compared with nothing.
    assert!(
        text.contains("note: native-heap sites: growth over ")
            && !text.contains("allocated nothing"),
        "{text}"
    );
}
