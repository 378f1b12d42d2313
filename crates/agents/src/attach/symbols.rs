//! The symbols gdb needs of a running CPython, given to it before it attaches, so that it reads
//! nothing else while the target is stopped.
//!
//! Left to itself, gdb reads the symbol tables of the executable and of every shared library of
//! the target after stopping it: 100–150 ms during which the target serves nothing. It needs only
//! the executable's, the CPython API's (in `libpython*.so` when Python was built
//! `--enable-shared`, as pyenv's are; in the executable otherwise, as Debian's) and libc's (gdb
//! calls `malloc` in the target to pass it a string). So gdb is given those files, each at the
//! address it is loaded at in the target (the start of its offset-0 mapping in
//! `/proc/PID/maps`), and told not to read the others' nor to look for `libthread_db`. Its
//! sysroot is a directory that does not exist: even with their symbols not read, gdb opens every
//! library of the list it reads from the target while that is stopped (5–10 ms of the ~30 ms of
//! an attach); without them it sets no breakpoint on the dynamic linker, which it does not need
//! for the few milliseconds it stays.

use std::path::Path;

use leakproof_diff::smaps;

/// A shared library mapped into the target: its file and the address of its first byte.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Library {
    /// The file, as `/proc/PID/maps` names it.
    pub(super) path: String,
    /// Where its offset-0 mapping starts.
    pub(super) base: u64,
}

/// The MI commands that load the symbols of `pid` before gdb attaches, or `None` when they
/// cannot be had (the executable or maps unreadable, a library deleted or replaced since it was
/// loaded): gdb then reads them itself, after stopping the target, as it does by default.
pub(super) fn commands(pid: u32) -> Option<Vec<String>> {
    let readable = |p: &str| std::fs::File::open(p).is_ok();
    // `/proc/PID/exe`: the executable even when its path was replaced or deleted since. Not
    // readable (a process leakproof may not trace): gdb's attach then says why.
    let exe = format!("/proc/{pid}/exe");
    if !readable(&exe) {
        return None;
    }
    let libraries = libraries(&maps_of(pid)?, readable)?;
    let mut out = vec![
        format!("-file-exec-and-symbols {exe}"),
        "-gdb-set auto-solib-add off".to_owned(),
        "-gdb-set libthread-db-search-path \"\"".to_owned(),
        "-gdb-set sysroot /nonexistent-leakproof-sysroot".to_owned(),
    ];
    out.extend(libraries.iter().map(|l| {
        let command = format!("add-symbol-file {} -o {:#x}", l.path, l.base);
        format!("-interpreter-exec console {}", super::gdb::quoted(&command))
    }));
    Some(out)
}

/// The text of `/proc/PID/maps`.
#[cfg(target_os = "linux")]
fn maps_of(pid: u32) -> Option<String> {
    leakproof_sample::native::proc_maps(pid).ok()
}

/// No `/proc/PID/maps`: gdb reads the symbols itself.
#[cfg(not(target_os = "linux"))]
fn maps_of(_pid: u32) -> Option<String> {
    None
}

/// The libraries of `maps` (the text of `/proc/PID/maps`) whose symbols gdb needs: libpython
/// and libc, each once, at the start of its offset-0 mapping. `None` when maps cannot be parsed
/// or a library's file is not the one mapped (deleted, or not a file `exists` says is here).
fn libraries(maps: &str, exists: impl Fn(&str) -> bool) -> Option<Vec<Library>> {
    let mut out: Vec<Library> = Vec::new();
    for mapping in smaps::parse(maps).ok()? {
        let Some(path) = mapping.path.filter(|p| p.starts_with('/')) else {
            continue;
        };
        let name = Path::new(&path).file_name()?.to_str()?;
        let needed = name.starts_with("libpython") || is_libc(name);
        if !needed || mapping.offset != 0 || out.iter().any(|l| l.path == path) {
            continue;
        }
        if path.ends_with(" (deleted)") || !exists(&path) {
            return None;
        }
        out.push(Library {
            path,
            base: mapping.start,
        });
    }
    Some(out)
}

/// `libc.so.6` (glibc 2.34+, musl's `libc.so`), `libc-2.31.so` (older glibc).
fn is_libc(name: &str) -> bool {
    name.starts_with("libc.so") || (name.starts_with("libc-") && name.ends_with(".so"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
00400000-00401000 r--p 00000000 08:01 1 /root/.pyenv/versions/3.13.0/bin/python3.13
7f1000000000-7f1000100000 r--p 00000000 08:01 2 /root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0
7f1000100000-7f1000400000 r-xp 00100000 08:01 2 /root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0
7f2000000000-7f2000028000 r--p 00000000 08:01 3 /usr/lib/x86_64-linux-gnu/libc.so.6
7f2000028000-7f200019d000 r-xp 00028000 08:01 3 /usr/lib/x86_64-linux-gnu/libc.so.6
7f3000000000-7f3000001000 r--p 00000000 08:01 4 /usr/lib/x86_64-linux-gnu/libm.so.6
7f4000000000-7f4000021000 rw-p 00000000 00:00 0 [heap]
7f5000000000-7f5000001000 rw-p 00000000 00:00 0
";

    #[test]
    fn libpython_and_libc_are_found_at_their_offset_zero_mapping() {
        let lib = |path: &str, base| Library {
            path: path.to_owned(),
            base,
        };
        assert_eq!(
            libraries(MAPS, |_| true),
            Some(vec![
                lib(
                    "/root/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0",
                    0x7f10_0000_0000
                ),
                lib("/usr/lib/x86_64-linux-gnu/libc.so.6", 0x7f20_0000_0000),
            ])
        );
    }

    #[test]
    fn a_library_that_is_not_the_file_mapped_gives_up() {
        assert_eq!(libraries(MAPS, |p| !p.contains("libpython")), None);
        let deleted = MAPS.replace("libc.so.6", "libc.so.6 (deleted)");
        assert_eq!(libraries(&deleted, |_| true), None);
        assert_eq!(libraries("not maps", |_| true), None);
        // A static CPython (the API in the executable): libc only.
        let static_python = MAPS.replace("libpython3.13.so.1.0", "libm.so.6");
        assert_eq!(
            libraries(&static_python, |_| true).map(|l| l.len()),
            Some(1)
        );
    }

    #[test]
    fn libc_names() {
        assert!(is_libc("libc.so.6") && is_libc("libc-2.31.so") && is_libc("libc.so"));
        assert!(!is_libc("libcrypt.so.1") && !is_libc("libc-client.so.2007e"));
    }
}
