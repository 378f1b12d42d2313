//! A heap as a graph, whatever runtime wrote it: nodes (an id, a type, a self size), named edges,
//! roots; the shortest paths from the roots (breadth first, weak edges skipped), and the objects
//! of a target set counted by what holds them.

use std::collections::HashMap;
use std::time::Instant;

/// What an edge is, the way the heap's format says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum EdgeKind {
    /// A named property or instance field: `obj.name`.
    Property,
    /// An element of an array: `arr[i]`.
    Element,
    /// A variable of a scope (V8 context), or a local of a thread's frame (HPROF).
    Variable,
    /// A static field of a class.
    Static,
    /// An engine's own link (`elements`, `map`, `table`): followed, not spelled.
    Internal,
    /// A weak reference: never followed (it keeps nothing alive).
    Weak,
}

/// One object of the heap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    /// Its id in the heap file (stable across V8 snapshots of one process).
    pub(crate) id: u64,
    /// Its type, an index into [`Graph::kinds`].
    pub(crate) kind: u16,
    /// Its name (constructor, class, function), an index into [`Graph::strings`].
    pub(crate) name: u32,
    /// Its own size in bytes.
    pub(crate) size: u64,
}

/// One reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(crate) kind: EdgeKind,
    /// The property, field or variable name (an index into [`Graph::strings`]), or the element's
    /// index.
    pub(crate) name: u32,
    /// The node it points to (an index into [`Graph::nodes`]).
    pub(crate) to: u32,
}

/// A heap: nodes with their edges in one array (node `i`'s are `edges[first[i]..first[i + 1]]`),
/// and the nodes the search starts from.
#[derive(Debug, Default)]
pub struct Graph {
    pub(crate) nodes: Vec<Node>,
    first: Vec<u32>,
    pub(crate) edges: Vec<Edge>,
    /// Node types by index (`object`, `closure`; `instance`, `class`).
    pub(crate) kinds: Vec<String>,
    /// Names by index.
    pub(crate) strings: Vec<String>,
    /// Where the search starts.
    pub(crate) roots: Vec<u32>,
    /// The 1-based source line of the nodes that have one (functions).
    pub(crate) lines: HashMap<u32, u32>,
}

/// The step into a node of a path: the node it came from and the edge followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) from: u32,
    pub(crate) edge: u32,
}

/// Shortest paths from the roots: each reached node's step in (roots and unreached have none).
#[derive(Debug)]
pub(crate) struct Tree {
    step: Vec<Option<Step>>,
    reached: Vec<bool>,
    /// False when the search stopped at its deadline (some nodes were not reached).
    pub(crate) complete: bool,
}

impl Graph {
    /// An empty graph whose nodes will be pushed in order with [`Graph::push`].
    pub(crate) fn with_capacity(nodes: usize, edges: usize) -> Graph {
        let mut first = Vec::with_capacity(nodes + 1);
        first.push(0);
        Graph {
            nodes: Vec::with_capacity(nodes),
            first,
            edges: Vec::with_capacity(edges),
            ..Graph::default()
        }
    }

    /// Appends a node and its edges (their `to` must index nodes pushed before or after).
    pub(crate) fn push(&mut self, node: Node, edges: impl IntoIterator<Item = Edge>) {
        if self.first.is_empty() {
            self.first.push(0);
        }
        self.nodes.push(node);
        self.edges.extend(edges);
        self.first
            .push(u32::try_from(self.edges.len()).unwrap_or(u32::MAX));
    }

    /// The index in [`Graph::edges`] of node `n`'s first edge.
    pub(crate) fn first_edge(&self, n: u32) -> usize {
        self.first[n as usize] as usize
    }

    /// The edges of node `n`.
    pub(crate) fn edges_of(&self, n: u32) -> &[Edge] {
        let (a, b) = (self.first[n as usize], self.first[n as usize + 1]);
        &self.edges[a as usize..b as usize]
    }

    /// The node's type name.
    pub(crate) fn kind(&self, n: u32) -> &str {
        let k = self.nodes[n as usize].kind as usize;
        self.kinds.get(k).map_or("", String::as_str)
    }

