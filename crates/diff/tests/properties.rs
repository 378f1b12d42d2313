//! Invariants of comparison, filtering, JSON and symbolization, and robustness of the parsers.

use leakproof_diff::{compare, smaps, Filter, Frame, GroupBy, Site, Snapshot, Symbolizer};
use proptest::prelude::*;

const GROUPS: [GroupBy; 4] = [
    GroupBy::Line,
    GroupBy::Function,
    GroupBy::File,
    GroupBy::Traceback,
];

/// Frames from a small pool so that sites share lines, functions and files.
fn frame() -> impl Strategy<Value = Frame> {
    let files = prop::sample::select(vec![
        "src/a.rs",
        "src/b.rs",
        "src/dir/c.rs",
        "/rustc/h/library/alloc/src/vec/mod.rs",
        "/u/.cargo/registry/src/idx/dep-1.2.3/src/lib.rs",
        "crates/sample/src/alloc.rs",
    ]);
    let funcs = prop::sample::select(vec![
        "app::a",
        "app::b::<impl app::B>::go",
        "alloc::vec::Vec<T>::push",
        "dep::f",
        "__rust_alloc",
        "leakproof_sample::alloc",
    ]);
    prop_oneof![
        (funcs.clone(), files, 1u32..6, any::<bool>()).prop_map(|(f, file, line, inlined)| Frame {
            inlined,
            ..Frame::at(f, file, line)
        }),
        (0u64..8).prop_map(|ip| Frame::from_ip(0x1000 + ip)),
        (funcs).prop_map(|f| Frame {
            function: Some(f.to_owned()),
            ..Frame::default()
        }),
    ]
}

fn site() -> impl Strategy<Value = Site> {
    (
        prop::collection::vec(frame(), 0..6),
        0u64..1 << 40,
        0u64..1 << 30,
    )
        .prop_map(|(frames, bytes, blocks)| Site {
            frames,
            bytes,
            blocks,
        })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (
        prop::collection::vec(site(), 0..12),
        any::<Option<u64>>(),
        any::<Option<u64>>(),
        any::<bool>(),
        0u64..1 << 20,
    )
        .prop_map(|(sites, taken_at, iteration, symbolized, untracked)| {
            let mut s = Snapshot::from_sites(sites);
            s.taken_at = taken_at;
            s.iteration = iteration;
            s.symbolized = symbolized;
            s.innermost_exact = !symbolized;
            // Producers may report more than their sites hold.
            s.total_bytes += untracked;
            s
        })
}

fn filter() -> impl Strategy<Value = Filter> {
    let pat = prop::sample::select(vec!["src/*", "*.rs", "src/a.rs", "app::*", "dep::f", "*"]);
    (pat, 0u8..4, any::<bool>(), prop::option::of(1u32..6)).prop_map(|(p, k, all, line)| {
        let f = match k {
            0 => Filter::include_file(p),
            1 => Filter::exclude_file(p),
            2 => Filter::include_function(p),
            _ => Filter::exclude_function(p),
        }
        .expect("valid glob");
        let f = f.all_frames(all);
        match line {
            Some(l) => f.at_line(l),
            None => f,
        }
    })
}

