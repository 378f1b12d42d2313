//! Symbolization against this very test binary: real captured stacks resolve to this file.

use leakproof_diff::{Attribution, Frame, Snapshot, Symbolizer};

fn capture() -> Vec<u64> {
    let mut ips = Vec::new();
    backtrace::trace(|frame| {
        ips.push(frame.ip() as usize as u64);
        true
    });
    ips
}

#[inline(never)]
fn captured_here() -> (Vec<u64>, u32) {
    let line = line!() + 1;
    let ips = std::hint::black_box(capture());
    (ips, line)
}

#[inline(always)]
fn inlined_capture() -> Vec<u64> {
    std::hint::black_box(capture())
}

#[inline(never)]
fn calls_inlined() -> (Vec<u64>, u32) {
    let line = line!() + 1;
    let ips = std::hint::black_box(inlined_capture());
    (ips, line)
}

fn this_file(f: &Frame) -> bool {
    f.file
        .as_deref()
        .is_some_and(|p| p.replace('\\', "/").ends_with("tests/symbolize.rs"))
}

#[test]
fn names_this_file_and_the_calling_line() {
    let (ips, line) = captured_here();
    let mut snap = Snapshot::from_ips([(ips, 64, 1)]);
    let mut sym = Symbolizer::new();
    snap.symbolize(&mut sym);
    let frames = &snap.sites[0].frames;
    let here = frames
        .iter()
        .find(|f| {
            f.function
                .as_deref()
                .is_some_and(|n| n.ends_with("captured_here"))
        })
        .unwrap_or_else(|| panic!("no frame for captured_here in {frames:#?}"));
    assert!(this_file(here), "{here:?}");
    // The return address is looked up at the call: the line of `capture()`, not the next one.
    assert_eq!(here.line, Some(line), "{here:?}");
    assert!(!here.inlined);
    // The user frame is in this file (the capture helpers are user code too; std and backtrace are not).
    let uf = leakproof_diff::user_frame(frames, &Attribution::default()).expect("a user frame");
    assert!(this_file(&frames[uf]), "{:?}", frames[uf]);
    // Names are demangled and carry no hash.
    assert!(frames
        .iter()
        .filter_map(|f| f.function.as_deref())
        .all(|n| !n.starts_with("_ZN") && !n.contains("::h0") && !n.ends_with('E')));
}

#[test]
fn inlined_calls_expand_into_several_frames() {
    let (ips, line) = calls_inlined();
    let mut sym = Symbolizer::new();
    let frames = sym.resolve_stack(&ips);
    let i = frames
        .iter()
        .position(|f| {
            f.function
                .as_deref()
                .is_some_and(|n| n.ends_with("inlined_capture"))
        })
        .unwrap_or_else(|| panic!("no inlined_capture frame in {frames:#?}"));
    let inner = &frames[i];
    let outer = &frames[i + 1];
    assert!(inner.inlined, "{inner:?}");
    assert_eq!(inner.ip, outer.ip, "inlined frames share the address");
    assert!(
        outer
            .function
            .as_deref()
            .is_some_and(|n| n.ends_with("calls_inlined")),
        "{outer:?}"
    );
    assert!(!outer.inlined);
    assert_eq!(outer.line, Some(line), "{outer:?}");
    assert!(this_file(inner) && this_file(outer));
}

#[test]
fn unresolvable_addresses_give_unresolved_frames() {
    let mut sym = Symbolizer::new();
    for (ip, ret) in [
        (0u64, true),
        (1, false),
        (0x10, true),
        (0xdead_0000_0000, true),
        (u64::MAX, false),
        (u64::MAX, true),
    ] {
        let frames = sym.resolve(ip, ret).to_vec();
        assert_eq!(frames, vec![Frame::from_ip(ip)], "ip {ip:#x}");
        assert!(!frames[0].is_resolved());
    }
}

#[test]
fn an_exact_innermost_address_is_looked_up_as_it_is() {
    // A function's first instruction: as a return address it would be looked up one byte
    // earlier, in whatever precedes the function; declared exact, it names the function.
    let addr = captured_here as fn() -> (Vec<u64>, u32) as *const () as usize as u64;
    let mut exact = Snapshot::from_ips([(vec![addr], 1, 1)]);
    exact.innermost_exact = true;
    exact.symbolize(&mut Symbolizer::new());
    let f = exact.sites[0].frames.last().expect("frame");
    assert!(
        f.function
            .as_deref()
            .is_some_and(|n| n.ends_with("captured_here")),
        "{f:?}"
    );
    let mut ret = Snapshot::from_ips([(vec![addr], 1, 1)]);
    ret.symbolize(&mut Symbolizer::new());
    let g = ret.sites[0].frames.last().expect("frame");
    assert_ne!(g.function, f.function, "looked up at addr - 1: {g:?}");
}

#[test]
fn a_function_that_was_not_inlined_has_its_full_path() {
    // Debug builds get the path from DWARF; release builds (`line-tables-only`, whose DWARF has
    // bare names) from the symbol table.
    let addr = captured_here as fn() -> (Vec<u64>, u32) as *const () as usize as u64;
    let frames = Symbolizer::new().resolve(addr, false).to_vec();
    let outer = frames.last().expect("frame");
    assert_eq!(
        outer.function.as_deref(),
        Some("symbolize::captured_here"),
        "{frames:?}"
    );
}

#[test]
fn a_function_address_resolves_to_that_function() {
    let addr = captured_here as fn() -> (Vec<u64>, u32) as *const () as usize as u64;
    let mut sym = Symbolizer::new();
    let frames = sym.resolve(addr, false).to_vec();
    let last = frames.last().expect("frames");
    assert!(
        last.function
            .as_deref()
            .is_some_and(|n| n.ends_with("captured_here")),
        "{frames:?}"
    );
    assert!(this_file(last));
}

#[test]
fn cache_resolves_each_address_once_and_is_idempotent() {
    let (ips, _) = captured_here();
    let (ips2, _) = captured_here();
    let mut snap = Snapshot::from_ips([
        (ips.clone(), 10, 1),
        (ips2.clone(), 20, 2),
        (vec![0x10], 1, 1),
    ]);
    let mut sym = Symbolizer::new();
    snap.symbolize(&mut sym);
    let lookups = sym.lookups();
    // One lookup per distinct non-zero address, however many sites share it.
    let distinct: std::collections::HashSet<u64> = ips
        .iter()
        .chain(&ips2)
        .copied()
        .chain([0x10])
        .filter(|&ip| ip != 0)
        .collect();
    assert_eq!(lookups as usize, distinct.len());
    assert_eq!(sym.cached(), distinct.len());
    let once = snap.clone();
    snap.symbolize(&mut sym);
    assert_eq!(snap, once);
    snap.symbolize(&mut Symbolizer::new());
    assert_eq!(snap, once);
    // The unresolvable site is still there, marked unresolved.
    assert!(snap
        .sites
        .iter()
        .any(|s| s.frames.len() == 1 && !s.frames[0].is_resolved()));
}
