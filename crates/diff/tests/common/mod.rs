//! Hand-built snapshots shared by the tests.
#![allow(dead_code)]

use leakproof_diff::{Frame, Site, Snapshot};

pub const STD_ALLOC: &str =
    "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/alloc/src/alloc.rs";
pub const STD_VEC: &str =
    "/rustc/90b35a6239c3d8bdabc530a6a0816f7ff89a0aaf/library/alloc/src/raw_vec.rs";
pub const DEP: &str =
    "/home/dev/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/string-interner-0.17.0/src/lib.rs";

/// A site allocated from `user` (function, file, line), through the allocator and `Vec` growth.
pub fn site(user: (&str, &str, u32), bytes: u64, blocks: u64) -> Site {
    Site {
        frames: vec![
            Frame::at(
                "<leakproof_sample::TrackingAlloc as core::alloc::global::GlobalAlloc>::alloc",
                "crates/sample/src/alloc.rs",
                57,
            ),
            Frame::at("__rust_alloc", STD_ALLOC, 94),
            Frame {
                inlined: true,
                ..Frame::at("alloc::raw_vec::RawVec<T,A>::grow_one", STD_VEC, 566)
            },
            Frame::at("alloc::raw_vec::finish_grow", STD_VEC, 481),
            Frame::at(user.0, user.1, user.2),
            Frame::at("app::main", "src/main.rs", 12),
            Frame::at(
                "std::rt::lang_start_internal",
                "/rustc/x/library/std/src/rt.rs",
                195,
            ),
        ],
        bytes,
        blocks,
    }
}

/// A site allocated inside a dependency called from `user`.
pub fn dep_site(user: (&str, &str, u32), bytes: u64, blocks: u64) -> Site {
    let mut s = site(user, bytes, blocks);
    s.frames.insert(
        4,
        Frame::at(
            "string_interner::StringInterner<B,H>::get_or_intern",
            DEP,
            210,
        ),
    );
    s
}

pub const CACHE: (&str, &str, u32) = ("app::cache::Cache::insert", "src/cache.rs", 42);
pub const CACHE_GET: (&str, &str, u32) = ("app::cache::Cache::get", "src/cache.rs", 57);
pub const PARSE: (&str, &str, u32) = ("app::parse::parse", "src/parse.rs", 8);
pub const INTERN: (&str, &str, u32) = ("app::names::intern_all", "src/names.rs", 19);

/// Before: a small cache, some parsing, a few interned names.
pub fn before() -> Snapshot {
    Snapshot::from_sites(vec![
        site(CACHE, 100 * 1024, 100),
        site(CACHE_GET, 4096, 4),
        site(PARSE, 20_000, 50),
        dep_site(INTERN, 3000, 30),
    ])
}

/// After: the cache grew to 3000 entries, parsing shrank, interning grew, a new site appeared.
pub fn after() -> Snapshot {
    Snapshot::from_sites(vec![
        site(CACHE, 1_258_291, 3000),
        site(CACHE_GET, 4096, 4),
        site(PARSE, 12_000, 30),
        dep_site(INTERN, 48_000, 480),
        site(("app::log::line", "src/log.rs", 77), 512, 2),
    ])
}
