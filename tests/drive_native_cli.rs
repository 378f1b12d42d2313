//! `leakproof drive` on a native target through the real binary: a C HTTP server compiled by gcc
//! that keeps a 200-byte record per request is LEAKING (exit 1) on its native heap, and the report
//! names the C line that allocates. Skipped, with the reason printed, when gcc is not installed.
#![cfg(target_os = "linux")]

mod common;

use common::{compile_c, free_port, leakproof, native_line, watch_ticker};

/// The `native-heap` resource of a JSON report.
fn native_heap(report: &serde_json::Value) -> &serde_json::Value {
    report["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == "native-heap"))
        .unwrap_or_else(|| panic!("no native-heap in {:#}", report["notes"]))
}

#[test]
fn watch_a_c_program_that_leaks_per_tick_is_leaking_on_its_native_heap() {
    let Some((out, report)) = watch_ticker("leak") else {
        return;
    };
    let code = out.status.code();
    let heap = native_heap(&report);
    let brief = format!("{:#}\nnotes {:#}", heap["analysis"], report["notes"]);
    assert_eq!(heap["analysis"]["verdict"], "leaking", "{brief}");
    assert_eq!(code, Some(1), "{brief}");
    // 64 bytes (usable size 72) every 10 ms: about 7 KiB/s (less when a loaded machine delays
    // the ticks).
    let slope = heap["analysis"]["slope"].as_f64().expect("slope") / 0.05;
    assert!((2000.0..10000.0).contains(&slope), "{slope} B/s: {brief}");
    let at = native_line("ticker", "THE_ALLOCATION");
    let line: u64 = at
        .rsplit(':')
        .next()
        .and_then(|l| l.parse().ok())
        .expect("line");
    let named = report["sites"].as_array().into_iter().flatten().any(|s| {
        let user = &s["traceback"][s["user_frame"].as_u64().unwrap_or(0) as usize];
        user["function"] == "tick" && user["line"] == line
    });
    assert!(named, "{at} named: {:#}", report["sites"]);
    // From two pictures: the program allocates on its own, so it writes the later one too.
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("native-heap sites: growth over ") && !notes.contains("allocated nothing"),
        "{notes}"
    );
}

#[test]
fn watch_a_c_program_that_frees_what_it_allocates_is_stable_on_its_native_heap() {
    let Some((out, report)) = watch_ticker("bounded") else {
        return;
    };
    let code = out.status.code();
    let heap = native_heap(&report);
    let brief = format!("{:#}\nnotes {:#}", heap["analysis"], report["notes"]);
    assert_eq!(heap["analysis"]["verdict"], "stable", "{brief}");
    assert_eq!(code, Some(0), "{brief}");
}

#[test]
fn drive_a_leaking_c_server_is_exit_1_and_names_the_malloc_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(program) = compile_c(tmp.path(), "tcp_server") else {
        return;
    };
    let port = free_port();
    let target = format!("{} {port} leak", program.display());
    let url = format!("http://127.0.0.1:{port}/item");
    let out = leakproof(&["drive", "--target", &target, "--http", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}\n{stderr}");
    assert!(text.contains("native-heap  leaking"), "{text}");
    let at = native_line("tcp_server", "THE_ALLOCATION");
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
