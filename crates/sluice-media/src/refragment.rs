//! Splitting a source's oversized H.264/H.265 RTP packets into packets that fit a UDP datagram.
//!
//! Over TCP-interleaved RTSP a camera may send packets of up to 64 KiB: whole slices as single NAL
//! unit packets (packetization-mode 0 cameras do, CAMERA-QUIRKS #49) or big aggregation packets.
//! Relayed as they are, such packets cannot reach UDP readers (a datagram over the path MTU is
//! fragmented by IP or dropped). [`Refragmenter`] re-packs them: the NAL units of a single NAL unit
//! or aggregation packet go out again through the codec's packetizer, as fragmentation units where
//! needed (RFC 6184 §5.8, RFC 7798 §4.4.3), with the source packet's timestamp, SSRC and payload
//! type, and its marker bit on the last piece only. Sequence numbers are the caller's to assign.
//!
//! Fragmentation units that are too big are cut into smaller ones of the same NAL unit (the start bit
//! stays on the first, the end bit on the last).
//!
//! H.265 streams that carry decoding order numbers (`sprop-max-don-diff` or `sprop-depack-buf-nalus`
//! above 0, RFC 7798 §4.4) are left alone: their packets hold DONL/DOND fields this does not rewrite.
//! Source packets' CSRC lists and header extensions are not carried into the pieces.

use bytes::Bytes;
use sluice_rtsp::rtp::RtpPacket;

use crate::h264::aggregated_nals;

/// The codecs whose packets can be re-fragmented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    H264,
    H265,
}

/// Re-packs oversized packets of one H.264 or H.265 track.
#[derive(Debug, Clone)]
pub struct Refragmenter {
    codec: Codec,
    max_packet: usize,
}

impl Refragmenter {
    /// A refragmenter for an `a=rtpmap` encoding name (`H264`, `H265`, any case) and its fmtp that
    /// keeps packets at or under `max_packet` bytes (RTP header included); `None` for other codecs
    /// and for H.265 with decoding order numbers.
    pub fn for_encoding(
        encoding: &str,
        fmtp: Option<&str>,
        max_packet: usize,
    ) -> Option<Refragmenter> {
        let codec = if encoding.eq_ignore_ascii_case("H264") {
            Codec::H264
        } else if encoding.eq_ignore_ascii_case("H265") {
            Codec::H265
        } else {
            return None;
        };
        // RFC 7798 §7.1: DONL/DOND are present when either parameter is above 0.
        let don = sluice_rtsp::sdp::parse_fmtp(fmtp.unwrap_or_default())
            .iter()
            .any(|(name, value)| {
                (name.eq_ignore_ascii_case("sprop-max-don-diff")
                    || name.eq_ignore_ascii_case("sprop-depack-buf-nalus"))
                    && value.trim().parse::<u32>().is_ok_and(|v| v > 0)
            });
        if codec == Codec::H265 && don {
            return None;
        }
        Some(Refragmenter { codec, max_packet })
    }

    /// When `packet` is over the limit and can be split, appends the pieces to `out` (all with the
    /// packet's sequence number) and returns `true`; otherwise leaves `out` alone and returns
    /// `false`, and the packet goes on as it is.
    pub fn split(&self, packet: &[u8], out: &mut Vec<Bytes>) -> bool {
        if packet.len() <= self.max_packet {
            return false;
        }
        let Ok(rtp) = RtpPacket::parse(packet) else {
            return false;
        };
        let payload = rtp.payload();
        let mut nals: Vec<&[u8]> = Vec::new();
        match self.codec {
            Codec::H264 => match payload.first().map(|b| b & 0x1f) {
                // RFC 6184 §5.6: a single NAL unit packet.
                Some(1..=23) => nals.push(payload),
                // RFC 6184 §5.7.1: STAP-A.
                Some(24) => nals.extend(aggregated_nals(payload.get(1..))),
                // RFC 6184 §5.8: FU-A, FU indicator and FU header.
                Some(28) => return self.split_fu(&rtp, 2, out),
                _ => return false,
            },
            Codec::H265 => match payload.first().map(|b| (b >> 1) & 0x3f) {
                // RFC 7798 §4.4.1.
                Some(0..=47) => nals.push(payload),
                // RFC 7798 §4.4.2: AP.
                Some(48) => nals.extend(aggregated_nals(payload.get(2..))),
                // RFC 7798 §4.4.3: FU, payload header and FU header (no DONL: see `for_encoding`).
                Some(49) => return self.split_fu(&rtp, 3, out),
                _ => return false,
            },
        }
        if nals.is_empty() {
            return false;
        }
        let (pt, ssrc, seq, ts) = (
            rtp.payload_type(),
            rtp.ssrc(),
            rtp.sequence_number(),
            rtp.timestamp(),
        );
        let start = out.len();
        match self.codec {
            Codec::H264 => crate::h264::Packetizer::new(pt, ssrc, seq, self.max_packet)
                .packetize(&nals, ts, out),
            Codec::H265 => crate::h265::Packetizer::new(pt, ssrc, seq, self.max_packet)
                .packetize(&nals, ts, out),
        }
        if out.len() == start {
            return false;
        }
        // The packetizer marks the last piece as the end of an access unit; the source packet says
        // whether it is. Every piece keeps the source's sequence number for the caller to renumber.
        let end = out.len();
        for (i, piece) in out[start..].iter_mut().enumerate() {
            let last = start + i + 1 == end;
            let mut b = bytes::BytesMut::from(&piece[..]);
            if let Some(x) = b.get_mut(1) {
                *x = (*x & 0x7f) | if last && rtp.marker() { 0x80 } else { 0 };
            }
            sluice_rtsp::rtp::set_sequence_number(&mut b, seq);
            *piece = b.freeze();
        }
        true
    }
}

