//! Names the holders found in heap files, with the time it took and this process's peak memory
//! (scripts/heap-graph-cost.sh measures with it; docs/performance.md):
//!
//!     cargo run --release -p leakproof-heapgraph --example heap_holders -- node BEFORE AFTER
//!     cargo run --release -p leakproof-heapgraph --example heap_holders -- jvm BEFORE AFTER CLASS...

use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The search budget leakproof's locate phase gives (HOLDER_BUDGET in crates/harness).
    let budget = Duration::from_secs(1);
    let started = Instant::now();
    let holders = match args.first().map(String::as_str) {
        Some("node") if args.len() == 3 => leakproof_heapgraph::heap_snapshot_holders(
            Path::new(&args[1]),
            Path::new(&args[2]),
            budget,
        ),
        Some("jvm") if args.len() >= 4 => leakproof_heapgraph::heap_dump_holders(
            Some(Path::new(&args[1])),
            Path::new(&args[2]),
            &args[3..],
            budget,
        ),
        _ => {
            eprintln!("usage: heap_holders node BEFORE AFTER | jvm BEFORE AFTER CLASS...");
            std::process::exit(2);
        }
    };
    let elapsed = started.elapsed();
    match holders {
        Ok(holders) => {
            for h in holders {
                println!("{} x{}: {}", h.object, h.count.unwrap_or(0), h.name);
            }
        }
        Err(e) => {
            eprintln!("heap_holders: {e}");
            std::process::exit(1);
        }
    }
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    println!(
        "read and searched in {:.2} s; {peak}",
        elapsed.as_secs_f64()
    );
}
