//! Qualified function names from the ELF symbol tables of this process's loaded objects.
//!
//! With `debug = "line-tables-only"` (the usual release setting) the DWARF names functions without
//! their path (`insert`, not `app::cache::Cache::insert`). The symbol table still has the full
//! (mangled) name of every function that was not inlined; [`SymbolTables`] reads it once, through
//! `/proc/self/maps` and the object files, with no unsafe code.

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};

/// One loaded object file: where it is mapped and its function symbols.
#[derive(Debug)]
struct Loaded {
    /// The object file.
    path: String,
    /// Executable mappings: runtime start, end, file offset.
    maps: Vec<(u64, u64, u64)>,
    /// Loadable segments: file offset, file size, virtual address.
    segments: Vec<(u64, u64, u64)>,
    /// Functions: virtual address, size, demangled name (without hash), sorted by address.
    symbols: Vec<(u64, u64, String)>,
}

/// The function symbols of every loaded ELF object that could be read.
#[derive(Debug, Default)]
pub(crate) struct SymbolTables {
    objects: Vec<Loaded>,
}

impl SymbolTables {
    /// Reads `/proc/self/maps` and the symbol tables of the mapped files. Anything unreadable is
    /// skipped: the result may be empty (other platforms, stripped binaries), never an error.
    pub(crate) fn load() -> SymbolTables {
        match std::fs::read_to_string("/proc/self/maps") {
            Ok(text) => SymbolTables::from_maps(&text),
            Err(_) => SymbolTables::default(),
        }
    }

    /// Reads the symbol tables of the objects a process has mapped, given its `/proc/PID/maps`
    /// text. Anything unreadable is skipped.
    pub(crate) fn from_maps(text: &str) -> SymbolTables {
        let mut out = SymbolTables::default();
        let Ok(maps) = crate::smaps::parse(text) else {
            return out;
        };
        let mut paths: Vec<&str> = Vec::new();
        for m in &maps {
            if let Some(p) = m.path.as_deref() {
                if p.starts_with('/') && m.perms.contains('x') && !paths.contains(&p) {
                    paths.push(p);
                }
            }
        }
        for path in paths {
            let mapped: Vec<(u64, u64, u64)> = maps
                .iter()
                .filter(|m| m.path.as_deref() == Some(path) && m.perms.contains('x'))
                .map(|m| (m.start, m.end, m.offset))
                .collect();
            if let Some(loaded) = read_object(path, mapped) {
                out.objects.push(loaded);
            }
        }
        out
    }

    /// The qualified name of the function containing runtime address `addr`, if a symbol covers it.
    pub(crate) fn name(&self, addr: u64) -> Option<&str> {
        let (o, vaddr) = self.locate(addr)?;
        let o = &self.objects[o];
        let i = o.symbols.partition_point(|(a, _, _)| *a <= vaddr);
        let (a, size, name) = o.symbols.get(i.checked_sub(1)?)?;
        if *size != 0 && vaddr - a >= *size {
            return None;
        }
        Some(name)
    }

    /// The object holding runtime address `addr` (an index) and the address in its own terms
    /// (the ELF virtual address that the debug info uses).
    fn locate(&self, addr: u64) -> Option<(usize, u64)> {
        for (i, o) in self.objects.iter().enumerate() {
            let Some(&(start, _, off)) = o.maps.iter().find(|(s, e, _)| addr >= *s && addr < *e)
            else {
                continue;
            };
            let fo = addr - start + off;
            let (so, _, va) = o
                .segments
                .iter()
                .find(|(so, sz, _)| fo >= *so && fo - so < *sz)?;
            return Some((i, fo - so + va));
        }
        None
    }

    /// The object file holding runtime address `addr` and the address in that file's terms.
    pub(crate) fn file_address(&self, addr: u64) -> Option<(&str, u64)> {
        let (i, vaddr) = self.locate(addr)?;
        Some((&self.objects[i].path, vaddr))
    }
}

fn read_object(path: &str, maps: Vec<(u64, u64, u64)>) -> Option<Loaded> {
    let data = std::fs::read(path).ok()?;
    let file = object::File::parse(&*data).ok()?;
    let segments = file
        .segments()
        .map(|s| {
            let (off, size) = s.file_range();
            (off, size, s.address())
        })
        .collect();
    let mut symbols: Vec<(u64, u64, String)> = file
        .symbols()
        .chain(file.dynamic_symbols())
        .filter(|s| s.kind() == SymbolKind::Text && s.is_definition() && s.address() != 0)
        .filter_map(|s| {
            let name = s.name().ok()?;
            Some((
                s.address(),
                s.size(),
                format!("{:#}", rustc_demangle::demangle(name)),
            ))
        })
        .collect();
    symbols.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
    symbols.dedup_by_key(|s| s.0);
    if symbols.is_empty() {
        return None;
    }
    Some(Loaded {
        path: path.to_owned(),
        maps,
        segments,
        symbols,
    })
}

/// True when `qualified` (from the symbol table) names the same function as the unqualified DWARF
/// name `bare`: its last path segment, generics aside, is `bare`'s.
pub(crate) fn names_agree(qualified: &str, bare: &str) -> bool {
    let stem = bare.split('<').next().unwrap_or(bare);
    if stem.is_empty() {
        return false;
    }
    if qualified == stem {
        return true;
    }
    qualified.match_indices(stem).any(|(i, _)| {
        let before_ok = qualified[..i].ends_with("::");
        let after = &qualified[i + stem.len()..];
        before_ok && (after.is_empty() || after.starts_with('<') || after.starts_with("::<"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_on_the_last_segment() {
        assert!(names_agree("app::cache::Cache::insert", "insert"));
        assert!(names_agree(
            "core::ptr::drop_in_place<alloc::vec::Vec<u8>>",
            "drop_in_place<alloc::vec::Vec<u8>>"
        ));
        assert!(names_agree("main", "main"));
        assert!(!names_agree("app::insert_all", "insert"));
        assert!(!names_agree("app::reinsert", "insert"));
        assert!(!names_agree("app::x", ""));
    }

    #[test]
    fn this_test_function_is_in_the_symbol_table() {
        let tables = SymbolTables::load();
        let addr = this_test_function_is_in_the_symbol_table as fn() as *const () as usize as u64;
        let name = tables.name(addr).unwrap_or_default();
        assert!(
            name.ends_with("this_test_function_is_in_the_symbol_table"),
            "{name:?}"
        );
        assert!(name.contains("::"), "{name:?}");
        assert_eq!(tables.name(0x10), None);
    }
}
