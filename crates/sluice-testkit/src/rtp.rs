//! Just enough RTP, RTCP and H.264 payload parsing to check what a reader receives.
//!
//! Written independently of the server's own parsers so that tests check it against the RFCs rather
//! than against itself.

use std::collections::HashMap;

/// The fixed RTP header fields (RFC 3550 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// The marker bit (end of an access unit for video).
    pub marker: bool,
    /// Payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
    /// Offset of the payload in the packet (after CSRCs and the extension).
    pub payload_offset: usize,
    /// Length of the payload (padding removed).
    pub payload_len: usize,
}

impl RtpHeader {
    /// Parses an RTP packet header; `None` if it is not a well-formed RTP version 2 packet.
    pub fn parse(packet: &[u8]) -> Option<RtpHeader> {
        let first = *packet.first()?;
        // RFC 3550 §5.1: version 2.
        if first >> 6 != 2 {
            return None;
        }
        let second = *packet.get(1)?;
        let sequence = u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]);
        let timestamp = u32::from_be_bytes(packet.get(4..8)?.try_into().ok()?);
        let ssrc = u32::from_be_bytes(packet.get(8..12)?.try_into().ok()?);
        let csrc_count = usize::from(first & 0x0f);
        let mut offset = 12 + 4 * csrc_count;
        // RFC 3550 §5.3.1: header extension, length in 32-bit words after its 4-byte header.
        if first & 0x10 != 0 {
            let words = u16::from_be_bytes([*packet.get(offset + 2)?, *packet.get(offset + 3)?]);
            offset += 4 + 4 * usize::from(words);
        }
        let mut end = packet.len();
        // RFC 3550 §5.1: the last padding octet counts the padding.
        if first & 0x20 != 0 {
            let pad = usize::from(*packet.last()?);
            end = end.checked_sub(pad)?;
        }
        let payload_len = end.checked_sub(offset)?;
        Some(RtpHeader {
            marker: second & 0x80 != 0,
            payload_type: second & 0x7f,
            sequence,
            timestamp,
            ssrc,
            payload_offset: offset,
            payload_len,
        })
    }

    /// The payload of `packet`, which this header was parsed from.
    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet
            .get(self.payload_offset..self.payload_offset + self.payload_len)
            .unwrap_or_default()
    }
}

/// The packet types (RFC 3550 §12.1: 200 SR, 201 RR, 202 SDES, 203 BYE, ...) in a compound RTCP
/// packet, in order. Stops at the first malformed packet.
pub fn rtcp_packet_types(compound: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut rest = compound;
    while let Some(&[first, pt, len_hi, len_lo]) = rest.get(..4) {
        if first >> 6 != 2 {
            break;
        }
        types.push(pt);
        let words = u16::from_be_bytes([len_hi, len_lo]);
        let len = 4 * (usize::from(words) + 1);
        match rest.get(len..) {
            Some(next) => rest = next,
            None => break,
        }
    }
    types
}

/// RTCP BYE packet type (RFC 3550 §6.6).
pub const RTCP_BYE: u8 = 203;

/// The H.264 NAL unit types a single RTP payload starts (RFC 6184 §5.2): for a single NAL unit its
/// type, for STAP-A the types of all aggregated units, for an FU-A start fragment the inner type;
/// empty for an FU-A continuation.
pub fn h264_nal_types(payload: &[u8]) -> Vec<u8> {
    let Some(&header) = payload.first() else {
        return Vec::new();
    };
    match header & 0x1f {
        // RFC 6184 §5.7.1: STAP-A, a 16-bit size before each NAL unit.
        24 => {
            let mut types = Vec::new();
            let mut rest = payload.get(1..).unwrap_or_default();
            while let (Some(&hi), Some(&lo)) = (rest.first(), rest.get(1)) {
                let size = usize::from(u16::from_be_bytes([hi, lo]));
                let Some(nal) = rest.get(2..2 + size) else {
                    break;
                };
                if let Some(&nal_header) = nal.first() {
                    types.push(nal_header & 0x1f);
                }
                rest = rest.get(2 + size..).unwrap_or_default();
            }
            types
        }
        // RFC 6184 §5.8: FU-A, S bit in the FU header.
        28 => match payload.get(1) {
            Some(&fu) if fu & 0x80 != 0 => vec![fu & 0x1f],
            _ => Vec::new(),
        },
        t => vec![t],
    }
}

/// True when an RTP payload starts an H.264 keyframe: an IDR slice (5) or SPS (7), alone, first in
/// a STAP-A, or as the start of an FU-A.
pub fn h264_keyframe_start(payload: &[u8]) -> bool {
    matches!(h264_nal_types(payload).first(), Some(5 | 7))
}

/// True when an RTP payload can begin an H.264 access unit (RFC 6184 §5.1 / H.264 §7.4.1.2.3):
/// access unit delimiter (9), SEI (6), SPS (7), PPS (8) or an IDR slice (5). A non-IDR slice or an
/// FU-A continuation cannot begin a decodable stream.
pub fn h264_access_unit_start(payload: &[u8]) -> bool {
    matches!(h264_nal_types(payload).first(), Some(5..=9))
}

