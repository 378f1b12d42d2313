//! `Drive` on a native target: a C TCP server compiled by gcc, driven at default settings (agent
//! auto picks the preloaded native agent), judged on its exact malloc heap, and its leak located
//! to the C line that allocates.
#![cfg(target_os = "linux")]

mod common;

use common::{compile_c, drive_tcp_server, free_port, get_item};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use leakproof::harness::Drive;
use leakproof::Resource;
use leakproof_trend::Verdict;

/// The 1-based line of the `THE_ALLOCATION` marker in the server's source.
fn allocation_line() -> String {
    let line = include_str!("native/tcp_server.c")
        .lines()
        .position(|l| l.contains("THE_ALLOCATION"))
        .expect("marker")
        + 1;
    format!("tcp_server.c:{line}")
}

#[test]
fn a_leaking_c_server_is_leaking_on_its_native_heap_and_the_malloc_line_is_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(program) = compile_c(tmp.path(), "tcp_server") else {
        return;
    };
    let started = Instant::now();
    let report = drive_tcp_server(&program, "leak");
    let text = report.render_text();
    eprintln!("{text}\n({:.1} s)", started.elapsed().as_secs_f64());
    let heap = report
        .resource(Resource::agent_heap("native"))
        .expect("native-heap tracked");
    assert_eq!(heap.analysis.verdict, Verdict::Leaking, "{text}");
    // 200 bytes a request, exactly (malloc(200) has a usable size of 200 on x86_64 glibc).
    assert!(
        (heap.analysis.slope.expect("an estimate") - 200.0).abs() < 1.0,
        "{text}"
    );
    assert_eq!(report.exit_code(), 1);
    let top = report.sites.first().expect("a growing site");
    let user = top
        .user_frame
        .and_then(|u| top.traceback.get(u))
        .expect("a user frame");
    assert!(user.location().ends_with(&allocation_line()), "{text}");
    assert_eq!(user.function.as_deref(), Some("handle"), "{text}");
    assert!(text.contains(&allocation_line()), "{text}");
    // A true before/after difference: the server is idle between requests, so the "after" picture
    // must be written during the final locate iteration (the fallback compares with nothing).
    let span = sites_span(&report);
    assert!(span > 0, "{text}");
    assert_eq!(
        top.count_diff, span as i64,
        "one block per request in between: {text}"
    );
    assert_eq!(top.size_diff, 200 * span as i64, "{text}");
    // The after picture also holds the before picture's blocks: the 3 lead-in iterations' and the
    // first measured one's (written at its allocation).
    assert_eq!(top.count, top.count_diff as u64 + 4, "{text}");
}

/// The iterations between the two native-heap pictures, from the locate phase's note; fails the
/// test when the phase compared its first picture with nothing.
fn sites_span(report: &leakproof::Report) -> usize {
    let note = report
        .notes
        .iter()
        .find(|n| n.starts_with("native-heap sites: growth over "))
        .unwrap_or_else(|| panic!("no before/after growth note: {:#?}", report.notes));
    assert!(
        !report.notes.iter().any(|n| n.contains("allocated nothing")),
        "{:#?}",
        report.notes
    );
    note.trim_start_matches("native-heap sites: growth over ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

#[test]
fn a_bounded_c_server_is_stable_on_its_native_heap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(program) = compile_c(tmp.path(), "tcp_server") else {
        return;
    };
    let started = Instant::now();
    let report = drive_tcp_server(&program, "bounded");
    let text = report.render_text();
    eprintln!("{text}\n({:.1} s)", started.elapsed().as_secs_f64());
    let heap = report
        .resource(Resource::agent_heap("native"))
        .expect("native-heap tracked");
    assert_eq!(heap.analysis.verdict, Verdict::Stable, "{text}");
    assert!(report.passed(), "{text}");
}

#[test]
fn an_explicit_native_agent_on_a_static_binary_falls_back_to_rss_with_a_note() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(dynamic) = compile_c(tmp.path(), "tcp_server") else {
        return;
    };
    let program = tmp.path().join("tcp_server_static");
    let status = Command::new("gcc")
        .args(["-g", "-O0", "-static", "-o"])
        .arg(&program)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/tcp_server.c"))
        .status()
        .expect("gcc runs");
    assert!(status.success() && dynamic.is_file(), "gcc -static failed");
    let port = free_port();
    let mut cmd = Command::new(&program);
    cmd.arg(port.to_string()).arg("bounded");
    let report = Drive::new(cmd)
        .ready_tcp(format!("127.0.0.1:{port}"))
        .agent(leakproof::harness::AgentChoice::named("native").expect("the native agent"))
        .iterations(50)
        .run(|| get_item(port))
        .expect("drive");
    let text = report.render_text();
    assert!(
        report.resource(Resource::agent_heap("native")).is_none(),
        "{text}"
    );
    assert!(report.resource(Resource::Rss).is_some(), "{text}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("no allocation reached the preload agent")),
        "{text}"
    );
}
