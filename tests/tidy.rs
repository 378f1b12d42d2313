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

/// The dependency rules: data flows one way, (cli, macros) -> harness -> (agents, report) ->
/// (sample, trend, diff).
const ALLOWED: &[(&str, &[&str])] = &[
    ("leakproof-trend", &[]),
    ("leakproof-sample", &[]),
    ("leakproof-diff", &[]),
    ("leakproof-macros", &[]),
    ("leakproof-preload", &[]),
    ("leakproof-heapgraph", &["leakproof-diff"]),
    ("leakproof-report", &["leakproof-diff", "leakproof-trend"]),
    // The agents name the preload agent only so that cargo builds the `.so` beside them.
    (
        "leakproof-agents",
        &[
            "leakproof-diff",
            "leakproof-heapgraph",
            "leakproof-preload",
            "leakproof-sample",
            "leakproof-trend",
        ],
    ),
    (
        "leakproof-harness",
        &[
            "leakproof-agents",
            "leakproof-diff",
            "leakproof-report",
            "leakproof-sample",
            "leakproof-trend",
        ],
    ),
    (
        "leakproof-cli",
        &[
            "leakproof-diff",
            "leakproof-harness",
            "leakproof-report",
            "leakproof-sample",
            "leakproof-trend",
        ],
    ),
    // The Python package's extension: the harness's engine and report, and the command line
    // for its console script (the CLI is a front end beside it, not below it).
    (
        "leakproof-python",
        &[
            "leakproof-agents",
            "leakproof-cli",
            "leakproof-diff",
            "leakproof-harness",
            "leakproof-report",
            "leakproof-trend",
        ],
    ),
    (
        "leakproof",
        &[
            "leakproof-agents",
            "leakproof-cli",
            "leakproof-diff",
            "leakproof-harness",
            "leakproof-macros",
            "leakproof-report",
            "leakproof-sample",
            "leakproof-trend",
        ],
    ),
];

/// What ARCHITECTURE.md says a crate never depends on, with the reason (the allowed lists above
/// imply these; they are spelled out so that widening a list cannot silently break one).
const NEVER: &[(&str, &str, &str)] = &[
    (
        "leakproof-report",
        "leakproof-sample",
        "the report knows no processes",
    ),
    (
        "leakproof-report",
        "leakproof-agents",
        "the report knows no processes",
    ),
    (
        "leakproof-report",
        "leakproof-harness",
        "the report knows no engine",
    ),
    (
        "leakproof-agents",
        "leakproof-harness",
        "the agents know no engine",
    ),
    (
        "leakproof-agents",
        "leakproof-report",
        "the agents know no report",
    ),
    (
        "leakproof-trend",
        "leakproof-sample",
        "trend is pure statistics",
    ),
    (
        "leakproof-heapgraph",
        "leakproof-sample",
        "the heap graph reads files, not processes",
    ),
];

#[test]
fn what_never_depends_on_what() {
    for (name, dir) in crates() {
        let manifest = fs::read_to_string(root().join(&dir).join("Cargo.toml")).unwrap();
        let deps = leakproof_dependencies(&manifest);
        for (from, to, why) in NEVER.iter().filter(|(from, _, _)| *from == name) {
            assert!(
                !deps.iter().any(|d| d == to),
                "{from} depends on {to}, but {why} (ARCHITECTURE.md)"
            );
        }
    }
}

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

/// [`library_code_indented`] with each line trimmed.
fn library_code(dir: &Path) -> Vec<(PathBuf, usize, String)> {
    let mut out = library_code_indented(dir);
    for line in &mut out {
        line.2 = line.2.trim().to_owned();
    }
    out
}

/// The library source of a crate (its `src/`), without `#[cfg(test)]` items (a module, a
/// function, a `mod tests;` file) and without comments, as (path, line number, code) triples with
/// each line's indentation kept.
fn library_code_indented(dir: &Path) -> Vec<(PathBuf, usize, String)> {
    let mut out = Vec::new();
    for file in rust_files(&root().join(dir).join("src")) {
        if dir.as_os_str().is_empty() && file.starts_with(root().join("crates")) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        for (i, code) in without_test_items(&text) {
            out.push((file.clone(), i, code));
        }
    }
    let tests = test_module_files(dir);
    out.retain(|(file, _, _)| !tests.contains(file));
    out
}

/// The code lines of `text` (1-based numbers, comments removed) outside `#[cfg(test)]` items: the
/// attribute, any attributes after it, and the item up to its closing brace (or `;`).
fn without_test_items(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut skipping = false;
    let mut depth = 0i64;
    let mut opened = false;
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("").trim();
        if !skipping && code.starts_with("#[cfg(test)]") {
            (skipping, depth, opened) = (true, 0, false);
        }
        if skipping {
            depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
            opened |= code.contains('{');
            let item_done = if opened {
                depth <= 0
            } else {
                code.ends_with(';')
            };
            if item_done && !code.starts_with("#[") {
                skipping = false;
            }
            continue;
        }
        if !code.is_empty() {
            out.push((
                i + 1,
                line.split("//").next().unwrap_or("").trim_end().to_owned(),
            ));
        }
    }
    out
}

