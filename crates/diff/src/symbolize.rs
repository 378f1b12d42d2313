//! Instruction addresses to functions, files and lines, with a per-address cache.

use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::OnceLock;

use crate::symtab::{names_agree, SymbolTables};
use crate::Frame;

/// Resolves instruction addresses of *this* process into [`Frame`]s, once per distinct address.
///
/// Built on [`backtrace::resolve`], which reads the DWARF line tables of every loaded object
/// (through `gimli`/`addr2line`), including inlined-call information, and demangles names.
/// Works with full debug info and with `debug = "line-tables-only"` / `debug = 1`; without any
/// debug info it still gives function names from the symbol table. Line-tables-only DWARF names
/// functions without their path (`insert`); for the outermost frame of an address the full path
/// is then taken from the ELF symbol table (read once per process, Linux), while inlined frames
/// keep the short name.
///
/// Return addresses: the frames of a stack walk hold the address *after* each call. Such an
/// address is looked up one byte earlier, inside the call instruction, so the line is the call's
/// line (and never the next function when the call is a function's last instruction). Every
/// address of a stack walk is a return address, the innermost included (leakproof's allocator
/// capture drops its own frames, so its innermost address is the return into the allocating
/// code); only a sampled program counter is exact, which a snapshot declares with
/// [`Snapshot::innermost_exact`](crate::Snapshot::innermost_exact).
/// [`Snapshot::symbolize`](crate::Snapshot::symbolize) applies this rule; [`Symbolizer::resolve`]
/// takes it as an argument.
#[derive(Debug, Default)]
pub struct Symbolizer {
    cache: HashMap<(u64, bool), Vec<Frame>>,
    lookups: u64,
}

/// Loaded once per process, on the first unqualified Rust name (line-tables-only debug info).
static SYMTAB: OnceLock<SymbolTables> = OnceLock::new();

impl Symbolizer {
    /// A symbolizer with an empty cache.
    pub fn new() -> Symbolizer {
        Symbolizer::default()
    }

    /// The frames at `ip`, innermost (most deeply inlined) first; all but the last have
    /// `inlined: true`. `return_address` says `ip` came from a stack walk (see the type docs).
    /// An address that resolves to nothing gives one unresolved frame (only `ip` set).
    pub fn resolve(&mut self, ip: u64, return_address: bool) -> &[Frame] {
        let lookups = &mut self.lookups;
        self.cache.entry((ip, return_address)).or_insert_with(|| {
            *lookups += 1;
            lookup(ip, return_address)
        })
    }

    /// Resolves a whole stack of return addresses (innermost first) into frames, innermost first.
    pub fn resolve_stack(&mut self, ips: &[u64]) -> Vec<Frame> {
        let mut out = Vec::with_capacity(ips.len());
        for &ip in ips {
            out.extend(self.resolve(ip, true).iter().cloned());
        }
        out
    }

    /// Number of distinct addresses cached.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Number of lookups that missed the cache and went to the debug info.
    pub fn lookups(&self) -> u64 {
        self.lookups
    }
}

fn lookup(ip: u64, return_address: bool) -> Vec<Frame> {
    let unresolved = || vec![Frame::from_ip(ip)];
    // `backtrace::resolve` always looks up `addr - 1` (it assumes a return address), so a return
    // address is passed unchanged and an exact address is passed as `ip + 1`.
    let addr = if return_address {
        Some(ip)
    } else {
        ip.checked_add(1)
    };
    let Some(addr) = addr
        .filter(|&a| a > 1)
        .and_then(|a| usize::try_from(a).ok())
    else {
        return unresolved();
    };
    let mut frames = Vec::new();
    // The address is only used as a lookup key: nothing is dereferenced.
    backtrace::resolve(addr as *mut c_void, |sym| {
        let function = sym.name().map(|n| format!("{n:#}"));
        let file = sym.filename().map(|p| p.to_string_lossy().into_owned());
        frames.push(Frame {
            ip: Some(ip),
            function,
            file,
            line: sym.lineno(),
            column: sym.colno(),
            inlined: true,
        });
    });
    frames.retain(Frame::is_resolved);
    let Some(outer) = frames.last_mut() else {
        return unresolved();
    };
    outer.inlined = false;
    // Line-tables-only debug info names functions without their path; the symbol table has the
    // full name of the outermost (not inlined) function. Inlined frames keep the short name.
    let bare_rust = outer
        .function
        .as_deref()
        .is_some_and(|f| !f.split('<').next().unwrap_or(f).contains("::"))
        && outer.file.as_deref().is_some_and(|f| f.ends_with(".rs"));
    if bare_rust {
        let tables = SYMTAB.get_or_init(SymbolTables::load);
        // The address backtrace looked up (it subtracts one).
        if let Some(q) = tables.name(addr as u64 - 1) {
            if outer.function.as_deref().is_some_and(|b| names_agree(q, b)) {
                outer.function = Some(q.to_owned());
            }
        }
    }
    frames
}
