//! Small HPROF dumps written byte by byte the way HotSpot writes them, read back as graphs.

use std::time::{Duration, Instant};

use super::*;
use crate::java::{census, growth_holders};

/// A dump being written (identifiers of 8 bytes).
#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    heap: Vec<u8>,
}

fn id(v: &mut Vec<u8>, x: u64) {
    v.extend(x.to_be_bytes());
}

fn u4(v: &mut Vec<u8>, x: u32) {
    v.extend(x.to_be_bytes());
}

impl Writer {
    fn record(&mut self, tag: u8, body: &[u8]) {
        self.out.push(tag);
        u4(&mut self.out, 0);
        u4(&mut self.out, body.len() as u32);
        self.out.extend(body);
    }
    fn utf8(&mut self, sid: u64, text: &str) {
        let mut b = Vec::new();
        id(&mut b, sid);
        b.extend(text.as_bytes());
        self.record(0x01, &b);
    }
    /// A class named `name` (string id `class + 1`) with object statics and instance fields.
    fn class(
        &mut self,
        class: u64,
        name: &str,
        super_id: u64,
        statics: &[(&str, u64)],
        fields: &[(&str, u8)],
    ) {
        self.utf8(class + 1, name);
        let mut b = Vec::new();
        u4(&mut b, class as u32); // the class's serial
        id(&mut b, class);
        u4(&mut b, 0);
        id(&mut b, class + 1);
        self.record(0x02, &b);
        let h = &mut self.heap;
        h.push(0x20);
        id(h, class);
        u4(h, 0);
        id(h, super_id);
        for _ in 0..5 {
            id(h, 0);
        }
        u4(h, 16);
        h.extend(0u16.to_be_bytes()); // constant pool
        h.extend((statics.len() as u16).to_be_bytes());
        let mut names = Vec::new();
        for (i, (field, to)) in statics.iter().enumerate() {
            let sid = class + 100 + i as u64;
            names.push((sid, *field));
            id(h, sid);
            h.push(2);
            id(h, *to);
        }
        h.extend((fields.len() as u16).to_be_bytes());
        for (i, (field, t)) in fields.iter().enumerate() {
            let sid = class + 200 + i as u64;
            names.push((sid, *field));
            id(h, sid);
            h.push(*t);
        }
        for (sid, text) in names {
            self.utf8(sid, text);
        }
    }
    fn instance(&mut self, object: u64, class: u64, values: &[u8]) {
        let h = &mut self.heap;
        h.push(0x21);
        id(h, object);
        u4(h, 0);
        id(h, class);
        u4(h, values.len() as u32);
        h.extend(values);
    }
    fn objects(&mut self, object: u64, class: u64, elements: &[u64]) {
        let h = &mut self.heap;
        h.push(0x22);
        id(h, object);
        u4(h, 0);
        u4(h, elements.len() as u32);
        id(h, class);
        for &e in elements {
            id(h, e);
        }
    }
    fn bytes(&mut self, object: u64, n: u32) {
        let h = &mut self.heap;
        h.push(0x23);
        id(h, object);
        u4(h, 0);
        u4(h, n);
        h.push(8);
        h.extend(std::iter::repeat_n(7u8, n as usize));
    }
    fn frame_root(&mut self, object: u64) {
        self.local_root(object, 1, 0);
    }
    fn local_root(&mut self, object: u64, thread: u32, depth: u32) {
        self.heap.push(0x03);
        id(&mut self.heap, object);
        u4(&mut self.heap, thread);
        u4(&mut self.heap, depth);
    }
    /// A stack frame of `method` in `file` at `line`, of the class `class` (its serial).
    fn frame(&mut self, frame: u64, method: &str, file: &str, class: u64, line: u32) {
        self.utf8(frame + 1, method);
        self.utf8(frame + 2, file);
        let mut b = Vec::new();
        for i in [frame, frame + 1, 0, frame + 2] {
            id(&mut b, i);
        }
        u4(&mut b, class as u32);
        u4(&mut b, line);
        self.record(0x04, &b);
    }
    fn trace(&mut self, thread: u32, frames: &[u64]) {
        let mut b = Vec::new();
        u4(&mut b, thread);
        u4(&mut b, thread);
        u4(&mut b, frames.len() as u32);
        for &f in frames {
            id(&mut b, f);
        }
        self.record(0x05, &b);
    }
    fn finish(mut self) -> Vec<u8> {
        let mut file = b"JAVA PROFILE 1.0.2\0".to_vec();
        u4(&mut file, 8);
        file.extend([0u8; 8]);
        let heap = std::mem::take(&mut self.heap);
        self.record(0x1c, &heap);
        self.record(0x2c, &[]);
        file.extend(self.out);
        file
    }
}

