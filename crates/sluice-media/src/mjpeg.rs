//! Motion JPEG (RFC 2435): baseline JPEG frames whose headers are replaced by a compact RTP header.
//!
//! The sender strips the JPEG headers and sends only the entropy-coded scan data, fragmented by byte
//! offset, with an 8-byte header giving the type (4:2:2 or 4:2:0 sampling), a Q factor naming the
//! quantization tables (1 to 99 scale the standard tables, 128 and up send them in-band) and the
//! size in 8-pixel blocks. The receiver rebuilds SOI, DQT, DRI, SOF0, the standard DHT and SOS
//! (RFC 2435 Appendix B), so every access unit here is a complete JPEG file.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{self, Admission, RtpWriter, StreamState};
use crate::{AccessUnit, CodecParams, DepacketizeError, MediaError, RtpIn, Timestamp};

/// RFC 2435 §3: the RTP clock of JPEG video is 90 kHz.
pub const CLOCK_RATE: u32 = 90_000;

/// Largest frame reassembled: the 24-bit fragment offset's range.
const MAX_FRAME_SIZE: usize = 1 << 24;

/// RFC 2435 §3.1: the main JPEG header.
const MAIN_HEADER_LEN: usize = 8;
/// RFC 2435 §3.1.7: the restart marker header.
const RESTART_HEADER_LEN: usize = 4;
/// RFC 2435 §3.1.8: the quantization table header (without its tables).
const QUANT_HEADER_LEN: usize = 4;

// ITU-T T.81 Table B.1: marker codes.
const SOI: u8 = 0xd8;
const EOI: u8 = 0xd9;
const SOF0: u8 = 0xc0;
const DHT: u8 = 0xc4;
const SOS: u8 = 0xda;
const DQT: u8 = 0xdb;
const DRI: u8 = 0xdd;

/// ITU-T T.81 Table K.1: luminance quantization table, in natural (row-major) order.
const LUMA_QUANT: [u8; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/// ITU-T T.81 Table K.2: chrominance quantization table, in natural order.
const CHROMA_QUANT: [u8; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

/// ITU-T T.81 Figure A.6: the natural-order index of each zigzag position.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// ITU-T T.81 Table K.3: luminance DC code lengths and values.
const DC_LUMA_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
/// ITU-T T.81 Table K.4: chrominance DC code lengths.
const DC_CHROMA_BITS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
/// DC values (both components).
const DC_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

/// ITU-T T.81 Table K.5: luminance AC code lengths and values.
const AC_LUMA_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_LUMA_VALUES: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
    0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
    0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
    0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
];

/// ITU-T T.81 Table K.6: chrominance AC code lengths and values.
const AC_CHROMA_BITS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_CHROMA_VALUES: [u8; 162] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
    0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
    0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
    0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
    0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
    0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa,
];

/// The standard Huffman table of class `class` (0 DC, 1 AC) and id `id` (0 luma, 1 chroma).
fn standard_huffman(class: u8, id: u8) -> Option<(&'static [u8; 16], &'static [u8])> {
    match (class, id) {
        (0, 0) => Some((&DC_LUMA_BITS, &DC_VALUES)),
        (0, 1) => Some((&DC_CHROMA_BITS, &DC_VALUES)),
        (1, 0) => Some((&AC_LUMA_BITS, &AC_LUMA_VALUES)),
        (1, 1) => Some((&AC_CHROMA_BITS, &AC_CHROMA_VALUES)),
        _ => None,
    }
}

/// The luminance and chrominance quantization tables (zigzag order, 8-bit) that Q factor `q` (1 to
/// 99) stands for (RFC 2435 Appendix A `MakeTables`). Values outside 1..=99 are clamped.
pub fn quantization_tables(q: u8) -> [[u8; 64]; 2] {
    let factor = u32::from(q.clamp(1, 99));
    // RFC 2435 Appendix A: the IJG scaling of the Annex K tables.
    let scale = if factor < 50 {
        5000 / factor
    } else {
        200 - factor * 2
    };
    let mut tables = [[0u8; 64]; 2];
    for (i, &natural) in ZIGZAG.iter().enumerate() {
        for (table, base) in tables.iter_mut().zip([&LUMA_QUANT, &CHROMA_QUANT]) {
            let value = (u32::from(base[natural]) * scale + 50) / 100;
            table[i] = value.clamp(1, 255) as u8;
        }
    }
    tables
}

