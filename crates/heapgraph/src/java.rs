//! The holders of a JVM's growing classes, spelled as Java spells them: `static
//! JvmService.KEPT (ArrayList)`, `static Server.cache.pages (HashMap)`, `Session.buffers
//! (ArrayList)`.

use std::collections::HashMap;
use std::time::Instant;

use leakproof_diff::Holder;

use super::graph::{count_by_holder, EdgeKind, Graph, Step};

/// Packages whose classes are the JDK's, not the user's: a holder is named by the user's last
/// reference to it, not by the collections' insides (`elementData`, `table`).
const JDK: &[&str] = &["java.", "javax.", "jdk.", "sun.", "com.sun."];

/// What one dump says holds the instances of one class: each holder's count and bytes, most
/// bytes first, with the path to its instance nearest a root.
#[derive(Clone, Debug, Default)]
pub struct Census {
    holders: Vec<Found>,
}

#[derive(Clone, Debug)]
struct Found {
    name: String,
    /// Whether a class of the user's code is on the path.
    by_user: bool,
    count: u64,
    bytes: u64,
    path: Vec<String>,
}

/// For each class in `classes` (as `GC.class_histogram` names them: `byte[]`,
/// `java.lang.String`), what holds its instances in `graph` (a heap dump).
pub fn census(graph: &Graph, classes: &[String], deadline: Instant) -> Vec<Census> {
    let tree = graph.shortest_tree(
        // A Reference's referent is what it does not keep alive.
        |_, e| !(e.kind == EdgeKind::Property && graph.string(e.name) == "referent"),
        deadline,
    );
    let census_of = |class: &String| {
        let targets = (0..graph.nodes.len() as u32)
            .filter(|&n| graph.kind(n) != "class" && graph.name(n) == class);
        // Spelled once per reference into a holder: a million pages have one.
        let mut spelled: HashMap<u32, Option<(String, bool)>> = HashMap::new();
        let held = count_by_holder(graph, &tree, targets, deadline, |_, path| {
            let at = holder_step(graph, path)?;
            let key = spelled.entry(path[at].edge).or_insert_with(|| {
                let by_user = path[..=at].iter().any(|s| is_user(graph, s.from));
                Some((holder(graph, &path[..=at])?, by_user))
            });
            key.clone()
        });
        let holders = held.into_iter().map(|h| Found {
            name: h.holder.0,
            by_user: h.holder.1,
            count: h.count,
            bytes: h.bytes,
            path: tree
                .path(h.representative)
                .map(|p| steps(graph, &p))
                .unwrap_or_default(),
        });
        Census {
            holders: holders.collect(),
        }
    };
    classes.iter().map(census_of).collect()
}

