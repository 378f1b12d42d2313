//! Each thread's cache of its last interned stacks: a repeated stack takes no lock.

use super::*;

#[derive(Clone, Copy)]
pub(super) struct CacheEntry {
    pub(super) generation: u64,
    pub(super) hash: u64,
    pub(super) site: u32,
    pub(super) len: u32,
    pub(super) ips: [u64; MAX_FRAMES],
}

pub(super) const EMPTY_CACHE_ENTRY: CacheEntry = CacheEntry {
    generation: 0,
    hash: 0,
    site: 0,
    len: 0,
    ips: [0; MAX_FRAMES],
};

pub(super) fn cached_site(h: u64, ips: &[u64], generation: u64) -> Option<u32> {
    CACHE.with(|c| {
        // SAFETY: only this thread touches its cache, and only inside `on_alloc` with `BUSY` set, so
        // no other reference to it is alive (no re-entrancy).
        let e = unsafe { &(*c.get())[h as usize % INTERN_CACHE] };
        (e.generation == generation && e.hash == h && &e.ips[..e.len as usize] == ips)
            .then_some(e.site)
    })
}

pub(super) fn remember_site(h: u64, ips: &[u64], generation: u64, site: u32) {
    CACHE.with(|c| {
        // SAFETY: as in `cached_site`.
        let e = unsafe { &mut (*c.get())[h as usize % INTERN_CACHE] };
        e.generation = generation;
        e.hash = h;
        e.site = site;
        e.len = ips.len() as u32;
        e.ips[..ips.len()].copy_from_slice(ips);
    })
}