/// The quantization tables of a frame: their data back to back, and which of them are 16-bit
/// (RFC 2435 §3.1.8 precision bits).
#[derive(Clone, Debug, PartialEq, Eq)]
struct QuantTables {
    precision: u8,
    data: Bytes,
}

impl QuantTables {
    /// Splits the table data into tables; `None` if it is not a whole number of them (1 to 4).
    fn split(&self) -> Option<Vec<(bool, &[u8])>> {
        let mut tables = Vec::new();
        let mut rest = &self.data[..];
        while !rest.is_empty() {
            let wide = self.precision >> tables.len() & 1 == 1;
            let len = if wide { 128 } else { 64 };
            if tables.len() == 4 || rest.len() < len {
                return None;
            }
            let (table, after) = rest.split_at(len);
            tables.push((wide, table));
            rest = after;
        }
        (!tables.is_empty()).then_some(tables)
    }
}

/// A frame being reassembled.
#[derive(Debug)]
struct Frame {
    rtp_timestamp: u32,
    timestamp: Timestamp,
    /// Rebuilt headers followed by the scan data received so far.
    data: BytesMut,
    /// Scan bytes received: the fragment offset the next packet must carry.
    scan_len: usize,
}

/// RFC 2435 depacketizer: reassembles each frame's fragments by offset and rebuilds a complete
/// baseline JPEG file (types 0 and 1, and 64 and 65 with restart markers).
///
/// A fragment whose timestamp differs from the frame in progress is dropped (some cameras send such
/// packets when a client connects; retina does the same); a fragment at an unexpected offset, or a
/// new frame before the previous one's marker, drops the frame in progress and flags the next.
#[derive(Debug)]
pub struct Depacketizer {
    state: StreamState,
    params: CodecParams,
    frame: Option<Frame>,
    /// In-band tables of Q 128 to 254, which may be sent once and then omitted (RFC 2435 §3.1.8).
    cached_tables: Vec<Option<QuantTables>>,
    ready: VecDeque<AccessUnit>,
}

impl Depacketizer {
    /// A depacketizer for an RTP clock of `clock_rate` Hz (0 means the standard 90 kHz). JPEG has no
    /// format parameters.
    pub fn new(clock_rate: u32, _fmtp: Option<&str>) -> Self {
        let clock_rate = match clock_rate {
            0 => CLOCK_RATE,
            rate => rate,
        };
        Self {
            state: StreamState::new("JPEG", clock_rate),
            params: codec::base_params("JPEG", clock_rate),
            frame: None,
            cached_tables: vec![None; 127],
            ready: VecDeque::new(),
        }
    }

