//! What the locate phase reports: the allocation sites that grew, which descriptors were opened and
//! which threads were left running.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use leakproof_diff::{compare, growing, sort_diffs, GroupBy, Snapshot, StatDiff, Symbolizer};
use leakproof_sample::{FdInfo, FdKind};
use leakproof_trend::Verdict;

use leakproof_report::{Report, Resource, ResourceReport};

/// How many growing sites the report lists.
pub const TOP_SITES: usize = 5;

/// The sites that grew from `old` to `new` (symbolized here), one per user line, biggest first,
/// at most [`TOP_SITES`].
pub(crate) fn growing_sites(mut old: Snapshot, mut new: Snapshot) -> Vec<StatDiff> {
    let mut symbolizer = Symbolizer::new();
    old.symbolize(&mut symbolizer);
    new.symbolize(&mut symbolizer);
    let mut diffs = merge_by_user_line(growing(&compare(&old, &new, GroupBy::Traceback, false)));
    sort_diffs(&mut diffs);
    diffs.truncate(TOP_SITES);
    diffs
}

/// Sets the `detail` of `resource` in `report`, when it is tracked.
pub(crate) fn set_detail(report: &mut Report, resource: Resource, detail: String) {
    if let Some(r) = report.resources.iter_mut().find(|r| r.resource == resource) {
        r.detail = Some(detail);
        open_sites_known(r);
    }
}

/// True when `resource` is tracked and not proven Stable.
pub(crate) fn grew(report: &Report, resource: Resource) -> bool {
    report
        .resource(resource)
        .is_some_and(|r| r.analysis.verdict != Verdict::Stable)
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

/// The descriptors of one or more processes: (pid, descriptor).
pub(crate) type Descriptors = [(u32, FdInfo)];

/// What the descriptors opened between two listings are; `span` says over what, e.g. `over 40
/// more iterations` or `since the warm-up`.
pub(crate) fn describe_new_fds(before: &Descriptors, after: &Descriptors, span: &str) -> String {
    let old: BTreeSet<(u32, i32, &str)> = before
        .iter()
        .map(|(p, f)| (*p, f.fd, f.target.as_str()))
        .collect();
    let new: Vec<&FdInfo> = after
        .iter()
        .filter(|(p, f)| !old.contains(&(*p, f.fd, f.target.as_str())))
        .map(|(_, f)| f)
        .collect();
    let closed = before.len() as i64 + new.len() as i64 - after.len() as i64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "new file descriptors {}: {} opened and still open{}",
        span,
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
    out.push_str(OPEN_SITES_UNKNOWN);
    out
}

/// The last line of [`describe_new_fds`], left out where an agent traced the open sites.
const OPEN_SITES_UNKNOWN: &str = "  where they were opened is not known (descriptors are sampled, \
     the calls that open them are not traced); if the handles are kept in a growing collection, \
     the allocation sites show where";

/// Drops the "not known" line from a resource's detail once its open sites are known.
pub(crate) fn open_sites_known(r: &mut ResourceReport) {
    if r.sites.is_empty() {
        return;
    }
    if let Some(detail) = &mut r.detail {
        if let Some(at) = detail.find(OPEN_SITES_UNKNOWN) {
            detail.truncate(at);
            detail.truncate(detail.trim_end().len());
        }
    }
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

    fn fd(fd: i32, kind: FdKind, target: &str) -> (u32, FdInfo) {
        let info = FdInfo {
            fd,
            kind,
            target: target.to_owned(),
        };
        (1, info)
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
        let text = describe_new_fds(&before, &after, "over 10 more iterations");
        assert!(
            text.starts_with("new file descriptors over 10 more iterations: "),
            "{text}"
        );
        assert!(text.contains("3 opened and still open"), "{text}");
        assert!(
            text.contains("2 regular files or directories, e.g. /tmp/a, /tmp/b"),
            "{text}"
        );
        assert!(text.contains("1 socket, e.g. socket:[9]"), "{text}");
        assert!(text.contains("not known"), "{text}");
    }

    #[test]
    fn the_same_fd_number_in_another_process_is_new() {
        let before = vec![fd(4, FdKind::File, "/tmp/a")];
        let after = vec![
            fd(4, FdKind::File, "/tmp/a"),
            (2, fd(4, FdKind::File, "/tmp/a").1),
        ];
        let text = describe_new_fds(&before, &after, "since the warm-up");
        assert!(text.contains("1 opened and still open"), "{text}");
    }

    #[test]
    fn known_open_sites_drop_the_not_known_line() {
        let text = describe_new_fds(&Vec::new(), &Vec::new(), "since the warm-up");
        let analysis = leakproof_trend::analyze(&[1.0; 10], &leakproof_trend::Config::counts())
            .expect("a series");
        let mut r = ResourceReport::new(Resource::Fds, "fds", vec![1.0; 10], analysis);
        r.detail = Some(text.clone());
        open_sites_known(&mut r);
        assert_eq!(
            r.detail.as_deref(),
            Some(text.as_str()),
            "no sites: unchanged"
        );
        r.sites = vec![diff_at(3, 1, "open")];
        open_sites_known(&mut r);
        let detail = r.detail.expect("detail");
        assert!(!detail.contains("not known") && detail.starts_with("new file descriptors"));
    }

    #[test]
    fn a_reused_fd_number_with_a_new_target_is_new() {
        let before = vec![fd(4, FdKind::File, "/tmp/a")];
        let after = vec![fd(4, FdKind::File, "/tmp/b")];
        let text = describe_new_fds(&before, &after, "over 1 more iterations");
        assert!(text.contains("1 opened"), "{text}");
        assert!(text.contains("1 of the earlier ones closed"), "{text}");
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
