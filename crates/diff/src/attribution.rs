//! Which frame of a traceback is the user's code.

use crate::Frame;

/// Decides which frames are *not* user code, so that [`user_frame`] can name the user's line.
///
/// By default these are skipped:
/// - the standard library (`std`, `core`, `alloc`, `panic_unwind`, ...): files under `/rustc/` or
///   a toolchain's `library/`, functions under `std::`, `core::`, `alloc::`, allocator shims
///   (`__rust_alloc`, `__rdl_alloc`, ...);
/// - the allocator and leakproof's own crates: functions whose crate is `leakproof*`, and files
///   under `crates/{sample,trend,macros}/` or `crates/{diff,harness,agents,report}/src/`
///   of the leakproof workspace (see [`Attribution::leakproof_paths`]); also the `backtrace` crate
///   that captures stacks;
/// - dependencies: files under `.cargo/registry/` or `.cargo/git/checkouts/` (cargo's download
///   locations), unless [`Attribution::dependencies_are_user_code`] is set or the dependency is
///   named with [`Attribution::user_dependency`];
/// - Python's and node's own library (`.../lib/python3.X/`, `<frozen ...>`, `node:...`, `<native>`
///   builtins) and their packages (`site-packages/`, `dist-packages/`, `node_modules/`, which are
///   dependencies as above), as leakproof's runtime agents report them.
///
/// Frames that did not resolve (no function, no file) are never the user frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    /// Skip frames of cargo dependencies (registry and git checkouts).
    pub skip_dependencies: bool,
    /// Dependency crate names (as in `Cargo.toml`) whose frames count as user code anyway.
    pub user_dependencies: Vec<String>,
    /// Extra function-name prefixes to skip, e.g. `"my_alloc::"`.
    pub skip_functions: Vec<String>,
    /// Extra function-name globs to skip, e.g. `*::record_allocation`.
    pub skip_function_globs: Vec<glob::Pattern>,
    /// Extra file-path fragments to skip: a frame whose file contains one is not user code.
    pub skip_paths: Vec<String>,
    /// Skip leakproof's own workspace paths (set to false when working on leakproof itself
    /// and its tests should count as user code).
    pub leakproof_paths: bool,
}

impl Default for Attribution {
    fn default() -> Self {
        Attribution {
            skip_dependencies: true,
            user_dependencies: Vec::new(),
            skip_functions: Vec::new(),
            skip_function_globs: Vec::new(),
            skip_paths: Vec::new(),
            leakproof_paths: true,
        }
    }
}

const STD_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "panic_unwind",
    "panic_abort",
    "test",
    "proc_macro",
    "hashbrown",
    "backtrace",
    "backtrace_rs",
    "addr2line",
    "gimli",
    "miniz_oxide",
    "rustc_demangle",
    "std_detect",
];

const ALLOC_SHIMS: &[&str] = &[
    "__rustc::",
    "__rust_alloc",
    "__rust_realloc",
    "__rust_dealloc",
    "__rust_alloc_zeroed",
    "__rdl_",
    "__rg_",
    "__rust_",
    "malloc",
    "calloc",
    "realloc",
    "posix_memalign",
    "aligned_alloc",
];

impl Attribution {
    /// The default attribution (see the type docs).
    pub fn new() -> Attribution {
        Attribution::default()
    }

    /// Count frames of all dependencies as user code (or not).
    pub fn dependencies_are_user_code(mut self, yes: bool) -> Attribution {
        self.skip_dependencies = !yes;
        self
    }

    /// Count frames of one dependency crate (name as in `Cargo.toml`, `-` or `_`) as user code.
    pub fn user_dependency(mut self, name: &str) -> Attribution {
        self.user_dependencies.push(name.to_owned());
        self
    }

    /// Skip functions starting with `pattern` (a path such as `my_pool::` or a symbol name), or,
    /// when `pattern` contains `*`, `?` or `[`, matching it as a glob (`*::record`).
    pub fn skip_function(mut self, pattern: &str) -> Attribution {
        match glob::Pattern::new(pattern) {
            Ok(p) if pattern.contains(['*', '?', '[']) => self.skip_function_globs.push(p),
            _ => self.skip_functions.push(pattern.to_owned()),
        }
        self
    }

