//! RTCP (RFC 3550 §6): parsing compound packets and building the reports a sender or receiver
//! sends.
//!
//! [`parse_compound`] walks the packets of one compound datagram (or one interleaved frame) and
//! yields each as an [`RtcpPacket`]; when it meets a malformed packet it yields that error once and
//! stops, so the good packets before it are still usable. It accepts an SDES chunk that ends at the
//! end of its packet without the terminating null item, as the Hanwha QNV-8080R sends it.
//!
//! Builders append to a caller's buffer; call several to make a compound packet (RFC 3550 §6.1: a
//! report first, then an SDES with a CNAME, and a BYE last when leaving).
//!
//! ```
//! use bytes::BytesMut;
//! use sluice_rtsp::rtcp::{self, ReceiverReport, RtcpPacket};
//!
//! let mut buf = BytesMut::new();
//! ReceiverReport { ssrc: 1, reports: Vec::new() }.write(&mut buf);
//! rtcp::write_sdes_cname(1, "sluice", &mut buf);
//! let packets: Vec<_> = rtcp::parse_compound(&buf).collect::<Result<_, _>>().unwrap();
//! let RtcpPacket::SourceDescription(chunks) = &packets[1] else { panic!("not SDES") };
//! assert_eq!(chunks[0].cname(), Some(&b"sluice"[..]));
//! ```

use std::time::Duration;

use bytes::{BufMut, BytesMut};

/// Most report blocks, SDES chunks or BYE sources one packet can count (a 5-bit field).
const MAX_COUNT: usize = 31;

/// An NTP timestamp: seconds since 1900-01-01 UTC in the high 32 bits, the fraction in the low 32
/// bits (RFC 3550 §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NtpTimestamp(pub u64);

/// A reception report block (RFC 3550 §6.4.1), found in sender and receiver reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// The fraction of packets lost since the previous report, in 1/256ths.
    pub fraction_lost: u8,
    /// The cumulative number of packets lost: a 24-bit signed value (negative with duplicates).
    pub cumulative_lost: i32,
    /// The extended highest sequence number received (cycles in the high 16 bits).
    pub highest_seq: u32,
    /// The interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// The middle 32 bits of the last sender report's NTP timestamp (LSR), 0 if none yet.
    pub last_sr: u32,
    /// The delay since that sender report (DLSR), in 1/65536 seconds.
    pub delay_since_last_sr: u32,
}

/// A compound packet's member, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtcpPacket<'a> {
    /// SR, packet type 200.
    SenderReport(SenderReport),
    /// RR, packet type 201.
    ReceiverReport(ReceiverReport),
    /// SDES, packet type 202: one chunk per source.
    SourceDescription(Vec<SdesChunk<'a>>),
    /// BYE, packet type 203.
    Goodbye(Goodbye<'a>),
    /// APP, packet type 204 (RFC 3550 §6.7).
    App {
        /// The application-defined subtype (the count field).
        subtype: u8,
        /// The sender.
        ssrc: u32,
        /// The four-character name.
        name: [u8; 4],
        /// The application-dependent data.
        data: &'a [u8],
    },
    /// Any other packet type (feedback, extended reports, …), not interpreted.
    Other {
        /// The packet type.
        packet_type: u8,
        /// The 5-bit count field (feedback messages put their FMT there).
        count: u8,
        /// The packet after its 4-byte header, padding removed.
        body: &'a [u8],
    },
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SenderReport {
    /// The sender.
    pub ssrc: u32,
    /// The wallclock time at which the report was sent.
    pub ntp: NtpTimestamp,
    /// The same instant in the RTP timestamp units of the sender's stream.
    pub rtp_timestamp: u32,
    /// RTP packets sent since the start of transmission.
    pub packet_count: u32,
    /// RTP payload octets sent since the start of transmission.
    pub octet_count: u32,
    /// Reception reports on sources the sender hears.
    pub reports: Vec<ReportBlock>,
}

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiverReport {
    /// The receiver sending the report.
    pub ssrc: u32,
    /// One block per source heard.
    pub reports: Vec<ReportBlock>,
}

/// One SDES chunk: a source and its items (RFC 3550 §6.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: u32,
    /// The items, in order, without the terminating null item.
    pub items: Vec<SdesItem<'a>>,
}

/// One SDES item: a type and its text (UTF-8 per RFC 3550, but not checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// The item type: [`SdesItem::CNAME`], `NAME` (2), … `PRIV` (8).
    pub kind: u8,
    /// The item text.
    pub value: &'a [u8],
}

