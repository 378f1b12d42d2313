//! The `Drive` API on a Python service (examples/py_service.py, real `python3`): with the default
//! agent choice its own heap is judged and a leak is located to the Python line; with
//! `AgentChoice::None` only the process tree is sampled.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use leakproof::harness::AgentChoice;
use leakproof::harness::Drive;
use leakproof::{Report, Resource};
use leakproof_trend::Verdict;

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// One `GET /`, and the service's 200.
fn request(port: u16) -> std::io::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    match reply.starts_with("HTTP/1.0 200") {
        true => Ok(()),
        false => Err(std::io::Error::other(format!("bad reply {reply:?}"))),
    }
}

fn drive(agent: AgentChoice, iterations: usize) -> Report {
    let port = free_port();
    let mut cmd = Command::new("python3");
    cmd.args(["examples/py_service.py", "--leak", "--port"])
        .arg(port.to_string())
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")));
    Drive::new(cmd)
        .ready_tcp(format!("127.0.0.1:{port}"))
        .iterations(iterations)
        .agent(agent)
        .run(|| request(port))
        .expect("drive")
}

#[test]
fn a_python_leak_is_located_to_its_line_through_the_api() {
    let report = drive(AgentChoice::Auto, 200);
    let heap = report
        .resource(Resource::agent_heap("python"))
        .expect("python heap judged");
    assert_eq!(
        heap.analysis.verdict,
        Verdict::Leaking,
        "{}",
        report.render_text()
    );
    assert!(
        heap.analysis.slope.expect("an estimate") > 500.0,
        "a ~1 KB page per request"
    );
    let text = report.render_text();
    assert!(text.contains("py_service.py:24"), "{text}");
}

#[test]
fn agent_none_samples_the_tree_only() {
    let report = drive(AgentChoice::None, 60);
    assert!(report.resource(Resource::agent_heap("python")).is_none());
    assert!(report.resource(Resource::Rss).is_some());
    assert_eq!(report.config.probe, leakproof::report::Probe::Target(None));
}
