//! H.264: Annex B byte streams, RTP depacketization and packetization (RFC 6184), parameter sets,
//! and keyframe detection on RTP payloads.
//!
//! [`Depacketizer`] turns the RTP packets of one track into access units (single NAL unit packets,
//! STAP-A and FU-A; `packetization-mode` 0 and 1), tolerating the ways cameras bend the format (see
//! its documentation). [`Packetizer`] does the reverse, fragmenting NAL units that do not fit the MTU
//! and optionally aggregating small ones.
//!
//! ```
//! use bytes::Bytes;
//! use sluice_media::{h264, AccessUnit, Depacketizer as _, Packetizer as _, RtpIn, Timestamp};
//!
//! let sps = Bytes::from_static(&[0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x03, 0xc5, 0x68, 0x40, 0, 0, 0x03,
//!     0, 0x40, 0, 0, 0x0c, 0x03, 0xc5, 0x8b, 0x92]);
//! let pps = Bytes::from_static(&[0x68, 0xcb, 0x8c, 0xb2]);
//! let idr = Bytes::from(vec![0x65; 3000]);
//! let au = AccessUnit {
//!     timestamp: Timestamp { ticks: 0, clock_rate: 90_000 },
//!     keyframe: true,
//!     discontinuity: false,
//!     data: vec![sps, pps, idr],
//! };
//! let mut packetizer = h264::Packetizer::new(96, 0x1234, 0, h264::DEFAULT_MTU);
//! let mut packets = Vec::new();
//! sluice_media::Packetizer::packetize(&mut packetizer, &au, 1000, &mut packets);
//!
//! let mut depacketizer = h264::Depacketizer::new(90_000, None).unwrap();
//! let mut out = Vec::new();
//! for packet in &packets {
//!     depacketizer.push(RtpIn::parse(packet).unwrap()).unwrap();
//!     while let Some(au) = depacketizer.pull() {
//!         out.push(au);
//!     }
//! }
//! assert_eq!(out.len(), 1);
//! assert_eq!(out[0].data, au.data);
//! assert!(out[0].keyframe);
//! assert_eq!(depacketizer.params().width, Some(240));
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::iter::FusedIterator;
use std::ops::Range;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::nal::{Nal as _, RefNal};
use h264_reader::rbsp::{BitRead, BitReaderError, Integer, Primitive};

use crate::codec::{SsrcLock, SsrcVerdict, Timeline};
use crate::frame::{AccessUnit, CodecParams, DepacketizeError, RtpIn, Timestamp};
use crate::rtp;
use crate::MediaError;

/// Default largest RTP packet, header included, that [`Packetizer`] produces: small enough for a
/// 1500-byte Ethernet MTU after IP, UDP and tunnelling overheads.
pub const DEFAULT_MTU: usize = 1400;

/// Smallest `mtu` [`Packetizer::new`] accepts: an RTP header, the two FU-A header bytes and one byte
/// of NAL unit data. Smaller values are raised to this.
pub const MIN_MTU: usize = rtp::HEADER_LEN + FU_HEADER_LEN + 1;

/// Largest `mtu` the H.264 and H.265 packetizers use; larger values are lowered to this. An
/// aggregation packet gives each NAL unit's size in 16 bits (RFC 6184 §5.7.1, RFC 7798 §4.4.2),
/// and no UDP datagram is larger anyway.
pub const MAX_MTU: usize = u16::MAX as usize;

/// Largest access unit, in bytes of NAL units, that the H.264 and H.265 depacketizers assemble; a
/// larger one (a camera that stopped sending marker bits and timestamps that change) is dropped
/// with an error rather than growing without bound.
pub const MAX_ACCESS_UNIT_BYTES: usize = 16 << 20;

/// Most NAL units one access unit may hold in the H.264 and H.265 depacketizers.
pub const MAX_ACCESS_UNIT_NALS: usize = 4096;

/// A NAL unit taken from a packet is a slice of the packet's memory, which stays allocated as long
/// as the NAL unit does; one shorter than this fraction of its packet's payload is copied out
/// instead. So the packets an access unit keeps alive add up to at most this many times its
/// NAL unit bytes, whatever the input: a 2-byte slice cut from a 64 KB STAP-A (size-0 entries
/// after it) or from an Annex B stream padded with zeros costs 2 bytes, not 64 KB, and
/// [`MAX_ACCESS_UNIT_NALS`] of them cannot pin 268 MB.
pub const MAX_RETAINED_PER_NAL_BYTE: usize = 4;

// ITU-T H.264 Table 7-1 and RFC 6184 §5.2 Table 1: NAL unit types used here.
pub(crate) const NAL_IDR: u8 = 5;
const NAL_SEI: u8 = 6;
pub(crate) const NAL_SPS: u8 = 7;
pub(crate) const NAL_PPS: u8 = 8;
pub(crate) const NAL_AUD: u8 = 9;
const STAP_A: u8 = 24;
const STAP_B: u8 = 25;
const MTAP16: u8 = 26;
const MTAP24: u8 = 27;
const FU_A: u8 = 28;
const FU_B: u8 = 29;

/// FU indicator and FU header (RFC 6184 §5.8).
const FU_HEADER_LEN: usize = 2;

/// How far behind the previous packet a sequence number may be and still count as a late
/// (reordered or duplicated) packet to drop, rather than as the sender starting over.
const MAX_MISORDER: i16 = 256;

/// How many consecutive packets of another payload type make a depacketizer adopt it (a camera
/// whose RTP payload type differs from its SDP's, or a stray first packet).
pub(crate) const FOREIGN_PAYLOAD_TYPE_RUN: u8 = 16;

/// The largest forward step, in seconds of the RTP clock, from one packet's timestamp to the
/// next's that the H.264 and H.265 depacketizers take as the stream running on; a larger one
/// flags the next access unit with [`AccessUnit::discontinuity`]. Intelbras DVRs stamp a frame
/// every few seconds hours into the future (CAMERA-QUIRKS #43); ten seconds is also retina's
/// default bound on forward jumps, and leaves room for slow frame rates.
///
/// Every depacketizer, audio included, uses the same bounds on an SSRC change: a new source whose
/// first timestamp is within them of the last one continues the timeline, any other restarts it
/// one frame after the last packet and flags a discontinuity.
pub const MAX_TIMESTAMP_STEP_FORWARD_SECS: u32 = 10;