    /// Starts a frame from its first packet; returns the frame with its headers rebuilt.
    fn start_frame(
        &mut self,
        pkt: &RtpIn,
        timestamp: Timestamp,
        header: &MainHeader,
        tables_at: usize,
    ) -> Result<(Frame, usize), String> {
        let payload = &pkt.payload;
        let (tables, scan_at) = match header.q {
            // RFC 2435 §3.1.8: Q 128 to 255 carry a quantization table header in the first packet.
            128..=255 => {
                let h = payload
                    .get(tables_at..tables_at + QUANT_HEADER_LEN)
                    .ok_or("packet too short for the quantization table header")?;
                let precision = h[1];
                let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
                let start = tables_at + QUANT_HEADER_LEN;
                if payload.len() < start + len {
                    return Err(format!(
                        "quantization tables of {len} bytes exceed the packet"
                    ));
                }
                let slot = usize::from(header.q - 128);
                let tables = if len == 0 {
                    // Only Q 128 to 254 may refer to tables sent earlier.
                    self.cached_tables
                        .get(slot)
                        .cloned()
                        .flatten()
                        .ok_or_else(|| format!("Q={} without tables", header.q))?
                } else {
                    let tables = QuantTables {
                        precision,
                        data: payload.slice(start..start + len),
                    };
                    if let Some(cache) = self.cached_tables.get_mut(slot) {
                        *cache = Some(tables.clone());
                    }
                    tables
                };
                (tables, start + len)
            }
            1..=99 => {
                let [luma, chroma] = quantization_tables(header.q);
                let data = [luma, chroma].concat();
                (
                    QuantTables {
                        precision: 0,
                        data: Bytes::from(data),
                    },
                    tables_at,
                )
            }
            q => return Err(format!("reserved Q factor {q}")),
        };
        let tables = tables
            .split()
            .ok_or("quantization table data is not 1 to 4 whole tables")?;
        let mut data = BytesMut::with_capacity(1024 + payload.len());
        write_headers(&mut data, header, &tables);
        self.params.width = Some(header.width);
        self.params.height = Some(header.height);
        Ok((
            Frame {
                rtp_timestamp: pkt.timestamp,
                timestamp,
                data,
                scan_len: 0,
            },
            scan_at,
        ))
    }
}

/// The RFC 2435 §3.1 main JPEG header and §3.1.7 restart marker header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct MainHeader {
    fragment_offset: usize,
    /// The type without its restart-marker flag: 0 (4:2:2) or 1 (4:2:0).
    sampling: u8,
    q: u8,
    width: u32,
    height: u32,
    restart_interval: u16,
}

impl MainHeader {
    /// Parses the headers; returns them and the offset after them.
    fn parse(payload: &[u8]) -> Result<(Self, usize), String> {
        let h = payload
            .get(..MAIN_HEADER_LEN)
            .ok_or("packet shorter than the 8-byte JPEG header")?;
        let fragment_offset = usize::from(h[1]) << 16 | usize::from(h[2]) << 8 | usize::from(h[3]);
        let kind = h[4];
        // RFC 2435 §3.1.3: types 0 and 1; 64 to 127 are 0 to 63 with restart markers.
        let sampling = kind & 0x3f;
        if kind >= 128 || sampling > 1 {
            return Err(format!("unsupported JPEG type {kind}"));
        }
        let mut at = MAIN_HEADER_LEN;
        let mut restart_interval = 0;
        if kind >= 64 {
            let r = payload
                .get(at..at + RESTART_HEADER_LEN)
                .ok_or("packet too short for the restart marker header")?;
            restart_interval = u16::from_be_bytes([r[0], r[1]]);
            at += RESTART_HEADER_LEN;
        }
        // RFC 2435 §3.1.5, §3.1.6: dimensions in 8-pixel units.
        let (width, height) = (u32::from(h[6]) * 8, u32::from(h[7]) * 8);
        if width == 0 || height == 0 {
            return Err(format!("picture size {width}x{height}"));
        }
        Ok((
            Self {
                fragment_offset,
                sampling,
                q: h[5],
                width,
                height,
                restart_interval,
            },
            at,
        ))
    }
}

