//! RTP packets (RFC 3550 §5.1): a checked view for reading, a header builder and in-place rewrites.
//!
//! [`RtpPacket::parse`] validates the whole layout once (version, CSRC list, header extension,
//! padding) so that every accessor afterwards is infallible and cheap. The view borrows the packet;
//! a stream keeps the whole packet in one `bytes::Bytes` and re-parses the view where it needs it.
//!
//! ```
//! use bytes::BytesMut;
//! use sluice_rtsp::rtp::{RtpHeader, RtpPacket};
//!
//! let mut buf = BytesMut::new();
//! let header =
//!     RtpHeader { marker: true, payload_type: 96, sequence_number: 7, timestamp: 90_000, ssrc: 1 };
//! header.write(&mut buf);
//! buf.extend_from_slice(b"payload");
//! let packet = RtpPacket::parse(&buf).unwrap();
//! assert_eq!((packet.sequence_number(), packet.payload()), (7, &b"payload"[..]));
//! ```

use std::fmt;

use bytes::{BufMut, BytesMut};

/// A validated RTP packet: header, CSRCs, optional header extension, payload and padding.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    /// The fixed header, copied so that reading it needs no bounds checks.
    fixed: [u8; RtpHeader::LEN],
    /// End of the CSRC list.
    csrc_end: usize,
    /// Start of the payload: after the CSRCs and the header extension.
    header_len: usize,
    /// End of the payload: before the padding.
    payload_end: usize,
}

/// The fixed RTP header fields a sender chooses, for building packets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RtpHeader {
    /// The marker bit (for video: the last packet of an access unit).
    pub marker: bool,
    /// The payload type, 0..=127 (higher bits are dropped when writing).
    pub payload_type: u8,
    /// The sequence number.
    pub sequence_number: u16,
    /// The RTP timestamp, in the payload's clock rate.
    pub timestamp: u32,
    /// The synchronisation source.
    pub ssrc: u32,
}

/// Why a buffer is not a valid RTP packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpError {
    /// Shorter than the 12-byte fixed header.
    #[error("RTP packet too short: {len} bytes, the fixed header needs 12")]
    TooShort {
        /// The packet length.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {version}, expected 2")]
    BadVersion {
        /// The version found.
        version: u8,
    },
    /// The CSRC count promises more identifiers than the packet holds.
    #[error("RTP packet ssrc={ssrc:08x} seq={sequence_number}: {csrc_count} CSRCs overrun its {len} bytes")]
    CsrcOverrun {
        /// The packet's SSRC.
        ssrc: u32,
        /// The packet's sequence number.
        sequence_number: u16,
        /// The CSRC count.
        csrc_count: u8,
        /// The packet length.
        len: usize,
    },
    /// The header extension is cut short or its length overruns the packet.
    #[error("RTP packet ssrc={ssrc:08x} seq={sequence_number}: header extension at {offset} overruns its {len} bytes")]
    ExtensionOverrun {
        /// The packet's SSRC.
        ssrc: u32,
        /// The packet's sequence number.
        sequence_number: u16,
        /// Where the extension starts.
        offset: usize,
        /// The packet length.
        len: usize,
    },
    /// The padding count is zero or longer than the payload.
    #[error("RTP packet ssrc={ssrc:08x} seq={sequence_number}: {padding} padding bytes, but {available} after the header")]
    BadPadding {
        /// The packet's SSRC.
        ssrc: u32,
        /// The packet's sequence number.
        sequence_number: u16,
        /// The padding count (the packet's last byte).
        padding: u8,
        /// The bytes available after the header.
        available: usize,
    },
}

