//! Attaching to a real running python3 and detaching: what the target sees of the agent before
//! and after (tracemalloc, the agent's thread, its modules), read by the target itself.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{AgentChoice, Pending};

/// A loop that writes, every 20 ms, whether tracemalloc traces (and at what depth), whether the
/// agent's thread runs and whether its modules are loaded; `traced` starts tracemalloc at 5 frames.
const TARGET: &str = "
import os, sys, threading, time, tracemalloc
out = sys.argv[1]
if sys.argv[2] == 'traced':
    tracemalloc.start(5)
while True:
    tracing = tracemalloc.is_tracing()
    state = '%s %s %s %s' % (
        tracing,
        tracemalloc.get_traceback_limit() if tracing else 0,
        any(t.name == 'leakproof-agent' for t in threading.enumerate()),
        any(n.startswith('_leakproof_') or n == 'leakproof_agent' for n in sys.modules),
    )
    with open(out + '.tmp', 'w') as f:
        f.write(state)
    os.replace(out + '.tmp', out)
    time.sleep(0.02)
";

struct Target(Child);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits up to 10 s for the target to write `want`.
fn wait_for(state: &Path, want: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = std::fs::read_to_string(state).unwrap_or_default();
        if now == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the target says {now:?}, not {want:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn attach_and_detach(mode: &str, before: &str, attached: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let child = Command::new("python3")
        .args(["-c", TARGET, state.to_str().unwrap(), mode])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let target = Target(child);
    wait_for(&state, before).unwrap();
    let mut notes = Vec::new();
    let python = AgentChoice::named("python").unwrap();
    let mut agent = Pending::for_running(python, target.0.id())
        .and_then(|p| p.ready(target.0.id(), &mut notes))
        .unwrap_or_else(|| panic!("not attached: {notes:?}"));
    assert!(notes[0].contains("loaded into process"), "{notes:?}");
    assert!(agent.sample().unwrap() > 0.0);
    assert_eq!(agent.overhead().unwrap().total().1, 1);
    wait_for(&state, attached).unwrap();
    drop(agent);
    wait_for(&state, before).unwrap();
}

#[test]
fn detaching_stops_the_tracemalloc_it_started_and_leaves_nothing() {
    attach_and_detach("plain", "False 0 False False", "True 1 True True");
}

#[test]
fn detaching_leaves_a_target_s_own_tracemalloc_tracing_at_its_depth() {
    attach_and_detach("traced", "True 5 False False", "True 5 True True");
}
