//! The core of the sample-based audio formats (G.711, G.722, L16): an RTP payload is a run of whole
//! sample frames, one sample of every channel interleaved (RFC 3551 §4.3), stamped with its first
//! sample's time (RFC 3550 §5.1).
//!
//! Each format's file keeps its own rules (clock and sampling rates, bytes per sample, companding
//! law, defaults) and wraps a [`SampleDepacketizer`] and a [`SamplePacketizer`]. Both count in
//! bytes per RTP clock tick of one channel: one byte (one sample) for G.711, two bytes (one sample)
//! for L16, and one byte (two samples) for G.722, whose clock runs at half its sampling rate.

use bytes::Bytes;

use crate::codec::{self, RtpWriter};
use crate::generic::{self, forward_depacketizer};
use crate::{AccessUnit, CodecParams};

/// RFC 3551 §4.2: the default packetization interval of sample-based audio is 20 ms.
pub(crate) const DEFAULT_PTIME_MS: u32 = 20;

/// Depacketizer core: every payload is one access unit, refused unless it holds whole frames.
#[derive(Debug)]
pub(crate) struct SampleDepacketizer {
    inner: generic::Depacketizer,
    /// Bytes per clock tick of one channel.
    tick_bytes: usize,
}

impl SampleDepacketizer {
    /// A mono depacketizer reporting codec `encoding` sampled at `sample_rate` Hz on an RTP clock
    /// of `clock_rate` Hz. `codec` names the format in errors.
    pub(crate) fn new(
        codec: &'static str,
        encoding: &str,
        clock_rate: u32,
        sample_rate: u32,
        tick_bytes: usize,
    ) -> Self {
        let params = CodecParams {
            sample_rate: Some(sample_rate),
            channels: Some(1),
            ..codec::base_params(encoding, clock_rate)
        };
        Self {
            inner: generic::Depacketizer::passthrough(codec, params, tick_bytes),
            tick_bytes,
        }
    }

    /// The reported parameters.
    pub(crate) fn params_mut(&mut self) -> &mut CodecParams {
        self.inner.params_mut()
    }

    /// Sets the channel count from the rtpmap encoding parameters (RFC 8866 §6.6: `None` means
    /// one). Payloads must then hold whole frames of one sample of every channel.
    pub(crate) fn set_channels(&mut self, channels: Option<u16>) {
        let channels = channels.unwrap_or(1).max(1);
        self.inner.params_mut().channels = Some(channels);
        self.inner.set_unit(self.tick_bytes * usize::from(channels));
    }
}

forward_depacketizer!(SampleDepacketizer, inner);

/// Packetizer core: splits runs of samples into packets of at most `mtu` bytes and at most one
/// packet time, each holding whole frames and stamped with its first sample's time. The marker bit
/// is never set: it may mark the first packet of a talkspurt (RFC 3551 §4.1), and every packet is
/// sent as a continuation.
#[derive(Debug)]
pub(crate) struct SamplePacketizer {
    writer: RtpWriter,
    mtu: usize,
    /// Bytes per clock tick of one channel.
    tick_bytes: usize,
    channels: u16,
    clock_rate: u32,
    ptime_ms: u32,
}

