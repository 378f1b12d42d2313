//! When the workload fails after a leak was proven on the samples before it, the leak leads the
//! report: which resource, and whether the error is that resource running out (a descriptor leak
//! that ends in `Too many open files`) or only came after it.

use leakproof_trend::Verdict;

use leakproof_report::{FailureLink, LeakBeforeFailure, Report, Resource};

/// The leak that leads a failed report, or `None` when the run did not fail or nothing that
/// counts was proven Leaking before it. A Leaking resource whose limit the error names is
/// `Exhausted` (descriptors and threads before memory: the JVM words a thread limit as an
/// `OutOfMemoryError`); otherwise the first Leaking one (memory first) leads, `AfterLeak`.
pub(crate) fn leak_before_failure(report: &Report) -> Option<LeakBeforeFailure> {
    let failure = report.failure.as_deref()?;
    let leaking: Vec<Resource> = report
        .resources
        .iter()
        .filter(|r| r.analysis.verdict == Verdict::Leaking && !r.advisory)
        .map(|r| r.resource)
        .collect();
    let exhausted = leaking
        .iter()
        .filter(|r| exhausts(failure, **r))
        .min_by_key(|r| r.is_memory());
    let (resource, link) = match exhausted {
        Some(&r) => (r, FailureLink::Exhausted),
        None => (*leaking.first()?, FailureLink::AfterLeak),
    };
    Some(LeakBeforeFailure {
        resource,
        link,
        iteration: report.iterations + 1,
    })
}

/// Whether `failure` is `resource` running out, as the kernel and the runtimes word it: EMFILE /
/// ENFILE (`Too many open files`, Python's `[Errno 24]`, node's `EMFILE`) for descriptors; a
/// thread that cannot be created (Rust's `failed to spawn thread` with EAGAIN, Python's `can't
/// start new thread`, the JVM's `unable to create native thread`) for threads; ENOMEM and the
/// runtimes' out-of-memory errors for memory.
fn exhausts(failure: &str, resource: Resource) -> bool {
    let text = failure.to_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    match resource {
        Resource::Fds => any(&[
            "too many open files",
            "emfile",
            "enfile",
            "os error 24",
            "os error 23",
        ]),
        Resource::Threads => {
            any(&[
                "can't start new thread",
                "unable to create native thread",
                "unable to create new native thread",
            ]) || (text.contains("thread")
                && any(&["resource temporarily unavailable", "os error 11", "eagain"]))
        }
        r if r.is_memory() => any(&[
            "out of memory",
            "cannot allocate memory",
            "os error 12",
            "enomem",
            "memoryerror",
            "outofmemoryerror",
            "allocation failed",
        ]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakproof_report::ResourceReport;
    use leakproof_trend::{analyze, Config};

    fn report(leaking: &[Resource], failure: Option<&str>) -> Report {
        let resources = [Resource::Heap, Resource::Fds, Resource::Threads]
            .into_iter()
            .map(|resource| {
                // One more of it per iteration, or none.
                let step = if leaking.contains(&resource) {
                    1.0
                } else {
                    0.0
                };
                let samples: Vec<f64> = (0..128).map(|i| 5.0 + step * i as f64).collect();
                let a = analyze(&samples, &Config::counts()).expect("finite samples");
                ResourceReport::new(resource, "test", samples, a)
            })
            .collect();
        let mut r = Report::from_resources("t", resources, 1.0);
        r.failure = failure.map(str::to_owned);
        r
    }

    #[test]
    fn the_resource_whose_limit_the_error_names_leads() {
        let emfile = "panicked in iteration 129: Too many open files (os error 24)";
        let lead = leak_before_failure(&report(&[Resource::Heap, Resource::Fds], Some(emfile)));
        assert_eq!(
            lead,
            Some(LeakBeforeFailure {
                resource: Resource::Fds,
                link: FailureLink::Exhausted,
                iteration: 129,
            })
        );
        // A thread limit worded as out of memory is the threads' when both leak.
        let jvm = "java.lang.OutOfMemoryError: unable to create native thread";
        let lead = leak_before_failure(&report(&[Resource::Heap, Resource::Threads], Some(jvm)));
        assert_eq!(lead.map(|l| l.resource), Some(Resource::Threads));
        // Another error after a proven leak: the first leaking resource, linked generically.
        let lead = leak_before_failure(&report(&[Resource::Heap, Resource::Fds], Some("boom")));
        assert_eq!(
            lead.map(|l| (l.resource, l.link)),
            Some((Resource::Heap, FailureLink::AfterLeak))
        );
        // Nothing leaking, or no failure: nothing leads.
        assert_eq!(leak_before_failure(&report(&[], Some(emfile))), None);
        assert_eq!(leak_before_failure(&report(&[Resource::Fds], None)), None);
    }

    #[test]
    fn exhaustion_as_the_kernel_and_runtimes_word_it() {
        for fds in [
            "Too many open files (os error 24)",
            "OSError: [Errno 24] Too many open files: '/dev/null'",
            "Error: EMFILE: too many open files, open '/dev/null'",
            "Too many open files in system (os error 23)",
        ] {
            assert!(exhausts(fds, Resource::Fds), "{fds}");
            assert!(!exhausts(fds, Resource::Threads), "{fds}");
        }
        for threads in [
            "failed to spawn thread: Os { code: 11, kind: WouldBlock, message: \"Resource temporarily unavailable\" }",
            "RuntimeError: can't start new thread",
            "java.lang.OutOfMemoryError: unable to create native thread: possibly out of memory",
        ] {
            assert!(exhausts(threads, Resource::Threads), "{threads}");
        }
        // EAGAIN alone is a non-blocking socket, not a thread limit.
        assert!(!exhausts(
            "Resource temporarily unavailable (os error 11)",
            Resource::Threads
        ));
        for memory in [
            "MemoryError",
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            "java.lang.OutOfMemoryError: Java heap space",
            "Cannot allocate memory (os error 12)",
        ] {
            assert!(exhausts(memory, Resource::agent_heap("python")), "{memory}");
            assert!(exhausts(memory, Resource::Rss), "{memory}");
            assert!(!exhausts(memory, Resource::Fds), "{memory}");
        }
    }
}
