//! End-to-end corpus: workloads that leak and workloads that do not, judged by `#[leak_test]` with its
//! default settings.
//!
//! Every leaking workload is a `#[should_panic]` leak test: it passes only when leakproof fails the
//! workload. Where the failure message must name the line that grew, `expected` pins it. Every stable
//! workload is a plain leak test: it passes only when leakproof proves it Stable. Ordinary tests that
//! allocate heavily run beside them in the same binary, so under `cargo test` (parallel threads, one
//! process) this file also proves that a leak test never sees other tests' allocations. CI runs the file
//! under `cargo test` and under `cargo nextest run` (one process per test).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::num::NonZeroUsize;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use leakproof::leak_test;

#[global_allocator]
static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();

/// Counts calls, for workloads that leak only on some of them.
fn next_call(counter: &AtomicUsize) -> usize {
    counter.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------------
// Memory leaks: each must fail.
// ---------------------------------------------------------------------------------------------------

#[leak_test]
#[should_panic(expected = "leak_corpus.rs:")]
fn leaks_8_bytes_per_iteration() {
    let leaked: &'static mut u64 = Box::leak(Box::new(42u64));
    std::hint::black_box(leaked);
}

#[leak_test]
#[should_panic(expected = "leaking")]
fn leaks_on_every_10th_iteration_only() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    if next_call(&CALLS) % 10 == 0 {
        std::hint::black_box(Box::leak(vec![0u8; 64].into_boxed_slice()));
    }
}

#[leak_test]
#[should_panic(expected = "leak_corpus.rs:")]
fn leaks_on_a_spawned_and_joined_thread() {
    std::thread::spawn(|| {
        std::hint::black_box(Box::leak(Box::new([0u8; 48])));
    })
    .join()
    .expect("worker thread");
}

struct Node {
    _payload: Vec<u8>,
    next: RefCell<Option<Rc<Node>>>,
}

#[leak_test]
#[should_panic(expected = "leaking")]
fn leaks_an_rc_cycle() {
    let a = Rc::new(Node {
        _payload: vec![1; 32],
        next: RefCell::new(None),
    });
    let b = Rc::new(Node {
        _payload: vec![2; 32],
        next: RefCell::new(Some(Rc::clone(&a))),
    });
    *a.next.borrow_mut() = Some(b);
}

#[leak_test]
#[should_panic(expected = "leaking")]
fn leaks_with_mem_forget() {
    std::mem::forget(vec![7u8; 32]);
}

thread_local! {
    static SEEN: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

#[leak_test]
#[should_panic]
fn leaks_into_a_growing_thread_local() {
    SEEN.with(|seen| seen.borrow_mut().push(String::from("request-id-0001")));
}

/// Both ends of a channel, kept together so that nothing ever receives.
type Channel = (Sender<[u8; 24]>, Receiver<[u8; 24]>);

fn undrained_channel() -> &'static Mutex<Channel> {
    static CHANNEL: OnceLock<Mutex<Channel>> = OnceLock::new();
    CHANNEL.get_or_init(|| Mutex::new(mpsc::channel()))
}

#[leak_test]
#[should_panic]
fn leaks_into_a_channel_nobody_drains() {
    let channel = undrained_channel().lock().expect("channel lock");
    channel.0.send([9u8; 24]).expect("receiver is alive");
}

#[leak_test]
#[should_panic]
fn leaks_through_a_string_whose_capacity_keeps_doubling() {
    static LOG: Mutex<String> = Mutex::new(String::new());
    LOG.lock()
        .expect("log lock")
        .push_str("GET /index.html 200\n");
}

#[leak_test]
#[should_panic(expected = "leak_corpus.rs:")]
fn leaks_through_an_interner_fed_unique_keys() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static INTERNER: OnceLock<Mutex<lasso::Rodeo>> = OnceLock::new();
    let key = format!("session-{:08}", next_call(&CALLS));
    let interner = INTERNER.get_or_init(|| Mutex::new(lasso::Rodeo::default()));
    interner.lock().expect("interner lock").get_or_intern(key);
}

// ---------------------------------------------------------------------------------------------------
// Stable workloads: each must be proven Stable.
// ---------------------------------------------------------------------------------------------------

#[leak_test]
fn bounded_lru_that_fills_over_150_iterations_is_stable() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static CACHE: OnceLock<Mutex<lru::LruCache<String, Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        Mutex::new(lru::LruCache::new(
            NonZeroUsize::new(150).expect("non-zero capacity"),
        ))
    });
    let key = format!("user-{:08}", next_call(&CALLS));
    cache.lock().expect("cache lock").put(key, vec![0u8; 100]);
}

#[leak_test]
fn lazy_statics_set_on_first_use_are_stable() {
    static TABLE: OnceLock<HashMap<u32, String>> = OnceLock::new();
    let table = TABLE.get_or_init(|| (0..500).map(|i| (i, format!("value {i}"))).collect());
    std::hint::black_box(table.get(&42));
}

#[leak_test]
fn hashmap_reused_as_a_sliding_window_is_stable() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static WINDOW: OnceLock<Mutex<HashMap<usize, [u8; 32]>>> = OnceLock::new();
    let i = next_call(&CALLS);
    let mut window = WINDOW
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .expect("window lock");
    window.insert(i, [1; 32]);
    if i >= 64 {
        window.remove(&(i - 64));
    }
}

#[leak_test]
fn threads_spawned_and_joined_are_stable() {
    let handles: Vec<_> = (0..2)
        .map(|i| std::thread::spawn(move || vec![i as u8; 256].len()))
        .collect();
    for handle in handles {
        std::hint::black_box(handle.join().expect("worker thread"));
    }
}

