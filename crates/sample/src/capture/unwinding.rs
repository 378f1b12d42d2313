//! Unwinding: the return addresses of an allocation, innermost first.

use super::*;

#[inline(never)]
pub(super) fn unwind(out: &mut [u64; MAX_FRAMES]) -> usize {
    let mut buf = [0u64; MAX_FRAMES + 12];
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    let n = if PLATFORM_UNWINDER.load(Relaxed) {
        platform_unwind(&mut buf)
    } else {
        match crate::unwind::unwind(&mut buf) {
            Some(n) => n,
            None => platform_unwind(&mut buf), // not on this thread's own stack
        }
    };
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    let n = platform_unwind(&mut buf);
    let skip = frames_to_skip(&buf[..n]);
    let n = (n - skip).min(MAX_FRAMES);
    out[..n].copy_from_slice(&buf[skip..skip + n]);
    n
}

/// Leading frames that belong to the unwinder and to this module: everything up to and including
/// the return address into [`on_alloc`], found by address (inlining decisions do not matter).
pub(super) fn frames_to_skip(ips: &[u64]) -> usize {
    let Some((start, end)) = on_alloc_range() else {
        return SKIP.load(Relaxed).min(ips.len()); // calibrated by `platform_unwind`, or 0
    };
    ips.iter()
        .take(16)
        .position(|&ip| start < ip && ip <= end)
        .map_or(0, |i| i + 1)
}

pub(super) static ON_ALLOC_START: AtomicU64 = AtomicU64::new(0);
pub(super) static ON_ALLOC_END: AtomicU64 = AtomicU64::new(0);

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(super) fn on_alloc_range() -> Option<(u64, u64)> {
    let end = ON_ALLOC_END.load(Acquire);
    if end == u64::MAX {
        return None; // looked up before and not found
    }
    if end != 0 {
        return Some((ON_ALLOC_START.load(Relaxed), end));
    }
    match crate::unwind::function_range(on_alloc as *const () as u64) {
        Some((s, e)) => {
            ON_ALLOC_START.store(s, Relaxed);
            ON_ALLOC_END.store(e, Release);
            Some((s, e))
        }
        None => {
            ON_ALLOC_END.store(u64::MAX, Release);
            None
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
pub(super) fn on_alloc_range() -> Option<(u64, u64)> {
    let _ = (&ON_ALLOC_START, &ON_ALLOC_END);
    None
}

pub(super) fn platform_unwind(out: &mut [u64]) -> usize {
    let calibrating = SKIP.load(Relaxed) == usize::MAX;
    let target = on_alloc as *const () as usize;
    let mut n = 0usize;
    // SAFETY: trace_unsynchronized is unsafe only because it skips the crate's global lock, which
    // matters on platforms whose unwinder is not thread-safe (dbghelp on Windows). On the Unix
    // unwinders (libgcc/libunwind `_Unwind_Backtrace`) concurrent traces are safe. The callback does
    // not panic and does not allocate.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            if calibrating && n < 16 && frame.symbol_address() as usize == target {
                // Same call path as every later trace, so the same depth.
                SKIP.store(n + 1, Relaxed);
            }
            out[n] = frame.ip() as u64;
            n += 1;
            n < out.len()
        });
    }
    if calibrating && SKIP.load(Relaxed) == usize::MAX {
        SKIP.store(0, Relaxed);
    }
    n
}

pub(super) static PLATFORM_UNWINDER: AtomicBool = AtomicBool::new(false);

/// Chooses the unwinder: `false` (the default on x86_64 Linux) uses the built-in cached CFI
/// unwinder; `true` uses the platform's `_Unwind_Backtrace` (slower, for comparison or should the
/// cached one ever misbehave). Other platforms always use the platform unwinder.
pub fn use_platform_unwinder(yes: bool) {
    PLATFORM_UNWINDER.store(yes, SeqCst);
}
