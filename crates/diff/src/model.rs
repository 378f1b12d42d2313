//! The snapshot data model: sites with their tracebacks, serialized as versioned JSON.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{DiffError, Symbolizer};

/// The snapshot JSON format this crate reads and writes. Files with any other `version` are refused
/// with [`DiffError::UnsupportedVersion`].
pub const FORMAT_VERSION: u32 = 1;

/// Live allocations at one moment, grouped by the stack that allocated them.
///
/// Totals: [`Snapshot::from_ips`] sets `total_bytes`/`total_blocks` to the sums over `sites`, and
/// [`Snapshot::filter`] recomputes them the same way, so for snapshots made by this crate
/// `total_bytes == sites_bytes()`. A producer may set larger totals (memory it tracked but did not
/// attribute to a site); [`compare`](crate::compare) works on sites only, so its non-cumulative
/// `size_diff`s always add up to `new.sites_bytes() - old.sites_bytes()`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format version; [`FORMAT_VERSION`] for snapshots made by this crate.
    pub version: u32,
    /// Live bytes in the snapshot (see the type docs for how it relates to `sites`).
    pub total_bytes: u64,
    /// Live blocks (allocations) in the snapshot.
    pub total_blocks: u64,
    /// Allocation sites: one per distinct stack.
    pub sites: Vec<Site>,
    /// When it was taken, in milliseconds since the Unix epoch, if known.
    #[serde(default)]
    pub taken_at: Option<u64>,
    /// The workload iteration after which it was taken, if it was taken by a harness.
    #[serde(default)]
    pub iteration: Option<u64>,
    /// True once [`Snapshot::symbolize`] has run on it.
    #[serde(default)]
    pub symbolized: bool,
    /// True when the innermost address of each stack is an exact instruction address (a sampled
    /// program counter) rather than a return address. Stack walks, including leakproof's
    /// allocator capture and `backtrace::trace`, give return addresses only: `false`, the default.
    #[serde(default)]
    pub innermost_exact: bool,
}

/// One allocation site: a stack and the live memory it allocated.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Site {
    /// The stack, innermost (the allocator) first.
    pub frames: Vec<Frame>,
    /// Live bytes allocated from this stack.
    pub bytes: u64,
    /// Live blocks allocated from this stack.
    pub blocks: u64,
}

/// One frame of a traceback.
///
/// An unsymbolized frame has only `ip`. After symbolization a frame whose `function` and `file`
/// are both `None` is *unresolved* (the address belongs to no loaded object with symbols, e.g. a
/// snapshot taken by another binary). One instruction address can expand to several frames when
/// calls were inlined: all but the outermost of them have `inlined: true` and share the `ip`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// Instruction address as captured (a return address for all but the innermost frame).
    pub ip: Option<u64>,
    /// Demangled function name without the symbol hash, e.g. `myapp::cache::Cache::insert`.
    pub function: Option<String>,
    /// Source file as recorded in the debug info.
    pub file: Option<String>,
    /// Source line (1-based).
    pub line: Option<u32>,
    /// Source column (1-based).
    pub column: Option<u32>,
    /// True when this frame was inlined into the next (outer) frame.
    pub inlined: bool,
}

impl Frame {
    /// A frame known only by its address.
    pub fn from_ip(ip: u64) -> Frame {
        Frame {
            ip: Some(ip),
            ..Frame::default()
        }
    }

    /// A symbolized frame, handy in tests and when building snapshots by hand.
    pub fn at(function: &str, file: &str, line: u32) -> Frame {
        Frame {
            ip: None,
            function: Some(function.to_owned()),
            file: Some(file.to_owned()),
            line: Some(line),
            column: None,
            inlined: false,
        }
    }

    /// True when the frame has a function name or a file: symbolization found something.
    pub fn is_resolved(&self) -> bool {
        self.function.is_some() || self.file.is_some()
    }

    /// `file:line` with the file shortened by [`display_path`](crate::display_path), or the
    /// function, or the address, whichever is known first.
    pub fn location(&self) -> String {
        match (&self.file, self.line, &self.function, self.ip) {
            (Some(f), Some(l), _, _) => format!("{}:{l}", crate::attribution::short_path(f)),
            (Some(f), None, _, _) => crate::display_path(f),
            (None, _, Some(func), _) => func.clone(),
            (None, _, None, Some(ip)) => format!("{ip:#x}"),
            (None, _, None, None) => "<unknown>".to_owned(),
        }
    }
}

impl Default for Snapshot {
    /// [`Snapshot::empty`].
    fn default() -> Self {
        Snapshot::empty()
    }
}

/// Only the version, read first so a file of another version is refused before its body is parsed.
#[derive(Deserialize)]
struct VersionProbe {
    version: u64,
}

impl Snapshot {
    /// An empty snapshot of the current format.
    pub fn empty() -> Snapshot {
        Snapshot {
            version: FORMAT_VERSION,
            total_bytes: 0,
            total_blocks: 0,
            sites: Vec::new(),
            taken_at: None,
            iteration: None,
            symbolized: false,
            innermost_exact: false,
        }
    }