/// The largest backward step, in seconds of the RTP clock, from one packet's timestamp to the
/// next's that the H.264 and H.265 depacketizers accept without flagging the next access unit
/// with [`AccessUnit::discontinuity`]: B-frames and the parameter sets of Reolink RLC-822A step
/// back by a few frames, an intermediate server re-stamping its input (retina#64) or an Intelbras
/// DVR by much more (CAMERA-QUIRKS #43).
pub const MAX_TIMESTAMP_STEP_BACKWARD_SECS: u32 = 2;

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
            let (nal, rest) = match memchr::memmem::find(self.rest, &[0, 0, 1]) {
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

/// Whether `data` holds an Annex B start code prefix (`00 00 01`).
pub(crate) fn has_start_code(data: &[u8]) -> bool {
    memchr::memmem::find(data, &[0, 0, 1]).is_some()
}

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

/// Packs the NAL units of access units into RTP packets (RFC 6184, packetization-mode 1).
///
/// A NAL unit that fits in one packet goes in a single NAL unit packet (§5.6); a larger one is
/// split into FU-A fragments (§5.8). The marker bit is set on the last packet of each access unit
/// (§5.1), and every packet takes the next sequence number. Aggregation (STAP-A, §5.7.1) is off
/// unless [`Packetizer::with_aggregation`] turns it on, so by default the packet carrying an
/// in-band SPS is the first of its keyframe's access unit.
#[derive(Debug, Clone)]
pub struct Packetizer {
    inner: NalPacketizer,
}

impl Packetizer {
    /// A packetizer for one RTP stream. `mtu` is the largest RTP packet to produce, 12-byte header
    /// included (see [`DEFAULT_MTU`]; values below [`MIN_MTU`] are raised to it, values above
    /// [`MAX_MTU`] lowered to it). Only the low seven bits of `payload_type` are used.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        Packetizer {
            inner: NalPacketizer::new::<H264Packing>(payload_type, ssrc, initial_seq, mtu),
        }
    }

    /// Turns STAP-A aggregation on or off: when on, consecutive NAL units of an access unit that
    /// fit in one packet together (SPS, PPS, SEI, small slices) share a STAP-A packet.
    pub fn with_aggregation(mut self, aggregate: bool) -> Self {
        self.inner.aggregate = aggregate;
        self
    }

    /// The sequence number the next packet will carry.
    pub fn next_sequence_number(&self) -> u16 {
        self.inner.next_sequence_number
    }

    /// Appends the RTP packets of one access unit, made of `nals` (NAL units without start codes,
    /// in decoding order) sampled at `timestamp`, to `out`.
    ///
    /// Access unit delimiters and empty NAL units are dropped; an access unit with nothing else
    /// produces no packet. All packets of the call share one buffer allocation.
    pub fn packetize(&mut self, nals: &[&[u8]], timestamp: u32, out: &mut Vec<Bytes>) {
        self.inner.packetize::<H264Packing>(nals, timestamp, out);
    }
}

impl crate::Packetizer for Packetizer {
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let nals: Vec<&[u8]> = au.data.iter().map(|nal| &nal[..]).collect();
        Packetizer::packetize(self, &nals, timestamp, out);
    }

    fn next_sequence_number(&self) -> u16 {
        self.inner.next_sequence_number
    }
}

/// H.264 framing for [`NalPacketizer`].
#[derive(Debug)]
struct H264Packing;

impl NalPacking for H264Packing {
    const NAL_HEADER_LEN: usize = 1;
    const FU_OVERHEAD: usize = FU_HEADER_LEN;
    const AGGREGATE_HEADER_LEN: usize = 1;

    fn keep(nal: &[u8]) -> bool {
        // AUDs carry nothing an RTP receiver needs: the timestamp and the marker bit delimit
        // access units (RFC 6184 §5.1).
        nal_type(nal).is_some_and(|t| t != NAL_AUD)
    }

    fn put_aggregate_header(buf: &mut BytesMut, nals: &[&[u8]]) {
        // RFC 6184 §5.7: F is the OR of the aggregated F bits, NRI their maximum.
        let headers = nals.iter().filter_map(|nal| nal.first().copied());
        let forbidden = headers.clone().fold(0, |f, h| f | (h & 0x80));
        let nri = headers.map(|h| h & 0x60).max().unwrap_or(0);
        buf.put_u8(forbidden | nri | STAP_A);
    }

    fn put_fu_header(buf: &mut BytesMut, nal_header: &[u8], start: bool, end: bool) {
        // RFC 6184 §5.8: the indicator keeps F and NRI of the NAL header, the FU header carries
        // its type; the NAL header byte itself is not sent.
        let header = nal_header.first().copied().unwrap_or_default();
        buf.put_u8((header & 0xe0) | FU_A);
        buf.put_u8(u8::from(start) << 7 | u8::from(end) << 6 | (header & 0x1f));
    }
}

/// How one NAL syntax (H.264 or H.265) frames NAL units into RTP payloads, for [`NalPacketizer`].
pub(crate) trait NalPacking {
    /// Length of the NAL unit header, which a fragmentation unit does not repeat.
    const NAL_HEADER_LEN: usize;
    /// Bytes before each fragment's data: payload header and FU header.
    const FU_OVERHEAD: usize;
    /// Length of an aggregation packet's own header (before the first NAL unit size).
    const AGGREGATE_HEADER_LEN: usize;
    /// Whether a NAL unit is sent at all.
    fn keep(nal: &[u8]) -> bool;
    /// Appends the header of an aggregation packet of `nals`.
    fn put_aggregate_header(buf: &mut BytesMut, nals: &[&[u8]]);
    /// Appends the headers in front of one fragment of a NAL unit whose header is `nal_header`.
    fn put_fu_header(buf: &mut BytesMut, nal_header: &[u8], start: bool, end: bool);
}

/// One RTP payload of an access unit, as [`NalPacketizer`] plans it (indexes into the kept NAL units).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Chunk {
    /// A single NAL unit packet.
    Single(usize),
    /// An aggregation packet of these NAL units.
    Aggregate(Range<usize>),
    /// Fragmentation units of a NAL unit too large for one packet.
    Fragmented(usize),
}

/// The packetizer shared by H.264 and H.265: single NAL unit packets, fragmentation units for NAL
/// units larger than the MTU, and optional aggregation packets.
#[derive(Debug, Clone)]
pub(crate) struct NalPacketizer {
    payload_type: u8,
    ssrc: u32,
    pub(crate) next_sequence_number: u16,
    max_payload: usize,
    pub(crate) aggregate: bool,
}

impl NalPacketizer {
    /// A packetizer producing packets of at most `mtu` bytes (raised to fit one byte of FU data,
    /// lowered to [`MAX_MTU`]).
    pub(crate) fn new<P: NalPacking>(
        payload_type: u8,
        ssrc: u32,
        initial_seq: u16,
        mtu: usize,
    ) -> Self {
        let min_mtu = rtp::HEADER_LEN + P::FU_OVERHEAD + 1;
        NalPacketizer {
            payload_type,
            ssrc,
            next_sequence_number: initial_seq,
            max_payload: mtu.clamp(min_mtu, MAX_MTU) - rtp::HEADER_LEN,
            aggregate: false,
        }
    }

    /// Appends the packets of one access unit to `out`; see [`Packetizer::packetize`].
    pub(crate) fn packetize<P: NalPacking>(
        &mut self,
        nals: &[&[u8]],
        timestamp: u32,
        out: &mut Vec<Bytes>,
    ) {
        let kept: Vec<&[u8]> = nals.iter().copied().filter(|nal| P::keep(nal)).collect();
        if kept.is_empty() {
            return;
        }
        let total: usize = self
            .chunks::<P>(&kept)
            .map(|c| self.chunk_len::<P>(&kept, &c))
            .sum();
        let mut buf = BytesMut::with_capacity(total);
        let mut chunks = self.chunks::<P>(&kept).peekable();
        while let Some(chunk) = chunks.next() {
            let last_chunk = chunks.peek().is_none();
            match chunk {
                Chunk::Single(i) => {
                    let nal = kept.get(i).copied().unwrap_or_default();
                    self.put_header(&mut buf, last_chunk, timestamp);
                    buf.put_slice(nal);
                    out.push(buf.split().freeze());
                }
                Chunk::Aggregate(range) => {
                    let group = kept.get(range).unwrap_or_default();
                    self.put_header(&mut buf, last_chunk, timestamp);
                    P::put_aggregate_header(&mut buf, group);
                    for nal in group {
                        // A NAL unit here fits in a packet of at most MAX_MTU bytes, so its
                        // length fits in 16 bits.
                        buf.put_u16(u16::try_from(nal.len()).unwrap_or(u16::MAX));
                        buf.put_slice(nal);
                    }
                    out.push(buf.split().freeze());
                }
                Chunk::Fragmented(i) => {
                    let nal = kept.get(i).copied().unwrap_or_default();
                    let (header, body) = nal.split_at(P::NAL_HEADER_LEN.min(nal.len()));
                    let mut fragments = body.chunks(self.max_payload - P::FU_OVERHEAD).peekable();
                    let mut first = true;
                    while let Some(fragment) = fragments.next() {
                        let end = fragments.peek().is_none();
                        self.put_header(&mut buf, last_chunk && end, timestamp);
                        P::put_fu_header(&mut buf, header, first, end);
                        buf.put_slice(fragment);
                        out.push(buf.split().freeze());
                        first = false;
                    }
                }
            }
        }
        debug_assert_eq!(buf.capacity(), 0, "chunk_len sized the buffer exactly");
    }

