//! Loading the Python agent into a running CPython (3.8 and later) through gdb, the way memray and
//! pyrasite do, at a point where running Python code is safe, and stopping it as briefly as can be.
//!
//! gdb is given the symbols it needs first (`symbols.rs`), then attaches (every thread stops for
//! the attach only), puts a breakpoint on the entry of `PyEval_RestoreThread` and lets the target
//! run until a thread hits it: that thread has just come back from a blocking call with the GIL
//! released, so it is inside no allocator and no interpreter structure. There, in that thread,
//! gdb calls `PyGILState_Ensure` (waiting, with the other threads running, for the GIL),
//! `PyRun_SimpleString` of a few lines that only start a new thread, and `PyGILState_Release`,
//! then detaches: the thread goes on taking the GIL back as it was about to. The new thread runs
//! `bootstrap.py` from the agent's private directory in a fresh namespace, taking the GIL as any
//! thread of the target does: its imports and the agent's start never hold the stopped target.
//! Only exported functions are used, so a Python without debug symbols works the same. Each step
//! has a timeout, after which gdb stops the target again, unwinds a call that was running, and
//! detaches: the target is never left stopped.

use std::path::Path;
use std::time::Duration;

use super::gdb::{field, quoted, Gdb, Outcome};
use super::{symbols, AttachError};

/// File name and text of the bootstrap, written into the agent's directory.
pub(super) const BOOTSTRAP: (&str, &str) = ("bootstrap.py", include_str!("bootstrap.py"));

/// Where the bootstrap writes how it went.
pub(super) const STATUS: &str = "attach.status";

/// How long the target's threads have to come back from a blocking call with the GIL released.
/// A service under load does many times a second; a thread computing without ever blocking does
/// not, and is left alone.
const SAFE_POINT_WAIT: Duration = Duration::from_secs(5);
/// How long the bootstrap's thread has to load and start the agent once gdb has gone: about
/// 0.1 s on an idle machine; a target whose threads keep the GIL busy gives it less often.
pub(super) const BOOTSTRAP_WAIT: Duration = Duration::from_secs(10);
/// Time gdb gets to attach, and for each call into the target.
const STEP: Duration = Duration::from_secs(10);

/// Oldest CPython the agent runs in.
const OLDEST: (u32, u32) = (3, 8);

/// Runs the bootstrap in `dir` inside process `pid`; `watcher` is the process whose end makes
/// the agent detach by itself (leakproof).
pub(super) fn inject(pid: u32, dir: &Path, watcher: u32) -> Result<(), AttachError> {
    let gdb_error = |detail: String| AttachError::Gdb { pid, detail };
    let mut gdb = Gdb::start().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => AttachError::NoGdb,
        _ => gdb_error(e.to_string()),
    })?;
    read_symbols_first(&mut gdb, pid)?;
    match gdb.run(&format!("-target-attach {pid}"), STEP) {
        Outcome::Done(_) => {}
        Outcome::Error(msg) if msg.contains("ptrace") => {
            return Err(AttachError::Ptrace { pid, detail: msg })
        }
        Outcome::Error(msg) => return Err(gdb_error(msg)),
        Outcome::Lost => return Err(gdb_error("gdb did not attach".to_owned())),
    }
    let _ = gdb.stopped(STEP); // the stop of attaching
    let result =
        at_safe_point(&mut gdb, pid).and_then(|()| run_bootstrap(&mut gdb, pid, dir, watcher));
    let _ = gdb.run("-break-delete", STEP);
    match gdb.run("-target-detach", STEP) {
        Outcome::Done(_) => result,
        other => result.and(Err(gdb_error(format!("cannot detach: {other:?}")))),
    }
}

/// Gives gdb the symbols it needs before it attaches, when they can be had (see `symbols.rs`);
/// otherwise gdb reads every library's itself after stopping the target, as by default.
fn read_symbols_first(gdb: &mut Gdb, pid: u32) -> Result<(), AttachError> {
    for command in symbols::commands(pid).unwrap_or_default() {
        let failed = match gdb.run(&command, STEP) {
            Outcome::Done(_) => continue,
            Outcome::Error(msg) => msg,
            Outcome::Lost => format!("no answer within {STEP:?}"),
        };
        return Err(AttachError::Gdb {
            pid,
            detail: format!("`{command}`: {failed}"),
        });
    }
    Ok(())
}

/// Lets the target run until a thread enters `PyEval_RestoreThread`, and stops it there.
fn at_safe_point(gdb: &mut Gdb, pid: u32) -> Result<(), AttachError> {
    match gdb.run("-break-insert *PyEval_RestoreThread", STEP) {
        Outcome::Done(_) => {}
        Outcome::Error(msg) => return Err(AttachError::NotCPython { pid, detail: msg }),
        Outcome::Lost => {
            return Err(AttachError::Gdb {
                pid,
                detail: "no breakpoint".into(),
            })
        }
    }
    if !matches!(gdb.run("-exec-continue", STEP), Outcome::Done(_)) {
        return Err(AttachError::Gdb {
            pid,
            detail: "cannot resume the target".into(),
        });
    }
    let stop = gdb.stopped(SAFE_POINT_WAIT).or_else(|| {
        gdb.interrupt();
        gdb.stopped(STEP).map(|_| String::new())
    });
    let _ = gdb.run("-break-delete", STEP);
    match stop {
        Some(s) if field(&s, "reason").as_deref() == Some("breakpoint-hit") => Ok(()),
        Some(s) if s.contains("exited") => Err(AttachError::Gone { pid }),
        Some(s) if s.is_empty() => Err(AttachError::NoSafePoint {
            pid,
            waited: SAFE_POINT_WAIT,
        }),
        Some(s) => Err(AttachError::Gdb {
            pid,
            detail: format!("the target stopped: {s}"),
        }),
        None => Err(AttachError::Gdb {
            pid,
            detail: "the target did not stop".into(),
        }),
    }
}

