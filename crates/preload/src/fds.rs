//! The interposed calls that open and close descriptors: each forwards to the real function
//! (`real`) and, while the reader asks for sites, records the new descriptor's stack
//! (`opens::opened`) or forgets a closed one (`opens::closing`, before the real close).
//!
//! `open`, `openat` and `fcntl` are variadic in C. They are defined here with their optional
//! argument as a plain last parameter: on the x86_64 and AArch64 Linux calling conventions a
//! variadic integer argument travels in the same register as a fixed one, so the value read is
//! the caller's (or, when the caller passed none, an unused register that the real function
//! ignores too), and it is passed on to the real, variadic, function as a variadic argument.
//!
//! Not seen: descriptors opened inside glibc without going through these symbols (`opendir`,
//! `tmpfile`, `popen`, `freopen`, `getaddrinfo`'s sockets...), statically linked code, and raw
//! `syscall`s.

use core::ffi::{c_char, c_int, c_uint};

use crate::opens::{closing, closing_range, opened};
use crate::real;

/// What an interposed call returns when no real function exists to forward to (never with
/// glibc): -1 with `errno` ENOSYS.
fn missing() -> c_int {
    // SAFETY: glibc's errno location is this thread's, always valid.
    unsafe { *libc::__errno_location() = libc::ENOSYS };
    -1
}

/// Defines an interposed function that returns a new descriptor (or -1).
macro_rules! opener {
    ($(#[$doc:meta])* $name:ident = $real:ident($($a:ident: $t:ty),*) as $f:ty) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// As glibc's function of the same name.
        #[no_mangle]
        pub unsafe extern "C" fn $name($($a: $t),*) -> c_int {
            // SAFETY: the type is the C declaration of the function named.
            let Some(f) = (unsafe { real::$real.get::<$f>() }) else {
                return missing();
            };
            // SAFETY: forwarded unchanged to the real function.
            let fd = unsafe { f($($a),*) };
            opened(fd);
            fd
        }
    };
}

type Open = unsafe extern "C" fn(*const c_char, c_int, ...) -> c_int;
type OpenAt = unsafe extern "C" fn(c_int, *const c_char, c_int, ...) -> c_int;
type Fcntl = unsafe extern "C" fn(c_int, c_int, ...) -> c_int;

opener!(/** Interposed `open` (the mode is read as described in the module docs). */
    open = OPEN(path: *const c_char, flags: c_int, mode: c_uint) as Open);
opener!(/** Interposed `open64`. */
    open64 = OPEN64(path: *const c_char, flags: c_int, mode: c_uint) as Open);
opener!(/** Interposed `openat`. */
    openat = OPENAT(dir: c_int, path: *const c_char, flags: c_int, mode: c_uint) as OpenAt);
opener!(/** Interposed `openat64`. */
    openat64 = OPENAT64(dir: c_int, path: *const c_char, flags: c_int, mode: c_uint) as OpenAt);
opener!(/** Interposed `creat`. */
    creat = CREAT(path: *const c_char, mode: libc::mode_t)
    as unsafe extern "C" fn(*const c_char, libc::mode_t) -> c_int);
opener!(/** Interposed `creat64`. */
    creat64 = CREAT64(path: *const c_char, mode: libc::mode_t)
    as unsafe extern "C" fn(*const c_char, libc::mode_t) -> c_int);
opener!(/** Interposed `socket`. */
    socket = SOCKET(domain: c_int, ty: c_int, protocol: c_int)
    as unsafe extern "C" fn(c_int, c_int, c_int) -> c_int);
opener!(/** Interposed `accept`. */
    accept = ACCEPT(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t)
    as unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> c_int);
opener!(/** Interposed `accept4`. */
    accept4 = ACCEPT4(fd: c_int, addr: *mut libc::sockaddr, len: *mut libc::socklen_t, flags: c_int)
    as unsafe extern "C" fn(c_int, *mut libc::sockaddr, *mut libc::socklen_t, c_int) -> c_int);
opener!(/** Interposed `dup`. */
    dup = DUP(fd: c_int) as unsafe extern "C" fn(c_int) -> c_int);
opener!(/** Interposed `dup3`. */
    dup3 = DUP3(old: c_int, new: c_int, flags: c_int)
    as unsafe extern "C" fn(c_int, c_int, c_int) -> c_int);
opener!(/** Interposed `eventfd`. */
    eventfd = EVENTFD(initval: c_uint, flags: c_int) as unsafe extern "C" fn(c_uint, c_int) -> c_int);
opener!(/** Interposed `inotify_init`. */
    inotify_init = INOTIFY_INIT() as unsafe extern "C" fn() -> c_int);
opener!(/** Interposed `inotify_init1`. */
    inotify_init1 = INOTIFY_INIT1(flags: c_int) as unsafe extern "C" fn(c_int) -> c_int);
opener!(/** Interposed `epoll_create`. */
    epoll_create = EPOLL_CREATE(size: c_int) as unsafe extern "C" fn(c_int) -> c_int);
opener!(/** Interposed `epoll_create1`. */
    epoll_create1 = EPOLL_CREATE1(flags: c_int) as unsafe extern "C" fn(c_int) -> c_int);
opener!(/** Interposed `memfd_create`. */
    memfd_create = MEMFD_CREATE(name: *const c_char, flags: c_uint)
    as unsafe extern "C" fn(*const c_char, c_uint) -> c_int);
opener!(/** Interposed `timerfd_create`. */
    timerfd_create = TIMERFD_CREATE(clock: libc::clockid_t, flags: c_int)
    as unsafe extern "C" fn(libc::clockid_t, c_int) -> c_int);

/// Interposed `dup2` (a descriptor duplicated onto itself keeps its own open site).
///
/// # Safety
/// As glibc's `dup2`.
#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // SAFETY: the type is the C declaration of `dup2`.
    let Some(f) = (unsafe { real::DUP2.get::<unsafe extern "C" fn(c_int, c_int) -> c_int>() })
    else {
        return missing();
    };
    // SAFETY: forwarded unchanged to the real function.
    let fd = unsafe { f(old, new) };
    if old != new {
        opened(fd);
    }
    fd
}