    /// The payloads one access unit's kept NAL units become, in order.
    fn chunks<'a, P: NalPacking>(&self, kept: &'a [&'a [u8]]) -> impl Iterator<Item = Chunk> + 'a {
        let max_payload = self.max_payload;
        let aggregate = self.aggregate;
        let mut i = 0;
        std::iter::from_fn(move || {
            let nal = kept.get(i)?;
            let start = i;
            i += 1;
            // A NAL unit larger than a packet is fragmented: RFC 6184 §5.8, RFC 7798 §4.4.3.
            if nal.len() > max_payload {
                return Some(Chunk::Fragmented(start));
            }
            // RFC 6184 §5.7.1, RFC 7798 §4.4.2: aggregation header, then (16-bit size, NAL unit)
            // for each of at least two NAL units.
            if aggregate {
                let mut size = P::AGGREGATE_HEADER_LEN + 2 + nal.len();
                while let Some(next) = kept.get(i) {
                    if size + 2 + next.len() > max_payload {
                        break;
                    }
                    size += 2 + next.len();
                    i += 1;
                }
                if i - start >= 2 {
                    return Some(Chunk::Aggregate(start..i));
                }
            }
            Some(Chunk::Single(start))
        })
    }

    /// Bytes of RTP packets (headers included) that `chunk` becomes.
    fn chunk_len<P: NalPacking>(&self, kept: &[&[u8]], chunk: &Chunk) -> usize {
        let len = |i: &usize| kept.get(*i).map_or(0, |nal| nal.len());
        match chunk {
            Chunk::Single(i) => rtp::HEADER_LEN + len(i),
            Chunk::Aggregate(range) => {
                let units: usize = range.clone().map(|i| 2 + len(&i)).sum();
                rtp::HEADER_LEN + P::AGGREGATE_HEADER_LEN + units
            }
            Chunk::Fragmented(i) => {
                let body = len(i).saturating_sub(P::NAL_HEADER_LEN);
                let fragments = body.div_ceil(self.max_payload - P::FU_OVERHEAD);
                fragments * (rtp::HEADER_LEN + P::FU_OVERHEAD) + body
            }
        }
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

/// Turns the RTP packets of an H.264 track into access units (RFC 6184).
///
/// Understood: single NAL unit packets (§5.6), STAP-A (§5.7.1) and FU-A (§5.8), i.e.
/// `packetization-mode` 0 and 1; the interleaved mode's STAP-B, MTAP and FU-B packets are errors.
/// NAL units of unfragmented packets are slices of the packet payload; each fragmented NAL unit is
/// copied once, into a buffer sized for the whole access unit.
///
/// Access units end at the marker bit (§5.1) or, for cameras that never set it (FLIR M400), when
/// the timestamp changes. Tolerated as well:
/// - parameter sets and SEI sent with the marker bit, at the picture's timestamp (H264DVR
///   firmware) or at the previous picture's timestamp (Reolink RLC-822A): an access unit only ends
///   once it holds a coded slice, and takes the timestamp of its slices;
/// - a single NAL unit packet or a reassembled FU-A that is really an Annex B byte stream of several
///   NAL units (Amatek AR-N3222F, gortsplib#199): split at the start codes;
/// - FU-A with both S and E set (CostarHD) or with the reserved bit set (Longse CMSEKL800); a
///   fragmented NAL unit whose end bit never comes ends at the next NAL unit or access unit;
/// - packets of another payload type than the track's first one (GeoVision GV-EBD4701 PT 50),
///   duplicated and late packets: dropped. A run of 16 packets of another payload type is taken
///   as the track's own, in case the first packet was the stray one; through
///   [`crate::codec::depacketizer_for`] the same run adopts a payload type that differs from the
///   SDP's, the filter there deciding. A packet repeating the previous sequence number with a new
///   timestamp is taken as the next one;
/// - an SSRC change: the access unit in progress is dropped and the next one flagged. When the new
///   source's first timestamp is within the jump bounds below of the last one (Uniview cameras
///   change SSRC at every GOP and keep their timestamps running), the timeline keeps extending;
///   otherwise it restarts one frame after the last packet. Audio depacketizers follow the same
///   rule, so the tracks stay in step. Packets of the previous SSRC that keep arriving between those of the new one
///   (a Reolink RLC-410's old session) are dropped and counted, not taken as more changes (the
///   stale SSRC tolerance of [`crate::codec`]);
/// - timestamps that jump (Intelbras DVRs, servers re-stamping their input): a step of more than
///   [`MAX_TIMESTAMP_STEP_FORWARD_SECS`] forward or [`MAX_TIMESTAMP_STEP_BACKWARD_SECS`] back
///   between packets flags the next access unit with [`AccessUnit::discontinuity`], and the
///   timeline follows the jump;
/// - garbage, empty or Annex B-framed `sprop-parameter-sets`, and SPS with trailing bytes.
///
/// A gap in sequence numbers (loss) drops the access unit in progress, and packets up to the next
/// picture start or marker bit; the next access unit out has [`AccessUnit::discontinuity`] set.
/// A packet that cannot be parsed has the same effect, and [`crate::Depacketizer::push`] returns
/// the error.
#[derive(Debug)]
pub struct Depacketizer {
    asm: Assembler<H264Params>,
}

impl Depacketizer {
    /// A depacketizer for a track with this RTP clock rate (90 000 for H.264) and SDP `a=fmtp`
    /// value. Parameter sets in `sprop-parameter-sets` are taken when they parse (garbage ones are
    /// skipped: the stream's own win anyway).
    ///
    /// Fails only for `packetization-mode=2`: the interleaved mode sends NAL units out of decoding
    /// order in packet types this depacketizer does not reorder (RFC 6184 §6.4).
    pub fn new(clock_rate: u32, fmtp: Option<&str>) -> Result<Self, MediaError> {
        let mut params = H264Params {
            params: CodecParams {
                codec: "H264".to_owned(),
                clock_rate,
                ..CodecParams::default()
            },
            sps: None,
            pps: Vec::new(),
        };
        let fmtp_params = fmtp.map(sluice_rtsp::sdp::parse_fmtp).unwrap_or_default();
        for (name, value) in &fmtp_params {
            // RFC 6184 §8.1: sprop-parameter-sets is a comma-separated list of base64 NAL units.
            if name.eq_ignore_ascii_case("sprop-parameter-sets") {
                for nal in sprop_nals(value) {
                    params.observe(&nal);
                }
            }
            if name.eq_ignore_ascii_case("packetization-mode") && value.trim() == "2" {
                return Err(MediaError::InvalidFormatParameters {
                    codec: "H264",
                    detail: "packetization-mode=2 (interleaved) is not supported".to_owned(),
                });
            }
        }
        Ok(Depacketizer {
            asm: Assembler::new(params, clock_rate),
        })
    }

    /// Ends the stream: an access unit whose last packet carried the marker bit but which was held
    /// back because it holds no coded slice (parameter sets alone) becomes ready to pull. An access
    /// unit whose end was never signalled is dropped.
    pub fn flush(&mut self) {
        self.asm.flush();
    }

    fn push_packet(&mut self, pkt: &RtpIn) -> Result<(), String> {
        if !self.asm.begin(pkt)? {
            return Ok(());
        }
        let payload = &pkt.payload;
        let Some(&header) = payload.first() else {
            // An empty payload carries nothing; its marker bit still counts.
            return self.asm.end(pkt.marker);
        };
        match header & 0x1f {
            // RFC 6184 §5.6: single NAL unit packet. Type 0 is undefined: kept only when the
            // payload turns out to be an Annex B stream.
            0..=23 => self.asm.nal(payload.clone())?,
            // RFC 6184 §5.7.1: STAP-A is the NAL header, then (16-bit size, NAL unit) repeated.
            STAP_A => {
                let mut pos = 1;
                while pos < payload.len() {
                    let Some(&[hi, lo]) = payload.get(pos..pos + 2) else {
                        return Err(format!(
                            "STAP-A: truncated NAL unit size at offset {pos} of {}",
                            payload.len()
                        ));
                    };
                    let size = usize::from(u16::from_be_bytes([hi, lo]));
                    let start = pos + 2;
                    let end = start + size;
                    if end > payload.len() {
                        return Err(format!(
                            "STAP-A: NAL unit of {size} bytes at offset {start} overruns the \
                             {}-byte payload",
                            payload.len()
                        ));
                    }
                    if size > 0 {
                        self.asm.nal(payload.slice(start..end))?;
                    }
                    pos = end;
                }
            }
            // RFC 6184 §5.8: FU indicator, FU header (S, E, R, type), fragment. Receivers ignore
            // R (Longse CMSEKL800 sets it); S and E together (CostarHD) is a whole NAL unit.
            FU_A => {
                let Some(&fu_header) = payload.get(1) else {
                    return Err("FU-A without an FU header".to_owned());
                };
                let data = payload.get(FU_HEADER_LEN..).unwrap_or_default();
                let end = fu_header & 0x40 != 0;
                if fu_header & 0x80 != 0 {
                    let nal_header = [(header & 0xe0) | (fu_header & 0x1f)];
                    self.asm.fragment_start(&nal_header, data)?;
                    if end {
                        self.asm.fragment_data(&[], true)?;
                    }
                } else {
                    self.asm.fragment_data(data, end)?;
                }
            }
            t @ (STAP_B | MTAP16 | MTAP24 | FU_B) => {
                let name = match t {
                    STAP_B => "STAP-B",
                    MTAP16 => "MTAP16",
                    MTAP24 => "MTAP24",
                    _ => "FU-B",
                };
                return Err(format!(
                    "{name} packet: the interleaved packetization mode is not supported"
                ));
            }
            // RFC 6184 §5.4: types 30 and 31 are reserved and ignored.
            _ => {}
        }
        self.asm.end(pkt.marker)
    }
}

impl crate::Depacketizer for Depacketizer {
    fn push(&mut self, pkt: RtpIn) -> Result<(), DepacketizeError> {
        self.push_packet(&pkt)
            .map_err(|what| self.asm.fail(&pkt, what))
    }

    fn pull(&mut self) -> Option<AccessUnit> {
        self.asm.pull()
    }

    fn params(&self) -> &CodecParams {
        &self.asm.codec.params
    }

    fn stale_ssrc_packets(&self) -> u64 {
        self.asm.stale_ssrc_packets()
    }
}

/// The NAL units of an `sprop-*` value: comma-separated base64, each possibly an Annex B stream
/// (start codes before or after the NAL unit, as GW Security cameras send). Undecodable and empty
/// entries are skipped.
pub(crate) fn sprop_nals(value: &str) -> Vec<Bytes> {
    // Cameras omit or truncate the padding; decode leniently.
    const LENIENT: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let mut nals = Vec::new();
    for item in value.split(',') {
        let Ok(decoded) = LENIENT.decode(item.trim()) else {
            continue;
        };
        let decoded = Bytes::from(decoded);
        for nal in split_annexb(&decoded) {
            nals.push(decoded.slice_ref(nal));
        }
    }
    nals
}

/// H.264 codec parameters: the SPS and PPSs last seen, and what the SPS says.
#[derive(Debug)]
struct H264Params {
    params: CodecParams,
    sps: Option<Bytes>,
    /// PPSs by `pic_parameter_set_id`, in arrival order.
    pps: Vec<(u32, Bytes)>,
}

impl H264Params {
    fn rebuild_config(&mut self) {
        self.params.config = self
            .sps
            .iter()
            .cloned()
            .chain(self.pps.iter().map(|(_, pps)| pps.clone()))
            .collect();
    }
}

impl NalCodec for H264Params {
    const NAME: &'static str = "H264";

    fn is_vcl(nal: &[u8]) -> bool {
        nal_type(nal).is_some_and(is_vcl)
    }

    fn is_keyframe(nal: &[u8]) -> bool {
        nal_type(nal) == Some(NAL_IDR)
    }

    fn starts_access_unit(nal: &[u8]) -> bool {
        // ITU-T H.264 §7.4.1.2.3: an access unit begins with an AUD, SPS, PPS, SEI or types
        // 14..=18, else with the first slice of its primary picture.
        match nal_type(nal) {
            Some(1..=5) => starts_picture(nal),
            Some(NAL_SEI..=NAL_AUD | 14..=18) => true,
            _ => false,
        }
    }

    fn is_plausible(nal: &[u8]) -> bool {
        // Type 0 is unspecified: in a split Annex B stream it is what remains of a start code.
        // Types 24..=31 are RTP payload structures (RFC 6184 §5.2), never NAL units to decode.
        nal_type(nal).is_some_and(|t| t != 0 && t < STAP_A)
    }

    fn observe(&mut self, nal: &Bytes) {
        match nal_type(nal) {
            Some(NAL_SPS) => {
                if self.sps.as_ref() == Some(nal) {
                    return;
                }
                if let Ok(info) = parse_sps(nal) {
                    info.apply(&mut self.params);
                }
                self.sps = Some(nal.clone());
                // A new SPS starts a new set of parameters; its PPSs follow it.
                self.pps.clear();
                self.rebuild_config();
            }
            Some(NAL_PPS) => {
                // ITU-T H.264 §7.3.2.2: pic_parameter_set_id is the first ue(v).
                let id = RbspBits::new(nal.get(1..).unwrap_or_default())
                    .ue()
                    .unwrap_or(0);
                match self.pps.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, pps)) if pps == nal => return,
                    Some((_, pps)) => *pps = nal.clone(),
                    // At most 256 ids: the list stays small.
                    None if id <= 255 => self.pps.push((id, nal.clone())),
                    None => return,
                }
                self.rebuild_config();
            }
            _ => {}
        }
    }
}

