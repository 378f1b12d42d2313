//! The invariants ARCHITECTURE.md states, checked on the source tree (in the spirit of
//! rust-analyzer's tidy tests): which crates may depend on which, where `unsafe` may appear and
//! that every block says why it is sound, who prints to stdout, who starts processes, and the
//! public API of every crate as a reviewed listing.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every crate of the workspace: (package name, directory relative to the root).
fn crates() -> Vec<(String, PathBuf)> {
    let mut out = vec![("leakproof".to_owned(), PathBuf::new())];
    out.push(("leakproof-harness".to_owned(), PathBuf::from("harness")));
    let mut dirs: Vec<PathBuf> = fs::read_dir(root().join("crates"))
        .expect("crates/")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = package_name(&fs::read_to_string(dir.join("Cargo.toml")).unwrap());
        let rel = dir.strip_prefix(root()).unwrap().to_path_buf();
        out.push((name, rel));
    }
    out
}

fn package_name(manifest: &str) -> String {
    manifest
        .lines()
        .skip_while(|l| l.trim() != "[package]")
        .find_map(|l| l.trim().strip_prefix("name = "))
        .map(|n| n.trim_matches('"').to_owned())
        .expect("package name")
}

/// The leakproof crates a manifest's `[dependencies]` (not dev- or build-) names.
fn leakproof_dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]"
                || line.starts_with("[target.") && line.ends_with(".dependencies]");
            continue;
        }
        if in_deps && line.starts_with("leakproof-") {
            out.push(line.split(['.', ' ', '=']).next().unwrap().to_owned());
        }
    }
    out.sort();
    out
}

/// The dependency rules: data flows one way, cli and macros -> harness -> (sample, trend, diff).
const ALLOWED: &[(&str, &[&str])] = &[
    ("leakproof-trend", &[]),
    ("leakproof-sample", &[]),
    ("leakproof-diff", &[]),
    ("leakproof-macros", &[]),
    ("leakproof-preload", &[]),
    // The harness names the preload agent only so that cargo builds the `.so` beside it.
    (
        "leakproof-harness",
        &[
            "leakproof-diff",
            "leakproof-preload",
            "leakproof-sample",
            "leakproof-trend",
        ],
    ),
    (
        "leakproof-cli",
        &[
            "leakproof-diff",
            "leakproof-harness",
            "leakproof-sample",
            "leakproof-trend",
        ],
    ),
    (
        "leakproof",
        &[
            "leakproof-cli",
            "leakproof-diff",
            "leakproof-harness",
            "leakproof-macros",
            "leakproof-sample",
            "leakproof-trend",
        ],
    ),
];

#[test]
fn crates_depend_only_downwards() {
    for (name, dir) in crates() {
        let manifest = fs::read_to_string(root().join(&dir).join("Cargo.toml")).unwrap();
        let allowed = ALLOWED
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| {
                panic!("{name}: add its dependency rule to ALLOWED and ARCHITECTURE.md")
            })
            .1;
        for dep in leakproof_dependencies(&manifest) {
            assert!(
                allowed.contains(&dep.as_str()),
                "{name} depends on {dep}, against ARCHITECTURE.md's data flow"
            );
        }
    }
}

/// Rust files under `dir`, skipping build output.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() && name != "target" && name != ".git" && name != "ui" {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The library source of a crate (its `src/`), without `#[cfg(test)]` modules at the end of files
/// and without comments, as (path, line number, code) triples.
fn library_code(dir: &Path) -> Vec<(PathBuf, usize, String)> {
    let mut out = Vec::new();
    for file in rust_files(&root().join(dir).join("src")) {
        if dir.as_os_str().is_empty() && file.starts_with(root().join("crates")) {
            continue;
        }
        // A module file of tests (`#[cfg(test)] mod tests;`) is test code, not library code.
        if file.file_name().is_some_and(|n| n == "tests.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or("").trim();
            if !code.is_empty() {
                out.push((file.clone(), i + 1, code.to_owned()));
            }
        }
    }
    out
}

/// Crates allowed to contain `unsafe`: the allocator and probes, and the preloaded agent.
const UNSAFE_CRATES: &[&str] = &["crates/sample", "crates/preload"];

#[test]
fn unsafe_lives_only_in_sample_and_every_block_says_why() {
    for (name, dir) in crates() {
        let allowed = UNSAFE_CRATES.iter().any(|c| Path::new(c) == dir);
        for file in rust_files(&root().join(&dir).join("src")) {
            if dir.as_os_str().is_empty() && file.starts_with(root().join("crates")) {
                continue;
            }
            let text = fs::read_to_string(&file).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if !code.contains("unsafe {") && !code.contains("unsafe impl") {
                    continue;
                }
                assert!(
                    allowed,
                    "{name}: `unsafe` in {}:{}: only {UNSAFE_CRATES:?} may use it",
                    file.display(),
                    i + 1
                );
                let said = lines[i.saturating_sub(8)..=i]
                    .iter()
                    .any(|l| l.contains("SAFETY:"));
                assert!(
                    said,
                    "{}:{}: an unsafe block without a `// SAFETY:` comment",
                    file.display(),
                    i + 1
                );
            }
        }
    }
}

/// Library files that may write to stdout, with the reason.
const PRINTERS: &[(&str, &str)] = &[(
    "harness/src/testing.rs",
    "forwards a re-executed test's own output to the test runner",
)];

