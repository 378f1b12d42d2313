//! A request handler whose cache never evicts, caught by leakproof with its line; then the fix
//! (a bounded cache) proven Stable.
//!
//! ```text
//! cargo run --release --example request_cache
//! ```
//!
//! This is the story Python's tracemalloc documentation tells, in Rust: memory grows a little with
//! every request, nothing crashes yet, and a heap profile taken once cannot tell a warming cache
//! from a leak. leakproof repeats the request, judges the trend, and on failure re-runs it with
//! allocation-site capture to name the line that keeps the memory.

use std::collections::{HashMap, VecDeque};
use std::process::ExitCode;

use leakproof::{Harness, Verdict};

#[global_allocator]
static GLOBAL: leakproof::TrackingAlloc = leakproof::TrackingAlloc::system();

/// An incoming request: a path and a per-request query id (unique, as tracking ids are).
struct Request {
    path: String,
    query_id: u64,
}

/// Renders a page; caches rendered pages by their full URL.
trait PageCache {
    fn get(&self, url: &str) -> Option<&str>;
    fn put(&mut self, url: String, page: String);
}

/// The bug: every distinct URL stays cached forever, and URLs carry a unique query id.
#[derive(Default)]
struct UnboundedCache {
    pages: HashMap<String, String>,
}

impl PageCache for UnboundedCache {
    fn get(&self, url: &str) -> Option<&str> {
        self.pages.get(url).map(String::as_str)
    }
    fn put(&mut self, url: String, page: String) {
        self.pages.insert(url, page); // never evicted
    }
}

/// The fix: at most `capacity` pages; the oldest is evicted first.
struct BoundedCache {
    capacity: usize,
    pages: HashMap<String, String>,
    order: VecDeque<String>,
}

impl BoundedCache {
    fn new(capacity: usize) -> Self {
        BoundedCache {
            capacity,
            // Room for twice the pages: removals leave tombstones, and a table that is too full
            // to rehash in place would grow once, long after the cache filled.
            pages: HashMap::with_capacity(2 * capacity),
            order: VecDeque::with_capacity(capacity + 1),
        }
    }
}

impl PageCache for BoundedCache {
    fn get(&self, url: &str) -> Option<&str> {
        self.pages.get(url).map(String::as_str)
    }
    fn put(&mut self, url: String, page: String) {
        if self.pages.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.pages.remove(&oldest);
            }
        }
        self.order.push_back(url.clone());
        self.pages.insert(url, page);
    }
}

/// The request handler: render the page for a request, through the cache.
fn handle<C: PageCache>(cache: &mut C, request: &Request) -> usize {
    let url = format!("{}?q={:010}", request.path, request.query_id);
    if let Some(page) = cache.get(&url) {
        return page.len();
    }
    let page = render(&request.path);
    let len = page.len();
    cache.put(url, page);
    len
}

fn render(path: &str) -> String {
    let mut page = String::with_capacity(256);
    page.push_str("<html><body><h1>");
    page.push_str(path);
    page.push_str("</h1>");
    for i in 0..8 {
        page.push_str(&format!("<p>item {i}</p>"));
    }
    page.push_str("</body></html>");
    page
}

/// A stream of requests over a handful of paths, each with a fresh query id.
fn requests() -> impl FnMut() -> Request {
    let paths = ["/", "/about", "/products", "/cart"];
    let mut n = 0u64;
    move || {
        n += 1;
        Request {
            path: paths[(n % paths.len() as u64) as usize].to_owned(),
            query_id: n,
        }
    }
}

fn judge<C: PageCache>(
    title: &str,
    mut cache: C,
) -> Result<leakproof::Report, leakproof::HarnessError> {
    let mut next = requests();
    println!("== {title}");
    let report = Harness::new().name(title).run(|| {
        let request = next();
        std::hint::black_box(handle(&mut cache, &request));
    })?;
    println!("{}", report.render_text());
    Ok(report)
}

fn main() -> ExitCode {
    let leaking = match judge("handler_with_unbounded_cache", UnboundedCache::default()) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let fixed = match judge("handler_with_bounded_cache", BoundedCache::new(128)) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    println!("== summary");
    // `None` only for a series of fewer than 5 samples; this one has 300.
    let slope = leaking.slope.expect("300 samples have an estimate");
    println!(
        "unbounded cache: {} ({slope:+.0} B/request); bounded cache (128 pages): {}",
        leaking.verdict, fixed.verdict
    );
    if leaking.verdict == Verdict::Leaking && fixed.verdict == Verdict::Stable {
        println!("the leak was found, and the fix is proven stable");
        ExitCode::SUCCESS
    } else {
        println!("unexpected verdicts: see the reports above");
        ExitCode::from(1)
    }
}
