//! Snapshot JSON: versioned, refused cleanly when malformed, truncated or of another version.

mod common;

use leakproof_diff::{DiffError, Snapshot, FORMAT_VERSION};

#[test]
fn round_trips_through_json_and_files() {
    let mut s = common::after().at_iteration(7);
    s.taken_at = Some(1_764_000_000_000);
    let text = s.to_json();
    assert!(text.contains(&format!("\"version\": {FORMAT_VERSION}")));
    assert_eq!(Snapshot::from_json(&text).expect("parse"), s);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("snap.json");
    s.save(&path).expect("save");
    assert_eq!(Snapshot::load(&path).expect("load"), s);
}

#[test]
fn unknown_version_is_refused_with_a_clear_message() {
    let text = common::before()
        .to_json()
        .replacen("\"version\": 1", "\"version\": 99", 1);
    let err = Snapshot::from_json(&text).expect_err("version 99");
    assert!(matches!(
        err,
        DiffError::UnsupportedVersion {
            found: 99,
            supported: 1
        }
    ));
    assert_eq!(
        err.to_string(),
        "unsupported snapshot format version 99 (this leakproof-diff reads version 1); re-take the snapshot with a matching leakproof"
    );
    // Even when the rest of the document is in a shape this version does not know.
    let err = Snapshot::from_json(r#"{"version": 2, "sites": "elsewhere"}"#).expect_err("v2");
    assert!(
        matches!(err, DiffError::UnsupportedVersion { found: 2, .. }),
        "{err}"
    );
}

#[test]
fn truncated_and_malformed_input_are_typed_errors() {
    let text = common::before().to_json();
    let err = Snapshot::from_json(&text[..text.len() / 2]).expect_err("truncated");
    assert!(matches!(err, DiffError::Truncated { .. }), "{err}");
    assert!(err.to_string().starts_with("truncated snapshot JSON"));

    let err = Snapshot::from_json("{\"version\": 1, \"total_bytes\": -3}").expect_err("neg");
    assert!(matches!(err, DiffError::Malformed { .. }), "{err}");
    let err = Snapshot::from_json("[1, 2]").expect_err("array");
    assert!(matches!(err, DiffError::Malformed { .. }), "{err}");
    let err = Snapshot::from_json("{\"total_bytes\": 1}").expect_err("no version");
    assert!(err.to_string().contains("missing field `version`"), "{err}");
    assert!(!err.to_string().contains('\n'));
    let err = Snapshot::from_json("").expect_err("empty");
    assert!(matches!(err, DiffError::Truncated { .. }), "{err}");
}

#[test]
fn missing_file_names_the_path() {
    let err = Snapshot::load("/nonexistent/dir/snap.json").expect_err("missing");
    assert!(matches!(err, DiffError::Io { .. }));
    assert!(
        err.to_string().starts_with("/nonexistent/dir/snap.json: "),
        "{err}"
    );
}

#[test]
fn from_ips_merges_identical_stacks_and_sums_totals() {
    let s = Snapshot::from_ips([
        (vec![1, 2, 3], 10, 1),
        (vec![4], 5, 1),
        (vec![1, 2, 3], 30, 2),
    ]);
    assert_eq!(s.sites.len(), 2);
    assert_eq!(s.sites[0].bytes, 40);
    assert_eq!(s.sites[0].blocks, 3);
    assert_eq!((s.total_bytes, s.total_blocks), (45, 4));
    assert_eq!(s.sites[0].frames[0].ip, Some(1));
    assert!(!s.symbolized);
}
