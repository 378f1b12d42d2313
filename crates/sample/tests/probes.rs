//! Probes against real processes: a child that touches 64 MiB, a forked grandchild in a tree, dead
//! and zombie PIDs, known opens and known thread spawns.

#![cfg(target_os = "linux")]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use leakproof_sample::{
    descendants, list_fds, memory_detail, process_group_members, thread_names, Backend, FdProbe,
    HeapProbe, Probe, ProbeError, RssProbe, ThreadProbe, TreeProbe, TreeSample, Unit,
};

/// Tests here count this process's fds and threads: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

const MIB: u64 = 1024 * 1024;

/// A forked child controlled through pipes: it runs `body(signal_fd)` and then waits for the parent to
/// close its end of `release` before exiting.
struct Child {
    pid: i32,
    ready_r: i32,
    release_w: i32,
}

fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

/// Maps and touches `bytes` of anonymous memory with raw system calls (fork-safe).
fn touch(bytes: usize) {
    // SAFETY: an anonymous private mapping; on success every byte is ours to write.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            libc::_exit(3);
        }
        let mut off = 0;
        while off < bytes {
            *(p as *mut u8).add(off) = 1;
            off += 4096;
        }
    }
}

impl Child {
    /// `body` runs in the child (only fork-safe calls); it must write one byte to `ready` when done.
    fn spawn(body: fn(ready: i32)) -> Child {
        let (ready_r, ready_w) = pipe();
        let (release_r, release_w) = pipe();
        // SAFETY: fork has no preconditions; the child only runs fork-safe code and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: plain system calls on our own descriptors, then _exit.
            unsafe {
                libc::close(ready_r);
                libc::close(release_w);
                body(ready_w);
                let mut b = 0u8;
                libc::read(release_r, (&mut b as *mut u8).cast(), 1);
                libc::_exit(0);
            }
        }
        // SAFETY: closing the child's ends in the parent.
        unsafe {
            libc::close(ready_w);
            libc::close(release_r);
        }
        Child {
            pid,
            ready_r,
            release_w,
        }
    }

    fn wait_ready(&self) {
        let mut b = 0u8;
        // SAFETY: reading one byte from our pipe into a local.
        let n = unsafe { libc::read(self.ready_r, (&mut b as *mut u8).cast(), 1) };
        assert_eq!(n, 1, "child did not signal readiness");
    }

    /// Lets the child exit and reaps it.
    fn finish(self) {
        // SAFETY: closing our pipe ends and reaping our own child.
        unsafe {
            libc::close(self.release_w);
            libc::close(self.ready_r);
            let mut status = 0;
            libc::waitpid(self.pid, &mut status, 0);
        }
    }
}

fn signal(fd: i32) {
    let b = 1u8;
    // SAFETY: writing one byte from a local to our pipe.
    unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
}

#[test]
fn rss_and_memory_detail_of_this_process() {
    let _g = serial();
    let mut p = RssProbe::this_process().expect("rss probe");
    let s = p.sample().expect("sample");
    assert_eq!(s.unit, Unit::Bytes);
    assert!(s.value > MIB as f64);
    let d = memory_detail(None).expect("smaps_rollup");
    assert!(d.rss > 0 && d.pss > 0 && d.uss > 0 && d.uss <= d.rss);
}

