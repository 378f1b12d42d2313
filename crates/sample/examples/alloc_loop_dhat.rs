//! The benchmark loop under dhat-rs heap profiling (the comparison for site capture).

#[path = "common/alloc_loop.rs"]
mod alloc_loop;

#[global_allocator]
static GLOBAL: dhat::Alloc = dhat::Alloc;

fn main() {
    let args = alloc_loop::args();
    let out = std::env::temp_dir().join("leakproof-dhat-bench.json");
    let profiler = dhat::Profiler::builder().file_name(out).build();
    alloc_loop::run("dhat", &args);
    drop(profiler);
}