/// `static App.CACHE` holds three pages through an ArrayList, which a thread's local also points
/// to; weak references (in `static App.WEAK`) point to two larger ones, which are not held.
fn dump() -> Vec<u8> {
    let mut w = Writer::default();
    w.class(0x100, "java/lang/Object", 0, &[], &[]);
    w.class(
        0x200,
        "java/util/ArrayList",
        0x100,
        &[],
        &[("elementData", 2), ("size", 10)],
    );
    w.class(
        0x300,
        "com/example/App",
        0x100,
        &[("CACHE", 0x1000), ("WEAK", 0x5000)],
        &[],
    );
    w.class(
        0x400,
        "java/lang/ref/Reference",
        0x100,
        &[],
        &[("referent", 2)],
    );
    w.class(0x500, "java/lang/ref/WeakReference", 0x400, &[], &[]);
    w.class(0x600, "[Ljava/lang/Object;", 0x100, &[], &[]);
    let mut list = Vec::new();
    id(&mut list, 0x2000);
    u4(&mut list, 3);
    w.instance(0x1000, 0x200, &list);
    w.objects(0x2000, 0x600, &[0x3001, 0x3002, 0x3003, 0]);
    for page in 0x3001..=0x3003 {
        w.bytes(page, 100);
    }
    w.bytes(0x3004, 1000);
    w.bytes(0x3005, 1000);
    w.objects(0x5000, 0x600, &[0x4000, 0x4001]);
    for (weak, page) in [(0x4000, 0x3004), (0x4001, 0x3005)] {
        let mut referent = Vec::new();
        id(&mut referent, page);
        w.instance(weak, 0x500, &referent);
    }
    w.frame_root(0x1000);
    w.finish()
}

fn graph_of(bytes: &[u8]) -> Result<Graph, DumpError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1.hprof");
    std::fs::write(&path, bytes).unwrap();
    read(&path)
}

#[test]
fn a_static_list_holds_the_pages_a_local_does_not_name_it_and_a_weak_reference_holds_nothing() {
    let graph = graph_of(&dump()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let classes = ["byte[]".to_owned()];
    let holders = growth_holders(&classes, &[], &census(&graph, &classes, deadline));
    assert_eq!(holders.len(), 1, "{holders:#?}");
    let h = &holders[0];
    assert_eq!(h.name, "static App.CACHE (ArrayList)");
    assert_eq!(h.count, Some(3));
    assert_eq!(
        h.path,
        vec![
            "com.example.App",
            "static CACHE -> java.util.ArrayList",
            ".elementData -> java.lang.Object[]",
            "[0] -> byte[]",
        ]
    );
}

#[test]
fn class_names_are_spelled_as_in_java_source() {
    assert_eq!(dump_name("java/util/ArrayList"), "java.util.ArrayList");
    assert_eq!(dump_name("[Ljava/lang/Object;"), "java.lang.Object[]");
    assert_eq!(dump_name("[[B"), "byte[][]");
}

#[test]
fn a_file_that_is_not_a_dump_or_is_cut_short_is_an_error_not_a_panic() {
    assert!(matches!(
        graph_of(b"PK\x03\x04 a zip"),
        Err(DumpError::Format { .. })
    ));
    let whole = dump();
    for cut in [40, whole.len() / 2, whole.len() - 30] {
        assert!(graph_of(&whole[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn a_long_string_record_is_skipped_and_the_rest_still_read() {
    let mut w = Writer::default();
    w.utf8(0x9999, &"x".repeat(70_000));
    let mut file = w.finish();
    // Splice the dump's records after this long one, past the dump's own 31-byte header.
    file.extend_from_slice(&dump()[31..]);
    let graph = graph_of(&file).unwrap();
    let classes = ["byte[]".to_owned()];
    let deadline = Instant::now() + Duration::from_secs(60);
    let holders = growth_holders(&classes, &[], &census(&graph, &classes, deadline));
    let names: Vec<&str> = holders.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, vec!["static App.CACHE (ArrayList)"]);
    assert!(graph.strings.iter().all(|s| s.len() < 70_000));
}

#[test]
fn a_list_held_by_a_threads_local_is_named_by_its_frame() {
    let mut w = Writer::default();
    w.class(0x100, "java/lang/Object", 0, &[], &[]);
    w.class(
        0x200,
        "java/util/ArrayList",
        0x100,
        &[],
        &[("elementData", 2), ("size", 10)],
    );
    w.class(0x300, "com/example/App", 0x100, &[], &[]);
    w.class(0x600, "[Ljava/lang/Object;", 0x100, &[], &[]);
    w.frame(0x8000, "run", "Thread.java", 0x100, 800);
    w.frame(0x8100, "serve", "App.java", 0x300, 42);
    w.trace(7, &[0x8100, 0x8000]);
    let mut list = Vec::new();
    id(&mut list, 0x2000);
    u4(&mut list, 3);
    w.instance(0x1000, 0x200, &list);
    w.objects(0x2000, 0x600, &[0x3001, 0x3002, 0x3003]);
    for page in 0x3001..=0x3003 {
        w.bytes(page, 100);
    }
    w.local_root(0x1000, 7, 0);
    let graph = graph_of(&w.finish()).unwrap();
    let classes = ["byte[]".to_owned()];
    let deadline = Instant::now() + Duration::from_secs(60);
    let holders = growth_holders(&classes, &[], &census(&graph, &classes, deadline));
    let names: Vec<&str> = holders.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, vec!["(local in App.serve, App.java:42) (ArrayList)"]);
}