/// Interposed `signalfd`: a new descriptor only when `fd` is -1.
///
/// # Safety
/// As glibc's `signalfd`.
#[no_mangle]
pub unsafe extern "C" fn signalfd(fd: c_int, mask: *const libc::sigset_t, flags: c_int) -> c_int {
    type F = unsafe extern "C" fn(c_int, *const libc::sigset_t, c_int) -> c_int;
    // SAFETY: the type is the C declaration of `signalfd`.
    let Some(f) = (unsafe { real::SIGNALFD.get::<F>() }) else {
        return missing();
    };
    // SAFETY: forwarded unchanged to the real function.
    let out = unsafe { f(fd, mask, flags) };
    if fd < 0 {
        opened(out);
    }
    out
}

/// Forwards `fcntl`, recording the descriptor made by `F_DUPFD` and `F_DUPFD_CLOEXEC`.
fn fcntl_with(real: &real::Real, fd: c_int, cmd: c_int, arg: usize) -> c_int {
    // SAFETY: the type is the C declaration of `fcntl` (and `fcntl64`).
    let Some(f) = (unsafe { real.get::<Fcntl>() }) else {
        return missing();
    };
    // SAFETY: forwarded unchanged to the real function, the argument as a variadic one.
    let out = unsafe { f(fd, cmd, arg) };
    if cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC {
        opened(out);
    }
    out
}

/// Interposed `fcntl` (the argument is read as described in the module docs).
///
/// # Safety
/// As glibc's `fcntl`.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    fcntl_with(&real::FCNTL, fd, cmd, arg)
}

/// Interposed `fcntl64`.
///
/// # Safety
/// As glibc's `fcntl64`.
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    fcntl_with(&real::FCNTL64, fd, cmd, arg)
}

/// Records both descriptors of a `pipe` or `socketpair` that succeeded.
fn opened_pair(rc: c_int, fds: *mut c_int) -> c_int {
    if rc == 0 {
        // SAFETY: on success the real call wrote two descriptors at `fds`.
        let pair = unsafe { [*fds, *fds.add(1)] };
        pair.into_iter().for_each(opened);
    }
    rc
}

