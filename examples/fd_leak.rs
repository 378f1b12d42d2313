//! A file-handle leak: a request handler that opens an audit file per request and keeps the handle.
//! Heap barely moves; open file descriptors climb toward "too many open files". leakproof tracks
//! descriptors beside memory, names their kind and targets, and proves the fix (write and close)
//! Stable.
//!
//! ```text
//! cargo run --release --example fd_leak
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use leakproof::{Harness, Resource, Verdict};

#[global_allocator]
static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();

/// The bug: each request opens the audit log and the handle is kept "for later".
struct LeakyAudit {
    dir: PathBuf,
    open: Vec<File>,
}

impl LeakyAudit {
    fn record(&mut self, request: u64) -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("audit.log"))?;
        writeln!(file, "request {request}")?;
        self.open.push(file); // never closed
        Ok(())
    }
}

/// The fix: open, write, close (the `File` is dropped at the end of the call).
fn record_fixed(dir: &Path, request: u64) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("audit.log"))?;
    writeln!(file, "request {request}")
}

fn main() -> ExitCode {
    let dir = std::env::temp_dir().join(format!("leakproof-fd-leak-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return ExitCode::from(2);
    }
    let mut leaky = LeakyAudit {
        dir: dir.clone(),
        open: Vec::with_capacity(4096),
    };
    let mut n = 0;
    println!("== audit_file_kept_open");
    let first = Harness::new().name("audit_file_kept_open").run(|| {
        n += 1;
        leaky.record(n).expect("audit write");
    });
    drop(leaky);
    println!("== audit_file_closed");
    let second = Harness::new().name("audit_file_closed").run(|| {
        n += 1;
        record_fixed(&dir, n).expect("audit write");
    });
    let _ = std::fs::remove_dir_all(&dir);
    let (first, second) = match (first, second) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", first.render_text());
    println!("{}", second.render_text());
    let fds = |r: &leakproof::Report| r.resource(Resource::Fds).map(|x| x.analysis.verdict);
    let shown = |v: Option<Verdict>| v.map_or("not tracked", Verdict::as_str);
    println!(
        "== summary\nkept open: fds {}, overall {}; closed: fds {}, overall {}",
        shown(fds(&first)),
        first.verdict,
        shown(fds(&second)),
        second.verdict
    );
    if fds(&first) == Some(Verdict::Leaking) && second.verdict == Verdict::Stable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
