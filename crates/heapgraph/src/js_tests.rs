//! Holders of small hand-written V8 heap snapshots, read from files the way node writes them.

use std::time::{Duration, Instant};

use super::*;
use crate::v8;

/// One node of a snapshot: type, name, id, and edges (type, name or index, target node).
type Spec<'a> = (&'a str, &'a str, u32, &'a [(&'a str, &'a str, usize)]);

const NODE_TYPES: [&str; 10] = [
    "hidden",
    "array",
    "string",
    "object",
    "code",
    "closure",
    "regexp",
    "number",
    "native",
    "synthetic",
];
const EDGE_TYPES: [&str; 7] = [
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
];

/// A `.heapsnapshot` of `nodes` with node_fields in an order of its own (read from the meta).
fn snapshot(nodes: &[Spec]) -> String {
    let mut strings: Vec<String> = Vec::new();
    let mut intern = |s: &str| -> u32 {
        match strings.iter().position(|x| x == s) {
            Some(i) => i as u32,
            None => {
                strings.push(s.to_owned());
                strings.len() as u32 - 1
            }
        }
    };
    let (mut flat_nodes, mut flat_edges) = (Vec::new(), Vec::new());
    for (kind, name, id, edges) in nodes {
        let kind = NODE_TYPES.iter().position(|k| k == kind).unwrap();
        // node_fields: name, type, edge_count, id, self_size (not V8's order).
        flat_nodes.extend([intern(name), kind as u32, edges.len() as u32, *id, 16]);
        for (etype, ename, to) in *edges {
            let t = EDGE_TYPES.iter().position(|k| k == etype).unwrap();
            let name = match *etype {
                "element" | "hidden" => ename.parse().unwrap(),
                _ => intern(ename),
            };
            flat_edges.extend([t as u32, name, (*to * 5) as u32]);
        }
    }
    serde_json::json!({
        "snapshot": {
            "meta": {
                "node_fields": ["name", "type", "edge_count", "id", "self_size"],
                "node_types": ["string", NODE_TYPES, "number", "number", "number"],
                "edge_fields": ["type", "name_or_index", "to_node"],
                "edge_types": [EDGE_TYPES, "string_or_number", "node"],
                "location_fields": ["object_index", "script_id", "line", "column"],
            },
            "node_count": nodes.len(),
        },
        "nodes": flat_nodes,
        "edges": flat_edges,
        "locations": [2 * 5, 1, 35, 4],
        "strings": strings,
    })
    .to_string()
}

/// The holders of the snapshot of `nodes`, the nodes with ids below 100 being old.
fn holders_of(nodes: &[Spec]) -> Vec<Holder> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1-after.heapsnapshot");
    std::fs::write(&path, snapshot(nodes)).unwrap();
    let mut before = v8::read_ids(&path).unwrap();
    before.retain(|&id| id < 100);
    let graph = v8::read_graph(&path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    new_object_holders(&graph, &before, "/agent/agent.js", deadline)
}

#[test]
fn a_module_variable_is_named_with_its_file_and_weak_holders_are_not() {
    let nodes: &[Spec] = &[
        (
            "synthetic",
            "",
            1,
            &[("element", "1", 1), ("weak", "w", 12)],
        ),
        ("synthetic", "(GC roots)", 3, &[("element", "0", 2)]),
        (
            "closure",
            "handler",
            5,
            &[
                ("internal", "context", 3),
                ("internal", "shared", 4),
                ("property", "__proto__", 11),
            ],
        ),
        (
            "object",
            "system / Context",
            7,
            &[("internal", "previous", 6), ("context", "history", 7)],
        ),
        (
            "code",
            "handler",
            9,
            &[("internal", "script_or_debug_info", 5)],
        ),
        ("code", "/app/server.js", 11, &[]),
        ("hidden", "system / NativeContext", 13, &[]),
        ("object", "Array", 15, &[("internal", "elements", 8)]),
        (
            "array",
            "(object elements)",
            17,
            &[("element", "0", 9), ("element", "1", 10)],
        ),
        ("string", "page one", 101, &[]),
        ("string", "page two", 103, &[]),
        ("object", "Object", 19, &[]),
        ("object", "Cache", 21, &[("property", "items", 13)]),
        (
            "object",
            "Array",
            105,
            &[("element", "0", 14), ("element", "1", 15)],
        ),
        ("string", "weakly held", 107, &[]),
        ("string", "weakly held too", 109, &[]),
    ];
    let holders = holders_of(nodes);
    assert_eq!(holders.len(), 1, "{holders:#?}");
    let h = &holders[0];
    assert_eq!(h.name, "history (Array) in server.js's module scope");
    assert_eq!(h.object, "string");
    assert_eq!(h.count, Some(2));
    assert_eq!(
        h.path,
        vec![
            "(root)",
            "[1] -> (GC roots)",
            "[0] -> function handler server.js:36",
            ".context -> system / Context",
            "history (variable) -> Array",
            ".elements -> (object elements)",
            "[0] -> (string)",
        ]
    );
}

#[test]
fn a_property_chain_from_the_global_object_is_spelled_with_dots() {
    let nodes: &[Spec] = &[
        ("synthetic", "", 1, &[("element", "1", 1)]),
        ("synthetic", "(GC roots)", 3, &[("element", "0", 2)]),
        ("object", "global", 5, &[("property", "cache", 3)]),
        ("object", "Object", 7, &[("property", "pages", 4)]),
        ("object", "Map", 9, &[("internal", "table", 5)]),
        (
            "array",
            "(object elements)",
            11,
            &[
                ("element", "0", 6),
                ("element", "1", 7),
                ("element", "2", 8),
            ],
        ),
        ("object", "Page", 101, &[("property", "__proto__", 9)]),
        ("object", "Page", 103, &[("property", "__proto__", 9)]),
        ("object", "Page", 105, &[("property", "__proto__", 9)]),
        ("object", "Object", 13, &[]),
    ];
    let holders = holders_of(nodes);
    let names: Vec<(&str, &str, Option<u64>)> = holders
        .iter()
        .map(|h| (h.object.as_str(), h.name.as_str(), h.count))
        .collect();
    assert_eq!(names, vec![("Page", "global.cache.pages (Map)", Some(3))]);
}

#[test]
fn a_file_that_is_not_a_snapshot_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.heapsnapshot");
    std::fs::write(&path, r#"{"snapshot":{"meta":{}},"nodes":[]}"#).unwrap();
    assert!(v8::read_ids(&path).is_err());
    std::fs::write(&path, "[1, 2").unwrap();
    assert!(v8::read_graph(&path).is_err());
    let bad = snapshot(&[("synthetic", "", 1, &[("element", "0", 7)])]);
    std::fs::write(&path, bad).unwrap();
    let e = v8::read_graph(&path).unwrap_err().to_string();
    assert!(e.contains("past the nodes array"), "{e}");
}

#[test]
fn a_property_of_a_function_is_spelled_after_the_function() {
    let nodes: &[Spec] = &[
        ("synthetic", "", 1, &[("element", "1", 1)]),
        ("synthetic", "(GC roots)", 3, &[("element", "0", 2)]),
        ("closure", "remember", 5, &[("property", "seen", 3)]),
        ("object", "Array", 7, &[("internal", "elements", 4)]),
        (
            "array",
            "(object elements)",
            9,
            &[("element", "0", 5), ("element", "1", 6)],
        ),
        ("object", "Page", 101, &[]),
        ("object", "Page", 103, &[]),
    ];
    let holders = holders_of(nodes);
    let names: Vec<&str> = holders.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, vec!["remember.seen (Array)"]);
}
