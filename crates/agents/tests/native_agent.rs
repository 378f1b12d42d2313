//! The native agent end to end: real C programs compiled by gcc, run with the preloaded
//! `libleakproof_preload.so` (built by cargo as a dependency of leakproof-harness), read through
//! `NativeAgent`.
#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{compile, Target, READY, REPLY_TIMEOUT};
use leakproof_agents::{is_native_target, NativeAgent, NativeError};

fn live(agent: &mut NativeAgent) -> i64 {
    agent.detail().expect("regions readable").live_bytes
}

#[test]
fn leaking_target_grows_by_exactly_its_allocations_and_bounded_stays_flat() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let program = compile("leaky", tmp.path(), &[]);
    assert!(is_native_target(&program));
    for (mode, per_request) in [("leak", 200), ("bounded", 0)] {
        let mut agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
        let mut target = Target::start(&agent, &program, &[mode]);
        agent.wait_ready(READY).expect("the region appears");
        for _ in 0..5 {
            assert_eq!(target.request("warm up"), "ok");
        }
        let before = live(&mut agent);
        for i in 0..100 {
            target.request(&format!("request {i}"));
        }
        let after = live(&mut agent);
        // malloc(200) has a usable size of exactly 200 bytes on x86_64 glibc.
        assert_eq!(after - before, 100 * per_request, "{mode}");
        assert_eq!(agent.detail().expect("detail").processes, 1);
    }
}

#[test]
fn an_exec_replaces_the_region_of_its_shell() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let program = compile("leaky", tmp.path(), &[]);
    let mut agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
    let script = format!("exec '{}' leak", program.display());
    let mut target = Target::start(&agent, Path::new("sh"), &["-c", &script]);
    // The shell publishes first; the exec'd program replaces its file under the same pid.
    agent.wait_ready(READY).expect("the region appears");
    target.request("warm up");
    let before = live(&mut agent);
    for i in 0..10 {
        target.request(&format!("request {i}"));
    }
    assert_eq!(live(&mut agent) - before, 10 * 200);
    assert_eq!(agent.detail().expect("detail").processes, 1);
}

#[test]
fn allocations_inside_glibc_go_through_the_agent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let program = compile("libc_paths", tmp.path(), &[]);
    let agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
    let mut cmd = Command::new(&program);
    agent.apply_env(&mut cmd);
    let out = cmd.output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let deltas: Vec<(&str, i64)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k, v.parse().expect("a number")))
        .collect();
    assert_eq!(deltas.len(), 10, "{text}");
    for (name, delta) in &deltas[..9] {
        assert_eq!(*delta, 0, "{name} does not balance:\n{text}");
    }
    assert_eq!(deltas[9], ("kept", 200), "{text}");
}

/// leaky.c built in `dir` and started in its leaking mode under the agent, warmed up by one
/// request, with allocation sites recorded from then on.
fn leaking_with_sites_on(dir: &Path) -> (NativeAgent, Target) {
    let program = compile("leaky", dir, &[]);
    let mut agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
    let mut target = Target::start(&agent, &program, &["leak"]);
    agent.wait_ready(READY).expect("the region appears");
    target.request("warm up");
    agent.start_sites().expect("capture on");
    (agent, target)
}

#[test]
fn sites_name_the_line_that_allocates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut agent, mut target) = leaking_with_sites_on(tmp.path());
    for i in 0..50 {
        target.request(&format!("request {i}"));
    }
    let request = agent.request_sites().expect("request");
    target.request("one more: the target writes its sites at its next allocation");
    let snapshot = agent
        .collect_sites(request, REPLY_TIMEOUT)
        .expect("sites written");
    let top = &snapshot.sites[0];
    // 51 requests since capture started (the last one's block may be recorded before or after
    // the dump).
    assert!(top.blocks == 50 || top.blocks == 51, "{snapshot:#?}");
    assert_eq!(top.bytes, 200 * top.blocks);
    let line = include_str!("../../../tests/native/leaky.c")
        .lines()
        .position(|l| l.contains("THE_ALLOCATION"))
        .expect("marker")
        + 1;
    let user = top.frames.first().expect("a frame");
    let at = format!("leaky.c:{line}");
    assert!(user.location().ends_with(&at), "{:#?}", top.frames);
    assert_eq!(user.function.as_deref(), Some("handle"));
    assert!(top
        .frames
        .iter()
        .any(|f| f.function.as_deref() == Some("main")));
    // The same through leakproof-diff's comparison and rendering.
    let diffs = leakproof_diff::compare(
        &leakproof_diff::Snapshot::empty(),
        &snapshot,
        leakproof_diff::GroupBy::Line,
        false,
    );
    let table = leakproof_diff::render_table(&diffs, 3);
    let first = table.lines().next().unwrap_or_default();
    assert!(first.contains(&at), "{table}");
}

