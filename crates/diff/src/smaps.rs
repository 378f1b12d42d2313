//! Memory maps of any process: `/proc/PID/smaps` parsed into [`Mapping`]s and diffed by kind.
//!
//! For processes that are not Rust or do not use leakproof's allocator, the kind of mapping that
//! grew says where to look: `[heap]` (brk heap: malloc's main arena), anonymous mappings (other
//! malloc arenas, large `mmap` allocations, JIT and GC heaps), file-backed mappings (loaded
//! libraries, mapped files) or stacks.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::{format_bytes, format_bytes_signed, DiffError};

/// What a mapping is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MapKind {
    /// The `[heap]` (brk) segment.
    Heap,
    /// Anonymous memory: no path, `[anon:name]`, `/memfd:`, SysV shared memory, `/dev/zero`.
    Anonymous,
    /// A mapped file.
    File,
    /// A thread stack (`[stack]`, `[stack:TID]`).
    Stack,
    /// Anything else: `[vdso]`, `[vvar]`, `[vsyscall]`, ...
    Other,
}

impl MapKind {
    /// All kinds, in the order diffs list them.
    pub const ALL: [MapKind; 5] = [
        MapKind::Heap,
        MapKind::Anonymous,
        MapKind::File,
        MapKind::Stack,
        MapKind::Other,
    ];

    /// The kind of a mapping with this path (`None` for no path).
    pub fn of(path: Option<&str>) -> MapKind {
        match path {
            None => MapKind::Anonymous,
            Some("[heap]") => MapKind::Heap,
            Some(p) if p == "[stack]" || p.starts_with("[stack:") => MapKind::Stack,
            Some(p) if p.starts_with("[anon") => MapKind::Anonymous,
            Some(p) if p.starts_with('[') => MapKind::Other,
            Some(p)
                if p.starts_with("/memfd:")
                    || p.starts_with("/SYSV")
                    || p.starts_with("/dev/zero")
                    || p.starts_with("/anon_hugepage") =>
            {
                MapKind::Anonymous
            }
            Some(_) => MapKind::File,
        }
    }

    /// Lower-case name: `heap`, `anonymous`, `file`, `stack`, `other`.
    pub fn name(self) -> &'static str {
        match self {
            MapKind::Heap => "heap",
            MapKind::Anonymous => "anonymous",
            MapKind::File => "file",
            MapKind::Stack => "stack",
            MapKind::Other => "other",
        }
    }
}

/// One mapping of a process, sizes in bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Permissions as the kernel prints them, e.g. `rw-p`.
    pub perms: String,
    /// Offset into the file.
    pub offset: u64,
    /// Path or pseudo-path (`[heap]`, `[stack]`, ...); `None` for anonymous memory.
    pub path: Option<String>,
    /// What the mapping is.
    pub kind: MapKind,
    /// Virtual size (`Size`).
    pub size: u64,
    /// Resident set (`Rss`).
    pub rss: u64,
    /// Proportional set (`Pss`).
    pub pss: u64,
    /// Private dirty pages (`Private_Dirty`).
    pub private_dirty: u64,
    /// Swapped out (`Swap`).
    pub swap: u64,
}

/// Reads and parses `/proc/PID/smaps`. A PID that does not exist (or exited) is
/// [`DiffError::ProcessGone`]; one that may not be read is [`DiffError::PermissionDenied`].
pub fn read(pid: u32) -> Result<Vec<Mapping>, DiffError> {
    let path = format!("/proc/{pid}/smaps");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            return Err(match e.kind() {
                std::io::ErrorKind::NotFound => DiffError::ProcessGone { pid },
                std::io::ErrorKind::PermissionDenied => DiffError::PermissionDenied { pid },
                // ESRCH: the process exited while we read it.
                _ if e.raw_os_error() == Some(3) => DiffError::ProcessGone { pid },
                _ => DiffError::Io {
                    path: path.into(),
                    source: e,
                },
            });
        }
    };
    parse(&text)
}

fn bad(line: usize, message: impl Into<String>) -> DiffError {
    DiffError::Smaps {
        line,
        message: message.into(),
    }
}

fn hex(s: &str, line: usize, what: &str) -> Result<u64, DiffError> {
    u64::from_str_radix(s, 16).map_err(|_| bad(line, format!("bad {what} {s:?}")))
}