/// A BYE packet (RFC 3550 §6.6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Goodbye<'a> {
    /// The sources leaving.
    pub ssrcs: Vec<u32>,
    /// The reason for leaving, if given and non-empty.
    pub reason: Option<&'a [u8]>,
}

/// Iterator over the packets of a compound RTCP packet; see [`parse_compound`].
#[derive(Clone, Debug)]
pub struct CompoundIter<'a> {
    buf: &'a [u8],
    offset: usize,
    failed: bool,
}

/// Why an RTCP packet in a compound packet could not be parsed. Offsets are from the start of the
/// compound packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    /// Fewer than the 4 bytes of a header remain.
    #[error("RTCP packet at offset {offset}: only {len} bytes, a header needs 4")]
    TooShort {
        /// Where the packet starts.
        offset: usize,
        /// The bytes remaining.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTCP packet at offset {offset}: version {version}, expected 2")]
    BadVersion {
        /// Where the packet starts.
        offset: usize,
        /// The version found.
        version: u8,
    },
    /// The length field claims more bytes than remain.
    #[error("RTCP packet type {packet_type} at offset {offset}: length {length} overruns the {available} bytes left")]
    LengthOverrun {
        /// Where the packet starts.
        offset: usize,
        /// The packet type.
        packet_type: u8,
        /// The packet length in bytes, from the length field.
        length: usize,
        /// The bytes remaining.
        available: usize,
    },
    /// The padding count is zero or longer than the packet body.
    #[error("RTCP packet type {packet_type} at offset {offset}: bad padding count {padding}")]
    BadPadding {
        /// Where the packet starts.
        offset: usize,
        /// The packet type.
        packet_type: u8,
        /// The padding count (the packet's last byte).
        padding: u8,
    },
    /// The packet body does not hold what its header and fields announce.
    #[error("RTCP packet type {packet_type} at offset {offset}: {reason}")]
    Malformed {
        /// Where the packet starts.
        offset: usize,
        /// The packet type.
        packet_type: u8,
        /// What is wrong.
        reason: &'static str,
    },
}

impl NtpTimestamp {
    /// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
    pub const UNIX_OFFSET_SECS: u64 = 2_208_988_800;

    /// The NTP time of `dur` after the Unix epoch, rounded to the nearest fraction; seconds wrap in
    /// 2036 (NTP era 1), as on the wire.
    pub fn from_unix(dur: Duration) -> Self {
        let seconds = dur.as_secs().wrapping_add(Self::UNIX_OFFSET_SECS) & 0xffff_ffff;
        // Below 2^32 for any nanosecond count under 10^9.
        let fraction = ((u64::from(dur.subsec_nanos()) << 32) + 500_000_000) / 1_000_000_000;
        Self(seconds << 32 | fraction)
    }

    /// The time since the Unix epoch, reading seconds below 2^31 as NTP era 1 (2036 to 2104,
    /// RFC 4330 §3); `None` for times before 1970.
    pub fn to_unix(self) -> Option<Duration> {
        let mut seconds = u64::from(self.seconds());
        if seconds < 0x8000_0000 {
            seconds += 1 << 32;
        }
        let nanos = (u64::from(self.fraction()) * 1_000_000_000 + (1 << 31)) >> 32;
        let nanos = u32::try_from(nanos).unwrap_or(999_999_999);
        Some(Duration::new(
            seconds.checked_sub(Self::UNIX_OFFSET_SECS)?,
            nanos,
        ))
    }

    /// The whole seconds.
    pub fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The fraction of a second, in 2^-32 s.
    pub fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// The middle 32 bits, as echoed in a report block's `last_sr` (RFC 3550 §6.4.1).
    pub fn middle_32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

impl ReportBlock {
    /// The length of a report block on the wire.
    pub const LEN: usize = 24;

    // RFC 3550 §6.4.1: ssrc, fraction lost, cumulative lost (24 bits), highest seq, jitter, LSR,
    // DLSR.
    fn parse(block: &[u8]) -> Option<Self> {
        let lost = u32_at(block, 4)?;
        // Sign-extend the 24-bit count.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        Some(Self {
            ssrc: u32_at(block, 0)?,
            fraction_lost: (lost >> 24) as u8,
            cumulative_lost,
            highest_seq: u32_at(block, 8)?,
            jitter: u32_at(block, 12)?,
            last_sr: u32_at(block, 16)?,
            delay_since_last_sr: u32_at(block, 20)?,
        })
    }

    /// Appends the block; `cumulative_lost` is clamped to the 24-bit range.
    fn write(&self, out: &mut BytesMut) {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0xff_ffff;
        out.put_u32(self.ssrc);
        out.put_u32(u32::from(self.fraction_lost) << 24 | lost);
        out.put_u32(self.highest_seq);
        out.put_u32(self.jitter);
        out.put_u32(self.last_sr);
        out.put_u32(self.delay_since_last_sr);
    }
}

