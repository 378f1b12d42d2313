//! Where a native target's leaked descriptors and threads were opened: `tests/native/tcp_server.c`
//! (a C server compiled by gcc) keeping a descriptor or a thread per request under `Drive` and
//! `leakproof drive`, and `tests/native/ticker.c` keeping a descriptor per tick under `leakproof
//! watch`: the preload agent records the stacks that opened them and the report names the C line.
//! Skipped, with the reason printed, when gcc is not installed.
#![cfg(target_os = "linux")]

mod common;

use common::{compile_c, drive_tcp_server, free_port, leakproof, native_line, watch_ticker};

use leakproof::Resource;
use leakproof_trend::Verdict;

/// Drives `tcp_server MODE`; asserts `resource` is leaking about one a request and that its
/// open sites name `function` at the line of `marker`, one block per leaked handle.
fn leaks_named(mode: &str, resource: Resource, function: &str, marker: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(program) = compile_c(tmp.path(), "tcp_server") else {
        return;
    };
    let report = drive_tcp_server(&program, mode);
    let text = report.render_text();
    eprintln!("{text}");
    let r = report.resource(resource).expect("tracked");
    assert_eq!(r.analysis.verdict, Verdict::Leaking, "{text}");
    assert!(
        (r.analysis.slope.expect("an estimate") - 1.0).abs() < 0.05,
        "{text}"
    );
    let top = r
        .sites
        .first()
        .unwrap_or_else(|| panic!("no open site: {text}"));
    let user = top
        .user_frame
        .and_then(|u| top.traceback.get(u))
        .expect("a user frame");
    let at = native_line("tcp_server", marker);
    assert!(user.location().ends_with(&at), "{text}");
    assert_eq!(user.function.as_deref(), Some(function), "{text}");
    // One block per handle opened during the locate phase and still open: as many as the
    // locate iterations (at least), all at this one line.
    assert_eq!(r.sites.len(), 1, "{text}");
    assert!(top.count >= 10 && top.size_diff == top.count_diff, "{text}");
    assert!(text.contains(&at), "{text}");
}

#[test]
fn a_c_server_keeping_a_descriptor_per_request_names_the_line_that_opened_it() {
    leaks_named("fds", Resource::Fds, "keep_a_descriptor", "THE_OPEN");
}

#[test]
fn a_c_server_keeping_a_thread_per_request_names_the_line_that_started_it() {
    leaks_named("threads", Resource::Threads, "keep_a_thread", "THE_THREAD");
}

#[test]
fn a_bounded_c_server_is_stable_and_traces_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(program) = compile_c(tmp.path(), "tcp_server") else {
        return;
    };
    let report = drive_tcp_server(&program, "bounded");
    let text = report.render_text();
    assert_eq!(report.exit_code(), 0, "{text}");
    assert!(
        report.resources.iter().all(|r| r.sites.is_empty()) && report.sites.is_empty(),
        "{text}"
    );
    assert!(!text.contains("sites"), "no locate phase ran: {text}");
}

#[test]
fn leakproof_drive_prints_the_open_line_of_a_leaked_descriptor() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let Some(program) = compile_c(tmp.path(), "tcp_server") else {
        return;
    };
    let port = free_port();
    let target = format!("{} {port} fds", program.display());
    let url = format!("http://127.0.0.1:{port}/item");
    let out = leakproof(&["drive", "--target", &target, "--http", &url]);
    let text = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}\n{stderr}");
    assert!(text.contains("fds          leaking"), "{text}");
    let at = native_line("tcp_server", "THE_OPEN");
    assert!(
        text.lines()
            .any(|l| l.contains("-> keep_a_descriptor") && l.ends_with(&at)),
        "the user frame names the open line:\n{text}"
    );
}

#[test]
fn leakproof_watch_of_a_program_keeping_a_descriptor_per_tick_names_the_open_line() {
    let Some((out, report)) = watch_ticker("fds") else {
        return;
    };
    let fds = report["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == "fds"))
        .expect("fds tracked");
    let brief = format!("{:#}\nnotes {:#}", fds["analysis"], report["notes"]);
    assert_eq!(fds["analysis"]["verdict"], "leaking", "{brief}");
    assert_eq!(out.status.code(), Some(1), "{brief}");
    let at = native_line("ticker", "THE_OPEN");
    let line: u64 = at
        .rsplit(':')
        .next()
        .and_then(|l| l.parse().ok())
        .expect("line");
    let named = fds["sites"].as_array().into_iter().flatten().any(|s| {
        let user = &s["traceback"][s["user_frame"].as_u64().unwrap_or(0) as usize];
        user["function"] == "keep_a_descriptor" && user["line"] == line
    });
    assert!(named, "{at} named: {:#}\n{brief}", fds["sites"]);
}
