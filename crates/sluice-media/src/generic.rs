//! Pass-through for formats without a depacketizer of their own: each RTP payload is one access unit.
//!
//! Also the core of the formats whose payloads are likewise self-contained: Opus (one Opus packet
//! per payload) and the sample-based audio formats G.711, G.722 and L16 (any run of whole samples
//! is a valid unit). Their types wrap a core and hand it the trait calls.

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
    /// Reads what a payload signals about the stream into the reported parameters.
    inspect: fn(&[u8], &mut CodecParams),
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
            inspect: |_, _| {},
            ready: VecDeque::new(),
        }
    }

    /// Has `inspect` read every payload that becomes an access unit, before it is queued, for
    /// formats whose payloads signal their parameters (the stream wins over the SDP).
    pub(crate) fn with_inspect(mut self, inspect: fn(&[u8], &mut CodecParams)) -> Self {
        self.inspect = inspect;
        self
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
        // An empty payload carries nothing (nor does it for Opus, RFC 7587 §4.2).
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
        (self.inspect)(&pkt.payload, &mut self.params);
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
    marker: bool,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`. `mtu` is accepted for uniformity; units are never split.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, _mtu: usize) -> Self {
        Self {
            writer: RtpWriter::new(payload_type, ssrc, initial_seq),
            marker: true,
        }
    }

    /// Sets the marker bit of every packet, for formats built on this one.
    pub(crate) fn with_marker(mut self, marker: bool) -> Self {
        self.marker = marker;
        self
    }
}

impl crate::Packetizer for Packetizer {
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let parts: Vec<&[u8]> = au.data.iter().map(|b| &b[..]).collect();
        out.push(self.writer.packet(self.marker, timestamp, &parts));
    }

    fn next_sequence_number(&self) -> u16 {
        self.writer.next_sequence_number()
    }
}

/// Implements [`crate::Depacketizer`] for a format built on another format's depacketizer by
/// handing every call to the field `$inner` that holds it.
macro_rules! forward_depacketizer {
    ($format:ty, $inner:ident) => {
        impl crate::Depacketizer for $format {
            fn push(&mut self, pkt: crate::RtpIn) -> Result<(), crate::DepacketizeError> {
                crate::Depacketizer::push(&mut self.$inner, pkt)
            }

            fn pull(&mut self) -> Option<crate::AccessUnit> {
                crate::Depacketizer::pull(&mut self.$inner)
            }

            fn params(&self) -> &crate::CodecParams {
                crate::Depacketizer::params(&self.$inner)
            }

            fn stale_ssrc_packets(&self) -> u64 {
                crate::Depacketizer::stale_ssrc_packets(&self.$inner)
            }
        }
    };
}
pub(crate) use forward_depacketizer;

/// Implements [`crate::Packetizer`] for a format built on another packetizer by handing every call
/// to the field `$inner` that holds it.
macro_rules! forward_packetizer {
    ($format:ty, $inner:ident) => {
        impl crate::Packetizer for $format {
            fn packetize(
                &mut self,
                au: &crate::AccessUnit,
                timestamp: u32,
                out: &mut Vec<bytes::Bytes>,
            ) {
                crate::Packetizer::packetize(&mut self.$inner, au, timestamp, out)
            }

            fn next_sequence_number(&self) -> u16 {
                crate::Packetizer::next_sequence_number(&self.$inner)
            }
        }
    };
}
pub(crate) use forward_packetizer;

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
