//! compare(): tracemalloc's StatisticDiff semantics on hand-built snapshots.

mod common;

use common::*;
use leakproof_diff::{compare, compare_with, Attribution, Filter, GroupBy, Snapshot};

#[test]
fn line_grouping_names_the_user_line() {
    let d = compare(&before(), &after(), GroupBy::Line, false);
    let keys: Vec<&str> = d.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "src/cache.rs:42",
            "src/names.rs:19",
            "src/parse.rs:8",
            "src/log.rs:77",
            "src/cache.rs:57"
        ]
    );
    let cache = &d[0];
    assert_eq!(cache.size, 1_258_291);
    assert_eq!(cache.size_diff, 1_258_291 - 100 * 1024);
    assert_eq!((cache.count, cache.count_diff), (3000, 2900));
    assert_eq!(cache.user_frame, Some(4));
    assert_eq!(cache.traceback[4].file.as_deref(), Some("src/cache.rs"));
    let parse = &d[2];
    assert_eq!((parse.size_diff, parse.count_diff), (-8000, -20));
    let unchanged = &d[4];
    assert_eq!((unchanged.size_diff, unchanged.count_diff), (0, 0));
}

#[test]
fn a_dependency_allocating_names_the_callers_line_and_keeps_its_frames() {
    let d = compare(&before(), &after(), GroupBy::Line, false);
    let intern = d
        .iter()
        .find(|d| d.key == "src/names.rs:19")
        .expect("intern");
    let uf = intern.user_frame.expect("user frame");
    assert_eq!(
        intern.traceback[uf].function.as_deref(),
        Some("app::names::intern_all")
    );
    assert!(intern.traceback[..uf].iter().any(|f| f
        .function
        .as_deref()
        .is_some_and(|n| n.starts_with("string_interner::"))));
    // Treating the dependency as user code names its line instead.
    let attr = Attribution::default().user_dependency("string-interner");
    let d = compare_with(&before(), &after(), GroupBy::Line, false, &attr);
    assert!(d
        .iter()
        .any(|d| d.key == "string-interner-0.17.0/src/lib.rs:210"));
}

#[test]
fn function_file_and_traceback_groupings() {
    let f = compare(&before(), &after(), GroupBy::Function, false);
    assert_eq!(f[0].key, "app::cache::Cache::insert");
    let files = compare(&before(), &after(), GroupBy::File, false);
    let cache = files
        .iter()
        .find(|d| d.key == "src/cache.rs")
        .expect("file");
    assert_eq!(cache.size, 1_258_291 + 4096);
    assert_eq!(files.len(), 4);
    let t = compare(&before(), &after(), GroupBy::Traceback, false);
    assert_eq!(t.len(), 5);
    assert!(t[0]
        .key
        .contains("app::cache::Cache::insert (src/cache.rs:42)"));
    assert!(t[0]
        .key
        .contains("__rust_alloc (library/alloc/src/alloc.rs:94)"));
}

#[test]
fn cumulative_counts_a_site_for_every_frame() {
    let d = compare(&before(), &after(), GroupBy::Line, true);
    // Every site passes through main.rs:12.
    let main = d.iter().find(|d| d.key == "src/main.rs:12").expect("main");
    assert_eq!(main.size, after().sites_bytes());
    assert_eq!(
        main.user_frame.map(|i| main.traceback[i].line),
        Some(Some(12))
    );
    // The caller's line and the line it calls are both charged.
    let intern = d
        .iter()
        .find(|d| d.key == "src/names.rs:19")
        .expect("intern");
    assert_eq!(intern.size, 48_000);
    let dep = d
        .iter()
        .find(|d| d.key.ends_with("src/lib.rs:210"))
        .expect("dep");
    assert_eq!(dep.size, 48_000);
}

#[test]
fn sorted_by_abs_size_diff_then_size_then_key() {
    let d = compare(&before(), &after(), GroupBy::Line, true);
    for w in d.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let ka = (
            std::cmp::Reverse(a.size_diff.unsigned_abs()),
            std::cmp::Reverse(a.size),
            &a.key,
        );
        let kb = (
            std::cmp::Reverse(b.size_diff.unsigned_abs()),
            std::cmp::Reverse(b.size),
            &b.key,
        );
        assert!(ka < kb, "{ka:?} !< {kb:?}");
    }
}

#[test]
fn vanished_groups_keep_their_old_traceback() {
    let d = compare(&after(), &before(), GroupBy::Line, false);
    let log = d.iter().find(|d| d.key == "src/log.rs:77").expect("log");
    assert_eq!(
        (log.size, log.size_diff, log.count, log.count_diff),
        (0, -512, 0, -2)
    );
    assert_eq!(log.average(), None);
    assert_eq!(log.traceback[log.user_frame.expect("uf")].line, Some(77));
}

#[test]
fn filters_include_and_exclude() {
    let s = after();
    let only_cache = s.filter(&[Filter::include_file("src/cache.rs").expect("glob")]);
    assert_eq!(only_cache.sites.len(), 2);
    assert_eq!(only_cache.total_bytes, 1_258_291 + 4096);
    let no_cache = s.filter(&[Filter::exclude_file("*cache*").expect("glob")]);
    assert_eq!(no_cache.sites.len(), 3);
    let insert = s.filter(&[Filter::include_function("app::cache::*")
        .expect("glob")
        .at_line(42)]);
    assert_eq!(insert.sites.len(), 1);
    let get = s.filter(&[Filter::include_function("app::cache::*")
        .expect("glob")
        .at_line(57)]);
    assert_eq!(get.sites[0].bytes, 4096);
    let insert = s.filter(&[Filter::include_file("src/*.rs").expect("glob").at_line(42)]);
    assert_eq!(insert.sites.len(), 1);
    // By default filters look at the user frame; all_frames looks at the dependency too.
    let dep = Filter::include_function("string_interner::*").expect("glob");
    assert!(s.filter(std::slice::from_ref(&dep)).sites.is_empty());
    assert_eq!(s.filter(&[dep.all_frames(true)]).sites.len(), 1);
    // Exclusion wins over inclusion.
    let both = s.filter(&[
        Filter::include_file("src/*").expect("glob"),
        Filter::exclude_function("app::cache::Cache::get").expect("glob"),
    ]);
    assert_eq!(both.sites.len(), 4);
    assert!(Filter::include_file("src/[").is_err());
    let msg = Filter::include_file("src/[")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(msg.contains("invalid filter pattern \"src/[\""), "{msg}");
}

#[test]
fn group_by_parses_from_cli_words() {
    for (w, g) in [
        ("line", GroupBy::Line),
        ("lineno", GroupBy::Line),
        ("function", GroupBy::Function),
        ("file", GroupBy::File),
        ("filename", GroupBy::File),
        ("traceback", GroupBy::Traceback),
    ] {
        assert_eq!(w.parse::<GroupBy>(), Ok(g));
    }
    assert!("lines".parse::<GroupBy>().is_err());
    assert_eq!(GroupBy::Traceback.to_string(), "traceback");
}

#[test]
fn unresolved_snapshots_compare_by_address() {
    let old = Snapshot::from_ips([(vec![0x10, 0x20], 100, 1)]);
    let new = Snapshot::from_ips([(vec![0x10, 0x20], 300, 3), (vec![0x30], 50, 1)]);
    let d = compare(&old, &new, GroupBy::Line, false);
    assert_eq!(d[0].key, "0x10");
    assert_eq!(d[0].size_diff, 200);
    assert_eq!(d[0].user_frame, None);
    assert_eq!(d[1].key, "0x30");
}