    /// Skip frames whose file path contains `fragment`.
    pub fn skip_path(mut self, fragment: &str) -> Attribution {
        self.skip_paths.push(fragment.to_owned());
        self
    }

    /// Count leakproof's own workspace paths as user code (`false`) or skip them (`true`, default).
    pub fn with_leakproof_paths(mut self, skip: bool) -> Attribution {
        self.leakproof_paths = skip;
        self
    }

    /// True when `frame` is user code under this attribution.
    pub fn is_user(&self, frame: &Frame) -> bool {
        if !frame.is_resolved() {
            return false;
        }
        if let Some(func) = frame.function.as_deref() {
            if self.is_internal_function(func) {
                return false;
            }
        }
        if let Some(file) = frame.file.as_deref() {
            if self.is_internal_path(file) {
                return false;
            }
        }
        true
    }

    fn is_internal_function(&self, func: &str) -> bool {
        if ALLOC_SHIMS.iter().any(|p| func.starts_with(p)) {
            return true;
        }
        if self
            .skip_functions
            .iter()
            .any(|p| func.starts_with(p.as_str()))
            || self.skip_function_globs.iter().any(|p| p.matches(func))
        {
            return true;
        }
        // `<std::x::Y as core::Z>::f`, `<&T as ...>`: the crate of the self type decides.
        let bare = func.trim_start_matches(['<', '&', '*', '(', '[']);
        let bare = bare.strip_prefix("mut ").unwrap_or(bare);
        let bare = bare.strip_prefix("dyn ").unwrap_or(bare);
        let krate = bare.split("::").next().unwrap_or("");
        if krate.starts_with("leakproof") {
            return true;
        }
        // A bare crate name with a path after it, e.g. `std::vec::Vec<T>::push`.
        bare.contains("::") && STD_CRATES.contains(&krate)
    }

    fn is_internal_path(&self, file: &str) -> bool {
        // Runs for every frame of every site: one pass over the path's segments, no allocation
        // unless the path has backslashes.
        let file: std::borrow::Cow<'_, str> = if file.contains('\\') {
            file.replace('\\', "/").into()
        } else {
            file.into()
        };
        let file = file.as_ref();
        let class = classify(file);
        if class.std {
            return true;
        }
        if self.skip_paths.iter().any(|p| file.contains(p.as_str())) {
            return true;
        }
        if let Some(dep) = class.dependency {
            if dep.starts_with("leakproof") || dep == "backtrace" {
                return true;
            }
            if self.skip_dependencies {
                return !self.user_dependencies.iter().any(|u| same_crate(u, dep));
            }
            return false;
        }
        self.leakproof_paths && class.leakproof
    }
}

/// Crate names equal up to `-` / `_`.
fn same_crate(a: &str, b: &str) -> bool {
    let norm = |c: u8| if c == b'_' { b'-' } else { c };
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| norm(x) == norm(y))
}

/// What a source path says about where the code comes from.
#[derive(Debug, PartialEq, Eq)]
struct PathClass<'a> {
    /// The standard library: `/rustc/<hash>/...`, a `rustlib/src/rust/` checkout, or
    /// `library/{std,core,alloc,panic_unwind,test}/`.
    std: bool,
    /// The crate of a cargo registry or git checkout dependency, as its directory spells it.
    dependency: Option<&'a str>,
    /// leakproof's own workspace: `crates/{sample,trend,macros}/`, `crates/{diff,harness,agents,report}/src/`.
    leakproof: bool,
    /// The path without machine-specific prefixes (a suffix of the input).
    short: &'a str,
}

const STD_DIRS: [&str; 5] = ["std", "core", "alloc", "panic_unwind", "test"];

