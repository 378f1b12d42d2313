//! The layout of the shared counter region, defined once: the preload agent (`crates/preload`)
//! writes it, and leakproof-sample's `native` module (the reader) includes this same file with
//! `#[path]`, so that the two can never disagree. Plain data and constants only: it must compile
//! in both crates. See `region.rs` for what each field means and who writes it.

// The writer uses the types, the reader the offsets: each crate leaves half of this unused.
#![allow(dead_code)]

use core::mem::{offset_of, size_of};
use core::sync::atomic::AtomicU64;

/// `LKPNAT02`: identifies a region and its layout version.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"LKPNAT02");
/// Per-thread counter slots in a region.
pub(crate) const SLOTS: usize = 512;

/// The region header (see the module docs for the layout).
#[repr(C, align(128))]
pub(crate) struct Header {
    pub(crate) magic: AtomicU64,
    pub(crate) pid: AtomicU64,
    pub(crate) exited: AtomicU64,
    pub(crate) ctl: AtomicU64,
    pub(crate) dumped: AtomicU64,
    pub(crate) dropped: AtomicU64,
    /// Bit 0: trace open sites (of descriptors and threads) even while sites are not captured.
    pub(crate) opens: AtomicU64,
}

/// One thread's counters, on their own cache lines.
#[repr(C, align(128))]
pub(crate) struct Slot {
    pub(crate) owner: AtomicU64,
    pub(crate) alloc_bytes: AtomicU64,
    pub(crate) alloc_blocks: AtomicU64,
    pub(crate) free_bytes: AtomicU64,
    pub(crate) free_blocks: AtomicU64,
    /// Set while the owner is inside site capture: a nested call (from the unwinder or a signal
    /// handler on this thread) only counts.
    pub(crate) busy: AtomicU64,
}

/// The whole shared region.
#[repr(C)]
pub(crate) struct Region {
    pub(crate) header: Header,
    pub(crate) slots: [Slot; SLOTS],
    pub(crate) overflow: Slot,
}

/// Bytes of a region file.
pub(crate) const REGION_SIZE: usize = size_of::<Region>();

/// Byte offset of the header's magic word (stored last by the agent).
pub(crate) const OFF_MAGIC: usize = offset_of!(Header, magic);
/// Byte offset of the publishing process's pid.
pub(crate) const OFF_PID: usize = offset_of!(Header, pid);
/// Byte offset of the exited flag (1 once the process's exit handlers ran).
pub(crate) const OFF_EXITED: usize = offset_of!(Header, exited);
/// Byte offset of the reader's control word (bit 0 capture, bits 1.. sites-dump requests).
pub(crate) const OFF_CTL: usize = offset_of!(Header, ctl);
/// Byte offset of the request counter of the last sites file written.
pub(crate) const OFF_DUMPED: usize = offset_of!(Header, dumped);
/// Byte offset of the count of allocations not recorded (tables full).
pub(crate) const OFF_DROPPED: usize = offset_of!(Header, dropped);
/// Byte offset of the reader's open-sites word (bit 0: trace them without capturing sites).
pub(crate) const OFF_OPENS: usize = offset_of!(Header, opens);
/// Byte offset of counter slot `i` (`i == SLOTS` is the overflow slot).
pub(crate) const fn slot_offset(i: usize) -> usize {
    if i < SLOTS {
        offset_of!(Region, slots) + i * size_of::<Slot>()
    } else {
        offset_of!(Region, overflow)
    }
}
/// Byte offsets, inside a slot, of allocated bytes, allocated blocks, freed bytes, freed blocks.
pub(crate) const SLOT_COUNTERS: [usize; 4] = [
    offset_of!(Slot, alloc_bytes),
    offset_of!(Slot, alloc_blocks),
    offset_of!(Slot, free_bytes),
    offset_of!(Slot, free_blocks),
];
