//! Overhead baseline: the benchmark loop on the system allocator (see `common/alloc_loop.rs`).

#[path = "common/alloc_loop.rs"]
mod alloc_loop;

#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    alloc_loop::run("system", &alloc_loop::args());
}
