//! Open sites through the preload agent, end to end: `tests/native/handles.c` compiled by gcc
//! keeps descriptors of every traced kind and threads, opens and closes many under threads and
//! forks, and the agent names the lines that opened what is still open.
#![cfg(target_os = "linux")]

mod common;

use common::{compile, Target, READY, REPLY_TIMEOUT};
use leakproof_agents::NativeAgent;
use leakproof_diff::Snapshot;

const SOURCE: &str = include_str!("../../../tests/native/handles.c");

/// `handles.c:LINE` of the line carrying `marker`.
fn line_of(marker: &str) -> String {
    let line = SOURCE
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("{marker} in handles.c"))
        + 1;
    format!("handles.c:{line}")
}

/// The open sites as of the target's next request (it writes them at that request's first
/// allocation, before it runs the command): (descriptors, threads).
fn open_sites(agent: &mut NativeAgent, target: &mut Target) -> (Snapshot, Snapshot) {
    let request = agent.request_sites().expect("request");
    assert_eq!(target.request("nothing"), "ok");
    agent
        .open_sites(&request, REPLY_TIMEOUT)
        .expect("open sites written")
}

/// (first frame's `file:line`, blocks) of every site, sorted.
fn by_line(snapshot: &Snapshot) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = snapshot
        .sites
        .iter()
        .map(|s| {
            let top = s.frames.first().map(|f| f.location()).unwrap_or_default();
            let short = top.rsplit('/').next().unwrap_or_default().to_owned();
            (short, s.blocks)
        })
        .collect();
    out.sort();
    out
}

fn started(dir: &std::path::Path) -> (NativeAgent, Target) {
    let program = compile("handles", dir, &[]);
    let mut agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
    let mut target = Target::start(&agent, &program, &[]);
    assert_eq!(target.request("transient"), "ok"); // warms up stdio and thread stacks
    agent.wait_ready(READY).expect("the region appears");
    (agent, target)
}

#[test]
fn kept_descriptors_and_threads_name_the_lines_that_opened_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut agent, mut target) = started(tmp.path());
    agent.start_sites().expect("capture on");
    for _ in 0..3 {
        for command in ["keep", "thread", "transient"] {
            assert_eq!(target.request(command), "ok");
        }
    }
    let (fds, threads) = open_sites(&mut agent, &mut target);
    let mut expected: Vec<(String, u64)> = [
        "OPEN_SITE",
        "SOCKET_SITE",
        "DUP_SITE",
        "FCNTL_SITE",
        "EVENTFD_SITE",
        "EPOLL_SITE",
        "MEMFD_SITE",
        "FOPEN_SITE",
    ]
    .iter()
    .map(|m| (line_of(m), 3))
    .chain([(line_of("PIPE_SITE"), 6), (line_of("STOP_PIPE"), 2)])
    .collect();
    expected.sort();
    assert_eq!(by_line(&fds), expected, "{fds:#?}");
    assert_eq!(by_line(&threads), vec![(line_of("THREAD_SITE"), 3)]);
    let thread = &threads.sites[0].frames[0];
    assert_eq!(thread.function.as_deref(), Some("start_kept_thread"));
    // Released: nothing is open any more.
    assert_eq!(target.request("release"), "ok");
    let (fds, threads) = open_sites(&mut agent, &mut target);
    assert_eq!((fds.sites, threads.sites), (vec![], vec![]));
}

#[test]
fn descriptors_kept_before_capture_or_in_an_earlier_window_are_not_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut agent, mut target) = started(tmp.path());
    assert_eq!(target.request("keep"), "ok"); // before capture: not traced
    agent.start_sites().expect("capture on");
    assert_eq!(target.request("thread"), "ok");
    agent.stop_sites().expect("capture off");
    assert_eq!(target.request("keep"), "ok"); // off: not traced, and the window is over
    agent.start_sites().expect("capture on again");
    assert_eq!(target.request("transient"), "ok");
    let (fds, threads) = open_sites(&mut agent, &mut target);
    assert_eq!((fds.sites, threads.sites), (vec![], vec![]));
    assert_eq!(target.request("keep"), "ok");
    let (fds, _) = open_sites(&mut agent, &mut target);
    assert_eq!(fds.sites.iter().map(|s| s.blocks).sum::<u64>(), 10);
}

#[test]
fn threads_forks_and_thousands_of_descriptors_leave_no_record_and_no_deadlock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut agent, mut target) = started(tmp.path());
    assert_eq!(target.request("churn"), "done"); // glibc keeps a little after the first
    let warm = agent.detail().expect("detail").live_bytes;
    agent.start_sites().expect("capture on");
    for _ in 0..2 {
        assert_eq!(target.request("churn"), "done");
    }
    let (fds, threads) = open_sites(&mut agent, &mut target);
    assert_eq!((fds.sites, threads.sites), (vec![], vec![]));
    // Kept ones are still found after the churn reused their numbers many times.
    assert_eq!(target.request("keep"), "ok");
    assert_eq!(target.request("churn"), "done");
    let (fds, _) = open_sites(&mut agent, &mut target);
    assert_eq!(
        fds.sites.iter().map(|s| s.blocks).sum::<u64>(),
        10,
        "{fds:#?}"
    );
    // Thousands at once: every one named, at its line.
    let reply = target.request("many");
    let n: u64 = reply
        .strip_prefix("many ")
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(n >= 900, "{reply}: too low a descriptor limit to test many");
    let (fds, _) = open_sites(&mut agent, &mut target);
    let many = by_line(&fds);
    assert!(many.contains(&(line_of("MANY_SITE"), n)), "{many:?}");
    assert_eq!(target.request("release"), "ok");
    let (fds, _) = open_sites(&mut agent, &mut target);
    assert_eq!(fds.sites, vec![]);
    agent.stop_sites().expect("capture off");
    assert_eq!(target.request("churn"), "done");
    assert_eq!(agent.detail().expect("detail").live_bytes, warm);
}
