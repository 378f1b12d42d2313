//! An async request handler judged by leakproof on a current-thread tokio runtime: a session
//! registry that forgets to remove finished sessions leaks; removing them is proven Stable.
//!
//! ```text
//! cargo run --release --example async_handler --features tokio
//! ```
//!
//! In a test suite the same is one attribute: `#[leakproof::leak_test] async fn ...` (feature
//! `tokio`). Here the `Harness` is used directly to show both runs in one program.

use std::cell::RefCell;
use std::collections::HashMap;
use std::process::ExitCode;
use std::rc::Rc;

use leakproof::{Harness, Verdict};

#[global_allocator]
static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();

/// Live sessions by id; a handler registers its session while it works.
type Sessions = Rc<RefCell<HashMap<u64, String>>>;

async fn fetch_user(id: u64) -> String {
    // Stands for I/O: a task on the runtime.
    tokio::task::spawn(async move { format!("user-{id:08}") })
        .await
        .unwrap_or_default()
}

/// The bug: the session is registered and never removed.
async fn handle_leaky(sessions: Sessions, id: u64) -> usize {
    let user = fetch_user(id).await;
    sessions.borrow_mut().insert(id, user.clone());
    user.len()
}

/// The fix: the session is removed when the request completes.
async fn handle_fixed(sessions: Sessions, id: u64) -> usize {
    let user = fetch_user(id).await;
    sessions.borrow_mut().insert(id, user.clone());
    let len = user.len();
    sessions.borrow_mut().remove(&id);
    len
}

fn judge(name: &str, fixed: bool) -> Result<leakproof::Report, leakproof::HarnessError> {
    let sessions: Sessions = Rc::new(RefCell::new(HashMap::with_capacity(4)));
    let mut id = 0;
    println!("== {name}");
    let report = Harness::new().name(name).run_async(|| {
        id += 1;
        let (sessions, id) = (sessions.clone(), id);
        async move {
            let n = if fixed {
                handle_fixed(sessions, id).await
            } else {
                handle_leaky(sessions, id).await
            };
            std::hint::black_box(n);
        }
    })?;
    println!("{}", report.render_text());
    Ok(report)
}

fn main() -> ExitCode {
    let (leaky, fixed) = match (
        judge("sessions_never_removed", false),
        judge("sessions_removed", true),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "== summary\nsessions never removed: {}; sessions removed: {}",
        leaky.verdict, fixed.verdict
    );
    if leaky.verdict == Verdict::Leaking && fixed.verdict == Verdict::Stable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
