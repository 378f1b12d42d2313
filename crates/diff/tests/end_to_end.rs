//! The whole path a harness takes: raw stacks -> snapshot file -> symbolize -> compare -> render.

use leakproof_diff::{
    compare_with, render_table, render_traceback, Attribution, GroupBy, Snapshot, Symbolizer,
};

type Live = Vec<(Vec<u64>, u64, u64)>;

/// Plays the allocator's site capture.
#[inline(never)]
fn record(live: &mut Live, bytes: u64) {
    let mut ips = Vec::new();
    backtrace::trace(|frame| {
        ips.push(frame.ip() as usize as u64);
        true
    });
    live.push((ips, bytes, 1));
}

#[inline(never)]
fn leaky_step(live: &mut Live) -> u32 {
    let line = line!() + 1;
    record(live, 256);
    // Work after the call, so that release builds do not turn it into a tail jump (which would
    // drop this frame from the stack).
    std::hint::black_box(line)
}

#[inline(never)]
fn stable_step(live: &mut Live, first: bool) {
    if first {
        record(live, 4096);
    }
}

#[test]
fn names_the_leaking_line_through_a_saved_snapshot() {
    let mut live = Live::new();
    let mut line = 0;
    for i in 0..10 {
        line = leaky_step(&mut live);
        stable_step(&mut live, i == 0);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let old_path = dir.path().join("old.json");
    Snapshot::from_ips(live.clone())
        .save(&old_path)
        .expect("save");
    for _ in 0..90 {
        leaky_step(&mut live);
        stable_step(&mut live, false);
    }
    let new_path = dir.path().join("new.json");
    Snapshot::from_ips(live.clone())
        .save(&new_path)
        .expect("save");

    // Unsymbolized on disk; symbolized after loading, in the process that captured them.
    let mut old = Snapshot::load(&old_path).expect("load");
    let mut new = Snapshot::load(&new_path).expect("load");
    assert!(!old.symbolized && old.sites[0].frames[0].function.is_none());
    let mut sym = Symbolizer::new();
    old.symbolize(&mut sym);
    new.symbolize(&mut sym);

    // `*record` rather than `*::record`: in release builds inlined frames have bare names.
    let attribution = Attribution::default().skip_function("*record");
    let diffs = compare_with(&old, &new, GroupBy::Line, false, &attribution);
    let top = &diffs[0];
    assert!(
        top.key.ends_with(&format!("tests/end_to_end.rs:{line}")),
        "{}",
        render_table(&diffs, 5)
    );
    assert_eq!((top.size_diff, top.count_diff), (90 * 256, 90));
    let stable = diffs
        .iter()
        .find(|d| d.size == 4096)
        .expect("the stable site");
    assert_eq!(stable.size_diff, 0);
    let tb = render_traceback(top);
    assert!(tb.contains("-> "), "{tb}");
    assert!(tb.contains("leaky_step"), "{tb}");
}

#[test]
fn a_snapshot_from_another_binary_renders_unresolved_frames() {
    // Addresses far outside anything this process has mapped.
    let s = Snapshot::from_ips([(vec![0x7fff_dead_0000, 0x7fff_dead_1000], 64, 1)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.json");
    s.save(&path).expect("save");
    let mut loaded = Snapshot::load(&path).expect("load");
    loaded.symbolize(&mut Symbolizer::new());
    assert!(loaded.sites[0].frames.iter().all(|f| !f.is_resolved()));
    let diffs = compare_with(
        &Snapshot::empty(),
        &loaded,
        GroupBy::Line,
        false,
        &Attribution::default(),
    );
    assert_eq!(
        render_table(&diffs, 5),
        "0x7fffdead0000: size=64 B (+64 B), count=1 (+1), average=64 B\n"
    );
}