#[test]
fn rss_of_child_rises_by_what_it_touches() {
    let _g = serial();
    // The child signals once when started and again after touching 64 MiB; the parent takes its
    // baseline in between (the child sleeps 200 ms to leave time for it).
    let child = Child::spawn(|ready| {
        signal(ready); // started
                       // Give the parent time to read the baseline.
                       // SAFETY: nanosleep-based sleep is fork-safe.
        unsafe { libc::usleep(200_000) };
        touch(64 * MIB as usize);
        signal(ready); // touched
    });
    child.wait_ready();
    let mut p = RssProbe::pid(child.pid as u32).expect("rss probe of child");
    let before = p.rss_bytes().expect("before");
    child.wait_ready();
    let after = p.rss_bytes().expect("after");
    assert!(after >= before + 64 * MIB, "before {before}, after {after}");
    let pid = child.pid as u32;
    child.finish();
    // Reaped: the kept-open handle now reports Gone, and so does a new probe.
    assert!(matches!(p.sample(), Err(ProbeError::Gone { pid: g }) if g == pid));
    assert!(matches!(RssProbe::pid(pid), Err(ProbeError::Gone { .. })));
    assert!(matches!(FdProbe::pid(pid), Err(ProbeError::Gone { .. })));
    assert!(matches!(
        ThreadProbe::pid(pid),
        Err(ProbeError::Gone { .. })
    ));
    assert!(matches!(
        TreeProbe::new(pid, Duration::ZERO),
        Err(ProbeError::Gone { .. })
    ));
    assert!(matches!(list_fds(Some(pid)), Err(ProbeError::Gone { .. })));
    assert!(matches!(descendants(pid), Err(ProbeError::Gone { .. })));
}

#[test]
fn zombie_is_gone() {
    let _g = serial();
    // SAFETY: fork; the child exits at once.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: exits the child.
        unsafe { libc::_exit(0) };
    }
    // Not reaped yet: a zombie. Wait until the kernel marks it so.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = false;
    while Instant::now() < deadline {
        if let Err(ProbeError::Gone { .. }) = ThreadProbe::pid(pid as u32) {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(seen, "zombie was not reported as gone");
    assert!(matches!(
        RssProbe::pid(pid as u32),
        Err(ProbeError::Gone { .. })
    ));
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
}

#[test]
fn tree_probe_includes_a_forked_grandchild() {
    let _g = serial();
    let child = Child::spawn(|ready| {
        // The grandchild touches 64 MiB and then lives until its parent (our child) dies.
        // SAFETY: fork in the single-threaded child; the grandchild only uses raw system calls.
        unsafe {
            let (r, w) = pipe();
            let g = libc::fork();
            if g == 0 {
                libc::close(w);
                touch(64 * MIB as usize);
                signal(ready);
                let mut b = 0u8;
                libc::read(r, (&mut b as *mut u8).cast(), 1); // EOF when the child exits
                libc::_exit(0);
            }
            libc::close(r);
            // Keep `w` open: the grandchild exits when this process does.
        }
    });
    child.wait_ready();
    let cpid = child.pid as u32;
    let desc = descendants(cpid).expect("descendants");
    assert_eq!(desc.len(), 1, "{desc:?}");
    let mut tree = TreeProbe::new(cpid, Duration::ZERO).expect("tree");
    let t = tree.sample().expect("tree sample");
    assert_eq!(t.processes, 2);
    assert!(t.threads >= 2);
    assert!(t.fds >= 2);
    let child_rss = RssProbe::pid(cpid)
        .expect("child")
        .rss_bytes()
        .expect("rss");
    assert!(
        t.rss_bytes >= child_rss + 64 * MIB,
        "{t:?} vs child {child_rss}"
    );
    // This process's tree includes the child and grandchild.
    let mine = descendants(std::process::id()).expect("own descendants");
    assert!(mine.contains(&cpid) && mine.contains(&desc[0]));
    child.finish();
}

#[test]
fn heap_probe_without_tracking_alloc_is_unsupported() {
    // This test binary does not install TrackingAlloc.
    assert!(matches!(
        HeapProbe::new().sample(),
        Err(ProbeError::Unsupported(_))
    ));
}

#[test]
fn bad_pids_are_errors_not_panics() {
    let _g = serial();
    // PID 0 is not a process; a PID above pid_max cannot exist.
    for pid in [0u32, u32::MAX] {
        assert!(RssProbe::pid(pid).is_err());
        assert!(FdProbe::pid(pid).is_err());
        assert!(ThreadProbe::pid(pid).is_err());
        assert!(TreeProbe::new(pid, Duration::ZERO).is_err());
        for backend in [Backend::Proc, Backend::Sysinfo] {
            assert!(RssProbe::with_backend(pid, backend).is_err());
            assert!(TreeProbe::with_backend(pid, Duration::ZERO, backend).is_err());
        }
        assert!(list_fds(Some(pid)).is_err());
    }
    assert!(matches!(
        RssProbe::pid(u32::MAX),
        Err(ProbeError::Gone { .. })
    ));
}

#[test]
fn cgroup_memory_is_consistent_where_present() {
    let _g = serial();
    if let Some(bytes) = leakproof_sample::cgroup_memory_current(None).expect("cgroup lookup") {
        {
            assert!(bytes > 0);
            // The same cgroup holds this process and a child: a cgroup of a forked child is ours.
            let child = Child::spawn(signal);
            child.wait_ready();
            let of_child = leakproof_sample::cgroup_memory_current(Some(child.pid as u32));
            child.finish();
            assert!(matches!(of_child, Ok(Some(b)) if b > 0), "{of_child:?}");
        }
    }
}

#[test]
fn permission_denied_is_typed() {
    let _g = serial();
    // PID 1's fd directory is readable only by its owner (root) and by root; as root, drop to
    // `nobody` in a forked child first.
    // SAFETY: fork; the child only calls setgid/setuid, the probes and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        // SAFETY: plain system calls in the child.
        let code = unsafe {
            if libc::geteuid() == 0 && (libc::setgid(65534) != 0 || libc::setuid(65534) != 0) {
                libc::_exit(10);
            }
            let fd = matches!(
                FdProbe::pid(1),
                Err(ProbeError::PermissionDenied { pid: 1 })
            );
            let list = matches!(
                list_fds(Some(1)),
                Err(ProbeError::PermissionDenied { pid: 1 })
            );
            i32::from(!fd) + 2 * i32::from(!list)
        };
        // SAFETY: ends the child.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status));
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "1: FdProbe, 2: list_fds, 3: both not PermissionDenied"
    );
}