impl RtcpPacket<'_> {
    /// Packet type of a sender report.
    pub const SENDER_REPORT: u8 = 200;
    /// Packet type of a receiver report.
    pub const RECEIVER_REPORT: u8 = 201;
    /// Packet type of a source description.
    pub const SOURCE_DESCRIPTION: u8 = 202;
    /// Packet type of a goodbye.
    pub const GOODBYE: u8 = 203;
    /// Packet type of an application-defined packet.
    pub const APP: u8 = 204;

    /// This packet's type number.
    pub fn packet_type(&self) -> u8 {
        match self {
            Self::SenderReport(_) => Self::SENDER_REPORT,
            Self::ReceiverReport(_) => Self::RECEIVER_REPORT,
            Self::SourceDescription(_) => Self::SOURCE_DESCRIPTION,
            Self::Goodbye(_) => Self::GOODBYE,
            Self::App { .. } => Self::APP,
            Self::Other { packet_type, .. } => *packet_type,
        }
    }
}

impl SenderReport {
    /// Appends the SR (RFC 3550 §6.4.1). Report blocks past the 31 an SR can count follow in
    /// additional RR packets from the same SSRC, as §6.4.2 prescribes.
    pub fn write(&self, out: &mut BytesMut) {
        let mut chunks = self.reports.chunks(MAX_COUNT);
        let first = chunks.next().unwrap_or_default();
        write_header(
            out,
            RtcpPacket::SENDER_REPORT,
            first.len(),
            24 + ReportBlock::LEN * first.len(),
        );
        out.put_u32(self.ssrc);
        out.put_u64(self.ntp.0);
        out.put_u32(self.rtp_timestamp);
        out.put_u32(self.packet_count);
        out.put_u32(self.octet_count);
        first.iter().for_each(|block| block.write(out));
        chunks.for_each(|blocks| write_receiver_report(self.ssrc, blocks, out));
    }

    // RFC 3550 §6.4.1; bytes after the report blocks are profile-specific extensions, ignored.
    fn parse(count: u8, body: &[u8]) -> Result<Self, &'static str> {
        let reports = report_blocks(count, body.get(24..).unwrap_or_default())?;
        let field = |offset| u32_at(body, offset).ok_or("sender info truncated");
        Ok(Self {
            ssrc: field(0)?,
            ntp: NtpTimestamp(u64::from(field(4)?) << 32 | u64::from(field(8)?)),
            rtp_timestamp: field(12)?,
            packet_count: field(16)?,
            octet_count: field(20)?,
            reports,
        })
    }
}

impl ReceiverReport {
    /// Appends the RR (RFC 3550 §6.4.2); more than 31 report blocks are split over several RRs.
    pub fn write(&self, out: &mut BytesMut) {
        if self.reports.is_empty() {
            write_receiver_report(self.ssrc, &[], out);
        }
        for blocks in self.reports.chunks(MAX_COUNT) {
            write_receiver_report(self.ssrc, blocks, out);
        }
    }

    fn parse(count: u8, body: &[u8]) -> Result<Self, &'static str> {
        let ssrc = u32_at(body, 0).ok_or("no SSRC")?;
        let reports = report_blocks(count, body.get(4..).unwrap_or_default())?;
        Ok(Self { ssrc, reports })
    }
}

impl<'a> SdesChunk<'a> {
    /// The value of the first CNAME item.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items
            .iter()
            .find(|item| item.kind == SdesItem::CNAME)
            .map(|item| item.value)
    }

    // RFC 3550 §6.5: chunks start on 32-bit boundaries; each item list ends with one or more null
    // octets up to the next boundary. A chunk that runs to the end of the packet without them is
    // accepted (seen on the Hanwha QNV-8080R).
    fn parse_all(count: u8, body: &'a [u8]) -> Result<Vec<Self>, &'static str> {
        let mut chunks = Vec::with_capacity(usize::from(count));
        let mut pos = 0;
        for _ in 0..count {
            let ssrc = u32_at(body, pos).ok_or("SDES chunk overruns the packet")?;
            pos += 4;
            let mut items = Vec::new();
            loop {
                match body.get(pos) {
                    None => break,
                    Some(0) => {
                        pos = (pos + 1).next_multiple_of(4);
                        break;
                    }
                    Some(&kind) => {
                        let len = usize::from(*body.get(pos + 1).ok_or("SDES item truncated")?);
                        let value = body
                            .get(pos + 2..pos + 2 + len)
                            .ok_or("SDES item overruns the packet")?;
                        items.push(SdesItem { kind, value });
                        pos += 2 + len;
                    }
                }
            }
            chunks.push(Self { ssrc, items });
        }
        Ok(chunks)
    }
}