/// RFC 2435 Appendix B `MakeHeaders`: SOI, DQT, DRI, SOF0, DHT and SOS of a baseline frame.
fn write_headers(out: &mut BytesMut, header: &MainHeader, tables: &[(bool, &[u8])]) {
    out.put_slice(&[0xff, SOI]);
    for (id, (wide, table)) in tables.iter().enumerate() {
        out.put_slice(&[0xff, DQT]);
        out.put_u16(2 + 1 + table.len() as u16);
        out.put_u8(u8::from(*wide) << 4 | id as u8);
        out.put_slice(table);
    }
    if header.restart_interval != 0 {
        out.put_slice(&[0xff, DRI, 0, 4]);
        out.put_u16(header.restart_interval);
    }
    // Baseline frame: 8-bit samples, three components; Y is 2x1 (type 0) or 2x2 (type 1).
    let chroma_table = u8::from(tables.len() > 1);
    out.put_slice(&[0xff, SOF0, 0, 17, 8]);
    out.put_u16(header.height as u16);
    out.put_u16(header.width as u16);
    out.put_u8(3);
    let luma_sampling = if header.sampling == 0 { 0x21 } else { 0x22 };
    out.put_slice(&[0, luma_sampling, 0]);
    out.put_slice(&[1, 0x11, chroma_table]);
    out.put_slice(&[2, 0x11, chroma_table]);
    for (class, id) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        if let Some((bits, values)) = standard_huffman(class, id) {
            out.put_slice(&[0xff, DHT]);
            out.put_u16(2 + 1 + 16 + values.len() as u16);
            out.put_u8(class << 4 | id);
            out.put_slice(bits);
            out.put_slice(values);
        }
    }
    out.put_slice(&[0xff, SOS, 0, 12, 3, 0, 0x00, 1, 0x11, 2, 0x11, 0, 63, 0]);
}

