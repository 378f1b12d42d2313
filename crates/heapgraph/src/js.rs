//! The holders of a node heap's new objects, spelled as JavaScript spells them:
//! `history (Array) in node_service.js's module scope`, `cache.pages (Map) in app.js's module
//! scope`, `global.seen (Array)`.

use std::collections::HashMap;
use std::time::Instant;

use leakproof_diff::Holder;

use super::graph::{count_by_holder, EdgeKind, Graph, Step};
use super::MAX_HOLDERS;

/// V8's node types whose new instances are the user's objects (not code, shapes, engine
/// internals or embedder objects).
const USER_KINDS: &[&str] = &[
    "object",
    "closure",
    "string",
    "concatenated string",
    "sliced string",
    "regexp",
    "number",
    "bigint",
    "symbol",
];

/// Node types never walked through: they hold engine metadata, and through them a path would
/// name a prototype or a compiled function instead of the user's variable.
const SKIPPED_KINDS: &[&str] = &["object shape", "code"];

/// The holders of the objects in `graph` whose ids are not in `before` (sorted): grouped by
/// constructor and by holder, most bytes first. Holders in `own_script` (the agent) are left out.
pub fn new_object_holders(
    graph: &Graph,
    before: &[u32],
    own_script: &str,
    deadline: Instant,
) -> Vec<Holder> {
    let skipped: Vec<bool> = graph
        .kinds
        .iter()
        .map(|k| SKIPPED_KINDS.contains(&k.as_str()))
        .collect();
    let user: Vec<bool> = graph
        .kinds
        .iter()
        .map(|k| USER_KINDS.contains(&k.as_str()))
        .collect();
    let tree = graph.shortest_tree(
        |_, e| {
            let kind = graph.nodes[e.to as usize].kind as usize;
            !skipped.get(kind).copied().unwrap_or(false)
        },
        deadline,
    );
    let targets = (0..graph.nodes.len() as u32).filter(|&n| {
        let node = &graph.nodes[n as usize];
        user.get(node.kind as usize).copied().unwrap_or(false)
            && u32::try_from(node.id).is_ok_and(|id| before.binary_search(&id).is_err())
    });
    let speller = Speller::new(graph);
    let held = count_by_holder(graph, &tree, targets, deadline, |t, path| {
        let name = speller.holder(path)?;
        (!speller.in_script(path, own_script)).then(|| (object(graph, t), name))
    });
    let top = held.first().map_or(0, |h| h.bytes);
    held.into_iter()
        .filter(|h| h.count >= 2 && h.bytes.saturating_mul(10) >= top)
        .take(MAX_HOLDERS)
        .map(|h| Holder {
            site: None,
            object: h.holder.0,
            count: Some(h.count),
            name: h.holder.1,
            path: tree
                .path(h.representative)
                .map(|p| speller.steps(&p))
                .unwrap_or_default(),
        })
        .collect()
}

/// A node's type as the report names it: the constructor of an object, `string` for every
/// representation V8 has of one (flat, concatenated, sliced), `(regexp)` for the others.
fn object(graph: &Graph, n: u32) -> String {
    match graph.kind(n) {
        "object" => graph.name(n).to_owned(),
        "closure" => "Function".to_owned(),
        "string" | "concatenated string" | "sliced string" => "string".to_owned(),
        kind => format!("({kind})"),
    }
}

/// Spells the paths of one graph.
struct Speller<'g> {
    graph: &'g Graph,
    /// The first closure whose `context` is each context node.
    closure_of: HashMap<u32, u32>,
}