#[leak_test]
fn serde_json_and_regex_work_is_stable() {
    static PATTERN: OnceLock<regex::Regex> = OnceLock::new();
    let pattern = PATTERN.get_or_init(|| regex::Regex::new(r"^user-(\d+)$").expect("valid regex"));
    let value: serde_json::Value =
        serde_json::from_str(r#"{"name": "user-1234", "tags": ["a", "b"], "n": 3}"#).expect("json");
    let name = value["name"].as_str().expect("name");
    let id: u32 = pattern.captures(name).expect("match")[1]
        .parse()
        .expect("digits");
    std::hint::black_box(serde_json::to_string(&value).expect("serialize").len() + id as usize);
}

#[leak_test]
fn buffer_grown_and_released_in_a_saw_tooth_is_stable() {
    static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    let mut buffer = BUFFER.lock().expect("buffer lock");
    buffer.extend_from_slice(&[0u8; 100]);
    if buffer.len() >= 2_000 {
        *buffer = Vec::new();
    }
}

#[leak_test]
async fn async_tasks_that_complete_are_stable() {
    let task = tokio::spawn(async { vec![1u8; 128].len() });
    std::hint::black_box(task.await.expect("task"));
    tokio::task::yield_now().await;
}

#[leak_test]
#[should_panic(expected = "leaking")]
async fn async_task_that_leaks_is_caught() {
    std::mem::forget(vec![3u8; 64]);
    tokio::task::yield_now().await;
}

// ---------------------------------------------------------------------------------------------------
// Resource leaks: file descriptors and threads.
// ---------------------------------------------------------------------------------------------------

fn scratch_file() -> File {
    let path = std::env::temp_dir().join(format!("leakproof-corpus-{}.txt", std::process::id()));
    let mut file = File::create(&path).expect("create scratch file");
    file.write_all(b"hello").expect("write scratch file");
    // The descriptor stays valid after the name is gone; nothing is left behind in the temp directory.
    std::fs::remove_file(&path).expect("remove scratch file");
    file
}

#[leak_test]
#[should_panic(expected = "fd")]
fn leaks_files_kept_open() {
    static KEPT: Mutex<Vec<File>> = Mutex::new(Vec::new());
    // Opened every 4th call: a slow fd leak that costs almost no heap.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    if next_call(&CALLS) % 4 == 0 {
        KEPT.lock().expect("kept lock").push(scratch_file());
    }
}

#[leak_test]
#[should_panic(expected = "fd")]
fn leaks_a_forgotten_file() {
    std::mem::forget(scratch_file());
}

#[leak_test]
#[should_panic(expected = "fd")]
fn leaks_listeners_never_dropped() {
    std::mem::forget(TcpListener::bind("127.0.0.1:0").expect("bind loopback"));
}

#[leak_test]
#[should_panic(expected = "thread")]
fn leaks_threads_blocked_forever() {
    static PARKED: Mutex<Vec<Sender<()>>> = Mutex::new(Vec::new());
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let _ = rx.recv();
    });
    PARKED.lock().expect("parked lock").push(tx);
}

#[leak_test]
fn file_opened_and_closed_each_iteration_is_stable() {
    let mut file = scratch_file();
    file.flush().expect("flush");
    drop(file);
}

fn echo_listener() -> std::net::SocketAddr {
    static ADDR: OnceLock<std::net::SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { break };
                std::thread::spawn(move || {
                    let mut byte = [0u8; 1];
                    while stream.read_exact(&mut byte).is_ok() {
                        if stream.write_all(&byte).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        addr
    })
}

#[leak_test]
fn bounded_connection_pool_filled_during_warmup_is_stable() {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static POOL: Mutex<Vec<TcpStream>> = Mutex::new(Vec::new());
    let mut pool = POOL.lock().expect("pool lock");
    if pool.len() < 4 {
        pool.push(TcpStream::connect(echo_listener()).expect("connect"));
    }
    let i = next_call(&CALLS) % pool.len();
    let mut byte = [7u8; 1];
    pool[i].write_all(&byte).expect("send");
    pool[i].read_exact(&mut byte).expect("receive");
}

#[leak_test]
fn fixed_size_thread_pool_is_stable() {
    type Job = Box<dyn FnOnce() + Send>;
    static POOL: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for _ in 0..2 {
            let rx = std::sync::Arc::clone(&rx);
            std::thread::spawn(move || loop {
                let job = rx.lock().expect("queue lock").recv();
                match job {
                    Ok(job) => job(),
                    Err(_) => break,
                }
            });
        }
        Mutex::new(tx)
    });
    let (done_tx, done_rx) = mpsc::channel();
    pool.lock()
        .expect("pool lock")
        .send(Box::new(move || {
            done_tx.send(vec![0u8; 64].len()).expect("report back");
        }))
        .expect("pool alive");
    std::hint::black_box(done_rx.recv().expect("job done"));
}

// ---------------------------------------------------------------------------------------------------
// Neighbours: ordinary tests that allocate heavily while the leak tests run.
// ---------------------------------------------------------------------------------------------------

#[test]
fn neighbour_that_grows_memory_for_a_while() {
    // Under `cargo test` this runs on a thread beside the leak tests above. Were a leak test measured in
    // this process, this steady growth (about 40 MB over a second or two) would make stable workloads
    // look like leaks.
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500) && hoard.len() < 10_000 {
        hoard.push(vec![1u8; 4096]);
        std::thread::sleep(Duration::from_micros(100));
    }
    assert!(!hoard.is_empty());
}

#[test]
fn neighbour_that_churns_the_allocator() {
    let start = Instant::now();
    let mut total = 0usize;
    while start.elapsed() < Duration::from_millis(1500) {
        let v: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        total += v.len();
    }
    assert!(total > 0);
}
