//! Opus audio (RFC 7587): one Opus packet per RTP packet, always with a 48 kHz RTP clock.

use bytes::Bytes;

use crate::codec;
use crate::generic::{self, forward_depacketizer};
use crate::{AccessUnit, CodecParams};

/// RFC 7587 §4.1: the RTP clock rate of Opus is always 48000 Hz, whatever the coded bandwidth.
pub const CLOCK_RATE: u32 = 48_000;

/// Opus depacketizer: every RTP payload is one Opus packet (one access unit); an empty payload
/// carries nothing (RFC 7587 §4.2).
///
/// The channel count starts from `sprop-stereo` (RFC 7587 §7.1; mono when absent) and then follows
/// the stereo flag of each packet's TOC byte (RFC 6716 §3.1), since the stream wins.
#[derive(Debug)]
pub struct Depacketizer {
    inner: generic::Depacketizer,
}

impl Depacketizer {
    /// A depacketizer for an Opus stream described by `fmtp`. The RTP clock is 48 kHz whatever
    /// `clock_rate` says (RFC 7587 §4.1 requires `opus/48000/2`).
    pub fn new(_clock_rate: u32, fmtp: Option<&str>) -> Self {
        let params = sluice_rtsp::sdp::parse_fmtp(fmtp.unwrap_or_default());
        // RFC 7587 §7.1: sprop-stereo=1 when the sender is likely to send stereo; default 0.
        let stereo = codec::fmtp_param(&params, "sprop-stereo") == Some("1");
        let params = CodecParams {
            sample_rate: Some(CLOCK_RATE),
            channels: Some(if stereo { 2 } else { 1 }),
            ..codec::base_params("OPUS", CLOCK_RATE)
        };
        Self {
            inner: generic::Depacketizer::passthrough("Opus", params, 1).with_inspect(read_toc),
        }
    }
}

forward_depacketizer!(Depacketizer, inner);

/// Reads the channel count from the TOC byte that starts every Opus packet.
fn read_toc(packet: &[u8], params: &mut CodecParams) {
    // RFC 6716 §3.1: TOC byte = config (5 bits) | s (stereo) | c (frame count code).
    if let Some(&toc) = packet.first() {
        params.channels = Some(if toc & 0x04 != 0 { 2 } else { 1 });
    }
}

/// Opus packetizer: one access unit per RTP packet (RFC 7587 §4.2 forbids splitting an Opus packet;
/// one larger than the MTU goes out oversized). The marker bit is never set (RFC 7587 §4.1 reserves
/// it for the first packet after a DTX gap).
#[derive(Debug)]
pub struct Packetizer {
    inner: generic::Packetizer,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`. `mtu` is accepted for uniformity.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        Self {
            inner: generic::Packetizer::new(payload_type, ssrc, initial_seq, mtu)
                .with_marker(false),
        }
    }
}

impl crate::Packetizer for Packetizer {
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        // An empty access unit has nothing to send.
        if au.data.iter().all(|part| part.is_empty()) {
            return;
        }
        self.inner.packetize(au, timestamp, out);
    }

    fn next_sequence_number(&self) -> u16 {
        self.inner.next_sequence_number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Packetizer as _, Timestamp};

    #[test]
    fn empty_access_units_are_not_sent() {
        let mut p = Packetizer::new(111, 1, 5, 1400);
        let mut au = AccessUnit {
            timestamp: Timestamp {
                ticks: 0,
                clock_rate: CLOCK_RATE,
            },
            keyframe: true,
            discontinuity: false,
            data: vec![Bytes::new()],
        };
        let mut out = Vec::new();
        p.packetize(&au, 0, &mut out);
        au.data.clear();
        p.packetize(&au, 960, &mut out);
        assert!(out.is_empty());
        assert_eq!(p.next_sequence_number(), 5);
        au.data = vec![Bytes::from_static(&[0xfc]), Bytes::from_static(&[1, 2])];
        p.packetize(&au, 1920, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][1], 111, "no marker bit");
        assert_eq!(&out[0][12..], &[0xfc, 1, 2]);
        assert_eq!(p.next_sequence_number(), 6);
    }
}