/// What a sequence parameter set says of the pictures.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpsInfo {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) profile: String,
    pub(crate) level: String,
    pub(crate) frame_rate: Option<f64>,
}

impl SpsInfo {
    /// Copies these facts into `params` (the stream wins over the SDP).
    pub(crate) fn apply(self, params: &mut CodecParams) {
        params.width = Some(self.width);
        params.height = Some(self.height);
        params.profile = Some(self.profile);
        params.level = Some(self.level);
        params.frame_rate = self.frame_rate;
    }
}

/// Parses an H.264 SPS NAL unit (header included), ignoring bytes after its RBSP trailing bits
/// (Reolink cameras send a stray extra byte, retina#102) and a `level_idc` too low for the picture
/// size (a 1280x720 stream claiming level 3.0, `sdp/rtspserver-multiple-s-lines-1.sdp`).
pub(crate) fn parse_sps(nal: &[u8]) -> Result<SpsInfo, String> {
    let parse =
        |nal: &[u8]| SeqParameterSet::from_bits(Tolerant(RefNal::new(nal, &[], true).rbsp_bits()));
    let sps = match parse(nal) {
        Ok(sps) => sps,
        Err(e) => {
            // h264-reader checks the picture size against the level's limit (ITU-T H.264 Table
            // A-1); try again as level 6.2, the largest, keeping the level the SPS states.
            let mut relaxed = nal.to_vec();
            let Some(level @ &mut (0..=61)) = relaxed.get_mut(3) else {
                return Err(format!("{e:?}"));
            };
            *level = 62;
            let mut sps = parse(&relaxed).map_err(|_| format!("{e:?}"))?;
            sps.level_idc = nal.get(3).copied().unwrap_or_default();
            sps
        }
    };
    let (width, height) = sps.pixel_dimensions().map_err(|e| format!("{e:?}"))?;
    if width == 0 || height == 0 {
        return Err(format!("picture size {width}x{height}"));
    }
    let profile_idc = u8::from(sps.profile_idc);
    // ITU-T H.264 Annex A.2: profile_idc, refined by the constraint flags for Constrained Baseline.
    let profile = match profile_idc {
        66 if sps.constraint_flags.flag1() => "Constrained Baseline".to_owned(),
        66 => "Baseline".to_owned(),
        77 => "Main".to_owned(),
        88 => "Extended".to_owned(),
        100 => "High".to_owned(),
        110 => "High 10".to_owned(),
        122 => "High 4:2:2".to_owned(),
        244 => "High 4:4:4 Predictive".to_owned(),
        44 => "CAVLC 4:4:4 Intra".to_owned(),
        83 => "Scalable Baseline".to_owned(),
        86 => "Scalable High".to_owned(),
        118 => "Multiview High".to_owned(),
        128 => "Stereo High".to_owned(),
        other => other.to_string(),
    };
    // ITU-T H.264 Annex A.3: level_idc is ten times the level; 1b is 11 with constraint_set3_flag
    // in Baseline, Main and Extended, or 9.
    let level_idc = sps.level_idc;
    let level = if level_idc == 9
        || (level_idc == 11 && sps.constraint_flags.flag3() && matches!(profile_idc, 66 | 77 | 88))
    {
        "1b".to_owned()
    } else {
        level_string(u32::from(level_idc))
    };
    let frame_rate = sps.fps().filter(|fps| fps.is_finite() && *fps > 0.0);
    Ok(SpsInfo {
        width,
        height,
        profile,
        level,
        frame_rate,
    })
}

