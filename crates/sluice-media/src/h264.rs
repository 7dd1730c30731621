//! H.264: Annex B byte streams, RTP packetization (RFC 6184, packetization-mode 1) and keyframe
//! detection on RTP payloads.

use std::fmt::Write as _;
use std::iter::FusedIterator;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};

use crate::rtp;

/// Default largest RTP packet, header included, that [`Packetizer`] produces: small enough for a
/// 1500-byte Ethernet MTU after IP, UDP and tunnelling overheads.
pub const DEFAULT_MTU: usize = 1400;

/// Smallest `mtu` [`Packetizer::new`] accepts: an RTP header, the two FU-A header bytes and one byte
/// of NAL unit data. Smaller values are raised to this.
pub const MIN_MTU: usize = rtp::HEADER_LEN + FU_HEADER_LEN + 1;

// ITU-T H.264 Table 7-1 and RFC 6184 §5.2 Table 1: NAL unit types used here.
pub(crate) const NAL_IDR: u8 = 5;
pub(crate) const NAL_SPS: u8 = 7;
pub(crate) const NAL_PPS: u8 = 8;
pub(crate) const NAL_AUD: u8 = 9;
const STAP_A: u8 = 24;
const STAP_B: u8 = 25;
const FU_A: u8 = 28;
const FU_B: u8 = 29;

/// FU indicator and FU header (RFC 6184 §5.8).
const FU_HEADER_LEN: usize = 2;

/// Splits an Annex B byte stream into NAL units, without their start codes.
///
/// Both 3-byte (`00 00 01`) and 4-byte (`00 00 00 01`) start codes are recognized; trailing zero
/// bytes of each NAL unit are dropped (they are `trailing_zero_8bits` or the first byte of the next
/// 4-byte start code), and empty NAL units are skipped. Bytes before the first start code are
/// yielded as a NAL unit too, so a buffer that omits the leading start code still splits. Never
/// panics, whatever the input.
pub fn split_annexb(data: &[u8]) -> AnnexBNals<'_> {
    AnnexBNals { rest: data }
}

/// Iterator over the NAL units of an Annex B byte stream; see [`split_annexb`].
#[derive(Debug, Clone)]
pub struct AnnexBNals<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for AnnexBNals<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // ITU-T H.264 Annex B.2: NAL units are delimited by start code prefixes.
        while !self.rest.is_empty() {
            let (nal, rest) = match self.rest.windows(3).position(|w| w == [0, 0, 1]) {
                Some(at) => (
                    self.rest.get(..at).unwrap_or_default(),
                    self.rest.get(at + 3..).unwrap_or_default(),
                ),
                None => (self.rest, &[][..]),
            };
            self.rest = rest;
            let end = nal.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let nal = nal.get(..end).unwrap_or_default();
            if !nal.is_empty() {
                return Some(nal);
            }
        }
        None
    }
}

impl FusedIterator for AnnexBNals<'_> {}

/// The `nal_unit_type` of a NAL unit (its header's low five bits), or `None` for an empty slice.
pub fn nal_type(nal: &[u8]) -> Option<u8> {
    nal.first().map(|header| header & 0x1f)
}

/// True when the slice NAL unit `nal` (header included) has `first_mb_in_slice == 0`, i.e. starts a
/// new picture.
pub(crate) fn starts_picture(nal: &[u8]) -> bool {
    // ITU-T H.264 §7.3.3: first_mb_in_slice is the first ue(v) of the slice header; the value 0 is
    // coded as the single bit 1.
    nal.get(1).is_some_and(|b| b & 0x80 != 0)
}

/// Whether a NAL unit of this type is a VCL (coded slice) NAL unit.
pub(crate) fn is_vcl(nal_type: u8) -> bool {
    (1..=5).contains(&nal_type)
}

/// Packs the NAL units of access units into RTP packets (RFC 6184 packetization-mode 1).
///
/// A NAL unit that fits in one packet goes in a single NAL unit packet (§5.6); a larger one is
/// split into FU-A fragments (§5.8). The marker bit is set on the last packet of each access unit
/// (§5.1), and every packet takes the next sequence number. Aggregation packets are not used, so
/// the packet carrying an in-band SPS is the first of its keyframe's access unit.
#[derive(Debug, Clone)]
pub struct Packetizer {
    payload_type: u8,
    ssrc: u32,
    next_sequence_number: u16,
    max_payload: usize,
}

