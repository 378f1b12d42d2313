//! `leakproof drive` with the runtime agents, end to end: real `python3` and `node` services from
//! examples/ (and Python's stdlib `http.server`), driven through the real binary at its defaults.
//! A bounded service is Stable, a leaking one is Leaking with its growing line named, and
//! `--agent none` judges RSS alone.

mod common;

use std::process::{Command, Stdio};

use common::{
    brief, drive_json as drive, free_port, holder_names, one_drive_at_a_time, site_lines,
};

fn resource<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == name))
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn service(runtime: &str, script: &str, port: u16, leak: bool) -> String {
    let flag = if leak { " --leak" } else { "" };
    format!("{runtime} examples/{script} --port {port}{flag}")
}

#[test]
fn a_leaking_python_service_is_leaking_with_its_line_named() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (out, report) = drive(&service("python3", "py_service.py", port, true), &url, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", brief(&report));
    assert_eq!(
        resource(&report, "python-heap")["analysis"]["verdict"],
        "leaking"
    );
    assert_eq!(report["config"]["probe"], "python-heap+tree-rss");
    let lines = site_lines(&report);
    assert!(lines.iter().any(|l| l == "py_service.py:24"), "{lines:?}");
    // What keeps the pages: the module global, as the service's code spells it.
    let holders = report["holders"].as_array().cloned().unwrap_or_default();
    let history = holders
        .iter()
        .find(|h| h["name"] == "py_service.HISTORY (deque) \u{2190} module py_service")
        .unwrap_or_else(|| panic!("HISTORY not named in {holders:?}"));
    assert!(history["site"]
        .as_str()
        .is_some_and(|s| s.ends_with("py_service.py:24")));
    assert_eq!(history["object"], "str");
    assert!(
        history["count"].as_u64().is_some_and(|n| n >= 100),
        "{history}"
    );
}

#[test]
fn a_bounded_python_service_is_stable() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (out, report) = drive(&service("python3", "py_service.py", port, false), &url, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", brief(&report));
    assert_eq!(
        resource(&report, "python-heap")["analysis"]["verdict"],
        "stable"
    );
    // Nothing grew: no locate phase, no holder search.
    assert!(
        report["holders"].as_array().is_none_or(Vec::is_empty),
        "{report}"
    );
}

#[test]
fn pythons_stdlib_http_server_is_stable_at_the_defaults() {
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("leakproof-http-{port}"));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("index.html"), "hello\n").expect("file");
    let target = format!(
        "python3 -m http.server {port} --bind 127.0.0.1 --directory {}",
        dir.display()
    );
    let url = format!("http://127.0.0.1:{port}/index.html");
    let (out, report) = drive(&target, &url, &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", brief(&report));
}

#[test]
fn a_leaking_node_service_is_leaking_with_its_function_named() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (out, report) = drive(&service("node", "node_service.js", port, true), &url, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", brief(&report));
    assert_eq!(
        resource(&report, "js-heap")["analysis"]["verdict"],
        "leaking"
    );
    // V8's sampling profiler records functions: the line is where `remember` starts.
    let lines = site_lines(&report);
    assert!(lines.iter().any(|l| l == "node_service.js:28"), "{lines:?}");
    // Two heap snapshots name what keeps the new strings: the module's `history` array.
    let holders = holder_names(&report);
    assert_eq!(
        holders.first().map(String::as_str),
        Some("history (Array) in node_service.js's module scope"),
        "{holders:?}"
    );
}

#[test]
fn a_node_heap_too_large_to_snapshot_safely_is_not_snapshotted_and_the_verdict_stands() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    // As if each byte of heap needed a GiB to snapshot: the agent declines, the target lives.
    let target = format!(
        "LEAKPROOF_NODE_SNAPSHOT_FACTOR=1e9 {}",
        service("node", "node_service.js", port, true)
    );
    let (out, report) = drive(&target, &url, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", brief(&report));
    assert!(holder_names(&report).is_empty(), "{}", brief(&report));
    let notes = report["notes"].to_string();
    assert!(notes.contains("heap snapshot not taken"), "{notes}");
    let lines = site_lines(&report);
    assert!(lines.iter().any(|l| l == "node_service.js:28"), "{lines:?}");
}

