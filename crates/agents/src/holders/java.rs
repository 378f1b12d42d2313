//! The holders of a JVM's growing classes, spelled as Java spells them: `static
//! JvmService.KEPT (ArrayList)`, `static Server.cache.pages (HashMap)`, `Session.buffers
//! (ArrayList)`.

use std::time::Instant;

use leakproof_diff::Holder;

use super::graph::{count_by_holder, EdgeKind, Graph, Step};
use super::MAX_TARGETS;

/// Packages whose classes are the JDK's, not the user's: a holder is named by the user's last
/// reference to it, not by the collections' insides (`elementData`, `table`).
const JDK: &[&str] = &["java.", "javax.", "jdk.", "sun.", "com.sun."];

/// For each class in `classes` (as `GC.class_histogram` names them: `byte[]`,
/// `java.lang.String`), the holder of most of its instances' bytes in `graph` (a heap dump).
pub(crate) fn class_holders(graph: &Graph, classes: &[String], deadline: Instant) -> Vec<Holder> {
    let tree = graph.shortest_tree(
        // A Reference's referent is what it does not keep alive.
        |_, e| !(e.kind == EdgeKind::Property && graph.string(e.name) == "referent"),
        deadline,
    );
    let mut user = Vec::new();
    let mut other = None;
    for class in classes {
        let targets = (0..graph.nodes.len() as u32)
            .filter(|&n| graph.kind(n) != "class" && graph.name(n) == class);
        let held = count_by_holder(graph, &tree, targets, MAX_TARGETS, |_, path| {
            let by_user = path.iter().any(|s| is_user(graph, s.from));
            Some((!by_user, holder(graph, path)?))
        });
        let mut held = held.into_iter().filter(|h| h.count >= 2);
        let Some(top) = held.next() else { continue };
        let spell = |h: super::graph::Held<(bool, String)>| Holder {
            site: None,
            object: class.clone(),
            count: Some(h.count),
            path: tree
                .path(h.representative)
                .map(|p| steps(graph, &p))
                .unwrap_or_default(),
            name: h.holder.1,
        };
        // The user's code holds most of it, or a tenth at least: that holder; else the top one
        // is the answer only when no growing class has a holder in the user's code.
        let tenth = top.bytes / 10;
        let mine = std::iter::once(top.clone())
            .chain(held)
            .find(|h| !h.holder.0 && h.bytes >= tenth);
        match mine {
            Some(mine) => user.push(spell(mine)),
            None if other.is_none() => other = Some(spell(top)),
            None => {}
        }
    }
    if user.is_empty() {
        user.extend(other);
    }
    user
}

/// A class name without its package, nested classes with a dot: `Server.Cache`, `byte[]`.
fn simple(name: &str) -> String {
    let base = name.rsplit('.').next().unwrap_or(name);
    let dotted: String = base
        .char_indices()
        .map(|(i, c)| {
            let anonymous = base[i + 1..].starts_with(|d: char| d.is_ascii_digit());
            if c == '$' && !anonymous {
                '.'
            } else {
                c
            }
        })
        .collect();
    dotted
}

fn is_user(graph: &Graph, n: u32) -> bool {
    let name = graph.name(n);
    let root = graph.kind(n) == "roots";
    !root && !name.is_empty() && !JDK.iter().any(|p| name.starts_with(p))
}

/// The holder along `path`: the object the user's code last refers to (a static field, or a
/// field of one of its classes' objects), spelled from its static field or root.
fn holder(graph: &Graph, path: &[Step]) -> Option<String> {
    let named = |s: &Step| {
        let e = graph.edges[s.edge as usize];
        matches!(e.kind, EdgeKind::Static | EdgeKind::Property)
    };
    let at = path
        .iter()
        .rposition(|s| named(s) && is_user(graph, s.from))
        .or_else(|| path.iter().position(named))?;
    let held = graph.edges[path[at].edge as usize].to;
    let mut chain: Vec<String> = Vec::new();
    for step in path[..=at].iter().rev() {
        let e = graph.edges[step.edge as usize];
        let name = graph.string(e.name);
        match e.kind {
            EdgeKind::Static => {
                chain.push(format!("static {}.{name}", simple(graph.name(step.from))));
                break;
            }
            EdgeKind::Property if is_user(graph, step.from) || chain.is_empty() => {
                chain.push(format!(".{name}"));
            }
            EdgeKind::Element if is_user(graph, step.from) => chain.push(format!("[{}]", e.name)),
            EdgeKind::Variable => {
                chain.push(format!("({name})"));
                break;
            }
            _ => {
                chain.push(simple(graph.name(step.from)));
                break;
            }
        }
    }
    chain.reverse();
    Some(format!("{} ({})", chain.concat(), simple(graph.name(held))))
}

/// Each step of `path` spelled, root first: `(GC roots)`, `static KEPT -> java.util.ArrayList`.
fn steps(graph: &Graph, path: &[Step]) -> Vec<String> {
    let mut out = Vec::with_capacity(path.len() + 1);
    if let Some(first) = path.first() {
        out.push(graph.name(first.from).to_owned());
    }
    for step in path {
        let e = graph.edges[step.edge as usize];
        let label = match e.kind {
            EdgeKind::Element => format!("[{}]", e.name),
            EdgeKind::Static => format!("static {}", graph.string(e.name)),
            EdgeKind::Variable => format!("({})", graph.string(e.name)),
            _ => format!(".{}", graph.string(e.name)),
        };
        out.push(format!("{label} -> {}", graph.name(e.to)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_classes_are_dotted_and_packages_dropped() {
        assert_eq!(simple("java.util.ArrayList"), "ArrayList");
        assert_eq!(simple("com.example.Server$Cache"), "Server.Cache");
        assert_eq!(simple("Main$1"), "Main$1");
        assert_eq!(simple("java.lang.Object[]"), "Object[]");
    }
}
