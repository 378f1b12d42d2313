use std::cell::{Cell, RefCell};
use std::rc::Rc;

use super::*;

thread_local! {
    /// The iteration the test workload ran last: scripted series are functions of it, so re-reads
    /// of a sample see the same value.
    static CLOCK: Cell<usize> = const { Cell::new(0) };
}

/// A sampler that returns the given rows in turn (the last one forever), and logs the locate
/// protocol's calls.
struct Scripted {
    resources: Vec<Resource>,
    rows: Vec<Vec<f64>>,
    by_clock: Option<Box<dyn Fn(usize) -> f64>>,
    fail_after: Option<usize>,
    reads: usize,
    log: Rc<RefCell<Vec<String>>>,
}

impl Scripted {
    fn new(resources: &[Resource], rows: Vec<Vec<f64>>) -> Scripted {
        Scripted {
            resources: resources.to_vec(),
            rows,
            by_clock: None,
            fail_after: None,
            reads: 0,
            log: Rc::default(),
        }
    }

    /// One series whose value after iteration `i` (1-based) is `f(i - 1)`.
    fn counting(resource: Resource, f: impl Fn(usize) -> f64 + 'static) -> Scripted {
        let mut s = Scripted::new(&[resource], vec![vec![0.0]]);
        s.by_clock = Some(Box::new(move |i| f(i.saturating_sub(1))));
        s
    }
}

impl Sampler for Scripted {
    fn columns(&self) -> Vec<Column> {
        self.resources
            .iter()
            .map(|&r| Column::new(r, "scripted"))
            .collect()
    }

    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        if self.fail_after.is_some_and(|n| self.reads >= n) {
            return Err(ProbeError::Gone { pid: 7 });
        }
        if let Some(f) = &self.by_clock {
            out[0] = f(CLOCK.get());
            self.reads += 1;
            return Ok(());
        }
        let row = if self.rows.len() > 1 {
            self.rows.remove(0)
        } else {
            self.rows[0].clone()
        };
        out.copy_from_slice(&row);
        self.reads += 1;
        Ok(())
    }

    fn mark(&mut self) {
        self.log.borrow_mut().push("mark".into());
    }

    fn locate_start(&mut self, _report: &Report) -> bool {
        self.log.borrow_mut().push("start".into());
        true
    }

    fn locate_first(&mut self) {
        self.log.borrow_mut().push(format!("first {}", CLOCK.get()));
    }

    fn locate_last(&mut self) {
        self.log.borrow_mut().push(format!("last {}", CLOCK.get()));
    }

    fn locate_finish(&mut self, _report: &mut Report, iterations: usize) {
        self.log.borrow_mut().push(format!("finish {iterations}"));
    }
}

/// A workload that fails at a given iteration and counts its calls.
#[derive(Default)]
struct Counter {
    calls: usize,
    fail_at: Option<usize>,
}

impl Workload for Counter {
    fn iterate(&mut self, iteration: usize) -> Result<(), Stop> {
        self.calls += 1;
        CLOCK.set(iteration);
        match self.fail_at {
            Some(n) if n == iteration => Err(Stop::Failed(format!("boom at {iteration}"))),
            _ => Ok(()),
        }
    }
}

fn settings(iterations: usize, ceiling: usize) -> Settings {
    Settings::new(iterations, None, ceiling, None, 5).unwrap()
}

fn run(engine: Engine, workload: &mut Counter) -> Report {
    engine
        .run("t", RunConfig::default(), workload, &mut |_| {})
        .unwrap()
}

fn slot(sampler: Scripted) -> Slot<'static> {
    let mut engine = Engine::new(settings(10, 10));
    engine.sampler(Box::new(sampler), true);
    engine.slots.pop().unwrap()
}