#[test]
fn only_the_cli_prints_to_stdout() {
    for (name, dir) in crates() {
        if name == "leakproof-cli" {
            continue;
        }
        for (file, line, code) in library_code(&dir) {
            let rel = file.strip_prefix(root()).unwrap();
            if PRINTERS.iter().any(|(p, _)| Path::new(p) == rel) {
                continue;
            }
            assert!(
                !prints_to_stdout(&code),
                "{}:{line}: only the CLI prints to stdout",
                rel.display()
            );
        }
    }
}

/// `print!` or `println!` (not `eprint!`, `eprintln!`, `write!`).
fn prints_to_stdout(code: &str) -> bool {
    ["print!(", "println!("].iter().any(|mac| {
        code.match_indices(mac)
            .any(|(i, _)| !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

/// The only library modules that start processes, with the reason.
const SPAWNERS: &[(&str, &str)] = &[
    (
        "harness/src/drive/target.rs",
        "starts a driven or watched target",
    ),
    ("harness/src/drive/each.rs", "runs a drive's --each command"),
    (
        "harness/src/testing.rs",
        "re-executes the test binary for one leak test",
    ),
];

#[test]
fn only_named_modules_start_processes() {
    for (_, dir) in crates() {
        for (file, line, code) in library_code(&dir) {
            let rel = file.strip_prefix(root()).unwrap();
            // `.status()` only on a command line: a process's status is no spawn.
            let spawns = code.contains(".spawn()")
                || code.contains(".output()")
                || (code.contains("Command") && code.contains(".status()"));
            if spawns {
                assert!(
                    SPAWNERS.iter().any(|(p, _)| Path::new(p) == rel),
                    "{}:{line}: starts a process; only {:?} may",
                    rel.display(),
                    SPAWNERS.iter().map(|(p, _)| p).collect::<Vec<_>>()
                );
            }
        }
    }
}

/// The public items of a crate's library source: `pub` declarations and re-exports (not
/// `pub(crate)`), one per line, as written. A change to what users can name shows as a diff of
/// the snapshot in review.
fn public_items(dir: &Path) -> Vec<String> {
    let mut out: BTreeMap<String, ()> = BTreeMap::new();
    let mut pending: Option<String> = None;
    for (file, _, code) in library_code(dir) {
        let rel = file
            .strip_prefix(root().join(dir))
            .unwrap()
            .display()
            .to_string();
        if let Some(mut item) = pending.take() {
            item.push(' ');
            item.push_str(&code);
            if code.ends_with(';') || code.ends_with('{') {
                out.insert(format!("{rel}: {}", tidy(&item)), ());
            } else {
                pending = Some(item);
            }
            continue;
        }
        if !code.starts_with("pub ") || code.starts_with("pub(") {
            continue;
        }
        let complete = code.ends_with(';')
            || code.ends_with('{')
            || code.ends_with('}')
            || code.ends_with(',');
        if complete || code.starts_with("pub mod") {
            out.insert(format!("{rel}: {}", tidy(&code)), ());
        } else {
            pending = Some(code);
        }
    }
    out.into_keys().collect()
}

fn tidy(item: &str) -> String {
    let item = item.trim_end_matches(['{', ';', ',']).trim();
    item.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace(" )", ")")
}

#[test]
fn the_stdout_check_tells_print_from_eprint() {
    assert!(prints_to_stdout("println!(\"x\")"));
    assert!(prints_to_stdout("x; print!(\"x\")"));
    assert!(!prints_to_stdout("eprintln!(\"x\")"));
    assert!(!prints_to_stdout("eprint!(\"x\")"));
}

#[test]
fn public_api_listing() {
    for (name, dir) in crates() {
        let listing = public_items(&dir).join("\n");
        insta::assert_snapshot!(format!("public_api__{name}"), listing);
    }
}

/// The modules of `crates/trend` a module's library code names (`crate::module`), `lib` excluded.
fn trend_module_uses(code: &[(PathBuf, usize, String)]) -> BTreeMap<String, Vec<String>> {
    let mut uses: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, _, line) in code {
        let from = file.file_stem().unwrap().to_string_lossy().into_owned();
        let named = line.split("crate::").skip(1).filter_map(|rest| {
            let module: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            // `crate::Verdict` and `crate::{Analysis, ..}` name the root's items, not a module.
            (!module.is_empty() && rest[module.len()..].starts_with("::")).then_some(module)
        });
        let entry = uses.entry(from.clone()).or_default();
        for module in named.filter(|m| *m != from) {
            if !entry.contains(&module) {
                entry.push(module);
            }
        }
    }
    uses
}

/// A cycle in a module graph, as the modules on it, if there is one.
fn module_cycle(uses: &BTreeMap<String, Vec<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        uses: &BTreeMap<String, Vec<String>>,
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == m) {
            return Some(path[i..].to_vec());
        }
        if done.iter().any(|d| d == m) {
            return None;
        }
        path.push(m.to_owned());
        for next in uses.get(m).into_iter().flatten() {
            if let Some(cycle) = visit(next, uses, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(m.to_owned());
        None
    }
    let mut done = Vec::new();
    uses.keys()
        .find_map(|m| visit(m, uses, &mut Vec::new(), &mut done))
}

#[test]
fn trend_modules_depend_one_way() {
    let uses = trend_module_uses(&library_code(Path::new("crates/trend")));
    // The parse sees imports at all (judge decides one `outcome::Outcome`).
    assert!(uses["judge"].contains(&"outcome".to_owned()), "{uses:?}");
    if let Some(cycle) = module_cycle(&uses) {
        panic!(
            "crates/trend's modules import each other in a circle: {}",
            cycle.join(" -> ")
        );
    }
}