/// `"4.1"` for 41, `"4"` for 40.
pub(crate) fn level_string(tenths: u32) -> String {
    match (tenths / 10, tenths % 10) {
        (major, 0) => major.to_string(),
        (major, minor) => format!("{major}.{minor}"),
    }
}

/// An h264-reader bit reader that does not insist the RBSP ends right after its trailing bits.
struct Tolerant<R>(R);

impl<R: BitRead> BitRead for Tolerant<R> {
    fn read_ue(&mut self, name: &'static str) -> Result<u32, BitReaderError> {
        self.0.read_ue(name)
    }

    fn read_se(&mut self, name: &'static str) -> Result<i32, BitReaderError> {
        self.0.read_se(name)
    }

    fn read_bit(&mut self, name: &'static str) -> Result<bool, BitReaderError> {
        self.0.read_bit(name)
    }

    fn read<const BITS: u32, I: Integer>(
        &mut self,
        name: &'static str,
    ) -> Result<I, BitReaderError> {
        self.0.read::<BITS, I>(name)
    }

    fn read_var<I: Integer>(
        &mut self,
        bit_count: u32,
        name: &'static str,
    ) -> Result<I, BitReaderError> {
        self.0.read_var(bit_count, name)
    }

    fn read_to<V: Primitive>(&mut self, name: &'static str) -> Result<V, BitReaderError> {
        self.0.read_to(name)
    }

    fn skip(&mut self, bit_count: u32, name: &'static str) -> Result<(), BitReaderError> {
        self.0.skip(bit_count, name)
    }

    fn byte_aligned(&self) -> bool {
        self.0.byte_aligned()
    }

    fn has_more_rbsp_data(&mut self, name: &'static str) -> Result<bool, BitReaderError> {
        self.0.has_more_rbsp_data(name)
    }

    fn finish_rbsp(self) -> Result<(), BitReaderError> {
        Ok(())
    }

    fn finish_sei_payload(self) -> Result<(), BitReaderError> {
        self.0.finish_sei_payload()
    }
}

/// Reads the bits of an RBSP from NAL unit bytes, dropping emulation prevention bytes (ITU-T H.264
/// §7.4.1, H.265 §7.4.2). Every read returns `None` past the end.
#[derive(Debug, Clone)]
pub(crate) struct RbspBits<'a> {
    data: &'a [u8],
    pos: usize,
    zeros: u8,
    current: u8,
    left: u32,
}

impl<'a> RbspBits<'a> {
    /// A reader of `data`: NAL unit bytes after the NAL unit header.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        RbspBits {
            data,
            pos: 0,
            zeros: 0,
            current: 0,
            left: 0,
        }
    }

    fn next_byte(&mut self) -> Option<u8> {
        let mut byte = *self.data.get(self.pos)?;
        self.pos += 1;
        // emulation_prevention_three_byte follows two zero bytes.
        if self.zeros >= 2 && byte == 3 {
            self.zeros = 0;
            byte = *self.data.get(self.pos)?;
            self.pos += 1;
        }
        self.zeros = if byte == 0 {
            self.zeros.saturating_add(1)
        } else {
            0
        };
        Some(byte)
    }

    /// One bit, `u(1)`.
    pub(crate) fn bit(&mut self) -> Option<bool> {
        if self.left == 0 {
            self.current = self.next_byte()?;
            self.left = 8;
        }
        self.left -= 1;
        Some((self.current >> self.left) & 1 == 1)
    }

    /// `n` bits (at most 32), most significant first, `u(n)`.
    pub(crate) fn bits(&mut self, n: u32) -> Option<u32> {
        if n > 32 {
            return None;
        }
        let mut value = 0u64;
        for _ in 0..n {
            value = value << 1 | u64::from(self.bit()?);
        }
        u32::try_from(value).ok()
    }

    /// Skips `n` bits.
    pub(crate) fn skip(&mut self, n: u32) -> Option<()> {
        for _ in 0..n {
            self.bit()?;
        }
        Some(())
    }

    /// An unsigned Exp-Golomb code, `ue(v)` (ITU-T H.264 §9.1).
    pub(crate) fn ue(&mut self) -> Option<u32> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let rest = self.bits(zeros)?;
        u32::try_from((1u64 << zeros) - 1 + u64::from(rest)).ok()
    }

    /// A signed Exp-Golomb code, `se(v)` (ITU-T H.264 §9.1.1).
    pub(crate) fn se(&mut self) -> Option<i64> {
        let k = i64::from(self.ue()?);
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }
}

