//! What keeps a growing site's objects alive: the shortest path from a root to one of them.

use serde::{Deserialize, Serialize};

/// The holder of objects that grew, found by a runtime's agent (Python, node, the JVM) when a heap
/// was not Stable. Native and Rust heaps have no references to follow, so no holders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The growing site the objects were allocated at, as its user frame's `file:line` (the
    /// `location` of [`crate::Frame`]), when the runtime records it; `None` when the objects are
    /// grouped by type only (a JVM class, a JS constructor without a line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The objects' type as the runtime names it: `str`, `Array`, `byte[]`.
    pub object: String,
    /// How many of the new objects the search found held along `path`, when counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The holder in one line, the way the user's code spells it, holder first and its root
    /// last: `app.HISTORY (list) ← module app`, `static Server.HISTORY (ArrayList)`.
    pub name: String,
    /// The whole path, root first, one step each (`module app`, `.HISTORY (list)`,
    /// `[41] (str)`), for readers of the JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_leaves_out_what_is_unknown() {
        let h = Holder {
            site: None,
            object: "byte[]".into(),
            count: None,
            name: "static Server.HISTORY (ArrayList)".into(),
            path: vec![],
        };
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(
            json,
            r#"{"object":"byte[]","name":"static Server.HISTORY (ArrayList)"}"#
        );
        assert_eq!(serde_json::from_str::<Holder>(&json).unwrap(), h);
    }
}