/// The files of `#[cfg(test)] mod NAME;` declarations under `dir`'s `src/` (test code, not
/// library code).
fn test_module_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for file in rust_files(&root().join(dir).join("src")) {
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for pair in lines.windows(2) {
            let Some(name) = pair[1]
                .strip_prefix("mod ")
                .and_then(|m| m.strip_suffix(';'))
            else {
                continue;
            };
            if pair[0].starts_with("#[cfg(test)]") {
                out.extend(module_files(&file, name));
            }
        }
    }
    out
}

/// Where `mod name;` declared in `file` lives: `name.rs` or `name/mod.rs` beside a `mod.rs` or
/// `lib.rs`, else in the directory named after `file`.
fn module_files(file: &Path, name: &str) -> Vec<PathBuf> {
    let parent = file.parent().unwrap();
    let stem = file.file_stem().unwrap();
    let base = if stem == "mod" || stem == "lib" {
        parent.to_path_buf()
    } else {
        parent.join(stem)
    };
    [
        base.join(format!("{name}.rs")),
        base.join(name).join("mod.rs"),
    ]
    .into_iter()
    .filter(|p| p.exists())
    .collect()
}

#[test]
fn test_items_are_skipped_and_the_code_after_them_is_read() {
    let text = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn t() { println!(); }\n}\nfn b() {}\n\
                #[cfg(test)]\nmod more;\n#[cfg(test)]\n#[allow(x)]\nfn helper() {\n}\nfn c() {}\n";
    let code: Vec<String> = without_test_items(text)
        .into_iter()
        .map(|(_, c)| c.trim().to_owned())
        .collect();
    assert_eq!(code, ["fn a() {}", "fn b() {}", "fn c() {}"]);
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
    "crates/harness/src/testing/reexec.rs",
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
        "crates/harness/src/target.rs",
        "starts a driven or watched target",
    ),
    ("crates/cli/src/each.rs", "runs a drive's --each command"),
    (
        "crates/harness/src/testing/reexec.rs",
        "re-executes the test binary for one leak test",
    ),
    (
        "crates/agents/src/attach/gdb.rs",
        "runs gdb to load the Python agent into a running interpreter",
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

/// The public items of a crate that users can reach: `pub` declarations (not `pub(crate)`) in
/// modules reachable through `pub mod` from `lib.rs`, items of private modules that a `pub use`
/// re-exports (and the fields and methods of such types), and the re-exports themselves; one per
/// line, as written. A change to what users can name shows as a diff of the snapshot in review.
fn public_items(dir: &Path) -> Vec<String> {
    let reachable = public_path_files(dir);
    let names = re_exported_names(dir);
    let mut out: BTreeMap<String, ()> = BTreeMap::new();
    let mut pending: Option<String> = None;
    let mut owner: Option<String> = None;
    for (file, _, code) in library_code_indented(dir) {
        let rel = file
            .strip_prefix(root().join(dir))
            .unwrap()
            .display()
            .to_string();
        let (indent, code) = (code.len() - code.trim_start().len(), code.trim().to_owned());
        if indent == 0 {
            owner = impl_target(&code).or_else(|| item_name(&code));
        }
        let shown = reachable.contains(&file)
            || code.starts_with("pub use ")
            || match (indent, &owner) {
                (0, _) => item_name(&code).is_some_and(|n| names.contains(&n)),
                (_, Some(o)) => names.contains(o),
                _ => false,
            };
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
        if !code.starts_with("pub ") || code.starts_with("pub(") || !shown {
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

/// The files of modules reachable from `lib.rs` through `pub mod` declarations only.
fn public_path_files(dir: &Path) -> Vec<PathBuf> {
    let lib = root().join(dir).join("src/lib.rs");
    let mut out = vec![lib.clone()];
    let mut todo = vec![lib];
    while let Some(file) = todo.pop() {
        let text = fs::read_to_string(&file).unwrap();
        for (_, code) in without_test_items(&text) {
            let Some(name) = code
                .strip_prefix("pub mod ")
                .and_then(|m| m.strip_suffix(';'))
            else {
                continue;
            };
            for f in module_files(&file, name) {
                out.push(f.clone());
                todo.push(f);
            }
        }
    }
    out
}

/// Every name a `pub use` of the crate re-exports (`pub use a::{B, C as D};` gives B, C and D).
fn re_exported_names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let text: String = library_code(dir)
        .into_iter()
        .map(|(_, _, c)| c + "\n")
        .collect();
    for stmt in text.split(';') {
        let Some(path) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let names = match path.split_once('{') {
            Some((_, list)) => list.trim_end_matches(['}', ' ', '\n']).to_owned(),
            None => path.rsplit("::").next().unwrap_or("").to_owned(),
        };
        for name in names.split(',').flat_map(|n| n.split(" as ")) {
            let name = name.trim().rsplit("::").next().unwrap_or("").trim();
            if !name.is_empty() {
                out.push(name.to_owned());
            }
        }
    }
    out
}

/// The name an item line declares: `pub fn x(`, `pub struct X`, `enum X {`, `const X: ...`.
fn item_name(code: &str) -> Option<String> {
    let mut words = code.split_whitespace().peekable();
    while let Some(w) = words.next() {
        if matches!(
            w,
            "fn" | "struct" | "enum" | "trait" | "const" | "static" | "type" | "mod" | "union"
        ) {
            let name = words.next()?;
            let end = name
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            return Some(name[..end].to_owned());
        }
    }
    None
}

/// The type an `impl` block is for: `impl<T> Trait for Type<T> {` gives `Type`.
fn impl_target(code: &str) -> Option<String> {
    if !code.starts_with("impl") {
        return None;
    }
    let head = code.trim_end_matches('{').trim();
    let ty = head.rsplit(" for ").next()?.split_whitespace().last()?;
    let ty = if head.contains(" for ") {
        head.rsplit(" for ").next()?.trim()
    } else {
        ty
    };
    let end = ty
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(ty.len());
    Some(ty[..end].to_owned())
}

#[test]
fn item_and_impl_names_are_read() {
    assert_eq!(item_name("pub fn run<F>(f: F) {").as_deref(), Some("run"));
    assert_eq!(
        item_name("pub struct Harness {").as_deref(),
        Some("Harness")
    );
    assert_eq!(impl_target("impl Harness {").as_deref(), Some("Harness"));
    assert_eq!(
        impl_target("impl<'a> Sampler for AgentSampler<'a> {").as_deref(),
        Some("AgentSampler")
    );
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

/// What I/O looks like in library code: files, sockets, processes, the environment, printing.
const IO: &[&str] = &[
    "std::fs",
    "std::io::",
    "std::net",
    "std::process",
    "std::env",
    "File::",
    "print!(",
    "println!(",
];

#[test]
fn trend_does_no_io() {
    for (file, line, code) in library_code(Path::new("crates/trend")) {
        let rel = file.strip_prefix(root()).unwrap();
        for io in IO {
            assert!(
                !code.contains(io),
                "{}:{line}: `{io}` in leakproof-trend, which is pure statistics",
                rel.display()
            );
        }
    }
}

/// Library code outside crates/agents and crates/sample that may read `/proc` or signal a
/// process, with the reason.
const PROCESS_ACCESS: &[(&str, &str)] = &[
    (
        "crates/harness/src/target.rs",
        "signals the process groups of the targets it started itself",
    ),
    (
        "crates/harness/src/testing/reexec.rs",
        "kills the re-executed test binary it started when it overruns",
    ),
    ("crates/diff/src/smaps.rs", "reads the smaps file it diffs"),
    (
        "crates/diff/src/symtab.rs",
        "reads its own process's maps to symbolize",
    ),
];

#[test]
fn only_the_agents_and_sample_read_proc_or_signal_processes() {
    for (name, dir) in crates() {
        if matches!(
            name.as_str(),
            "leakproof-agents" | "leakproof-sample" | "leakproof-preload"
        ) {
            continue;
        }
        for (file, line, code) in library_code(&dir) {
            let rel = file.strip_prefix(root()).unwrap();
            let touches = code.contains("\"/proc")
                || code.contains("killpg(")
                || code.contains("kill(")
                || code.contains("signal::");
            assert!(
                !touches || PROCESS_ACCESS.iter().any(|(p, _)| Path::new(p) == rel),
                "{}:{line}: reads /proc or signals a process; only leakproof-agents and \
                 leakproof-sample may ({PROCESS_ACCESS:?} excepted)",
                rel.display()
            );
        }
    }
}

/// Test files that start a service runtime but are not `drive_*` (so not in nextest's
/// `service-drives` group), with the reason.
const SERVICES_OUTSIDE_THE_GROUP: &[(&str, &str)] = &[
    (
        "tests/cli.rs",
        "one small Python server, judged on its descriptors only (no agent, no collection)",
    ),
    ("tests/tidy.rs", "names the runtimes it looks for"),
];

#[test]
fn every_service_test_is_in_the_one_at_a_time_group() {
    let runtimes = ["python3", "\"node\"", "\"java\"", "javac", "\"gcc\""];
    for file in rust_files(&root().join("tests")) {
        let rel = file.strip_prefix(root()).unwrap();
        let name = rel.file_name().unwrap().to_string_lossy();
        let text = fs::read_to_string(&file).unwrap();
        let starts_service = runtimes.iter().any(|r| text.contains(r));
        let exempt = SERVICES_OUTSIDE_THE_GROUP
            .iter()
            .any(|(p, _)| Path::new(p) == rel);
        assert!(
            !starts_service
                || name.starts_with("drive_")
                || exempt
                || rel.starts_with("tests/common"),
            "{}: starts a service runtime, so name it tests/drive_*.rs (nextest's service-drives \
             group, .config/nextest.toml)",
            rel.display()
        );
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
