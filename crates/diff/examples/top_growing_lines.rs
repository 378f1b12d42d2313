//! Two snapshots around a workload and the lines that grew, without the leakproof harness.
//!
//! leakproof's allocator (`leakproof-sample`) captures the stack of every live allocation for
//! you; this example records stacks by hand with `backtrace::trace` at the two places that
//! allocate, so it runs with `leakproof-diff` alone:
//!
//! ```text
//! cargo run -p leakproof-diff --example top_growing_lines
//! ```

use std::collections::HashMap;

use leakproof_diff::{
    compare_with, render_table, render_traceback, Attribution, GroupBy, Snapshot, Symbolizer,
};

/// Live allocations by stack: what an allocator's site capture would hold.
#[derive(Default)]
struct Live {
    sites: HashMap<Vec<u64>, (u64, u64)>,
}

impl Live {
    #[inline(never)]
    fn record(&mut self, bytes: usize) {
        let mut ips = Vec::new();
        backtrace::trace(|frame| {
            ips.push(frame.ip() as usize as u64);
            true
        });
        let e = self.sites.entry(ips).or_default();
        e.0 += bytes as u64;
        e.1 += 1;
    }

    fn snapshot(&self, symbolizer: &mut Symbolizer) -> Snapshot {
        let mut s = Snapshot::from_ips(self.sites.iter().map(|(k, v)| (k.clone(), v.0, v.1)));
        s.symbolize(symbolizer);
        s
    }
}

/// A request cache that never evicts: the leak.
struct Cache {
    entries: HashMap<u64, String>,
}

impl Cache {
    #[inline(never)]
    fn remember(&mut self, key: u64, live: &mut Live) {
        let value = format!("response for request {key:>40}");
        live.record(value.capacity());
        self.entries.insert(key, value);
    }
}

/// A scratch buffer reused every request: stable.
#[inline(never)]
fn scratch(buf: &mut Vec<u8>, live: &mut Live) {
    if buf.capacity() == 0 {
        buf.reserve(4096);
        live.record(buf.capacity());
    }
    buf.clear();
    buf.extend_from_slice(b"request");
}

fn main() {
    let mut live = Live::default();
    let mut symbolizer = Symbolizer::new();
    let mut cache = Cache {
        entries: HashMap::new(),
    };
    let mut buf = Vec::new();

    let mut request = 0;
    let mut serve = |n: u64, live: &mut Live| {
        for _ in 0..n {
            request += 1;
            scratch(&mut buf, live);
            cache.remember(request, live);
        }
    };

    serve(100, &mut live); // warm up
    let old = live.snapshot(&mut symbolizer);
    serve(1000, &mut live);
    let new = live.snapshot(&mut symbolizer);

    // `Live::record` stands in for the allocator: like the allocator, it is not user code.
    // (`*record` rather than `*::record`: in release builds inlined frames have bare names.)
    let attribution = Attribution::default().skip_function("*record");
    let diffs = compare_with(&old, &new, GroupBy::Line, false, &attribution);
    println!("Top growing lines:");
    print!("{}", render_table(&diffs, 5));
    if let Some(top) = diffs.first() {
        println!("\nTraceback of the largest:");
        print!("{}", render_traceback(top));
    }
}
