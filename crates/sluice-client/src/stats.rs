//! Reception statistics of one track and the report blocks built from them (sans-IO).

use std::time::Instant;

use sluice_rtsp::rtcp::{NtpTimestamp, ReportBlock, SenderReport};

/// The last sender report of a track's source (RFC 3550 §6.4.1), for mapping RTP time to wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReportInfo {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// The sender's wall clock when it sent the report.
    pub ntp: NtpTimestamp,
    /// The RTP timestamp corresponding to `ntp`.
    pub rtp_timestamp: u32,
    /// When the report arrived.
    pub received: Instant,
}

/// What the receiver knows about one source (RFC 3550 Appendix A.1, A.3, A.8).
#[derive(Debug, Clone)]
pub(crate) struct ReceiverStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Interarrival jitter in timestamp units, scaled by 16 (RFC 3550 A.8).
    jitter_x16: u64,
    transit: Option<i64>,
    last_sr: Option<SenderReportInfo>,
}

impl ReceiverStats {
    pub(crate) fn new(clock_rate: u32) -> Self {
        ReceiverStats {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            base_seq: 0,
            max_seq: 0,
            cycles: 0,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter_x16: 0,
            transit: None,
            last_sr: None,
        }
    }

    /// Counts one RTP packet. `arrival` is the time since a fixed epoch.
    ///
    /// Returns `true` when the SSRC changed (the statistics restart for the new source).
    pub(crate) fn on_rtp(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        arrival: std::time::Duration,
    ) -> bool {
        let changed = self.ssrc.is_some_and(|s| s != ssrc);
        if self.ssrc != Some(ssrc) {
            let last_sr = self.last_sr.filter(|sr| sr.ssrc == ssrc);
            *self = ReceiverStats::new(self.clock_rate);
            self.last_sr = last_sr;
            self.ssrc = Some(ssrc);
            self.base_seq = u32::from(seq);
            self.max_seq = seq;
        }
        // RFC 3550 A.1: update_seq without probation; a wrap counts a cycle.
        let delta = seq.wrapping_sub(self.max_seq);
        if delta != 0 && delta < 0x8000 {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        }
        self.received = self.received.wrapping_add(1);

        // RFC 3550 A.8: jitter from the change in relative transit time.
        let arrival_units =
            (arrival.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as i64;
        let transit = arrival_units.wrapping_sub(i64::from(timestamp));
        if let Some(previous) = self.transit {
            let d = transit
                .wrapping_sub(previous)
                .unsigned_abs()
                .min(u64::from(u32::MAX));
            // J += (|D| - J) / 16, kept scaled by 16.
            self.jitter_x16 = self.jitter_x16 + d - ((self.jitter_x16 + 8) >> 4);
        }
        self.transit = Some(transit);
        changed
    }

    pub(crate) fn on_sender_report(&mut self, sr: &SenderReport, received: Instant) {
        self.last_sr = Some(SenderReportInfo {
            ssrc: sr.ssrc,
            ntp: sr.ntp,
            rtp_timestamp: sr.rtp_timestamp,
            received,
        });
    }

    pub(crate) fn last_sender_report(&self) -> Option<SenderReportInfo> {
        self.last_sr
    }

    /// The report block about this source, or `None` before the first packet.
    pub(crate) fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let ssrc = self.ssrc?;
        // RFC 3550 A.3: loss.
        let extended_max = self.cycles.wrapping_add(u32::from(self.max_seq));
        let expected = extended_max.wrapping_sub(self.base_seq).wrapping_add(1);
        let lost = i64::from(expected) - i64::from(self.received);
        let cumulative_lost = lost.clamp(-0x80_0000, 0x7f_ffff) as i32;
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        // RFC 3550 §6.4.1: LSR and DLSR in 1/65536 s.
        let (last_sr, delay_since_last_sr) = match self.last_sr.filter(|sr| sr.ssrc == ssrc) {
            Some(sr) => {
                let delay = now.saturating_duration_since(sr.received);
                let units =
                    (delay.as_micros() * 65_536 / 1_000_000).min(u128::from(u32::MAX)) as u32;
                (sr.ntp.middle_32(), units)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost,
            highest_seq: extended_max,
            jitter: (self.jitter_x16 >> 4).min(u64::from(u32::MAX)) as u32,
            last_sr,
            delay_since_last_sr,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn loss_wrap_and_jitter() {
        let now = Instant::now();
        let mut s = ReceiverStats::new(90_000);
        assert!(s.report_block(now).is_none());
        // 65530..=65535, 0..=9 with 3 and 4 lost; perfectly paced 40 ms = 3600 units.
        let seqs: Vec<u16> = (65530..=65535)
            .chain(0..10)
            .filter(|s| *s != 3 && *s != 4)
            .collect();
        for (i, seq) in seqs.iter().enumerate() {
            let n = if *seq >= 65530 {
                u32::from(*seq - 65530)
            } else {
                u32::from(*seq) + 6
            };
            s.on_rtp(7, *seq, n * 3600, Duration::from_millis(u64::from(n) * 40));
            let _ = i;
        }
        let block = s.report_block(now).unwrap();
        assert_eq!(block.ssrc, 7);
        assert_eq!(block.highest_seq, 65536 + 9);
        assert_eq!(block.cumulative_lost, 2);
        assert_eq!(block.fraction_lost, (2 * 256 / 16) as u8);
        assert_eq!(block.jitter, 0);
        // Nothing new: the interval shows no loss.
        let block = s.report_block(now).unwrap();
        assert_eq!(block.fraction_lost, 0);
        // A late packet adds jitter.
        s.on_rtp(7, 10, 16 * 3600, Duration::from_millis(16 * 40 + 160));
        assert!(s.report_block(now).unwrap().jitter > 0);
        // An SSRC change restarts the statistics.
        assert!(s.on_rtp(8, 500, 0, Duration::from_secs(2)));
        let block = s.report_block(now).unwrap();
        assert_eq!(
            (block.ssrc, block.highest_seq, block.cumulative_lost),
            (8, 500, 0)
        );
    }

    #[test]
    fn last_sender_report_timing() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000);
        s.on_rtp(9, 1, 0, Duration::ZERO);
        let sr = SenderReport {
            ssrc: 9,
            ntp: NtpTimestamp(0x0001_0002_0003_0004),
            rtp_timestamp: 1234,
            packet_count: 1,
            octet_count: 1,
            reports: Vec::new(),
        };
        s.on_sender_report(&sr, t0);
        let block = s.report_block(t0 + Duration::from_millis(500)).unwrap();
        assert_eq!(block.last_sr, 0x0002_0003);
        assert_eq!(block.delay_since_last_sr, 32_768);
        assert_eq!(s.last_sender_report().unwrap().rtp_timestamp, 1234);
    }
}