/// Interposed `pipe`.
///
/// # Safety
/// As glibc's `pipe`: `fds` is valid for two `int` writes.
#[no_mangle]
pub unsafe extern "C" fn pipe(fds: *mut c_int) -> c_int {
    // SAFETY: the type is the C declaration of `pipe`.
    let Some(f) = (unsafe { real::PIPE.get::<unsafe extern "C" fn(*mut c_int) -> c_int>() }) else {
        return missing();
    };
    // SAFETY: forwarded unchanged to the real function.
    opened_pair(unsafe { f(fds) }, fds)
}

/// Interposed `pipe2`.
///
/// # Safety
/// As glibc's `pipe2`: `fds` is valid for two `int` writes.
#[no_mangle]
pub unsafe extern "C" fn pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    type F = unsafe extern "C" fn(*mut c_int, c_int) -> c_int;
    // SAFETY: the type is the C declaration of `pipe2`.
    let Some(f) = (unsafe { real::PIPE2.get::<F>() }) else {
        return missing();
    };
    // SAFETY: forwarded unchanged to the real function.
    opened_pair(unsafe { f(fds, flags) }, fds)
}

/// Interposed `socketpair`.
///
/// # Safety
/// As glibc's `socketpair`: `fds` is valid for two `int` writes.
#[no_mangle]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    proto: c_int,
    fds: *mut c_int,
) -> c_int {
    type F = unsafe extern "C" fn(c_int, c_int, c_int, *mut c_int) -> c_int;
    // SAFETY: the type is the C declaration of `socketpair`.
    let Some(f) = (unsafe { real::SOCKETPAIR.get::<F>() }) else {
        return missing();
    };
    // SAFETY: forwarded unchanged to the real function.
    opened_pair(unsafe { f(domain, ty, proto, fds) }, fds)
}

/// Interposed `fopen` and `fopen64`: the stream's descriptor is recorded.
fn fopen_with(real: &real::Real, path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    type F = unsafe extern "C" fn(*const c_char, *const c_char) -> *mut libc::FILE;
    // SAFETY: the type is the C declaration of `fopen` (and `fopen64`).
    let Some(f) = (unsafe { real.get::<F>() }) else {
        missing();
        return core::ptr::null_mut();
    };
    // SAFETY: forwarded unchanged to the real function.
    let file = unsafe { f(path, mode) };
    if !file.is_null() {
        // SAFETY: `file` is the open stream just returned.
        opened(unsafe { libc::fileno(file) });
    }
    file
}

/// Interposed `fopen`.
///
/// # Safety
/// As glibc's `fopen`.
#[no_mangle]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    fopen_with(&real::FOPEN, path, mode)
}

/// Interposed `fopen64`.
///
/// # Safety
/// As glibc's `fopen64`.
#[no_mangle]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    fopen_with(&real::FOPEN64, path, mode)
}

/// Interposed `fclose`: the stream's descriptor is forgotten first.
///
/// # Safety
/// As glibc's `fclose`: `file` is an open stream.
#[no_mangle]
pub unsafe extern "C" fn fclose(file: *mut libc::FILE) -> c_int {
    type F = unsafe extern "C" fn(*mut libc::FILE) -> c_int;
    // SAFETY: the type is the C declaration of `fclose`.
    let Some(f) = (unsafe { real::FCLOSE.get::<F>() }) else {
        return missing();
    };
    if !file.is_null() {
        // SAFETY: the caller passes an open stream.
        closing(unsafe { libc::fileno(file) });
    }
    // SAFETY: forwarded unchanged to the real function.
    unsafe { f(file) }
}

/// Interposed `close`: the descriptor is forgotten first.
///
/// # Safety
/// As glibc's `close`.
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    // SAFETY: the type is the C declaration of `close`.
    let Some(f) = (unsafe { real::CLOSE.get::<unsafe extern "C" fn(c_int) -> c_int>() }) else {
        return missing();
    };
    closing(fd);
    // SAFETY: forwarded unchanged to the real function.
    unsafe { f(fd) }
}

/// Interposed `close_range`: the descriptors in the range are forgotten first.
///
/// # Safety
/// As glibc's `close_range`.
#[no_mangle]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    type F = unsafe extern "C" fn(c_uint, c_uint, c_int) -> c_int;
    // SAFETY: the type is the C declaration of `close_range`.
    let Some(f) = (unsafe { real::CLOSE_RANGE.get::<F>() }) else {
        return missing();
    };
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        closing_range(first, last);
    }
    // SAFETY: forwarded unchanged to the real function.
    unsafe { f(first, last, flags) }
}
