//! The block table: address -> (stack id, size), linear probing with backward-shift deletion.

use super::*;

#[derive(Clone, Copy)]
pub(super) struct BlockEntry {
    pub(super) addr: usize, // 0 = empty
    pub(super) site: BlockSite,
}

pub(super) const EMPTY_BLOCK: BlockEntry = BlockEntry {
    addr: 0,
    site: BlockSite { site: 0, size: 0 },
};

pub(super) struct BlockTable {
    pub(super) slots: SysVec<BlockEntry>,
    pub(super) used: usize,
}

pub(super) enum Insert {
    New,
    Replaced(BlockSite),
    Failed,
}

pub(super) static BLOCKS: [Shard<BlockTable>; BLOCK_SHARDS] = [const {
    Shard {
        lock: RawLock::new(),
        table: UnsafeCell::new(BlockTable {
            slots: SysVec::new(),
            used: 0,
        }),
    }
}; BLOCK_SHARDS];

#[inline]
pub(super) fn addr_hash(addr: usize) -> u64 {
    ((addr as u64) >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

pub(super) fn block_shard(addr: usize) -> usize {
    (addr_hash(addr) >> 58) as usize % BLOCK_SHARDS
}

impl BlockTable {
    pub(super) fn insert(&mut self, addr: usize, site: BlockSite) -> Insert {
        if (self.used + 1) * 2 > self.slots.len() {
            let cap = (self.slots.len() * 2).max(1024);
            if !self.grow(cap) && self.used + 1 >= self.slots.len() {
                return Insert::Failed;
            }
        }
        let mask = self.slots.len() - 1;
        let mut pos = addr_hash(addr) as usize & mask;
        let slots = self.slots.as_mut_slice();
        loop {
            let e = &mut slots[pos];
            if e.addr == 0 {
                *e = BlockEntry { addr, site };
                self.used += 1;
                return Insert::New;
            }
            if e.addr == addr {
                let old = e.site;
                e.site = site;
                return Insert::Replaced(old);
            }
            pos = (pos + 1) & mask;
        }
    }

    pub(super) fn remove(&mut self, addr: usize) -> Option<BlockSite> {
        if self.used == 0 {
            return None;
        }
        let mask = self.slots.len() - 1;
        let slots = self.slots.as_mut_slice();
        let mut pos = addr_hash(addr) as usize & mask;
        loop {
            let e = slots[pos];
            if e.addr == 0 {
                return None;
            }
            if e.addr == addr {
                break;
            }
            pos = (pos + 1) & mask;
        }
        let found = slots[pos].site;
        // Backward-shift deletion keeps every probe chain unbroken without tombstones.
        let mut hole = pos;
        let mut next = (pos + 1) & mask;
        loop {
            let e = slots[next];
            if e.addr == 0 {
                break;
            }
            let home = addr_hash(e.addr) as usize & mask;
            // Move `e` into the hole if its home is not cyclically within (hole, next].
            let dist_next = next.wrapping_sub(home) & mask;
            let dist_hole = hole.wrapping_sub(home) & mask;
            if dist_hole < dist_next {
                slots[hole] = e;
                hole = next;
            }
            next = (next + 1) & mask;
        }
        slots[hole] = EMPTY_BLOCK;
        self.used -= 1;
        Some(found)
    }

    pub(super) fn grow(&mut self, cap: usize) -> bool {
        let mut slots = SysVec::new();
        if !slots.fill(cap, EMPTY_BLOCK) {
            return false;
        }
        let mask = cap - 1;
        for e in self.slots.as_slice() {
            if e.addr != 0 {
                let mut pos = addr_hash(e.addr) as usize & mask;
                while slots.as_slice()[pos].addr != 0 {
                    pos = (pos + 1) & mask;
                }
                slots.as_mut_slice()[pos] = *e;
            }
        }
        self.slots = slots;
        true
    }
}
