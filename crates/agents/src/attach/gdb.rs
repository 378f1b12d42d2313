//! A gdb driven through its machine interface (MI): one command at a time with a timeout, and a
//! `SIGINT` to gdb (never to the target) when one runs too long, which gdb turns into stopping
//! the target without passing the signal on (`SIGINT` is `nopass` by default). gdb runs in its
//! own session, so a Ctrl-C on leakproof's terminal does not reach it, and it detaches from the
//! target when its input closes (leakproof exited).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How a command ended.
#[derive(Debug)]
pub(super) enum Outcome {
    /// `^done` or `^running`, with the rest of the record (`value="..."`, ...).
    Done(String),
    /// `^error`: gdb's message.
    Error(String),
    /// No answer within the timeout (gdb was interrupted), or gdb is gone.
    Lost,
}

/// A running gdb; see the [module docs](self).
pub(super) struct Gdb {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    /// `*stopped` records seen while waiting for something else.
    stops: VecDeque<String>,
    token: u32,
}

impl Gdb {
    /// Starts gdb quietly: no init files, no auto-loaded scripts, no debug info read (only the
    /// dynamic symbol tables: every CPython exports the functions used), no pagination or
    /// questions; signals the target receives meanwhile pass through without stopping it, and
    /// a function call interrupted by a signal is unwound.
    pub(super) fn start() -> std::io::Result<Gdb> {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("gdb")
            .args(["--interpreter=mi3", "-nx", "-q", "--readnever"])
            .args(["-iex", "set auto-load off"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut gdb = Gdb {
            child,
            stdin,
            lines,
            stops: VecDeque::new(),
            token: 0,
        };
        for setting in [
            "-gdb-set pagination off",
            "-gdb-set confirm off",
            "-gdb-set unwindonsignal on",
            "-interpreter-exec console \"handle all nostop noprint pass\"",
        ] {
            if !matches!(gdb.run(setting, Duration::from_secs(10)), Outcome::Done(_)) {
                return Err(std::io::Error::other(format!(
                    "gdb did not accept `{setting}`"
                )));
            }
        }
        Ok(gdb)
    }

    /// Runs one MI command and waits up to `timeout` for its result record; after that gdb is
    /// interrupted (the target stopped, a function call in it unwound) and the result awaited a
    /// little longer before the command counts as [`Outcome::Lost`].
    pub(super) fn run(&mut self, command: &str, timeout: Duration) -> Outcome {
        self.token += 1;
        let token = self.token.to_string();
        if writeln!(self.stdin, "{token}{command}")
            .and_then(|()| self.stdin.flush())
            .is_err()
        {
            return Outcome::Lost;
        }
        let result = self.next(timeout, |l| result_of(l, &token)).or_else(|| {
            self.interrupt();
            self.next(Duration::from_secs(5), |l| result_of(l, &token))
        });
        match result {
            Some((class, rest)) if class == "error" => Outcome::Error(message(&rest)),
            Some((_, rest)) => Outcome::Done(rest),
            None => Outcome::Lost,
        }
    }

    /// The next `*stopped` record within `timeout`, or `None` (the target still runs).
    pub(super) fn stopped(&mut self, timeout: Duration) -> Option<String> {
        if let Some(stop) = self.stops.pop_front() {
            return Some(stop);
        }
        let mut found = None;
        self.next(timeout, |l| {
            found = l.strip_prefix("*stopped").map(str::to_owned);
            found.clone()
        })
    }

    /// Stops the target from running on (a `SIGINT` to gdb, which stops the target without
    /// passing the signal on).
    pub(super) fn interrupt(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
        }
    }

    /// Reads lines until `pick` returns something or `timeout` passes; `*stopped` records
    /// `pick` passes over are kept for [`Gdb::stopped`].
    fn next<T>(&mut self, timeout: Duration, mut pick: impl FnMut(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            };
            if let Some(found) = pick(&line) {
                return Some(found);
            }
            if let Some(stop) = line.strip_prefix("*stopped") {
                self.stops.push_back(stop.to_owned());
            }
        }
    }
}

impl Drop for Gdb {
    /// Asks gdb to exit (it detaches from a target it is still attached to), and kills it only
    /// if it does not within two seconds.
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "-gdb-exit");
        let _ = self.stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `TOKEN^class,rest` of the command `token`: `(class, rest)`.
fn result_of(line: &str, token: &str) -> Option<(String, String)> {
    let record = line.strip_prefix(token)?.strip_prefix('^')?;
    let (class, rest) = record.split_once(',').unwrap_or((record, ""));
    Some((class.to_owned(), rest.to_owned()))
}

/// The C string after `key="` in an MI record, unescaped.
pub(super) fn field(record: &str, key: &str) -> Option<String> {
    let start = record.find(&format!("{key}=\""))? + key.len() + 2;
    let mut out = String::new();
    let mut chars = record[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn message(rest: &str) -> String {
    field(rest, "msg").unwrap_or_else(|| rest.to_owned())
}

/// `s` as a C string literal (for an expression gdb evaluates, or an MI argument).
pub(super) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_fields_parse() {
        assert_eq!(
            result_of("12^error,msg=\"ptrace: Operation not permitted.\"", "12"),
            Some((
                "error".to_owned(),
                "msg=\"ptrace: Operation not permitted.\"".to_owned()
            ))
        );
        assert_eq!(result_of("1^done", "12"), None);
        assert_eq!(
            result_of("3^running", "3"),
            Some(("running".into(), "".into()))
        );
        let value = r#"value="0x7f \"3.8.18 (default)\\n[GCC]\"""#;
        assert_eq!(
            field(value, "value").as_deref(),
            Some("0x7f \"3.8.18 (default)\\n[GCC]\"")
        );
        assert_eq!(
            field("reason=\"breakpoint-hit\",x", "reason").as_deref(),
            Some("breakpoint-hit")
        );
    }

    #[test]
    fn quoting_nests() {
        let inner = quoted("a 'b'\n");
        assert_eq!(inner, r#""a 'b'\n""#);
        assert_eq!(quoted(&format!("f({inner})")), r#""f(\"a 'b'\\n\")""#);
    }
}