proptest! {
    #[test]
    fn comparing_a_snapshot_with_itself_is_all_zeros(s in snapshot(), cum in any::<bool>()) {
        for gb in GROUPS {
            for d in compare(&s, &s, gb, cum) {
                prop_assert_eq!((d.size_diff, d.count_diff), (0, 0), "{:?}", d.key);
            }
        }
    }

    #[test]
    fn non_cumulative_diffs_add_up_to_the_change_of_totals(old in snapshot(), new in snapshot()) {
        let want = i128::from(new.sites_bytes()) - i128::from(old.sites_bytes());
        let want_blocks = i128::from(new.sites_blocks()) - i128::from(old.sites_blocks());
        for gb in GROUPS {
            let d = compare(&old, &new, gb, false);
            prop_assert_eq!(d.iter().map(|d| i128::from(d.size_diff)).sum::<i128>(), want);
            prop_assert_eq!(d.iter().map(|d| i128::from(d.count_diff)).sum::<i128>(), want_blocks);
            prop_assert_eq!(d.iter().map(|d| u128::from(d.size)).sum::<u128>(), u128::from(new.sites_bytes()));
            for w in d.windows(2) {
                prop_assert!(w[0].size_diff.unsigned_abs() >= w[1].size_diff.unsigned_abs());
            }
        }
    }

    #[test]
    fn line_and_traceback_groupings_give_the_same_total(old in snapshot(), new in snapshot()) {
        let line = compare(&old, &new, GroupBy::Line, false);
        let tb = compare(&old, &new, GroupBy::Traceback, false);
        // A traceback determines its line, so there are at least as many traceback groups.
        prop_assert!(tb.len() >= line.len());
        prop_assert_eq!(line.iter().map(|d| d.size).sum::<u64>(), tb.iter().map(|d| d.size).sum::<u64>());
        prop_assert_eq!(line.iter().map(|d| d.size_diff).sum::<i64>(), tb.iter().map(|d| d.size_diff).sum::<i64>());
    }

    #[test]
    fn json_round_trips_losslessly(s in snapshot()) {
        let back = Snapshot::from_json(&s.to_json());
        prop_assert_eq!(back.ok(), Some(s));
    }

    #[test]
    fn a_filter_never_increases_a_total(s in snapshot(), fs in prop::collection::vec(filter(), 0..4)) {
        let f = s.filter(&fs);
        prop_assert!(f.total_bytes <= s.total_bytes);
        prop_assert!(f.total_blocks <= s.total_blocks);
        prop_assert!(f.sites.len() <= s.sites.len());
        // Filtering again with the same filters changes nothing.
        prop_assert_eq!(f.filter(&fs), f);
    }

    #[test]
    fn json_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Snapshot::from_json(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn json_parser_never_panics_on_mutated_snapshots(s in snapshot(), cut in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut text = s.to_json().into_bytes();
        let i = cut.index(text.len());
        text[i] = b;
        let _ = Snapshot::from_json(&String::from_utf8_lossy(&text));
        let _ = Snapshot::from_json(&String::from_utf8_lossy(&text[..i]));
    }

    #[test]
    fn arbitrary_patterns_are_errors_or_filters_never_panics(p in ".{0,24}", s in snapshot()) {
        for f in [Filter::include_file(&p), Filter::exclude_function(&p)] {
            match f {
                Ok(f) => {
                    let kept = s.filter(&[f.all_frames(true)]);
                    prop_assert!(kept.total_bytes <= s.total_bytes);
                }
                Err(e) => prop_assert!(e.to_string().starts_with("invalid filter pattern")),
            }
        }
        let a = leakproof_diff::Attribution::default().skip_function(&p).skip_path(&p);
        let _ = leakproof_diff::compare_with(&s, &s, GroupBy::Line, false, &a);
    }

    #[test]
    fn smaps_parser_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = smaps::parse(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn smaps_parser_never_panics_on_smaps_like_lines(
        lines in prop::collection::vec(
            "([0-9a-f]{1,16}-[0-9a-f]{1,16} [rwxsp-]{4} [0-9a-f]{1,8} [0-9a-f]{2}:[0-9a-f]{2} [0-9]{1,20}( +(\\[heap\\]|/[a-z/ ()]{0,12}|\\[[a-z:0-9]{0,8}\\]))?|(Size|Rss|Pss|Swap|Private_Dirty|VmFlags|Other_1):? {0,8}[0-9]{0,22}( kB| MB)?)",
            0..12,
        )
    ) {
        if let Ok(maps) = smaps::parse(&lines.join("\n")) {
            let d = smaps::diff(&maps, &[]);
            let _ = d.render();
        }
    }
}

/// Real addresses of this test binary plus junk that resolves to nothing.
fn ips() -> impl Strategy<Value = u64> {
    let bases = [
        compare as *const () as usize as u64,
        Snapshot::from_json as *const () as usize as u64,
        smaps::parse as *const () as usize as u64,
    ];
    prop_oneof![
        (prop::sample::select(bases.to_vec()), 0u64..512).prop_map(|(b, o)| b + o),
        any::<u64>(),
        Just(0u64),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn symbolization_is_idempotent(stacks in prop::collection::vec((prop::collection::vec(ips(), 0..5), 1u64..100), 0..5)) {
        let mut s = Snapshot::from_ips(stacks.into_iter().map(|(ips, b)| (ips, b, 1)));
        let before = s.clone();
        let mut sym = Symbolizer::new();
        s.symbolize(&mut sym);
        // Symbolization changes frames, never sizes.
        prop_assert_eq!(s.sites.iter().map(|x| (x.bytes, x.blocks)).collect::<Vec<_>>(),
                        before.sites.iter().map(|x| (x.bytes, x.blocks)).collect::<Vec<_>>());
        let once = s.clone();
        s.symbolize(&mut sym);
        prop_assert_eq!(&s, &once);
        s.symbolize(&mut Symbolizer::new());
        prop_assert_eq!(&s, &once);
        // Every resolved group of frames ends in a non-inlined frame.
        for site in &s.sites {
            if let Some(last) = site.frames.last() {
                prop_assert!(!last.inlined);
            }
        }
    }
}
