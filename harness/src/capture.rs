//! The second phase of a failing run: re-run the workload with allocation-site capture on and say
//! where memory grew, which descriptors were opened and which threads were left running.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use leakproof_diff::{compare, growing, sort_diffs, GroupBy, Snapshot, StatDiff, Symbolizer};
use leakproof_sample::{capture, list_fds, FdInfo, FdKind};
use leakproof_trend::Verdict;

use crate::report::{Report, Resource};
use crate::runner::{run_once, Harness};

/// How many growing sites the report lists.
pub const TOP_SITES: usize = 5;
/// Iterations run with capture on before the first snapshot, so that blocks a fresh iteration
/// allocates and frees in the next one are not counted as growth.
const LEAD_IN: usize = 3;

/// Re-run `f` for `capture_iterations` iterations and fill the report's `sites` and per-resource
/// `detail`. Only called when the run did not pass.
pub(crate) fn second_phase<F: FnMut()>(harness: &Harness, f: &mut F, report: &mut Report) {
    let not_stable = |r: Resource| {
        report
            .resource(r)
            .is_some_and(|rr| rr.analysis.verdict != Verdict::Stable)
    };
    let memory_grew = not_stable(Resource::Heap) || not_stable(Resource::Rss);
    let fds_grew = not_stable(Resource::Fds);
    let threads_grew = not_stable(Resource::Threads);
    let heap_capture = leakproof_sample::is_tracking() && (memory_grew || fds_grew || threads_grew);
    let k = match report
        .resources
        .first()
        .filter(|r| r.resource.is_memory() && r.analysis.verdict != Verdict::Stable)
    {
        // A staircase (a buffer that doubles, an arena that grows in chunks) rises only every
        // so often: capture over at least two of its steps, or the snapshots may see none.
        Some(memory) => capture_span(
            &memory.samples,
            memory.analysis.warmup_end,
            harness.capture_iterations.max(1),
            report.duration_secs / report.iterations.max(1) as f64,
        ),
        None => harness.capture_iterations.max(1),
    };

    let phase_started = std::time::Instant::now();
    let fds_before = if fds_grew { list_fds(None).ok() } else { None };
    let threads_before = if threads_grew { thread_names() } else { None };

    let mut first = None;
    let mut failed = None;
    if heap_capture || fds_grew || threads_grew {
        let _guard = heap_capture.then(|| {
            capture::clear();
            capture::start()
        });
        for i in 0..LEAD_IN + k {
            if i == LEAD_IN && heap_capture {
                first = Some(capture::snapshot());
            }
            if let Err(message) = run_once(f) {
                failed = Some(message);
                break;
            }
        }
    }
    if let Some(message) = failed {
        report.notes.push(format!(
            "the capture phase stopped: the workload panicked: {message}"
        ));
    }
    let last = heap_capture.then(capture::snapshot);
    if heap_capture {
        capture::clear();
    }

    if let (Some(first), Some(last)) = (first, last) {
        let to_snapshot = |raw: capture::RawSnapshot| {
            Snapshot::from_ips(raw.sites.into_iter().map(|s| (s.ips, s.bytes, s.blocks)))
        };
        let (mut old, mut new) = (to_snapshot(first), to_snapshot(last));
        let capture_ms = phase_started.elapsed().as_secs_f64() * 1e3;
        let symbolize_started = std::time::Instant::now();
        let mut symbolizer = Symbolizer::new();
        old.symbolize(&mut symbolizer);
        new.symbolize(&mut symbolizer);
        let symbolize_ms = symbolize_started.elapsed().as_secs_f64() * 1e3;
        let mut diffs =
            merge_by_user_line(growing(&compare(&old, &new, GroupBy::Traceback, false)));
        sort_diffs(&mut diffs);
        diffs.truncate(TOP_SITES);
        if diffs.is_empty() {
            report.notes.push(format!(
                "no allocation site grew during {k} more iterations with capture on"
            ));
        } else {
            report.notes.push(format!(
                "allocation sites: growth over {k} more iterations with capture on \
                 ({capture_ms:.0} ms, symbolization {symbolize_ms:.0} ms)"
            ));
        }
        report.sites = diffs;
    } else if memory_grew && !leakproof_sample::is_tracking() {
        report
            .notes
            .push("allocation sites unknown: TrackingAlloc is not the global allocator".to_owned());
    }

    if let (Some(before), Ok(after)) = (fds_before, list_fds(None)) {
        let detail = describe_new_fds(&before, &after, LEAD_IN + k);
        if let Some(r) = report
            .resources
            .iter_mut()
            .find(|r| r.resource == Resource::Fds)
        {
            r.detail = Some(detail);
        }
    }
    if let (Some(before), Some(after)) = (threads_before, thread_names()) {
        let detail = describe_new_threads(&before, &after, LEAD_IN + k);
        if let Some(r) = report
            .resources
            .iter_mut()
            .find(|r| r.resource == Resource::Threads)
        {
            r.detail = Some(detail);
        }
    }
}