impl SdesItem<'_> {
    /// Item type of the canonical name, `user@host` (RFC 3550 §6.5.1).
    pub const CNAME: u8 = 1;
}

impl<'a> Goodbye<'a> {
    // RFC 3550 §6.6: SC sources, then optionally an 8-bit length and that much text.
    fn parse(count: u8, body: &'a [u8]) -> Result<Self, &'static str> {
        let list_len = 4 * usize::from(count);
        let list = body
            .get(..list_len)
            .ok_or("BYE sources overrun the packet")?;
        let ssrcs = list.chunks_exact(4).map(be_u32).collect();
        let reason = match body.get(list_len) {
            None | Some(0) => None,
            Some(&len) => {
                let start = list_len + 1;
                Some(
                    body.get(start..start + usize::from(len))
                        .ok_or("BYE reason overruns the packet")?,
                )
            }
        };
        Ok(Self { ssrcs, reason })
    }
}

/// Iterates over the packets of a compound RTCP packet (RFC 3550 §6.1).
///
/// Each item is one packet; after the first error the iterator ends. The RFC 3550 Appendix A.2
/// checks on the compound as a whole (first packet a report, padding only on the last) are not
/// enforced.
pub fn parse_compound(buf: &[u8]) -> CompoundIter<'_> {
    CompoundIter {
        buf,
        offset: 0,
        failed: false,
    }
}

/// Whether `packet` looks like RTCP rather than RTP: version 2 and a packet type in 192..=223
/// (RFC 5761 §4). Useful when a server sends RTCP on the RTP channel.
pub fn looks_like_rtcp(packet: &[u8]) -> bool {
    matches!(packet, [first, second, ..] if first >> 6 == 2 && (192..=223).contains(second))
}

/// Appends an SDES packet with one chunk holding only a CNAME item (RFC 3550 §6.5.1). A CNAME
/// longer than 255 bytes is cut at the last character boundary that fits.
pub fn write_sdes_cname(ssrc: u32, cname: &str, out: &mut BytesMut) {
    let cname = truncate(cname, 255);
    // SSRC, type, length, text, then the null item and padding to a 32-bit boundary.
    let chunk_len = (4 + 2 + cname.len() + 1).next_multiple_of(4);
    write_header(out, RtcpPacket::SOURCE_DESCRIPTION, 1, chunk_len);
    out.put_u32(ssrc);
    out.put_u8(SdesItem::CNAME);
    out.put_u8(cname.len() as u8);
    out.put_slice(cname.as_bytes());
    out.put_bytes(0, chunk_len - (4 + 2 + cname.len()));
}

/// Appends a BYE for `ssrcs` (RFC 3550 §6.6). More than 31 sources are split over several BYE
/// packets, the reason going with the last; a reason longer than 255 bytes is cut at a character
/// boundary and an empty one is left out.
pub fn write_bye(ssrcs: &[u32], reason: Option<&str>, out: &mut BytesMut) {
    let reason = truncate(reason.unwrap_or_default(), 255);
    let mut rest = ssrcs;
    loop {
        let (now, later) = rest.split_at(rest.len().min(MAX_COUNT));
        let reason = if later.is_empty() { reason } else { "" };
        let reason_len = if reason.is_empty() {
            0
        } else {
            (1 + reason.len()).next_multiple_of(4)
        };
        write_header(
            out,
            RtcpPacket::GOODBYE,
            now.len(),
            4 * now.len() + reason_len,
        );
        now.iter().for_each(|&ssrc| out.put_u32(ssrc));
        if !reason.is_empty() {
            out.put_u8(reason.len() as u8);
            out.put_slice(reason.as_bytes());
            out.put_bytes(0, reason_len - 1 - reason.len());
        }
        if later.is_empty() {
            return;
        }
        rest = later;
    }
}

impl<'a> Iterator for CompoundIter<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self
            .buf
            .get(self.offset..)
            .filter(|rest| !rest.is_empty())?;
        let result = parse_packet(self.offset, rest);
        match &result {
            Ok((_, len)) => self.offset += len,
            Err(_) => self.failed = true,
        }
        Some(result.map(|(packet, _)| packet))
    }
}

