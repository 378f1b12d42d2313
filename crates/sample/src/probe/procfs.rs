//! Reading `/proc` (Linux, Android): opening, kept-open re-reads, and the parsing the probes share.

use std::fs::File;
use std::io;

use super::{this_pid, ProbeError};

/// Maps an I/O error about `/proc/<pid>/...` to Gone / PermissionDenied / Io.
pub(super) fn proc_error(e: io::Error, pid: u32) -> ProbeError {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => ProbeError::Gone { pid },
        Some(libc::EACCES) | Some(libc::EPERM) => ProbeError::PermissionDenied { pid },
        _ => match e.kind() {
            io::ErrorKind::NotFound => ProbeError::Gone { pid },
            io::ErrorKind::PermissionDenied => ProbeError::PermissionDenied { pid },
            _ => ProbeError::Io(e),
        },
    }
}

/// Opens `/proc/<pid>/<what>`.
pub(super) fn open_proc(pid: u32, what: &str) -> Result<File, ProbeError> {
    File::open(format!("/proc/{pid}/{what}")).map_err(|e| proc_error(e, pid))
}

/// Reads a whole small `/proc` file through a kept-open handle with `pread` at offset 0.
pub(super) fn pread_all<'b>(f: &File, pid: u32, buf: &'b mut [u8]) -> Result<&'b [u8], ProbeError> {
    use std::os::unix::fs::FileExt;
    let n = f.read_at(buf, 0).map_err(|e| proc_error(e, pid))?;
    if n == 0 {
        return Err(ProbeError::Gone { pid });
    }
    Ok(&buf[..n])
}

pub(super) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// A decimal `u64` with nothing else around it.
pub(super) fn parse_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in field {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

pub(super) fn bad_format(what: &str, pid: u32) -> ProbeError {
    ProbeError::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected format of /proc/{pid}/{what}"),
    ))
}

/// The fields of `/proc/PID/stat` after the command name (state is field 0 here).
pub(super) fn stat_fields(stat: &[u8]) -> Option<impl Iterator<Item = &[u8]>> {
    let close = stat.iter().rposition(|&c| c == b')')?;
    Some(
        stat[close + 1..]
            .split(|c| c.is_ascii_whitespace())
            .filter(|f| !f.is_empty()),
    )
}

/// True when `pid` is a zombie or does not exist.
pub(super) fn is_zombie(pid: u32) -> bool {
    match std::fs::read(format!("/proc/{pid}/stat")) {
        Ok(s) => matches!(
            stat_fields(&s).and_then(|mut f| f.next()),
            Some(b"Z") | Some(b"X")
        ),
        Err(_) => true,
    }
}

/// True when `/proc/<pid>` exists.
pub(super) fn exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

pub(super) fn open_dir(path: &str) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
}

/// The descriptor to leave out when counting `pid`'s fds through `dir`: `dir` itself, if it is ours.
pub(super) fn own_fd(dir: &File, pid: u32) -> Option<i32> {
    use std::os::fd::AsRawFd;
    (pid == this_pid()).then(|| dir.as_raw_fd())
}

/// Counts the entries of an open directory other than `.`, `..` and the name `skip_fd` (as a number).
pub(super) fn count_dir_entries(dir: &File, skip_fd: Option<i32>) -> io::Result<u64> {
    use std::os::fd::AsRawFd;
    let fd = dir.as_raw_fd();
    // SAFETY: `fd` is an open directory owned by `dir`; rewinding it has no other effect.
    if unsafe { libc::lseek(fd, 0, libc::SEEK_SET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    #[repr(C, align(8))]
    struct Buf([u8; 4096]);
    let mut buf = Buf([0; 4096]);
    let mut count = 0u64;
    loop {
        // SAFETY: getdents64 writes at most `len` bytes into the buffer, which we own and which is
        // 8-byte aligned as linux_dirent64 requires.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.0.as_mut_ptr(), buf.0.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(count);
        }
        count += count_dirents(&buf.0[..n as usize], skip_fd);
    }
}

/// Counts the `linux_dirent64` records in `buf` other than `.`, `..` and `skip_fd`.
fn count_dirents(buf: &[u8], skip_fd: Option<i32>) -> u64 {
    let mut count = 0;
    let mut off = 0usize;
    // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
    while off + 19 <= buf.len() {
        let reclen = u16::from_ne_bytes([buf[off + 16], buf[off + 17]]) as usize;
        if reclen == 0 || off + reclen > buf.len() {
            break;
        }
        let name = &buf[off + 19..off + reclen];
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(name.len())];
        let is_skip = skip_fd.is_some_and(|s| parse_u64(name) == Some(s as u64));
        if name != b"." && name != b".." && !is_skip {
            count += 1;
        }
        off += reclen;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_u64_rejects_junk() {
        assert_eq!(parse_u64(b"123"), Some(123));
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"12a"), None);
        assert_eq!(parse_u64(b"99999999999999999999999"), None);
    }

    #[test]
    fn stat_fields_start_after_the_last_parenthesis() {
        let stat = b"42 (a) b (c)) S 1 42";
        let fields: Vec<&[u8]> = stat_fields(stat).expect("fields").collect();
        assert_eq!(fields, [&b"S"[..], b"1", b"42"]);
        assert!(stat_fields(b"no parenthesis").is_none());
    }
}
