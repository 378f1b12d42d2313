//! A tiny HTTP server with a leak switch, to try `leakproof drive` on (std networking only).
//!
//! Every request to a path other than `/healthz` builds a response of `--entry-bytes` bytes and
//! stores it in a cache. The cache keeps the last `--cache` entries, unless a leak is switched on:
//!
//! ```text
//! cargo run --example leaky_server -- --port 8080                 # bounded cache: Stable
//! cargo run --example leaky_server -- --port 8080 --leak          # cache never evicts: RSS leaks
//! cargo run --example leaky_server -- --port 8080 --leak-fds      # a socket per request: fds leak
//! cargo run --example leaky_server -- --port 8080 --leak-threads  # a parked thread per request
//! cargo run --example leaky_server -- --port 8080 --crash-after 50
//!
//! leakproof drive --target 'target/debug/examples/leaky_server --port 8080 --leak' \
//!     --http http://127.0.0.1:8080/item -n 300
//! ```
//!
//! One connection at a time, HTTP/1.1 keep-alive, `GET` only: enough for a driver and a readiness
//! probe, not for production.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

struct Options {
    port: u16,
    leak: bool,
    leak_fds: bool,
    leak_threads: bool,
    entry_bytes: usize,
    cache: usize,
    crash_after: Option<u64>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        port: 8080,
        leak: false,
        leak_fds: false,
        leak_threads: false,
        entry_bytes: 64 * 1024,
        cache: 64,
        crash_after: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => {
                o.port = value("--port")?
                    .parse()
                    .map_err(|e| format!("--port: {e}"))?
            }
            "--leak" => o.leak = true,
            "--leak-fds" => o.leak_fds = true,
            "--leak-threads" => o.leak_threads = true,
            "--entry-bytes" => {
                o.entry_bytes = value("--entry-bytes")?
                    .parse()
                    .map_err(|e| format!("--entry-bytes: {e}"))?
            }
            "--cache" => {
                o.cache = value("--cache")?
                    .parse()
                    .map_err(|e| format!("--cache: {e}"))?
            }
            "--crash-after" => {
                o.crash_after = Some(
                    value("--crash-after")?
                        .parse()
                        .map_err(|e| format!("--crash-after: {e}"))?,
                )
            }
            "-h" | "--help" => {
                return Err(
                    "usage: leaky_server [--port P] [--leak] [--leak-fds] [--leak-threads] \
                            [--entry-bytes N] [--cache N] [--crash-after N]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(o)
}

/// What the server keeps between requests.
struct State {
    options: Options,
    requests: u64,
    cache: VecDeque<Vec<u8>>,
    sockets: Vec<UdpSocket>,
}

impl State {
    fn handle(&mut self, path: &str) -> Vec<u8> {
        if path == "/healthz" {
            return b"ok\n".to_vec();
        }
        self.requests += 1;
        if let Some(n) = self.options.crash_after {
            if self.requests > n {
                eprintln!("leaky_server: simulated crash at request {}", self.requests);
                std::process::exit(101);
            }
        }
        // The response body, cached by request number: touch every byte so it is resident.
        let entry: Vec<u8> = (0..self.options.entry_bytes)
            .map(|i| (i as u64 ^ self.requests) as u8)
            .collect();
        let body = format!("request {} ({} bytes cached)\n", self.requests, entry.len());
        self.cache.push_back(entry);
        if !self.options.leak {
            while self.cache.len() > self.options.cache {
                self.cache.pop_front();
            }
        }
        if self.options.leak_fds {
            // A socket per request that is never closed: almost no memory, one fd each.
            if let Ok(s) = UdpSocket::bind("127.0.0.1:0") {
                self.sockets.push(s);
            }
        }
        if self.options.leak_threads {
            // A thread per request that never finishes.
            let _ = std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(|| loop {
                    std::thread::park();
                });
        }
        body.into_bytes()
    }
}

/// Serves one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, state: &mut State) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut close = request_line.ends_with("HTTP/1.0\r\n");
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
            if header.to_ascii_lowercase().starts_with("connection: close") {
                close = true;
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let body = state.handle(path);
        // One write per response: split writes meet Nagle and delayed ACKs (40 ms per request).
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        )
        .into_bytes();
        response.extend_from_slice(&body);
        writer.write_all(&response)?;
        if close {
            return Ok(());
        }
    }
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("leaky_server: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", options.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("leaky_server: cannot listen on port {}: {e}", options.port);
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "leaky_server: listening on http://{}/ (leak: {}, fds: {}, threads: {})",
        listener
            .local_addr()
            .map_or_else(|_| "?".into(), |a| a.to_string()),
        options.leak,
        options.leak_fds,
        options.leak_threads
    );
    let mut state = State {
        options,
        requests: 0,
        cache: VecDeque::new(),
        sockets: Vec::new(),
    };
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                if let Err(e) = serve(s, &mut state) {
                    if e.kind() != std::io::ErrorKind::WouldBlock {
                        eprintln!("leaky_server: connection error: {e}");
                    }
                }
            }
            Err(e) => eprintln!("leaky_server: accept failed: {e}"),
        }
    }
    ExitCode::SUCCESS
}