#[test]
fn a_rise_that_falls_back_on_a_re_read_is_not_growth() {
    // A joined thread still listed on the first read, gone on the second re-read.
    let mut s = slot(Scripted::new(
        &[Resource::Threads],
        vec![vec![2.0], vec![3.0], vec![3.0], vec![2.0]],
    ));
    settled_read(&mut s).unwrap();
    settled_read(&mut s).unwrap();
    assert_eq!(s.series[0].samples, [2.0, 2.0]);
    // A count that stays up is kept (that is what a leak looks like) and costs budget.
    let mut s = slot(Scripted::new(&[Resource::Fds], vec![vec![2.0], vec![3.0]]));
    settled_read(&mut s).unwrap();
    settled_read(&mut s).unwrap();
    assert_eq!(s.series[0].samples, [2.0, 3.0]);
    assert!(s.settle_left < SETTLE_BUDGET, "the re-reads were paid for");
    assert!(
        s.futile_left < FUTILE_SETTLE_BUDGET,
        "and found the rise real"
    );
    // RSS is never re-read: RSS that rose and fell back is memory the workload really used.
    let mut s = slot(Scripted::new(
        &[Resource::Rss],
        vec![vec![100.0], vec![200.0], vec![100.0]],
    ));
    settled_read(&mut s).unwrap();
    settled_read(&mut s).unwrap();
    assert_eq!(s.series[0].samples, [100.0, 200.0]);
}

#[test]
fn a_tree_row_keeps_the_lowest_counts_and_the_latest_rss() {
    let mut s = slot(Scripted::new(
        &[Resource::Rss, Resource::Fds, Resource::Threads],
        vec![
            vec![100.0, 5.0, 2.0],
            vec![110.0, 6.0, 2.0],
            vec![120.0, 5.0, 2.0],
        ],
    ));
    settled_read(&mut s).unwrap();
    settled_read(&mut s).unwrap();
    let last: Vec<f64> = s.series.iter().map(|s| s.samples[1]).collect();
    assert_eq!(last, [120.0, 5.0, 2.0]);
}

#[test]
fn re_reads_stop_when_the_budget_is_spent() {
    let mut s = slot(Scripted::new(
        &[Resource::Threads],
        vec![vec![2.0], vec![3.0], vec![2.0]],
    ));
    settled_read(&mut s).unwrap();
    s.settle_left = Duration::ZERO;
    settled_read(&mut s).unwrap();
    assert_eq!(s.series[0].samples, [2.0, 3.0]);
    // An in-process sampler earns nothing back.
    assert_eq!(s.settle_left, Duration::ZERO);
}

/// A scripted sampler that earns re-reading time back, like an external process tree.
struct Earning(Scripted);

impl Sampler for Earning {
    fn columns(&self) -> Vec<Column> {
        self.0.columns()
    }
    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError> {
        self.0.read(out)
    }
    fn settle_allowance(&self) -> (Duration, Duration) {
        (SETTLE_ALLOWANCE, FUTILE_ALLOWANCE)
    }
}

#[test]
fn an_external_tree_earns_re_reading_time_back_up_to_the_budget() {
    let mut engine = Engine::new(settings(10, 10));
    let scripted = Scripted::new(&[Resource::Fds], vec![vec![2.0]]);
    engine.sampler(Box::new(Earning(scripted)), true);
    let mut s = engine.slots.pop().unwrap();
    s.settle_left = Duration::ZERO;
    settled_read(&mut s).unwrap();
    assert_eq!(s.settle_left, SETTLE_ALLOWANCE);
    for _ in 0..1000 {
        settled_read(&mut s).unwrap();
    }
    assert_eq!(s.settle_left, SETTLE_BUDGET);
}

#[test]
fn a_flat_series_is_judged_after_the_planned_iterations() {
    let mut engine = Engine::new(settings(50, 500));
    engine.sampler(Box::new(Scripted::counting(Resource::Fds, |_| 3.0)), true);
    let mut w = Counter::default();
    let report = run(engine, &mut w);
    assert_eq!(
        (report.verdict, report.iterations, w.calls),
        (Verdict::Stable, 50, 50)
    );
    assert!(report.failure.is_none());
}