#[test]
fn a_bounded_node_service_is_stable() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let (out, report) = drive(&service("node", "node_service.js", port, false), &url, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", brief(&report));
    assert_eq!(
        resource(&report, "js-heap")["analysis"]["verdict"],
        "stable"
    );
    // Nothing grew: no locate phase, so no heap snapshot and no holder.
    assert!(holder_names(&report).is_empty(), "{}", brief(&report));
}

#[test]
fn agent_none_judges_the_process_tree_alone() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let target = service("python3", "py_service.py", port, true);
    let (out, report) = drive(&target, &url, &["--agent", "none", "-n", "100"]);
    assert_eq!(report["config"]["probe"], "tree-rss", "{report}");
    assert!(
        report["resources"]
            .as_array()
            .is_some_and(|r| r.iter().all(|r| r["resource"] != "python-heap")),
        "{report}"
    );
    assert_ne!(out.status.code(), Some(2));
}

#[test]
fn an_unknown_agent_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args([
            "drive", "--target", "true", "--each", "true", "--agent", "ruby",
        ])
        .output()
        .expect("run leakproof");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ruby"));
}

#[test]
fn watch_judges_a_started_python_commands_own_heap_and_names_the_line() {
    let _turn = one_drive_at_a_time();
    let script = std::env::temp_dir().join(format!("leakproof-grow-{}.py", std::process::id()));
    std::fs::write(
        &script,
        // Keeps 100 strings per second of wall time (line 6), catching up after a delay: on a
        // loaded machine a per-loop rate would slow down with the CPU it gets and read as a
        // runtime levelling off.
        "import time\nkept = []\nstart = time.monotonic()\nwhile True:\n    while len(kept) < (time.monotonic() - start) * 100:\n        kept.append('x%06d' % len(kept) * 300)\n    time.sleep(0.01)\n",
    )
    .expect("script");
    let out = Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args([
            "watch",
            "--interval",
            "50ms",
            "--duration",
            "4s",
            "--json",
            "--",
        ])
        .arg("python3")
        .arg(&script)
        .stdin(Stdio::null())
        .output()
        .expect("run leakproof");
    let _ = std::fs::remove_file(&script);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report");
    assert_eq!(out.status.code(), Some(1), "{}", brief(&report));
    assert_eq!(
        resource(&report, "python-heap")["analysis"]["verdict"],
        "leaking"
    );
    let lines = site_lines(&report);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("leakproof-grow-") && l.ends_with(".py:6")),
        "{lines:?}"
    );
}

#[test]
fn a_node_service_keeping_a_descriptor_per_request_names_the_line_that_opened_it() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let target = format!("node examples/node_service.js --port {port} --leak-fds");
    let (out, report) = drive(&target, &url, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", brief(&report));
    let fds = resource(&report, "fds");
    assert_eq!(fds["analysis"]["verdict"], "leaking", "{}", brief(&report));
    // The agent traced the locate phase's opens: each kept descriptor by its opening line.
    let sites = fds["sites"].as_array().cloned().unwrap_or_default();
    let site = sites
        .first()
        .unwrap_or_else(|| panic!("no open site in {fds}"));
    let frame = &site["traceback"][site["user_frame"].as_u64().expect("user frame") as usize];
    assert!(frame["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("examples/node_service.js")));
    assert_eq!(frame["line"], 41, "{site}");
    assert_eq!(frame["function"], "keepDescriptor", "{site}");
    assert!(
        site["count_diff"].as_u64().is_some_and(|n| n >= 100),
        "{site}"
    );
}