/// Longest capture phase, in iterations.
const MAX_CAPTURE_ITERATIONS: usize = 2000;
/// Wall time the capture phase may take at the measured pace (capture slows allocations further).
const MAX_CAPTURE_SECS: f64 = 5.0;

/// Iterations to capture: at least `base`. When the series after the warm-up rises only now and
/// then (a staircase: a buffer that doubles, an arena that grows in chunks), at least twice the
/// longest stretch without a rise and at least as many iterations as have run so far (a capacity
/// that doubles is next reallocated within that many), within [`MAX_CAPTURE_ITERATIONS`] and
/// [`MAX_CAPTURE_SECS`] at the measured pace.
pub(crate) fn capture_span(
    samples: &[f64],
    warmup_end: usize,
    base: usize,
    secs_per_iteration: f64,
) -> usize {
    let tail = samples.get(warmup_end..).unwrap_or(&[]);
    let rises: Vec<usize> = tail
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1] > w[0])
        .map(|(i, _)| i)
        .collect();
    // Rising on most samples: steady growth, which any span sees.
    if tail.len() < 2 || rises.len() * 4 >= tail.len() - 1 {
        return base;
    }
    let longest = rises.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let wanted = (2 * longest + 1).max(samples.len());
    let by_time = if secs_per_iteration > 0.0 {
        (MAX_CAPTURE_SECS / secs_per_iteration) as usize
    } else {
        usize::MAX
    };
    wanted.min(MAX_CAPTURE_ITERATIONS).min(by_time).max(base)
}

/// Tracebacks that reach the same user line (e.g. the several allocations of one `format!`) are
/// one site for the reader: sum them, keeping the largest one's traceback.
fn merge_by_user_line(mut diffs: Vec<StatDiff>) -> Vec<StatDiff> {
    sort_diffs(&mut diffs);
    let mut merged: Vec<StatDiff> = Vec::with_capacity(diffs.len());
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for d in diffs {
        let line = d
            .user_frame
            .and_then(|u| d.traceback.get(u))
            .filter(|f| f.file.is_some() && f.line.is_some())
            .map(|f| f.location());
        match line.and_then(|l| index.get(&l).copied().map(|i| (l, i))) {
            Some((_, i)) => {
                let m = &mut merged[i];
                m.size += d.size;
                m.size_diff += d.size_diff;
                m.count += d.count;
                m.count_diff += d.count_diff;
            }
            None => {
                if let Some(l) = d
                    .user_frame
                    .and_then(|u| d.traceback.get(u))
                    .filter(|f| f.file.is_some() && f.line.is_some())
                    .map(|f| f.location())
                {
                    index.insert(l, merged.len());
                }
                merged.push(d);
            }
        }
    }
    merged
}

fn kind_name(kind: FdKind, n: usize) -> &'static str {
    match (kind, n == 1) {
        (FdKind::File, true) => "regular file or directory",
        (FdKind::File, false) => "regular files or directories",
        (FdKind::Socket, true) => "socket",
        (FdKind::Socket, false) => "sockets",
        (FdKind::Pipe, true) => "pipe",
        (FdKind::Pipe, false) => "pipes",
        (FdKind::AnonInode, true) => "anonymous inode (eventfd, epoll, timerfd...)",
        (FdKind::AnonInode, false) => "anonymous inodes (eventfd, epoll, timerfd...)",
        (_, true) => "other descriptor",
        (_, false) => "other descriptors",
    }
}

