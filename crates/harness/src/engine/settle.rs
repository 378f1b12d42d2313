//! Re-reading a sample that rose, for every sampler of the engine: work an iteration handed elsewhere (a worker dropping a buffer, a thread still
//! exiting, a connection still closing) can still be finishing when the sample is taken, while a
//! leaked block, descriptor or thread is there on every re-read.

use std::time::{Duration, Instant};

use leakproof_sample::ProbeError;

use super::{Slot, MAX_COLUMNS};

/// While `rose(&value)`, waits the next of `pauses` (a zero pause is a bare yield), reads again
/// and keeps `lower(value, again)`. Returns as soon as the value is no longer up, or when the
/// pauses run out.
pub(crate) fn reread_while_up<T, E>(
    mut value: T,
    pauses: &[Duration],
    rose: impl Fn(&T) -> bool,
    mut read: impl FnMut() -> Result<T, E>,
    lower: impl Fn(T, T) -> T,
) -> Result<T, E> {
    for &pause in pauses {
        if !rose(&value) {
            break;
        }
        if pause.is_zero() {
            std::thread::yield_now();
        } else {
            std::thread::sleep(pause);
        }
        value = lower(value, read()?);
    }
    Ok(value)
}

/// Pauses before re-reading a sampler whose settling series rose since the previous sample (the
/// first is a bare yield); the lowest read is kept, and re-reading stops as soon as the values are
/// back. Work the iteration handed to other threads or processes can still be finishing when it
/// returns: a pool worker dropping a job's buffer, a joined thread the kernel still lists, a
/// connection still closing. A leaked block, descriptor or thread is still there on every re-read.
pub(crate) const SETTLE_PAUSES: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_millis(1),
    Duration::from_millis(2),
    Duration::from_millis(5),
    Duration::from_millis(10),
];

/// Time a sampler may spend re-reading at once, and at the start of a run. Blips mostly clear on
/// the first re-read.
pub(crate) const SETTLE_BUDGET: Duration = Duration::from_secs(1);

/// Re-reading time an external process tree earns back with every sample, up to
/// [`SETTLE_BUDGET`]: a long run of a server that is still closing each connection when its client
/// has the answer (thousands of blips on a loaded machine) must not run out of re-reads, or its fd
/// count flips between two levels. In-process samplers earn nothing back: there, other threads'
/// allocations must stay visible (crates/harness/tests/parallel.rs).
pub(crate) const SETTLE_ALLOWANCE: Duration = Duration::from_millis(2);

/// Time for re-reads that found the rise still there, at once and at the start: a real leak that
/// grows on every iteration would otherwise pay every pause on every iteration (about +0.1 s once).
pub(crate) const FUTILE_SETTLE_BUDGET: Duration = Duration::from_millis(100);

/// Futile re-reading time an external process tree earns back with every sample, up to
/// [`FUTILE_SETTLE_BUDGET`]: a blip that outlasts the pauses on a loaded machine costs a leaking
/// run at most this per iteration.
pub(crate) const FUTILE_ALLOWANCE: Duration = Duration::from_micros(500);

/// One sample of every series of `slot`, pushed; re-read while a settling series is up.
pub(super) fn settled_read(slot: &mut Slot) -> Result<(), ProbeError> {
    let n = slot.series.len();
    let mut row = [0.0; MAX_COLUMNS];
    slot.sampler.read(&mut row[..n])?;
    let previous: [Option<f64>; MAX_COLUMNS] = std::array::from_fn(|i| {
        slot.series
            .get(i)
            .filter(|s| s.column.settles)
            .and_then(|s| s.samples.last().copied())
    });
    let rose = |row: &[f64; MAX_COLUMNS]| (0..n).any(|i| previous[i].is_some_and(|p| row[i] > p));
    if rose(&row) && !slot.settle_left.is_zero() && !slot.futile_left.is_zero() {
        let started = Instant::now();
        let sampler = &mut slot.sampler;
        row = reread_while_up(
            row,
            &SETTLE_PAUSES,
            rose,
            || {
                let mut again = [0.0; MAX_COLUMNS];
                sampler.read(&mut again[..n]).map(|()| again)
            },
            |kept, again| {
                // Settling series keep their lowest read; the others their latest.
                std::array::from_fn(|i| match previous[i] {
                    Some(_) => kept[i].min(again[i]),
                    None => again[i],
                })
            },
        )?;
        let spent = started.elapsed();
        slot.settle_left = slot.settle_left.saturating_sub(spent);
        if rose(&row) {
            slot.futile_left = slot.futile_left.saturating_sub(spent);
        }
    }
    for (s, v) in slot.series.iter_mut().zip(row) {
        s.samples.push(v);
    }
    let (total, futile) = slot.sampler.settle_allowance();
    slot.settle_left = (slot.settle_left + total).min(SETTLE_BUDGET);
    slot.futile_left = (slot.futile_left + futile).min(FUTILE_SETTLE_BUDGET);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_once_back_and_keeps_the_lowest() {
        let mut reads = vec![4, 2, 9].into_iter();
        let mut calls = 0;
        let pauses = [Duration::ZERO; 5];
        let got = reread_while_up(
            5,
            &pauses,
            |v| *v > 2,
            || {
                calls += 1;
                Ok::<_, ()>(reads.next().unwrap())
            },
            i32::min,
        );
        assert_eq!(got, Ok(2));
        assert_eq!(calls, 2, "no re-read once the value is back");
        // A value that stays up is re-read once per pause and kept.
        let mut calls = 0;
        let got = reread_while_up(
            5,
            &pauses[..3],
            |v| *v > 2,
            || {
                calls += 1;
                Ok::<_, ()>(7)
            },
            i32::min,
        );
        assert_eq!((got, calls), (Ok(5), 3));
    }
}
