//! Loading the node agent into a running node process through its inspector.
//!
//! `SIGUSR1` makes node open its inspector (on `127.0.0.1:9229`, or where `--inspect-port` says);
//! the new listening socket of the process is its port, `/json/list` there names the WebSocket
//! of the main context, and one `Runtime.evaluate` over it (the Chrome DevTools protocol) runs
//! `agent.js` from the agent's private directory and calls its `attach`. The same expression
//! closes the inspector again 200 ms later, once this side has hung up: the agent itself talks
//! through its in-process inspector session, which needs no port. An inspector that was open
//! already (a debugger, or `--inspect`) is somebody else's: leakproof leaves it alone.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::AttachError;

/// How long node has to open its inspector after `SIGUSR1`.
const OPEN_WAIT: Duration = Duration::from_secs(5);
/// Timeout of each exchange with the inspector.
const TIMEOUT: Duration = Duration::from_secs(10);
/// node's inspector port unless told otherwise.
const DEFAULT_PORT: u16 = 9229;

/// Loads `source` (agent.js) into node process `pid`, serving `dir`; `watcher` is the process
/// whose end makes the agent detach by itself (leakproof).
pub(super) fn inject(pid: u32, source: &Path, dir: &Path, watcher: u32) -> Result<(), AttachError> {
    let probe = |e| AttachError::Probe { pid, source: e };
    if !leakproof_sample::catches_signal(pid, Signal::SIGUSR1 as i32).map_err(probe)? {
        // Its default action would end the process.
        return Err(AttachError::NoSigusr1 { pid });
    }
    let before = leakproof_sample::listening_tcp(pid).map_err(probe)?;
    let target = Pid::from_raw(i32::try_from(pid).map_err(|_| AttachError::Gone { pid })?);
    kill(target, Signal::SIGUSR1).map_err(|_| AttachError::Gone { pid })?;
    let Some(inspector) = new_listener(pid, &before)? else {
        return Err(match before.iter().find(|a| is_inspector(**a)) {
            Some(addr) => AttachError::InspectorInUse { pid, addr: *addr },
            None => AttachError::InspectorNotOpened {
                pid,
                port: configured_port(pid),
            },
        });
    };
    // Once it is open, only an evaluation can close it again.
    let fail = |detail: String| AttachError::Inspector {
        pid,
        detail: format!("{detail}; its inspector may stay open on {inspector}"),
    };
    let url = debugger_url(inspector).map_err(&fail)?;
    match evaluate(inspector, &url, &expression(source, dir, watcher))
        .map_err(&fail)?
        .as_str()
    {
        "ok" => Ok(()),
        "busy" => Err(AttachError::Refused {
            pid,
            detail: "another leakproof agent already runs in this process".to_owned(),
        }),
        other => Err(fail(format!("the agent did not start: {other}"))),
    }
}

/// The first listening socket of `pid` that was not in `before`, within [`OPEN_WAIT`].
fn new_listener(pid: u32, before: &[SocketAddr]) -> Result<Option<SocketAddr>, AttachError> {
    let deadline = Instant::now() + OPEN_WAIT;
    while Instant::now() < deadline {
        let now = leakproof_sample::listening_tcp(pid)
            .map_err(|source| AttachError::Probe { pid, source })?;
        if let Some(addr) = now.into_iter().find(|a| !before.contains(a)) {
            return Ok(Some(addr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(None)
}

/// The address to connect to for a listener (loopback for one bound to every address).
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        ip if ip.is_unspecified() => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port()),
        _ => addr,
    }
}

/// A GET of `path` on `addr`: the body (`Content-Length` bytes: the inspector keeps the
/// connection open).
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    use std::io::BufRead;
    let addr = reachable(addr);
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reader = std::io::BufReader::new(stream.take(1 << 20));
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0; length.unwrap_or(0)];
    reader.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// True when `addr` answers as a V8 inspector (`/json/version` names a `Protocol-Version`).
fn is_inspector(addr: SocketAddr) -> bool {
    http_get(addr, "/json/version").is_ok_and(|body| body.contains("\"Protocol-Version\""))
}