/// At the safe point: checks the version, then takes the GIL, runs the bootstrap, releases it.
fn run_bootstrap(gdb: &mut Gdb, pid: u32, dir: &Path, watcher: u32) -> Result<(), AttachError> {
    let version = evaluate(gdb, pid, "(char*)Py_GetVersion()")?;
    let number = version
        .split('"')
        .nth(1)
        .unwrap_or("")
        .split(' ')
        .next()
        .unwrap_or("");
    if parse_version(number).is_none_or(|v| v < OLDEST) {
        return Err(AttachError::Version {
            pid,
            version: number.to_owned(),
        });
    }
    let gil = evaluate(gdb, pid, "(int)PyGILState_Ensure()")?;
    let ran = evaluate(
        gdb,
        pid,
        &format!(
            "(int)PyRun_SimpleString({})",
            quoted(&one_line(dir, watcher))
        ),
    );
    let released = evaluate(
        gdb,
        pid,
        &format!("(void)PyGILState_Release({})", gil.trim()),
    );
    match ran?.trim() {
        "0" => released.map(|_| ()),
        rc => Err(AttachError::Gdb {
            pid,
            detail: format!("PyRun_SimpleString returned {rc}"),
        }),
    }
}

/// Evaluates `expression` in the stopped thread.
fn evaluate(gdb: &mut Gdb, pid: u32, expression: &str) -> Result<String, AttachError> {
    let name = expression
        .split('(')
        .nth(1)
        .unwrap_or(expression)
        .trim_start_matches([')', '*']);
    match gdb.run(
        &format!("-data-evaluate-expression {}", quoted(expression)),
        STEP,
    ) {
        Outcome::Done(rest) => Ok(field(&rest, "value").unwrap_or_default()),
        Outcome::Error(msg) => Err(AttachError::Gdb {
            pid,
            detail: format!("{name}: {msg}"),
        }),
        Outcome::Lost => Err(AttachError::Gdb {
            pid,
            detail: format!("{name} did not return within {STEP:?}: interrupted and unwound"),
        }),
    }
}

/// The code `PyRun_SimpleString` runs: it starts a thread and returns, nothing left in
/// `__main__`. The thread runs the bootstrap in a fresh namespace, any failure kept inside.
fn one_line(dir: &Path, watcher: u32) -> String {
    let path = dir.join(BOOTSTRAP.0);
    let path = path.to_string_lossy();
    let run = "try:\n    exec(compile(open(__file__).read(), __file__, 'exec'))\n\
               except BaseException:\n    pass\n";
    format!(
        "try:\n    __import__('_thread').start_new_thread(exec, ({}, \
         {{'__name__': 'leakproof_bootstrap', '__file__': '{path}', 'WATCHER': {watcher}}}))\n\
         except BaseException:\n    pass\n",
        python_string(run)
    )
}

/// `s` as a Python string literal.
fn python_string(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('\n', "\\n");
    format!("'{escaped}'")
}

/// `3.11.7` as `(3, 11)`.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("3.8.18"), Some((3, 8)));
        assert_eq!(parse_version("3.13.0"), Some((3, 13)));
        assert_eq!(parse_version("3.14.0a1"), Some((3, 14)));
        assert_eq!(parse_version("2.7.18"), Some((2, 7)));
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn the_one_line_runs_the_bootstrap_in_another_thread_and_leaves_main_alone() {
        let dir = tempfile::tempdir().expect("a directory");
        let said = dir.path().join("said");
        std::fs::write(
            dir.path().join(BOOTSTRAP.0),
            format!(
                "import threading\nopen({:?}, 'w').write('%s %d %s' % (\
                 threading.current_thread() is threading.main_thread(), WATCHER, __name__))\n",
                said.to_str().expect("a path")
            ),
        )
        .expect("write");
        // Run as PyRun_SimpleString runs it: in `__main__`, which is left as it was; the
        // bootstrap's thread is waited for (up to 10 s) before the interpreter exits.
        let check = "import os, sys, time\nbefore = set(globals())\nexec(sys.argv[1], globals())\n\
                     after = set(globals()) - before - {'before'}\n\
                     for _ in range(500):\n    if os.path.getsize(sys.argv[2]) if os.path.exists(sys.argv[2]) else 0:\n        break\n    time.sleep(0.02)\n\
                     print(sorted(after))";
        let out = std::process::Command::new("python3")
            .args(["-c", check, &one_line(dir.path(), 42)])
            .arg(&said)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
        assert_eq!(
            std::fs::read_to_string(said).expect("the bootstrap ran"),
            "False 42 leakproof_bootstrap"
        );
    }

    #[test]
    fn python_strings_are_quoted() {
        assert_eq!(python_string("a'b\\c\nd"), r"'a\'b\\c\nd'");
    }
}