    /// The node's name.
    pub(crate) fn name(&self, n: u32) -> &str {
        self.string(self.nodes[n as usize].name)
    }

    /// A string by index ("" when out of range).
    pub(crate) fn string(&self, i: u32) -> &str {
        self.strings.get(i as usize).map_or("", String::as_str)
    }

    /// Breadth first from every root at once, through the edges `follow` accepts (weak edges
    /// never), until every reachable node is reached or `deadline` passes.
    pub(crate) fn shortest_tree(
        &self,
        follow: impl Fn(u32, &Edge) -> bool,
        deadline: Instant,
    ) -> Tree {
        let n = self.nodes.len();
        let mut tree = Tree {
            step: vec![None; n],
            reached: vec![false; n],
            complete: true,
        };
        let mut queue = std::collections::VecDeque::new();
        for &r in &self.roots {
            if !std::mem::replace(&mut tree.reached[r as usize], true) {
                queue.push_back(r);
            }
        }
        let mut visited = 0u32;
        while let Some(from) = queue.pop_front() {
            visited = visited.wrapping_add(1);
            if visited % 4096 == 0 && Instant::now() >= deadline {
                tree.complete = false;
                break;
            }
            let start = self.first[from as usize];
            for (i, edge) in self.edges_of(from).iter().enumerate() {
                let to = edge.to as usize;
                if edge.kind == EdgeKind::Weak || tree.reached[to] || !follow(from, edge) {
                    continue;
                }
                tree.reached[to] = true;
                tree.step[to] = Some(Step {
                    from,
                    edge: start + i as u32,
                });
                queue.push_back(edge.to);
            }
        }
        tree
    }
}

impl Tree {
    /// Whether `n` is reachable from a root.
    pub(crate) fn reached(&self, n: u32) -> bool {
        self.reached.get(n as usize).copied().unwrap_or(false)
    }

    /// The path from a root to `n`, root first (empty for a root; `None` when unreached).
    pub(crate) fn path(&self, n: u32) -> Option<Vec<Step>> {
        if !self.reached(n) {
            return None;
        }
        let mut steps = Vec::new();
        let mut at = n;
        while let Some(step) = self.step[at as usize] {
            steps.push(step);
            at = step.from;
            if steps.len() > self.step.len() {
                return None; // not a tree: never, but never loop either
            }
        }
        steps.reverse();
        Some(steps)
    }
}

/// The objects of one group (same type and size) that are held by one holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Held<K> {
    /// What holds them (as the caller keys holders).
    pub(crate) holder: K,
    /// How many of the targets it holds.
    pub(crate) count: u64,
    /// Their bytes.
    pub(crate) bytes: u64,
    /// The target with the shortest path among them.
    pub(crate) representative: u32,
}