#[test]
fn an_inconclusive_run_is_extended_to_the_ceiling_and_says_so() {
    // Growth that stops half-way is not proven either way until the plateau is long enough.
    let mut engine = Engine::new(settings(20, 60));
    let log = Scripted::counting(Resource::Fds, |i| (i.min(10)) as f64);
    engine.sampler(Box::new(log), true);
    let mut w = Counter::default();
    let report = run(engine, &mut w);
    assert!(report.iterations > 20, "{report:?}");
    assert!(report.iterations <= 60);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("inconclusive after 20 iterations: extended to")),
        "{:?}",
        report.notes
    );
}

#[test]
fn extension_steps_grow_with_the_run() {
    assert_eq!(extension_step(1, 0), 10);
    assert_eq!(extension_step(1, 400), 100);
    assert_eq!(extension_step(700, 400), 700);
}

#[test]
fn a_failing_workload_is_still_judged_on_what_was_sampled() {
    let mut engine = Engine::new(settings(200, 200));
    engine.sampler(
        Box::new(Scripted::counting(Resource::Fds, |i| i as f64)),
        true,
    );
    let mut w = Counter {
        fail_at: Some(130),
        ..Counter::default()
    };
    let report = run(engine, &mut w);
    assert_eq!(report.failure.as_deref(), Some("boom at 130"));
    assert_eq!(report.iterations, 129);
    assert_eq!(report.verdict, Verdict::Leaking, "{report:?}");
    // The leak proven before the failure leads; the error names no descriptor limit.
    let lead = report.leak_before_failure.expect("the leak leads");
    assert_eq!(
        (lead.resource, lead.link, lead.iteration),
        (Resource::Fds, leakproof_report::FailureLink::AfterLeak, 130)
    );
    assert_eq!(report.exit_code(), 1, "the leak is the outcome");
    // Too few samples: no verdict at all.
    let mut engine = Engine::new(settings(200, 200));
    engine.sampler(
        Box::new(Scripted::counting(Resource::Fds, |i| i as f64)),
        true,
    );
    let report = run(
        engine,
        &mut Counter {
            fail_at: Some(5),
            ..Counter::default()
        },
    );
    assert!(report.resources.is_empty());
    assert_eq!(report.leak_before_failure, None);
    assert_eq!(report.exit_code(), 4);
}

#[test]
fn an_optional_sampler_that_fails_is_dropped_with_a_note() {
    let mut engine = Engine::new(settings(30, 30));
    engine.sampler(Box::new(Scripted::counting(Resource::Heap, |_| 8.0)), true);
    let mut flaky = Scripted::counting(Resource::Threads, |_| 1.0);
    flaky.fail_after = Some(5);
    engine.sampler(Box::new(flaky), false);
    let report = run(engine, &mut Counter::default());
    assert_eq!(report.resources.len(), 1);
    assert_eq!(report.verdict, Verdict::Stable);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("threads no longer tracked after iteration 6")),
        "{:?}",
        report.notes
    );
}

#[test]
fn a_required_sampler_that_fails_ends_the_run() {
    let mut engine = Engine::new(settings(30, 30));
    let mut gone = Scripted::counting(Resource::Rss, |_| 8.0);
    gone.fail_after = Some(12);
    engine.sampler(Box::new(gone), true);
    let report = run(engine, &mut Counter::default());
    let failure = report.failure.unwrap_or_default();
    assert!(
        failure.contains("after iteration 13") && failure.contains("gone"),
        "{failure}"
    );
}

#[test]
fn a_ceiling_stops_the_run_with_a_breach() {
    let mut engine = Engine::new(settings(100, 100));
    engine.sampler(
        Box::new(Scripted::counting(Resource::Rss, |i| (i * 10) as f64)),
        true,
    );
    engine.ceiling(Resource::Rss, 195.0);
    let report = run(engine, &mut Counter::default());
    let breach = report.breach.clone().expect("breach");
    assert_eq!((breach.iteration, breach.value), (21, 200.0));
    assert_eq!(report.iterations, 21);
    assert_eq!(report.exit_code(), 1);
    assert!(report.failure.is_none());
}

