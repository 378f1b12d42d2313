//! Every text rendering, pinned with insta.

mod common;

use common::*;
use leakproof_diff::{
    compare, format_bytes, format_bytes_signed, render_line, render_table, render_traceback, smaps,
    GroupBy, Snapshot,
};

#[test]
fn table_by_line() {
    let d = compare(&before(), &after(), GroupBy::Line, false);
    insta::assert_snapshot!(render_table(&d, 10));
}

#[test]
fn table_top_n_says_what_it_left_out() {
    let d = compare(&before(), &after(), GroupBy::Line, false);
    insta::assert_snapshot!(render_table(&d, 2));
}

#[test]
fn table_by_function_file_traceback_and_cumulative() {
    let mut out = String::new();
    for (gb, cum) in [
        (GroupBy::Function, false),
        (GroupBy::File, false),
        (GroupBy::Traceback, false),
        (GroupBy::Line, true),
    ] {
        out.push_str(&format!("== {gb} cumulative={cum}\n"));
        out.push_str(&render_table(&compare(&before(), &after(), gb, cum), 5));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn table_of_nothing() {
    insta::assert_snapshot!(render_table(&[], 10));
}

#[test]
fn the_issue_example_line() {
    let old = Snapshot::from_sites(vec![site(CACHE, 100 * 1024, 100)]);
    let new = Snapshot::from_sites(vec![site(CACHE, 1_200_000, 3000)]);
    let d = compare(&old, &new, GroupBy::Line, false);
    assert_eq!(
        render_line(&d[0]),
        "src/cache.rs:42: size=1.1 MiB (+1.0 MiB), count=3000 (+2900), average=400 B"
    );
}

#[test]
fn traceback_marks_the_user_frame() {
    let d = compare(&before(), &after(), GroupBy::Line, false);
    let intern = d
        .iter()
        .find(|d| d.key == "src/names.rs:19")
        .expect("intern");
    insta::assert_snapshot!(format!(
        "{}\n{}",
        render_traceback(&d[0]),
        render_traceback(intern)
    ));
}

#[test]
fn traceback_of_unresolved_frames() {
    let old = Snapshot::empty();
    let new = Snapshot::from_ips([(vec![0x5555_0000_1234, 0x5555_0000_5678], 4096, 2)]);
    let d = compare(&old, &new, GroupBy::Traceback, false);
    insta::assert_snapshot!(render_traceback(&d[0]));
}

#[test]
fn sizes() {
    let mut out = String::new();
    for b in [
        0u64,
        1,
        1023,
        1024,
        1536,
        10 * 1024,
        102_400,
        1_000_000,
        1_258_291,
        1 << 30,
        5 << 40,
        u64::MAX,
    ] {
        out.push_str(&format!("{b} -> {}\n", format_bytes(b)));
    }
    for b in [0i64, 400, -400, -3 * 1024, 1_153_434, i64::MIN, i64::MAX] {
        out.push_str(&format!("{b} -> {}\n", format_bytes_signed(b)));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn smaps_diff() {
    let old = smaps::parse(include_str!("data/smaps_old.txt")).expect("old");
    let new = smaps::parse(include_str!("data/smaps_new.txt")).expect("new");
    insta::assert_snapshot!(smaps::diff(&old, &new).render());
}
