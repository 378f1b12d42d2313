//! V8's `.heapsnapshot` files (written by `v8.writeHeapSnapshot`): read as a [`Graph`], with the
//! field layout taken from the file's own `snapshot.meta`, streamed from the file (no second copy
//! of its text in memory).

use std::fmt;
use std::io::BufReader;
use std::path::Path;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use super::graph::{Edge, EdgeKind, Graph, Node};

/// Why a heap snapshot could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The snapshot.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a snapshot this reader knows.
    #[error("{path} is not a V8 heap snapshot: {detail}")]
    Format {
        /// The snapshot.
        path: String,
        /// What was wrong.
        detail: String,
    },
}

/// The numbers of a flat array, as `u32` (a larger number, which V8 writes only for the ids of
/// embedder nodes, saturates).
#[derive(Debug, Default)]
struct Numbers(Vec<u32>);

impl<'de> Deserialize<'de> for Numbers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Numbers, D::Error> {
        struct Flat;
        impl<'de> Visitor<'de> for Flat {
            type Value = Numbers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of numbers")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Numbers, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(n) = seq.next_element::<u64>()? {
                    out.push(u32::try_from(n).unwrap_or(u32::MAX));
                }
                Ok(Numbers(out))
            }
        }
        d.deserialize_seq(Flat)
    }
}

#[derive(Debug, Deserialize)]
struct Header {
    meta: Meta,
}

