//! When to send keepalives and receiver reports, when to give up on UDP and on a silent server
//! (sans-IO: every method takes `now`).

use std::time::{Duration, Instant};

/// The longest keepalive interval, whatever the session timeout: NATs and firewalls forget idle
/// connections (retina caps at 30 s for that reason, CAMERA-QUIRKS #12, #32).
pub(crate) const MAX_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// The keepalive interval for a session timeout: half the timeout, at most 30 s (CAMERA-QUIRKS #12:
/// timeouts of 8, 15 and 20 s exist). RFC 2326 §12.37: a missing timeout means 60 s.
pub(crate) fn keepalive_interval(timeout_secs: u32) -> Duration {
    let timeout = if timeout_secs == 0 { 60 } else { timeout_secs };
    (Duration::from_secs(u64::from(timeout)) / 2).min(MAX_KEEPALIVE_INTERVAL)
}

/// Something that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Send a keepalive request.
    Keepalive,
    /// Send RTCP receiver reports on every track.
    Reports,
    /// No UDP packet arrived in time: switch to TCP.
    UdpFallback,
    /// Nothing arrived from the server for too long.
    Stalled,
}

/// The timers of a playing session.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    keepalive_every: Option<Duration>,
    next_keepalive: Option<Instant>,
    report_every: Duration,
    next_report: Instant,
    stall_after: Duration,
    last_activity: Instant,
    udp_deadline: Option<Instant>,
}

impl Schedule {
    /// Timers for a session that starts playing at `now`.
    ///
    /// The first receiver report is due at once (it also opens NAT mappings for UDP); the stall
    /// timeout is never shorter than a keepalive interval plus `request_timeout`, so a silent stream
    /// whose keepalives are answered is not declared dead (CAMERA-QUIRKS #32).
    pub(crate) fn new(
        now: Instant,
        keepalive_every: Option<Duration>,
        report_every: Duration,
        stall_timeout: Duration,
        request_timeout: Duration,
        udp_fallback_after: Option<Duration>,
    ) -> Self {
        let report_every = report_every
            .min(crate::options::MAX_RTCP_INTERVAL)
            .max(Duration::from_millis(10));
        let stall_after = match keepalive_every {
            Some(k) => stall_timeout.max(k + request_timeout),
            None => stall_timeout,
        };
        Schedule {
            keepalive_every,
            next_keepalive: keepalive_every.map(|k| now + k),
            report_every,
            next_report: now,
            stall_after,
            last_activity: now,
            udp_deadline: udp_fallback_after.map(|d| now + d),
        }
    }

    /// Anything received from the server.
    pub(crate) fn activity(&mut self, now: Instant) {
        self.last_activity = self.last_activity.max(now);
    }

    /// A media packet arrived: UDP works.
    pub(crate) fn media(&mut self, now: Instant) {
        self.activity(now);
        self.udp_deadline = None;
    }

    /// How long the server may stay silent.
    pub(crate) fn stall_after(&self) -> Duration {
        self.stall_after
    }

