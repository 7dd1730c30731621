//! Pass-through for formats without a depacketizer of their own: each RTP payload is one access unit.
//!
//! Also the shared core of the sample-based audio formats (G.711, G.722, L16), whose packets are
//! likewise self-contained: any run of whole samples is a valid unit.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::codec::{self, Admission, RtpWriter, StreamState};
use crate::{AccessUnit, CodecParams, DepacketizeError, RtpIn};

/// Depacketizer that hands out every RTP payload as one access unit.
///
/// Marker bits are ignored, so formats that never set them work as well. Every unit counts as a
/// keyframe: nothing is known of the format, so a reader may as well start anywhere.
#[derive(Debug)]
pub struct Depacketizer {
    state: StreamState,
    params: CodecParams,
    /// Payload lengths must be multiples of this many bytes (one sample of every channel).
    unit: usize,
    ready: VecDeque<AccessUnit>,
}

impl Depacketizer {
    /// A pass-through depacketizer for a stream with an RTP clock of `clock_rate` Hz. The format
    /// parameters are not interpreted.
    pub fn new(clock_rate: u32, _fmtp: Option<&str>) -> Self {
        Self::passthrough("generic", codec::base_params("", clock_rate), 1)
    }

    /// Sets the codec name reported by [`crate::Depacketizer::params`] (the rtpmap encoding name).
    pub fn with_codec(mut self, codec: &str) -> Self {
        self.params.codec = codec.to_owned();
        self
    }

    /// Sets the channel count reported by [`crate::Depacketizer::params`] (the rtpmap encoding
    /// parameters).
    pub fn with_channels(mut self, channels: Option<u16>) -> Self {
        self.params.channels = channels;
        self
    }

    /// A pass-through whose payloads hold whole units of `unit` bytes, reporting `params`.
    pub(crate) fn passthrough(codec: &'static str, params: CodecParams, unit: usize) -> Self {
        Self {
            state: StreamState::new(codec, params.clock_rate),
            params,
            unit: unit.max(1),
            ready: VecDeque::new(),
        }
    }

    /// The reported parameters, for formats built on this one.
    pub(crate) fn params_mut(&mut self) -> &mut CodecParams {
        &mut self.params
    }

    /// Changes the unit size (channel count changes).
    pub(crate) fn set_unit(&mut self, unit: usize) {
        self.unit = unit.max(1);
    }
}

impl crate::Depacketizer for Depacketizer {
    fn push(&mut self, pkt: RtpIn) -> Result<(), DepacketizeError> {
        if self.state.admit(&pkt) == Admission::Drop {
            return Ok(());
        }
        let timestamp = self.state.timestamp(pkt.timestamp);
        if pkt.payload.is_empty() {
            return Ok(());
        }
        if pkt.payload.len() % self.unit != 0 {
            let what = format!(
                "payload of {} bytes is not a whole number of {}-byte samples",
                pkt.payload.len(),
                self.unit
            );
            return Err(self.state.error(&pkt, what));
        }
        self.ready.push_back(AccessUnit {
            timestamp,
            keyframe: true,
            discontinuity: self.state.take_loss(),
            data: vec![pkt.payload],
        });
        Ok(())
    }

    fn pull(&mut self) -> Option<AccessUnit> {
        self.ready.pop_front()
    }

    fn params(&self) -> &CodecParams {
        &self.params
    }

    fn stale_ssrc_packets(&self) -> u64 {
        self.state.stale_ssrc_packets()
    }
}