impl<'a> RtpPacket<'a> {
    /// Validates `buf` as one whole RTP packet (RFC 3550 §5.1).
    pub fn parse(buf: &'a [u8]) -> Result<Self, RtpError> {
        let len = buf.len();
        let fixed = *buf
            .first_chunk::<{ RtpHeader::LEN }>()
            .ok_or(RtpError::TooShort { len })?;
        let version = fixed[0] >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion { version });
        }
        let ssrc = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
        let sequence_number = u16::from_be_bytes([fixed[2], fixed[3]]);

        // RFC 3550 §5.1: CC, the number of 32-bit CSRC identifiers after the fixed header.
        let csrc_count = fixed[0] & 0x0f;
        let csrc_end = RtpHeader::LEN + 4 * usize::from(csrc_count);
        if csrc_end > len {
            return Err(RtpError::CsrcOverrun {
                ssrc,
                sequence_number,
                csrc_count,
                len,
            });
        }

        // RFC 3550 §5.3.1: a 16-bit profile field and a length in 32-bit words excluding this
        // header word.
        let mut header_len = csrc_end;
        if fixed[0] & 0x10 != 0 {
            let overrun = RtpError::ExtensionOverrun {
                ssrc,
                sequence_number,
                offset: csrc_end,
                len,
            };
            let words = buf
                .get(csrc_end + 2..csrc_end + 4)
                .ok_or_else(|| overrun.clone())?;
            let words = usize::from(u16::from_be_bytes([words[0], words[1]]));
            header_len = csrc_end + 4 + 4 * words;
            if header_len > len {
                return Err(overrun);
            }
        }

        // RFC 3550 §5.1: with P set, the last octet counts the padding octets, itself included.
        let mut payload_end = len;
        if fixed[0] & 0x20 != 0 {
            let padding = buf.last().copied().unwrap_or(0);
            let available = len - header_len;
            if padding == 0 || usize::from(padding) > available {
                return Err(RtpError::BadPadding {
                    ssrc,
                    sequence_number,
                    padding,
                    available,
                });
            }
            payload_end = len - usize::from(padding);
        }
        Ok(Self {
            buf,
            fixed,
            csrc_end,
            header_len,
            payload_end,
        })
    }

    /// The version field, always 2 for a parsed packet.
    pub fn version(&self) -> u8 {
        self.fixed[0] >> 6
    }

    /// Whether the packet carries padding.
    pub fn padding(&self) -> bool {
        self.fixed[0] & 0x20 != 0
    }

    /// Whether the packet carries a header extension.
    pub fn has_extension(&self) -> bool {
        self.fixed[0] & 0x10 != 0
    }

    /// The number of CSRC identifiers.
    pub fn csrc_count(&self) -> u8 {
        self.fixed[0] & 0x0f
    }

    /// The marker bit.
    pub fn marker(&self) -> bool {
        self.fixed[1] & 0x80 != 0
    }

    /// The payload type, 0..=127.
    pub fn payload_type(&self) -> u8 {
        self.fixed[1] & 0x7f
    }

    /// The sequence number.
    pub fn sequence_number(&self) -> u16 {
        u16::from_be_bytes([self.fixed[2], self.fixed[3]])
    }

    /// The RTP timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.fixed[4], self.fixed[5], self.fixed[6], self.fixed[7]])
    }

    /// The synchronisation source.
    pub fn ssrc(&self) -> u32 {
        u32::from_be_bytes([self.fixed[8], self.fixed[9], self.fixed[10], self.fixed[11]])
    }

    /// The contributing sources, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + 'a {
        let list = self
            .buf
            .get(RtpHeader::LEN..self.csrc_end)
            .unwrap_or_default();
        list.chunks_exact(4)
            .map(|c| c.iter().fold(0, |word, &b| word << 8 | u32::from(b)))
    }

    /// The header extension (RFC 3550 §5.3.1): the profile-defined 16 bits and the extension data.
    pub fn extension(&self) -> Option<(u16, &'a [u8])> {
        if !self.has_extension() {
            return None;
        }
        let profile = self.buf.get(self.csrc_end..self.csrc_end + 2)?;
        let data = self.buf.get(self.csrc_end + 4..self.header_len)?;
        Some((u16::from_be_bytes([profile[0], profile[1]]), data))
    }

    /// The payload, without padding.
    pub fn payload(&self) -> &'a [u8] {
        self.buf
            .get(self.header_len..self.payload_end)
            .unwrap_or_default()
    }

    /// The length of everything before the payload: fixed header, CSRCs and header extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The number of padding bytes at the end (0 without padding).
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The fixed header fields, e.g. to build a rewritten copy.
    pub fn header(&self) -> RtpHeader {
        RtpHeader {
            marker: self.marker(),
            payload_type: self.payload_type(),
            sequence_number: self.sequence_number(),
            timestamp: self.timestamp(),
            ssrc: self.ssrc(),
        }
    }
}

impl fmt::Debug for RtpPacket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtpPacket")
            .field("ssrc", &format_args!("{:08x}", self.ssrc()))
            .field("sequence_number", &self.sequence_number())
            .field("timestamp", &self.timestamp())
            .field("payload_type", &self.payload_type())
            .field("marker", &self.marker())
            .field("csrc_count", &self.csrc_count())
            .field(
                "extension",
                &self
                    .extension()
                    .map(|(profile, data)| (profile, data.len())),
            )
            .field("payload_len", &self.payload().len())
            .field("padding_len", &self.padding_len())
            .finish()
    }
}

impl RtpHeader {
    /// The length of the fixed header.
    pub const LEN: usize = 12;

    /// Appends the 12-byte fixed header: version 2, no padding, extension or CSRCs (RFC 3550 §5.1).
    pub fn write(&self, out: &mut BytesMut) {
        out.reserve(Self::LEN);
        out.put_u8(2 << 6);
        out.put_u8(u8::from(self.marker) << 7 | (self.payload_type & 0x7f));
        out.put_u16(self.sequence_number);
        out.put_u32(self.timestamp);
        out.put_u32(self.ssrc);
    }
}

/// Rewrites the sequence number of a packet in place; `false` (and nothing written) if `packet` is
/// shorter than the fixed header.
pub fn set_sequence_number(packet: &mut [u8], seq: u16) -> bool {
    set_field(packet, 2, &seq.to_be_bytes())
}

/// Rewrites the timestamp of a packet in place; `false` (and nothing written) if `packet` is
/// shorter than the fixed header.
pub fn set_timestamp(packet: &mut [u8], ts: u32) -> bool {
    set_field(packet, 4, &ts.to_be_bytes())
}

/// Rewrites the SSRC of a packet in place; `false` (and nothing written) if `packet` is shorter
/// than the fixed header.
pub fn set_ssrc(packet: &mut [u8], ssrc: u32) -> bool {
    set_field(packet, 8, &ssrc.to_be_bytes())
}

fn set_field(packet: &mut [u8], offset: usize, value: &[u8]) -> bool {
    if packet.len() < RtpHeader::LEN {
        return false;
    }
    match packet.get_mut(offset..offset + value.len()) {
        Some(field) => {
            field.copy_from_slice(value);
            true
        }
        None => false,
    }
}