/// What the access-unit assembler shared by H.264 and H.265 needs to know of a NAL syntax, and the
/// codec's parameter tracking.
pub(crate) trait NalCodec: Send {
    /// Codec name for errors.
    const NAME: &'static str;
    /// Whether the NAL unit is a coded slice.
    fn is_vcl(nal: &[u8]) -> bool;
    /// Whether the NAL unit makes its access unit a keyframe.
    fn is_keyframe(nal: &[u8]) -> bool;
    /// Whether the NAL unit can be the first of an access unit (used to resynchronize after loss).
    fn starts_access_unit(nal: &[u8]) -> bool;
    /// Whether a NAL unit is worth keeping (not a leftover of a start code, not a bare header).
    fn is_plausible(nal: &[u8]) -> bool;
    /// Sees each NAL unit that enters an access unit: parameter sets update the codec parameters.
    fn observe(&mut self, nal: &Bytes);
}

/// The previous accepted packet.
#[derive(Debug, Clone, Copy)]
struct LastPacket {
    seq: u16,
    ts: u32,
    marker: bool,
}

/// Assembles access units from the NAL units and fragments of an H.264 or H.265 RTP stream: packet
/// admission (payload type, SSRC, sequence numbers), access unit boundaries, fragment reassembly,
/// Annex B splitting, loss handling. The codec depacketizers parse payloads and feed it.
#[derive(Debug)]
pub(crate) struct Assembler<C> {
    pub(crate) codec: C,
    clock_rate: u32,
    payload_type: Option<u8>,
    /// Consecutive packets of another payload type: the type and the count.
    foreign_run: Option<(u8, u8)>,
    ssrc: SsrcLock,
    last: Option<LastPacket>,
    /// Extended timestamps, continued or restarted across SSRC changes.
    timeline: Timeline,
    packet_ts: u32,
    packet_ticks: i64,
    /// Payload length of the current packet: what a slice of it keeps allocated.
    packet_len: usize,
    /// The access unit in progress.
    nals: Vec<Bytes>,
    au_bytes: usize,
    /// RTP timestamp of the access unit in progress (`None` while there is none).
    au_ts: Option<u32>,
    au_ticks: i64,
    has_vcl: bool,
    keyframe: bool,
    /// The fragmented NAL unit in progress (header included) and, past it, spare capacity for the
    /// rest of the access unit's fragments.
    fragment: BytesMut,
    in_fragment: bool,
    fragmented_bytes: usize,
    /// Bytes fragmented in the previous access unit: how much to reserve at once.
    fragment_hint: usize,
    ready: VecDeque<AccessUnit>,
    discontinuity: bool,
    /// After loss or an error: drop NAL units until one that can start an access unit, a marker
    /// bit, or a new timestamp.
    resync: bool,
    /// Some NAL unit was accepted since the stream began.
    started: bool,
}

impl<C: NalCodec> Assembler<C> {
    pub(crate) fn new(codec: C, clock_rate: u32) -> Self {
        Assembler {
            codec,
            clock_rate,
            payload_type: None,
            foreign_run: None,
            ssrc: SsrcLock::default(),
            last: None,
            timeline: Timeline::new(clock_rate),
            packet_ts: 0,
            packet_ticks: 0,
            packet_len: 0,
            nals: Vec::new(),
            au_bytes: 0,
            au_ts: None,
            au_ticks: 0,
            has_vcl: false,
            keyframe: false,
            fragment: BytesMut::new(),
            in_fragment: false,
            fragmented_bytes: 0,
            fragment_hint: 0,
            ready: VecDeque::with_capacity(2),
            discontinuity: false,
            resync: false,
            started: false,
        }
    }

    /// Admits a packet: `Ok(false)` when it is to be dropped unseen (another payload type, a
    /// duplicate, a late packet). Handles loss, SSRC changes and timestamp-delimited access units.
    pub(crate) fn begin(&mut self, pkt: &RtpIn) -> Result<bool, String> {
        // GeoVision GV-EBD4701 follows each IDR with a PT 50 packet repeating the last sequence
        // number: a track has one payload type, the first one seen. Only a long run of another
        // one (the first packet was the stray one) moves the track to it.
        match self.payload_type {
            Some(pt) if pt != pkt.payload_type => {
                let run = match self.foreign_run {
                    Some((foreign, n)) if foreign == pkt.payload_type => n.saturating_add(1),
                    _ => 1,
                };
                self.foreign_run = Some((pkt.payload_type, run));
                if run < FOREIGN_PAYLOAD_TYPE_RUN {
                    return Ok(false);
                }
                self.abandon();
                self.last = None;
                self.payload_type = Some(pkt.payload_type);
            }
            Some(_) => {}
            None => self.payload_type = Some(pkt.payload_type),
        }
        self.foreign_run = None;
        match self.ssrc.check(pkt.ssrc) {
            SsrcVerdict::Current => {}
            // CAMERA-QUIRKS #44: the previous source still sending while the new one is (the old
            // session of a Reolink RLC-410): taking each of its packets as another change would
            // drop every access unit in progress.
            SsrcVerdict::Stale => return Ok(false),
            SsrcVerdict::Changed => {
                // A new source (Uniview cameras change SSRC at every GOP): its sequence numbers
                // start afresh; its timestamps continue the timeline unless they jump (the rule
                // of `Timeline`, shared with audio).
                self.abandon();
                self.last = None;
                self.timeline.source_changed();
            }
        }
        let mut lost = false;
        if let Some(last) = self.last {
            // RFC 3550 §A.1: sequence numbers count packets modulo 2^16.
            match pkt.sequence_number.wrapping_sub(last.seq) as i16 {
                1 => {}
                0 if pkt.timestamp == last.ts => return Ok(false),
                // The same sequence number with a new timestamp: a sender bug (seen with FLIR
                // M400 traffic), not loss.
                0 => {}
                d if d < 0 && d > -MAX_MISORDER => return Ok(false),
                _ => lost = true,
            }
        }
        let point = self.timeline.extend(pkt.timestamp);
        let ticks = point.ticks;
        // After an SSRC change `abandon` has flagged the next access unit already.
        let jumped = self.last.is_some() && point.jumped;
        if lost {
            self.abandon();
        } else if self.resync && self.last.is_some_and(|l| l.marker || l.ts != pkt.timestamp) {
            self.resync = false;
        }
        self.last = Some(LastPacket {
            seq: pkt.sequence_number,
            ts: pkt.timestamp,
            marker: pkt.marker,
        });
        self.packet_ts = pkt.timestamp;
        self.packet_ticks = ticks;
        self.packet_len = pkt.payload.len();
        if self.au_ts.is_some_and(|ts| ts != pkt.timestamp) {
            // RFC 6184 §5.1, RFC 7798 §4.1: the packets of an access unit share one timestamp, so
            // a new one ends it even without a marker bit (FLIR M400). No sequence gap, so a
            // fragment still open is whole: its end bit was left off.
            self.finish_fragment()?;
            if self.has_vcl {
                self.emit();
            }
            // Otherwise only parameter sets or SEI came, with the previous picture's timestamp
            // (Reolink RLC-822A): they belong to the picture that follows.
        }
        if jumped {
            // CAMERA-QUIRKS #43: flag the access unit this packet belongs to, not the one that
            // the new timestamp has just ended.
            self.discontinuity = true;
        }
        Ok(true)
    }

