//! Driving an external service from Rust with the harness's drive API: start the Python version
//! of the leaky server, wait until it answers, send one request per iteration, and judge the
//! target's RSS, open file descriptors and threads.
//!
//! ```text
//! cargo run --example drive_api            # the leaking server: exit code 1
//! cargo run --example drive_api -- fixed   # the bounded one: exit code 0
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, ExitCode};
use std::time::Duration;

use leakproof_harness::Drive;

const PORT: u16 = 18471;

/// The workload: one plain HTTP GET (any client library would do).
fn get() -> std::io::Result<()> {
    let mut s = TcpStream::connect(("127.0.0.1", PORT))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET /item HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    s.read_to_end(&mut response)?;
    if response.starts_with(b"HTTP/1.1 200") || response.starts_with(b"HTTP/1.0 200") {
        Ok(())
    } else {
        Err(std::io::Error::other("unexpected response"))
    }
}

fn main() -> ExitCode {
    let fixed = std::env::args().nth(1).as_deref() == Some("fixed");
    let mut server = Command::new("python3");
    server
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/leaky_server.py"
        ))
        .args(["--port", &PORT.to_string(), "--cache", "16"]);
    if !fixed {
        server.arg("--leak");
    }
    let result = Drive::new(server)
        .name(if fixed {
            "python server, bounded cache"
        } else {
            "python server, leaking cache"
        })
        .ready_http(format!("http://127.0.0.1:{PORT}/healthz"))
        .ready_timeout(Duration::from_secs(20))
        .iterations(200)
        .run(get);
    match result {
        Ok(report) => {
            print!("{}", report.render_text());
            ExitCode::from(report.exit_code())
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(4)
        }
    }
}