    /// The next thing due at `now`, rescheduling it; call until `None`.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<Due> {
        if self.udp_deadline.is_some_and(|d| now >= d) {
            self.udp_deadline = None;
            return Some(Due::UdpFallback);
        }
        if now >= self.last_activity + self.stall_after {
            // Reported once per silence: a caller that goes on waits another full period.
            self.last_activity = now;
            return Some(Due::Stalled);
        }
        if now >= self.next_report {
            // Keep the cadence but never queue up reports after a long pause.
            self.next_report = (self.next_report + self.report_every).max(now);
            if self.next_report <= now {
                self.next_report = now + self.report_every;
            }
            return Some(Due::Reports);
        }
        if let (Some(next), Some(every)) = (self.next_keepalive, self.keepalive_every) {
            if now >= next {
                self.next_keepalive = Some((next + every).max(now + every / 2));
                return Some(Due::Keepalive);
            }
        }
        None
    }

    /// When [`poll`](Self::poll) next returns something.
    pub(crate) fn next_deadline(&self) -> Instant {
        [
            Some(self.next_report),
            self.next_keepalive,
            self.udp_deadline,
            Some(self.last_activity + self.stall_after),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.next_report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_interval_is_half_the_timeout_capped() {
        assert_eq!(keepalive_interval(60), Duration::from_secs(30));
        assert_eq!(keepalive_interval(120), Duration::from_secs(30));
        assert_eq!(keepalive_interval(20), Duration::from_secs(10));
        assert_eq!(keepalive_interval(8), Duration::from_secs(4));
        assert_eq!(keepalive_interval(0), Duration::from_secs(30));
        assert_eq!(keepalive_interval(1), Duration::from_millis(500));
    }

    /// Runs the schedule for `total` on a simulated clock with media every 40 ms, returning when
    /// each thing was due.
    fn simulate(schedule: &mut Schedule, start: Instant, total: Duration) -> Vec<(Duration, Due)> {
        let mut out = Vec::new();
        let mut now = start;
        while now < start + total {
            schedule.media(now);
            while let Some(due) = schedule.poll(now) {
                out.push((now - start, due));
            }
            now += Duration::from_millis(40);
        }
        out
    }

    #[test]
    fn reports_at_least_every_five_seconds_and_keepalives_on_time() {
        let start = Instant::now();
        let mut s = Schedule::new(
            start,
            Some(keepalive_interval(20)),
            Duration::from_secs(60), // asked for more than the cap
            Duration::from_secs(10),
            Duration::from_secs(10),
            None,
        );
        let events = simulate(&mut s, start, Duration::from_secs(61));
        let reports: Vec<Duration> = events
            .iter()
            .filter(|(_, d)| *d == Due::Reports)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(reports.first(), Some(&Duration::ZERO));
        for pair in reports.windows(2) {
            assert!(pair[1] - pair[0] <= Duration::from_secs(5) + Duration::from_millis(40));
        }
        assert!(reports.len() >= 12, "{reports:?}");
        let keepalives: Vec<Duration> = events
            .iter()
            .filter(|(_, d)| *d == Due::Keepalive)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(keepalives.len(), 6, "{keepalives:?}");
        assert!(
            keepalives[0] >= Duration::from_secs(10)
                && keepalives[0] < Duration::from_millis(10_040)
        );
        assert!(!events.iter().any(|(_, d)| *d == Due::Stalled));
    }

    #[test]
    fn stall_and_udp_fallback() {
        let start = Instant::now();
        let mut s = Schedule::new(
            start,
            Some(Duration::from_secs(30)),
            Duration::from_secs(5),
            Duration::from_secs(10),
            Duration::from_secs(10),
            Some(Duration::from_secs(3)),
        );
        assert_eq!(s.poll(start), Some(Due::Reports));
        assert_eq!(s.poll(start), None);
        assert_eq!(s.next_deadline(), start + Duration::from_secs(3));
        assert_eq!(
            s.poll(start + Duration::from_secs(3)),
            Some(Due::UdpFallback)
        );
        // Silence: stalled only after keepalive interval + request timeout (40 s), not 10 s.
        let mut t = start;
        let mut stalled = None;
        while t < start + Duration::from_secs(50) {
            t += Duration::from_millis(500);
            while let Some(due) = s.poll(t) {
                if due == Due::Stalled && stalled.is_none() {
                    stalled = Some(t - start);
                }
            }
        }
        assert_eq!(stalled, Some(Duration::from_secs(40)));
        // Media on time cancels the UDP deadline.
        let mut s = Schedule::new(
            start,
            None,
            Duration::from_secs(5),
            Duration::from_secs(10),
            Duration::from_secs(1),
            Some(Duration::from_secs(3)),
        );
        s.media(start + Duration::from_secs(1));
        let events = simulate(&mut s, start, Duration::from_secs(8));
        assert!(!events.iter().any(|(_, d)| *d == Due::UdpFallback));
    }
}
