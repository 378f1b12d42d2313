#![allow(dead_code)] // each example uses a different part
//! The allocation-heavy loop of the overhead benchmark, shared by the `alloc_loop_*` examples (each
//! installs a different global allocator).
//!
//! Usage: `alloc_loop_X [THREADS] [OPS_PER_THREAD] [capture]`; prints one line:
//! `allocator=X threads=T ops=N ns_per_op=F seconds=S`.

use std::time::Instant;

/// Working set of 256 live vectors; each operation replaces one with a fresh `vec![x; 8..512]`,
/// i.e. one allocation and one free.
#[inline(never)]
pub fn churn(seed: u64, ops: u64) -> u64 {
    let mut live: Vec<Vec<u8>> = (0..256).map(|_| Vec::new()).collect();
    let mut x = seed | 1;
    let mut check = 0u64;
    for _ in 0..ops {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let size = 8 + (x % 505) as usize;
        let slot = ((x >> 20) % 256) as usize;
        live[slot] = vec![x as u8; size];
        check = check.wrapping_add(live[slot][size - 1] as u64);
    }
    check
}

pub struct Args {
    pub threads: usize,
    pub ops: u64,
    pub capture: bool,
}

pub fn args() -> Args {
    let a: Vec<String> = std::env::args().skip(1).collect();
    Args {
        threads: a.first().and_then(|s| s.parse().ok()).unwrap_or(1),
        ops: a.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000_000),
        capture: a.iter().any(|s| s == "capture"),
    }
}

/// Runs the loop on `threads` threads at once and prints the time per operation.
pub fn run(name: &str, args: &Args) {
    let start = Instant::now();
    let handles: Vec<_> = (0..args.threads)
        .map(|t| {
            let ops = args.ops;
            std::thread::spawn(move || churn(0x9e37_79b9_7f4a_7c15 ^ t as u64, ops))
        })
        .collect();
    let mut check = 0u64;
    for h in handles {
        check = check.wrapping_add(h.join().expect("worker"));
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds();
    // CPU time is not inflated by time spent descheduled on a busy machine (wall time is).
    println!(
        "allocator={name} threads={} ops={} ns_per_op={:.2} cpu_ns_per_op={:.2} seconds={secs:.3} check={}",
        args.threads,
        args.ops,
        secs * 1e9 / args.ops as f64,
        cpu * 1e9 / (args.ops as f64 * args.threads as f64),
        check % 10
    );
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(ru.ru_utime) + t(ru.ru_stime)
}
