//! Files in the publishing directory, through raw system calls only: nothing here allocates.

/// A NUL-terminated path built on the stack.
pub(crate) struct Path {
    buf: [u8; 600],
    len: usize,
}

impl Path {
    /// `DIR/` followed by `parts`; `None` when the agent is off or the path would not fit.
    pub(crate) fn in_dir(parts: &[&[u8]]) -> Option<Path> {
        let mut p = Path {
            buf: [0; 600],
            len: 0,
        };
        let dir = crate::region::dir();
        if dir.is_empty() {
            return None;
        }
        p.push(dir)?;
        p.push(b"/")?;
        for part in parts {
            p.push(part)?;
        }
        Some(p)
    }

    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len.checked_add(bytes.len())?;
        // Keep one byte for the terminating NUL.
        self.buf
            .get_mut(self.len..end)
            .filter(|_| end < 600)?
            .copy_from_slice(bytes);
        self.len = end;
        Some(())
    }

    /// The path as a C string pointer (NUL-terminated: the buffer is zeroed past `len`).
    pub(crate) fn as_ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr().cast()
    }
}

/// Decimal digits of `v`, in `out`; returns the used tail.
pub(crate) fn decimal(mut v: u64, out: &mut [u8; 20]) -> &[u8] {
    let mut i = out.len();
    loop {
        i -= 1;
        out[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &out[i..];
        }
    }
}

/// `DIR/.PIDSUFFIX.tmp` and `DIR/PIDSUFFIX`.
fn paths(pid: u64, suffix: &[u8]) -> Option<(Path, Path)> {
    let mut digits = [0u8; 20];
    let pid = decimal(pid, &mut digits);
    let tmp = Path::in_dir(&[b".", pid, suffix, b".tmp"])?;
    let fin = Path::in_dir(&[pid, suffix])?;
    Some((tmp, fin))
}

/// Creates `DIR/.PIDSUFFIX.tmp` (0600) and returns its descriptor.
pub(crate) fn create_tmp(pid: u64, suffix: &[u8]) -> Option<libc::c_int> {
    let (tmp, _) = paths(pid, suffix)?;
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    // SAFETY: `tmp` is a NUL-terminated path; open has no other preconditions.
    let fd = unsafe { libc::open(tmp.as_ptr(), flags, 0o600 as libc::c_uint) };
    (fd >= 0).then_some(fd)
}

/// Creates `DIR/.PIDSUFFIX.tmp` of `size` zero bytes and maps it shared, read-write. Publish it
/// with [`commit`].
pub(crate) fn create_shared(pid: u64, suffix: &[u8], size: usize) -> Option<*mut u8> {
    let fd = create_tmp(pid, suffix)?;
    // SAFETY: `fd` is the descriptor just opened; mmap maps a new region the kernel chooses; the
    // descriptor is closed once (the mapping keeps the file).
    unsafe {
        let ok = libc::ftruncate(fd, size as libc::off_t) == 0;
        let p = if ok {
            libc::mmap(
                core::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        } else {
            libc::MAP_FAILED
        };
        libc::close(fd);
        (p != libc::MAP_FAILED).then_some(p.cast())
    }
}

/// Renames `DIR/.PIDSUFFIX.tmp` to `DIR/PIDSUFFIX` (atomically replacing an older file).
pub(crate) fn commit(pid: u64, suffix: &[u8]) -> bool {
    let Some((tmp, fin)) = paths(pid, suffix) else {
        return false;
    };
    // SAFETY: both paths are NUL-terminated.
    unsafe { libc::rename(tmp.as_ptr(), fin.as_ptr()) == 0 }
}

/// True when `DIR/NAME` exists.
pub(crate) fn exists(name: &[u8]) -> bool {
    let Some(p) = Path::in_dir(&[name]) else {
        return false;
    };
    // SAFETY: `p` is NUL-terminated.
    unsafe { libc::access(p.as_ptr(), libc::F_OK) == 0 }
}

/// Buffered writes to a descriptor, with a fixed stack buffer.
pub(crate) struct Writer {
    fd: libc::c_int,
    buf: [u8; 8192],
    len: usize,
    ok: bool,
}

impl Writer {
    /// Writes to `fd` (which the writer closes when finished).
    pub(crate) fn new(fd: libc::c_int) -> Writer {
        Writer {
            fd,
            buf: [0; 8192],
            len: 0,
            ok: true,
        }
    }

    /// Appends bytes.
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > self.buf.len() {
            self.flush();
        }
        if bytes.len() > self.buf.len() {
            self.ok = false;
            return;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Appends `v` in decimal.
    pub(crate) fn dec(&mut self, v: u64) {
        let mut d = [0u8; 20];
        self.put(decimal(v, &mut d));
    }

    /// Appends `v` in lower-case hexadecimal, without prefix.
    pub(crate) fn hex(&mut self, mut v: u64) {
        let mut d = [0u8; 16];
        let mut i = d.len();
        loop {
            i -= 1;
            d[i] = b"0123456789abcdef"[(v & 15) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.put(&d[i..]);
    }

    fn flush(&mut self) {
        let mut off = 0;
        while off < self.len {
            // SAFETY: writes initialized bytes of `buf` to the descriptor this writer owns.
            let n =
                unsafe { libc::write(self.fd, self.buf[off..].as_ptr().cast(), self.len - off) };
            if n <= 0 {
                self.ok = false;
                break;
            }
            off += n as usize;
        }
        self.len = 0;
    }

    /// Flushes and closes; true when every byte was written.
    pub(crate) fn finish(mut self) -> bool {
        self.flush();
        // SAFETY: closes the descriptor this writer owns, once.
        unsafe { libc::close(self.fd) };
        self.ok
    }
}
