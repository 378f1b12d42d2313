//! `leakproof drive` with the JVM agent, end to end: examples/JvmService.java compiled with the
//! real `javac` and run by the real `java`, driven through the real binary at its defaults. The
//! agent attaches from outside (HotSpot's Dynamic Attach): a bounded service is Stable on its
//! heap after a full GC (under G1 and Serial), a leaking one is Leaking with its kept class
//! (`byte[]`) named, `--agent none` judges RSS alone, and a JVM that refuses attach is judged on
//! RSS with a note.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::{brief, drive_json, free_port, one_drive_at_a_time};

/// examples/JvmService.java compiled once per test process, under cargo's target/tmp (one
/// directory per process: nextest runs each test in its own).
fn classes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("jvm-service-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("class directory");
        let status = Command::new("javac")
            .arg("-d")
            .arg(&dir)
            .arg("examples/JvmService.java")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run javac (a JDK 11+ on PATH)");
        assert!(status.success(), "javac examples/JvmService.java failed");
        dir
    })
}

/// `java OPTIONS -cp CLASSES JvmService --port PORT [--leak]`.
fn service(options: &str, port: u16, leak: bool) -> String {
    let flag = if leak { " --leak" } else { "" };
    format!(
        "java {options} -cp {} JvmService --port {port}{flag}",
        classes().display()
    )
}

fn drive(target: &str, port: u16, extra: &[&str]) -> (Output, serde_json::Value) {
    drive_json(target, &format!("http://127.0.0.1:{port}/"), extra)
}

fn resource<'a>(report: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    report["resources"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["resource"] == name))
}

fn verdict(report: &serde_json::Value, name: &str) -> String {
    resource(report, name).map_or_else(
        || format!("no {name}"),
        |r| r["analysis"]["verdict"].as_str().unwrap_or("?").to_owned(),
    )
}

/// The class each growing site names (its one frame's file).
fn site_classes(report: &serde_json::Value) -> Vec<String> {
    let sites = report["sites"].as_array().cloned().unwrap_or_default();
    sites
        .iter()
        .filter_map(|s| Some(s["traceback"][0]["file"].as_str()?.to_owned()))
        .collect()
}