/// What the descriptors opened during the capture phase's iterations are.
pub(crate) fn describe_new_fds(before: &[FdInfo], after: &[FdInfo], iterations: usize) -> String {
    let old: BTreeSet<(i32, &str)> = before.iter().map(|f| (f.fd, f.target.as_str())).collect();
    let new: Vec<&FdInfo> = after
        .iter()
        .filter(|f| !old.contains(&(f.fd, f.target.as_str())))
        .collect();
    let closed = before.len() as i64 + new.len() as i64 - after.len() as i64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "new file descriptors over {} more iterations: {} opened and still open{}",
        iterations,
        new.len(),
        if closed > 0 {
            format!(" ({closed} of the earlier ones closed)")
        } else {
            String::new()
        }
    );
    let mut by_kind: BTreeMap<String, Vec<&FdInfo>> = BTreeMap::new();
    for fd in &new {
        by_kind
            .entry(format!("{:?}", fd.kind))
            .or_default()
            .push(fd);
    }
    let mut groups: Vec<Vec<&FdInfo>> = by_kind.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    for group in groups {
        let examples: BTreeSet<&str> = group.iter().map(|f| f.target.as_str()).collect();
        let shown: Vec<&str> = examples.iter().take(3).copied().collect();
        let more = examples.len().saturating_sub(shown.len());
        let _ = writeln!(
            out,
            "  {} {}, e.g. {}{}",
            group.len(),
            kind_name(group[0].kind, group.len()),
            shown.join(", "),
            if more > 0 {
                format!(" (+{more} more targets)")
            } else {
                String::new()
            }
        );
    }
    out.push_str(
        "  where they were opened is not known (descriptors are sampled, the calls that open them \
         are not traced); if the handles are kept in a growing collection, the allocation sites \
         show where",
    );
    out
}

/// Thread ids and names of this process (None where unavailable).
pub(crate) fn thread_names() -> Option<Vec<(u64, String)>> {
    let threads = leakproof_sample::thread_names(None).ok()?;
    Some(
        threads
            .into_iter()
            .map(|t| (u64::from(t.tid), t.name))
            .collect(),
    )
}