/// Counts the reached `targets` by the holder `holder_of` names from each one's path (`None`:
/// not counted), most bytes first; targets are looked at in order until `deadline`.
pub(crate) fn count_by_holder<K: Clone + Eq + std::hash::Hash + Ord>(
    graph: &Graph,
    tree: &Tree,
    targets: impl IntoIterator<Item = u32>,
    deadline: Instant,
    mut holder_of: impl FnMut(u32, &[Step]) -> Option<K>,
) -> Vec<Held<K>> {
    let mut by: HashMap<K, (Held<K>, usize)> = HashMap::new();
    for (i, t) in targets.into_iter().filter(|&t| tree.reached(t)).enumerate() {
        if i % 4096 == 4095 && Instant::now() >= deadline {
            break;
        }
        let Some(path) = tree.path(t) else { continue };
        let Some(key) = holder_of(t, &path) else {
            continue;
        };
        let size = graph.nodes[t as usize].size;
        let e = by.entry(key.clone()).or_insert_with(|| {
            let held = Held {
                holder: key,
                count: 0,
                bytes: 0,
                representative: t,
            };
            (held, path.len())
        });
        e.0.count += 1;
        e.0.bytes = e.0.bytes.saturating_add(size);
        if path.len() < e.1 {
            (e.0.representative, e.1) = (t, path.len());
        }
    }
    let mut out: Vec<Held<K>> = by.into_values().map(|(h, _)| h).collect();
    out.sort_by(|a, b| {
        (b.bytes, b.count)
            .cmp(&(a.bytes, a.count))
            .then_with(|| a.holder.cmp(&b.holder))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    /// A graph of `n` nodes with `edges` (from, to, weak), node 0 the only root.
    fn graph(n: usize, edges: &[(u32, u32, bool)]) -> Graph {
        let mut g = Graph::with_capacity(n, edges.len());
        for i in 0..n as u32 {
            let out = edges
                .iter()
                .filter(|e| e.0 == i)
                .map(|&(_, to, weak)| Edge {
                    kind: if weak {
                        EdgeKind::Weak
                    } else {
                        EdgeKind::Property
                    },
                    name: 0,
                    to,
                });
            let node = Node {
                id: u64::from(i),
                kind: 0,
                name: 0,
                size: 8,
            };
            g.push(node, out.collect::<Vec<_>>());
        }
        g.roots = vec![0];
        g
    }

    /// Distances from node 0 by relaxing every strong edge until nothing changes.
    fn distances(n: usize, edges: &[(u32, u32, bool)]) -> Vec<Option<usize>> {
        let mut d = vec![None; n];
        d[0] = Some(0);
        for _ in 0..n {
            for &(a, b, weak) in edges {
                if let (false, Some(da)) = (weak, d[a as usize]) {
                    if d[b as usize].is_none_or(|db| da + 1 < db) {
                        d[b as usize] = Some(da + 1);
                    }
                }
            }
        }
        d
    }

    #[test]
    fn weak_edges_keep_nothing_and_the_shorter_of_two_paths_is_found() {
        // 0 -> 1 -> 2 -> 3 and 0 -> 4 -> 3; 0 ~> 5 weakly.
        let edges = [
            (0, 1, false),
            (1, 2, false),
            (2, 3, false),
            (0, 4, false),
            (4, 3, false),
            (0, 5, true),
        ];
        let g = graph(6, &edges);
        let tree = g.shortest_tree(|_, _| true, later());
        let path = tree.path(3).unwrap();
        let via: Vec<u32> = path.iter().map(|s| s.from).collect();
        assert_eq!(via, vec![0, 4]);
        assert!(!tree.reached(5));
        assert_eq!(tree.path(0), Some(vec![]));
        assert!(tree.complete);
    }

    #[test]
    fn targets_are_counted_by_holder_most_bytes_first() {
        // 0 -> 1 (holds 3, 4, 5) and 0 -> 2 (holds 6).
        let edges = [
            (0, 1, false),
            (0, 2, false),
            (1, 3, false),
            (1, 4, false),
            (1, 5, false),
            (2, 6, false),
        ];
        let g = graph(7, &edges);
        let tree = g.shortest_tree(|_, _| true, later());
        let held = count_by_holder(&g, &tree, 3..7, later(), |_, path| {
            path.last().map(|s| s.from)
        });
        let summary: Vec<(u32, u64, u64)> =
            held.iter().map(|h| (h.holder, h.count, h.bytes)).collect();
        assert_eq!(summary, vec![(1, 3, 24), (2, 1, 8)]);
    }

    proptest! {
        #[test]
        fn the_path_found_is_a_real_path_and_a_shortest_one(
            n in 2usize..24,
            raw in proptest::collection::vec((0u32..24, 0u32..24, proptest::bool::weighted(0.2)), 0..80),
        ) {
            let edges: Vec<(u32, u32, bool)> = raw
                .into_iter()
                .map(|(a, b, w)| (a % n as u32, b % n as u32, w))
                .collect();
            let g = graph(n, &edges);
            let tree = g.shortest_tree(|_, _| true, later());
            let d = distances(n, &edges);
            for t in 0..n as u32 {
                let path = tree.path(t);
                prop_assert_eq!(path.as_ref().map(Vec::len), d[t as usize]);
                if let Some(path) = path {
                    let mut at = 0;
                    for step in &path {
                        prop_assert_eq!(step.from, at);
                        let edge = g.edges[step.edge as usize];
                        prop_assert!(edge.kind != EdgeKind::Weak);
                        prop_assert!(g.edges_of(at).contains(&edge));
                        at = edge.to;
                    }
                    prop_assert_eq!(at, t);
                }
            }
        }
    }
}