#[test]
fn the_locate_protocol_runs_in_order_only_when_the_run_did_not_pass() {
    let leaking = Scripted::counting(Resource::Heap, |i| (i * 64) as f64);
    let log = leaking.log.clone();
    let mut engine = Engine::new(settings(100, 100));
    engine.sampler(Box::new(leaking), true);
    let mut w = Counter::default();
    let report = run(engine, &mut w);
    assert_eq!(report.verdict, Verdict::Leaking);
    assert_eq!(
        *log.borrow(),
        [
            "mark",
            "start",
            &format!("first {}", 100 + LEAD_IN),
            &format!("last {}", 100 + LEAD_IN + 4),
            &format!("finish {}", LEAD_IN + 5)
        ]
    );
    assert_eq!(
        w.calls,
        100 + LEAD_IN + 5,
        "lead-in and locate iterations ran"
    );

    let flat = Scripted::counting(Resource::Heap, |_| 64.0);
    let log = flat.log.clone();
    let mut engine = Engine::new(settings(100, 100));
    engine.sampler(Box::new(flat), true);
    let report = run(engine, &mut Counter::default());
    assert_eq!(report.verdict, Verdict::Stable);
    assert_eq!(*log.borrow(), ["mark"]);
}

#[test]
fn a_locate_phase_of_one_iteration_has_no_last_call() {
    // `locate_last` promises an iteration between the two pictures: with one, it is not called.
    let leaking = Scripted::counting(Resource::Heap, |i| (i * 64) as f64);
    let log = leaking.log.clone();
    let mut engine = Engine::new(Settings::new(100, None, 100, None, 1).unwrap());
    engine.sampler(Box::new(leaking), true);
    let mut w = Counter::default();
    run(engine, &mut w);
    assert_eq!(
        *log.borrow(),
        [
            "mark",
            "start",
            &format!("first {}", 100 + LEAD_IN),
            &format!("finish {}", LEAD_IN + 1)
        ]
    );
    assert_eq!(w.calls, 100 + LEAD_IN + 1);
}

#[test]
fn an_overwhelming_leak_stops_at_an_interim_look_during_an_extension() {
    // Flat for 100 iterations, then a steady leak: Inconclusive at the planned end (the leak has
    // only just started), Leaking at the first interim look of the extension.
    let mut engine = Engine::new(settings(120, 3000));
    let late = |i: usize| {
        if i < 100 {
            1e6
        } else {
            1e6 + 4096.0 * (i - 100) as f64
        }
    };
    engine.sampler(Box::new(Scripted::counting(Resource::Heap, late)), true);
    let report = run(engine, &mut Counter::default());
    assert_eq!(report.verdict, Verdict::Leaking, "{:?}", report.notes);
    assert_eq!(report.iterations % INTERIM_EVERY, 0, "{:?}", report.notes);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("stopped early: leaking at the interim look")),
        "{:?}",
        report.notes
    );
    // Stable is never decided early, and no look is taken inside the planned run.
    let mut engine = Engine::new(settings(300, 300));
    engine.sampler(Box::new(Scripted::counting(Resource::Heap, |_| 64.0)), true);
    let report = run(engine, &mut Counter::default());
    assert_eq!((report.verdict, report.iterations), (Verdict::Stable, 300));
    assert!(interim_due(350, 600, 300) && !interim_due(300, 600, 300));
    assert!(!interim_due(250, 300, 300) && !interim_due(375, 600, 300));
    assert!(
        !interim_due(600, 600, 300),
        "an extension's end is judged anyway"
    );
}

#[test]
fn a_count_leaking_while_memory_is_flat_is_called_out() {
    let mut engine = Engine::new(settings(100, 100));
    engine.sampler(Box::new(Scripted::counting(Resource::Rss, |_| 1e6)), true);
    engine.sampler(
        Box::new(Scripted::counting(Resource::Fds, |i| i as f64)),
        true,
    );
    let report = run(engine, &mut Counter::default());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("file descriptor leak")),
        "{:?}",
        report.notes
    );
}