/// Which threads appeared during the capture phase and are still running.
pub(crate) fn describe_new_threads(
    before: &[(u64, String)],
    after: &[(u64, String)],
    iterations: usize,
) -> String {
    let old: BTreeSet<u64> = before.iter().map(|(t, _)| *t).collect();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut count = 0;
    for (tid, name) in after {
        if !old.contains(tid) {
            count += 1;
            *names.entry(name.as_str()).or_default() += 1;
        }
    }
    let list: Vec<String> = names
        .iter()
        .map(|(name, n)| {
            let name = if name.is_empty() { "<unnamed>" } else { name };
            format!("{n} × \"{name}\"")
        })
        .collect();
    format!(
        "new threads still running after {iterations} more iterations: {count}{}\n  \
         threads that are never joined or never finish count; name your threads \
         (std::thread::Builder::name) to tell them apart",
        if list.is_empty() {
            String::new()
        } else {
            format!(": {}", list.join(", "))
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd(fd: i32, kind: FdKind, target: &str) -> FdInfo {
        FdInfo {
            fd,
            kind,
            target: target.to_owned(),
        }
    }

    #[test]
    fn new_fds_are_grouped_by_kind() {
        let before = vec![
            fd(0, FdKind::Other, "/dev/null"),
            fd(3, FdKind::Pipe, "pipe:[1]"),
        ];
        let after = vec![
            fd(0, FdKind::Other, "/dev/null"),
            fd(3, FdKind::Pipe, "pipe:[1]"),
            fd(4, FdKind::File, "/tmp/a"),
            fd(5, FdKind::File, "/tmp/b"),
            fd(6, FdKind::Socket, "socket:[9]"),
        ];
        let text = describe_new_fds(&before, &after, 10);
        assert!(text.contains("3 opened and still open"), "{text}");
        assert!(
            text.contains("2 regular files or directories, e.g. /tmp/a, /tmp/b"),
            "{text}"
        );
        assert!(text.contains("1 socket, e.g. socket:[9]"), "{text}");
        assert!(text.contains("not known"), "{text}");
    }

    #[test]
    fn a_reused_fd_number_with_a_new_target_is_new() {
        let before = vec![fd(4, FdKind::File, "/tmp/a")];
        let after = vec![fd(4, FdKind::File, "/tmp/b")];
        let text = describe_new_fds(&before, &after, 1);
        assert!(text.contains("1 opened"), "{text}");
        assert!(text.contains("1 of the earlier ones closed"), "{text}");
    }

    #[test]
    fn capture_spans_cover_two_steps_of_a_staircase() {
        // Steady growth: the base span is enough.
        let steady: Vec<f64> = (0..300).map(f64::from).collect();
        assert_eq!(capture_span(&steady, 0, 40, 1e-5), 40);
        // A step every 100 samples: two steps' worth, and at least the 300 run so far.
        let stairs: Vec<f64> = (0..300).map(|i| f64::from(i / 100)).collect();
        assert_eq!(capture_span(&stairs, 0, 40, 1e-5), 300);
        let stairs: Vec<f64> = (0..1000).map(|i| f64::from(i / 400)).collect();
        assert_eq!(capture_span(&stairs, 0, 40, 1e-5), 1000);
        // Doubling capacity (steps at 64, 128, 256): the next one comes within as many again.
        let doubling: Vec<f64> = (1..=300u32)
            .map(|i| f64::from(i.next_power_of_two()))
            .collect();
        assert_eq!(capture_span(&doubling, 0, 40, 1e-5), 300);
        // Bounded by the ceiling and by time, never below the base.
        let sparse: Vec<f64> = (0..9000).map(|i| f64::from(i / 2500)).collect();
        assert_eq!(capture_span(&sparse, 0, 40, 1e-5), MAX_CAPTURE_ITERATIONS);
        let stairs: Vec<f64> = (0..300).map(|i| f64::from(i / 100)).collect();
        assert_eq!(
            capture_span(&stairs, 0, 40, 0.1),
            50,
            "5 s at 0.1 s per iteration"
        );
        assert_eq!(capture_span(&stairs, 0, 40, 1.0), 40);
    }

    #[test]
    fn new_threads_are_named() {
        let before = vec![(1, "main".to_owned())];
        let after = vec![
            (1, "main".to_owned()),
            (7, "worker".to_owned()),
            (8, "worker".to_owned()),
            (9, String::new()),
        ];
        let text = describe_new_threads(&before, &after, 5);
        assert!(
            text.contains(": 3: 1 × \"<unnamed>\", 2 × \"worker\""),
            "{text}"
        );
    }

    fn diff_at(line: u32, size_diff: i64, extra: &str) -> StatDiff {
        StatDiff {
            key: format!("k{line}{extra}"),
            size: size_diff as u64,
            size_diff,
            count: 1,
            count_diff: 1,
            traceback: vec![
                leakproof_diff::Frame::at(extra, "lib.rs", 1),
                leakproof_diff::Frame::at("user", "src/a.rs", line),
            ],
            user_frame: Some(1),
        }
    }

    #[test]
    fn sites_on_one_user_line_are_merged() {
        let merged = merge_by_user_line(vec![
            diff_at(3, 10, "x"),
            diff_at(3, 30, "y"),
            diff_at(4, 5, "x"),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].size_diff, 40);
        assert_eq!(merged[0].count_diff, 2);
        assert_eq!(merged[0].key, "k3y", "the largest traceback is kept");
        assert_eq!(merged[1].size_diff, 5);
    }

    #[test]
    fn this_process_has_threads() {
        let threads = thread_names().unwrap_or_default();
        assert!(!threads.is_empty());
    }
}
