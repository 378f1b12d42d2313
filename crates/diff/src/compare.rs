//! Snapshot comparison with the meaning of tracemalloc's `Snapshot.compare_to`.

use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::attribution::short_path;
use crate::{display_path, user_frame, Attribution, Frame, Site, Snapshot};

/// How sites are grouped when compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// By the user frame's `file:line` (tracemalloc's `'lineno'`). The default.
    #[default]
    Line,
    /// By the user frame's function.
    Function,
    /// By the user frame's file (tracemalloc's `'filename'`).
    File,
    /// By the whole traceback (tracemalloc's `'traceback'`); frames are matched by symbol and
    /// line, not by address, so snapshots of two runs of the same binary compare.
    Traceback,
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupBy::Line => "line",
            GroupBy::Function => "function",
            GroupBy::File => "file",
            GroupBy::Traceback => "traceback",
        })
    }
}

impl FromStr for GroupBy {
    type Err = String;
    /// `line` (or `lineno`), `function`, `file` (or `filename`), `traceback`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "line" | "lineno" => Ok(GroupBy::Line),
            "function" | "func" => Ok(GroupBy::Function),
            "file" | "filename" => Ok(GroupBy::File),
            "traceback" => Ok(GroupBy::Traceback),
            other => Err(format!(
                "unknown group-by {other:?}: expected line, function, file or traceback"
            )),
        }
    }
}

/// The difference of one group between two snapshots (tracemalloc's `StatisticDiff`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatDiff {
    /// The group: `file:line`, a function, a file, or a whole traceback (frames joined by ` <- `).
    pub key: String,
    /// Live bytes of the group in the new snapshot.
    pub size: u64,
    /// `size` minus the group's bytes in the old snapshot.
    pub size_diff: i64,
    /// Live blocks of the group in the new snapshot.
    pub count: u64,
    /// `count` minus the group's blocks in the old snapshot.
    pub count_diff: i64,
    /// A representative traceback, innermost first: that of the group's largest site in the new
    /// snapshot (or in the old one when the group vanished).
    pub traceback: Vec<Frame>,
    /// Index in `traceback` of the frame the group is named after (the user frame), if any.
    pub user_frame: Option<usize>,
}

impl StatDiff {
    /// Average block size in the new snapshot, if it has blocks.
    pub fn average(&self) -> Option<u64> {
        self.size.checked_div(self.count)
    }
}

/// Appends the key of one frame inside a traceback key: matched by symbol, file and line.
fn push_frame_key(out: &mut String, f: &Frame) {
    match (&f.function, &f.file) {
        (None, None) => match f.ip {
            Some(ip) => {
                let _ = write!(out, "{ip:#x}");
            }
            None => out.push_str("<unknown>"),
        },
        (Some(func), None) => out.push_str(func),
        (func, Some(file)) => {
            if let Some(func) = func {
                out.push_str(func);
                out.push_str(" (");
            }
            out.push_str(short_path(file));
            if let Some(l) = f.line {
                let _ = write!(out, ":{l}");
            }
            if func.is_some() {
                out.push(')');
            }
        }
    }
}

/// The key of `frame` when grouping by `group_by` (not traceback).
fn key_of(frame: &Frame, group_by: GroupBy) -> String {
    match group_by {
        GroupBy::Line | GroupBy::Traceback => frame.location(),
        GroupBy::Function => frame.function.clone().unwrap_or_else(|| frame.location()),
        GroupBy::File => frame
            .file
            .as_deref()
            .map_or_else(|| frame.location(), display_path),
    }
}

/// The group keys of one site, each once, with the index of the frame that gave each key.
fn site_keys(
    site: &Site,
    group_by: GroupBy,
    cumulative: bool,
    attribution: &Attribution,
) -> Vec<(String, Option<usize>)> {
    if group_by == GroupBy::Traceback {
        let key = if site.frames.is_empty() {
            "<no frames>".to_owned()
        } else {
            let mut key = String::with_capacity(site.frames.len() * 64);
            for (i, f) in site.frames.iter().enumerate() {
                if i > 0 {
                    key.push_str(" <- ");
                }
                push_frame_key(&mut key, f);
            }
            key
        };
        return vec![(key, user_frame(&site.frames, attribution))];
    }
    if cumulative {
        let mut keys: Vec<(String, Option<usize>)> = Vec::new();
        for (i, f) in site.frames.iter().enumerate() {
            let k = key_of(f, group_by);
            if !keys.iter().any(|(seen, _)| *seen == k) {
                keys.push((k, Some(i)));
            }
        }
        if keys.is_empty() {
            keys.push(("<no frames>".to_owned(), None));
        }
        return keys;
    }
    // Named after the user frame, or the innermost frame when there is none.
    let user = user_frame(&site.frames, attribution);
    match user.or(if site.frames.is_empty() {
        None
    } else {
        Some(0)
    }) {
        Some(i) => vec![(key_of(&site.frames[i], group_by), user)],
        None => vec![("<no frames>".to_owned(), None)],
    }
}

