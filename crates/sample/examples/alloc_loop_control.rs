//! Out-of-line control: a wrapper that forwards to the system allocator through non-inlined calls
//! and counts nothing. It separates "the allocation path is no longer inlined into the loop" from
//! the cost of counting.

#[path = "common/alloc_loop.rs"]
mod alloc_loop;

use std::alloc::{GlobalAlloc, Layout, System};

struct OutOfLine;

// SAFETY: pure delegation to System with unchanged arguments and results.
unsafe impl GlobalAlloc for OutOfLine {
    #[inline(never)]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(l) }
    }
    #[inline(never)]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc_zeroed(l) }
    }
    #[inline(never)]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(p, l) }
    }
    #[inline(never)]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: OutOfLine = OutOfLine;

fn main() {
    alloc_loop::run("control", &alloc_loop::args());
}
