//! What the native agent's end-to-end tests share: compiling a C target, running it under the
//! agent, one line per request.
#![allow(dead_code)] // each test file uses a part

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use leakproof_agents::NativeAgent;

pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
pub const READY: Duration = Duration::from_secs(10);

/// Compiles `tests/native/NAME.c` into `dir` with gcc, with debug info.
pub fn compile(name: &str, dir: &Path, extra: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../tests/native/{name}.c"))
        .canonicalize()
        .expect("the C program exists");
    let out = dir.join(name);
    let status = Command::new("gcc")
        .args(["-g", "-O0", "-pthread", "-o"])
        .arg(&out)
        .arg(&src)
        .args(extra)
        .status()
        .expect("gcc runs");
    assert!(status.success(), "gcc failed on {}", src.display());
    out
}

/// A running line-per-request target; its process group is killed when dropped.
pub struct Target {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
}

impl Target {
    pub fn start(agent: &NativeAgent, program: &Path, args: &[&str]) -> Target {
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped());
        cmd.process_group(0); // so that Drop also stops the children it forks
        agent.apply_env(&mut cmd);
        let mut child = cmd.spawn().expect("target starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, replies) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Target {
            child,
            stdin,
            replies,
        }
    }

    /// Sends one line and waits for the reply (a hang fails the test instead of blocking it).
    pub fn request(&mut self, line: &str) -> String {
        writeln!(self.stdin, "{line}").expect("target reads stdin");
        self.replies
            .recv_timeout(REPLY_TIMEOUT)
            .expect("the target answers (no deadlock)")
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}