/// A real process tree in its own process group: `sh` running a five-thread python3 and a `sleep`.
/// Dropping it kills the group and reaps the shell.
struct Tree {
    sh: std::process::Child,
}

impl Tree {
    const PROCESSES: u64 = 3;
    const THREADS: u64 = 1 + 5 + 1;

    fn spawn() -> Tree {
        use std::os::unix::process::CommandExt;
        let py = "import threading, time\n\
                  for _ in range(4): threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n\
                  time.sleep(60)";
        let sh = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("python3 -c '{py}' & sleep 60 & wait"))
            .process_group(0)
            .spawn()
            .expect("spawn sh");
        Tree { sh }
    }

    fn pid(&self) -> u32 {
        self.sh.id()
    }

    /// Waits until the whole tree runs (all processes and threads started), through `/proc`.
    fn wait_started(&self) -> TreeSample {
        let mut probe = TreeProbe::new(self.pid(), Duration::ZERO).expect("tree");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = probe.sample().expect("tree sample");
            if s.processes == Self::PROCESSES && s.threads == Self::THREADS {
                return s;
            }
            assert!(Instant::now() < deadline, "tree did not start: {s:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        // SAFETY: signals the process group this test created.
        unsafe { libc::kill(-(self.sh.id() as i32), libc::SIGKILL) };
        let _ = self.sh.wait();
    }
}

/// RSS of two backends agrees within a few pages per process (the processes are idle, but a page
/// may be touched between the two reads).
fn assert_rss_close(proc_bytes: u64, sysinfo_bytes: u64, processes: u64) {
    let slack = processes * 8 * 4096;
    assert!(
        proc_bytes.abs_diff(sysinfo_bytes) <= slack,
        "/proc {proc_bytes} B, sysinfo {sysinfo_bytes} B"
    );
}