    /// Packets dropped by the stale SSRC tolerance so far.
    pub(crate) fn stale_ssrc_packets(&self) -> u64 {
        self.ssrc.stale_packets()
    }

    /// Adds a whole NAL unit from the current packet.
    pub(crate) fn nal(&mut self, nal: Bytes) -> Result<(), String> {
        // A new NAL unit while a fragmented one is open: the sender left off the end bit.
        self.finish_fragment()?;
        self.add(nal)
    }

    /// Starts a fragmented NAL unit with its rebuilt header and first fragment.
    pub(crate) fn fragment_start(&mut self, header: &[u8], data: &[u8]) -> Result<(), String> {
        self.finish_fragment()?;
        if self.resync {
            let mut probe = [0u8; 8];
            let mut n = 0;
            for (slot, byte) in probe.iter_mut().zip(header.iter().chain(data)) {
                *slot = *byte;
                n += 1;
            }
            if !C::starts_access_unit(probe.get(..n).unwrap_or_default()) {
                return Ok(());
            }
            self.resync = false;
        }
        let len = header.len() + data.len();
        self.check_room(len)?;
        let want = self
            .fragment_hint
            .saturating_sub(self.fragmented_bytes)
            .max(len);
        self.fragment.reserve(want);
        self.fragment.extend_from_slice(header);
        self.fragment.extend_from_slice(data);
        self.in_fragment = true;
        self.started = true;
        self.touch();
        Ok(())
    }

    /// Continues the fragmented NAL unit in progress; `end` completes it.
    pub(crate) fn fragment_data(&mut self, data: &[u8], end: bool) -> Result<(), String> {
        if !self.in_fragment {
            // Its start was dropped while resynchronizing, or the stream was joined mid-NAL.
            if self.resync || !self.started {
                return Ok(());
            }
            return Err("fragment continues a NAL unit that was never started".to_owned());
        }
        self.check_room(data.len())?;
        self.fragment.extend_from_slice(data);
        if end {
            self.finish_fragment()?;
        }
        Ok(())
    }

    /// Finishes the packet: a marker bit ends the access unit.
    pub(crate) fn end(&mut self, marker: bool) -> Result<(), String> {
        if !marker {
            return Ok(());
        }
        // RFC 6184 §5.1, RFC 7798 §4.1: the marker bit is set on the last packet of an access
        // unit. A fragment still open was sent without its end bit.
        self.finish_fragment()?;
        // Parameter sets and SEI sent with the marker bit (H264DVR, Reolink) do not end an access
        // unit: it ends with its pictures.
        if self.has_vcl {
            self.emit();
        }
        self.resync = false;
        Ok(())
    }

    /// Drops the access unit in progress after an error in `pkt`, and describes the error.
    pub(crate) fn fail(&mut self, pkt: &RtpIn, what: String) -> DepacketizeError {
        self.abandon();
        DepacketizeError {
            codec: C::NAME,
            seq: pkt.sequence_number,
            ts: pkt.timestamp,
            what,
        }
    }

    /// End of stream: completes an access unit held back only for lack of a coded slice.
    pub(crate) fn flush(&mut self) {
        if !self.nals.is_empty() && !self.in_fragment && self.last.is_some_and(|l| l.marker) {
            self.emit();
        }
    }

    pub(crate) fn pull(&mut self) -> Option<AccessUnit> {
        self.ready.pop_front()
    }

    fn add(&mut self, nal: Bytes) -> Result<(), String> {
        // Start codes never occur inside a NAL unit (emulation prevention, ITU-T H.264 §7.4.1):
        // one here means the sender packed an Annex B stream where a NAL unit belongs.
        if has_start_code(&nal) {
            for piece in split_annexb(&nal) {
                self.add_one(nal.slice_ref(piece))?;
            }
            return Ok(());
        }
        self.add_one(nal)
    }

    fn add_one(&mut self, nal: Bytes) -> Result<(), String> {
        if !C::is_plausible(&nal) {
            return Ok(());
        }
        if self.resync {
            if !C::starts_access_unit(&nal) {
                return Ok(());
            }
            self.resync = false;
        }
        self.check_room(nal.len())?;
        // A small slice of a large packet would keep all of it allocated (see
        // MAX_RETAINED_PER_NAL_BYTE); a reassembled NAL unit lives in the access unit's own buffer.
        let nal = if nal.len().saturating_mul(MAX_RETAINED_PER_NAL_BYTE) < self.packet_len {
            Bytes::copy_from_slice(&nal)
        } else {
            nal
        };
        self.codec.observe(&nal);
        self.has_vcl |= C::is_vcl(&nal);
        self.keyframe |= C::is_keyframe(&nal);
        self.au_bytes += nal.len();
        self.nals.push(nal);
        self.started = true;
        self.touch();
        Ok(())
    }

    fn finish_fragment(&mut self) -> Result<(), String> {
        if !self.in_fragment {
            return Ok(());
        }
        self.in_fragment = false;
        let nal = self.fragment.split().freeze();
        self.fragmented_bytes += nal.len();
        self.add(nal)
    }

    /// Errors when `more` bytes (or one more NAL unit) would exceed the access unit limits.
    fn check_room(&self, more: usize) -> Result<(), String> {
        if self.nals.len() >= MAX_ACCESS_UNIT_NALS {
            return Err(format!(
                "access unit has more than {MAX_ACCESS_UNIT_NALS} NAL units"
            ));
        }
        let total = self
            .au_bytes
            .saturating_add(self.fragment.len())
            .saturating_add(more);
        if total > MAX_ACCESS_UNIT_BYTES {
            return Err(format!("access unit exceeds {MAX_ACCESS_UNIT_BYTES} bytes"));
        }
        Ok(())
    }

    /// The access unit in progress takes the current packet's timestamp.
    fn touch(&mut self) {
        self.au_ts = Some(self.packet_ts);
        self.au_ticks = self.packet_ticks;
    }

    fn emit(&mut self) {
        let count = self.nals.len();
        let data = std::mem::replace(&mut self.nals, Vec::with_capacity(count));
        self.ready.push_back(AccessUnit {
            timestamp: Timestamp {
                ticks: self.au_ticks,
                clock_rate: self.clock_rate,
            },
            keyframe: self.keyframe,
            discontinuity: std::mem::take(&mut self.discontinuity),
            data,
        });
        self.fragment_hint = self.fragmented_bytes.min(MAX_ACCESS_UNIT_BYTES);
        self.reset_au();
    }

    /// Drops the access unit in progress: the next one out is flagged, and NAL units are skipped
    /// until one can start an access unit.
    fn abandon(&mut self) {
        self.reset_au();
        self.discontinuity = true;
        self.resync = true;
    }