#[test]
fn progress_reports_every_resource() {
    let mut engine = Engine::new(settings(3, 3));
    engine.sampler(
        Box::new(Scripted::new(
            &[Resource::Rss, Resource::Fds, Resource::Threads],
            vec![vec![2048.0, 5.0, 2.0]],
        )),
        true,
    );
    let mut seen = Vec::new();
    engine
        .run(
            "t",
            RunConfig::default(),
            &mut Counter::default(),
            &mut |p| seen.push((p.iteration, p.planned, p.summary())),
        )
        .unwrap();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2], (3, 3, "rss 2.0 KiB, 5 fds, 2 threads".to_owned()));
}

#[test]
fn rss_growth_outside_a_stable_agent_heap_is_advisory() {
    let mut engine = Engine::new(settings(200, 200));
    engine.sampler(
        Box::new(Scripted::counting(Resource::agent_heap("python"), |_| 5e6)),
        true,
    );
    let rss = |i: usize| 2e7 + 4096.0 * (i / 4) as f64;
    engine.sampler(Box::new(Scripted::counting(Resource::Rss, rss)), true);
    let report = run(engine, &mut Counter::default());
    let rss = report.resource(Resource::Rss).unwrap();
    assert_eq!(rss.analysis.verdict, Verdict::Leaking);
    assert!(rss.advisory);
    assert_eq!(report.verdict, Verdict::Stable, "{:?}", report.notes);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("outside the traced heap")),
        "{:?}",
        report.notes
    );
    // Without an agent heap, RSS counts.
    let mut engine = Engine::new(settings(200, 200));
    engine.sampler(Box::new(Scripted::counting(Resource::Rss, rss_leak)), true);
    let report = run(engine, &mut Counter::default());
    assert_eq!(report.verdict, Verdict::Leaking);
}

fn rss_leak(i: usize) -> f64 {
    2e7 + 4096.0 * (i / 4) as f64
}

#[test]
fn rss_beside_a_stable_agent_heap_does_not_extend_the_run() {
    // RSS that rises and levels off is Inconclusive at 40: alone it extends the run ...
    let rss = |i: usize| 2e7 + 4096.0 * (i.min(20) / 2) as f64;
    let mut engine = Engine::new(settings(40, 400));
    engine.sampler(Box::new(Scripted::counting(Resource::Rss, rss)), true);
    let report = run(engine, &mut Counter::default());
    assert!(report.iterations > 40, "{:?}", report.notes);
    // ... beside a proven heap it would only advise, so the run ends at its planned length.
    let mut engine = Engine::new(settings(40, 400));
    engine.sampler(
        Box::new(Scripted::counting(Resource::agent_heap("python"), |_| 5e6)),
        true,
    );
    engine.sampler(Box::new(Scripted::counting(Resource::Rss, rss)), true);
    let report = run(engine, &mut Counter::default());
    assert_eq!(report.iterations, 40, "{:?}", report.notes);
    assert_eq!(report.verdict, Verdict::Stable);
}

#[test]
fn rss_beside_a_leaking_agent_heap_does_not_extend_the_run() {
    // The same levelling RSS beside a heap that leaks: the verdict is Leaking whatever RSS says.
    let rss = |i: usize| 2e7 + 4096.0 * (i.min(20) / 2) as f64;
    let mut engine = Engine::new(settings(40, 400));
    engine.sampler(
        Box::new(Scripted::counting(Resource::agent_heap("jvm"), |i| {
            5e6 + 1024.0 * i as f64
        })),
        true,
    );
    engine.sampler(Box::new(Scripted::counting(Resource::Rss, rss)), true);
    let report = run(engine, &mut Counter::default());
    assert_eq!(report.iterations, 40, "{:?}", report.notes);
    assert_eq!(report.verdict, Verdict::Leaking);
}