impl Refragmenter {
    /// Cuts a fragmentation unit whose headers take `header_len` bytes (the FU header last, with
    /// the S bit 0x80 and the E bit 0x40) into smaller ones.
    fn split_fu(&self, rtp: &RtpPacket<'_>, header_len: usize, out: &mut Vec<Bytes>) -> bool {
        let payload = rtp.payload();
        let Some(headers) = payload.get(..header_len) else {
            return false;
        };
        let data = payload.get(header_len..).unwrap_or_default();
        let room = self
            .max_packet
            .saturating_sub(crate::rtp::HEADER_LEN + header_len)
            .max(1);
        if data.len() <= room {
            return false;
        }
        let fu_header = headers[header_len - 1];
        let chunks = data.len().div_ceil(room);
        for (i, chunk) in data.chunks(room).enumerate() {
            let first = i == 0;
            let last = i + 1 == chunks;
            let mut b =
                bytes::BytesMut::with_capacity(crate::rtp::HEADER_LEN + header_len + chunk.len());
            sluice_rtsp::rtp::RtpHeader {
                marker: last && rtp.marker(),
                payload_type: rtp.payload_type(),
                sequence_number: rtp.sequence_number(),
                timestamp: rtp.timestamp(),
                ssrc: rtp.ssrc(),
            }
            .write(&mut b);
            b.extend_from_slice(&headers[..header_len - 1]);
            let start = if first { fu_header & 0x80 } else { 0 };
            let end = if last { fu_header & 0x40 } else { 0 };
            b.extend_from_slice(&[(fu_header & 0x3f) | start | end]);
            b.extend_from_slice(chunk);
            out.push(b.freeze());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use sluice_rtsp::rtp::RtpHeader;

    use super::*;
    use crate::{Depacketizer as _, RtpIn};

    fn packet(seq: u16, marker: bool, payload: &[u8]) -> Bytes {
        let mut b = BytesMut::new();
        RtpHeader {
            marker,
            payload_type: 96,
            sequence_number: seq,
            timestamp: 9000,
            ssrc: 0x1234,
        }
        .write(&mut b);
        b.extend_from_slice(payload);
        b.freeze()
    }

    /// An IDR slice of `len` bytes.
    fn slice(len: usize) -> Vec<u8> {
        let mut s = vec![0x65];
        s.extend((1..len).map(|i| (i % 251) as u8 | 1));
        s
    }

    #[test]
    fn small_packets_and_other_codecs_pass() {
        let r = Refragmenter::for_encoding("H264", None, 1400).unwrap();
        let mut out = Vec::new();
        assert!(!r.split(&packet(1, true, &slice(1000)), &mut out));
        assert!(out.is_empty());
        assert!(Refragmenter::for_encoding("PCMU", None, 1400).is_none());
    }

    #[test]
    fn a_big_fu_a_is_cut_keeping_its_start_and_end_bits() {
        let r = Refragmenter::for_encoding("H264", None, 1400).unwrap();
        let data = slice(5000);
        // The NAL unit in three FU-A of which the middle one is too big.
        let fu = |bits: u8, part: &[u8]| {
            let mut v = vec![0x7c, bits | 0x05];
            v.extend_from_slice(part);
            v
        };
        let parts = [&data[1..100], &data[100..4900], &data[4900..]];
        let mut packets = vec![packet(10, false, &fu(0x80, parts[0]))];
        let mut out = Vec::new();
        assert!(!r.split(&packets[0], &mut out), "small enough");
        let mut middle = Vec::new();
        assert!(r.split(&packet(11, false, &fu(0, parts[1])), &mut middle));
        assert!(middle.len() >= 4);
        for p in &middle {
            let rtp = RtpPacket::parse(p).unwrap();
            assert!(p.len() <= 1400);
            assert_eq!(
                rtp.payload()[1] & 0xc0,
                0,
                "no start or end bit in the middle"
            );
            assert!(!rtp.marker());
        }
        packets.extend(middle);
        let mut last = Vec::new();
        assert!(!r.split(&packet(12, true, &fu(0x40, parts[2])), &mut last));
        packets.push(packet(12, true, &fu(0x40, parts[2])));
        let mut d = crate::h264::Depacketizer::new(90_000, None).unwrap();
        for (i, p) in packets.iter().enumerate() {
            let mut b = BytesMut::from(&p[..]);
            sluice_rtsp::rtp::set_sequence_number(&mut b, 10 + i as u16);
            let b = b.freeze();
            d.push(RtpIn::parse(&b).unwrap()).unwrap();
        }
        let au = d.pull().expect("one access unit");
        assert_eq!(&au.data[0][..], &data[..]);
    }

    #[test]
    fn a_big_single_nal_packet_becomes_fragments_that_depacketize_to_it() {
        let r = Refragmenter::for_encoding("h264", None, 1400).unwrap();
        let big = slice(20_000);
        let mut out = Vec::new();
        assert!(r.split(&packet(7, true, &big), &mut out));
        assert!(out.len() >= 15, "{} pieces", out.len());
        for (i, p) in out.iter().enumerate() {
            assert!(p.len() <= 1400);
            let rtp = RtpPacket::parse(p).unwrap();
            assert_eq!(rtp.sequence_number(), 7);
            assert_eq!(rtp.timestamp(), 9000);
            assert_eq!(rtp.ssrc(), 0x1234);
            assert_eq!(rtp.marker(), i + 1 == out.len());
        }
        // Numbered as the caller would, they give back the slice.
        let mut d = crate::h264::Depacketizer::new(90_000, None).unwrap();
        for (i, p) in out.iter().enumerate() {
            let mut b = BytesMut::from(&p[..]);
            sluice_rtsp::rtp::set_sequence_number(&mut b, 7 + i as u16);
            let b = b.freeze();
            d.push(RtpIn::parse(&b).unwrap()).unwrap();
        }
        let au = d.pull().expect("one access unit");
        assert_eq!(au.data.len(), 1);
        assert_eq!(&au.data[0][..], &big[..]);
    }

    #[test]
    fn an_unmarked_aggregation_packet_keeps_its_marker_clear() {
        let r = Refragmenter::for_encoding("H264", None, 1400).unwrap();
        let (a, b) = (slice(900), slice(900));
        let mut stap = vec![24];
        for n in [&a, &b] {
            stap.extend_from_slice(&(n.len() as u16).to_be_bytes());
            stap.extend_from_slice(n);
        }
        let mut out = Vec::new();
        assert!(r.split(&packet(3, false, &stap), &mut out));
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|p| !RtpPacket::parse(p).unwrap().marker()));
    }

