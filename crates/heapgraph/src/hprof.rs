//! HotSpot heap dumps (`JAVA PROFILE 1.0.2`, written by `GC.heap_dump`) read as a [`Graph`]: a
//! streaming reader of just the records a holder needs (strings, class loads, class dumps,
//! instance and array dumps, GC roots), in two passes over the file so that nothing but the graph
//! is kept: the first learns the classes' field layouts and the roots, the second the objects.
//!
//! The graph's roots are every class (its static fields are its edges) and a `(GC roots)` node
//! with an edge to every GC root, named by its kind. Node types are [`KINDS`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::graph::{Edge, EdgeKind, Graph, Node};

/// The node types of a dump's graph.
pub(crate) const KINDS: [&str; 5] = ["roots", "class", "instance", "array", "primitive array"];
const CLASS: u16 = 1;
const INSTANCE: u16 = 2;
const ARRAY: u16 = 3;
const PRIMITIVES: u16 = 4;

/// The longest UTF-8 record read (class, field and method names are far shorter).
const MAX_NAME: u64 = 1 << 16;

/// Why a heap dump could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DumpError {
    /// The file could not be read.
    #[error("cannot read the heap dump {path}: {source}")]
    Io {
        /// The dump.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a dump this reader knows.
    #[error("{path} is not an HPROF heap dump: {detail}")]
    Format {
        /// The dump.
        path: String,
        /// What was wrong.
        detail: String,
    },
}

/// A class from its class dump: its super class, its instance fields (own, in dump order) and
/// the objects its static fields point to.
#[derive(Debug, Default)]
struct Class {
    name: u32,
    super_id: u64,
    fields: Vec<(u32, u8)>,
    statics: Vec<(u32, u64)>,
}

/// The reader of one pass over the file.
struct Reader {
    input: BufReader<File>,
    id_size: u8,
    /// Bytes read or skipped so far.
    pos: u64,
}

impl Reader {
    fn fill(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        self.input.read_exact(buf)?;
        self.pos += buf.len() as u64;
        Ok(())
    }
    fn bytes<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }
    fn u1(&mut self) -> std::io::Result<u8> {
        Ok(self.bytes::<1>()?[0])
    }
    fn u2(&mut self) -> std::io::Result<u16> {
        Ok(u16::from_be_bytes(self.bytes()?))
    }
    fn u4(&mut self) -> std::io::Result<u32> {
        Ok(u32::from_be_bytes(self.bytes()?))
    }
    fn id(&mut self) -> std::io::Result<u64> {
        Ok(match self.id_size {
            4 => u64::from(self.u4()?),
            _ => u64::from_be_bytes(self.bytes()?),
        })
    }
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        let step = i64::try_from(n).map_err(|_| bad_data("a record too long"))?;
        self.input.seek_relative(step)?;
        self.pos += n;
        Ok(())
    }
    /// A value of basic type `t` (2: an object id): the id, or `None` for a primitive (skipped).
    fn value(&mut self, t: u8) -> std::io::Result<Option<u64>> {
        if t == 2 {
            return self.id().map(Some);
        }
        self.skip(u64::from(size_of(t, self.id_size)?))?;
        Ok(None)
    }
}

fn bad_data(detail: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, detail.to_owned())
}

/// The size in the dump of a value of basic type `t`.
fn size_of(t: u8, id_size: u8) -> std::io::Result<u32> {
    Ok(match t {
        2 => u32::from(id_size),
        4 | 8 => 1,
        5 | 9 => 2,
        6 | 10 => 4,
        7 | 11 => 8,
        _ => return Err(bad_data("an unknown basic type")),
    })
}

/// The Java name of a primitive array of basic type `t`.
fn primitive_array(t: u8) -> &'static str {
    match t {
        4 => "boolean[]",
        5 => "char[]",
        6 => "float[]",
        7 => "double[]",
        8 => "byte[]",
        9 => "short[]",
        10 => "int[]",
        _ => "long[]",
    }
}

/// The GC root kinds by sub-record tag, and the bytes after their id.
fn root(tag: u8) -> Option<(&'static str, u64)> {
    Some(match tag {
        0xff => ("unknown root", 0),
        0x01 => ("JNI global", u64::MAX), // one more id
        0x02 => ("JNI local", 8),
        0x04 => ("native stack", 4),
        0x05 => ("system class", 0),
        0x06 => ("thread block", 4),
        0x07 => ("monitor", 0),
        0x08 => ("thread", 8),
        _ => return None,
    })
}

