//! The real functions behind the interposed descriptor and thread calls: the next definition
//! after this object (`dlsym(RTLD_NEXT, ..)`, glibc's), resolved for all of them by the
//! constructor, outside any lock of ours (`dlsym` takes the loader's lock and may `malloc`), and
//! lazily for a call that comes before it (another preloaded object's constructor).

use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicPtr, Ordering::*};

/// One real function: its NUL-terminated name and, once resolved, its address.
pub(crate) struct Real {
    name: &'static [u8],
    ptr: AtomicPtr<c_void>,
}

impl Real {
    const fn new(name: &'static [u8]) -> Real {
        Real {
            name,
            ptr: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    fn resolve(&self) -> *mut c_void {
        let p = self.ptr.load(Acquire);
        if !p.is_null() {
            return p;
        }
        // SAFETY: `name` is NUL-terminated; RTLD_NEXT asks for the definition after this object.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr().cast::<c_char>()) };
        self.ptr.store(p, Release);
        p
    }

    /// The real function as a pointer of type `F`; `None` when no later object defines it.
    ///
    /// # Safety
    /// `F` is an `unsafe extern "C" fn` type matching the C declaration of the function named.
    #[inline(always)]
    pub(crate) unsafe fn get<F: Copy>(&self) -> Option<F> {
        const { assert!(size_of::<F>() == size_of::<*mut c_void>()) };
        let p = self.resolve();
        // SAFETY: `p` is the non-null address of the named function, whose type the caller
        // guarantees is `F` (a function pointer, the size of a data pointer on this target).
        (!p.is_null()).then(|| unsafe { core::mem::transmute_copy::<*mut c_void, F>(&p) })
    }
}

macro_rules! reals {
    ($($id:ident = $name:literal),* $(,)?) => {
        $(pub(crate) static $id: Real = Real::new(concat!($name, "\0").as_bytes());)*
        /// Every real function, for [`resolve_all`].
        static ALL: &[&Real] = &[$(&$id),*];
    };
}

reals! {
    OPEN = "open", OPEN64 = "open64", OPENAT = "openat", OPENAT64 = "openat64",
    CREAT = "creat", CREAT64 = "creat64", FOPEN = "fopen", FOPEN64 = "fopen64",
    FCLOSE = "fclose", SOCKET = "socket", SOCKETPAIR = "socketpair", ACCEPT = "accept",
    ACCEPT4 = "accept4", PIPE = "pipe", PIPE2 = "pipe2", DUP = "dup", DUP2 = "dup2",
    DUP3 = "dup3", FCNTL = "fcntl", FCNTL64 = "fcntl64", EVENTFD = "eventfd",
    INOTIFY_INIT = "inotify_init", INOTIFY_INIT1 = "inotify_init1",
    EPOLL_CREATE = "epoll_create", EPOLL_CREATE1 = "epoll_create1",
    MEMFD_CREATE = "memfd_create", TIMERFD_CREATE = "timerfd_create", SIGNALFD = "signalfd",
    CLOSE = "close", CLOSE_RANGE = "close_range",
    PTHREAD_CREATE = "pthread_create", PTHREAD_EXIT = "pthread_exit",
}

/// Resolves every real function (from the constructor: single-threaded, no lock of ours held).
pub(crate) fn resolve_all() {
    for real in ALL {
        real.resolve();
    }
}
