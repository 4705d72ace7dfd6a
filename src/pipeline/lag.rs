//! When lag per partition is reported, and whether a backlog is being read, for the metrics
//! and readiness. The clocks are the caller's, so that the timing can be tested.

use std::time::{Duration, Instant};

/// Records older than this (by their Kafka timestamp) when read mean a backlog is being read.
pub(super) const CATCHING_UP_AGE: Duration = Duration::from_secs(120);

/// How long the catching-up state outlasts the last old record read: a backlog read in bursts
/// (paused while the sink catches up) must not flicker between scrapes.
pub(super) const CATCHING_UP_HOLD: Duration = Duration::from_secs(60);

/// How often lags are reported.
pub(super) const REPORT_EVERY: Duration = Duration::from_secs(1);

/// When the lag per partition is due to be reported (about once a second), and whether a
/// backlog is being read.
pub(super) struct LagReport {
    last: Instant,
    /// The oldest record read since the last report, in Unix milliseconds.
    oldest_read: Option<i64>,
    /// When an old record was last read.
    last_old_read: Option<Instant>,
}

impl LagReport {
    pub(super) fn new(now: Instant) -> LagReport {
        LagReport { last: now, oldest_read: None, last_old_read: None }
    }

    pub(super) fn read(&mut self, kafka_timestamp: Option<i64>) {
        if let Some(millis) = kafka_timestamp {
            self.oldest_read = Some(self.oldest_read.map_or(millis, |oldest| oldest.min(millis)));
        }
    }

    /// About once a second, from the second call on: whether a backlog is being read. `now`
    /// is the monotonic clock, `wall_clock` the Unix time in milliseconds, read only when a
    /// report is due.
    pub(super) fn tick(&mut self, now: Instant, wall_clock: impl FnOnce() -> i64) -> Option<bool> {
        if now.saturating_duration_since(self.last) < REPORT_EVERY {
            return None;
        }
        self.last = now;
        let wall_now = wall_clock();
        let read_old = self.oldest_read.take().is_some_and(|oldest| {
            u128::try_from(wall_now.saturating_sub(oldest)).unwrap_or_default() > CATCHING_UP_AGE.as_millis()
        });
        if read_old {
            self.last_old_read = Some(now);
        }
        Some(self.last_old_read.is_some_and(|when| now.saturating_duration_since(when) < CATCHING_UP_HOLD))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Unix time in milliseconds the tests' records are read at.
    const WALL: i64 = 1_700_000_000_000;

    /// A step of a report: at this time after the start, records of these ages (before the
    /// wall clock at `WALL`; none without a Kafka timestamp) are read, then a tick answers.
    type Step<'a> = (Duration, &'a [Option<Duration>], Option<bool>);

    fn check(what: &str, steps: &[Step<'_>]) {
        let start = Instant::now();
        let mut report = LagReport::new(start);
        for (step, (after, ages, expected)) in steps.iter().enumerate() {
            for age in *ages {
                let millis = age.map(|age| WALL - i64::try_from(age.as_millis()).unwrap_or_default());
                report.read(millis);
            }
            let wall_now = WALL + i64::try_from(after.as_millis()).unwrap_or_default();
            assert_eq!(report.tick(start + *after, || wall_now), *expected, "{what}, step {step}");
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn catching_up_follows_old_records_and_holds_for_a_while() {
        let old = Some(CATCHING_UP_AGE + SECOND);
        let fresh = Some(SECOND);
        check("nothing due before a second passed", &[(SECOND / 2, &[old], None)]);
        check("fresh records", &[(SECOND, &[fresh, fresh], Some(false))]);
        check("no timestamp", &[(SECOND, &[None], Some(false))]);
        check("nothing read", &[(SECOND, &[], Some(false))]);
        check("an old record among fresh ones", &[(SECOND, &[fresh, old, fresh], Some(true))]);
        check(
            "held after the last old record, then off",
            &[
                (SECOND, &[old], Some(true)),
                (2 * SECOND, &[fresh], Some(true)),
                (CATCHING_UP_HOLD, &[], Some(true)),
                (SECOND + CATCHING_UP_HOLD, &[], Some(false)),
            ],
        );
        check(
            "a report between ticks due is skipped, what was read counts at the next",
            &[(SECOND, &[], Some(false)), (SECOND + SECOND / 2, &[old], None), (2 * SECOND, &[], Some(true))],
        );
    }
}
