//! `leakproof drive` on a native target through the real binary: a C HTTP server compiled by gcc
//! that keeps a 200-byte record per request is LEAKING (exit 1) on its native heap, and the report
//! names the C line that allocates. Skipped, with the reason printed, when gcc is not installed.
#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

const SOURCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/harness/tests/native/tcp_server.c"
);

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
    let out = Command::new(env!("CARGO_BIN_EXE_leakproof"))
        .args(["drive", "--target", &target, "--http", &url])
        .stdin(Stdio::null())
        .output()
        .expect("run leakproof");
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
