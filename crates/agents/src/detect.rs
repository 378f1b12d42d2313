//! `--agent auto`: is the target a Python, node or Java program, or another native executable?

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Descriptor;

/// The runtime of `cmd`: its program, or for `sh -c LINE` each command of `LINE` (after `env`,
/// `exec`, `nohup` and `VAR=value` assignments), recognised by name (`python3.11`, `node`, `java`) or,
/// once resolved on `PATH`, by its script's shebang (`gunicorn`, `uvicorn`, `flask`). Else the
/// command the line `exec`s, or its first one, when it is a dynamically linked ELF executable
/// that is not a managed runtime ([`MANAGED`], Go): native.
pub(crate) fn detect(cmd: &Command) -> Option<&'static Descriptor> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let segments = match (program.as_str(), args.as_slice()) {
        ("sh" | "/bin/sh" | "bash" | "/bin/bash", [c, line]) if c == "-c" => shell_segments(line),
        _ => vec![std::iter::once(program).chain(args).collect()],
    };
    // `echo $$ > pid; exec python3 app.py`: a runtime anywhere on the line is the target.
    let runtime = segments
        .iter()
        .filter_map(|words| first_command(words))
        .find_map(|c| {
            kind_of_name(c).or_else(|| kind_of_name(&shebang_program(&resolve(c, cmd)?)?))
        });
    if runtime.is_some() {
        return runtime;
    }
    let main = segments
        .iter()
        .find(|words| words.first().is_some_and(|w| w == "exec"))
        .or(segments.first())
        .and_then(|words| first_command(words))?;
    let path = resolve(main, cmd)?;
    if shebang_program(&path).is_some() || !native(&path) {
        return None;
    }
    crate::table::by_name("native")
}

/// Runtimes whose heap is not glibc's `malloc` (a JVM, Ruby's and Erlang's own heaps): the preload
/// agent would see a flat heap while theirs grows, so they are judged on RSS.
const MANAGED: &[&str] = &[
    "java", "ruby", "perl", "php", "php-fpm", "dotnet", "beam.smp", "erl", "deno", "bun", "lua",
];

/// A dynamically linked ELF executable with glibc's allocator: not a [`MANAGED`] runtime, not a Go
/// program (its own allocator; Go binaries carry a `.go.buildinfo` section).
fn native(path: &Path) -> bool {
    use object::Object;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let managed = MANAGED
        .iter()
        .any(|m| name == *m || name.starts_with(&format!("{m}-")));
    if managed || !is_native(path) {
        return false;
    }
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    object::File::parse(&*data).is_ok_and(|f| f.section_by_name(".go.buildinfo").is_none())
}

/// The words of a shell command line's first command; see [`shell_segments`].
#[cfg(test)]
fn shell_words(line: &str) -> Vec<String> {
    shell_segments(line).into_iter().next().unwrap_or_default()
}

