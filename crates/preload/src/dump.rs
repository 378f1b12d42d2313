//! The sites file: `DIR/PID.sites`, written without allocating and published by rename.

use crate::region::Region;
use crate::sys::{commit, create_tmp, Writer};

/// Writes this process's live sites (none when capture never ran) and publishes the file.
pub(crate) fn write<'a>(
    r: &Region,
    sites: Option<impl Iterator<Item = (u64, u64, &'a [u64])>>,
    dropped: u64,
) {
    let pid = r.header.pid.load(core::sync::atomic::Ordering::Relaxed);
    let Some(fd) = create_tmp(pid, b".sites") else {
        return;
    };
    let mut w = Writer::new(fd);
    w.put(b"leakproof-sites 1 ");
    w.dec(dropped);
    w.put(b"\n");
    for (bytes, blocks, ips) in sites.into_iter().flatten() {
        w.dec(bytes);
        w.put(b" ");
        w.dec(blocks);
        for &ip in ips {
            w.put(b" ");
            w.hex(ip);
        }
        w.put(b"\n");
    }
    if w.finish() {
        commit(pid, b".sites");
    }
}