#[derive(Default)]
struct Acc {
    old_bytes: u64,
    old_blocks: u64,
    new_bytes: u64,
    new_blocks: u64,
    /// (bytes, in new?, site index, frame index) of the representative site.
    best: Option<(bool, u64, usize, Option<usize>)>,
}

fn accumulate(
    groups: &mut HashMap<String, Acc>,
    snap: &Snapshot,
    is_new: bool,
    group_by: GroupBy,
    cumulative: bool,
    attribution: &Attribution,
) {
    for (si, site) in snap.sites.iter().enumerate() {
        for (key, fi) in site_keys(site, group_by, cumulative, attribution) {
            let acc = groups.entry(key).or_default();
            if is_new {
                acc.new_bytes = acc.new_bytes.saturating_add(site.bytes);
                acc.new_blocks = acc.new_blocks.saturating_add(site.blocks);
            } else {
                acc.old_bytes = acc.old_bytes.saturating_add(site.bytes);
                acc.old_blocks = acc.old_blocks.saturating_add(site.blocks);
            }
            // Prefer a site of the new snapshot, then the larger one, then the first.
            let cand = (is_new, site.bytes, si, fi);
            let better = match acc.best {
                None => true,
                Some((bn, bb, _, _)) => (is_new, site.bytes) > (bn, bb),
            };
            if better {
                acc.best = Some(cand);
            }
        }
    }
}

fn signed_diff(new: u64, old: u64) -> i64 {
    let d = i128::from(new) - i128::from(old);
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

/// Compares two snapshots, grouping sites by `group_by`, with the default [`Attribution`].
///
/// Like tracemalloc's `compare_to`: one [`StatDiff`] per group present in either snapshot,
/// sorted by `|size_diff|` (largest first), then `size` (largest first), then `key`.
/// With `cumulative`, a site counts for every distinct frame of its traceback (so a caller's line
/// includes what its callees allocated); `Traceback` grouping ignores `cumulative`. Without it, a
/// site counts once, for its user frame (its innermost frame when it has none), so the
/// `size_diff`s add up to `new.sites_bytes() - old.sites_bytes()`.
pub fn compare(
    old: &Snapshot,
    new: &Snapshot,
    group_by: GroupBy,
    cumulative: bool,
) -> Vec<StatDiff> {
    compare_with(old, new, group_by, cumulative, &Attribution::default())
}

/// [`compare`] with a custom [`Attribution`] deciding the user frame.
pub fn compare_with(
    old: &Snapshot,
    new: &Snapshot,
    group_by: GroupBy,
    cumulative: bool,
    attribution: &Attribution,
) -> Vec<StatDiff> {
    let mut groups: HashMap<String, Acc> = HashMap::new();
    accumulate(&mut groups, old, false, group_by, cumulative, attribution);
    accumulate(&mut groups, new, true, group_by, cumulative, attribution);
    let mut out: Vec<StatDiff> = groups
        .into_iter()
        .map(|(key, acc)| {
            let (traceback, user) = match acc.best {
                Some((is_new, _, si, fi)) => {
                    let snap = if is_new { new } else { old };
                    (snap.sites[si].frames.clone(), fi)
                }
                None => (Vec::new(), None),
            };
            StatDiff {
                key,
                size: acc.new_bytes,
                size_diff: signed_diff(acc.new_bytes, acc.old_bytes),
                count: acc.new_blocks,
                count_diff: signed_diff(acc.new_blocks, acc.old_blocks),
                traceback,
                user_frame: user,
            }
        })
        .collect();
    sort_diffs(&mut out);
    out
}

/// Sorts by `|size_diff|` desc, then `size` desc, then `key` asc (the order [`compare`] returns).
pub fn sort_diffs(diffs: &mut [StatDiff]) {
    diffs.sort_by(|a, b| {
        b.size_diff
            .unsigned_abs()
            .cmp(&a.size_diff.unsigned_abs())
            .then_with(|| b.size.cmp(&a.size))
            .then_with(|| a.key.cmp(&b.key))
    });
}

/// The first `n` diffs (after sorting, the `n` that changed most).
pub fn top(diffs: &[StatDiff], n: usize) -> &[StatDiff] {
    &diffs[..n.min(diffs.len())]
}

/// Only the diffs whose size grew, in the same order.
pub fn growing(diffs: &[StatDiff]) -> Vec<StatDiff> {
    diffs.iter().filter(|d| d.size_diff > 0).cloned().collect()
}
