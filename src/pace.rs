//! Paces for what repeats while a failure lasts: the pause before each next attempt, and log
//! lines that go out at most once a period, counting the ones held back. The sink's inserts,
//! the reading of watermarks, the wait for ClickHouse at start and Kafka's warnings all keep
//! these paces, each with its own durations.

use std::time::{Duration, Instant};

/// Pauses that double from the first up to the longest.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    longest: Duration,
}

impl Backoff {
    pub fn new(first: Duration, longest: Duration) -> Backoff {
        Backoff { next: first.min(longest), longest }
    }

    /// The pause before the next attempt; the one after it is twice as long, up to the longest.
    pub fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = self.next.saturating_mul(2).min(self.longest);
        pause
    }
}

/// At most one log line a period, and how many were held back meanwhile.
#[derive(Debug, Clone)]
pub struct Quieter {
    every: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Quieter {
    pub fn new(every: Duration) -> Quieter {
        Quieter { every, last: None, held_back: 0 }
    }

    /// Whether a line at `now` goes out, with how many were held back since the last one
    /// that did; none while the period since that one runs.
    pub fn due(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|last| now.saturating_duration_since(last) < self.every) {
            self.held_back += 1;
            return None;
        }
        let held_back = self.held_back;
        self.last = Some(now);
        self.held_back = 0;
        Some(held_back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(700));
        let pauses: Vec<u128> = (0..6).map(|_| backoff.next_pause().as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 700, 700, 700]);
        let mut capped = Backoff::new(Duration::from_secs(5), Duration::from_secs(1));
        assert_eq!(capped.next_pause(), Duration::from_secs(1));
    }

    #[test]
    fn a_line_goes_out_once_a_period_counting_the_ones_held_back() {
        let every = Duration::from_secs(10);
        let start = Instant::now();
        let mut quieter = Quieter::new(every);
        let after = |millis: u64| start + Duration::from_millis(millis);
        let every = u64::try_from(every.as_millis()).unwrap_or_default();
        let steps = [
            (0, Some(0)),
            (1, None),
            (every - 1, None),
            (every, Some(2)),
            (every + 5, None),
            (3 * every, Some(1)),
            (4 * every, Some(0)),
        ];
        for (millis, expected) in steps {
            assert_eq!(quieter.due(after(millis)), expected, "at {millis} ms");
        }
    }
}
