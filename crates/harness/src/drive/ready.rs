//! Waiting until a target is ready: a TCP port accepting connections or an HTTP URL answering.
//! Plain std networking, so the harness needs no HTTP client crate.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use super::DriveError;
use crate::target::{describe_status, Target};

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "http://{}:{}{}",
            self.host_in_url(),
            self.port,
            self.path
        )
    }
}

/// When a started target counts as ready to be driven.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// At once (the driver itself copes with a target that is still starting).
    Immediate,
    /// When `HOST:PORT` accepts a TCP connection.
    Tcp(String),
    /// When a `GET` of this `http://` URL gets any HTTP response below 500.
    Http(HttpUrl),
}

impl std::fmt::Display for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Readiness::Immediate => f.write_str("immediately"),
            Readiness::Tcp(addr) => write!(f, "TCP {addr} accepting connections"),
            Readiness::Http(url) => write!(f, "HTTP {url} answering"),
        }
    }
}

/// The parts of a plain `http://host[:port]/path` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port, 80 when not given.
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses a plain-HTTP URL; `https://` and malformed URLs are [`DriveError::BadUrl`].
    pub fn parse(url: &str) -> Result<HttpUrl, DriveError> {
        let bad = |why: &str| DriveError::BadUrl {
            url: url.to_owned(),
            reason: why.to_owned(),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only plain http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| bad("unclosed `[`"))?;
            let port = v6[end + 1..].strip_prefix(':');
            (&v6[..end], port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("bad port"))?,
            None => 80,
        };
        Ok(HttpUrl {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// The host as it is written in a URL or a `Host` header: an IPv6 address in brackets.
    fn host_in_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    fn addrs(&self) -> std::io::Result<Vec<SocketAddr>> {
        Ok((self.host.as_str(), self.port).to_socket_addrs()?.collect())
    }
}

const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(20);

fn tcp_ready(addr: &str) -> bool {
    let Ok(addrs) = addr.to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, ATTEMPT_TIMEOUT).is_ok())
}

/// One `GET` with `Connection: close`; the status code of the answer.
pub(crate) fn http_status(url: &HttpUrl) -> std::io::Result<u16> {
    let mut last = std::io::Error::other("no address");
    for addr in url.addrs()? {
        match TcpStream::connect_timeout(&addr, ATTEMPT_TIMEOUT) {
            Ok(mut stream) => {
                stream.set_read_timeout(Some(ATTEMPT_TIMEOUT))?;
                stream.set_write_timeout(Some(ATTEMPT_TIMEOUT))?;
                let host = url.host_in_url();
                // One write: `write!` on a bare socket sends each piece of the format separately, and a
                // server that answers after its first read and closes would reset the connection.
                let request = format!(
                    "GET {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n",
                    url.path, host, url.port
                );
                stream.write_all(request.as_bytes())?;
                let mut head = [0u8; 12];
                stream.read_exact(&mut head)?;
                // "HTTP/1.1 200"
                let text = std::str::from_utf8(&head).map_err(std::io::Error::other)?;
                if !text.starts_with("HTTP/") {
                    return Err(std::io::Error::other("not an HTTP response"));
                }
                return text[9..12]
                    .parse()
                    .map_err(|_| std::io::Error::other("bad HTTP status line"));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Polls `readiness` until it holds, the target exits, or `timeout` passes.
pub(crate) fn wait_ready(
    target: &mut Target,
    readiness: &Readiness,
    timeout: Duration,
) -> Result<Duration, DriveError> {
    let start = Instant::now();
    loop {
        if let Some(status) = target.try_status() {
            return Err(DriveError::ExitedEarly {
                status: describe_status(status),
                stderr: target.stderr_tail(),
            });
        }
        let ready = match readiness {
            Readiness::Immediate => true,
            Readiness::Tcp(addr) => tcp_ready(addr),
            Readiness::Http(url) => http_status(url).is_ok_and(|s| s < 500),
        };
        if ready {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return Err(DriveError::NotReady {
                readiness: readiness.to_string(),
                timeout,
                stderr: target.stderr_tail(),
            });
        }
        thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls_parse() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/a/b?c=1").unwrap();
        assert_eq!(
            u,
            HttpUrl {
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/a/b?c=1".into()
            }
        );
        let u = HttpUrl::parse("http://localhost").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = HttpUrl::parse("http://[::1]:9/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        assert!(HttpUrl::parse("https://example.com/").is_err());
        assert!(HttpUrl::parse("http://:80/").is_err());
        assert!(HttpUrl::parse("http://h:notaport/").is_err());
    }

    #[test]
    fn http_status_reads_the_status_line() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // Read the whole request head before answering, as a real server does.
            let mut head = Vec::new();
            let mut buf = [0u8; 256];
            while !head.ends_with(b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        });
        let url = HttpUrl::parse(&format!("http://127.0.0.1:{port}/ready")).unwrap();
        assert_eq!(http_status(&url).unwrap(), 404);
        server.join().unwrap();
    }

    #[test]
    fn a_target_that_never_listens_is_not_ready_after_the_timeout() {
        let mut target = Target::spawn(Target::shell("echo starting >&2; sleep 5")).unwrap();
        target.set_grace(Duration::from_millis(100));
        // Port 9 (discard) on localhost: nothing listens there in a test environment.
        let err = wait_ready(
            &mut target,
            &Readiness::Tcp("127.0.0.1:9".into()),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(err, DriveError::NotReady { .. }), "{err}");
        assert!(err.to_string().contains("starting"), "{err}");
    }

    #[test]
    fn a_target_that_exits_while_starting_is_reported_with_its_status() {
        let mut target =
            Target::spawn(Target::shell("echo 'bind: address in use' >&2; exit 3")).unwrap();
        let err = wait_ready(
            &mut target,
            &Readiness::Tcp("127.0.0.1:9".into()),
            Duration::from_secs(10),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("exit status 3") && msg.contains("address in use"),
            "{msg}"
        );
    }
}
