//! The one run engine: repeat a workload, sample after every iteration, judge each series, extend
//! the run while it is Inconclusive, and when it did not pass, run a locate phase that says where
//! it grew. What varies is the [`Workload`] (a closure, a driven target, the passing of time) and
//! the [`Sampler`]s (heap, RSS, fds, threads of this process or of a process tree, runtime agents).
//! [`crate::Harness`], [`crate::Drive`] and [`crate::Watch`] are thin adapters over it.

mod failure_link;
mod locate;
mod notes;
mod settings;
mod settle;

use std::time::{Duration, Instant};

use leakproof_sample::ProbeError;
use leakproof_trend::{analyze, Analysis, Config, TrendError, Verdict, Warmup};

use leakproof_report::{Breach, Report, Resource, ResourceReport, RunConfig};
pub(crate) use locate::LEAD_IN;
use notes::{cross_resource_notes, outside_the_traced_heap};
use settle::settled_read;
pub(crate) use settle::{FUTILE_ALLOWANCE, SETTLE_ALLOWANCE};
use settle::{FUTILE_SETTLE_BUDGET, SETTLE_BUDGET};

pub(crate) use settings::Settings;
pub use settings::{SettingsError, MIN_ITERATIONS};

/// Most series one sampler fills (a process tree fills RSS, fds and threads).
pub(crate) const MAX_COLUMNS: usize = 4;

/// Fewest samples judged when a run stops early (the workload failed, the process ended).
pub const MIN_JUDGED: usize = 10;

/// One series a sampler fills.
pub(crate) struct Column {
    /// What is measured.
    pub resource: Resource,
    /// Where the numbers come from, for the report.
    pub source: String,
    /// The trend preset that judges it.
    pub config: Config,
    /// Whether a rise is re-read before it is recorded (see `settle`).
    pub settles: bool,
}

impl Column {
    /// A column of one of the engine's own resources with its preset ([`preset`]); counts and
    /// exact heaps settle, RSS does not.
    pub fn new(resource: Resource, source: impl Into<String>) -> Column {
        Column::with_config(resource, source, preset(resource))
    }

    /// A column judged by `config` (an agent's heap: its row's preset).
    pub fn with_config(resource: Resource, source: impl Into<String>, config: Config) -> Column {
        Column {
            resource,
            source: source.into(),
            config,
            settles: resource != Resource::Rss,
        }
    }
}

/// The trend preset of the engine's own resources: exact heap, noisy page-quantized RSS, counts.
/// A recorded series is judged with the model inferred from its data
/// (`leakproof_trend::infer_model`); its preset here is the model for when nothing is inferred:
/// RSS for bytes, exact for plain numbers. An agent's heap is judged by its row's preset
/// (`leakproof_agents::Descriptor::preset`); here, as an exact heap.
pub fn preset(resource: Resource) -> Config {
    match resource {
        Resource::Rss | Resource::Memory => Config::rss(),
        Resource::Fds | Resource::Threads => Config::counts(),
        _ => Config::heap(),
    }
}

/// Something read after every iteration: one or more series, and optionally a way to say where
/// they grew (the locate protocol: `mark`, `locate_start`, `locate_first`, `locate_last`,
/// `locate_finish`). A sampler that wraps others (`samplers::agent::AgentSampler`) forwards every
/// method: one left to its default body there is silently a no-op.
pub(crate) trait Sampler {
    /// The series this sampler fills, in the order `read` writes them (at most [`MAX_COLUMNS`]).
    fn columns(&self) -> Vec<Column>;
    /// Reads one value per column into `out`.
    fn read(&mut self, out: &mut [f64]) -> Result<(), ProbeError>;
    /// Re-reading time this sampler earns back with every sample (total, futile): none by default,
    /// so a run re-reads for at most [`SETTLE_BUDGET`]. An external process's counts blip on
    /// every connection it is still closing: see [`SETTLE_ALLOWANCE`].
    fn settle_allowance(&self) -> (Duration, Duration) {
        (Duration::ZERO, Duration::ZERO)
    }
    /// Called once, after the iteration that ends the expected warm-up.
    fn mark(&mut self) {}
    /// The run did not pass: prepare to locate; `true` asks the engine for more iterations.
    fn locate_start(&mut self, _report: &Report) -> bool {
        false
    }
    /// The lead-in iterations of the locate phase are done: take the "before" picture.
    fn locate_first(&mut self) {}
    /// One locate iteration is left and at least one ran since [`Sampler::locate_first`]: a
    /// sampler whose target writes a picture only while it runs (the preload agent writes at the
    /// target's next allocation, and an idle server allocates nothing once answered) asks for
    /// the "after" picture here, so that the final iteration writes it.
    fn locate_last(&mut self) {}
    /// The locate phase is over after `iterations` more iterations (0 when none ran): fill in
    /// sites, details or notes.
    fn locate_finish(&mut self, _report: &mut Report, _iterations: usize) {}
}

