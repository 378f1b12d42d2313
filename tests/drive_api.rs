//! The drive API from Rust: start examples/leaky_server as a `std::process::Command`, drive it from
//! a closure (an HTTP GET over std networking), and judge its RSS, fds and threads.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::{free_port, server};

use leakproof::harness::{Drive, DriveError};
use leakproof::Resource;
use leakproof_trend::Verdict;

fn server_command(port: u16, flags: &[&str]) -> Command {
    let mut cmd = Command::new(server());
    cmd.arg("--port").arg(port.to_string()).args(flags);
    cmd
}

/// One `GET /item` with `Connection: close`: the client a Rust test would use.
fn get(port: u16) -> std::io::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET /item HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    if response.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("bad response: {response:?}")))
    }
}

#[test]
fn a_leaking_server_is_leaking_and_the_report_names_the_heap() {
    let port = free_port();
    let report = Drive::new(server_command(port, &["--leak"]))
        .ready_tcp(format!("127.0.0.1:{port}"))
        .ready_timeout(Duration::from_secs(20))
        .iterations(150)
        .max_iterations(300)
        .run(|| get(port))
        .expect("drive");
    assert_eq!(report.verdict, Verdict::Leaking, "{}", report.render_text());
    assert_eq!(report.exit_code(), 1);
    let rss = report.resource(Resource::Rss).expect("rss tracked");
    let slope = rss.analysis.slope.expect("an estimate");
    assert!(slope > 32.0 * 1024.0, "{slope}");
    assert!(
        rss.detail.as_deref().is_some_and(|d| d.contains("heap")),
        "{:?}",
        rss.detail
    );
}

#[test]
fn a_bounded_server_is_stable() {
    let port = free_port();
    let report = Drive::new(server_command(port, &["--cache", "16"]))
        .ready_http(format!("http://127.0.0.1:{port}/healthz"))
        .iterations(150)
        .max_iterations(300)
        .run(|| get(port))
        .expect("drive");
    assert!(report.passed(), "{}", report.render_text());
    // The tree's RSS, fds and threads, and the heap of the native agent `auto` preloads.
    assert_eq!(report.resources.len(), 4);
    let heap = report
        .resource(Resource::agent_heap("native"))
        .expect("native-heap");
    assert_eq!(heap.analysis.verdict, Verdict::Stable);
}

#[test]
fn a_crash_mid_run_is_a_report_failure_with_status_and_stderr() {
    let port = free_port();
    let report = Drive::new(server_command(port, &["--crash-after", "10"]))
        .ready_tcp(format!("127.0.0.1:{port}"))
        .iterations(50)
        .run(|| get(port))
        .expect("drive");
    assert_eq!(report.exit_code(), 4);
    let failure = report.failure.as_deref().expect("failure");
    assert!(failure.contains("iteration 11"), "{failure}");
    assert!(failure.contains("exit status 101"), "{failure}");
    assert!(failure.contains("simulated crash"), "{failure}");
}

#[test]
fn a_server_that_never_listens_is_not_ready() {
    let port = free_port();
    let mut sleep = Command::new("sleep");
    sleep.arg("30");
    let err = Drive::new(sleep)
        .ready_tcp(format!("127.0.0.1:{port}"))
        .ready_timeout(Duration::from_millis(300))
        .grace(Duration::from_millis(200))
        .run(|| get(port))
        .unwrap_err();
    assert!(matches!(err, DriveError::NotReady { .. }), "{err}");
}

#[test]
fn the_target_is_stopped_even_when_the_driver_panics() {
    let port = free_port();
    let pgid = std::sync::Mutex::new(None);
    let result = std::panic::catch_unwind(|| {
        let mut n = 0;
        Drive::new(server_command(port, &[]))
            .ready_tcp(format!("127.0.0.1:{port}"))
            .iterations(100)
            .run(|| {
                n += 1;
                if n == 5 {
                    // Find the server (it owns the listening port) before panicking.
                    *pgid.lock().unwrap_or_else(|e| e.into_inner()) = find_listener(port);
                    panic!("driver bug");
                }
                get(port)
            })
    });
    assert!(result.is_err(), "the panic propagates");
    let pgid = pgid
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .expect("server pid found");
    assert!(
        !group_alive(pgid),
        "process group {pgid} outlived the panic"
    );
}

/// The PID of the leaky_server listening on `port` (from /proc/*/cmdline).
fn find_listener(port: u16) -> Option<i32> {
    let want = format!("--port\0{port}\0");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
        String::from_utf8_lossy(&cmdline)
            .contains(&want)
            .then_some(pid)
    })
}

/// True while a live (not zombie) process is in process group `pgid`.
fn group_alive(pgid: i32) -> bool {
    leakproof_sample::process_group_members(pgid).is_ok_and(|members| !members.is_empty())
}