#[test]
fn threads_forks_and_cross_thread_reallocs_keep_counts_exact() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let program = compile("stress", tmp.path(), &[]);
    let mut agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
    let mut target = Target::start(&agent, &program, &[]);
    assert_eq!(target.request("go"), "done");
    agent.wait_ready(READY).expect("the region appears");
    let warm = live(&mut agent);
    // Everything allocated in a round is freed: the second and third rounds end where the
    // first did (the first also warmed up glibc's thread stacks and stdio).
    assert_eq!(target.request("go"), "done");
    assert_eq!(live(&mut agent), warm);
    // With site capture on, under the same concurrency and forks: no deadlock, same counts.
    agent.start_sites().expect("capture on");
    assert_eq!(target.request("go"), "done");
    assert_eq!(live(&mut agent), warm);
    let request = agent.request_sites().expect("request");
    assert_eq!(target.request("go"), "done");
    let snapshot = agent.collect_sites(request, REPLY_TIMEOUT).expect("sites");
    assert!(
        snapshot.total_bytes < 1 << 20,
        "{} bytes",
        snapshot.total_bytes
    );
    agent.stop_sites().expect("capture off");
    // Off: the records are forgotten, and nothing new is recorded.
    assert_eq!(target.request("go"), "done");
    let request = agent.request_sites().expect("request");
    assert_eq!(target.request("go"), "done");
    let after = agent.collect_sites(request, REPLY_TIMEOUT).expect("sites");
    assert_eq!(after.sites, vec![]);
    assert_eq!(live(&mut agent), warm);
    // A forked child that keeps 10 blocks of 1000 bytes is counted in the tree's total.
    assert_eq!(target.request("child"), "child ready");
    let detail = agent.detail().expect("detail");
    assert_eq!(detail.processes, 2);
    assert_eq!(detail.live_bytes - warm, 10_000);
}

/// Runs one round of `signals.c`; returns how many signal handlers allocated in it.
fn signal_round(target: &mut Target) -> u64 {
    let reply = target.request("go");
    reply
        .strip_prefix("done ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected reply {reply:?}"))
}

#[test]
fn allocations_in_signal_handlers_neither_deadlock_nor_miscount() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let program = compile("signals", tmp.path(), &[]);
    let mut agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
    let mut target = Target::start(&agent, &program, &[]);
    signal_round(&mut target); // warms up glibc's thread stacks and stdio
    agent.wait_ready(READY).expect("the region appears");
    let warm = agent.detail().expect("detail");
    let mut handled = 0;
    // Every block of a round is freed by its end, the handlers' too: the round ends where it began.
    for round in 0..3 {
        handled += signal_round(&mut target);
        assert_eq!(live(&mut agent), warm.live_bytes, "round {round}, counting");
    }
    // With site capture on: handlers interrupt the agent while it unwinds, holds its lock, dumps.
    agent.start_sites().expect("capture on");
    for round in 0..3 {
        handled += signal_round(&mut target);
        assert_eq!(
            live(&mut agent),
            warm.live_bytes,
            "round {round}, capturing"
        );
        let request = agent.request_sites().expect("request");
        handled += signal_round(&mut target);
        let snapshot = agent.collect_sites(request, REPLY_TIMEOUT).expect("sites");
        assert!(snapshot.total_bytes < 1 << 20, "{} B", snapshot.total_bytes);
    }
    agent.stop_sites().expect("capture off");
    handled += signal_round(&mut target);
    let end = agent.detail().expect("detail");
    assert_eq!(
        (end.live_bytes, end.live_blocks),
        (warm.live_bytes, warm.live_blocks)
    );
    eprintln!("{handled} signal handlers allocated");
    // Each round runs for a while under a 50 us timer: handlers must really have allocated.
    assert!(handled >= 10_000, "only {handled} signal handlers ran");
}

#[test]
fn a_target_with_its_own_malloc_is_seen_to_count_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let program = compile("own_malloc", tmp.path(), &[]);
    let mut agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
    let mut target = Target::start(&agent, &program, &[]);
    agent.wait_ready(READY).expect("the region appears");
    for _ in 0..10 {
        assert_eq!(target.request("x"), "ok");
    }
    let detail = agent.detail().expect("detail");
    assert_eq!((detail.processes, detail.total_blocks), (1, 0));
}

#[test]
fn a_statically_linked_target_publishes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let program = compile("leaky", tmp.path(), &["-static"]);
    assert!(!is_native_target(&program));
    let mut agent = NativeAgent::prepare().expect("libleakproof_preload.so was built");
    let mut target = Target::start(&agent, &program, &["leak"]);
    assert_eq!(target.request("x"), "ok");
    assert!(matches!(
        agent.wait_ready(Duration::from_millis(300)),
        Err(NativeError::NotReady { .. })
    ));
}

#[test]
fn an_idle_target_answers_each_request_at_its_next_allocation_and_pictures_do_not_mix() {
    // The locate protocol of the native sampler: picture 1 is asked for, written at the next
    // request's allocation and read; picture 2 is asked for only then (both are DIR/PID.sites),
    // and written during the one request that follows. Between requests the target is idle.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (mut agent, mut target) = leaking_with_sites_on(tmp.path());
    let first = agent.request_sites().expect("request");
    for i in 0..9 {
        target.request(&format!("request {i}"));
    }
    let before = agent.collect_sites(first, REPLY_TIMEOUT).expect("first");
    let second = agent.request_sites().expect("request");
    std::thread::sleep(Duration::from_millis(50));
    let idle = agent.detail().expect("detail");
    target.request("the last one");
    let after = agent.collect_sites(second, REPLY_TIMEOUT).expect("second");
    // The first was written at the first request's allocation (recorded before the dump), the
    // second at the last one's: 1 block, then 10.
    assert_eq!(before.sites.len(), 1, "{before:#?}");
    assert_eq!((before.sites[0].blocks, after.sites[0].blocks), (1, 10));
    assert_eq!(after.total_bytes - before.total_bytes, 9 * 200);
    assert_eq!(
        idle.live_blocks + 1,
        agent.detail().expect("detail").live_blocks
    );
}