impl SamplePacketizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`, packets at most `mtu` bytes long (RTP header included); mono on an RTP clock
    /// of `clock_rate` Hz, packets of at most [`DEFAULT_PTIME_MS`].
    pub(crate) fn new(
        payload_type: u8,
        ssrc: u32,
        initial_seq: u16,
        mtu: usize,
        tick_bytes: usize,
        clock_rate: u32,
    ) -> Self {
        Self {
            writer: RtpWriter::new(payload_type, ssrc, initial_seq),
            mtu,
            tick_bytes: tick_bytes.max(1),
            channels: 1,
            clock_rate,
            ptime_ms: DEFAULT_PTIME_MS,
        }
    }

    /// Sets the RTP clock rate.
    pub(crate) fn set_clock_rate(&mut self, clock_rate: u32) {
        self.clock_rate = clock_rate;
    }

    /// Sets the channel count (at least one).
    pub(crate) fn set_channels(&mut self, channels: u16) {
        self.channels = channels.max(1);
    }

    /// Sets the packet time in milliseconds (at least one).
    pub(crate) fn set_ptime(&mut self, ptime_ms: u32) {
        self.ptime_ms = ptime_ms.max(1);
    }

    /// Clock ticks in one packet time, at least one.
    fn ticks_per_packet(&self) -> u32 {
        let ticks = u64::from(self.clock_rate) * u64::from(self.ptime_ms) / 1000;
        u32::try_from(ticks).unwrap_or(u32::MAX).max(1)
    }
}

impl crate::Packetizer for SamplePacketizer {
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let joined;
        let data: &[u8] = match au.data.as_slice() {
            [one] => one,
            many => {
                joined = many.concat();
                &joined
            }
        };
        let frame_bytes = self.tick_bytes * usize::from(self.channels);
        let by_mtu = codec::max_payload(self.mtu, frame_bytes) / frame_bytes;
        let ticks = by_mtu.min(self.ticks_per_packet() as usize).max(1);
        let chunk_len = ticks * frame_bytes;
        for (i, chunk) in data.chunks(chunk_len).enumerate() {
            let offset = (i * ticks) as u32;
            out.push(
                self.writer
                    .packet(false, timestamp.wrapping_add(offset), &[chunk]),
            );
        }
    }

    fn next_sequence_number(&self) -> u16 {
        self.writer.next_sequence_number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Depacketizer as _, Packetizer as _, RtpIn, Timestamp};

    fn au(data: Vec<u8>) -> AccessUnit {
        AccessUnit {
            timestamp: Timestamp {
                ticks: 0,
                clock_rate: 8000,
            },
            keyframe: true,
            discontinuity: false,
            data: vec![Bytes::from(data)],
        }
    }

    /// The payload lengths and RTP timestamps of `p`'s packets for `au`, stamped `timestamp`.
    fn packets(p: &mut SamplePacketizer, au: &AccessUnit, timestamp: u32) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        p.packetize(au, timestamp, &mut out);
        out.iter()
            .map(|packet| {
                let rtp = RtpIn::parse(packet).unwrap();
                assert!(!rtp.marker);
                (rtp.payload.len(), rtp.timestamp)
            })
            .collect()
    }

    #[test]
    fn packets_hold_whole_frames_within_the_mtu() {
        // Three channels of two bytes: 6-byte frames, 16 of them in a 100-byte payload.
        let mut p = SamplePacketizer::new(96, 1, 0, 112, 2, 8000);
        p.set_channels(3);
        let got = packets(&mut p, &au(vec![0; 6 * 40]), u32::MAX - 20);
        assert_eq!(got, vec![(96, u32::MAX - 20), (96, u32::MAX - 4), (48, 11)]);
        assert_eq!(p.next_sequence_number(), 3);
    }

    #[test]
    fn packets_last_at_most_one_packet_time() {
        let mut p = SamplePacketizer::new(96, 1, 0, 1400, 1, 8000);
        // 20 ms at 8000 Hz by default.
        let got = packets(&mut p, &au(vec![0; 400]), 0);
        assert_eq!(got, vec![(160, 0), (160, 160), (80, 320)]);
        p.set_clock_rate(16_000);
        p.set_ptime(10);
        let got = packets(&mut p, &au(vec![0; 400]), 0);
        assert_eq!(got, vec![(160, 0), (160, 160), (80, 320)]);
        // Without a clock or a packet time, one frame per packet.
        p.set_clock_rate(0);
        p.set_ptime(0);
        assert_eq!(packets(&mut p, &au(vec![0; 2]), 7), vec![(1, 7), (1, 8)]);
    }

    #[test]
    fn several_parts_go_out_as_one_run() {
        let mut p = SamplePacketizer::new(96, 1, 0, 1400, 1, 8000);
        let mut au = au(vec![1; 100]);
        au.data.push(Bytes::from(vec![2; 100]));
        let mut out = Vec::new();
        p.packetize(&au, 0, &mut out);
        let payloads: Vec<u8> = out
            .iter()
            .flat_map(|packet| RtpIn::parse(packet).unwrap().payload.to_vec())
            .collect();
        assert_eq!(payloads, [[1; 100], [2; 100]].concat());
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn depacketizer_refuses_partial_frames() {
        let mut d = SampleDepacketizer::new("L16", "L16", 48_000, 48_000, 2);
        assert_eq!(d.params().codec, "L16");
        assert_eq!(d.params().sample_rate, Some(48_000));
        assert_eq!(d.params().channels, Some(1));
        d.set_channels(Some(2));
        assert_eq!(d.params().channels, Some(2));
        let pkt = |seq: u16, len: usize| RtpIn {
            sequence_number: seq,
            timestamp: u32::from(seq) * 100,
            marker: false,
            payload_type: 96,
            ssrc: 1,
            payload: Bytes::from(vec![0; len]),
        };
        let err = d.push(pkt(1, 6)).unwrap_err();
        assert_eq!((err.codec, err.seq), ("L16", 1));
        d.push(pkt(2, 8)).unwrap();
        let au = d.pull().unwrap();
        assert_eq!(au.data[0].len(), 8);
        assert!(au.discontinuity, "the refused packet's samples were lost");
        // Back to mono: two-byte frames.
        d.set_channels(None);
        assert_eq!(d.params().channels, Some(1));
        d.push(pkt(3, 6)).unwrap();
        assert_eq!(d.pull().unwrap().data[0].len(), 6);
        assert_eq!(d.pull(), None);
    }
}