/// The WebSocket URL of the main context's inspector target.
fn debugger_url(addr: SocketAddr) -> Result<String, String> {
    let body = http_get(addr, "/json/list").map_err(|e| format!("GET /json/list: {e}"))?;
    let targets: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("/json/list is not JSON: {e}"))?;
    targets
        .get(0)
        .and_then(|t| t.get("webSocketDebuggerUrl"))
        .and_then(|u| u.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "/json/list names no webSocketDebuggerUrl".to_owned())
}

/// Evaluates `expression` in the main context over the inspector's WebSocket `url`: its value
/// as a string, or the exception it threw.
fn evaluate(addr: SocketAddr, url: &str, expression: &str) -> Result<String, String> {
    use tungstenite::Message;
    let stream =
        TcpStream::connect_timeout(&reachable(addr), TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    let (mut socket, _) =
        tungstenite::client(url, stream).map_err(|e| format!("WebSocket: {e}"))?;
    let request = serde_json::json!({
        "id": 1,
        "method": "Runtime.evaluate",
        // The command-line API gives the expression a `require`.
        "params": { "expression": expression, "includeCommandLineAPI": true, "returnByValue": true },
    });
    socket
        .send(Message::text(request.to_string()))
        .map_err(|e| format!("WebSocket: {e}"))?;
    let reply = loop {
        let message = socket.read().map_err(|e| format!("WebSocket: {e}"))?;
        let Message::Text(text) = message else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
        if value["id"] == 1 {
            break value;
        }
    };
    let _ = socket.close(None);
    let _ = socket.flush();
    let result = &reply["result"];
    if let Some(exception) = result.get("exceptionDetails") {
        return Err(exception["exception"]["description"]
            .as_str()
            .or(exception["text"].as_str())
            .unwrap_or("an exception")
            .to_owned());
    }
    result["result"]["value"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("unexpected reply: {reply}"))
}

/// The JavaScript that loads the agent (as a script named after its file, so that its own frames
/// are recognised in profiles), calls its `attach`, and closes the inspector soon after.
fn expression(source: &Path, dir: &Path, watcher: u32) -> String {
    let json = |p: &Path| serde_json::Value::from(p.to_string_lossy().into_owned()).to_string();
    let (source, dir) = (json(source), json(dir));
    format!(
        "(() => {{
  const req = typeof require === 'function' ? require
    : process.mainModule && process.mainModule.require.bind(process.mainModule);
  if (!req) {{ return 'no require() in the main context'; }}
  const close = setTimeout(() => req('inspector').close(), 200);
  close.unref();
  const text = req('fs').readFileSync({source}, 'utf8');
  const module = {{ exports: {{}} }};
  req('vm').runInThisContext('(function (require, module, __filename) {{' + text + '\\n}})',
    {{ filename: {source} }})(req, module, {source});
  return module.exports.attach({dir}, {watcher});
}})()"
    )
}

/// The inspector port `pid` was told to use (`--inspect-port`, `--inspect`, `--inspect-brk`),
/// else node's default.
fn configured_port(pid: u32) -> u16 {
    let args = leakproof_sample::command_line(pid).unwrap_or_default();
    let mut port = None;
    for (i, arg) in args.iter().enumerate() {
        let value = [
            "--inspect-port",
            "--inspect",
            "--inspect-brk",
            "--debug-port",
        ]
        .iter()
        .find_map(|flag| match arg.strip_prefix(flag)? {
            "" if *flag == "--inspect-port" || *flag == "--debug-port" => args.get(i + 1).cloned(),
            rest => rest.strip_prefix('=').map(str::to_owned),
        });
        if let Some(value) = value {
            port = value
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .or(port);
        }
    }
    port.unwrap_or(DEFAULT_PORT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expression_is_javascript() {
        let text = expression(Path::new("/tmp/d/agent.js"), Path::new("/tmp/d"), 7);
        let out = std::process::Command::new("node")
            .args(["-e", "new Function(process.argv[1])", "--", &text])
            .output()
            .expect("node");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
