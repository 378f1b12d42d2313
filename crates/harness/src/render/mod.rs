//! Renderings of a [`Report`]: text ([`Report::render_text`]), a text chart, SVG, and the JSON and
//! SVG artifacts written to a report directory. One place for presentation; the model knows
//! nothing of it.

mod chart;
mod svg;
mod text;
pub(crate) mod units;

use std::path::Path;

use crate::report::Report;

pub use chart::text_chart;

impl Report {
    /// An SVG chart: one panel per resource with the samples, the warm-up shaded and the fitted
    /// slope drawn over the part after the warm-up.
    pub fn render_svg(&self) -> String {
        svg::render(self)
    }

    /// Write `<stem>.json` and `<stem>.svg` into `dir` (created if missing), each atomically: a
    /// temporary file in `dir`, then a rename.
    pub fn write_artifacts(&self, dir: &Path, stem: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomic(&dir.join(format!("{stem}.json")), json.as_bytes())?;
        write_atomic(
            &dir.join(format!("{stem}.svg")),
            self.render_svg().as_bytes(),
        )?;
        Ok(())
    }
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
