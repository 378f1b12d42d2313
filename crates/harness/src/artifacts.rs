//! A report's artifacts in a report directory: `<stem>.json` and `<stem>.svg`, each written
//! atomically (the renderings themselves are leakproof-report's).

use std::path::Path;

use leakproof_report::Report;

/// Writes `<stem>.json` and `<stem>.svg` of `report` into `dir` (created if missing), each
/// atomically: a temporary file in `dir`, then a rename.
pub fn write_artifacts(report: &Report, dir: &Path, stem: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = report.render_json();
    write_atomic(&dir.join(format!("{stem}.json")), json.as_bytes())?;
    write_atomic(
        &dir.join(format!("{stem}.svg")),
        report.render_svg().as_bytes(),
    )
}

/// Write `bytes` to `path` through a temporary file beside it and a rename, so readers never see a
/// partial file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_are_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let r = Report::failed("tests::cache_grows", "boom");
        write_artifacts(&r, &dir.path().join("new"), "tests__cache_grows").unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join("new"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["tests__cache_grows.json", "tests__cache_grows.svg"]);
    }
}
