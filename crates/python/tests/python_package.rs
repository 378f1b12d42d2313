//! The Python package end to end, through the installed package: fresh virtual environments for
//! the oldest and the newest CPython (3.8 and 3.13), pytest, pytest-xdist, pytest-asyncio and
//! anyio from the package registry, one abi3 wheel built by `pip` from `python/` (maturin, with
//! the workspace's target directory), then real pytest runs of the suite in `tests/pysuite/`:
//! `pytest --leakproof` fails exactly the leaking tests and names each heap leak's line, under
//! plain pytest and under `-n 2`; marks, the decorator, `LEAKPROOF=once`, `check()`, unittest and
//! the `leakproof` command of the wheel (its preload agent and its Python agent included).
//!
//! Interpreters: `LEAKPROOF_TEST_PYTHONS` (paths separated by `:`), else pyenv's 3.8.18 and 3.13.0.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test dependencies installed into each environment.
const TEST_PACKAGES: [&str; 4] = ["pytest", "pytest-xdist", "pytest-asyncio", "anyio"];
/// Longest a pip command may take (a registry that does not answer fails the test, never hangs it).
const PIP_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Longest one pytest run may take.
const PYTEST_TIMEOUT: Duration = Duration::from_secs(10 * 60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn work() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-package")
}

/// An interpreter's virtual environment with the package and the test dependencies installed.
struct Venv {
    version: String,
    dir: PathBuf,
}

impl Venv {
    fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    fn python(&self) -> Command {
        let mut cmd = Command::new(self.bin("python"));
        cmd.env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("LEAKPROOF")
            .env_remove("LEAKPROOF_ITERATIONS")
            .env_remove("LEAKPROOF_WARMUP")
            .env_remove("LEAKPROOF_REPORT_DIR")
            .env_remove("PYTHONPATH");
        cmd
    }

    /// `python -m pytest ARGS` in a fresh copy of the suite; returns the output and the copy.
    fn pytest(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> (Run, PathBuf) {
        let dir = work().join(format!("suite-{}-{name}", self.version));
        copy_suite(&dir);
        let mut cmd = self.python();
        cmd.args(["-m", "pytest", "-p", "no:cacheprovider", "-rA", "-q"])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&dir);
        (run(cmd, PYTEST_TIMEOUT, &format!("pytest {name}")), dir)
    }
}

/// The environments, made once per test process.
fn venvs() -> &'static [Venv] {
    static VENVS: OnceLock<Vec<Venv>> = OnceLock::new();
    VENVS.get_or_init(|| {
        let started = Instant::now();
        let _ = std::fs::remove_dir_all(work());
        std::fs::create_dir_all(work()).expect("create the work directory");
        let venvs: Vec<Venv> = pythons().iter().map(|p| make_venv(p)).collect();
        let wheel = build_wheel(&venvs[0]);
        for venv in &venvs {
            pip(
                venv,
                &["install", "--no-deps", wheel.to_str().expect("utf-8 path")],
            );
        }
        // The command users run, `pip install ./python`, in the newest environment too.
        let newest = venvs.last().expect("an interpreter");
        pip(
            newest,
            &["install", "--force-reinstall", "--no-deps", "./python"],
        );
        eprintln!(
            "python_package: {} environments and the wheel in {:.0} s",
            venvs.len(),
            started.elapsed().as_secs_f64()
        );
        venvs
    })
}

fn pythons() -> Vec<PathBuf> {
    let list = std::env::var("LEAKPROOF_TEST_PYTHONS").unwrap_or_else(|_| {
        "/root/.pyenv/versions/3.8.18/bin/python3:/root/.pyenv/versions/3.13.0/bin/python3".into()
    });
    let pythons: Vec<PathBuf> = std::env::split_paths(&list).collect();
    for p in &pythons {
        assert!(
            p.is_file(),
            "python_package: interpreter {} not found (set LEAKPROOF_TEST_PYTHONS to the CPythons \
             to test, separated by ':')",
            p.display()
        );
    }
    pythons
}

fn make_venv(python: &Path) -> Venv {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .expect("run the interpreter");
    let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let dir = work().join(format!("venv-{version}"));
    let mut cmd = Command::new(python);
    cmd.args(["-m", "venv"]).arg(&dir);
    check(run(cmd, PIP_TIMEOUT, "python -m venv"));
    let venv = Venv { version, dir };
    let mut args = vec!["install"];
    args.extend(TEST_PACKAGES);
    pip(&venv, &args);
    venv
}