fn assert_stable(options: &str) {
    let port = free_port();
    let (out, report) = drive(&service(options, port, false), port, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", brief(&report));
    assert_eq!(verdict(&report, "jvm-heap"), "stable", "{}", brief(&report));
    assert_eq!(report["config"]["probe"], "jvm-heap+tree-rss");
    // Nothing grew: no heap dump, no holder.
    assert!(report["holders"].as_array().is_none_or(Vec::is_empty));
}

#[test]
fn a_bounded_jvm_service_is_stable_under_g1() {
    assert_stable("");
}

#[test]
fn a_bounded_jvm_service_is_stable_under_serial_gc() {
    assert_stable("-XX:+UseSerialGC");
}

#[test]
fn a_leaking_jvm_service_is_leaking_with_its_kept_class_named() {
    let port = free_port();
    let (out, report) = drive(&service("", port, true), port, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", brief(&report));
    assert_eq!(
        verdict(&report, "jvm-heap"),
        "leaking",
        "{}",
        brief(&report)
    );
    let classes = site_classes(&report);
    assert_eq!(
        classes.first().map(String::as_str),
        Some("byte[]"),
        "{classes:?}"
    );
    // A heap dump names what keeps the pages: the static list, as the source spells it.
    let holders: Vec<(&str, &str)> = report["holders"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|h| Some((h["object"].as_str()?, h["name"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        holders,
        vec![("byte[]", "static JvmService.KEPT (ArrayList)")],
        "{}",
        brief(&report)
    );
}

#[test]
fn a_jvm_under_a_shell_that_does_not_exec_it_is_found_among_the_descendants() {
    let port = free_port();
    // `;` after the command: the shell forks java and waits, so the target's root is `sh`.
    let target = format!("{}; true", service("-XX:+UseSerialGC", port, false));
    let (out, report) = drive(&target, port, &["-n", "60"]);
    assert_eq!(
        report["config"]["probe"],
        "jvm-heap+tree-rss",
        "{}",
        brief(&report)
    );
    assert_ne!(
        verdict(&report, "jvm-heap"),
        "leaking",
        "{}",
        brief(&report)
    );
    assert_ne!(out.status.code(), Some(2));
}

/// The run was judged on the process tree: no JVM heap, the probe says `tree-rss`.
fn assert_judged_on_rss_alone(report: &serde_json::Value) {
    assert_eq!(report["config"]["probe"], "tree-rss", "{}", brief(report));
    assert!(resource(report, "jvm-heap").is_none(), "{}", brief(report));
}

#[test]
fn agent_none_judges_the_process_tree_alone() {
    let port = free_port();
    let (out, report) = drive(
        &service("", port, true),
        port,
        &["--agent", "none", "-n", "60"],
    );
    assert_judged_on_rss_alone(&report);
    assert_ne!(out.status.code(), Some(2));
}

#[test]
fn a_jvm_that_refuses_attach_is_judged_on_rss_with_a_note() {
    let port = free_port();
    let log = std::env::temp_dir().join(format!("leakproof-jvm-{port}.log"));
    let target = format!(
        "{} > {} 2>&1",
        service("-XX:+DisableAttachMechanism", port, false),
        log.display()
    );
    let (out, report) = drive(&target, port, &["-n", "60"]);
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    assert_judged_on_rss_alone(&report);
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("the JVM agent cannot attach")
            && notes.contains("-XX:+DisableAttachMechanism; judged on RSS"),
        "{notes}"
    );
    // The flag is read from hsperfdata before any SIGQUIT: such a JVM would print a thread dump.
    assert!(output.contains("listening on"), "{output}");
    assert!(!output.contains("Full thread dump"), "{output}");
    assert!(report["failure"].is_null(), "{}", brief(&report));
    assert_ne!(out.status.code(), Some(2));
}

#[test]
fn a_jvm_whose_collector_counts_regions_is_judged_on_rss_with_a_note() {
    // ZGC publishes its heap in 2 MiB pages: a KiB-per-request leak would read flat.
    let port = free_port();
    let (out, report) = drive(&service("-XX:+UseZGC", port, false), port, &["-n", "60"]);
    assert_judged_on_rss_alone(&report);
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("heap counters are not exact bytes") && notes.contains("judged on RSS"),
        "{notes}"
    );
    assert_ne!(out.status.code(), Some(2));
}

#[test]
fn watch_attaches_to_a_running_jvm_by_pid() {
    let _turn = one_drive_at_a_time();
    let mut jvm = Command::new("java")
        .args(["-XX:+UseSerialGC", "-cp"])
        .arg(classes())
        .args(["JvmService", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start java");
    // Attach only once it serves: its first line says so.
    let mut line = String::new();
    let stdout = jvm.stdout.take().expect("stdout");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).expect("line");
    let out = Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args([
            "watch",
            "--interval",
            "100ms",
            "--duration",
            "3s",
            "--json",
            "--pid",
        ])
        .arg(jvm.id().to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run leakproof");
    let _ = jvm.kill();
    let _ = jvm.wait();
    // Killed, the JVM leaves its attach socket behind: remove it as a clean exit would.
    let _ = std::fs::remove_file(format!("/tmp/.java_pid{}", jvm.id()));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a report ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(line.starts_with("listening on"), "{line}");
    assert_eq!(
        report["config"]["probe"],
        "jvm-heap+tree-rss",
        "{}",
        brief(&report)
    );
    let heap = resource(&report, "jvm-heap").expect("a jvm-heap series");
    let samples = heap["samples"].as_array().map_or(0, Vec::len);
    assert!(samples >= 10, "{samples} samples: {}", brief(&report));
}