/// What kind of GC root an object is.
enum Root {
    /// Named by its kind (`JNI global`, `system class`).
    Kind(&'static str),
    /// A local of frame `depth` of the thread with serial `thread`.
    Local { thread: u32, depth: u32 },
}

/// Everything one pass learns.
#[derive(Default)]
struct Dump {
    /// UTF-8 records by id (pass 1).
    utf8: HashMap<u64, String>,
    /// Class object id -> name string id (LOAD CLASS).
    class_names: HashMap<u64, u64>,
    classes: HashMap<u64, Class>,
    /// GC roots: the object and what kind of root it is.
    roots: Vec<(u64, Root)>,
    /// Class serial -> class object id (LOAD CLASS), for stack frames.
    class_serials: HashMap<u32, u64>,
    /// STACK FRAME: frame id -> method name id, source file id, class serial, line.
    frames: HashMap<u64, (u64, u64, u32, i32)>,
    /// STACK TRACE: each thread's frames, innermost first, by thread serial.
    traces: HashMap<u32, Vec<u64>>,
    /// The graph's strings, interned.
    strings: Vec<String>,
    interned: HashMap<String, u32>,
    /// Pass 2: each node's object id, and the edges with their target's object id.
    ids: Vec<u64>,
    graph: Graph,
    targets: Vec<u64>,
}

impl Dump {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.interned.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_owned());
        self.interned.insert(s.to_owned(), i);
        i
    }

    /// `local in Class.method, File.java:LINE` for a local of frame `depth` of thread `thread`.
    fn frame_label(&self, thread: u32, depth: u32) -> String {
        let frame = self.traces.get(&thread).and_then(|t| t.get(depth as usize));
        let Some(&(method, file, class, line)) = frame.and_then(|f| self.frames.get(f)) else {
            return "local variable".to_owned();
        };
        let text = |id: u64| self.utf8.get(&id).map_or("", String::as_str);
        let class = self
            .class_serials
            .get(&class)
            .and_then(|c| self.class_names.get(c));
        let class = dump_name(class.map_or("", |&c| text(c)));
        let class = class.rsplit('.').next().unwrap_or(&class);
        let place = match (text(file), line) {
            ("", _) => String::new(),
            (file, l) if l > 0 => format!(", {file}:{l}"),
            (file, _) => format!(", {file}"),
        };
        format!("local in {class}.{}{place}", text(method))
    }

    fn utf8_name(&mut self, id: u64) -> u32 {
        let name = self.utf8.get(&id).cloned().unwrap_or_default();
        self.intern(&name)
    }
}

/// The heap dump at `path` as a graph.
pub fn read(path: &Path) -> Result<Graph, DumpError> {
    let io = |source| DumpError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut dump = Dump::default();
    for pass in [1, 2] {
        let mut reader = open(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => DumpError::Format {
                path: path.display().to_string(),
                detail: e.to_string(),
            },
            _ => io(e),
        })?;
        walk(&mut reader, &mut dump, pass).map_err(|e| DumpError::Format {
            path: path.display().to_string(),
            detail: e.to_string(),
        })?;
    }
    Ok(finish(dump))
}

fn open(path: &Path) -> std::io::Result<Reader> {
    let mut input = BufReader::with_capacity(1 << 20, File::open(path)?);
    let mut magic = Vec::new();
    (&mut input).take(32).read_until_nul(&mut magic)?;
    if !magic.starts_with(b"JAVA PROFILE 1.0") {
        return Err(bad_data("no JAVA PROFILE header"));
    }
    let mut reader = Reader {
        input,
        id_size: 8,
        pos: 0,
    };
    let id_size = reader.u4()?;
    if id_size != 4 && id_size != 8 {
        return Err(bad_data("an identifier size other than 4 or 8"));
    }
    reader.id_size = id_size as u8;
    reader.skip(8)?; // time stamp
    Ok(reader)
}

/// Reads up to and including a NUL byte.
trait ReadUntilNul {
    fn read_until_nul(&mut self, out: &mut Vec<u8>) -> std::io::Result<()>;
}

impl<R: Read> ReadUntilNul for std::io::Take<R> {
    fn read_until_nul(&mut self, out: &mut Vec<u8>) -> std::io::Result<()> {
        let mut b = [0u8; 1];
        while self.read(&mut b)? == 1 && b[0] != 0 {
            out.push(b[0]);
        }
        Ok(())
    }
}