/// Builds the wheel with pip (the package's PEP 517 backend: maturin and the preload agent), in
/// the workspace's target directory and the dev profile, so the build reuses what cargo built.
fn build_wheel(venv: &Venv) -> PathBuf {
    let dir = work().join("wheel");
    pip(
        venv,
        &[
            "wheel",
            "--no-deps",
            "-w",
            dir.to_str().expect("utf-8"),
            "./python",
        ],
    );
    std::fs::read_dir(&dir)
        .expect("the wheel directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("pip wheel made a wheel")
}

/// `pip ARGS` in the repository's root; a registry that cannot be reached is one clear line.
fn pip(venv: &Venv, args: &[&str]) {
    let mut cmd = venv.python();
    cmd.args([
        "-m",
        "pip",
        "--disable-pip-version-check",
        "--timeout",
        "30",
        "--retries",
        "2",
    ])
    .args(args)
    .env("MATURIN_PEP517_ARGS", "--profile dev --strip")
    .env("CARGO_TARGET_DIR", target_dir())
    .current_dir(repo());
    let what = format!("pip {} (python {})", args.join(" "), venv.version);
    let out = run(cmd, PIP_TIMEOUT, &what);
    if !out.ok {
        let last = out
            .stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(nothing on stderr)");
        panic!(
            "python_package: {what} failed (is the package registry reachable?): {last}\n{}",
            tail(&out.stdout, 30)
        );
    }
}

/// The workspace's target directory (this test runs from `target/<profile>/deps`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp")
        .to_path_buf()
}

