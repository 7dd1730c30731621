//! The figures of one measured run and how they are printed.

use std::fmt::Write as _;
use std::time::Duration;

/// What one run of N readers against one server measured.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// The server measured (`sluice`, `gstreamer`, ...).
    pub server: String,
    /// Readers started (the warm-up reader not included).
    pub readers: usize,
    /// Length of the measured window.
    pub window: Duration,
    /// Bytes every reader (warm-up reader included) received in the window.
    pub bytes: u64,
    /// User plus system CPU time of the server process in the window.
    pub server_cpu: f64,
    /// Resident memory of the server process at the end of the window, in MiB.
    pub server_rss_mib: Option<f64>,
    /// CPU time of the bench process itself (all readers) in the window.
    pub bench_cpu: f64,
    /// RTP packets received in the window.
    pub packets: u64,
    /// RTP packets missing from the sequence numbers in the window.
    pub lost: u64,
    /// RTP packets missing before the window (while readers joined).
    pub lost_joining: u64,
    /// Seconds of video each reader (the warm-up reader not included) received per second of the window:
    /// 1.0 keeps up with the live stream, less falls behind.
    pub speeds: Vec<f64>,
    /// Time from PLAY to the first keyframe, of each reader that got one.
    pub first_keyframe: Vec<Duration>,
    /// Readers that played but got no keyframe.
    pub no_keyframe: usize,
    /// Readers that never got to PLAY.
    pub failed: usize,
    /// Readers whose connection ended before the window did.
    pub ended: usize,
}

impl Row {
    /// Delivered gigabits in the window.
    pub fn gbit(&self) -> f64 {
        self.bytes as f64 * 8.0 / 1e9
    }

    /// Delivered megabits per second.
    pub fn mbit_per_s(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            self.gbit() * 1e3 / secs
        } else {
            0.0
        }
    }

    /// Mean and lowest of [`Row::speeds`].
    pub fn speed(&self) -> Option<(f64, f64)> {
        let min = self.speeds.iter().copied().reduce(f64::min)?;
        Some((
            self.speeds.iter().sum::<f64>() / self.speeds.len() as f64,
            min,
        ))
    }

    /// Server CPU-seconds per delivered gigabit; `None` when nothing was delivered.
    pub fn cpu_per_gbit(&self) -> Option<f64> {
        let gbit = self.gbit();
        (gbit > 0.0).then(|| self.server_cpu / gbit)
    }
}

/// The `p`-quantile (0 < p <= 1) of `values` by the nearest-rank method; `None` if empty.
pub fn percentile(values: &[Duration], p: f64) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) if d < Duration::from_millis(10) => format!("{:.1} ms", d.as_secs_f64() * 1e3),
        Some(d) => format!("{:.0} ms", d.as_secs_f64() * 1e3),
        None => "-".to_owned(),
    }
}

/// The table header.
pub fn header() -> String {
    format!(
        "{:<10} {:>7} {:>9} {:>9} {:>8} {:>10} {:>7} {:>9} {:>7} {:>9} {:>9} {:>9} {:>6} {:>6} {:>11}",
        "server",
        "readers",
        "Mbit/s",
        "speed",
        "CPU-s",
        "CPU-s/Gbit",
        "RSS MiB",
        "packets",
        "lost",
        "lost@join",
        "TTFK p50",
        "TTFK p95",
        "no-KF",
        "failed",
        "bench CPU-s"
    )
}

/// One table line.
pub fn line(r: &Row) -> String {
    format!(
        "{:<10} {:>7} {:>9.1} {:>9} {:>8.2} {:>10} {:>7} {:>9} {:>7} {:>9} {:>9} {:>9} {:>6} {:>6} {:>11.2}",
        r.server,
        r.readers,
        r.mbit_per_s(),
        r.speed().map_or_else(|| "-".to_owned(), |(mean, min)| format!("{mean:.2}/{min:.2}")),
        r.server_cpu,
        r.cpu_per_gbit()
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
        r.server_rss_mib
            .map_or_else(|| "-".to_owned(), |m| format!("{m:.0}")),
        r.packets,
        r.lost,
        r.lost_joining,
        ms(percentile(&r.first_keyframe, 0.5)),
        ms(percentile(&r.first_keyframe, 0.95)),
        r.no_keyframe,
        r.failed + r.ended,
        r.bench_cpu
    )
}

/// The whole table, then the ratio of Sluice's CPU per Gbit to each other server's, per reader count.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", header());
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
    let mut ratios = String::new();
    for s in rows.iter().filter(|r| r.server == "sluice") {
        for o in rows
            .iter()
            .filter(|o| o.server != "sluice" && o.readers == s.readers)
        {
            if let (Some(a), Some(b)) = (s.cpu_per_gbit(), o.cpu_per_gbit()) {
                let _ = writeln!(
                    ratios,
                    "  N={:<4} sluice/{}: {:.2}  ({})",
                    s.readers,
                    o.server,
                    a / b,
                    if a < b {
                        "Sluice needs less CPU per Gbit"
                    } else {
                        "Sluice needs MORE CPU per Gbit"
                    }
                );
            }
        }
    }
    if !ratios.is_empty() {
        let _ = writeln!(
            out,
            "\nCPU-s per delivered Gbit, ratio (below 1 is better for Sluice):\n{ratios}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = [ms(40), ms(10), ms(30), ms(20)];
        assert_eq!(percentile(&v, 0.5), Some(ms(20)));
        assert_eq!(percentile(&v, 0.95), Some(ms(40)));
        assert_eq!(percentile(&[ms(7)], 0.5), Some(ms(7)));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn cpu_per_gbit_and_rate() {
        let r = Row {
            server: "sluice".into(),
            readers: 10,
            window: Duration::from_secs(20),
            bytes: 1_250_000_000, // 10 Gbit
            server_cpu: 2.5,
            ..Row::default()
        };
        assert_eq!(r.cpu_per_gbit(), Some(0.25));
        assert!((r.mbit_per_s() - 500.0).abs() < 1e-9);
        assert_eq!(Row::default().cpu_per_gbit(), None);
        assert_eq!(Row::default().speed(), None);
        let r = Row {
            speeds: vec![1.0, 0.5, 0.75],
            ..Row::default()
        };
        assert_eq!(r.speed(), Some((0.75, 0.5)));
    }

    #[test]
    fn table_prints_ratio_per_reader_count() {
        let base = Row {
            readers: 100,
            window: Duration::from_secs(10),
            bytes: 125_000_000,
            ..Row::default()
        };
        let rows = [
            Row {
                server: "sluice".into(),
                server_cpu: 1.0,
                ..base.clone()
            },
            Row {
                server: "gstreamer".into(),
                server_cpu: 4.0,
                ..base
            },
        ];
        let t = table(&rows);
        assert!(t.contains("N=100  sluice/gstreamer: 0.25"), "{t}");
        assert_eq!(t.lines().filter(|l| l.starts_with("sluice ")).count(), 1);
    }
}
