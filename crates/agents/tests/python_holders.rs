//! The Python holder search and open sites (python/leakproof/_holders.py, _opened.py) on real
//! interpreters: `tests/python/holders_cases.py` keeps objects the way leaking code does and
//! asserts the names their holders get, and the lines that opened descriptors and threads.

use std::path::Path;
use std::process::Command;

/// The CPythons to run the cases with (present ones of 3.8, 3.11, 3.13), or `python3`.
fn pythons() -> Vec<String> {
    let listed: Vec<String> = ["3.8.18", "3.11.7", "3.13.0"]
        .iter()
        .map(|v| format!("/root/.pyenv/versions/{v}/bin/python3"))
        .filter(|p| Path::new(p).is_file())
        .collect();
    if listed.is_empty() {
        vec!["python3".into()]
    } else {
        listed
    }
}

#[test]
fn holders_and_open_sites_are_named_on_real_pythons() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let package = here.join("../../python/leakproof");
    for python in pythons() {
        let out = Command::new(&python)
            .arg(here.join("tests/python/holders_cases.py"))
            .env("PYTHONPATH", &package)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{python}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