/// One pass over the top-level records.
fn walk(r: &mut Reader, dump: &mut Dump, pass: u8) -> std::io::Result<()> {
    loop {
        let tag = match r.u1() {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        r.skip(4)?; // time
        let length = u64::from(r.u4()?);
        match tag {
            0x01 if pass == 1 => {
                let id = r.id()?;
                let n = length
                    .checked_sub(u64::from(r.id_size))
                    .ok_or_else(|| bad_data("a short UTF-8 record"))?;
                if n > MAX_NAME {
                    r.skip(n)?; // not a name: a corrupt length, or a long string constant
                    continue;
                }
                let mut text = vec![0u8; n as usize];
                r.fill(&mut text)?;
                dump.utf8
                    .insert(id, String::from_utf8_lossy(&text).into_owned());
            }
            0x02 if pass == 1 => {
                let serial = r.u4()?;
                let class = r.id()?;
                r.skip(4)?;
                let name = r.id()?;
                dump.class_names.insert(class, name);
                dump.class_serials.insert(serial, class);
            }
            0x04 if pass == 1 => {
                let (frame, method, _, file) = (r.id()?, r.id()?, r.id()?, r.id()?);
                let (class, line) = (r.u4()?, r.u4()? as i32);
                dump.frames.insert(frame, (method, file, class, line));
            }
            0x05 if pass == 1 => {
                let (_, thread, n) = (r.u4()?, r.u4()?, r.u4()?);
                let frames = (0..n)
                    .map(|_| r.id())
                    .collect::<std::io::Result<Vec<u64>>>()?;
                if thread != 0 {
                    dump.traces.insert(thread, frames);
                }
            }
            0x0c | 0x1c => segment(r, dump, pass, length)?,
            _ => r.skip(length)?,
        }
    }
}

/// One heap dump segment: its sub-records, `length` bytes.
fn segment(r: &mut Reader, dump: &mut Dump, pass: u8, length: u64) -> std::io::Result<()> {
    let end = r.pos + length;
    let id = u64::from(r.id_size);
    while r.pos < end {
        let tag = r.u1()?;
        if tag == 0x03 {
            let (object, thread, depth) = (r.id()?, r.u4()?, r.u4()?);
            if pass == 1 {
                dump.roots.push((object, Root::Local { thread, depth }));
            }
            continue;
        }
        if let Some((kind, rest)) = root(tag) {
            let object = r.id()?;
            r.skip(if rest == u64::MAX { id } else { rest })?;
            if pass == 1 {
                dump.roots.push((object, Root::Kind(kind)));
            }
            continue;
        }
        match tag {
            0x20 => class_dump(r, dump, pass)?,
            0x21 => {
                let (object, _) = (r.id()?, r.skip(4)?);
                let class = r.id()?;
                let n = u64::from(r.u4()?);
                if pass == 2 {
                    instance(r, dump, object, class, n)?;
                } else {
                    r.skip(n)?;
                }
            }
            0x22 => {
                let (object, _) = (r.id()?, r.skip(4)?);
                let n = r.u4()?;
                let class = r.id()?;
                if pass == 2 {
                    object_array(r, dump, object, class, n)?;
                } else {
                    r.skip(u64::from(n) * id)?;
                }
            }
            0x23 => {
                let (object, _) = (r.id()?, r.skip(4)?);
                let n = r.u4()?;
                let t = r.u1()?;
                let bytes = u64::from(n) * u64::from(size_of(t, r.id_size)?);
                r.skip(bytes)?;
                if pass == 2 {
                    let name = dump.intern(primitive_array(t));
                    push(dump, object, PRIMITIVES, name, 16 + bytes, Vec::new());
                }
            }
            _ => return Err(bad_data("an unknown heap dump sub-record")),
        }
    }
    Ok(())
}

fn push(
    dump: &mut Dump,
    object: u64,
    kind: u16,
    name: u32,
    size: u64,
    edges: Vec<(EdgeKind, u32, u64)>,
) {
    dump.ids.push(object);
    let node = Node {
        id: object,
        kind,
        name,
        size,
    };
    let out = edges.into_iter().map(|(kind, name, to)| {
        dump.targets.push(to);
        Edge { kind, name, to: 0 }
    });
    let out: Vec<Edge> = out.collect();
    dump.graph.push(node, out);
}

/// A class dump: its layout (pass 1), its node with its static fields (pass 2).
fn class_dump(r: &mut Reader, dump: &mut Dump, pass: u8) -> std::io::Result<()> {
    let object = r.id()?;
    r.skip(4)?;
    let super_id = r.id()?;
    r.skip(5 * u64::from(r.id_size) + 4)?; // loader, signers, domain, 2 reserved; instance size
    for _ in 0..r.u2()? {
        r.skip(2)?;
        let t = r.u1()?;
        r.value(t)?;
    }
    let mut statics = Vec::new();
    for _ in 0..r.u2()? {
        let name = r.id()?;
        let t = r.u1()?;
        if let Some(to) = r.value(t)? {
            statics.push((name, to));
        }
    }
    let mut fields = Vec::new();
    for _ in 0..r.u2()? {
        fields.push((r.id()?, r.u1()?));
    }
    if pass == 1 {
        let name_id = dump.class_names.get(&object).copied().unwrap_or(0);
        let name = dump
            .utf8
            .get(&name_id)
            .map_or_else(String::new, |n| dump_name(n));
        let class = Class {
            name: dump.intern(&name),
            super_id,
            fields: fields
                .into_iter()
                .map(|(n, t)| (dump.utf8_name(n), t))
                .collect(),
            statics: statics
                .into_iter()
                .map(|(n, to)| (dump.utf8_name(n), to))
                .collect(),
        };
        dump.classes.insert(object, class);
    } else if let Some(class) = dump.classes.get(&object) {
        let (name, edges) = (class.name, class.statics.iter());
        let edges = edges.map(|&(n, to)| (EdgeKind::Static, n, to)).collect();
        push(dump, object, CLASS, name, 0, edges);
    }
    Ok(())
}

/// An instance dump: its fields' values, the class's own first, then its super classes'.
fn instance(
    r: &mut Reader,
    dump: &mut Dump,
    object: u64,
    class: u64,
    n: u64,
) -> std::io::Result<()> {
    let mut edges = Vec::new();
    let mut left = n;
    let mut at = class;
    while let Some(c) = dump.classes.get(&at) {
        for &(name, t) in &c.fields {
            let size = u64::from(size_of(t, r.id_size)?);
            left = left
                .checked_sub(size)
                .ok_or_else(|| bad_data("an instance shorter than its class"))?;
            if let Some(to) = r.value(t)? {
                edges.push((EdgeKind::Property, name, to));
            }
        }
        at = c.super_id;
    }
    r.skip(left)?;
    let name = dump.classes.get(&class).map_or(0, |c| c.name);
    push(dump, object, INSTANCE, name, 16 + n, edges);
    Ok(())
}

fn object_array(
    r: &mut Reader,
    dump: &mut Dump,
    object: u64,
    class: u64,
    n: u32,
) -> std::io::Result<()> {
    let mut edges = Vec::with_capacity(n.min(1 << 16) as usize);
    for i in 0..n {
        edges.push((EdgeKind::Element, i, r.id()?));
    }
    let name = dump.classes.get(&class).map_or(0, |c| c.name);
    let size = 16 + u64::from(n) * u64::from(r.id_size);
    push(dump, object, ARRAY, name, size, edges);
    Ok(())
}

/// Resolves the edges' object ids to nodes (dropping nulls and dangling ids) and adds the
/// `(GC roots)` node.
fn finish(mut dump: Dump) -> Graph {
    let mut index: Vec<(u64, u32)> = dump
        .ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i as u32))
        .collect();
    index.sort_unstable();
    let find = |id: u64| {
        index
            .binary_search_by_key(&id, |p| p.0)
            .ok()
            .map(|i| index[i].1)
    };
    let mut graph = Graph::with_capacity(
        dump.ids.len() + 1,
        dump.graph.edges.len() + dump.roots.len(),
    );
    for n in 0..dump.graph.nodes.len() as u32 {
        let first = dump.graph.first_edge(n);
        let edges = dump
            .graph
            .edges_of(n)
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let to = find(dump.targets[first + i])?;
                Some(Edge { to, ..*e })
            });
        let edges: Vec<Edge> = edges.collect();
        graph.push(dump.graph.nodes[n as usize], edges);
    }
    let mut roots: Vec<Edge> = Vec::new();
    for (object, kind) in std::mem::take(&mut dump.roots) {
        if let Some(to) = find(object) {
            let label = match kind {
                Root::Kind(kind) => kind.to_owned(),
                Root::Local { thread, depth } => dump.frame_label(thread, depth),
            };
            let name = dump.intern(&label);
            roots.push(Edge {
                kind: EdgeKind::Variable,
                name,
                to,
            });
        }
    }
    let root = graph.nodes.len() as u32;
    let name = dump.intern("(GC roots)");
    graph.push(
        Node {
            id: 0,
            kind: 0,
            name,
            size: 0,
        },
        roots,
    );
    // Classes first: a static field names a holder better than a thread's local that also
    // points to it, at the same distance.
    let classes = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.kind == CLASS);
    graph.roots = classes.map(|(i, _)| i as u32).collect();
    graph.roots.push(root);
    graph.kinds = KINDS.iter().map(|k| (*k).to_owned()).collect();
    graph.strings = dump.strings;
    graph
}

/// A class name as the dump spells it (`java/util/ArrayList`, `[B`, `[Ljava/lang/Object;`) as
/// Java source does (`java.util.ArrayList`, `byte[]`, `java.lang.Object[]`).
pub(crate) fn dump_name(name: &str) -> String {
    crate::java::java_name(&name.replace('/', "."))
}

#[cfg(test)]
#[path = "hprof_tests.rs"]
mod tests;