impl Packetizer {
    /// A packetizer for one RTP stream. `mtu` is the largest RTP packet to produce, 12-byte header
    /// included (see [`DEFAULT_MTU`]; values below [`MIN_MTU`] are raised to it). Only the low seven
    /// bits of `payload_type` are used.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        Packetizer {
            payload_type,
            ssrc,
            next_sequence_number: initial_seq,
            max_payload: mtu.max(MIN_MTU) - rtp::HEADER_LEN,
        }
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence_number(&self) -> u16 {
        self.next_sequence_number
    }

    /// Appends the RTP packets of one access unit, made of `nals` (NAL units without start codes,
    /// in decoding order) sampled at `timestamp`, to `out`.
    ///
    /// Access unit delimiters and empty NAL units are dropped; an access unit with nothing else
    /// produces no packet. All packets of the call share one buffer allocation.
    pub fn packetize(&mut self, nals: &[&[u8]], timestamp: u32, out: &mut Vec<Bytes>) {
        // AUDs carry nothing an RTP receiver needs: the timestamp and the marker bit delimit
        // access units (RFC 6184 §5.1).
        let kept = |nal: &[u8]| nal_type(nal).is_some_and(|t| t != NAL_AUD);
        let Some(last) = nals.iter().rposition(|nal| kept(nal)) else {
            return;
        };
        let total: usize = nals
            .iter()
            .filter(|nal| kept(nal))
            .map(|nal| self.packetized_len(nal))
            .sum();
        let mut buf = BytesMut::with_capacity(total);
        for (i, nal) in nals.iter().enumerate().filter(|(_, nal)| kept(nal)) {
            let last_nal = i == last;
            let Some((&header, body)) = nal.split_first() else {
                continue;
            };
            if nal.len() <= self.max_payload {
                // RFC 6184 §5.6: single NAL unit packet.
                self.put_header(&mut buf, last_nal, timestamp);
                buf.put_slice(nal);
                out.push(buf.split().freeze());
                continue;
            }
            // RFC 6184 §5.8: FU-A. The indicator keeps F and NRI of the NAL header, the FU header
            // carries its type; the NAL header byte itself is not sent.
            let indicator = (header & 0xe0) | FU_A;
            let mut fragments = body.chunks(self.max_payload - FU_HEADER_LEN).peekable();
            let mut first = true;
            while let Some(fragment) = fragments.next() {
                let end = fragments.peek().is_none();
                let fu_header = u8::from(first) << 7 | u8::from(end) << 6 | (header & 0x1f);
                self.put_header(&mut buf, last_nal && end, timestamp);
                buf.put_u8(indicator);
                buf.put_u8(fu_header);
                buf.put_slice(fragment);
                out.push(buf.split().freeze());
                first = false;
            }
        }
        debug_assert_eq!(buf.capacity(), 0, "packetized_len sized the buffer exactly");
    }

    /// Bytes of RTP packets (headers included) that `nal` packetizes to.
    fn packetized_len(&self, nal: &[u8]) -> usize {
        if nal.len() <= self.max_payload {
            return rtp::HEADER_LEN + nal.len();
        }
        let body = nal.len() - 1;
        let fragments = body.div_ceil(self.max_payload - FU_HEADER_LEN);
        fragments * (rtp::HEADER_LEN + FU_HEADER_LEN) + body
    }

    fn put_header(&mut self, buf: &mut BytesMut, marker: bool, timestamp: u32) {
        rtp::put_header(
            buf,
            self.payload_type,
            marker,
            self.next_sequence_number,
            timestamp,
            self.ssrc,
        );
        self.next_sequence_number = self.next_sequence_number.wrapping_add(1);
    }
}