impl std::iter::FusedIterator for CompoundIter<'_> {}

/// Parses the packet at the start of `rest`, returning it and its length.
fn parse_packet(offset: usize, rest: &[u8]) -> Result<(RtcpPacket<'_>, usize), RtcpError> {
    // RFC 3550 §6.4.1: V(2) P(1) count(5) | PT(8) | length(16), the length in 32-bit words minus
    // one.
    let &[first, packet_type, len_hi, len_lo, ..] = rest else {
        return Err(RtcpError::TooShort {
            offset,
            len: rest.len(),
        });
    };
    let version = first >> 6;
    if version != 2 {
        return Err(RtcpError::BadVersion { offset, version });
    }
    let length = 4 * (usize::from(u16::from_be_bytes([len_hi, len_lo])) + 1);
    let packet = rest.get(..length).ok_or(RtcpError::LengthOverrun {
        offset,
        packet_type,
        length,
        available: rest.len(),
    })?;
    let mut body = packet.get(4..).unwrap_or_default();
    // RFC 3550 §6.4.1: with P set, the last octet counts the padding octets, itself included.
    if first & 0x20 != 0 {
        let padding = packet.last().copied().unwrap_or(0);
        body = body
            .len()
            .checked_sub(usize::from(padding))
            .filter(|_| padding != 0)
            .and_then(|end| body.get(..end))
            .ok_or(RtcpError::BadPadding {
                offset,
                packet_type,
                padding,
            })?;
    }
    let count = first & 0x1f;
    let malformed = |reason| RtcpError::Malformed {
        offset,
        packet_type,
        reason,
    };
    let parsed = match packet_type {
        RtcpPacket::SENDER_REPORT => {
            RtcpPacket::SenderReport(SenderReport::parse(count, body).map_err(malformed)?)
        }
        RtcpPacket::RECEIVER_REPORT => {
            RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body).map_err(malformed)?)
        }
        RtcpPacket::SOURCE_DESCRIPTION => {
            RtcpPacket::SourceDescription(SdesChunk::parse_all(count, body).map_err(malformed)?)
        }
        RtcpPacket::GOODBYE => RtcpPacket::Goodbye(Goodbye::parse(count, body).map_err(malformed)?),
        // RFC 3550 §6.7: APP carries its subtype in the count field, then SSRC and a 4-byte name.
        RtcpPacket::APP => {
            let ssrc = u32_at(body, 0).ok_or_else(|| malformed("APP packet too short"))?;
            let name = body
                .get(4..8)
                .ok_or_else(|| malformed("APP packet too short"))?;
            RtcpPacket::App {
                subtype: count,
                ssrc,
                name: [name[0], name[1], name[2], name[3]],
                data: body.get(8..).unwrap_or_default(),
            }
        }
        _ => RtcpPacket::Other {
            packet_type,
            count,
            body,
        },
    };
    Ok((parsed, length))
}

fn report_blocks(count: u8, blocks: &[u8]) -> Result<Vec<ReportBlock>, &'static str> {
    let needed = ReportBlock::LEN * usize::from(count);
    let blocks = blocks
        .get(..needed)
        .ok_or("report blocks overrun the packet")?;
    Ok(blocks
        .chunks_exact(ReportBlock::LEN)
        .filter_map(ReportBlock::parse)
        .collect())
}

fn write_receiver_report(ssrc: u32, blocks: &[ReportBlock], out: &mut BytesMut) {
    write_header(
        out,
        RtcpPacket::RECEIVER_REPORT,
        blocks.len(),
        4 + ReportBlock::LEN * blocks.len(),
    );
    out.put_u32(ssrc);
    blocks.iter().for_each(|block| block.write(out));
}

/// Appends a common header for a packet of `body_len` bytes (a multiple of 4) after the header;
/// `count` is at most 31.
fn write_header(out: &mut BytesMut, packet_type: u8, count: usize, body_len: usize) {
    debug_assert!(count <= MAX_COUNT && body_len % 4 == 0);
    out.reserve(4 + body_len);
    out.put_u8(2 << 6 | (count.min(MAX_COUNT) as u8));
    out.put_u8(packet_type);
    // Every builder here stays far below the 16-bit word limit (at most 1 + 6 + 31 * 6 words).
    out.put_u16((body_len / 4) as u16);
}

fn u32_at(buf: &[u8], offset: usize) -> Option<u32> {
    buf.get(offset..offset + 4).map(be_u32)
}

fn be_u32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |word, &b| word << 8 | u32::from(b))
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}