    /// Builds an unsymbolized snapshot from raw captured stacks `(ips innermost first, bytes, blocks)`,
    /// as the allocator's site capture produces them. Zero addresses (the end marker some
    /// unwinders report) are dropped. Identical stacks are merged; sites are
    /// ordered by bytes (largest first), then by stack, so equal input gives equal snapshots.
    pub fn from_ips<I: IntoIterator<Item = (Vec<u64>, u64, u64)>>(sites: I) -> Snapshot {
        let mut merged: HashMap<Vec<u64>, (u64, u64)> = HashMap::new();
        for (mut ips, bytes, blocks) in sites {
            ips.retain(|&ip| ip != 0);
            let e = merged.entry(ips).or_insert((0, 0));
            e.0 = e.0.saturating_add(bytes);
            e.1 = e.1.saturating_add(blocks);
        }
        let mut raw: Vec<(Vec<u64>, u64, u64)> =
            merged.into_iter().map(|(k, (b, n))| (k, b, n)).collect();
        raw.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let sites: Vec<Site> = raw
            .into_iter()
            .map(|(ips, bytes, blocks)| Site {
                frames: ips.into_iter().map(Frame::from_ip).collect(),
                bytes,
                blocks,
            })
            .collect();
        let mut s = Snapshot::empty();
        s.sites = sites;
        s.recompute_totals();
        s
    }

    /// Builds a snapshot from sites whose frames are already known (e.g. made by hand or in tests).
    /// Totals are the sums over the sites.
    pub fn from_sites(sites: Vec<Site>) -> Snapshot {
        let mut s = Snapshot::empty();
        s.sites = sites;
        s.recompute_totals();
        s
    }

    /// Sets `taken_at` to now and returns the snapshot.
    pub fn taken_now(mut self) -> Snapshot {
        self.taken_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Sets `iteration` and returns the snapshot.
    pub fn at_iteration(mut self, iteration: u64) -> Snapshot {
        self.iteration = Some(iteration);
        self
    }

    /// Sum of `bytes` over the sites (saturating).
    pub fn sites_bytes(&self) -> u64 {
        self.sites
            .iter()
            .fold(0u64, |acc, s| acc.saturating_add(s.bytes))
    }

    /// Sum of `blocks` over the sites (saturating).
    pub fn sites_blocks(&self) -> u64 {
        self.sites
            .iter()
            .fold(0u64, |acc, s| acc.saturating_add(s.blocks))
    }

    /// Sets `total_bytes` and `total_blocks` to the sums over the sites.
    pub fn recompute_totals(&mut self) {
        self.total_bytes = self.sites_bytes();
        self.total_blocks = self.sites_blocks();
    }

    /// Resolves every frame that has only an address into function, file and line, expanding
    /// inlined calls into several frames. Must run in the process that captured the addresses
    /// (addresses of another process or binary come out unresolved, never a panic).
    ///
    /// Idempotent: frames that are already resolved are left alone, and an unresolved frame
    /// resolves to the same unresolved frame again.
    pub fn symbolize(&mut self, symbolizer: &mut Symbolizer) {
        for site in &mut self.sites {
            if !site.frames.iter().any(needs_resolving) {
                continue;
            }
            let mut out = Vec::with_capacity(site.frames.len() + 4);
            for (i, frame) in site.frames.iter().enumerate() {
                match frame.ip {
                    Some(ip) if needs_resolving(frame) => {
                        // Return addresses are looked up at the call instruction; only an
                        // innermost address declared exact is looked up as it is.
                        let return_address = i != 0 || !self.innermost_exact;
                        out.extend(symbolizer.resolve(ip, return_address).iter().cloned());
                    }
                    _ => out.push(frame.clone()),
                }
            }
            site.frames = out;
        }
        self.symbolized = true;
    }

    /// Pretty JSON of this snapshot.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of integers, strings and options cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Parses a snapshot; refuses other format versions, truncated and malformed input with a
    /// typed error.
    pub fn from_json(text: &str) -> Result<Snapshot, DiffError> {
        let probe: VersionProbe = serde_json::from_str(text).map_err(DiffError::from_json)?;
        if probe.version != u64::from(FORMAT_VERSION) {
            return Err(DiffError::UnsupportedVersion {
                found: probe.version,
                supported: FORMAT_VERSION,
            });
        }
        serde_json::from_str(text).map_err(DiffError::from_json)
    }

    /// Reads a snapshot from a JSON file.
    pub fn load(path: impl AsRef<Path>) -> Result<Snapshot, DiffError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| DiffError::Io {
            path: path.to_owned(),
            source,
        })?;
        Snapshot::from_json(&text)
    }

    /// Writes this snapshot as JSON.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), DiffError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_json()).map_err(|source| DiffError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// The snapshot with only the sites the filters let through (tracemalloc's `filter_traces`):
    /// a site is kept when it matches at least one inclusive filter (if there are any) and no
    /// exclusive filter. Totals are recomputed from the kept sites, so they never grow.
    pub fn filter(&self, filters: &[crate::Filter]) -> Snapshot {
        self.filter_with(filters, &crate::Attribution::default())
    }

    /// [`Snapshot::filter`] with a custom [`Attribution`](crate::Attribution) deciding which frame
    /// of a site is its user frame (the frame filters look at unless `all_frames` is set).
    pub fn filter_with(
        &self,
        filters: &[crate::Filter],
        attribution: &crate::Attribution,
    ) -> Snapshot {
        let mut out = self.clone();
        out.sites
            .retain(|site| crate::filter::keep(site, filters, attribution));
        out.recompute_totals();
        out
    }
}

fn needs_resolving(f: &Frame) -> bool {
    f.ip.is_some() && f.function.is_none() && f.file.is_none()
}