/// A mapping header: `START-END PERMS OFFSET DEV INODE [PATH]`.
fn parse_header(l: &str, line: usize) -> Result<Mapping, DiffError> {
    let mut rest = l;
    let mut fields = [""; 5];
    for f in &mut fields {
        rest = rest.trim_start_matches(' ');
        let end = rest.find(' ').unwrap_or(rest.len());
        *f = &rest[..end];
        rest = &rest[end..];
    }
    let [range, perms, offset, dev, inode] = fields;
    if inode.is_empty() {
        return Err(bad(line, format!("expected a mapping header, got {l:?}")));
    }
    let (start, end) = range
        .split_once('-')
        .ok_or_else(|| bad(line, format!("bad address range {range:?}")))?;
    let (start, end) = (hex(start, line, "address")?, hex(end, line, "address")?);
    if end < start {
        return Err(bad(
            line,
            format!("address range {range:?} ends before it starts"),
        ));
    }
    if perms.len() != 4 || !dev.contains(':') || inode.parse::<u64>().is_err() {
        return Err(bad(line, format!("expected a mapping header, got {l:?}")));
    }
    let path = rest.trim();
    let path = (!path.is_empty()).then(|| path.to_owned());
    Ok(Mapping {
        start,
        end,
        perms: perms.to_owned(),
        offset: hex(offset, line, "offset")?,
        kind: MapKind::of(path.as_deref()),
        path,
        size: 0,
        rss: 0,
        pss: 0,
        private_dirty: 0,
        swap: 0,
    })
}

/// Parses the text of a `/proc/PID/smaps` file. Fields other than `Size`, `Rss`, `Pss`,
/// `Private_Dirty` and `Swap` are ignored; a header or `kB` value that cannot be read is
/// [`DiffError::Smaps`] with its line number.
pub fn parse(text: &str) -> Result<Vec<Mapping>, DiffError> {
    let mut out: Vec<Mapping> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        if l.trim().is_empty() {
            continue;
        }
        let field = l.split_once(':').filter(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        let Some((key, value)) = field else {
            out.push(parse_header(l, line)?);
            continue;
        };
        let Some(current) = out.last_mut() else {
            return Err(bad(
                line,
                format!("field {key:?} before any mapping header"),
            ));
        };
        let slot = match key {
            "Size" => &mut current.size,
            "Rss" => &mut current.rss,
            "Pss" => &mut current.pss,
            "Private_Dirty" => &mut current.private_dirty,
            "Swap" => &mut current.swap,
            _ => continue,
        };
        let v = value.trim();
        let num = v
            .strip_suffix("kB")
            .ok_or_else(|| bad(line, format!("{key}: expected a value in kB, got {v:?}")))?
            .trim();
        let kib: u64 = num
            .parse()
            .map_err(|_| bad(line, format!("{key}: bad number {num:?}")))?;
        *slot = kib
            .checked_mul(1024)
            .ok_or_else(|| bad(line, format!("{key}: {kib} kB overflows")))?;
    }
    Ok(out)
}

/// Totals over a set of mappings, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapTotals {
    /// Number of mappings.
    pub mappings: u64,
    /// Virtual size.
    pub size: u64,
    /// Resident.
    pub rss: u64,
    /// Proportional.
    pub pss: u64,
    /// Private dirty.
    pub private_dirty: u64,
    /// Swapped.
    pub swap: u64,
}

impl MapTotals {
    fn add(&mut self, m: &Mapping) {
        self.mappings += 1;
        self.size = self.size.saturating_add(m.size);
        self.rss = self.rss.saturating_add(m.rss);
        self.pss = self.pss.saturating_add(m.pss);
        self.private_dirty = self.private_dirty.saturating_add(m.private_dirty);
        self.swap = self.swap.saturating_add(m.swap);
    }

    /// Totals of `mappings`.
    pub fn of<'a>(mappings: impl IntoIterator<Item = &'a Mapping>) -> MapTotals {
        let mut t = MapTotals::default();
        for m in mappings {
            t.add(m);
        }
        t
    }
}

/// Old and new totals of one kind or one path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `heap`, `anonymous`, `file`, `stack`, `other`, or a path / pseudo-path (`[anonymous]` for
    /// unnamed anonymous memory).
    pub name: String,
    /// The kind (for a path, the kind of its mappings).
    pub kind: MapKind,
    /// Totals in the old read.
    pub old: MapTotals,
    /// Totals in the new read.
    pub new: MapTotals,
}

fn diff_u64(new: u64, old: u64) -> i64 {
    let d = i128::from(new) - i128::from(old);
    i64::try_from(d).unwrap_or(if d < 0 { i64::MIN } else { i64::MAX })
}

