//! Tying a child process's life to ours.

use std::process::Command;

/// Makes the process that `cmd` starts receive SIGKILL as soon as its parent dies, however it dies
/// (even by SIGKILL), so a driven target never outlives its driver. Linux `PR_SET_PDEATHSIG`;
/// a no-op elsewhere.
///
/// - The signal reaches the direct child only: it is kept across `exec` but not inherited by the
///   child's own children (a `sh -c` that forks the real program must `exec` it, or the caller
///   must stop the group some other way).
/// - "Parent" is the *thread* that spawned the child: spawn from a thread that lives as long as
///   the child should (e.g. the main thread), or the child is killed when that thread exits.
/// - If the parent dies between the fork and the `prctl`, the spawn fails instead.
pub fn kill_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before `exec`. It only calls `prctl` and
        // `getppid`, both async-signal-safe, and builds `io::Error`s from OS error codes, which
        // does not allocate; it touches no lock and no state shared with other threads.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before the prctl: no signal will ever come.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    const HELPER_VAR: &str = "LEAKPROOF_TEST_PDEATHSIG_HELPER";

    /// Live (not zombie) process: a killed orphan stays a zombie if nobody reaps it.
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z" | "X"))
        })
    }

    #[test]
    fn the_child_dies_when_its_parent_is_killed() {
        if std::env::var_os(HELPER_VAR).is_some() {
            // The helper: start `sleep`, say its pid, then wait to be killed.
            let mut cmd = Command::new("sleep");
            cmd.arg("1000");
            kill_with_parent(&mut cmd);
            let mut child = cmd.spawn().expect("spawn sleep");
            println!("child {}", child.id());
            std::thread::sleep(Duration::from_secs(60));
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        let exe = std::env::current_exe().expect("test binary");
        let mut helper = Command::new(exe)
            .args([
                "process::tests::the_child_dies_when_its_parent_is_killed",
                "--exact",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env(HELPER_VAR, "1")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn helper");
        let stdout = BufReader::new(helper.stdout.take().expect("stdout"));
        let child: u32 = stdout
            .lines()
            .map_while(Result::ok)
            // libtest prints `test NAME ... ` before the test's own output, on the same line.
            .find_map(|l| {
                l.rsplit_once("child ")
                    .and_then(|(_, p)| p.trim().parse().ok())
            })
            .expect("the helper names its child");
        assert!(alive(child));
        helper.kill().expect("SIGKILL the helper");
        helper.wait().expect("reap the helper");
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(child) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let survived = alive(child);
        if survived {
            let _ = Command::new("kill")
                .args(["-9", &child.to_string()])
                .status();
        }
        assert!(!survived, "sleep {child} outlived its killed parent");
    }
}