/// True when this RTP payload begins a keyframe access unit: it starts an SPS or an IDR slice.
///
/// Recognized: a single NAL unit packet of type 5 (IDR) or 7 (SPS); a STAP-A or STAP-B holding such
/// a NAL unit anywhere in it; the first fragment (S bit) of an FU-A or FU-B of such a NAL unit.
/// Tolerated: a payload, or the first FU fragment, that is itself an Annex B byte stream (start
/// code first; seen from Amatek AR-N3222F recorders and others) is looked into.
///
/// An access unit of several such NAL units (SPS, PPS, IDR slices) has several packets for which
/// this is true; a GOP cache restarts only at the first of them, e.g. the first one with a new RTP
/// timestamp.
pub fn is_keyframe_start(rtp_payload: &[u8]) -> bool {
    let Some(&header) = rtp_payload.first() else {
        return false;
    };
    match header & 0x1f {
        NAL_IDR | NAL_SPS => true,
        // RFC 6184 §5.7.1: STAP-A is the NAL header, then (16-bit size, NAL unit) repeated;
        // STAP-B has a 16-bit DON between the two.
        STAP_A => aggregated_nals(rtp_payload.get(1..)).any(starts_keyframe),
        STAP_B => aggregated_nals(rtp_payload.get(3..)).any(starts_keyframe),
        // RFC 6184 §5.8: FU indicator, FU header (S, E, R, type), for FU-B a 16-bit DON, data.
        fu @ (FU_A | FU_B) => {
            let Some(&fu_header) = rtp_payload.get(1) else {
                return false;
            };
            if fu_header & 0x80 == 0 {
                return false;
            }
            match fu_header & 0x1f {
                NAL_IDR | NAL_SPS => true,
                0 => {
                    // The NAL header this fragment rebuilds (F, NRI, type 0) comes first.
                    let rebuilt = [header & 0xe0];
                    let data = rtp_payload.get(if fu == FU_A { 2.. } else { 4.. });
                    annexb_starts_keyframe(&rebuilt, data.unwrap_or_default())
                }
                _ => false,
            }
        }
        0 => annexb_starts_keyframe(&[], rtp_payload),
        _ => false,
    }
}

/// When `prefix` followed by `data` begins with an Annex B start code (two or more zero bytes,
/// then a one), the part of `data` after that start code.
///
/// `prefix` is a NAL header a depacketizer rebuilds in front of FU data: some senders fragment a
/// whole Annex B stream, so that the rebuilt header's zero bytes become part of the first start
/// code.
pub(crate) fn after_start_code<'a>(prefix: &[u8], data: &'a [u8]) -> Option<&'a [u8]> {
    let prefix_zeros = if prefix.iter().all(|&b| b == 0) {
        prefix.len()
    } else {
        0
    };
    let data_zeros = data.iter().take_while(|&&b| b == 0).count();
    if prefix_zeros + data_zeros < 2 || data.get(data_zeros) != Some(&1) {
        return None;
    }
    data.get(data_zeros + 1..)
}

/// Whether `prefix` and `data` form an Annex B stream (start code first) holding an SPS or an IDR
/// slice.
fn annexb_starts_keyframe(prefix: &[u8], data: &[u8]) -> bool {
    after_start_code(prefix, data).is_some_and(|rest| split_annexb(rest).any(starts_keyframe))
}

/// Whether the NAL unit is an SPS or an IDR slice.
fn starts_keyframe(nal: &[u8]) -> bool {
    matches!(nal_type(nal), Some(NAL_IDR | NAL_SPS))
}

/// The NAL units of an aggregation packet's body: (16-bit size, NAL unit) repeated. Stops at the
/// first truncated one.
fn aggregated_nals(body: Option<&[u8]>) -> impl Iterator<Item = &[u8]> {
    let mut rest = body.unwrap_or_default();
    std::iter::from_fn(move || {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let nal = tail.get(..len)?;
        rest = tail.get(len..)?;
        Some(nal)
    })
}

