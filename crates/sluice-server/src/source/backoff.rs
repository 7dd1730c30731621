//! Reconnect delays: exponential with jitter, so that hundreds of cameras that restart together (a power
//! cut, a switch reboot) do not reconnect in lockstep; and, for on-demand sources, whether readers still
//! wait for a retry. Sans-IO: the random draw and the time are arguments.

use std::time::{Duration, Instant};

/// Exponential backoff with "equal jitter": the n-th wait is drawn uniformly from [d/2, d] where
/// d = min(max, min × 2ⁿ).
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Waits from `min` doubling up to `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The next wait; `unit` is a uniform random draw in [0, 1).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let factor = 2f64.powi(self.attempt.min(30) as i32);
        let d = (self.min.as_secs_f64() * factor).min(self.max.as_secs_f64());
        self.attempt = self.attempt.saturating_add(1);
        Duration::from_secs_f64(d / 2.0 + d / 2.0 * unit.clamp(0.0, 1.0))
    }

    /// The source worked: start again from `min`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// Whether readers still wait for an on-demand source that has not delivered a stream yet. Each reader
/// waits `on_demand_start_timeout` from its request; while one does, a failed camera is retried after its
/// backoff delay, and once none does the source waits for the next reader.
#[derive(Debug, Clone)]
pub struct Waiting {
    patience: Duration,
    last: Option<Instant>,
}

impl Waiting {
    /// Readers wait `patience` for the stream.
    pub fn new(patience: Duration) -> Waiting {
        Waiting {
            patience,
            last: None,
        }
    }

    /// A reader asked for the stream at `now`.
    pub fn wanted(&mut self, now: Instant) {
        self.last = Some(self.last.map_or(now, |t| t.max(now)));
    }

    /// Whether a reader that asked is still waiting at `now`.
    pub fn any(&self, now: Instant) -> bool {
        self.last
            .is_some_and(|t| now.saturating_duration_since(t) < self.patience)
    }

    /// The readers got the stream: nobody waits any more.
    pub fn served(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_max_with_jitter() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let lows: Vec<f64> = (0..8).map(|_| b.next_delay(0.0).as_secs_f64()).collect();
        assert_eq!(lows, [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]);
        b.reset();
        assert_eq!(b.next_delay(0.999_999).as_secs_f64().round(), 1.0);
    }

    #[test]
    fn many_sources_spread_out() {
        // 300 cameras failing together: their first retries spread over [0.5 s, 1 s], not one instant.
        let mut delays: Vec<u128> = (0..300)
            .map(|i| {
                Backoff::new(Duration::from_secs(1), Duration::from_secs(30))
                    .next_delay(i as f64 / 300.0)
                    .as_millis()
            })
            .collect();
        delays.dedup();
        assert!(delays.len() > 250);
        assert!(delays.iter().all(|&d| (500..=1000).contains(&d)));
    }

    #[test]
    fn readers_wait_their_patience_from_the_last_request() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = Waiting::new(Duration::from_secs(2));
        assert!(!w.any(t0), "nobody asked yet");
        w.wanted(t0);
        assert!(w.any(at(1999)));
        assert!(!w.any(at(2000)), "the first reader gave up");
        w.wanted(at(1500));
        // A late clock reading does not move the last request back.
        w.wanted(at(1000));
        assert!(w.any(at(3499)));
        assert!(!w.any(at(3500)));
        w.served();
        assert!(!w.any(at(1600)), "served readers wait no more");
    }
}
