//! Units in reports: slopes and rates in a resource's own unit. Sizes go through the one size
//! formatter of leakproof, [`leakproof_diff::format_size`].

use crate::resource::Resource;

/// A slope in the resource's unit, signed: `+8 B`, `+0.10 fds`, `0.00 threads`.
pub(crate) fn format_slope(resource: Resource, slope: f64) -> String {
    format_rate(resource, slope, true)
}

/// A rate in the resource's unit: `64.1 KiB`, `0.25 fds` (`+` on positive values with `signed`).
pub(crate) fn format_rate(resource: Resource, value: f64, signed: bool) -> String {
    resource.format_rate(value, signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slopes_speak_the_resource_unit() {
        assert_eq!(format_slope(Resource::Heap, 1024.0), "+1.0 KiB");
        assert_eq!(format_slope(Resource::Rss, 8.5), "+8.5 B");
        assert_eq!(format_slope(Resource::Heap, 0.0), "0 B");
        assert_eq!(format_slope(Resource::Fds, 0.1), "+0.10 fds");
        assert_eq!(format_slope(Resource::Threads, 0.0), "0.00 threads");
        assert_eq!(format_rate(Resource::Fds, 1.0, false), "1.00 fds");
    }
}
