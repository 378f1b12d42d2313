//! What a HotSpot JVM says: an attach reply (return code, then output), its performance-data
//! file (`/tmp/hsperfdata_<user>/<pid>`: the heap counters and its capabilities), and a class
//! histogram (`GC.class_histogram`) as a snapshot whose sites are classes.

use std::collections::HashMap;

use leakproof_diff::{Frame, Site, Snapshot};

/// An attach reply: the first line is the return code (0: done), the rest the command's output.
/// A non-zero code gives the output's first line (the JVM's reason) as the error.
pub(super) fn reply(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_owned())?;
    let (code, output) = text.split_once('\n').unwrap_or((text, ""));
    match code.trim().parse::<i32>() {
        Ok(0) => Ok(output.to_owned()),
        Ok(code) => {
            let reason = output.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            Err(format!("return code {code}: {}", reason.trim()))
        }
        Err(_) if text.is_empty() => Err("an empty reply".to_owned()),
        Err(_) => Err(format!("no return code in {:?}", shorten(code))),
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(60).collect()
}

/// A value of the JVM's performance data.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum PerfValue {
    /// A counter or constant (`J`).
    Long(i64),
    /// A string (a byte vector, NUL-terminated).
    Text(String),
}

/// The performance data of a JVM, by counter name; `None` when `data` is not a readable
/// hsperfdata file (wrong magic, not yet accessible, entries out of bounds).
///
/// Layout (HotSpot `perfMemory.hpp`): a 32-byte prologue (magic `0xcafec0c0` big-endian, byte
/// order, versions, `accessible`, used, overflow, time stamp, offset of the first entry, number
/// of entries), then entries of a 20-byte header (length, name offset, vector length, type,
/// flags, units, variability, data offset; offsets from the entry's start).
pub(super) fn perf_data(data: &[u8]) -> Option<HashMap<String, PerfValue>> {
    if data.get(..4)? != [0xca, 0xfe, 0xc0, 0xc0] || *data.get(7)? == 0 {
        return None;
    }
    let little = *data.get(4)? == 1;
    let int = |at: usize| -> Option<i64> {
        let b: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(i64::from(if little {
            i32::from_le_bytes(b)
        } else {
            i32::from_be_bytes(b)
        }))
    };
    let long = |at: usize| -> Option<i64> {
        let b: [u8; 8] = data.get(at..at + 8)?.try_into().ok()?;
        Some(if little {
            i64::from_le_bytes(b)
        } else {
            i64::from_be_bytes(b)
        })
    };
    let mut at = usize::try_from(int(24)?).ok()?;
    let count = usize::try_from(int(28)?).ok()?;
    let mut out = HashMap::with_capacity(count);
    for _ in 0..count {
        let length = usize::try_from(int(at)?).ok().filter(|&l| l >= 20)?;
        let name_at = at + usize::try_from(int(at + 4)?).ok()?;
        let vector = int(at + 8)?;
        let kind = *data.get(at + 12)?;
        let data_at = at + usize::try_from(int(at + 16)?).ok()?;
        let name = c_string(data.get(name_at..at + length)?);
        let value = match (kind, vector) {
            (b'J', 0) => PerfValue::Long(long(data_at)?),
            (b'B', n) if n > 0 => {
                let n = usize::try_from(n).ok()?;
                PerfValue::Text(c_string(data.get(data_at..data_at + n)?))
            }
            _ => {
                at += length;
                continue;
            }
        };
        out.insert(name, value);
        at += length;
    }
    Some(out)
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Whether the JVM accepts Dynamic Attach: the first flag of `sun.rt.jvmCapabilities` (`0` under
/// `-XX:+DisableAttachMechanism`); `None` when the counter is missing.
pub(super) fn attachable(perf: &HashMap<String, PerfValue>) -> Option<bool> {
    match perf.get("sun.rt.jvmCapabilities")? {
        PerfValue::Text(flags) => flags.chars().next().map(|c| c == '1'),
        PerfValue::Long(_) => None,
    }
}

/// Collectors whose `used` counters are exact bytes after a full collection (`sun.gc.policy.name`):
/// G1, Serial and Parallel. ZGC and Shenandoah count whole regions of megabytes (ZGC publishes no
/// policy name at all): a leak of a KiB per request would read flat for thousands of requests.
const EXACT_COLLECTORS: &[&str] = &["GarbageFirst", "Copy:MSC", "ParScav:MSC"];

/// `Ok` when the JVM's collector counts its heap in exact bytes, else the collector's policy name
/// (or `unknown`).
pub(super) fn exact_collector(perf: &HashMap<String, PerfValue>) -> Result<(), String> {
    match perf.get("sun.gc.policy.name") {
        Some(PerfValue::Text(name)) if EXACT_COLLECTORS.contains(&name.as_str()) => Ok(()),
        Some(PerfValue::Text(name)) => Err(name.clone()),
        _ => Err("unknown".to_owned()),
    }
}

/// Bytes in use in the Java heap: the sum of every `sun.gc.generation.<g>.space.<s>.used` (eden,
/// survivors and old generation for Serial, Parallel and G1; the counters are exact and updated
/// at the end of each collection). `None` when the JVM publishes none (ZGC, Shenandoah).
pub(super) fn heap_used(perf: &HashMap<String, PerfValue>) -> Option<u64> {
    let mut total = None;
    for (name, value) in perf {
        let is_space = name
            .strip_prefix("sun.gc.generation.")
            .and_then(|rest| rest.strip_suffix(".used"))
            .is_some_and(|rest| rest.contains(".space."));
        if let (true, PerfValue::Long(bytes)) = (is_space, value) {
            let sum: &mut u64 = total.get_or_insert(0);
            *sum = sum.saturating_add(u64::try_from(*bytes).unwrap_or(0));
        }
    }
    total
}

/// A `GC.class_histogram` as a snapshot: one site per class (its one frame's file is the class
/// name, array descriptors spelt as in Java: `byte[]`, `java.lang.String[]`), bytes and instances.
/// `None` when no line parses.
pub(super) fn histogram(text: &str) -> Option<Snapshot> {
    let mut sites = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let rank = words.next().and_then(|w| w.strip_suffix(':'));
        if rank.and_then(|r| r.parse::<u64>().ok()).is_none() {
            continue;
        }
        let (Some(Ok(blocks)), Some(Ok(bytes)), Some(class)) = (
            words.next().map(str::parse::<u64>),
            words.next().map(str::parse::<u64>),
            words.next(),
        ) else {
            continue;
        };
        sites.push(Site {
            frames: vec![Frame {
                file: Some(leakproof_heapgraph::java_name(class)),
                ..Frame::default()
            }],
            bytes,
            blocks,
        });
    }
    if sites.is_empty() {
        return None;
    }
    let mut snapshot = Snapshot::from_sites(sites);
    snapshot.symbolized = true;
    Some(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_carry_a_return_code_then_the_output() {
        assert_eq!(reply(b"0\n").unwrap(), "");
        assert_eq!(reply(b"0\nabc\ndef\n").unwrap(), "abc\ndef\n");
        assert_eq!(
            reply(b"-1\njava.lang.IllegalArgumentException: Unknown diagnostic command\n")
                .unwrap_err(),
            "return code -1: java.lang.IllegalArgumentException: Unknown diagnostic command"
        );
        assert_eq!(reply(b"").unwrap_err(), "an empty reply");
        assert!(reply(b"HTTP/1.1 400\r\n")
            .unwrap_err()
            .starts_with("no return code"));
        assert_eq!(reply(&[0xff, 0xfe]).unwrap_err(), "not UTF-8");
    }

    /// A perf-data file with the given entries, as HotSpot lays it out (little-endian).
    fn perf_file(entries: &[(&str, PerfValue)], accessible: bool) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, value) in entries {
            let mut e = Vec::new();
            let name_at = 20;
            let mut name_bytes = name.as_bytes().to_vec();
            name_bytes.push(0);
            while (name_at + name_bytes.len()) % 8 != 0 {
                name_bytes.push(0);
            }
            let data_at = name_at + name_bytes.len();
            let (kind, vector, data) = match value {
                PerfValue::Long(v) => (b'J', 0, v.to_le_bytes().to_vec()),
                PerfValue::Text(s) => {
                    let mut d = s.as_bytes().to_vec();
                    d.push(0);
                    (b'B', d.len(), d)
                }
            };
            let length = data_at + data.len();
            for v in [length, name_at, vector] {
                e.extend_from_slice(&(v as i32).to_le_bytes());
            }
            e.extend_from_slice(&[kind, 0, 0, 0]);
            e.extend_from_slice(&(data_at as i32).to_le_bytes());
            e.extend_from_slice(&name_bytes);
            e.extend_from_slice(&data);
            body.extend_from_slice(&e);
        }
        let mut file = vec![0xca, 0xfe, 0xc0, 0xc0, 1, 2, 0, u8::from(accessible)];
        file.extend_from_slice(&[0; 16]);
        file.extend_from_slice(&32i32.to_le_bytes());
        file.extend_from_slice(&(entries.len() as i32).to_le_bytes());
        file.extend_from_slice(&body);
        file
    }

    #[test]
    fn perf_data_sums_the_heap_spaces_and_reads_the_capabilities() {
        let caps = |flags: &str| ("sun.rt.jvmCapabilities", PerfValue::Text(flags.to_owned()));
        let file = perf_file(
            &[
                ("sun.gc.generation.0.space.0.used", PerfValue::Long(100)),
                ("sun.gc.generation.0.space.1.used", PerfValue::Long(20)),
                ("sun.gc.generation.1.space.0.used", PerfValue::Long(3000)),
                ("sun.gc.generation.1.capacity", PerfValue::Long(1 << 30)),
                ("sun.gc.metaspace.used", PerfValue::Long(777)),
                caps("1100"),
            ],
            true,
        );
        let perf = perf_data(&file).expect("parses");
        assert_eq!(heap_used(&perf), Some(3120));
        assert_eq!(attachable(&perf), Some(true));
        assert_eq!(exact_collector(&perf), Err("unknown".to_owned()));
        let g1 = (
            "sun.gc.policy.name",
            PerfValue::Text("GarbageFirst".to_owned()),
        );
        assert_eq!(
            exact_collector(&perf_data(&perf_file(&[g1], true)).unwrap()),
            Ok(())
        );
        let shenandoah = (
            "sun.gc.policy.name",
            PerfValue::Text("Shenandoah".to_owned()),
        );
        let perf_s = perf_data(&perf_file(&[shenandoah], true)).unwrap();
        assert_eq!(exact_collector(&perf_s), Err("Shenandoah".to_owned()));
        let disabled = perf_data(&perf_file(&[caps("0100")], true)).unwrap();
        assert_eq!(attachable(&disabled), Some(false));
        assert_eq!(heap_used(&disabled), None);
        assert_eq!(
            perf_data(&perf_file(&[caps("1")], false)),
            None,
            "not accessible yet"
        );
        assert_eq!(perf_data(b"garbage"), None);
        let mut truncated = file.clone();
        truncated.truncate(80);
        assert_eq!(perf_data(&truncated), None);
    }

    #[test]
    fn histograms_name_classes_as_java_spells_them() {
        let text = "12345:\n num     #instances         #bytes  class name (module)\n\
            -------------------------------------------------------\n\
            \x20  1:         13065         610296  [B (java.base@17.0.15)\n\
            \x20  2:         12624         302976  java.lang.String (java.base@17.0.15)\n\
            \x20  3:            10            240  Hello$Entry\n\
            \x20  4:             2             64  [[Ljava.lang.Object; (java.base@17.0.15)\n\
            Total         25701         913576\n";
        let snapshot = histogram(text).expect("parses");
        let names: Vec<(String, u64, u64)> = snapshot
            .sites
            .iter()
            .map(|s| (s.frames[0].location(), s.bytes, s.blocks))
            .collect();
        assert_eq!(
            names,
            vec![
                ("byte[]".to_owned(), 610296, 13065),
                ("java.lang.String".to_owned(), 302976, 12624),
                ("Hello$Entry".to_owned(), 240, 10),
                ("java.lang.Object[][]".to_owned(), 64, 2),
            ]
        );
        assert!(histogram("garbage\n 1: x y z\n").is_none());
    }
}
