//! Exact fd and thread counts of this process against known opens and spawns. Runs without libtest
//! (`harness = false`): libtest's worker threads would change the thread count under our feet.

#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use leakproof_sample::{list_fds, FdKind, FdProbe, Probe, ThreadProbe, Unit};

fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

#[cfg(not(target_os = "linux"))]
fn main() {}

#[cfg(target_os = "linux")]
fn main() {
    fd_probe_and_list_see_known_opens();
    println!("test own_process::fd_probe_and_list_see_known_opens ... ok");
    thread_probe_sees_spawns_and_joins();
    println!("test own_process::thread_probe_sees_spawns_and_joins ... ok");
}

fn fd_probe_and_list_see_known_opens() {
    let mut p = FdProbe::this_process().expect("fd probe");
    let before = p.fds().expect("before");
    let listed_before = list_fds(None).expect("list");
    assert_eq!(listed_before.len() as u64, before, "{listed_before:?}");

    let files: Vec<_> = (0..3)
        .map(|_| std::fs::File::open("/dev/null").expect("open"))
        .collect();
    let (r, w) = pipe();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    assert_eq!(p.sample().expect("sample").value, (before + 6) as f64);
    assert_eq!(p.sample().expect("sample").unit, Unit::Count);

    let listed = list_fds(None).expect("list");
    let kind_of = |fd: i32| {
        listed
            .iter()
            .find(|f| f.fd == fd)
            .map(|f| (f.kind, f.target.clone()))
    };
    assert_eq!(
        kind_of(files[0].as_raw_fd()),
        Some((FdKind::File, "/dev/null".to_string()))
    );
    assert_eq!(kind_of(r).map(|k| k.0), Some(FdKind::Pipe));
    assert_eq!(kind_of(w).map(|k| k.0), Some(FdKind::Pipe));
    assert_eq!(kind_of(sock.as_raw_fd()).map(|k| k.0), Some(FdKind::Socket));

    drop(files);
    drop(sock);
    // SAFETY: closing the pipe we opened.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
    assert_eq!(p.fds().expect("after"), before);
}

fn thread_probe_sees_spawns_and_joins() {
    let mut p = ThreadProbe::this_process().expect("thread probe");
    let before = p.threads().expect("before");
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = std::sync::Arc::new(Mutex::new(rx));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let rx = rx.clone();
            std::thread::spawn(move || {
                let _ = rx.lock().map(|r| r.recv());
            })
        })
        .collect();
    assert_eq!(p.sample().expect("sample").value, (before + 3) as f64);
    drop(tx);
    for h in handles {
        h.join().expect("join");
    }
    // The kernel drops an exited thread from the count shortly after join returns.
    let deadline = Instant::now() + Duration::from_secs(5);
    while p.threads().expect("after") != before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(p.threads().expect("after"), before);
}
