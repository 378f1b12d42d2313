//! Include / exclude filters, as tracemalloc's `Filter`.

use glob::{MatchOptions, Pattern};

use crate::{user_frame, Attribution, DiffError, Frame, Site};

/// What a [`Filter`] matches.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterTarget {
    /// A glob over the frame's file path (`*`, `?`, `[...]`; `*` also crosses `/`). A pattern that
    /// does not start with `/` or `*` may also match any trailing part of the path after a `/`,
    /// so `src/cache.rs` matches `/home/u/app/src/cache.rs`.
    File(Pattern),
    /// A glob over the frame's demangled function name, e.g. `myapp::cache::*`.
    Function(Pattern),
}

/// Keeps (inclusive) or drops (exclusive) allocation sites by file or function.
///
/// By default a filter looks at a site's user frame (see [`Attribution`]), or its innermost frame
/// when it has none; with [`Filter::all_frames`] it looks at every frame: an inclusive filter then
/// keeps a site when any frame matches, an exclusive one drops it when any frame matches.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    /// Keep matching sites (`true`) or drop them (`false`).
    pub inclusive: bool,
    /// What to match.
    pub target: FilterTarget,
    /// Optional line number the matching frame must also be at.
    pub line: Option<u32>,
    /// Match any frame instead of the user frame.
    pub all_frames: bool,
}

fn pattern(p: &str) -> Result<Pattern, DiffError> {
    Pattern::new(p).map_err(|e| DiffError::InvalidPattern {
        pattern: p.to_owned(),
        message: e.msg.to_owned(),
    })
}

impl Filter {
    /// Keep only sites whose file matches `glob`.
    pub fn include_file(glob: &str) -> Result<Filter, DiffError> {
        Filter::new(true, FilterTarget::File(pattern(glob)?))
    }
    /// Drop sites whose file matches `glob`.
    pub fn exclude_file(glob: &str) -> Result<Filter, DiffError> {
        Filter::new(false, FilterTarget::File(pattern(glob)?))
    }
    /// Keep only sites whose function matches `glob`.
    pub fn include_function(glob: &str) -> Result<Filter, DiffError> {
        Filter::new(true, FilterTarget::Function(pattern(glob)?))
    }
    /// Drop sites whose function matches `glob`.
    pub fn exclude_function(glob: &str) -> Result<Filter, DiffError> {
        Filter::new(false, FilterTarget::Function(pattern(glob)?))
    }

    fn new(inclusive: bool, target: FilterTarget) -> Result<Filter, DiffError> {
        Ok(Filter {
            inclusive,
            target,
            line: None,
            all_frames: false,
        })
    }

    /// Also require this line number.
    pub fn at_line(mut self, line: u32) -> Filter {
        self.line = Some(line);
        self
    }

    /// Match against every frame, not only the user frame.
    pub fn all_frames(mut self, yes: bool) -> Filter {
        self.all_frames = yes;
        self
    }

    /// True when this filter's pattern matches `frame` (whether it keeps or drops is `inclusive`).
    pub fn matches_frame(&self, frame: &Frame) -> bool {
        let opts = MatchOptions {
            case_sensitive: true,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        if self.line.is_some_and(|l| frame.line != Some(l)) {
            return false;
        }
        match &self.target {
            FilterTarget::File(p) => {
                let Some(file) = frame.file.as_deref() else {
                    return false;
                };
                if p.matches_with(file, opts) {
                    return true;
                }
                let s = p.as_str();
                if s.starts_with('/') || s.starts_with('*') {
                    return false;
                }
                file.match_indices('/')
                    .any(|(i, _)| p.matches_with(&file[i + 1..], opts))
            }
            FilterTarget::Function(p) => frame
                .function
                .as_deref()
                .is_some_and(|f| p.matches_with(f, opts)),
        }
    }

    fn matches_site(&self, site: &Site, attribution: &Attribution) -> bool {
        if self.all_frames {
            site.frames.iter().any(|f| self.matches_frame(f))
        } else {
            let i = user_frame(&site.frames, attribution).unwrap_or(0);
            site.frames.get(i).is_some_and(|f| self.matches_frame(f))
        }
    }
}

pub(crate) fn keep(site: &Site, filters: &[Filter], attribution: &Attribution) -> bool {
    let mut any_inclusive = false;
    let mut included = false;
    for f in filters {
        let m = f.matches_site(site, attribution);
        if f.inclusive {
            any_inclusive = true;
            included |= m;
        } else if m {
            return false;
        }
    }
    !any_inclusive || included
}