    #[test]
    fn h265_with_decoding_order_numbers_is_left_alone() {
        let fmtp = Some("sprop-max-don-diff=2;sprop-vps=QAE=");
        assert!(Refragmenter::for_encoding("H265", fmtp, 1200).is_none());
        assert!(Refragmenter::for_encoding("H265", Some("sprop-max-don-diff=0"), 1200).is_some());
        assert!(Refragmenter::for_encoding("H264", fmtp, 1200).is_some());
    }

    #[test]
    fn h265_single_nal_packet() {
        let r = Refragmenter::for_encoding("H265", None, 1200).unwrap();
        let mut nal = vec![0x26, 0x01];
        nal.extend((0..5000).map(|i| (i % 200) as u8 | 1));
        let mut out = Vec::new();
        assert!(r.split(&packet(1, true, &nal), &mut out));
        assert!(out.len() >= 5);
        assert!(out.iter().all(|p| p.len() <= 1200));
        // FU type 49 in the payload header.
        let first = RtpPacket::parse(&out[0]).unwrap();
        assert_eq!((first.payload()[0] >> 1) & 0x3f, 49);
    }

    proptest::proptest! {
        /// Whatever a source sends, splitting never panics, never makes a packet over the limit
        /// (unless it passed the packet through unchanged) and keeps the header fields.
        #[test]
        fn hostile_packets(
            codec in proptest::sample::select(vec!["H264", "H265"]),
            max in 40usize..2000,
            marker: bool,
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..6000),
        ) {
            let r = Refragmenter::for_encoding(codec, None, max).unwrap();
            let input = packet(5, marker, &payload);
            let mut out = Vec::new();
            if r.split(&input, &mut out) {
                proptest::prop_assert!(!out.is_empty());
                for (i, p) in out.iter().enumerate() {
                    let rtp = RtpPacket::parse(p).unwrap();
                    proptest::prop_assert!(p.len() <= max.max(crate::h264::MIN_MTU));
                    proptest::prop_assert_eq!(rtp.sequence_number(), 5);
                    proptest::prop_assert_eq!(rtp.timestamp(), 9000);
                    proptest::prop_assert_eq!(rtp.marker(), marker && i + 1 == out.len());
                }
            } else {
                proptest::prop_assert!(out.is_empty());
            }
        }
    }
}