/// Counts packets and sequence-number gaps per RTP stream (keyed by interleaved channel or port).
#[derive(Clone, Debug, Default)]
pub struct SeqTracker {
    streams: HashMap<u8, StreamCount>,
}

/// What one RTP stream looked like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCount {
    /// RTP packets seen.
    pub packets: u64,
    /// Places where a sequence number was not the previous plus one.
    pub gaps: u64,
    /// Packets missing at those places (forward jumps only, modulo 2^16).
    pub missing: u64,
    /// The last sequence number seen.
    pub last: Option<u16>,
}

impl SeqTracker {
    /// A tracker with no streams.
    pub fn new() -> SeqTracker {
        SeqTracker::default()
    }

    /// Records an RTP packet of stream `key`; returns the parsed header, or `None` when the packet
    /// isn't RTP (it is then not counted).
    pub fn record(&mut self, key: u8, packet: &[u8]) -> Option<RtpHeader> {
        let header = RtpHeader::parse(packet)?;
        let count = self.streams.entry(key).or_default();
        count.packets += 1;
        if let Some(last) = count.last {
            let expected = last.wrapping_add(1);
            if header.sequence != expected {
                count.gaps += 1;
                count.missing += u64::from(header.sequence.wrapping_sub(expected));
            }
        }
        count.last = Some(header.sequence);
        Some(header)
    }

    /// The count of stream `key`.
    pub fn stream(&self, key: u8) -> StreamCount {
        self.streams.get(&key).copied().unwrap_or_default()
    }

    /// All streams, by key.
    pub fn streams(&self) -> impl Iterator<Item = (u8, StreamCount)> + '_ {
        self.streams.iter().map(|(k, v)| (*k, *v))
    }

    /// Total gaps over all streams.
    pub fn total_gaps(&self) -> u64 {
        self.streams.values().map(|s| s.gaps).sum()
    }

    /// Total packets over all streams.
    pub fn total_packets(&self) -> u64 {
        self.streams.values().map(|s| s.packets).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 0xe0];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&1234u32.to_be_bytes());
        p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn parses_header() {
        let p = rtp(65535, &[0x65, 1, 2]);
        let h = RtpHeader::parse(&p).unwrap();
        assert!(h.marker);
        assert_eq!(h.payload_type, 96);
        assert_eq!(h.sequence, 65535);
        assert_eq!(h.timestamp, 1234);
        assert_eq!(h.ssrc, 0xdead_beef);
        assert_eq!(h.payload(&p), &[0x65, 1, 2]);
    }

    #[test]
    fn rejects_short_or_wrong_version() {
        assert!(RtpHeader::parse(&[0x80, 0, 0]).is_none());
        assert!(RtpHeader::parse(&[0x40; 12]).is_none());
        // Extension header claims more than there is.
        let mut p = rtp(1, &[]);
        p[0] |= 0x10;
        p.extend_from_slice(&[0, 0, 0, 9]);
        assert!(RtpHeader::parse(&p).is_none());
    }

    #[test]
    fn tracks_gaps_across_wrap() {
        let mut t = SeqTracker::new();
        for seq in [65534, 65535, 0, 1, 3] {
            t.record(0, &rtp(seq, &[1])).unwrap();
        }
        let s = t.stream(0);
        assert_eq!(s.packets, 5);
        assert_eq!(s.gaps, 1);
        assert_eq!(s.missing, 1);
    }

    #[test]
    fn h264_payload_kinds() {
        assert!(h264_keyframe_start(&[0x65, 0x88]));
        assert!(h264_keyframe_start(&[0x67, 0x42]));
        assert!(!h264_keyframe_start(&[0x41, 0x9a]));
        // STAP-A with SPS then PPS.
        assert!(h264_keyframe_start(&[0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68]));
        assert_eq!(
            h264_nal_types(&[0x78, 0, 2, 0x67, 0x42, 0, 1, 0x68]),
            vec![7, 8]
        );
        // FU-A start of an IDR slice, and a continuation.
        assert!(h264_keyframe_start(&[0x7c, 0x85, 0]));
        assert!(!h264_keyframe_start(&[0x7c, 0x05, 0]));
        assert!(h264_nal_types(&[0x7c, 0x05]).is_empty());
        // Access unit delimiter starts an access unit but is not itself a keyframe marker.
        assert!(h264_access_unit_start(&[0x09, 0x10]));
        assert!(!h264_access_unit_start(&[0x41]));
    }

    #[test]
    fn rtcp_compound_types() {
        // RR with no report blocks, then BYE with one SSRC.
        let packet = [
            0x80, 201, 0, 1, 0, 0, 0, 1, //
            0x81, 203, 0, 1, 0, 0, 0, 1,
        ];
        assert_eq!(rtcp_packet_types(&packet), vec![201, RTCP_BYE]);
        assert!(rtcp_packet_types(&[0x81, 203]).is_empty());
    }
}
