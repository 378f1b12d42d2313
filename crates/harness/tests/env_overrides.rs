//! LEAKPROOF_ITERATIONS / LEAKPROOF_WARMUP / LEAKPROOF_REPORT_DIR end to end: each test runs this
//! test binary again on an ignored fixture with the variables set (setting them in this process
//! would race with the other tests' threads).

use std::process::{Command, Output};

use leakproof_harness::testing::{run_leak_test, LeakTest};

#[global_allocator]
static GLOBAL: leakproof_sample::TrackingAlloc = leakproof_sample::TrackingAlloc::system();

#[test]
#[ignore = "fixture: run by the tests below with LEAKPROOF_* set"]
fn fixture_stable() {
    let mut buffer = Vec::with_capacity(256);
    run_leak_test(
        LeakTest::new(concat!(module_path!(), "::", "fixture_stable")),
        || {
            buffer.clear();
            buffer.extend_from_slice(&[3u8; 200]);
        },
    );
}

fn run_fixture(vars: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("test binary");
    let mut command = Command::new(exe);
    command.args([
        "--exact",
        "fixture_stable",
        "--include-ignored",
        "--nocapture",
    ]);
    for (key, _) in std::env::vars() {
        if key.starts_with("LEAKPROOF_") {
            command.env_remove(key);
        }
    }
    for (key, value) in vars {
        command.env(key, value);
    }
    command.output().expect("run the fixture")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn report_dir_gets_json_and_svg_with_the_overrides_applied() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_fixture(&[
        ("LEAKPROOF_REPORT_DIR", dir.path().to_str().unwrap()),
        ("LEAKPROOF_ITERATIONS", "120"),
        ("LEAKPROOF_WARMUP", "30"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let json = std::fs::read_to_string(dir.path().join("fixture_stable.json")).unwrap();
    let report: leakproof_report::Report = serde_json::from_str(&json).unwrap();
    assert!(report.passed(), "{json}");
    assert!(report.iterations >= 120, "{json}");
    // The fixed warm-up is a minimum: the analysis may still find the plateau later (a step of the
    // test runner's own allocations, under load, moved it to 40 once).
    assert_eq!(report.config.warmup, Some(30), "{json}");
    assert!(report.warmup >= 30, "{json}");
    let svg = std::fs::read_to_string(dir.path().join("fixture_stable.svg")).unwrap();
    assert!(svg.contains("fitted slope"), "{svg}");
    // Atomic writes leave no temporary files behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn a_bad_number_fails_naming_the_variable() {
    let output = run_fixture(&[("LEAKPROOF_ITERATIONS", "lots")]);
    assert!(!output.status.success());
    let all = text(&output);
    assert!(all.contains("LEAKPROOF_ITERATIONS"), "{all}");
    assert!(all.contains("lots"), "{all}");

    let output = run_fixture(&[("LEAKPROOF_WARMUP", "-1")]);
    assert!(!output.status.success());
    assert!(
        text(&output).contains("LEAKPROOF_WARMUP"),
        "{}",
        text(&output)
    );
}

#[test]
fn an_unwritable_report_dir_is_only_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let output = run_fixture(&[(
        "LEAKPROOF_REPORT_DIR",
        blocker.join("reports").to_str().unwrap(),
    )]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("warning: leakproof"),
        "{}",
        text(&output)
    );
}
