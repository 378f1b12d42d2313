//! Re-reading a sample that rose, for every sampler of the engine: work an iteration handed elsewhere (a worker dropping a buffer, a thread still
//! exiting, a connection still closing) can still be finishing when the sample is taken, while a
//! leaked block, descriptor or thread is there on every re-read.

use std::time::Duration;

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