impl crate::Depacketizer for Depacketizer {
    fn push(&mut self, pkt: RtpIn) -> Result<(), DepacketizeError> {
        let Admission::Accept { restart } = self.state.admit(&pkt) else {
            return Ok(());
        };
        if restart {
            self.frame = None;
        }
        let timestamp = self.state.timestamp(pkt.timestamp);
        let (header, after_headers) = match MainHeader::parse(&pkt.payload) {
            Ok(parsed) => parsed,
            Err(what) => {
                self.frame = None;
                return Err(self.state.error(&pkt, what));
            }
        };
        let scan_at = if header.fragment_offset == 0 {
            if self.frame.take().is_some() {
                // The previous frame's last packet never came.
                self.state.mark_loss();
            }
            match self.start_frame(&pkt, timestamp, &header, after_headers) {
                Ok((frame, scan_at)) => {
                    self.frame = Some(frame);
                    scan_at
                }
                Err(what) => return Err(self.state.error(&pkt, what)),
            }
        } else {
            match &self.frame {
                // Joined in the middle of a frame: wait for the next one.
                None => return Ok(()),
                // Not this frame's packet (retina: "happens when you connect to certain cameras").
                Some(frame) if frame.rtp_timestamp != pkt.timestamp => return Ok(()),
                Some(frame) if frame.scan_len != header.fragment_offset => {
                    let what = format!(
                        "fragment offset {}, expected {}",
                        header.fragment_offset, frame.scan_len
                    );
                    self.frame = None;
                    return Err(self.state.error(&pkt, what));
                }
                Some(_) => after_headers,
            }
        };
        let scan = pkt.payload.get(scan_at..).unwrap_or_default();
        let Some(frame) = self.frame.as_mut() else {
            return Ok(());
        };
        frame.data.extend_from_slice(scan);
        frame.scan_len += scan.len();
        if frame.scan_len > MAX_FRAME_SIZE {
            self.frame = None;
            return Err(self.state.error(&pkt, "frame exceeds 16 MiB"));
        }
        // RFC 2435 §3: the marker bit ends the frame.
        if pkt.marker {
            if let Some(mut frame) = self.frame.take() {
                if !frame.data.ends_with(&[0xff, EOI]) {
                    frame.data.put_slice(&[0xff, EOI]);
                }
                self.ready.push_back(AccessUnit {
                    timestamp: frame.timestamp,
                    keyframe: true,
                    discontinuity: self.state.take_loss(),
                    data: vec![frame.data.freeze()],
                });
            }
        }
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

/// What RFC 2435 needs of a baseline JPEG file.
#[derive(Debug)]
struct Jpeg<'a> {
    sampling: u8,
    width: u32,
    height: u32,
    restart_interval: u16,
    /// Luma table, then the chroma table if it differs.
    tables: Vec<(bool, &'a [u8])>,
    scan: &'a [u8],
}

impl<'a> Jpeg<'a> {
    /// Parses a baseline JPEG file (ITU-T T.81 Annex B) as RFC 2435 can carry it.
    fn parse(data: &'a [u8]) -> Result<Self, MediaError> {
        let invalid = |offset: usize, detail: &str| MediaError::InvalidJpeg {
            offset,
            detail: detail.to_owned(),
        };
        if !data.starts_with(&[0xff, SOI]) {
            return Err(invalid(0, "no SOI marker"));
        }
        let mut tables: [Option<(bool, &[u8])>; 4] = [None; 4];
        let mut frame: Option<(u8, u32, u32, [u8; 2])> = None;
        let mut restart_interval = 0u16;
        let mut at = 2;
        loop {
            if data.get(at) != Some(&0xff) {
                return Err(invalid(at, "expected a marker"));
            }
            while data.get(at) == Some(&0xff) {
                at += 1;
            }
            let marker_at = at - 1;
            let marker = *data.get(at).ok_or(invalid(at, "file ends in a marker"))?;
            at += 1;
            // T.81 §B.1.1.3: TEM and RSTn stand alone; EOI before a scan is an empty image.
            match marker {
                0x01 | 0xd0..=0xd7 => continue,
                EOI | SOI => return Err(invalid(marker_at, "no scan")),
                _ => {}
            }
            let len = data
                .get(at..at + 2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .filter(|&len| len >= 2)
                .ok_or(invalid(at, "bad segment length"))?;
            let body = data
                .get(at + 2..at + len)
                .ok_or(invalid(at, "segment runs past the end"))?;
            match marker {
                DQT => {
                    // T.81 §B.2.4.1: Pq/Tq, then 64 values of 8 or 16 bits.
                    let mut rest = body;
                    while let Some((&pq_tq, after)) = rest.split_first() {
                        let wide = pq_tq >> 4 == 1;
                        let size = if wide { 128 } else { 64 };
                        let id = usize::from(pq_tq & 0x0f);
                        if pq_tq >> 4 > 1 || id > 3 || after.len() < size {
                            return Err(invalid(marker_at, "bad quantization table"));
                        }
                        tables[id] = Some((wide, &after[..size]));
                        rest = &after[size..];
                    }
                }
                SOF0 => frame = Some(parse_frame_header(body).map_err(|e| invalid(marker_at, e))?),
                0xc1..=0xcf if marker != DHT && marker != 0xc8 && marker != 0xcc => {
                    return Err(invalid(
                        marker_at,
                        "not a baseline JPEG (RFC 2435 carries SOF0 only)",
                    ));
                }
                DHT => check_huffman_tables(body).map_err(|e| invalid(marker_at, e))?,
                DRI => {
                    restart_interval = body
                        .get(..2)
                        .map(|b| u16::from_be_bytes([b[0], b[1]]))
                        .ok_or(invalid(marker_at, "short DRI"))?;
                }
                SOS => {
                    check_scan_header(body).map_err(|e| invalid(marker_at, e))?;
                    let (sampling, width, height, table_ids) =
                        frame.ok_or(invalid(marker_at, "scan before SOF0"))?;
                    let start = at + len;
                    let scan = data.get(start..).unwrap_or_default();
                    let end = scan_end(scan);
                    let mut chosen = Vec::with_capacity(2);
                    for (n, &id) in table_ids.iter().enumerate() {
                        if n == 1 && id == table_ids[0] {
                            break;
                        }
                        let table = tables
                            .get(usize::from(id))
                            .copied()
                            .flatten()
                            .ok_or(invalid(marker_at, "quantization table missing"))?;
                        chosen.push(table);
                    }
                    return Ok(Self {
                        sampling,
                        width,
                        height,
                        restart_interval,
                        tables: chosen,
                        scan: scan.get(..end).unwrap_or_default(),
                    });
                }
                // APPn, COM and anything else: not carried.
                _ => {}
            }
            at += len;
        }
    }
}

/// T.81 §B.2.2 frame header: three components, Y 2x1 or 2x2 and chroma 1x1 sharing one table.
/// Returns the RFC 2435 type, width, height and the luma and chroma table ids.
fn parse_frame_header(body: &[u8]) -> Result<(u8, u32, u32, [u8; 2]), &'static str> {
    let h = body.get(..15).ok_or("short SOF0")?;
    if h[0] != 8 {
        return Err("sample precision is not 8 bits");
    }
    let height = u32::from(u16::from_be_bytes([h[1], h[2]]));
    let width = u32::from(u16::from_be_bytes([h[3], h[4]]));
    if h[5] != 3 {
        return Err("RFC 2435 carries three-component (YCbCr) pictures only");
    }
    let (y, cb, cr) = (&h[6..9], &h[9..12], &h[12..15]);
    let sampling = match y[1] {
        0x21 => 0,
        0x22 => 1,
        _ => return Err("luma sampling is neither 2x1 (4:2:2) nor 2x2 (4:2:0)"),
    };
    if cb[1] != 0x11 || cr[1] != 0x11 || cb[2] != cr[2] || y[2] != 0 {
        return Err("chroma must be 1x1 and share one quantization table; luma uses table 0");
    }
    if width == 0 || height == 0 || width > 2040 || height > 2040 {
        return Err("picture size outside 8..=2040 (RFC 2435 §3.1.5)");
    }
    Ok((sampling, width, height, [y[2], cb[2]]))
}

/// RFC 2435 §3.1.9 assumes the standard Huffman tables of T.81 Annex K.3.
fn check_huffman_tables(mut body: &[u8]) -> Result<(), &'static str> {
    const NOT_STANDARD: &str = "Huffman tables are not the standard ones RFC 2435 assumes";
    while let Some((&tc_th, rest)) = body.split_first() {
        let bits = rest.get(..16).ok_or("short DHT")?;
        let count = bits.iter().map(|&b| usize::from(b)).sum::<usize>();
        let values = rest.get(16..16 + count).ok_or("short DHT")?;
        let (std_bits, std_values) =
            standard_huffman(tc_th >> 4, tc_th & 0x0f).ok_or(NOT_STANDARD)?;
        if bits != std_bits || values != std_values {
            return Err(NOT_STANDARD);
        }
        body = &rest[16 + count..];
    }
    Ok(())
}

/// T.81 §B.2.3 scan header: all three components, luma with tables 0/0 and chroma 1/1, sequential.
fn check_scan_header(body: &[u8]) -> Result<(), &'static str> {
    let ok = body.len() == 10
        && body[0] == 3
        && body[2] == 0x00
        && body[4] == 0x11
        && body[6] == 0x11
        && body[7..] == [0, 63, 0];
    if ok {
        Ok(())
    } else {
        Err("scan must code all three components with the standard table assignment")
    }
}