    fn reset_au(&mut self) {
        self.nals.clear();
        self.au_bytes = 0;
        self.au_ts = None;
        self.has_vcl = false;
        self.keyframe = false;
        self.in_fragment = false;
        self.fragment.clear();
        self.fragmented_bytes = 0;
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

/// True when this RTP payload carries only NAL units that may come ahead of a keyframe's slices in
/// its access unit: SPS, PPS, SEI or an access unit delimiter (single NAL unit packets, or a STAP-A
/// holding nothing else).
///
/// A GOP cache that restarts at a keyframe keeps such a run of packets just before the keyframe's
/// slices, whatever their timestamp: Reolink RLC-822A cameras send the SPS and PPS with the
/// timestamp of the previous frame (CAMERA-QUIRKS #42).
pub fn is_prelude(rtp_payload: &[u8]) -> bool {
    let Some(&header) = rtp_payload.first() else {
        return false;
    };
    let prelude_nal = |t: u8| matches!(t, NAL_SPS | NAL_PPS | NAL_SEI | NAL_AUD);
    match header & 0x1f {
        // RFC 6184 §5.7.1: STAP-A.
        STAP_A => {
            let mut nals = aggregated_nals(rtp_payload.get(1..)).peekable();
            nals.peek().is_some() && nals.all(|n| nal_type(n).is_some_and(prelude_nal))
        }
        t => prelude_nal(t),
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
pub(crate) fn aggregated_nals(body: Option<&[u8]>) -> impl Iterator<Item = &[u8]> {
    let mut rest = body.unwrap_or_default();
    std::iter::from_fn(move || {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let nal = tail.get(..len)?;
        rest = tail.get(len..)?;
        Some(nal)
    })
}

/// The `profile-level-id` of an SPS (header included): RFC 6184 §8.1, profile_idc, the constraint
/// flags byte and level_idc in upper-case hex; `None` when the SPS is too short.
pub fn profile_level_id(sps: &[u8]) -> Option<String> {
    let &[profile, constraints, level] = sps.get(1..4)? else {
        return None;
    };
    Some(format!("{profile:02X}{constraints:02X}{level:02X}"))
}

/// The SDP `a=fmtp` parameters for an H.264 stream sent by [`Packetizer`]:
/// `packetization-mode=1;profile-level-id=XXXXXX;sprop-parameter-sets=<SPS>,<PPS>`.
///
/// `sps` and `pps` are whole NAL units, header included. `profile-level-id` (upper-case hex of SPS
/// bytes 1 to 3) is left out when the SPS is too short to hold it.
pub fn fmtp(sps: &[u8], pps: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = String::from("packetization-mode=1");
    if let Some(id) = profile_level_id(sps) {
        let _ = write!(out, ";profile-level-id={id}");
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
    fn packetize_huge_mtu_is_lowered() {
        use crate::Depacketizer as _;
        let mut packetizer = Packetizer::new(96, 1, 0, 200_000).with_aggregation(true);
        let nals: Vec<Vec<u8>> = vec![
            [vec![0x67], vec![1; 30_000]].concat(),
            [vec![0x68], vec![2; 30_000]].concat(),
            [vec![0x65], vec![3; 70_000]].concat(),
        ];
        let refs: Vec<&[u8]> = nals.iter().map(|n| &n[..]).collect();
        let mut out = Vec::new();
        packetizer.packetize(&refs, 0, &mut out);
        assert!(out.iter().all(|p| p.len() <= MAX_MTU));
        let mut depacketizer = Depacketizer::new(90_000, None).unwrap();
        for packet in &out {
            depacketizer.push(RtpIn::parse(packet).unwrap()).unwrap();
        }
        let au = depacketizer.pull().unwrap();
        let got: Vec<Vec<u8>> = au.data.iter().map(|n| n.to_vec()).collect();
        assert_eq!(got, nals);
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

    #[test]
    fn rbsp_bits_skip_emulation_prevention() {
        // 00 00 03 01: the 03 is dropped, so the bits read are 00 00 01.
        let mut bits = RbspBits::new(&[0x00, 0x00, 0x03, 0x01, 0xa0]);
        assert_eq!(bits.bits(24), Some(1));
        // 0xa0 = 1010 0000: ue "1" = 0, then ue "010" = 1, then "0000" runs out.
        assert_eq!(bits.ue(), Some(0));
        assert_eq!(bits.ue(), Some(1));
        assert_eq!(bits.ue(), None);
        let mut bits = RbspBits::new(&[0b0010_0011, 0b0000_0000]);
        assert_eq!(bits.se(), Some(2), "00100: ue 3 is se 2");
        assert_eq!(bits.se(), Some(-1), "011: ue 2 is se -1");
        assert_eq!(
            RbspBits::new(&[0; 8]).ue(),
            None,
            "more than 31 leading zeros"
        );
        assert_eq!(RbspBits::new(&[0xff; 8]).bits(33), None);
        assert_eq!(RbspBits::new(&[0xff; 8]).bits(32), Some(u32::MAX));
    }

    #[test]
    fn sprop_nals_tolerate_framing() {
        let hex = |nals: Vec<Bytes>| -> Vec<Vec<u8>> { nals.iter().map(|n| n.to_vec()).collect() };
        // GW Security: each NAL unit followed by a start code.
        assert_eq!(
            hex(sprop_nals("Z00AHpWoLQ9puAgICBAAAAAB,aO48gAAAAAE=")),
            vec![
                vec![0x67, 0x4d, 0, 0x1e, 0x95, 0xa8, 0x2d, 0x0f, 0x69, 0xb8, 8, 8, 8, 0x10],
                vec![0x68, 0xee, 0x3c, 0x80],
            ]
        );
        // Start code first, no padding, spaces, empty and undecodable entries.
        assert_eq!(
            hex(sprop_nals(" AAAAAWjuOIA ,,%%%,")),
            vec![vec![0x68, 0xee, 0x38, 0x80]]
        );
        assert!(sprop_nals("").is_empty());
        assert!(sprop_nals("AAAAAA==").is_empty());
    }

    #[test]
    fn level_strings() {
        assert_eq!(level_string(41), "4.1");
        assert_eq!(level_string(40), "4");
        assert_eq!(level_string(51), "5.1");
    }

    #[test]
    fn packetize_aggregates_small_nals() {
        let mut packetizer = Packetizer::new(96, 7, 10, 40).with_aggregation(true);
        let sps = [0x67, 1, 2, 3];
        let pps = [0x68, 4];
        let sei = [0x06, 5, 6];
        let idr = [0x25; 40];
        let mut out = Vec::new();
        packetizer.packetize(&[&sps, &pps, &sei, &idr], 9, &mut out);
        let payloads: Vec<&[u8]> = out.iter().map(|p| &p[12..]).collect();
        // NRI is the maximum of the aggregated ones (3, from the SPS).
        assert_eq!(
            payloads[0],
            &[0x78, 0, 4, 0x67, 1, 2, 3, 0, 2, 0x68, 4, 0, 3, 0x06, 5, 6][..]
        );
        assert_eq!(payloads[1][..2], [0x3c, 0x85], "FU-A start, NRI 1");
        assert!(out.iter().all(|p| p.len() <= 40));
        assert_eq!(out.last().map(|p| p[1] & 0x80), Some(0x80), "marker");
        assert_eq!(out.iter().filter(|p| p[1] & 0x80 != 0).count(), 1);

        // A lone small NAL unit is not aggregated.
        let mut out = Vec::new();
        packetizer.packetize(&[&sps], 9, &mut out);
        assert_eq!(&out[0][12..], &sps[..]);
    }
}