/// The simple commands of a shell command line, as words, with single and double quotes and
/// backslashes honoured; unquoted `;`, `&`, `|`, `(` and `)` end a command, and the word after
/// `<` or `>` (a file) is left out.
fn shell_segments(line: &str) -> Vec<Vec<String>> {
    let mut segments = Vec::new();
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut redirect = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => word
                .get_or_insert_with(String::new)
                .extend(chars.by_ref().take_while(|&c| c != '\'')),
            '"' => {
                let w = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => w.extend(chars.next()),
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c if c.is_whitespace() => end_word(&mut word, &mut words, &mut redirect),
            ';' | '&' | '|' | '(' | ')' => {
                end_word(&mut word, &mut words, &mut redirect);
                redirect = false;
                if !words.is_empty() {
                    segments.push(std::mem::take(&mut words));
                }
            }
            '<' | '>' => {
                end_word(&mut word, &mut words, &mut redirect);
                redirect = true;
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    end_word(&mut word, &mut words, &mut redirect);
    if !words.is_empty() {
        segments.push(words);
    }
    segments
}

/// Ends the word being read: into `words`, unless it is the file of a redirection.
fn end_word(word: &mut Option<String>, words: &mut Vec<String>, redirect: &mut bool) {
    if let Some(w) = word.take() {
        if !std::mem::take(redirect) {
            words.push(w);
        }
    }
}

/// The command word: leading `VAR=value`, `exec`, `nohup`, and `env` with its options skipped.
fn first_command(words: &[String]) -> Option<&str> {
    let mut in_env = false;
    for w in words {
        let is_assignment = w
            .split_once('=')
            .is_some_and(|(name, _)| !name.is_empty() && !name.contains('/'));
        match w.as_str() {
            _ if is_assignment => {}
            "exec" | "nohup" | "command" => {}
            "env" | "/usr/bin/env" => in_env = true,
            o if in_env && o.starts_with('-') => {}
            w => return Some(w),
        }
    }
    None
}

/// The agent whose runtime a program is named after (`python3.12`, `node`, `java`).
fn kind_of_name(program: &str) -> Option<&'static Descriptor> {
    let name = program.rsplit('/').next().unwrap_or(program);
    crate::AGENTS.iter().find(|d| (d.programs)(name))
}

/// A dynamically linked ELF executable (the preload agent works only there; Linux only).
fn is_native(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    return crate::native::is_native_target(path);
    #[cfg(not(target_os = "linux"))]
    return {
        let _ = path;
        false
    };
}

/// `program` as an existing file: a path as it is (relative to the command's directory), a bare
/// name searched on the command's `PATH`.
fn resolve(program: &str, cmd: &Command) -> Option<PathBuf> {
    if program.contains('/') {
        let path = match cmd.get_current_dir() {
            Some(dir) => dir.join(program),
            None => PathBuf::from(program),
        };
        return path.is_file().then_some(path);
    }
    let path_var: OsString = crate::runtime::env_of(cmd, "PATH")?;
    std::env::split_paths(&path_var)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The program a script's `#!` line runs: the interpreter, or for `#!/usr/bin/env [-S] NAME`, NAME.
fn shebang_program(path: &Path) -> Option<String> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let line = text.strip_prefix("#!")?.lines().next()?;
    let mut words = line.split_whitespace();
    let interpreter = words.next()?;
    if interpreter.rsplit('/').next() != Some("env") {
        return Some(interpreter.to_owned());
    }
    words
        .find(|w| !w.starts_with('-') && !w.contains('='))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(line: &str) -> Option<&'static str> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(line);
        detect(&cmd).map(|d| d.name)
    }

    #[test]
    fn names_after_env_exec_and_assignments() {
        assert_eq!(sh("python3 app.py --port 1"), Some("python"));
        assert_eq!(
            sh("FOO=1 exec env -i BAR='a b' /usr/bin/python3.11 -m http.server"),
            Some("python")
        );
        assert_eq!(sh("exec node server.js"), Some("node"));
        assert_eq!(sh("nohup /opt/x/bin/nodejs a.js &"), Some("node"));
        // A runtime anywhere on the line is the target.
        assert_eq!(sh("sleep 10; python3 x.py"), Some("python"));
        assert_eq!(sh("echo $$ > /tmp/pid; exec node a.js 2>&1"), Some("node"));
        // Else the command exec'd, or the first one, when it is a native executable.
        assert_eq!(sh("sleep 10"), Some("native"));
        assert_eq!(sh("cd /tmp && exec sleep 10"), Some("native"));
        assert_eq!(sh("cd /tmp && sleep 10"), None, "cd is a builtin");
        assert_eq!(sh("exec env -i A=1 sleep 1"), Some("native"));
        assert_eq!(sh("java -jar x.jar"), Some("jvm"));
        assert_eq!(
            sh("exec /usr/lib/jvm/x/bin/java -cp . Hello 8080"),
            Some("jvm")
        );
        assert_eq!(sh("cd /tmp"), None, "a shell builtin is nothing to preload");
        assert_eq!(sh("pythonista"), None);
        assert_eq!(sh(""), None);
        assert_eq!(detect(&Command::new("node")).map(|d| d.name), Some("node"));
    }

    #[test]
    fn shell_words_honour_quotes_and_stop_at_operators() {
        assert_eq!(
            shell_words(r#"a 'b c' "d \"e\"" f\ g;h"#),
            vec!["a", "b c", "d \"e\"", "f g"]
        );
        assert_eq!(shell_words("x && y"), vec!["x"]);
        assert_eq!(
            shell_segments("echo $$ > '/tmp/a b'; exec x --y | z"),
            vec![vec!["echo", "$$"], vec!["exec", "x", "--y"], vec!["z"]]
        );
    }

    #[test]
    fn scripts_are_recognised_by_their_shebang_on_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, text: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("write");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        };
        write("gunicorn", "#!/usr/local/bin/python3.12\nimport gunicorn\n");
        write("serve", "#!/usr/bin/env -S node --max-old-space-size=100\n");
        write("tool", "#!/bin/sh\necho\n");
        let detect_in = |line: &str| {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(line).env("PATH", dir.path());
            detect(&cmd).map(|d| d.name)
        };
        assert_eq!(detect_in("gunicorn app:app"), Some("python"));
        assert_eq!(detect_in("serve"), Some("node"));
        assert_eq!(detect_in("tool"), None, "a shell script is not native");
        assert_eq!(detect_in("missing"), None);
        let mut by_path = Command::new("sh");
        by_path.arg("-c").arg("./serve").current_dir(dir.path());
        assert_eq!(detect(&by_path).map(|d| d.name), Some("node"));
    }

    #[test]
    fn dynamically_linked_executables_are_native() {
        let exe = std::env::current_exe().expect("exe");
        assert_eq!(detect(&Command::new(&exe)).map(|d| d.name), Some("native"));
        let mut line = Command::new("sh");
        line.arg("-c")
            .arg(format!("exec '{}' --list", exe.display()));
        assert_eq!(detect(&line).map(|d| d.name), Some("native"));
        assert!(!native(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("Cargo.toml")
                .as_path()
        ));
        assert_eq!(
            detect(&Command::new("/nonexistent/leakproof-x")).map(|d| d.name),
            None
        );
    }
}