/// What a command did.
struct Run {
    ok: bool,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with no input, killing it after `timeout`.
fn run(mut cmd: Command, timeout: Duration, what: &str) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python_package: cannot start {what}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("python_package: {what} took longer than {timeout:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        ok: status.success(),
        code: status.code(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

fn check(run: Run) -> Run {
    assert!(
        run.ok,
        "{}\n{}",
        tail(&run.stdout, 40),
        tail(&run.stderr, 40)
    );
    run
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn copy_suite(dest: &Path) {
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest).expect("suite copy");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pysuite");
    for entry in std::fs::read_dir(src).expect("tests/pysuite") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, dest.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

/// The outcome of every test in pytest's `-rA` summary (`PASSED`, `FAILED`, `XFAIL`, ...), by
/// node id, and the failure section of every failed test, by the name in its header.
struct Outcomes {
    by_id: BTreeMap<String, String>,
    sections: BTreeMap<String, String>,
    output: String,
}

impl Outcomes {
    fn of(run: &Run) -> Outcomes {
        let mut by_id = BTreeMap::new();
        for line in run.stdout.lines() {
            let mut words = line.splitn(2, ' ');
            let (Some(outcome), Some(rest)) = (words.next(), words.next()) else {
                continue;
            };
            if ["PASSED", "FAILED", "XFAIL", "XPASS", "ERROR"].contains(&outcome) {
                let id = rest.split(" - ").next().unwrap_or(rest).trim().to_owned();
                by_id.insert(id, outcome.to_owned());
            }
        }
        let mut sections = BTreeMap::new();
        let mut current: Option<(String, String)> = None;
        for line in run.stdout.lines() {
            let header = line
                .strip_prefix('_')
                .filter(|l| l.ends_with('_') && l.contains(' '))
                .map(|l| l.trim_matches('_').trim().to_owned());
            let summary = line.starts_with("====");
            if header.is_some() || summary {
                if let Some((name, text)) = current.take() {
                    sections.insert(name, text);
                }
            }
            if let Some(name) = header {
                current = Some((name, String::new()));
            } else if let Some((_, text)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
        }
        Outcomes {
            by_id,
            sections,
            output: format!("{}\n{}", run.stdout, run.stderr),
        }
    }

    fn outcome(&self, id: &str) -> &str {
        self.by_id
            .get(id)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no outcome for {id} in:\n{}", tail(&self.output, 80)))
    }

    fn section(&self, name: &str) -> &str {
        self.sections
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no failure section `{name}` in:\n{}", self.output))
    }
}

/// The lines of `file` marked `# leaks: NAME`: (NAME, `file:LINE`).
fn marked_lines(file: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pysuite")
        .join(file);
    let text = std::fs::read_to_string(path).expect("suite file");
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let name = line.split("# leaks: ").nth(1)?.trim().to_owned();
            Some((name, format!("{file}:{}", i + 1)))
        })
        .collect()
}

/// Every failed test's section names `NAME`'s marked line (a parametrized test in each case).
fn assert_lines_named(o: &Outcomes) {
    for (name, line) in marked_lines("test_leaking.py") {
        let sections: Vec<(&String, &String)> = o
            .sections
            .iter()
            .filter(|(header, _)| *header == &name || header.starts_with(&format!("{name}[")))
            .collect();
        assert!(!sections.is_empty(), "no failure of {name}:\n{}", o.output);
        for (header, text) in sections {
            assert!(
                text.contains("LEAKING (") && text.contains(&line),
                "{header}: the leak's line {line} is not named:\n{text}"
            );
        }
    }
}

/// The holders named in `file` by `# held by NAME: HOLDER` comments: (NAME, HOLDER).
fn marked_holders(file: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pysuite")
        .join(file);
    let text = std::fs::read_to_string(path).expect("suite file");
    text.lines()
        .filter_map(|line| {
            let (name, holder) = line.trim().strip_prefix("# held by ")?.split_once(": ")?;
            Some((name.to_owned(), holder.to_owned()))
        })
        .collect()
}

/// Every failed test marked with a holder names it, the way the test's code spells it.
fn assert_holders_named(o: &Outcomes) {
    let holders = marked_holders("test_leaking.py");
    assert!(holders.len() >= 5, "{holders:?}");
    for (name, holder) in holders {
        let text = o.section(&name);
        assert!(
            text.contains(&format!("held by {holder}")),
            "{name}: its holder `{holder}` is not named:\n{text}"
        );
    }
}

/// The suite under `pytest --leakproof ARGS`: exactly the leaking tests fail, with their lines.
fn assert_suite(venv: &Venv, name: &str, args: &[&str]) {
    let mut all = vec!["--leakproof"];
    all.extend(args);
    let (run, _) = venv.pytest(name, &all, &[]);
    let o = Outcomes::of(&run);
    let bounded = [
        "test_list_built_and_dropped",
        "test_dict_cache_with_ten_keys",
        "test_lru_cache_with_maxsize",
        "test_re_cache",
        "test_deque_with_maxlen",
        "test_logs_on_every_call",
        "test_prints_on_every_call",
        "test_capsys_not_read",
        "test_caplog_counts_one_record",
        "test_warns_on_every_call",
        "test_tmp_path_file",
        "test_socketpair_closed",
        "test_thread_joined",
        "test_parametrized[alpha]",
        "test_parametrized[beta]",
        "TestMethods::test_method",
        "BoundedCase::test_unittest_method",
        "test_asyncio_sleep",
        "test_anyio_sleep",
        "test_tracemalloc_untouched",
    ];
    for test in bounded {
        let id = format!("test_bounded.py::{test}");
        let outcome = o.outcome(&id);
        let why = o.sections.get(test.replace("::", ".").as_str());
        assert_eq!(outcome, "PASSED", "{id} ({}): {why:?}", venv.version);
    }
    assert_eq!(o.outcome("test_bounded.py::test_expected_to_fail"), "XFAIL");
    assert!(run.stdout.contains("2 skipped"), "{}", tail(&run.stdout, 5));
    let leaking = [
        ("test_list_grows", "python-heap"),
        ("test_dict_grows", "python-heap"),
        ("test_unbounded_lru_cache", "python-heap"),
        ("test_unclosed_file", "fds"),
        ("test_unclosed_socket", "fds"),
        ("test_raw_descriptor", "fds"),
        ("test_thread_left_running", "threads"),
        ("test_handler_added_on_every_call", "python-heap"),
        ("test_parametrized[64]", "python-heap"),
        ("test_parametrized[256]", "python-heap"),
        ("TestMethods::test_method", "python-heap"),
        ("LeakingCase::test_unittest_method", "python-heap"),
        ("test_asyncio", "python-heap"),
        ("test_anyio", "python-heap"),
        ("test_decorated", "python-heap"),
        ("test_marked", "python-heap"),
    ];
    for (test, resource) in leaking {
        let id = format!("test_leaking.py::{test}");
        assert_eq!(o.outcome(&id), "FAILED", "{id} ({})", venv.version);
        let text = o.section(&test.replace("::", "."));
        // Under xdist the section starts with the worker's line (`[gw0] linux -- Python ...`).
        let verdict = text
            .lines()
            .find(|l| !l.starts_with("[gw"))
            .unwrap_or_default();
        assert!(
            verdict.contains("LEAKING (") && verdict.contains(resource),
            "{id}: not a {resource} leak:\n{text}"
        );
    }
    assert_lines_named(&o);
    assert_holders_named(&o);
    assert_eq!(
        o.outcome("test_leaking.py::test_excluded_though_it_keeps"),
        "PASSED"
    );
    // A test failing on its own fails with its own message; one that passes once, as not
    // repeatable, with the same words as a Rust leak test.
    assert_eq!(
        o.outcome("test_leaking.py::test_fails_on_its_own"),
        "FAILED"
    );
    let own = o.section("test_fails_on_its_own");
    assert!(
        own.contains("arithmetic is broken") && !own.contains("LEAKING"),
        "{own}"
    );
    let again = o.section("test_not_repeatable");
    assert!(
        again.contains("passes once but fails when repeated (iteration 2)")
            && again.contains("only the first run passes")
            && again.contains("@pytest.mark.no_leak_test"),
        "{again}"
    );
    assert!(
        run.stdout
            .contains("18 failed, 21 passed, 2 skipped, 1 xfailed"),
        "{}",
        tail(&run.stdout, 3)
    );
}

#[test]
fn pytest_leakproof_fails_exactly_the_leaking_tests() {
    for venv in venvs() {
        assert_suite(venv, "plain", &[]);
    }
}

#[test]
fn pytest_leakproof_under_xdist() {
    for venv in venvs() {
        assert_suite(venv, "xdist", &["-n", "2"]);
    }
}

#[test]
fn without_leakproof_only_marked_tests_are_leak_tests() {
    let venv = venvs().last().expect("an interpreter");
    let report = work().join("reports");
    let report_arg = format!("--leakproof-report={}", report.display());
    let (run, _) = venv.pytest("unmarked", &["test_leaking.py", &report_arg], &[]);
    let o = Outcomes::of(&run);
    for (id, outcome) in &o.by_id {
        let leak_tested = [
            "::test_marked",
            "::test_decorated",
            "::test_fails_on_its_own",
        ]
        .iter()
        .any(|t| id.ends_with(t));
        let expected = if leak_tested { "FAILED" } else { "PASSED" };
        assert_eq!(outcome, expected, "{id}:\n{}", tail(&o.output, 60));
    }
    assert_eq!(o.by_id.len(), 19, "{:?}", o.by_id);
    assert!(o.section("test_marked").contains("iterations: 100 "));
    // --leakproof-report: each leak test's report as JSON (the harness's schema) and SVG.
    let json = report.join("test_leaking.py__test_marked.json");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("{}: {e}", json.display()));
    let value: serde_json::Value = serde_json::from_str(&text).expect("a report");
    assert_eq!(value["verdict"], "leaking");
    assert_eq!(value["resources"][0]["resource"], "python-heap");
    assert_eq!(value["config"]["probe"], "python-heap");
    assert!(report.join("test_leaking.py__test_marked.svg").is_file());
}

#[test]
fn leakproof_once_runs_each_test_once() {
    let venv = venvs().first().expect("an interpreter");
    let (run, _) = venv.pytest(
        "once",
        &["--leakproof", "test_leaking.py"],
        &[("LEAKPROOF", "once")],
    );
    let o = Outcomes::of(&run);
    let failed: Vec<&String> = o
        .by_id
        .iter()
        .filter(|(_, v)| *v != "PASSED")
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        failed,
        ["test_leaking.py::test_fails_on_its_own"],
        "{}",
        o.output
    );
    assert!(
        run.stdout.contains("leak checking is OFF"),
        "{}",
        run.stdout
    );
    let (bad, _) = venv.pytest(
        "once-bad",
        &["--leakproof", "test_leaking.py"],
        &[("LEAKPROOF", "twice")],
    );
    assert!(
        bad.stdout.contains("LEAKPROOF=\"twice\" is not understood"),
        "{}",
        bad.stdout
    );
}

#[test]
fn check_and_the_decorator_outside_pytest() {
    let script = r#"
import json, unittest, leakproof

kept = []
ok = leakproof.check(lambda: [0] * 100, iterations=100)
bad = leakproof.check(lambda: kept.append([len(kept)]), iterations=100, name="keeps")
boom = leakproof.check(lambda: 1 / 0)
print(json.dumps([ok["verdict"], bad["verdict"], bad["name"], bad["resources"][0]["resource"],
                  boom["failure"]]))

class Case(unittest.TestCase):
    @leakproof.leak_test(iterations=100)
    def test_keeps(self):
        kept.append(object())

    @leakproof.leak_test
    def test_bounded(self):
        self.assertEqual(sum(range(10)), 45)

result = unittest.main(exit=False, argv=["case"], verbosity=0).result
print(json.dumps([len(result.failures), len(result.errors), result.testsRun]))
print(result.failures[0][1])
"#;
    for venv in venvs() {
        let mut cmd = venv.python();
        cmd.args(["-c", script]).current_dir(work());
        let out = check(run(cmd, PYTEST_TIMEOUT, "a check() script"));
        let mut lines = out.stdout.lines();
        let verdicts: serde_json::Value =
            serde_json::from_str(lines.next().expect("verdicts")).expect("json");
        assert_eq!(verdicts[0], "stable", "{}", out.stdout);
        assert_eq!(verdicts[1], "leaking", "{}", out.stdout);
        assert_eq!(verdicts[2], "keeps");
        assert_eq!(verdicts[3], "python-heap");
        assert!(
            verdicts[4]
                .as_str()
                .unwrap_or_default()
                .contains("ZeroDivisionError"),
            "{verdicts}"
        );
        let counts: serde_json::Value =
            serde_json::from_str(lines.next().expect("counts")).expect("json");
        assert_eq!(counts, serde_json::json!([1, 0, 2]), "{}", out.stdout);
        assert!(
            out.stdout.contains("LEAKING (python-heap)"),
            "{}",
            out.stdout
        );
    }
}

#[test]
fn the_command_of_the_wheel_drives_with_its_agents() {
    let venv = venvs().first().expect("an interpreter");
    let leakproof = venv.bin("leakproof");
    // analyze: a growing series is Leaking, exit 1.
    let series = work().join("series.txt");
    let numbers: String = (0..100).map(|i| format!("{}\n", 1000 + 64 * i)).collect();
    std::fs::write(&series, numbers).expect("series");
    let mut cmd = Command::new(&leakproof);
    cmd.arg("analyze").arg(&series);
    let out = run(cmd, PYTEST_TIMEOUT, "leakproof analyze");
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    // The native agent from the wheel: a python target's malloc heap, exact.
    let mut cmd = Command::new(&leakproof);
    cmd.args([
        "drive", "--agent", "native", "-n", "40", "--json", "--each", "true",
    ])
    .args(["--target", "python3 -c 'import time; time.sleep(600)'"])
    .env_remove("LEAKPROOF_PRELOAD")
    .current_dir(work());
    let out = run(cmd, PYTEST_TIMEOUT, "leakproof drive --agent native");
    let report: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not a report ({e}): {}{}", out.stdout, out.stderr));
    assert_eq!(
        report["resources"][0]["resource"], "native-heap",
        "{}",
        out.stderr
    );
    // The Python agent (sitecustomize and the package's sampling module): a leaking service's
    // growing line is named.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut cmd = Command::new(&leakproof);
    cmd.args(["drive", "--agent", "python", "-n", "200", "--json"])
        .arg("--target")
        .arg(format!(
            "python3 examples/py_service.py --port {port} --leak"
        ))
        .arg("--http")
        .arg(format!("http://127.0.0.1:{port}/"))
        .current_dir(repo());
    let out = run(cmd, PYTEST_TIMEOUT, "leakproof drive --agent python");
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("a report");
    assert_eq!(report["resources"][0]["resource"], "python-heap");
    assert!(out.stdout.contains("py_service.py\""), "{}", out.stdout);
    let site = &report["sites"][0];
    let frame = &site["traceback"][site["user_frame"].as_u64().expect("a user frame") as usize];
    assert_eq!(frame["line"], 24, "{site}");
}
