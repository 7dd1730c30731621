//! The types every codec shares: RTP packets in, access units out, and the traits that connect them.
//!
//! A [`Depacketizer`] is fed RTP packets of one track in arrival order with [`Depacketizer::push`] and
//! yields whole [`AccessUnit`]s from [`Depacketizer::pull`]; call `pull` until it returns `None` after every
//! `push` (the drain invariant: after a `push` a depacketizer holds at most two completed access units plus
//! the one being assembled, two when one packet both ends an access unit by its new timestamp and completes
//! the next by its marker bit, as H.264 and H.265 allow; audio formats that carry several frames per packet
//! queue those frames, at most [`crate::aac::MAX_AUS_PER_PACKET`]).
//! A [`Packetizer`] turns access units back into RTP packets.

use bytes::Bytes;

/// A media timestamp: a wrap-extended RTP timestamp and the clock it counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Ticks since the stream's first RTP timestamp was seen, extended past 32-bit wraps (may be negative
    /// when a later packet's timestamp is slightly earlier, as with B-frames or reordering). One timeline
    /// per depacketizer: after an SSRC change whose timestamps jump, it goes on from the last access
    /// unit rather than from the new RTP timestamps (that access unit is flagged as a discontinuity).
    pub ticks: i64,
    /// Ticks per second.
    pub clock_rate: u32,
}

impl Timestamp {
    /// The 32-bit RTP timestamp this corresponds to, given the stream's first RTP timestamp.
    pub fn rtp(&self, base: u32) -> u32 {
        base.wrapping_add(self.ticks as u32)
    }

    /// Seconds since the stream's first timestamp.
    pub fn seconds(&self) -> f64 {
        self.ticks as f64 / f64::from(self.clock_rate.max(1))
    }
}

/// Extends 32-bit RTP timestamps across wraps (RFC 3550 §5.1: the timestamp wraps modulo 2^32).
#[derive(Clone, Debug, Default)]
pub struct TimestampExtender {
    base: Option<u32>,
    last: i64,
}

impl TimestampExtender {
    /// The extended value of `ts`: the one closest to the previous value.
    pub fn extend(&mut self, ts: u32) -> i64 {
        let Some(base) = self.base else {
            self.base = Some(ts);
            self.last = 0;
            return 0;
        };
        let last32 = base.wrapping_add(self.last as u32);
        let delta = ts.wrapping_sub(last32) as i32;
        self.last += i64::from(delta);
        self.last
    }

    /// The first RTP timestamp seen.
    pub fn base(&self) -> Option<u32> {
        self.base
    }
}

/// One RTP packet as a depacketizer sees it. `payload` shares the received packet's memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpIn {
    /// RTP sequence number.
    pub sequence_number: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// RTP marker bit.
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Synchronization source.
    pub ssrc: u32,
    /// The payload, padding removed.
    pub payload: Bytes,
}

impl RtpIn {
    /// Parses a whole RTP packet without copying its payload.
    pub fn parse(packet: &Bytes) -> Result<RtpIn, sluice_rtsp::rtp::RtpError> {
        let p = sluice_rtsp::rtp::RtpPacket::parse(packet)?;
        let start = p.header_len();
        let end = start + p.payload().len();
        Ok(RtpIn {
            sequence_number: p.sequence_number(),
            timestamp: p.timestamp(),
            marker: p.marker(),
            payload_type: p.payload_type(),
            ssrc: p.ssrc(),
            payload: packet.slice(start..end),
        })
    }
}

/// One access unit: a video picture with its NAL units, or one audio frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessUnit {
    /// Presentation timestamp (RTP timestamp, wrap-extended).
    pub timestamp: Timestamp,
    /// A picture a decoder can start from (IDR / IRAP; always true for audio and intra-only formats).
    pub keyframe: bool,
    /// Packets were lost before this access unit (a decoder may show errors until the next keyframe),
    /// the source changed, or (H.264, H.265) the RTP timestamp jumped before it, so its timestamp
    /// does not follow on from the previous access unit's.
    pub discontinuity: bool,
    /// H.264/H.265: the NAL units without start codes or length prefixes, in decoding order.
    /// Audio and other formats: one element holding the frame (a raw AAC frame, an Opus packet, samples, a
    /// complete JPEG file for MJPEG, or the RTP payload for pass-through).
    pub data: Vec<Bytes>,
}

/// Parameters of a codec, from the SDP and from the stream (the stream wins when they disagree).
#[derive(Clone, Debug, PartialEq, Default)]
#[non_exhaustive]
pub struct CodecParams {
    /// Codec name as in SDP `rtpmap` (`H264`, `H265`, `MPEG4-GENERIC`, `MP4A-LATM`, `OPUS`, `PCMU`, …).
    pub codec: String,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Video: picture width in pixels.
    pub width: Option<u32>,
    /// Video: picture height in pixels.
    pub height: Option<u32>,
    /// Video: profile, as a name (`Main`, `High`, `Main 10`…) or number.
    pub profile: Option<String>,
    /// Video: level (`4.1`…).
    pub level: Option<String>,
    /// Video: frames per second, when the stream signals it.
    pub frame_rate: Option<f64>,
    /// Audio: samples per second.
    pub sample_rate: Option<u32>,
    /// Audio: channels.
    pub channels: Option<u16>,
    /// Codec-specific decoder configuration: H.264 SPS/PPS, H.265 VPS/SPS/PPS (as NAL units), AAC
    /// AudioSpecificConfig (one element).
    pub config: Vec<Bytes>,
}

/// Why a packet could not be depacketized. The packet is dropped and the access unit it belonged to is lost;
/// the depacketizer carries on with the next packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("{codec} packet seq={seq} ts={ts}: {what}")]
pub struct DepacketizeError {
    /// Codec name.
    pub codec: &'static str,
    /// Sequence number of the packet.
    pub seq: u16,
    /// RTP timestamp of the packet.
    pub ts: u32,
    /// What was wrong.
    pub what: String,
}

/// RTP packets in, access units out.
pub trait Depacketizer: Send {
    /// Feeds the next packet of the track (in arrival order; gaps in sequence numbers mean loss).
    fn push(&mut self, pkt: RtpIn) -> Result<(), DepacketizeError>;
    /// The next completed access unit, if any. Call until `None` after each `push`.
    fn pull(&mut self) -> Option<AccessUnit>;
    /// What is known of the codec so far.
    fn params(&self) -> &CodecParams;
    /// Packets dropped so far because they came from the SSRC the track had before its last change
    /// while the new one was still flowing (the stale SSRC tolerance of [`crate::codec`]).
    fn stale_ssrc_packets(&self) -> u64 {
        0
    }
    /// Packets dropped so far because their payload type was not the track's (see
    /// [`crate::codec::depacketizer_for`]); worth logging when it keeps growing, as a sender whose
    /// payload type differs from its SDP loses packets until the track adopts its type.
    fn foreign_payload_type_packets(&self) -> u64 {
        0
    }
}

/// Access units in, RTP packets out.
pub trait Packetizer: Send {
    /// Appends the RTP packets (whole packets: header and payload) of one access unit to `out`. `timestamp`
    /// is the RTP timestamp to put on them.
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>);
    /// The sequence number the next packet will carry.
    fn next_sequence_number(&self) -> u16;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_across_wraps() {
        let mut e = TimestampExtender::default();
        assert_eq!(e.extend(u32::MAX - 10), 0);
        assert_eq!(e.extend(5), 16);
        assert_eq!(e.extend(3), 14);
        assert_eq!(e.extend(u32::MAX), 10);
        assert_eq!(e.base(), Some(u32::MAX - 10));
    }
}