/// The holder of each class's growth from `before` (a census of the same classes in an earlier
/// dump, or none) to `after`: the holder that gained most, preferring one in the user's code
/// that gained a tenth of that at least; a class held by the JDK alone is named only when no
/// class has a holder in the user's code.
pub fn growth_holders(classes: &[String], before: &[Census], after: &[Census]) -> Vec<Holder> {
    let mut user = Vec::new();
    let mut other = None;
    for (i, (class, now)) in classes.iter().zip(after).enumerate() {
        let earlier = |name: &str| {
            let found = before
                .get(i)
                .and_then(|c| c.holders.iter().find(|h| h.name == name));
            found.map_or((0, 0), |h| (h.count, h.bytes))
        };
        let mut grown: Vec<(Found, u64)> = now
            .holders
            .iter()
            .map(|h| {
                let (count, bytes) = earlier(&h.name);
                let gained = Found {
                    count: h.count.saturating_sub(count),
                    ..h.clone()
                };
                (gained, h.bytes.saturating_sub(bytes))
            })
            .filter(|(h, gain)| h.count >= 2 && *gain > 0)
            .collect();
        grown.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.name.cmp(&b.0.name)));
        let Some(top) = grown.first().cloned() else {
            continue;
        };
        let spell = |h: Found| Holder {
            site: None,
            object: class.clone(),
            count: Some(h.count),
            name: h.name,
            path: h.path,
        };
        match grown
            .into_iter()
            .find(|(h, gain)| h.by_user && *gain >= top.1 / 10)
        {
            Some((mine, _)) => user.push(spell(mine)),
            None if other.is_none() => other = Some(spell(top.0)),
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

/// The step of `path` into its holder: the last named reference from a class of the user's
/// code, else the root's own reference (a static field, a thread's local), else the first named.
fn holder_step(graph: &Graph, path: &[Step]) -> Option<usize> {
    let kind = |s: &Step| graph.edges[s.edge as usize].kind;
    let named = |s: &Step| matches!(kind(s), EdgeKind::Static | EdgeKind::Property);
    path.iter()
        .rposition(|s| named(s) && is_user(graph, s.from))
        .or_else(|| {
            path.iter()
                .position(|s| matches!(kind(s), EdgeKind::Static | EdgeKind::Variable))
        })
        .or_else(|| path.iter().position(named))
}

/// The holder along `path`: the object the user's code last refers to (a static field, or a
/// field of one of its classes' objects), spelled from its static field or root.
fn holder(graph: &Graph, path: &[Step]) -> Option<String> {
    let at = holder_step(graph, path)?;
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

/// A class as the JVM names it, as Java source spells it: `[B` -> `byte[]`,
/// `[[Ljava.lang.String;` -> `java.lang.String[][]`; other names unchanged.
pub fn java_name(class: &str) -> String {
    let element = class.trim_start_matches('[');
    let dims = class.len() - element.len();
    if dims == 0 {
        return class.to_owned();
    }
    let base = match element {
        "B" => "byte",
        "C" => "char",
        "D" => "double",
        "F" => "float",
        "I" => "int",
        "J" => "long",
        "S" => "short",
        "Z" => "boolean",
        e => match e.strip_prefix('L').and_then(|e| e.strip_suffix(';')) {
            Some(name) => name,
            None => return class.to_owned(),
        },
    };
    format!("{base}{}", "[]".repeat(dims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jvm_class_names_read_as_java_spells_them() {
        assert_eq!(java_name("[Z"), "boolean[]");
        assert_eq!(java_name("[[Ljava.lang.String;"), "java.lang.String[][]");
        assert_eq!(java_name("java.util.ArrayList"), "java.util.ArrayList");
        assert_eq!(java_name("[Q"), "[Q");
    }

    fn census_of(holders: &[(&str, bool, u64, u64)]) -> Census {
        let found = holders.iter().map(|&(name, by_user, count, bytes)| Found {
            name: name.to_owned(),
            by_user,
            count,
            bytes,
            path: vec![],
        });
        Census {
            holders: found.collect(),
        }
    }

    fn names(holders: &[Holder]) -> Vec<(&str, Option<u64>)> {
        holders.iter().map(|h| (h.name.as_str(), h.count)).collect()
    }

    #[test]
    fn the_holder_that_gained_is_named_not_the_one_that_holds_most() {
        let classes = ["byte[]".to_owned()];
        let before = census_of(&[
            ("static A.CACHE (HashMap)", true, 100, 10_000),
            ("static A.LOG (ArrayList)", true, 2, 100),
        ]);
        let after = census_of(&[
            ("static A.CACHE (HashMap)", true, 100, 10_000),
            ("static A.LOG (ArrayList)", true, 22, 2_100),
        ]);
        let holders = growth_holders(&classes, &[before], std::slice::from_ref(&after));
        assert_eq!(
            names(&holders),
            vec![("static A.LOG (ArrayList)", Some(20))]
        );
        // Without an earlier dump, the holder of most bytes.
        let holders = growth_holders(&classes, &[], &[after]);
        assert_eq!(
            names(&holders),
            vec![("static A.CACHE (HashMap)", Some(100))]
        );
    }

    #[test]
    fn the_jdk_is_named_only_when_no_class_grows_in_the_users_code() {
        let classes = ["byte[]".to_owned(), "java.lang.String".to_owned()];
        let bytes = census_of(&[
            ("static Locale.CACHE (HashMap)", false, 50, 5_000),
            ("static App.KEPT (ArrayList)", true, 30, 3_000),
        ]);
        let strings = census_of(&[("static Module.NAMES (HashSet)", false, 900, 90_000)]);
        let holders = growth_holders(&classes, &[], &[bytes, strings.clone()]);
        assert_eq!(
            names(&holders),
            vec![("static App.KEPT (ArrayList)", Some(30))]
        );
        let holders = growth_holders(&classes[1..], &[], &[strings]);
        assert_eq!(
            names(&holders),
            vec![("static Module.NAMES (HashSet)", Some(900))]
        );
    }

    #[test]
    fn nested_classes_are_dotted_and_packages_dropped() {
        assert_eq!(simple("java.util.ArrayList"), "ArrayList");
        assert_eq!(simple("com.example.Server$Cache"), "Server.Cache");
        assert_eq!(simple("Main$1"), "Main$1");
        assert_eq!(simple("java.lang.Object[]"), "Object[]");
    }
}