/// Where a Python or JavaScript file comes from, as the runtime agents report paths:
/// `node:internal/...`, `<frozen importlib._bootstrap>`, `<native>` (a builtin) and
/// `.../lib/python3.11/json/encoder.py` are the runtime's own library; `.../site-packages/NAME/...`,
/// `.../dist-packages/NAME/...` and `.../node_modules/NAME/...` are dependency NAME. `None` for
/// any other path.
fn classify_script(file: &str) -> Option<PathClass<'_>> {
    let class = |std, dependency, short| PathClass {
        std,
        dependency,
        leakproof: false,
        short,
    };
    if file.starts_with("node:") || file.starts_with("<frozen ") || file == "<native>" {
        return Some(class(true, None, file));
    }
    let package = ["/node_modules/", "/site-packages/", "/dist-packages/"]
        .iter()
        .filter_map(|dir| file.rfind(dir).map(|i| i + dir.len()))
        .max();
    if let Some(start) = package {
        let rest = &file[start..];
        let mut parts = rest.splitn(3, '/');
        let first = parts.next().unwrap_or("");
        let name = match (first.starts_with('@'), parts.next()) {
            // node's scoped packages: `@scope/name`.
            (true, Some(second)) => &rest[..first.len() + 1 + second.len()],
            _ => first.strip_suffix(".py").unwrap_or(first),
        };
        return Some(class(false, Some(name), rest));
    }
    let lib = ["/lib/python", "/lib64/python"]
        .iter()
        .find_map(|dir| file.find(dir).map(|i| (i + 1, i + dir.len())))
        .or_else(|| {
            file.starts_with("lib/python")
                .then_some((0, "lib/python".len()))
        })?;
    let version = file[lib.1..].split('/').next().unwrap_or("");
    let is_version =
        !version.is_empty() && version.chars().all(|ch| ch.is_ascii_digit() || ch == '.');
    is_version.then(|| class(true, None, &file[lib.0..]))
}

/// One pass over the `/`-separated segments of `file`.
fn classify(file: &str) -> PathClass<'_> {
    if let Some(c) = classify_script(file) {
        return c;
    }
    let mut c = PathClass {
        std: false,
        dependency: None,
        leakproof: false,
        short: file,
    };
    if let Some(rest) = file.strip_prefix("/rustc/") {
        c.std = true;
        if let Some((_, tail)) = rest.split_once('/') {
            c.short = tail;
        }
        return c;
    }
    let (mut p2, mut p1) = ("", ""); // the two segments before the current one
    let mut registry_index_seen = false;
    let mut std_pending = false;
    let mut pos = 0;
    for seg in file.split('/') {
        let start = pos;
        pos += seg.len() + 1;
        if std_pending {
            // .../library/std/src/...
            c.std |= seg == "src";
            std_pending = false;
        }
        if registry_index_seen {
            // registry/src/<index>/<name>-<version>/...: cut at the last '-' before a digit.
            let name = seg
                .rmatch_indices('-')
                .find(|(i, _)| seg[i + 1..].starts_with(|ch: char| ch.is_ascii_digit()))
                .map_or(seg, |(i, _)| &seg[..i]);
            c.dependency = Some(name);
            c.short = &file[start..];
            registry_index_seen = false;
        }
        match (p2, p1, seg) {
            ("rustlib", "src", "rust") => c.short = file.get(pos..).unwrap_or(""),
            (_, "library", dir) if STD_DIRS.contains(&dir) => {
                // `library/std/...` at the start (toolchain built from source), else `.../library/std/src/`.
                if start == "library/".len() {
                    c.std = true;
                } else {
                    std_pending = true;
                }
            }
            ("registry", "src", _) if c.dependency.is_none() => registry_index_seen = true,
            ("git", "checkouts", repo) if c.dependency.is_none() => {
                // git/checkouts/<repo>-<hash>/<rev>/...: the crate is the repo, best effort.
                c.dependency = Some(repo.rsplit_once('-').map_or(repo, |(n, _)| n));
                c.short = &file[start..];
            }
            (_, "crates", "sample" | "trend" | "macros")
            | ("crates", "diff" | "harness" | "agents" | "report", "src") => c.leakproof = true,
            _ => {}
        }
        p2 = p1;
        p1 = seg;
    }
    c
}

/// The index of the user frame of `frames` (innermost first): the first frame, from the innermost
/// outwards, that `attribution` counts as user code. `None` when there is none (e.g. unresolved).
pub fn user_frame(frames: &[Frame], attribution: &Attribution) -> Option<usize> {
    frames.iter().position(|f| attribution.is_user(f))
}

