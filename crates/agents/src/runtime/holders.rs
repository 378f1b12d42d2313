//! What keeps a growing site's objects alive, and where descriptors and threads were opened, over
//! the runtime agents' protocol:
//! `{"cmd":"holders","sites":[{"site":"app.py:12","file":"/abs/app.py","line":12}],"budget":1.0}`
//! -> `{"ok":true,"holders":[Holder, ...],"missed":"why none"}`;
//! `{"cmd":"trace_opens","on":true}` (from `start_pictures` to `stop_pictures`);
//! `{"cmd":"open_sites","kind":"fds"|"threads"}` -> `{"ok":true,"sites":[...]}` (one block each).
//! An agent that does not know a request answers `unknown request`: unsupported.

use std::collections::HashMap;
use std::time::Duration;

use leakproof_diff::{Holder, StatDiff};
use serde::Deserialize;

use super::{client, RuntimeAgent};
use crate::{AgentError, OpenSites};

/// How much longer than its budget a process may take to answer a holder search.
const HOLDER_SLACK: Duration = Duration::from_secs(10);

/// A `holders` reply.
#[derive(Debug, Deserialize)]
struct HoldersReply {
    holders: Vec<Holder>,
    /// Why no holder was found, when none was.
    #[serde(default)]
    missed: String,
}

/// The user lines of `sites` as the holder search matches them: `[{"site","file","line"}]`, the
/// `site` being the user frame's [`leakproof_diff::Frame::location`] (sites without a user file
/// and line are left out).
pub fn holder_sites_json(sites: &[StatDiff]) -> String {
    let wanted: Vec<serde_json::Value> = sites
        .iter()
        .filter_map(|s| s.user_frame.and_then(|u| s.traceback.get(u)))
        .filter_map(|f| {
            let (file, line) = (f.file.as_ref()?, f.line?);
            Some(serde_json::json!({ "site": f.location(), "file": file, "line": line }))
        })
        .collect();
    serde_json::Value::Array(wanted).to_string()
}

/// The holders of one `holders` reply (`{"holders":[...],"missed":"..."}`); none found is an
/// error saying why, for the report's notes.
pub fn holders_from_json(json: &str) -> Result<Vec<Holder>, AgentError> {
    let reply: HoldersReply =
        serde_json::from_str(json).map_err(|e| AgentError::Read(format!("bad holders: {e}")))?;
    merge(vec![reply])
}

/// The holders of every process: the same holder of the same site counts once, its objects
/// added up.
fn merge(replies: Vec<HoldersReply>) -> Result<Vec<Holder>, AgentError> {
    let mut missed = String::new();
    let mut out: Vec<Holder> = Vec::new();
    let mut index: HashMap<(Option<String>, String), usize> = HashMap::new();
    for reply in replies {
        if reply.holders.is_empty() && missed.is_empty() {
            missed = reply.missed;
        }
        for h in reply.holders {
            match index.get(&(h.site.clone(), h.name.clone())) {
                Some(&i) => {
                    let kept = &mut out[i];
                    kept.count = Some(kept.count.unwrap_or(0) + h.count.unwrap_or(0));
                }
                None => {
                    index.insert((h.site.clone(), h.name.clone()), out.len());
                    out.push(h);
                }
            }
        }
    }
    if out.is_empty() && !missed.is_empty() {
        return Err(AgentError::Read(missed));
    }
    Ok(out)
}

/// An agent that does not know `cmd` cannot do it: [`AgentError::Unsupported`] saying `why`.
fn known<T>(result: Result<T, AgentError>, why: impl FnOnce() -> String) -> Result<T, AgentError> {
    match result {
        Err(AgentError::BadReply { detail, .. }) if detail.ends_with("unknown request") => {
            Err(AgentError::Unsupported(why()))
        }
        other => other,
    }
}

impl RuntimeAgent {
    /// Asks every process for the holders of `sites`, searched for about `budget`.
    pub(super) fn ask_holders(
        &self,
        sites: &[StatDiff],
        budget: Duration,
    ) -> Result<Vec<Holder>, AgentError> {
        let wanted: serde_json::Value =
            serde_json::from_str(&holder_sites_json(sites)).unwrap_or_default();
        let request = serde_json::json!({
            "cmd": "holders", "sites": wanted, "budget": budget.as_secs_f64(),
        });
        let replies = client::ask_all::<HoldersReply>(
            self.dir(),
            &request.to_string(),
            budget + HOLDER_SLACK,
        );
        let title = self.descriptor.title;
        merge(known(replies, || {
            format!("{title} objects' holders are not searched")
        })?)
    }

    /// Starts or stops recording where descriptors and threads are opened; an agent that does
    /// not record them is left alone.
    pub(super) fn trace_opens(&self, on: bool) -> Result<(), AgentError> {
        let request = serde_json::json!({ "cmd": "trace_opens", "on": on }).to_string();
        let replies =
            client::ask_all::<serde_json::Value>(self.dir(), &request, self.sample_timeout);
        match known(replies, String::new) {
            Err(AgentError::Unsupported(_)) => Ok(()),
            other => other.map(drop),
        }
    }

    /// The descriptors and threads opened since [`RuntimeAgent::trace_opens`] and still open.
    pub(super) fn ask_open_sites(&self) -> Result<OpenSites, AgentError> {
        let kind = |kind: &str| {
            let request = serde_json::json!({ "cmd": "open_sites", "kind": kind }).to_string();
            let replies = client::ask_all::<client::SnapshotReply>(
                self.dir(),
                &request,
                self.snapshot_timeout,
            );
            let title = self.descriptor.title;
            known(replies, || {
                format!("{title} does not trace where descriptors are opened")
            })
            .map(|r| client::merge_snapshots(r).taken_now())
        };
        Ok(OpenSites::new(kind("fds")?, kind("threads")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakproof_diff::Frame;

    fn site(file: &str, line: u32) -> StatDiff {
        StatDiff {
            key: String::new(),
            size: 10,
            size_diff: 10,
            count: 1,
            count_diff: 1,
            traceback: vec![Frame::at("f", file, line)],
            user_frame: Some(0),
        }
    }

    #[test]
    fn sites_are_sent_by_file_and_line_and_named_by_location() {
        let json = holder_sites_json(&[site("/srv/app.py", 12)]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v[0]["file"], "/srv/app.py");
        assert_eq!(v[0]["line"], 12);
        assert_eq!(v[0]["site"], Frame::at("f", "/srv/app.py", 12).location());
    }

    #[test]
    fn one_holder_of_several_processes_adds_up_and_none_says_why() {
        let one = r#"{"holders":[{"site":"app.py:3","object":"str","count":2,"name":"app.X (list) ← module app"}]}"#;
        let a: HoldersReply = serde_json::from_str(one).unwrap();
        let b: HoldersReply = serde_json::from_str(one).unwrap();
        let merged = merge(vec![a, b]).unwrap();
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].count, Some(4));
        let none = holders_from_json(r#"{"holders":[],"missed":"no holder found"}"#);
        assert!(matches!(none, Err(AgentError::Read(why)) if why == "no holder found"));
    }
}