impl<'g> Speller<'g> {
    fn new(graph: &'g Graph) -> Speller<'g> {
        let mut closure_of = HashMap::new();
        for n in 0..graph.nodes.len() as u32 {
            if graph.kind(n) != "closure" {
                continue;
            }
            if let Some(ctx) = graph
                .edges_of(n)
                .iter()
                .find(|e| e.kind == EdgeKind::Internal && graph.string(e.name) == "context")
            {
                closure_of.entry(ctx.to).or_insert(n);
            }
        }
        Speller { graph, closure_of }
    }

    /// The edge named `name` of node `n`, and where it points.
    fn internal(&self, n: u32, name: &str) -> Option<u32> {
        let g = self.graph;
        g.edges_of(n)
            .iter()
            .find(|e| {
                e.kind == EdgeKind::Internal && e.name != u32::MAX && g.string(e.name) == name
            })
            .map(|e| e.to)
    }

    /// The script file a context's functions are in.
    fn script_of(&self, context: u32) -> Option<String> {
        self.file_of(*self.closure_of.get(&context)?)
    }

    /// The script file a function is in.
    fn file_of(&self, closure: u32) -> Option<String> {
        let shared = self.internal(closure, "shared")?;
        let script = self
            .internal(shared, "script_or_debug_info")
            .or_else(|| self.internal(shared, "script"))?;
        Some(self.graph.name(script).to_owned()).filter(|s| !s.is_empty())
    }

    /// Whether the last scope on `path` is one of `script`'s.
    fn in_script(&self, path: &[Step], script: &str) -> bool {
        path.iter()
            .rev()
            .find(|s| self.edge(s).kind == EdgeKind::Variable)
            .and_then(|s| self.script_of(s.from))
            .is_some_and(|file| file == script)
    }

    fn edge(&self, step: &Step) -> super::graph::Edge {
        self.graph.edges[step.edge as usize]
    }

    fn user_name(&self, step: &Step) -> Option<&str> {
        let e = self.edge(step);
        let name = self.graph.string(e.name);
        let named = matches!(e.kind, EdgeKind::Property | EdgeKind::Variable);
        (named && !name.is_empty() && !name.starts_with("__")).then_some(name)
    }

    /// The holder named along `path`: its last user-named reference (a variable or property),
    /// spelled from the nearest scope variable or global, its constructor, and its scope.
    fn holder(&self, path: &[Step]) -> Option<String> {
        let g = self.graph;
        let at = path.iter().rposition(|s| self.user_name(s).is_some())?;
        let holder = self.edge(&path[at]).to;
        let mut chain: Vec<String> = Vec::new();
        let mut scope = String::new();
        for step in path[..=at].iter().rev() {
            let e = self.edge(step);
            let name = g.string(e.name);
            match e.kind {
                EdgeKind::Variable => {
                    chain.push(name.to_owned());
                    scope = self.scope(step.from);
                    break;
                }
                EdgeKind::Property if g.kind(step.from) == "object" => {
                    chain.push(format!(".{name}"));
                    if matches!(g.name(step.from), "global" | "Window" | "globalThis") {
                        chain.push("global".to_owned());
                        break;
                    }
                }
                EdgeKind::Element => chain.push(format!("[{}]", e.name)),
                EdgeKind::Internal if matches!(name, "elements" | "properties" | "table") => {}
                _ => {
                    if chain.is_empty() {
                        chain.push(format!(".{name}")); // a property of a function, say
                    }
                    let owner = match g.name(step.from) {
                        "" if g.kind(step.from) == "closure" => "(anonymous)",
                        owner => owner,
                    };
                    if chain.last().is_some_and(|c| c.starts_with('.')) && !owner.is_empty() {
                        chain.push(owner.to_owned());
                    }
                    break;
                }
            }
        }
        chain.reverse();
        let spelled = chain.concat();
        let spelled = spelled.strip_prefix('.').unwrap_or(&spelled);
        Some(format!("{spelled} ({}){scope}", object(g, holder)))
    }

    /// ` in FILE's module scope` for the outermost function's context, ` in a function scope of
    /// FILE` for an inner one.
    fn scope(&self, context: u32) -> String {
        let file = self.script_of(context);
        let base = file
            .as_deref()
            .map(|f| f.rsplit('/').next().unwrap_or(f).to_owned());
        let outermost = self
            .internal(context, "previous")
            .is_some_and(|p| self.graph.name(p).contains("NativeContext"));
        match (base, outermost) {
            (Some(file), true) => format!(" in {file}'s module scope"),
            (Some(file), false) => format!(" in a function scope of {file}"),
            (None, _) => " in a closure's scope".to_owned(),
        }
    }

    /// Each step of `path` spelled, root first: `(GC roots)`, `.history (Array)`, `[3] (string)`.
    fn steps(&self, path: &[Step]) -> Vec<String> {
        let g = self.graph;
        let mut out = Vec::with_capacity(path.len() + 1);
        if let Some(first) = path.first() {
            out.push(self.describe(first.from));
        }
        for step in path {
            let e = self.edge(step);
            let label = match e.kind {
                EdgeKind::Element => format!("[{}]", e.name),
                EdgeKind::Internal if e.name == u32::MAX => "(hidden)".to_owned(),
                EdgeKind::Variable => format!("{} (variable)", g.string(e.name)),
                _ => format!(".{}", g.string(e.name)),
            };
            out.push(format!("{label} -> {}", self.describe(e.to)));
        }
        out
    }

    /// A node in a path: its constructor, a function with its file and line, `(string)`.
    fn describe(&self, n: u32) -> String {
        let g = self.graph;
        let name: String = g.name(n).chars().take(40).collect();
        match g.kind(n) {
            _ if name.is_empty() && n == 0 => "(root)".to_owned(),
            "object" | "synthetic" | "hidden" | "native" | "array" if !name.is_empty() => name,
            "closure" => {
                let name = if name.is_empty() {
                    "(anonymous)"
                } else {
                    &name
                };
                match (self.file_of(n), g.lines.get(&n)) {
                    (Some(file), Some(line)) => {
                        let file = file.rsplit('/').next().unwrap_or(&file).to_owned();
                        format!("function {name} {file}:{line}")
                    }
                    _ => format!("function {name}"),
                }
            }
            kind => format!("({kind})"),
        }
    }
}

#[cfg(test)]
#[path = "js_tests.rs"]
mod tests;