/// A file path shortened for display and for comparison keys: the toolchain prefix
/// `/rustc/<hash>/` and cargo's `.../registry/src/<index>/` and `.../git/checkouts/` prefixes are
/// cut, so `/rustc/abc/library/alloc/src/vec/mod.rs` becomes `library/alloc/src/vec/mod.rs` and
/// `/home/u/.cargo/registry/src/index.crates.io-xyz/regex-1.10.2/src/lib.rs` becomes
/// `regex-1.10.2/src/lib.rs`. Snapshots from machines with different homes or toolchains match.
pub fn display_path(file: &str) -> String {
    short_path(file).to_owned()
}

/// [`display_path`] without allocating: the shortened path is always a suffix of `file`.
pub(crate) fn short_path(file: &str) -> &str {
    classify(file).short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(function: &str, file: &str) -> Frame {
        Frame::at(function, file, 1)
    }

    #[test]
    fn skips_std_allocator_and_leakproof() {
        let a = Attribution::default();
        assert!(!a.is_user(&f(
            "alloc::raw_vec::finish_grow",
            "/rustc/abc/library/alloc/src/raw_vec.rs"
        )));
        assert!(!a.is_user(&f("__rust_alloc", "")));
        assert!(!a.is_user(&f("__rustc::__rust_alloc", "")));
        assert!(!a.is_user(&f(
            "<leakproof_sample::TrackingAlloc<A> as core::alloc::global::GlobalAlloc>::alloc",
            "crates/sample/src/lib.rs"
        )));
        assert!(!a.is_user(&f(
            "<alloc::vec::Vec<T> as core::clone::Clone>::clone",
            "x.rs"
        )));
        assert!(!a.is_user(&Frame::from_ip(0x1234)));
        assert!(a.is_user(&f("myapp::cache::Cache::insert", "src/cache.rs")));
        assert!(a.is_user(&f(
            "<myapp::Thing as core::ops::Drop>::drop",
            "src/thing.rs"
        )));
    }

    #[test]
    fn extra_functions_and_paths_are_skipped() {
        let a = Attribution::default()
            .skip_function("mypool::")
            .skip_function("*::record")
            .skip_path("vendor/");
        assert!(!a.is_user(&f("mypool::Pool::get", "src/pool.rs")));
        assert!(!a.is_user(&f("app::tracing::record", "src/t.rs")));
        assert!(a.is_user(&f("app::tracing::record_all", "src/t.rs")));
        assert!(!a.is_user(&f("x::y", "vendor/x/src/lib.rs")));
        assert!(Attribution::default().is_user(&f("x::y", "vendor/x/src/lib.rs")));
        let own = f("leakproof_diff::tests::t", "crates/diff/tests/t.rs");
        assert!(!a.is_user(&own), "leakproof_* functions are internal");
        let own_path = f("t::helper", "crates/sample/src/x.rs");
        assert!(!a.is_user(&own_path));
        assert!(a.clone().with_leakproof_paths(false).is_user(&own_path));
    }

    #[test]
    fn dependencies_are_configurable() {
        let file = "/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/string-interner-0.17.0/src/lib.rs";
        let dep = f("string_interner::StringInterner::get_or_intern", file);
        assert!(!Attribution::default().is_user(&dep));
        assert!(Attribution::default()
            .user_dependency("string_interner")
            .is_user(&dep));
        assert!(Attribution::default()
            .dependencies_are_user_code(true)
            .is_user(&dep));
        let git = f(
            "foo::bar",
            "/home/u/.cargo/git/checkouts/foo-0123abcd/deadbee/src/lib.rs",
        );
        assert!(!Attribution::default().is_user(&git));
        assert!(Attribution::default().user_dependency("foo").is_user(&git));
        assert_eq!(classify(file).dependency, Some("string-interner"));
        assert!(same_crate("string_interner", "string-interner"));
    }

    #[test]
    fn user_frame_names_the_call_site_of_a_dependency() {
        let frames = vec![
            f("__rust_alloc", "/rustc/abc/library/alloc/src/alloc.rs"),
            f(
                "interner::Interner::intern",
                "/r/.cargo/registry/src/idx/interner-1.0.0/src/lib.rs",
            ),
            f("myapp::handle", "src/main.rs"),
            f("myapp::main", "src/main.rs"),
        ];
        assert_eq!(user_frame(&frames, &Attribution::default()), Some(2));
        assert_eq!(user_frame(&frames[..2], &Attribution::default()), None);
    }

    #[test]
    fn classify_paths() {
        let c = classify(
            "/home/u/.rustup/toolchains/x/lib/rustlib/src/rust/library/alloc/src/vec/mod.rs",
        );
        assert!(c.std);
        assert_eq!(c.short, "library/alloc/src/vec/mod.rs");
        assert!(classify("library/std/src/rt.rs").std);
        assert!(!classify("src/library.rs").std);
        assert!(
            !classify("src/library/core.rs").std,
            "a file named like a std dir is user code"
        );
        assert!(!classify("/w/app/library/core/lib.rs").std);
        assert!(classify("/w/rust/library/core/src/fmt/mod.rs").std);
        let c = classify("/w/leakproof/crates/sample/src/alloc.rs");
        assert!(c.leakproof && !c.std && c.dependency.is_none());
        assert!(classify("crates/harness/src/runner.rs").leakproof);
        assert!(classify("crates/agents/src/lib.rs").leakproof);
        assert!(!classify("crates/harness/tests/sites.rs").leakproof);
        assert!(classify("crates/diff/src/lib.rs").leakproof);
        assert!(!classify("crates/diff/tests/x.rs").leakproof);
        assert!(!classify("src/main.rs").leakproof);
        let c = classify("/h/.cargo/registry/src/idx-1/serde_json-1.0.1/src/de.rs");
        assert_eq!(
            (c.dependency, c.short),
            (Some("serde_json"), "serde_json-1.0.1/src/de.rs")
        );
        let c = classify("/h/.cargo/git/checkouts/foo-0123/abc/src/lib.rs");
        assert_eq!(
            (c.dependency, c.short),
            (Some("foo"), "foo-0123/abc/src/lib.rs")
        );
    }

    #[test]
    fn python_and_node_library_and_packages_are_not_user_code() {
        let a = Attribution::default();
        for std in [
            "/root/.pyenv/versions/3.11.7/lib/python3.11/json/encoder.py",
            "/usr/lib64/python3.8/socketserver.py",
            "<frozen importlib._bootstrap>",
            "node:internal/streams/writable",
            "node:net",
            "<native>",
        ] {
            assert!(classify(std).std, "{std}");
            assert!(!a.is_user(&f("f", std)), "{std}");
        }
        let c = classify("/usr/lib/python3/dist-packages/six.py");
        assert_eq!((c.dependency, c.short), (Some("six"), "six.py"));
        let c = classify("/v/lib/python3.12/site-packages/flask/app.py");
        assert_eq!((c.dependency, c.short), (Some("flask"), "flask/app.py"));
        let c = classify("/app/node_modules/a/node_modules/@s/b/index.js");
        assert_eq!((c.dependency, c.short), (Some("@s/b"), "@s/b/index.js"));
        assert!(!a.is_user(&f("create", "/app/node_modules/express/lib/express.js")));
        assert!(a
            .clone()
            .user_dependency("express")
            .is_user(&f("create", "/app/node_modules/express/lib/express.js")));
        for user in [
            "/srv/app/lib/python_helpers/x.py",
            "/srv/app/service.py",
            "/srv/app/app.js",
            "<string>",
        ] {
            assert!(a.is_user(&f("handle", user)), "{user}");
        }
    }

    #[test]
    fn display_path_cuts_machine_specific_prefixes() {
        assert_eq!(
            display_path("/rustc/0123/library/std/src/rt.rs"),
            "library/std/src/rt.rs"
        );
        assert_eq!(
            display_path("/h/.cargo/registry/src/index.crates.io-x/regex-1.0.0/src/a.rs"),
            "regex-1.0.0/src/a.rs"
        );
        assert_eq!(display_path("src/cache.rs"), "src/cache.rs");
    }
}