/// The length of entropy-coded data: up to the first marker other than a stuffed `FF 00` or RSTn.
fn scan_end(scan: &[u8]) -> usize {
    let mut i = 0;
    while i + 1 < scan.len() {
        if scan[i] == 0xff {
            match scan[i + 1] {
                0x00 | 0xd0..=0xd7 => i += 2,
                0xff => i += 1,
                _ => return i,
            }
        } else {
            i += 1;
        }
    }
    scan.len()
}

/// RFC 2435 packetizer: strips a baseline JPEG file down to its scan data and sends it with Q=255
/// and the file's own quantization tables in-band, fragmented to the MTU. The marker bit is set on
/// the last packet of each frame.
///
/// Only files RFC 2435 can describe are sent: baseline, YCbCr with 4:2:2 or 4:2:0 sampling, the
/// standard Huffman tables, at most 2040 pixels each way.
#[derive(Debug)]
pub struct Packetizer {
    writer: RtpWriter,
    mtu: usize,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`, packets at most `mtu` bytes long (RTP header included).
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        Self {
            writer: RtpWriter::new(payload_type, ssrc, initial_seq),
            mtu,
        }
    }

    /// Appends the packets of one JPEG file to `out`, or says why RFC 2435 cannot carry it.
    pub fn packetize_jpeg(
        &mut self,
        jpeg: &[u8],
        timestamp: u32,
        out: &mut Vec<Bytes>,
    ) -> Result<(), MediaError> {
        let parsed = Jpeg::parse(jpeg)?;
        if parsed.scan.len() >= MAX_FRAME_SIZE {
            return Err(MediaError::InvalidJpeg {
                offset: 0,
                detail: "scan data exceeds the 24-bit fragment offset".to_owned(),
            });
        }
        let mut fixed = BytesMut::with_capacity(MAIN_HEADER_LEN + RESTART_HEADER_LEN);
        // RFC 2435 §3.1: type-specific 0 (progressive frame), offset filled in per packet.
        let kind = parsed.sampling + if parsed.restart_interval != 0 { 64 } else { 0 };
        fixed.put_slice(&[0, 0, 0, 0, kind, 255]);
        fixed.put_u8(parsed.width.div_ceil(8) as u8);
        fixed.put_u8(parsed.height.div_ceil(8) as u8);
        if parsed.restart_interval != 0 {
            // RFC 2435 §3.1.7: restart intervals not aligned to packets: F=L=1, count 0x3FFF.
            fixed.put_u16(parsed.restart_interval);
            fixed.put_u16(0xffff);
        }
        let mut quant = BytesMut::new();
        let precision = parsed
            .tables
            .iter()
            .enumerate()
            .fold(0u8, |p, (i, (wide, _))| p | u8::from(*wide) << i);
        let tables_len: usize = parsed.tables.iter().map(|(_, t)| t.len()).sum();
        quant.put_slice(&[0, precision]);
        quant.put_u16(tables_len as u16);
        for (_, table) in &parsed.tables {
            quant.put_slice(table);
        }

        let mut offset = 0usize;
        loop {
            let first = offset == 0;
            let overhead = fixed.len() + if first { quant.len() } else { 0 };
            let room = codec::max_payload(self.mtu, overhead + 1) - overhead;
            let end = (offset + room).min(parsed.scan.len());
            let piece = parsed.scan.get(offset..end).unwrap_or_default();
            let mut header = fixed.clone();
            header[1..4].copy_from_slice(&(offset as u32).to_be_bytes()[1..]);
            let last = end == parsed.scan.len();
            let parts: [&[u8]; 3] = [&header[..], if first { &quant[..] } else { &[] }, piece];
            out.push(self.writer.packet(last, timestamp, &parts));
            if last {
                return Ok(());
            }
            offset = end;
        }
    }
}

impl crate::Packetizer for Packetizer {
    /// Sends the access unit's JPEG file; one RFC 2435 cannot carry is skipped (see
    /// [`Packetizer::packetize_jpeg`] for the reason).
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let joined;
        let data: &[u8] = match au.data.as_slice() {
            [one] => one,
            many => {
                joined = many.concat();
                &joined
            }
        };
        let _ = self.packetize_jpeg(data, timestamp, out);
    }

    fn next_sequence_number(&self) -> u16 {
        self.writer.next_sequence_number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q50_is_the_standard_table() {
        let [luma, chroma] = quantization_tables(50);
        // Zigzag order: the first entries of T.81 Table K.1 read diagonally.
        assert_eq!(&luma[..6], &[16, 11, 12, 14, 12, 10]);
        assert_eq!(&chroma[..6], &[17, 18, 18, 24, 21, 24]);
        assert_eq!(luma[63], 99);
    }

    #[test]
    fn q_scaling() {
        assert!(quantization_tables(99).iter().flatten().all(|&v| v <= 2));
        assert!(quantization_tables(1).iter().flatten().all(|&v| v == 255));
        assert_eq!(quantization_tables(0), quantization_tables(1));
        assert_eq!(quantization_tables(75)[0][0], 8);
    }

    #[test]
    fn scan_end_skips_stuffing_and_restarts() {
        assert_eq!(scan_end(&[1, 0xff, 0, 2, 0xff, 0xd0, 3, 0xff, 0xd9]), 7);
        assert_eq!(scan_end(&[1, 2]), 2);
        assert_eq!(scan_end(&[1, 0xff, 0xff, 0xd9]), 2);
    }
}
