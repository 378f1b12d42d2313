//! Symbolizing the addresses of *another* process, from its `/proc/PID/maps` text and the DWARF
//! line tables of the object files it has mapped (read with `addr2line`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use object::{Object, ObjectSection};

use crate::symtab::SymbolTables;
use crate::{Frame, Snapshot};

type Reader = gimli::EndianRcSlice<gimli::RunTimeEndian>;

/// Resolves return addresses of another process (a native target) into [`Frame`]s: which object
/// each address belongs to comes from the process's maps, file and line from the object's DWARF,
/// and the function from the DWARF or, without it, the ELF symbol table.
///
/// Built from the maps text taken while the process is alive (addresses stay valid only as long
/// as the objects stay loaded). Each object file is read once; each address resolved once.
pub struct ForeignSymbolizer {
    tables: SymbolTables,
    dwarf: HashMap<String, Option<addr2line::Context<Reader>>>,
    cache: HashMap<u64, Vec<Frame>>,
}

impl std::fmt::Debug for ForeignSymbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignSymbolizer")
            .field("objects", &self.dwarf.len())
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl ForeignSymbolizer {
    /// A symbolizer for the process whose `/proc/PID/maps` is `maps`. Unreadable objects are
    /// skipped (their addresses stay unresolved).
    pub fn new(maps: &str) -> ForeignSymbolizer {
        ForeignSymbolizer {
            tables: SymbolTables::from_maps(maps),
            dwarf: HashMap::new(),
            cache: HashMap::new(),
        }
    }

    /// The frames of return address `ip` (looked up at the call, `ip - 1`), innermost (most
    /// deeply inlined) first; one unresolved frame when nothing is known.
    pub fn resolve(&mut self, ip: u64) -> Vec<Frame> {
        if let Some(f) = self.cache.get(&ip) {
            return f.clone();
        }
        let frames = self.lookup(ip);
        self.cache.insert(ip, frames.clone());
        frames
    }

    /// Symbolizes every unresolved frame of `snapshot` (all addresses are return addresses).
    pub fn symbolize(&mut self, snapshot: &mut Snapshot) {
        for site in &mut snapshot.sites {
            let mut out = Vec::with_capacity(site.frames.len());
            for frame in &site.frames {
                match frame.ip {
                    Some(ip) if !frame.is_resolved() => out.extend(self.resolve(ip)),
                    _ => out.push(frame.clone()),
                }
            }
            site.frames = out;
        }
        snapshot.symbolized = true;
    }

    fn lookup(&mut self, ip: u64) -> Vec<Frame> {
        let unresolved = vec![Frame::from_ip(ip)];
        let Some(call) = ip.checked_sub(1) else {
            return unresolved;
        };
        let Some((path, vaddr)) = self.tables.file_address(call) else {
            return unresolved;
        };
        let path = path.to_owned();
        let symbol = self.tables.name(call).map(str::to_owned);
        let ctx = self
            .dwarf
            .entry(path.clone())
            .or_insert_with(|| load_dwarf(&path));
        let mut frames = ctx
            .as_ref()
            .map(|c| dwarf_frames(c, ip, vaddr))
            .unwrap_or_default();
        if frames.is_empty() {
            if symbol.is_none() {
                return unresolved;
            }
            frames.push(Frame {
                ip: Some(ip),
                function: symbol,
                file: None,
                line: None,
                column: None,
                inlined: false,
            });
        } else if let Some(outer) = frames.last_mut() {
            outer.inlined = false;
            if outer.function.is_none() {
                outer.function = symbol;
            }
        }
        frames
    }
}

/// The frames DWARF gives for file address `vaddr` (all marked inlined; the caller fixes the last).
fn dwarf_frames(ctx: &addr2line::Context<Reader>, ip: u64, vaddr: u64) -> Vec<Frame> {
    let mut out = Vec::new();
    let Ok(mut iter) = ctx.find_frames(vaddr).skip_all_loads() else {
        return out;
    };
    while let Ok(Some(f)) = iter.next() {
        let function = f
            .function
            .as_ref()
            .and_then(|n| n.raw_name().ok())
            .map(|n| format!("{:#}", rustc_demangle::demangle(n.as_ref())));
        let (file, line, column) = match f.location {
            Some(l) => (l.file.map(str::to_owned), l.line, l.column),
            None => (None, None, None),
        };
        out.push(Frame {
            ip: Some(ip),
            function,
            file,
            line,
            column,
            inlined: true,
        });
    }
    out.retain(Frame::is_resolved);
    out
}

/// The DWARF of one object file, if it has any.
fn load_dwarf(path: &str) -> Option<addr2line::Context<Reader>> {
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    file.section_by_name(".debug_info")?;
    let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
        let bytes = file
            .section_by_name(id.name())
            .and_then(|s| s.uncompressed_data().ok())
            .unwrap_or(Cow::Borrowed(&[]));
        Ok(Reader::new(Rc::from(&*bytes), endian))
    };
    let dwarf = gimli::Dwarf::load(load).ok()?;
    addr2line::Context::from_dwarf(dwarf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn marker() -> u64 {
        std::hint::black_box(7)
    }

    #[test]
    fn resolves_an_address_of_this_process_through_its_maps() {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
        let mut s = ForeignSymbolizer::new(&maps);
        // A "return address" one byte into `marker`: looked up at `marker`'s first byte.
        let ip = marker as fn() -> u64 as *const () as u64 + 1;
        let frames = s.resolve(ip);
        let outer = frames.last().expect("a frame");
        assert!(
            outer.function.as_deref().unwrap_or("").ends_with("marker"),
            "{frames:?}"
        );
        assert!(
            outer.file.as_deref().unwrap_or("").ends_with("foreign.rs"),
            "{frames:?}"
        );
        assert_eq!(s.resolve(ip), frames);
        assert_eq!(s.resolve(0x10), vec![Frame::from_ip(0x10)]);
    }
}