/// Why a workload (or the process it drives) stopped the run early.
#[derive(Debug)]
pub(crate) enum Stop {
    /// It failed: the report's `failure` (exit code 4); samples so far are still judged.
    Failed(String),
    /// It ended normally (a watched process exited): a note, and the samples so far are judged.
    Finished(String),
}

/// What is repeated.
pub(crate) trait Workload {
    /// Runs iteration `iteration` (1-based).
    fn iterate(&mut self, iteration: usize) -> Result<(), Stop>;
    /// A required sampler failed after `iteration`: what that means for this workload.
    fn sampling_failed(&mut self, iteration: usize, error: &ProbeError) -> Stop {
        Stop::Failed(format!(
            "cannot sample after iteration {iteration}: {error}"
        ))
    }
}

/// Where a run is, reported after every sample.
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    /// Iterations done (1-based).
    pub iteration: usize,
    /// Iterations planned now (grows when an Inconclusive run is extended).
    pub planned: usize,
    latest: &'a [(Resource, f64)],
}

impl Progress<'_> {
    /// The latest value of every tracked resource.
    pub fn latest(&self) -> &[(Resource, f64)] {
        self.latest
    }

    /// The latest values for people: `rss 12.0 MiB, 5 fds, 2 threads`.
    pub fn summary(&self) -> String {
        self.latest
            .iter()
            .map(|&(r, v)| match r {
                Resource::Fds | Resource::Threads => r.format_value(v),
                _ => format!("{r} {}", r.format_value(v)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A series being filled, and the budget for re-reading its rises.
struct Series {
    column: Column,
    samples: Vec<f64>,
}

/// A sampler with its series.
struct Slot<'s> {
    sampler: Box<dyn Sampler + 's>,
    series: Vec<Series>,
    required: bool,
    /// Time left for re-reading this sampler when a settling series rose.
    settle_left: Duration,
    /// Time left for re-reads that found the rise still there.
    futile_left: Duration,
}

/// The run engine; see the [module docs](self).
pub(crate) struct Engine<'s> {
    settings: Settings,
    slots: Vec<Slot<'s>>,
    ceilings: Vec<(Resource, f64)>,
    notes: Vec<String>,
}

impl<'s> Engine<'s> {
    /// An engine with no sampler yet.
    pub fn new(settings: Settings) -> Engine<'s> {
        Engine {
            settings,
            slots: Vec::new(),
            ceilings: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Adds a sampler. A required one failing stops the run (see [`Workload::sampling_failed`]);
    /// an optional one is dropped with a note.
    pub fn sampler(&mut self, sampler: Box<dyn Sampler + 's>, required: bool) {
        let capacity = self.settings.ceiling;
        let series = sampler
            .columns()
            .into_iter()
            .map(|column| Series {
                column,
                // Reserved up front: growing these vectors inside the loop would show on the heap.
                samples: Vec::with_capacity(capacity),
            })
            .collect();
        self.slots.push(Slot {
            sampler,
            series,
            required,
            settle_left: SETTLE_BUDGET,
            futile_left: FUTILE_SETTLE_BUDGET,
        });
    }

    /// Stop the run with a breach when `resource` goes above `limit`.
    pub fn ceiling(&mut self, resource: Resource, limit: f64) {
        self.ceilings.push((resource, limit));
    }

    /// A remark for the report, said before the run's own.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The resources tracked, in report order.
    pub fn resources(&self) -> Vec<Resource> {
        self.series().map(|s| s.column.resource).collect()
    }

    fn series(&self) -> impl Iterator<Item = &Series> {
        self.slots.iter().flat_map(|slot| slot.series.iter())
    }

    /// Runs `workload` and judges every series; `config` is recorded in the report as given.
    pub fn run(
        mut self,
        name: &str,
        config: RunConfig,
        workload: &mut dyn Workload,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Report, TrendError> {
        let started = Instant::now();
        let mut measured = self.measure(workload, progress, started)?;
        let duration = started.elapsed().as_secs_f64();
        let mut report = self.assemble(name, config, &mut measured, duration);
        if !report.passed() && measured.stop.is_none() {
            locate::run(&mut self.slots, workload, &mut report, &self.settings);
        }
        Ok(report)
    }

    /// The measured loop: iterate, sample, and at each planned end judge and maybe extend.
    fn measure(
        &mut self,
        workload: &mut dyn Workload,
        progress: &mut dyn FnMut(&Progress),
        started: Instant,
    ) -> Result<Measured, TrendError> {
        let mark = self
            .settings
            .warmup
            .unwrap_or(self.settings.iterations / 5)
            .max(1);
        // Nothing in the loop may keep memory of its own: extensions and the progress row live
        // in storage reserved here.
        let mut extensions: Vec<(usize, usize)> = Vec::with_capacity(64);
        let mut latest: Vec<(Resource, f64)> = Vec::with_capacity(self.resources().len());
        let mut done = 0;
        let mut planned = self.settings.iterations;
        loop {
            while done < planned {
                if let Err(stop) = workload.iterate(done + 1) {
                    return self.stopped(stop, done, &extensions);
                }
                if let Err(stop) = self.sample_all(workload, done + 1) {
                    // A process that ended may have been caught tearing down (closing its files,
                    // freeing memory on its way out) by the previous sample: it is not judged.
                    let keep = match stop {
                        Stop::Finished(_) => done.saturating_sub(1),
                        Stop::Failed(_) => done,
                    };
                    return self.stopped(stop, keep, &extensions);
                }
                done += 1;
                self.latest(&mut latest);
                progress(&Progress {
                    iteration: done,
                    planned,
                    latest: &latest,
                });
                if let Some(breach) = self.breach(&latest, done, started) {
                    let mut measured = self.judge_so_far(done, &extensions)?;
                    measured.breach = Some(breach);
                    return Ok(measured);
                }
                if done == mark {
                    self.slots.iter_mut().for_each(|s| s.sampler.mark());
                }
                if interim_due(done, planned, self.settings.iterations) && self.interim_leaking()? {
                    self.notes.push(format!(
                        "stopped early: leaking at the interim look after {done} iterations \
                         (judged at {:.1}% confidence there)",
                        INTERIM_CONFIDENCE * 100.0
                    ));
                    let analyses = self.analyze()?;
                    return Ok(self.finish(analyses, &extensions, None));
                }
            }
            let analyses = self.analyze()?;
            match self.extension(&analyses, done, started) {
                Ok(next) if extensions.len() < extensions.capacity() => {
                    extensions.push((done, next));
                    planned = next;
                }
                Ok(_) => return Ok(self.finish(analyses, &extensions, Some(ExtensionEnd::Budget))),
                Err(end) => return Ok(self.finish(analyses, &extensions, end)),
            }
        }
    }

    /// Samples every slot once. An optional slot that fails is dropped with a note.
    fn sample_all(&mut self, workload: &mut dyn Workload, iteration: usize) -> Result<(), Stop> {
        let mut i = 0;
        while i < self.slots.len() {
            match settled_read(&mut self.slots[i]) {
                Ok(()) => i += 1,
                Err(e) if self.slots[i].required => {
                    return Err(workload.sampling_failed(iteration, &e))
                }
                Err(e) => {
                    let slot = self.slots.remove(i);
                    for s in &slot.series {
                        self.notes.push(format!(
                            "{} no longer tracked after iteration {iteration}: {e}",
                            s.column.resource
                        ));
                    }
                    // Keep every series the same length.
                }
            }
        }
        Ok(())
    }

    fn latest(&self, out: &mut Vec<(Resource, f64)>) {
        out.clear();
        out.extend(
            self.series()
                .filter_map(|s| Some((s.column.resource, *s.samples.last()?))),
        );
    }

    fn breach(
        &self,
        latest: &[(Resource, f64)],
        iteration: usize,
        started: Instant,
    ) -> Option<Breach> {
        self.ceilings.iter().find_map(|&(resource, limit)| {
            let value = latest.iter().find(|(r, _)| *r == resource)?.1;
            (value > limit).then(|| Breach {
                resource,
                limit,
                value,
                iteration,
                at_secs: started.elapsed().as_secs_f64(),
            })
        })
    }

    fn analyze(&self) -> Result<Vec<Analysis>, TrendError> {
        self.series()
            .map(|s| analyze(&s.samples, &self.config_of(s)))
            .collect()
    }

    fn config_of(&self, s: &Series) -> Config {
        match self.settings.warmup {
            Some(w) => s.column.config.clone().with_warmup(Warmup::Fixed(w)),
            None => s.column.config.clone(),
        }
    }

    /// An interim look: is any series Leaking at the stricter [`INTERIM_CONFIDENCE`]? Only series
    /// that are not a warming runtime's (rule 10): an interpreter's heap or a target's RSS can grow
    /// late and level off again, which only the planned ends may judge.
    fn interim_leaking(&self) -> Result<bool, TrendError> {
        for s in self.series().filter(|s| !s.column.config.warming) {
            let config = self.config_of(s).with_confidence(INTERIM_CONFIDENCE);
            if analyze(&s.samples, &config)?.verdict == Verdict::Leaking {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The next planned end of an Inconclusive run, or why it is not extended. See
    /// [`extension_step`].
    fn extension(
        &self,
        analyses: &[Analysis],
        done: usize,
        started: Instant,
    ) -> Result<usize, Option<ExtensionEnd>> {
        // RSS beside a proven heap only advises (see `outside_the_traced_heap`), and beside a
        // leaking one cannot change the verdict: not worth a wait either way.
        let heap_decided = self
            .series()
            .zip(analyses)
            .any(|(s, a)| s.column.resource.is_agent_heap() && a.verdict != Verdict::Inconclusive);
        let wanted = self
            .series()
            .zip(analyses)
            .filter(|(s, _)| !(heap_decided && s.column.resource == Resource::Rss))
            .map(|(_, a)| a)
            .filter(|a| a.verdict == Verdict::Inconclusive)
            .filter_map(|a| a.more_samples)
            .max()
            .ok_or(None)?;
        let next = done
            .saturating_add(extension_step(wanted, done))
            .min(self.settings.ceiling);
        if next <= done {
            return Err(Some(ExtensionEnd::Ceiling));
        }
        let Some(budget) = self.settings.time_budget else {
            return Ok(next);
        };
        let elapsed = started.elapsed().as_secs_f64();
        let per_iteration = elapsed / done as f64;
        let room = budget.as_secs_f64() - elapsed;
        let affordable = if per_iteration > 0.0 {
            (room / per_iteration).floor().max(0.0) as usize
        } else {
            usize::MAX
        };
        let next = next.min(done.saturating_add(affordable));
        if next <= done {
            return Err(Some(ExtensionEnd::Budget));
        }
        Ok(next)
    }

    fn finish(
        &mut self,
        analyses: Vec<Analysis>,
        extensions: &[(usize, usize)],
        end: Option<ExtensionEnd>,
    ) -> Measured {
        self.extension_notes(extensions, end);
        Measured {
            analyses: Some(analyses),
            stop: None,
            breach: None,
        }
    }

    /// The run stopped early: judge the first `keep` samples of every series when they are enough.
    fn stopped(
        &mut self,
        stop: Stop,
        keep: usize,
        extensions: &[(usize, usize)],
    ) -> Result<Measured, TrendError> {
        let mut measured = self.judge_so_far(keep, extensions)?;
        measured.stop = Some(stop);
        Ok(measured)
    }

    fn judge_so_far(
        &mut self,
        keep: usize,
        extensions: &[(usize, usize)],
    ) -> Result<Measured, TrendError> {
        self.extension_notes(extensions, None);
        self.slots
            .iter_mut()
            .flat_map(|slot| slot.series.iter_mut())
            .for_each(|s| s.samples.truncate(keep));
        let analyses = if keep >= MIN_JUDGED {
            Some(self.analyze()?)
        } else {
            None
        };
        Ok(Measured {
            analyses,
            stop: None,
            breach: None,
        })
    }

    fn extension_notes(&mut self, extensions: &[(usize, usize)], end: Option<ExtensionEnd>) {
        for (from, to) in extensions {
            self.notes.push(format!(
                "inconclusive after {from} iterations: extended to {to}"
            ));
        }
        match end {
            Some(ExtensionEnd::Ceiling) => self.notes.push(format!(
                "still inconclusive at the ceiling of {} iterations (max_iterations)",
                self.settings.ceiling
            )),
            Some(ExtensionEnd::Budget) => self.notes.push(format!(
                "still inconclusive when the time budget of {:.0} s ran out",
                self.settings.time_budget.unwrap_or_default().as_secs_f64()
            )),
            None => {}
        }
    }

    /// The report of a measured run.
    fn assemble(
        &mut self,
        name: &str,
        config: RunConfig,
        measured: &mut Measured,
        duration: f64,
    ) -> Report {
        let series: Vec<(Resource, String, Vec<f64>)> = self
            .slots
            .iter_mut()
            .flat_map(|slot| slot.series.iter_mut())
            .map(|s| {
                (
                    s.column.resource,
                    s.column.source.clone(),
                    std::mem::take(&mut s.samples),
                )
            })
            .collect();
        let iterations = series.first().map_or(0, |s| s.2.len());
        let mut report = match measured.analyses.take() {
            Some(analyses) => {
                let resources = series
                    .into_iter()
                    .zip(analyses)
                    .map(|((resource, source, samples), analysis)| {
                        ResourceReport::new(resource, source, samples, analysis)
                    })
                    .collect();
                Report::from_resources(name, resources, duration)
            }
            None => Report::unjudged(name, iterations, duration),
        };
        report.config = config;
        report.breach = measured.breach.take();
        report.notes = std::mem::take(&mut self.notes);
        match measured.stop.take() {
            Some(Stop::Failed(message)) => report.failure = Some(message),
            Some(Stop::Finished(note))
                if report.resources.is_empty() && report.breach.is_none() =>
            {
                report.failure = Some(format!(
                    "{note}: only {iterations} samples, too few to judge (need {MIN_JUDGED})"
                ));
            }
            Some(Stop::Finished(note)) if !note.is_empty() => report.notes.push(format!(
                "{note}; judged on the {iterations} samples collected"
            )),
            _ => {}
        }
        cross_resource_notes(&mut report);
        outside_the_traced_heap(&mut report);
        report.leak_before_failure = failure_link::leak_before_failure(&report);
        report
    }
}

/// What the measured loop produced.
struct Measured {
    analyses: Option<Vec<Analysis>>,
    stop: Option<Stop>,
    breach: Option<Breach>,
}

/// Why an Inconclusive run was not extended further.
#[derive(Clone, Copy, Debug)]
enum ExtensionEnd {
    Ceiling,
    Budget,
}

/// Samples between interim looks, and the first look.
pub(crate) const INTERIM_EVERY: usize = 50;

/// Confidence of an interim look (a Haybittle–Peto boundary: p < 0.001 at every interim look, the
/// nominal level at every planned end), so that stopping early on an overwhelming leak adds at most
/// 0.1 percentage point of false alarms per look; docs/detection.md gives the measured rate.
pub(crate) const INTERIM_CONFIDENCE: f64 = 0.999;

/// Whether iteration `done` is an interim look: every [`INTERIM_EVERY`] samples while a run that
/// was Inconclusive after its `first` planned iterations is extended (not at an extension's end,
/// which is judged anyway). Only Leaking is decided early, never Stable. Never inside the first
/// planned run: there a cache still filling looks exactly like a leak (crates/trend/tests/interim.rs
/// measures it: looks every 50 samples there call all 200 labelled warm-ups Leaking).
fn interim_due(done: usize, planned: usize, first: usize) -> bool {
    done > first && done % INTERIM_EVERY == 0 && done < planned
}

/// The one extension rule: run what the analysis asks for, and at least a quarter of what has
/// run so far (so a run reaches a 10x ceiling in at most ~10 judgements, whose cost grows with
/// the series), and at least 10 iterations.
pub(crate) fn extension_step(wanted: usize, done: usize) -> usize {
    wanted.max(done / 4).max(10)
}

#[cfg(test)]
mod tests;