#[derive(Debug, Deserialize)]
struct Meta {
    node_fields: Vec<String>,
    node_types: Vec<serde_json::Value>,
    edge_fields: Vec<String>,
    edge_types: Vec<serde_json::Value>,
    #[serde(default)]
    location_fields: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Whole {
    snapshot: Header,
    nodes: Numbers,
    edges: Numbers,
    #[serde(default)]
    locations: Numbers,
    strings: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct IdsOnly {
    snapshot: Header,
    nodes: Numbers,
}

/// Where each field of a node and an edge is, from `meta`.
struct Layout {
    node_width: usize,
    node_type: usize,
    node_name: usize,
    node_id: usize,
    node_size: usize,
    node_edges: usize,
    edge_width: usize,
    edge_type: usize,
    edge_name: usize,
    edge_to: usize,
    node_types: Vec<String>,
    edge_kinds: Vec<(EdgeKind, bool)>,
    /// `locations`' width and where its node (`object_index`) and 0-based line are.
    location: Option<(usize, usize, usize)>,
}

impl Layout {
    fn of(meta: &Meta) -> Result<Layout, String> {
        let at = |fields: &[String], name: &str| {
            fields
                .iter()
                .position(|f| f == name)
                .ok_or_else(|| format!("no `{name}` in snapshot.meta"))
        };
        let types = |v: &[serde_json::Value]| -> Vec<String> {
            v.first()
                .and_then(|t| t.as_array())
                .map(|t| {
                    t.iter()
                        .map(|s| s.as_str().unwrap_or("").to_owned())
                        .collect()
                })
                .unwrap_or_default()
        };
        let (nf, ef) = (&meta.node_fields, &meta.edge_fields);
        let node_type = at(nf, "type")?;
        let edge_type = at(ef, "type")?;
        Ok(Layout {
            node_width: nf.len(),
            node_type,
            node_name: at(nf, "name")?,
            node_id: at(nf, "id")?,
            node_size: at(nf, "self_size")?,
            node_edges: at(nf, "edge_count")?,
            edge_width: ef.len(),
            edge_type,
            edge_name: at(ef, "name_or_index")?,
            edge_to: at(ef, "to_node")?,
            node_types: types(meta.node_types.get(node_type..).unwrap_or_default()),
            edge_kinds: types(meta.edge_types.get(edge_type..).unwrap_or_default())
                .iter()
                .map(|t| edge_kind(t))
                .collect(),
            location: at(&meta.location_fields, "object_index")
                .and_then(|o| {
                    Ok((
                        meta.location_fields.len(),
                        o,
                        at(&meta.location_fields, "line")?,
                    ))
                })
                .ok(),
        })
    }
}

/// An edge type's kind, and whether its `name_or_index` is a string.
fn edge_kind(name: &str) -> (EdgeKind, bool) {
    match name {
        "context" => (EdgeKind::Variable, true),
        "element" => (EdgeKind::Element, false),
        "property" | "shortcut" => (EdgeKind::Property, true),
        "hidden" => (EdgeKind::Internal, false),
        "weak" => (EdgeKind::Weak, true),
        _ => (EdgeKind::Internal, true),
    }
}

fn open(path: &Path) -> Result<BufReader<std::fs::File>, SnapshotError> {
    let file = std::fs::File::open(path).map_err(|source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

fn format(path: &Path, detail: impl ToString) -> SnapshotError {
    SnapshotError::Format {
        path: path.display().to_string(),
        detail: detail.to_string(),
    }
}

/// The ids of every node of the snapshot at `path`, sorted (edges and strings are skipped).
pub fn read_ids(path: &Path) -> Result<Vec<u32>, SnapshotError> {
    let file: IdsOnly = serde_json::from_reader(open(path)?).map_err(|e| format(path, e))?;
    let layout = Layout::of(&file.snapshot.meta).map_err(|e| format(path, e))?;
    let mut ids: Vec<u32> = file
        .nodes
        .0
        .chunks_exact(layout.node_width)
        .map(|n| n[layout.node_id])
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// The snapshot at `path` as a graph rooted at its first node (V8's synthetic root).
pub fn read_graph(path: &Path) -> Result<Graph, SnapshotError> {
    let file: Whole = serde_json::from_reader(open(path)?).map_err(|e| format(path, e))?;
    let layout = Layout::of(&file.snapshot.meta).map_err(|e| format(path, e))?;
    build(file, &layout).map_err(|e| format(path, e))
}

fn build(file: Whole, l: &Layout) -> Result<Graph, String> {
    let (nodes, edges) = (&file.nodes.0, &file.edges.0);
    let count = nodes.len() / l.node_width;
    let mut graph = Graph::with_capacity(count, edges.len() / l.edge_width.max(1));
    let mut next = 0usize;
    for raw in nodes.chunks_exact(l.node_width) {
        let n = raw[l.node_edges] as usize;
        let mine = edges
            .get(next * l.edge_width..(next + n) * l.edge_width)
            .ok_or("edge_count past the edges array")?;
        next += n;
        let out = mine.chunks_exact(l.edge_width).map(|e| {
            let (kind, named) = l
                .edge_kinds
                .get(e[l.edge_type] as usize)
                .copied()
                .unwrap_or((EdgeKind::Internal, false));
            Edge {
                kind,
                name: if named || kind == EdgeKind::Element {
                    e[l.edge_name]
                } else {
                    u32::MAX
                },
                to: e[l.edge_to] / l.node_width as u32,
            }
        });
        let node = Node {
            id: u64::from(raw[l.node_id]),
            kind: u16::try_from(raw[l.node_type]).unwrap_or(u16::MAX),
            name: raw[l.node_name],
            size: u64::from(raw[l.node_size]),
        };
        graph.push(node, out);
    }
    if graph.edges.iter().any(|e| e.to as usize >= count) {
        return Err("an edge to a node past the nodes array".to_owned());
    }
    if let Some((width, node, line)) = l.location {
        for loc in file.locations.0.chunks_exact(width) {
            let n = loc[node] / l.node_width as u32;
            graph.lines.insert(n, loc[line].saturating_add(1));
        }
    }
    graph.kinds = l.node_types.clone();
    graph.strings = file.strings;
    if count > 0 {
        graph.roots = vec![0];
    }
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EDGE_TYPES: [&str; 7] = [
        "context", "element", "property", "internal", "hidden", "shortcut", "weak",
    ];

    /// A snapshot of `nodes` (each a list of edges: type index, target) whose node and edge
    /// fields are in the orders `node_order` and `edge_order`, with a field V8 has and this
    /// reader ignores.
    fn snapshot(nodes: &[Vec<(usize, u32)>], node_order: &[usize], edge_order: &[usize]) -> String {
        let node_fields = [
            "type",
            "name",
            "id",
            "self_size",
            "edge_count",
            "trace_node_id",
        ];
        let edge_fields = ["type", "name_or_index", "to_node"];
        let (mut flat_nodes, mut flat_edges) = (Vec::new(), Vec::new());
        for (i, edges) in nodes.iter().enumerate() {
            let values = [3, 0, 2 * i as u64 + 1, 10 + i as u64, edges.len() as u64, 0];
            flat_nodes.extend(node_order.iter().map(|&f| values[f]));
            for &(t, to) in edges {
                let values = [t as u64, 0, u64::from(to) * node_fields.len() as u64];
                flat_edges.extend(edge_order.iter().map(|&f| values[f]));
            }
        }
        let types = |fields: &[&str], order: &[usize], enumerated: serde_json::Value| {
            let v: Vec<serde_json::Value> = order
                .iter()
                .map(|&f| match fields[f] {
                    "type" => enumerated.clone(),
                    _ => serde_json::json!("number"),
                })
                .collect();
            v
        };
        serde_json::json!({
            "snapshot": { "meta": {
                "node_fields": node_order.iter().map(|&f| node_fields[f]).collect::<Vec<_>>(),
                "node_types": types(&node_fields, node_order, serde_json::json!(["hidden", "array", "string", "object"])),
                "edge_fields": edge_order.iter().map(|&f| edge_fields[f]).collect::<Vec<_>>(),
                "edge_types": types(&edge_fields, edge_order, serde_json::json!(EDGE_TYPES)),
            }},
            "nodes": flat_nodes,
            "edges": flat_edges,
            "strings": ["name"],
        })
        .to_string()
    }

    proptest! {
        #[test]
        fn any_field_order_in_meta_reads_the_same_graph(
            raw in proptest::collection::vec(proptest::collection::vec((0usize..7, 0u32..12), 0..5), 1..12),
            node_order in Just((0..6).collect::<Vec<usize>>()).prop_shuffle(),
            edge_order in Just((0..3).collect::<Vec<usize>>()).prop_shuffle(),
        ) {
            let n = raw.len() as u32;
            let nodes: Vec<Vec<(usize, u32)>> = raw
                .into_iter()
                .map(|edges| edges.into_iter().map(|(t, to)| (t, to % n)).collect())
                .collect();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.heapsnapshot");
            std::fs::write(&path, snapshot(&nodes, &node_order, &edge_order)).unwrap();
            let graph = read_graph(&path).unwrap();
            prop_assert_eq!(graph.nodes.len(), nodes.len());
            let ids: Vec<u32> = (0..n).map(|i| 2 * i + 1).collect();
            prop_assert_eq!(read_ids(&path).unwrap(), ids);
            for (i, edges) in nodes.iter().enumerate() {
                let node = graph.nodes[i];
                prop_assert_eq!((node.id, node.size, graph.kind(i as u32)), (2 * i as u64 + 1, 10 + i as u64, "object"));
                let read: Vec<(EdgeKind, u32)> =
                    graph.edges_of(i as u32).iter().map(|e| (e.kind, e.to)).collect();
                let want: Vec<(EdgeKind, u32)> =
                    edges.iter().map(|&(t, to)| (edge_kind(EDGE_TYPES[t]).0, to)).collect();
                prop_assert_eq!(read, want);
            }
        }
    }
}
