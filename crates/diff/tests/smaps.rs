//! /proc/PID/smaps parsing, reading and diffing.

use leakproof_diff::smaps::{self, MapKind};
use leakproof_diff::DiffError;

#[test]
fn parses_kinds_and_sizes_in_bytes() {
    let maps = smaps::parse(include_str!("data/smaps_new.txt")).expect("parse");
    let kinds: Vec<MapKind> = maps.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds,
        [
            MapKind::File,
            MapKind::Heap,
            MapKind::Anonymous,
            MapKind::File,
            MapKind::Stack,
            MapKind::Other,
            MapKind::Anonymous,
            MapKind::Anonymous
        ]
    );
    let heap = &maps[1];
    assert_eq!(heap.path.as_deref(), Some("[heap]"));
    assert_eq!(
        (heap.rss, heap.pss, heap.private_dirty, heap.swap),
        (2048 * 1024, 2048 * 1024, 2048 * 1024, 0)
    );
    assert_eq!(heap.end - heap.start, heap.size);
    let anon = &maps[2];
    assert_eq!(anon.path, None);
    assert_eq!(anon.swap, 12 * 1024);
    assert_eq!(maps[0].path.as_deref(), Some("/usr/bin/server"));
    assert_eq!(maps[3].offset, 0x28000);
    assert_eq!(maps[7].path.as_deref(), Some("/memfd:jit (deleted)"));
}

#[test]
fn diff_groups_by_kind() {
    let old = smaps::parse(include_str!("data/smaps_old.txt")).expect("old");
    let new = smaps::parse(include_str!("data/smaps_new.txt")).expect("new");
    let d = smaps::diff(&old, &new);
    let rss = |k: MapKind| d.kinds.iter().find(|c| c.kind == k).map(|c| c.rss_diff());
    assert_eq!(rss(MapKind::Heap), Some((2048 - 64) * 1024));
    assert_eq!(rss(MapKind::Anonymous), Some((2048 + 132 + 256) * 1024));
    assert_eq!(rss(MapKind::File), Some(0));
    assert_eq!(d.largest_growth().map(|c| c.kind), Some(MapKind::Anonymous));
    assert_eq!(
        d.total.rss_diff(),
        d.kinds.iter().map(|c| c.rss_diff()).sum::<i64>()
    );
    assert!(smaps::diff(&new, &new).largest_growth().is_none());
}

#[test]
fn bad_smaps_are_typed_errors_with_line_numbers() {
    let err = smaps::parse("Rss: 4 kB\n").expect_err("field first");
    assert!(matches!(err, DiffError::Smaps { line: 1, .. }), "{err}");
    let err = smaps::parse("00400000-00452000 r-xp 00000000 08:02 173521 /bin/x\nRss: lots kB\n")
        .expect_err("bad number");
    assert_eq!(
        err.to_string(),
        "malformed smaps at line 2: Rss: bad number \"lots\""
    );
    let err = smaps::parse("zz-00452000 r-xp 00000000 08:02 173521\n").expect_err("bad addr");
    assert!(matches!(err, DiffError::Smaps { line: 1, .. }), "{err}");
    let err = smaps::parse("not a header at all\n").expect_err("garbage");
    assert!(matches!(err, DiffError::Smaps { .. }), "{err}");
    let err = smaps::parse("00400000-00452000 r-xp 0 08:02 1\nRss: 99999999999999999999 kB\n")
        .expect_err("overflow");
    assert!(matches!(err, DiffError::Smaps { line: 2, .. }), "{err}");
    assert_eq!(smaps::parse("").expect("empty"), vec![]);
}

#[test]
fn reads_this_process() {
    let maps = smaps::read(std::process::id()).expect("own smaps");
    assert!(maps.iter().any(|m| m.kind == MapKind::Stack));
    assert!(maps.iter().any(|m| m.kind == MapKind::File && m.rss > 0));
    assert!(maps.iter().map(|m| m.rss).sum::<u64>() > 0);
}

#[test]
fn a_vanished_process_is_process_gone() {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait");
    // Reaped: the PID no longer exists (PID reuse within this instant is vanishingly unlikely).
    let err = smaps::read(pid).expect_err("gone");
    assert!(
        matches!(err, DiffError::ProcessGone { pid: p } if p == pid),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("process {pid} is gone: /proc/{pid}/smaps does not exist")
    );
    assert!(matches!(
        smaps::read(u32::MAX),
        Err(DiffError::ProcessGone { .. })
    ));
}