#[test]
fn sysinfo_backend_agrees_with_proc_on_a_real_tree() {
    let _g = serial();
    let tree = Tree::spawn();
    let fast = tree.wait_started();
    let mut portable =
        TreeProbe::with_backend(tree.pid(), Duration::ZERO, Backend::Sysinfo).expect("sysinfo");
    let slow = portable.sample().expect("sysinfo sample");
    assert_eq!(slow.processes, fast.processes, "{slow:?} vs {fast:?}");
    assert_eq!(slow.threads, fast.threads, "{slow:?} vs {fast:?}");
    assert_eq!(slow.fds, fast.fds, "{slow:?} vs {fast:?}");
    assert_rss_close(fast.rss_bytes, slow.rss_bytes, fast.processes);
    // The same sysinfo probe, without a rescan, still sees the whole tree.
    let mut lazy = TreeProbe::with_backend(tree.pid(), Duration::from_secs(3600), Backend::Sysinfo)
        .expect("sysinfo");
    assert_eq!(lazy.sample().expect("again").processes, Tree::PROCESSES);
    // Per-process probes agree too, on the shell (the root) and on this process.
    for pid in [tree.pid(), std::process::id()] {
        let (mut p, mut s) = (
            RssProbe::with_backend(pid, Backend::Proc).expect("rss"),
            RssProbe::with_backend(pid, Backend::Sysinfo).expect("rss"),
        );
        assert_rss_close(p.rss_bytes().expect("rss"), s.rss_bytes().expect("rss"), 1);
        let threads = ThreadProbe::with_backend(pid, Backend::Sysinfo)
            .and_then(|mut t| t.threads())
            .expect("threads");
        assert_eq!(
            threads,
            ThreadProbe::pid(pid)
                .and_then(|mut t| t.threads())
                .expect("threads")
        );
    }
    let fds = FdProbe::with_backend(tree.pid(), Backend::Sysinfo).and_then(|mut f| f.fds());
    assert_eq!(
        fds.expect("fds"),
        FdProbe::pid(tree.pid())
            .and_then(|mut f| f.fds())
            .expect("fds")
    );
    assert_eq!(
        descendants(tree.pid()).expect("descendants").len() as u64,
        Tree::PROCESSES - 1
    );
    let mut fast_probe = TreeProbe::new(tree.pid(), Duration::ZERO).expect("tree");
    let root = tree.pid();
    drop(tree);
    assert!(matches!(portable.sample(), Err(ProbeError::Gone { pid }) if pid == root));
    assert!(matches!(fast_probe.sample(), Err(ProbeError::Gone { pid }) if pid == root));
}

#[test]
fn process_group_members_and_thread_names_of_a_real_tree() {
    let _g = serial();
    let tree = Tree::spawn();
    tree.wait_started();
    let mut members = process_group_members(tree.pid() as i32).expect("group");
    members.sort_unstable();
    let mut expected = descendants(tree.pid()).expect("descendants");
    expected.push(tree.pid());
    expected.sort_unstable();
    assert_eq!(members, expected);
    let python = expected
        .iter()
        .copied()
        .find(|&p| ThreadProbe::pid(p).and_then(|mut t| t.threads()).ok() == Some(5))
        .expect("the five-thread python3");
    let names = thread_names(Some(python)).expect("thread names");
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(
        names
            .iter()
            .any(|t| t.tid == python && t.name.starts_with("python")),
        "{names:?}"
    );
    let pgid = tree.pid() as i32;
    drop(tree);
    // The killed grandchildren are reaped by init, not by this test: a moment after the kill
    // (longer on a loaded machine) they may still be zombies in the group.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = process_group_members(pgid).expect("group");
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        left = process_group_members(pgid).expect("group");
    }
    assert_eq!(left, Vec::<u32>::new());
}
