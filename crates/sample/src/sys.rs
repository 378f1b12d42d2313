//! Building blocks for the capture tables that never touch the global allocator: a lock that does not
//! allocate and can be held across `fork` callbacks, and a growable array on the system allocator.

use core::alloc::{GlobalAlloc, Layout};
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering::*};
use std::alloc::System;

/// A test-and-test-and-set spin lock that yields the CPU when contended. Critical sections in the
/// capture tables are a few hundred nanoseconds; it needs no allocation and no destructor.
pub(crate) struct RawLock {
    held: AtomicBool,
}

impl RawLock {
    pub(crate) const fn new() -> Self {
        RawLock {
            held: AtomicBool::new(false),
        }
    }

    pub(crate) fn lock(&self) {
        let mut spins = 0u32;
        loop {
            if !self.held.load(Relaxed)
                && self
                    .held
                    .compare_exchange_weak(false, true, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
            spins += 1;
            if spins < 64 {
                core::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    pub(crate) fn unlock(&self) {
        self.held.store(false, Release);
    }
}

/// A minimal vector of `Copy` values whose buffer comes from [`System`] directly.
pub(crate) struct SysVec<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
    cap: usize,
    _own: PhantomData<T>,
}

// SAFETY: SysVec owns its buffer exclusively, like Vec<T>; T: Copy + Send makes moving it across threads
// sound. Shared access is guarded by the RawLock of the table that holds it.
unsafe impl<T: Copy + Send> Send for SysVec<T> {}

impl<T: Copy> SysVec<T> {
    pub(crate) const fn new() -> Self {
        SysVec {
            ptr: NonNull::dangling(),
            len: 0,
            cap: 0,
            _own: PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        // SAFETY: `ptr` is valid for `len` initialized elements (or dangling with len 0).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        // SAFETY: as in `as_slice`, and `&mut self` gives exclusive access.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Appends; false when the system allocator refused to grow the buffer.
    pub(crate) fn push(&mut self, v: T) -> bool {
        if self.len == self.cap && !self.grow(if self.cap == 0 { 16 } else { self.cap * 2 }) {
            return false;
        }
        // SAFETY: len < cap after a successful grow, so the slot is inside the buffer.
        unsafe { self.ptr.as_ptr().add(self.len).write(v) };
        self.len += 1;
        true
    }

    /// A buffer of `n` copies of `v` (replacing the contents); false on allocation failure.
    pub(crate) fn fill(&mut self, n: usize, v: T) -> bool {
        self.clear_free();
        if n > 0 && !self.grow(n) {
            return false;
        }
        for i in 0..n {
            // SAFETY: i < n <= cap.
            unsafe { self.ptr.as_ptr().add(i).write(v) };
        }
        self.len = n;
        true
    }

    fn grow(&mut self, new_cap: usize) -> bool {
        if size_of::<T>() == 0 {
            self.cap = usize::MAX;
            return true;
        }
        let Ok(new_layout) = Layout::array::<T>(new_cap) else {
            return false;
        };
        let p = if self.cap == 0 {
            // SAFETY: new_layout has non-zero size (T is not zero-sized, new_cap > 0).
            unsafe { System.alloc(new_layout) }
        } else {
            let Ok(old) = Layout::array::<T>(self.cap) else {
                return false;
            };
            // SAFETY: `ptr` was allocated by System with layout `old`; the new size is non-zero.
            unsafe { System.realloc(self.ptr.as_ptr().cast(), old, new_layout.size()) }
        };
        match NonNull::new(p.cast::<T>()) {
            Some(p) => {
                self.ptr = p;
                self.cap = new_cap;
                true
            }
            None => false,
        }
    }

    /// Empties the vector and returns its buffer to the system allocator.
    pub(crate) fn clear_free(&mut self) {
        if self.cap > 0 && size_of::<T>() > 0 {
            if let Ok(layout) = Layout::array::<T>(self.cap) {
                // SAFETY: `ptr` was allocated by System with exactly this layout.
                unsafe { System.dealloc(self.ptr.as_ptr().cast(), layout) };
            }
        }
        self.ptr = NonNull::dangling();
        self.len = 0;
        self.cap = 0;
    }
}

impl<T: Copy> Drop for SysVec<T> {
    fn drop(&mut self) {
        self.clear_free();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysvec_push_fill_and_clear() {
        let mut v = SysVec::<u64>::new();
        for i in 0..1000 {
            assert!(v.push(i));
        }
        assert_eq!(v.len(), 1000);
        assert_eq!(v.as_slice()[999], 999);
        v.as_mut_slice()[0] = 7;
        assert_eq!(v.as_slice()[0], 7);
        assert!(v.fill(64, 3));
        assert_eq!(v.as_slice(), &[3u64; 64][..]);
        v.clear_free();
        assert_eq!(v.len(), 0);
    }

    #[test]
    fn lock_excludes() {
        static L: RawLock = RawLock::new();
        static mut N: u64 = 0;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10_000 {
                        L.lock();
                        // SAFETY: guarded by L.
                        unsafe { N += 1 };
                        L.unlock();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        L.lock();
        // SAFETY: guarded by L; no other thread is running.
        let n = unsafe { N };
        L.unlock();
        assert_eq!(n, 40_000);
    }
}