impl Change {
    /// New minus old resident bytes.
    pub fn rss_diff(&self) -> i64 {
        diff_u64(self.new.rss, self.old.rss)
    }
    /// New minus old proportional bytes.
    pub fn pss_diff(&self) -> i64 {
        diff_u64(self.new.pss, self.old.pss)
    }
    /// New minus old private dirty bytes.
    pub fn private_dirty_diff(&self) -> i64 {
        diff_u64(self.new.private_dirty, self.old.private_dirty)
    }
    /// New minus old swapped bytes.
    pub fn swap_diff(&self) -> i64 {
        diff_u64(self.new.swap, self.old.swap)
    }
    /// New minus old virtual size.
    pub fn size_diff(&self) -> i64 {
        diff_u64(self.new.size, self.old.size)
    }
}

/// The difference between two reads of one process's memory map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapDiff {
    /// One entry per [`MapKind`], in [`MapKind::ALL`] order.
    pub kinds: Vec<Change>,
    /// Per path (`[anonymous]` for unnamed memory), sorted by |RSS change| desc, then name.
    pub paths: Vec<Change>,
    /// All mappings.
    pub total: Change,
}

/// Diffs two reads of the same process, grouped by kind and by path.
pub fn diff(old: &[Mapping], new: &[Mapping]) -> MapDiff {
    let kinds = MapKind::ALL
        .iter()
        .map(|&k| Change {
            name: k.name().to_owned(),
            kind: k,
            old: MapTotals::of(old.iter().filter(|m| m.kind == k)),
            new: MapTotals::of(new.iter().filter(|m| m.kind == k)),
        })
        .collect();
    let mut by_path: HashMap<String, Change> = HashMap::new();
    for (maps, is_new) in [(old, false), (new, true)] {
        for m in maps {
            let name = m.path.clone().unwrap_or_else(|| "[anonymous]".to_owned());
            let c = by_path.entry(name.clone()).or_insert_with(|| Change {
                name,
                kind: m.kind,
                old: MapTotals::default(),
                new: MapTotals::default(),
            });
            if is_new {
                c.new.add(m);
            } else {
                c.old.add(m);
            }
        }
    }
    let mut paths: Vec<Change> = by_path.into_values().collect();
    paths.sort_by(|a, b| {
        b.rss_diff()
            .unsigned_abs()
            .cmp(&a.rss_diff().unsigned_abs())
            .then_with(|| b.new.rss.cmp(&a.new.rss))
            .then_with(|| a.name.cmp(&b.name))
    });
    MapDiff {
        kinds,
        paths,
        total: Change {
            name: "total".to_owned(),
            kind: MapKind::Other,
            old: MapTotals::of(old),
            new: MapTotals::of(new),
        },
    }
}

impl MapDiff {
    /// The kind whose resident memory grew most, if any grew.
    pub fn largest_growth(&self) -> Option<&Change> {
        self.kinds
            .iter()
            .filter(|c| c.rss_diff() > 0)
            .max_by_key(|c| (c.rss_diff(), std::cmp::Reverse(c.kind)))
    }

    /// A table by kind (RSS, PSS, private dirty, swap with their changes), the total, then the
    /// paths whose RSS changed most (at most 10).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<10} {:>22} {:>22} {:>22} {:>22}",
            "kind", "rss", "pss", "private_dirty", "swap"
        );
        let cell = |v: u64, d: i64| format!("{} ({})", format_bytes(v), format_bytes_signed(d));
        for c in self.kinds.iter().chain(std::iter::once(&self.total)) {
            let _ = writeln!(
                out,
                "{:<10} {:>22} {:>22} {:>22} {:>22}",
                c.name,
                cell(c.new.rss, c.rss_diff()),
                cell(c.new.pss, c.pss_diff()),
                cell(c.new.private_dirty, c.private_dirty_diff()),
                cell(c.new.swap, c.swap_diff()),
            );
        }
        let changed: Vec<&Change> = self
            .paths
            .iter()
            .filter(|c| c.rss_diff() != 0)
            .take(10)
            .collect();
        if !changed.is_empty() {
            out.push_str("largest changes:\n");
            for c in changed {
                let _ = writeln!(
                    out,
                    "  {} ({}): rss={} ({}), mappings={} ({})",
                    c.name,
                    c.kind.name(),
                    format_bytes(c.new.rss),
                    format_bytes_signed(c.rss_diff()),
                    c.new.mappings,
                    crate::format_count_signed(diff_u64(c.new.mappings, c.old.mappings)),
                );
            }
        }
        if let Some(g) = self.largest_growth() {
            let _ = writeln!(
                out,
                "grew most: {} ({})",
                g.name,
                format_bytes_signed(g.rss_diff())
            );
        } else {
            out.push_str("no resident growth\n");
        }
        out
    }
}
