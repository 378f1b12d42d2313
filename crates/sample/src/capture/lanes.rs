//! Per-stack live bytes and blocks in counter lanes, so threads allocating from one stack do not
//! write one cache line.

use super::*;

/// One stack's live bytes and blocks in one lane (wrapping sums across lanes).
pub(super) struct SiteCounter {
    pub(super) bytes: AtomicU64,
    pub(super) blocks: AtomicU64,
}

/// Counters of `CHUNK_SITES` consecutive stacks, lane-major: the lanes of one stack are 16 KiB
/// apart, so two threads in different lanes never write the same cache line.
pub(super) struct Chunk {
    pub(super) lanes: [[SiteCounter; CHUNK_SITES]; LANES],
}

/// Per shard, pointers to its counter chunks (null until needed). A chunk is allocated (zeroed)
/// from the system allocator under the shard's lock and never freed, so a published pointer
/// stays valid for the life of the process and can be followed without a lock.
pub(super) static CHUNKS: [[AtomicPtr<Chunk>; MAX_SITES_PER_SHARD / CHUNK_SITES]; STACK_SHARDS] = [const {
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_SITES_PER_SHARD / CHUNK_SITES]
};
    STACK_SHARDS];

pub(super) fn chunk(shard: usize, i: usize) -> Option<&'static Chunk> {
    let p = CHUNKS[shard].get(i / CHUNK_SITES)?.load(Acquire);
    // SAFETY: a non-null pointer was stored (Release) after the chunk was fully zero-initialized,
    // and chunks are never freed, so it points to a valid `Chunk` for 'static. All its fields are
    // atomics, so shared references are sound under concurrent updates.
    unsafe { p.as_ref() }
}

pub(super) fn site_counter(shard: usize, i: usize, lane: usize) -> Option<&'static SiteCounter> {
    chunk(shard, i).map(|c| &c.lanes[lane][i % CHUNK_SITES])
}

/// Makes sure stack `i` of `shard` has counters. Called with the shard's lock held.
pub(super) fn ensure_chunk(shard: usize, i: usize) -> bool {
    let Some(slot) = CHUNKS[shard].get(i / CHUNK_SITES) else {
        return false;
    };
    if !slot.load(Acquire).is_null() {
        return true;
    }
    let layout = Layout::new::<Chunk>();
    // SAFETY: `layout` has non-zero size. All-zero bytes are a valid `Chunk` (atomic integers).
    // System is called directly, never the global allocator, so this cannot re-enter capture.
    let p = unsafe { System.alloc_zeroed(layout) }.cast::<Chunk>();
    if p.is_null() {
        return false;
    }
    slot.store(p, Release);
    true
}

/// Sums stack `i`'s lanes: (live bytes, live blocks).
pub(super) fn site_totals(shard: usize, i: usize) -> (u64, u64) {
    let Some(c) = chunk(shard, i) else {
        return (0, 0);
    };
    let (mut bytes, mut blocks) = (0u64, 0u64);
    for lane in &c.lanes {
        let e = &lane[i % CHUNK_SITES];
        bytes = bytes.wrapping_add(e.bytes.load(Relaxed));
        blocks = blocks.wrapping_add(e.blocks.load(Relaxed));
    }
    // A free seen before its allocation's increment (another lane) can make a sum briefly negative.
    if (blocks as i64) < 0 {
        (0, 0)
    } else {
        (bytes, blocks)
    }
}

pub(super) fn zero_site(shard: usize, i: usize) {
    if let Some(c) = chunk(shard, i) {
        for lane in &c.lanes {
            lane[i % CHUNK_SITES].bytes.store(0, Relaxed);
            lane[i % CHUNK_SITES].blocks.store(0, Relaxed);
        }
    }
}