/// Packetizer that sends every access unit as one packet with the marker bit set.
///
/// Nothing is known of the format, so units are never split: one larger than the MTU goes out as
/// one oversized packet.
#[derive(Debug)]
pub struct Packetizer {
    writer: RtpWriter,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`. `mtu` is accepted for uniformity; units are never split.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, _mtu: usize) -> Self {
        Self {
            writer: RtpWriter::new(payload_type, ssrc, initial_seq),
        }
    }
}

impl crate::Packetizer for Packetizer {
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let parts: Vec<&[u8]> = au.data.iter().map(|b| &b[..]).collect();
        out.push(self.writer.packet(true, timestamp, &parts));
    }

    fn next_sequence_number(&self) -> u16 {
        self.writer.next_sequence_number()
    }
}

/// Splits runs of audio samples into packets of at most `mtu` bytes and at most one packet time
/// (RFC 3551 §4.2: a packet holds a whole number of samples and its timestamp is that of the first
/// one). The marker bit is never set: it may mark the first packet of a talkspurt, and every packet
/// is sent as a continuation.
#[derive(Debug)]
pub(crate) struct SamplePacketizer {
    writer: RtpWriter,
    mtu: usize,
    /// Bytes per RTP clock tick (all channels).
    unit: usize,
    /// Clock ticks per packet at most.
    ticks_per_packet: u32,
}

impl SamplePacketizer {
    pub(crate) fn new(
        payload_type: u8,
        ssrc: u32,
        initial_seq: u16,
        mtu: usize,
        unit: usize,
        ticks_per_packet: u32,
    ) -> Self {
        Self {
            writer: RtpWriter::new(payload_type, ssrc, initial_seq),
            mtu,
            unit: unit.max(1),
            ticks_per_packet: ticks_per_packet.max(1),
        }
    }

    pub(crate) fn set_unit(&mut self, unit: usize) {
        self.unit = unit.max(1);
    }

    pub(crate) fn set_ticks_per_packet(&mut self, ticks: u32) {
        self.ticks_per_packet = ticks.max(1);
    }

    pub(crate) fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let joined;
        let data: &[u8] = match au.data.as_slice() {
            [one] => one,
            many => {
                joined = many.concat();
                &joined
            }
        };
        let by_mtu = codec::max_payload(self.mtu, self.unit) / self.unit;
        let ticks = by_mtu.min(self.ticks_per_packet as usize).max(1);
        let chunk_len = ticks * self.unit;
        for (i, chunk) in data.chunks(chunk_len).enumerate() {
            let offset = (i * ticks) as u32;
            out.push(
                self.writer
                    .packet(false, timestamp.wrapping_add(offset), &[chunk]),
            );
        }
    }

    pub(crate) fn next_sequence_number(&self) -> u16 {
        self.writer.next_sequence_number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Depacketizer as _, Packetizer as _, Timestamp};

    fn pkt(seq: u16, ts: u32, payload: &'static [u8]) -> RtpIn {
        RtpIn {
            sequence_number: seq,
            timestamp: ts,
            marker: false,
            payload_type: 96,
            ssrc: 7,
            payload: Bytes::from_static(payload),
        }
    }

    #[test]
    fn passes_payloads_through() {
        let mut d = Depacketizer::new(90_000, None).with_codec("MP4V-ES");
        d.push(pkt(1, 1000, b"one")).unwrap();
        d.push(pkt(2, 4000, b"two")).unwrap();
        d.push(pkt(4, 7000, b"four")).unwrap();
        let aus: Vec<_> = std::iter::from_fn(|| d.pull()).collect();
        assert_eq!(aus.len(), 3);
        assert_eq!(aus[0].data, vec![Bytes::from_static(b"one")]);
        assert_eq!(
            aus[1].timestamp,
            Timestamp {
                ticks: 3000,
                clock_rate: 90_000
            }
        );
        assert!(!aus[1].discontinuity);
        assert!(aus[2].discontinuity);
        assert_eq!(d.params().codec, "MP4V-ES");
    }

    #[test]
    fn generic_packetizer_sends_one_packet_per_unit() {
        let mut p = Packetizer::new(96, 1, 10, 100);
        let au = AccessUnit {
            timestamp: Timestamp {
                ticks: 0,
                clock_rate: 90_000,
            },
            keyframe: true,
            discontinuity: false,
            data: vec![Bytes::from(vec![7u8; 500])],
        };
        let mut out = Vec::new();
        p.packetize(&au, 5, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 512);
        assert_eq!(out[0][1], 0x80 | 96);
        assert_eq!(p.next_sequence_number(), 11);
    }
}
