//! The stack table: call stacks interned in shards, each with its own lock.

use super::*;

#[derive(Clone, Copy)]
pub(super) struct StackEntry {
    pub(super) hash: u64,
    pub(super) len: u32,
    pub(super) ips: [u64; MAX_FRAMES],
    pub(super) bytes: u64,
    pub(super) blocks: u64,
}

pub(super) struct StackTable {
    pub(super) entries: SysVec<StackEntry>,
    /// Open addressing: 0 = empty, else entry index + 1. Capacity is a power of two.
    pub(super) index: SysVec<u32>,
}

/// A table behind its own lock, alone on its cache lines (128 bytes: adjacent-line prefetch pairs
/// lines), so threads working in different shards do not write a shared line.
#[repr(align(128))]
pub(super) struct Shard<T> {
    pub(super) lock: RawLock,
    pub(super) table: UnsafeCell<T>,
}

// SAFETY: `table` is only accessed while `lock` is held (see every use), and its contents are
// Send (SysVec of Copy data).
unsafe impl<T: Send> Sync for Shard<T> {}

pub(super) static STACKS: [Shard<StackTable>; STACK_SHARDS] = [const {
    Shard {
        lock: RawLock::new(),
        table: UnsafeCell::new(StackTable {
            entries: SysVec::new(),
            index: SysVec::new(),
        }),
    }
}; STACK_SHARDS];

pub(super) fn hash_ips(ips: &[u64]) -> u64 {
    // FxHash-style mixing: fast, and good enough for return addresses.
    let mut h: u64 = ips.len() as u64;
    for &ip in ips {
        h = (h.rotate_left(5) ^ ip).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    h ^ (h >> 29)
}

/// Interns `ips`, adds one block of `size` bytes to it, and returns its id. Called only with this
/// thread's `BUSY` flag set (from `on_alloc`).
pub(super) fn intern(ips: &[u64], size: u64) -> Option<u32> {
    let h = hash_ips(ips);
    let generation = GENERATION.load(Acquire);
    let site = match cached_site(h, ips, generation) {
        Some(site) => site,
        None => {
            let s = (h >> 60) as usize % STACK_SHARDS;
            let shard = &STACKS[s];
            shard.lock.lock();
            // SAFETY: the shard's lock is held.
            let t = unsafe { &mut *shard.table.get() };
            let before = t.entries.len();
            let mut id = t.find_or_insert(h, ips);
            if let Some(i) = id {
                if !ensure_chunk(s, i as usize) {
                    id = None; // no memory for its counters: do not record it
                } else if i as usize >= before {
                    // A new stack: wipe what a thread holding a pre-`clear` id may have added.
                    zero_site(s, i as usize);
                }
            }
            shard.lock.unlock();
            let site = ((s as u32) << 24) | id?;
            remember_site(h, ips, generation, site);
            site
        }
    };
    adjust_site(site, size as i64, 1);
    Some(site)
}

/// Adds to a stack's live bytes and blocks in this thread's lane (no lock).
pub(super) fn adjust_site(site: u32, bytes: i64, blocks: i64) {
    let lane = crate::alloc::thread_slot_hint() % LANES;
    if let Some(c) = site_counter(
        (site >> 24) as usize % STACK_SHARDS,
        (site & 0x00ff_ffff) as usize,
        lane,
    ) {
        c.bytes.fetch_add(bytes as u64, Relaxed);
        c.blocks.fetch_add(blocks as u64, Relaxed);
    }
}

impl StackTable {
    pub(super) fn find_or_insert(&mut self, h: u64, ips: &[u64]) -> Option<u32> {
        if self.index.len() == 0 && !self.index.fill(256, 0) {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut pos = h as usize & mask;
        loop {
            let slot = self.index.as_slice()[pos];
            if slot == 0 {
                break;
            }
            let e = &self.entries.as_slice()[slot as usize - 1];
            if e.hash == h && &e.ips[..e.len as usize] == ips {
                return Some(slot - 1);
            }
            pos = (pos + 1) & mask;
        }
        let id = self.entries.len();
        if id >= MAX_SITES_PER_SHARD {
            return None; // 1M distinct stacks in one shard: stop recording new ones
        }
        let mut e = StackEntry {
            hash: h,
            len: ips.len() as u32,
            ips: [0; MAX_FRAMES],
            bytes: 0,
            blocks: 0,
        };
        e.ips[..ips.len()].copy_from_slice(ips);
        if !self.entries.push(e) {
            return None;
        }
        self.index.as_mut_slice()[pos] = id as u32 + 1;
        if self.entries.len() * 2 > self.index.len() {
            self.rehash(self.index.len() * 2);
        }
        Some(id as u32)
    }

    pub(super) fn rehash(&mut self, cap: usize) {
        let mut index = SysVec::new();
        if !index.fill(cap, 0u32) {
            return; // keep the old (fuller) index; lookups stay correct
        }
        let mask = cap - 1;
        for (i, e) in self.entries.as_slice().iter().enumerate() {
            let mut pos = e.hash as usize & mask;
            while index.as_slice()[pos] != 0 {
                pos = (pos + 1) & mask;
            }
            index.as_mut_slice()[pos] = i as u32 + 1;
        }
        self.index = index;
    }
}
