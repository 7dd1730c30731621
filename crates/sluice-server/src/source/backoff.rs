//! Reconnect delays: exponential with jitter, so that hundreds of cameras that restart together (a power
//! cut, a switch reboot) do not reconnect in lockstep. Sans-IO: the random draw is an argument.

use std::time::Duration;

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
}