/// The SDP `a=fmtp` parameters for an H.264 stream sent by [`Packetizer`]:
/// `packetization-mode=1;profile-level-id=XXXXXX;sprop-parameter-sets=<SPS>,<PPS>`.
///
/// `sps` and `pps` are whole NAL units, header included. `profile-level-id` (upper-case hex of SPS
/// bytes 1 to 3) is left out when the SPS is too short to hold it.
pub fn fmtp(sps: &[u8], pps: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = String::from("packetization-mode=1");
    // RFC 6184 §8.1: profile-level-id is profile_idc, the constraint flags byte and level_idc.
    if let Some(&[profile, constraints, level]) = sps.get(1..4) {
        let _ = write!(
            out,
            ";profile-level-id={profile:02X}{constraints:02X}{level:02X}"
        );
    }
    let _ = write!(
        out,
        ";sprop-parameter-sets={},{}",
        b64.encode(sps),
        b64.encode(pps)
    );
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn split(data: &[u8]) -> Vec<&[u8]> {
        split_annexb(data).collect()
    }

    #[test]
    fn split_annexb_edge_cases() {
        let none: Vec<&[u8]> = Vec::new();
        assert_eq!(split(&[]), none);
        assert_eq!(split(&[0, 0, 0, 0]), none);
        assert_eq!(split(&[0, 0, 1]), none);
        assert_eq!(split(&[0, 0, 0, 1]), none);
        assert_eq!(split(&[0, 0, 1, 0, 0, 1, 0, 0, 0, 1]), none);
        // 3- and 4-byte start codes, trailing zeros trimmed.
        assert_eq!(
            split(&[0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 4, 0, 0]),
            vec![&[0x67, 1, 2][..], &[0x68, 3], &[0x65, 4]]
        );
        // Leading bytes without a start code are a NAL unit too.
        assert_eq!(
            split(&[0x67, 1, 0, 0, 0, 1, 0x68]),
            vec![&[0x67, 1][..], &[0x68]]
        );
        // Many zero bytes before a start code; a start code at the very end.
        assert_eq!(
            split(&[0, 0, 0, 0, 0, 0, 1, 0x41, 0, 3, 0, 0, 1]),
            vec![&[0x41, 0, 3][..]]
        );
        // "00 00" at the end with no 01 is trailing zeros.
        assert_eq!(split(&[0, 0, 1, 0x41, 9, 0, 0]), vec![&[0x41, 9][..]]);
        // Emulation prevention bytes are left alone.
        assert_eq!(
            split(&[0, 0, 1, 0x41, 0, 0, 3, 1, 5]),
            vec![&[0x41, 0, 0, 3, 1, 5][..]]
        );
    }

    #[test]
    fn nal_types() {
        assert_eq!(nal_type(&[]), None);
        assert_eq!(nal_type(&[0x67, 0x42]), Some(7));
        assert_eq!(nal_type(&[0x65]), Some(5));
        assert_eq!(nal_type(&[0x09, 0xf0]), Some(9));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn split_annexb_never_panics(data in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..300)) {
            for nal in split_annexb(&data) {
                prop_assert!(!nal.is_empty());
                prop_assert_ne!(nal.last(), Some(&0));
                prop_assert!(!nal.windows(3).any(|w| w == [0, 0, 1]));
            }
        }

        #[test]
        fn keyframe_detection_never_panics(data in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), any::<u8>()], 0..64)) {
            let _ = is_keyframe_start(&data);
            let _ = crate::h265::is_keyframe_start(&data);
        }

        #[test]
        fn split_annexb_round_trip(
            nals in proptest::collection::vec(
                (proptest::collection::vec(1u8..=255, 1..50), any::<bool>()), 0..10),
        ) {
            let mut stream = Vec::new();
            for (nal, long_start_code) in &nals {
                if *long_start_code {
                    stream.push(0);
                }
                stream.extend_from_slice(&[0, 0, 1]);
                stream.extend_from_slice(nal);
            }
            let expected: Vec<&[u8]> = nals.iter().map(|(nal, _)| &nal[..]).collect();
            prop_assert_eq!(split(&stream), expected);
        }
    }

    /// An RTP packet's fixed header fields and payload, parsed back for checking.
    #[derive(Debug)]
    struct Parsed<'a> {
        marker: bool,
        payload_type: u8,
        seq: u16,
        timestamp: u32,
        ssrc: u32,
        payload: &'a [u8],
    }

    fn parse(packet: &[u8]) -> Parsed<'_> {
        assert!(packet.len() > 12, "packet of {} bytes", packet.len());
        assert_eq!(packet[0], 0x80, "V=2, no padding, extension or CSRCs");
        Parsed {
            marker: packet[1] & 0x80 != 0,
            payload_type: packet[1] & 0x7f,
            seq: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            payload: &packet[12..],
        }
    }

    /// Reassembles NAL units from single NAL unit and FU-A payloads (RFC 6184 §5.6, §5.8),
    /// checking fragment framing on the way.
    fn reassemble(payloads: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut nals = Vec::new();
        let mut partial: Option<Vec<u8>> = None;
        for payload in payloads {
            match payload[0] & 0x1f {
                FU_A => {
                    let (indicator, fu_header) = (payload[0], payload[1]);
                    let (start, end) = (fu_header & 0x80 != 0, fu_header & 0x40 != 0);
                    assert_eq!(fu_header & 0x20, 0, "R bit");
                    assert!(!(start && end), "FU-A with both S and E");
                    assert!(payload.len() > 2, "empty FU-A fragment");
                    if start {
                        assert!(partial.is_none(), "S bit inside a fragmented NAL unit");
                        partial = Some(vec![(indicator & 0xe0) | (fu_header & 0x1f)]);
                    }
                    let nal = partial.as_mut().expect("FU-A continuation without start");
                    nal.extend_from_slice(&payload[2..]);
                    if end {
                        nals.push(partial.take().unwrap());
                    }
                }
                1..=23 => {
                    assert!(partial.is_none(), "single NAL unit inside a fragmented one");
                    nals.push(payload.to_vec());
                }
                t => panic!("unexpected packet type {t}"),
            }
        }
        assert!(partial.is_none(), "unfinished FU-A");
        nals
    }

    /// A NAL unit with a valid header (F = 0, type 1..=23) and arbitrary body.
    fn nal_strategy() -> impl Strategy<Value = Vec<u8>> {
        (
            0u8..4,
            1u8..=23,
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40),
                proptest::collection::vec(any::<u8>(), 0..4000),
            ],
        )
            .prop_map(|(nri, t, body)| {
                let mut nal = vec![nri << 5 | t];
                nal.extend(body);
                nal
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn packetize_round_trip(
            access_units in proptest::collection::vec(
                proptest::collection::vec(nal_strategy(), 0..6), 1..4),
            mtu in 100usize..1600,
            initial_seq in prop_oneof![any::<u16>(), 65530u16..=65535],
            ssrc in any::<u32>(),
            payload_type in 0u8..128,
        ) {
            let mut packetizer = Packetizer::new(payload_type, ssrc, initial_seq, mtu);
            let mut seq = initial_seq;
            for (i, nals) in access_units.iter().enumerate() {
                let timestamp = 3600u32.wrapping_mul(i as u32).wrapping_add(ssrc);
                let refs: Vec<&[u8]> = nals.iter().map(|nal| &nal[..]).collect();
                let mut out = Vec::new();
                packetizer.packetize(&refs, timestamp, &mut out);

                let expected: Vec<Vec<u8>> =
                    nals.iter().filter(|nal| nal[0] & 0x1f != NAL_AUD).cloned().collect();
                if expected.is_empty() {
                    prop_assert!(out.is_empty());
                }
                let parsed: Vec<Parsed> = out.iter().map(|p| parse(p)).collect();
                for (j, p) in parsed.iter().enumerate() {
                    prop_assert!(out[j].len() <= mtu, "packet of {} > mtu {}", out[j].len(), mtu);
                    prop_assert_eq!(p.seq, seq);
                    seq = seq.wrapping_add(1);
                    prop_assert_eq!(p.marker, j + 1 == parsed.len());
                    prop_assert_eq!(p.timestamp, timestamp);
                    prop_assert_eq!(p.ssrc, ssrc);
                    prop_assert_eq!(p.payload_type, payload_type);
                }
                let payloads: Vec<&[u8]> = parsed.iter().map(|p| p.payload).collect();
                prop_assert_eq!(reassemble(&payloads), expected);
                prop_assert_eq!(packetizer.next_sequence_number(), seq);
            }
        }
    }

    #[test]
    fn packetize_exact_bytes() {
        // MTU 20: 8 bytes of payload, so a 13-byte NAL unit becomes FU-A fragments of 6 + 6 bytes.
        let mut packetizer = Packetizer::new(96, 0x0102_0304, 0xffff, 20);
        let aud = [0x09, 0xf0];
        let sps = [0x67, 1, 2, 3];
        let idr = [0x65, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
        let mut out = Vec::new();
        packetizer.packetize(&[&aud, &sps, &[], &idr], 0x1122_3344, &mut out);
        let header = |marker: u8, seq: u16| {
            let mut h = vec![0x80, marker << 7 | 96];
            h.extend(seq.to_be_bytes());
            h.extend([0x11, 0x22, 0x33, 0x44, 1, 2, 3, 4]);
            h
        };
        let expected: Vec<Vec<u8>> = vec![
            [header(0, 0xffff), sps.to_vec()].concat(),
            [header(0, 0), vec![0x7c, 0x85, 10, 11, 12, 13, 14, 15]].concat(),
            [header(1, 1), vec![0x7c, 0x45, 16, 17, 18, 19, 20, 21]].concat(),
        ];
        let out: Vec<Vec<u8>> = out.iter().map(|p| p.to_vec()).collect();
        assert_eq!(out, expected);
        assert_eq!(packetizer.next_sequence_number(), 2);

        // Only an AUD: nothing to send.
        let mut out = Vec::new();
        packetizer.packetize(&[&aud], 0, &mut out);
        assert!(out.is_empty());
        assert_eq!(packetizer.next_sequence_number(), 2);
    }

    #[test]
    fn packetize_tiny_mtu_is_raised() {
        let mut packetizer = Packetizer::new(96, 1, 0, 0);
        let mut out = Vec::new();
        packetizer.packetize(&[&[0x65, 1, 2, 3, 4]], 0, &mut out);
        assert!(out.iter().all(|p| p.len() == MIN_MTU));
        let payloads: Vec<&[u8]> = out.iter().map(|p| &p[12..]).collect();
        assert_eq!(reassemble(&payloads), vec![vec![0x65, 1, 2, 3, 4]]);
    }

    #[test]
    fn keyframe_start_single_nal() {
        assert!(!is_keyframe_start(&[]));
        assert!(is_keyframe_start(&[0x65, 0x88, 0x84]));
        assert!(is_keyframe_start(&[0x67, 0x4d, 0x00, 0x1e]));
        assert!(is_keyframe_start(&[0x25]), "IDR with NRI 1");
        assert!(!is_keyframe_start(&[0x68, 0xee, 0x3c, 0x80]), "PPS");
        assert!(!is_keyframe_start(&[0x41, 0x9a]), "non-IDR slice");
        assert!(!is_keyframe_start(&[0x06, 0x05]), "SEI");
        assert!(!is_keyframe_start(&[0x09, 0xf0]), "AUD");
    }

    #[test]
    fn keyframe_start_stap() {
        // STAP-A: [SPS, PPS], [SEI, IDR], [PPS, SEI], truncated, empty.
        assert!(is_keyframe_start(&[
            0x78, 0, 3, 0x67, 0x4d, 0x00, 0, 2, 0x68, 0xee
        ]));
        assert!(is_keyframe_start(&[
            0x78, 0, 2, 0x06, 0x05, 0, 2, 0x65, 0x88
        ]));
        assert!(!is_keyframe_start(&[0x78, 0, 2, 0x68, 0xee, 0, 1, 0x06]));
        assert!(!is_keyframe_start(&[0x78, 0, 9, 0x67, 0x4d]), "truncated");
        assert!(!is_keyframe_start(&[0x78, 0]));
        assert!(!is_keyframe_start(&[0x78]));
        assert!(
            is_keyframe_start(&[0x78, 0, 0, 0, 1, 0x67]),
            "empty unit first"
        );
        // STAP-B: DON first.
        assert!(is_keyframe_start(&[0x79, 0x12, 0x34, 0, 1, 0x67]));
        assert!(!is_keyframe_start(&[0x79, 0x12, 0x34, 0, 1, 0x41]));
    }

    #[test]
    fn keyframe_start_fu() {
        assert!(is_keyframe_start(&[0x7c, 0x85, 0xb8]), "FU-A start of IDR");
        assert!(is_keyframe_start(&[0x7c, 0x87, 0x4d]), "FU-A start of SPS");
        assert!(
            !is_keyframe_start(&[0x7c, 0x05, 0xb8]),
            "FU-A middle of IDR"
        );
        assert!(!is_keyframe_start(&[0x7c, 0x45, 0xb8]), "FU-A end of IDR");
        assert!(
            !is_keyframe_start(&[0x7c, 0x81, 0x9a]),
            "FU-A start of non-IDR"
        );
        assert!(
            !is_keyframe_start(&[0x7c, 0xc1, 0x9a]),
            "S and E on a non-IDR"
        );
        assert!(is_keyframe_start(&[0x7c, 0xa5, 0x9a]), "R bit set");
        assert!(!is_keyframe_start(&[0x7c]), "no FU header");
        assert!(
            is_keyframe_start(&[0x7d, 0x85, 0, 7, 0xb8]),
            "FU-B start of IDR"
        );
    }

    #[test]
    fn keyframe_start_annexb_tolerance() {
        // FU-A with type 0 whose data is an Annex B stream: SPS inside.
        assert!(is_keyframe_start(&[
            0x1c, 0x80, 0, 0, 1, 0x67, 0x4d, 0, 0, 0, 1, 0x68
        ]));
        assert!(!is_keyframe_start(&[0x1c, 0x80, 0, 0, 1, 0x41, 0x9a]));
        // The rebuilt NAL header (F = NRI = 0, type 0) is the first zero of the start code.
        assert!(is_keyframe_start(&[0x1c, 0x80, 0, 1, 0x65, 0x88]));
        // With NRI set the rebuilt header is not zero: no start code.
        assert!(!is_keyframe_start(&[0x7c, 0x80, 0, 1, 0x65, 0x88]));
        assert!(!is_keyframe_start(&[0x1c, 0x80, 1, 0x65, 0x88]));
        assert!(!is_keyframe_start(&[0x1c, 0x80, 0, 0, 0]));
        assert!(!is_keyframe_start(&[0x1c, 0x00, 0, 0, 1, 0x67, 0x4d]));
        // A single "NAL unit" that is an Annex B stream.
        assert!(is_keyframe_start(&[
            0, 0, 0, 1, 0x06, 5, 0, 0, 1, 0x65, 0x88
        ]));
        assert!(!is_keyframe_start(&[0, 0, 0, 1, 0x41, 0x9a]));
        assert!(!is_keyframe_start(&[0, 0]));
    }

    #[test]
    fn start_code_after_prefix() {
        assert_eq!(after_start_code(&[], &[0, 0, 1, 7]), Some(&[7][..]));
        assert_eq!(after_start_code(&[], &[0, 0, 0, 0, 1]), Some(&[][..]));
        assert_eq!(after_start_code(&[], &[0, 1, 7]), None);
        assert_eq!(after_start_code(&[0], &[0, 1, 7]), Some(&[7][..]));
        assert_eq!(after_start_code(&[0, 0], &[1, 7]), Some(&[7][..]));
        assert_eq!(after_start_code(&[0x60], &[0, 1, 7]), None);
        assert_eq!(after_start_code(&[0, 0], &[]), None);
        assert_eq!(after_start_code(&[], &[0, 0, 2]), None);
    }

    #[test]
    fn fmtp_matches_camera_sdp() {
        // SPS and PPS of the LV-IP22IR40DVBL in shared/corpus, whose SDP carries this fmtp.
        let sps = [
            0x67, 0x4d, 0x00, 0x2a, 0x95, 0xa8, 0x1e, 0x00, 0x89, 0xf9, 0x61, 0x00, 0x00, 0x03,
            0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x84,
        ];
        let pps = [0x68, 0xee, 0x3c, 0x80];
        assert_eq!(
            fmtp(&sps, &pps),
            "packetization-mode=1;profile-level-id=4D002A;\
             sprop-parameter-sets=Z00AKpWoHgCJ+WEAAAMAAQAAAwAyhA==,aO48gA=="
        );
        assert_eq!(
            fmtp(&[0x67, 0x42], &[0x68]),
            "packetization-mode=1;sprop-parameter-sets=Z0I=,aA=="
        );
    }
}
