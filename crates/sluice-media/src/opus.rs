//! Opus audio (RFC 7587): one Opus packet per RTP packet, always with a 48 kHz RTP clock.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::codec::{self, Admission, RtpWriter, StreamState};
use crate::{AccessUnit, CodecParams, DepacketizeError, RtpIn};

/// RFC 7587 §4.1: the RTP clock rate of Opus is always 48000 Hz, whatever the coded bandwidth.
pub const CLOCK_RATE: u32 = 48_000;

/// Opus depacketizer: every RTP payload is one Opus packet (one access unit).
///
/// The channel count starts from `sprop-stereo` (RFC 7587 §7.1; mono when absent) and then follows
/// the stereo flag of each packet's TOC byte (RFC 6716 §3.1), since the stream wins.
#[derive(Debug)]
pub struct Depacketizer {
    state: StreamState,
    params: CodecParams,
    ready: VecDeque<AccessUnit>,
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
            state: StreamState::new("Opus", CLOCK_RATE),
            params,
            ready: VecDeque::new(),
        }
    }
}

impl crate::Depacketizer for Depacketizer {
    fn push(&mut self, pkt: RtpIn) -> Result<(), DepacketizeError> {
        if self.state.admit(&pkt) == Admission::Drop {
            return Ok(());
        }
        let timestamp = self.state.timestamp(pkt.timestamp);
        // RFC 7587 §4.2: an empty payload carries nothing (DTX gaps are simply not sent).
        let Some(&toc) = pkt.payload.first() else {
            return Ok(());
        };
        // RFC 6716 §3.1: TOC byte = config (5 bits) | s (stereo) | c (frame count code).
        self.params.channels = Some(if toc & 0x04 != 0 { 2 } else { 1 });
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

/// Opus packetizer: one access unit per RTP packet (RFC 7587 §4.2 forbids splitting an Opus packet;
/// one larger than the MTU goes out oversized). The marker bit is never set (RFC 7587 §4.1 reserves
/// it for the first packet after a DTX gap).
#[derive(Debug)]
pub struct Packetizer {
    writer: RtpWriter,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`. `mtu` is accepted for uniformity.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, _mtu: usize) -> Self {
        Self {
            writer: RtpWriter::new(payload_type, ssrc, initial_seq),
        }
    }
}

impl crate::Packetizer for Packetizer {
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let parts: Vec<&[u8]> = au.data.iter().map(|b| &b[..]).collect();
        if parts.iter().all(|p| p.is_empty()) {
            return;
        }
        out.push(self.writer.packet(false, timestamp, &parts));
    }

    fn next_sequence_number(&self) -> u16 {
        self.writer.next_sequence_number()
    }
}
