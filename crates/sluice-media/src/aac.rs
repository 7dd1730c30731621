//! AAC (and other MPEG-4 audio) in RFC 3640 `mpeg4-generic` payloads, and the AudioSpecificConfig
//! (ISO/IEC 14496-3 §1.6.2.1) that describes such streams.
//!
//! An RFC 3640 payload starts with an AU-header section saying how long each of the access units
//! that follow is. AAC-hbr (13-bit sizes) packs several AUs per packet or spreads one AU over several
//! packets; AAC-lbr (6-bit sizes) only packs. The n-th AU of a packet is stamped with the packet's
//! timestamp plus n frame durations (1024 samples, 960 with `frameLengthFlag`, or the fmtp
//! `constantDuration`).

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::{self, Admission, RtpWriter, StreamState};
use crate::{AccessUnit, CodecParams, DepacketizeError, MediaError, RtpIn, Timestamp};

/// Largest access unit reassembled from fragments; larger ones are dropped.
const MAX_AU_SIZE: usize = 1 << 22;

/// Most access units one packet may carry, in MPEG4-GENERIC and MP4A-LATM alike; a packet with
/// more is rejected with a [`DepacketizeError`]. Real senders put a handful of frames in a packet
/// (a 1500-byte MTU holds a few dozen low-rate frames at most), while `sizelength=1` would let one
/// 64 KiB packet declare some 57 000 AUs, each a queued [`AccessUnit`].
pub const MAX_AUS_PER_PACKET: usize = 512;

/// ISO/IEC 14496-3 §1.6.3.4 Table 1.18: samplingFrequencyIndex values 0 to 12.
const SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// Audio object types that carry a GASpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
const GA_OBJECT_TYPES: [u8; 12] = [1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23];

/// Reads a bit string most significant bit first.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// A bit string ended early or held an invalid value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BitError {
    /// Bit offset of the offending field.
    pub(crate) bit: usize,
    /// The field's name or what was wrong.
    pub(crate) what: &'static str,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// A reader over the same data, positioned at bit `bit`.
    pub(crate) fn at(&self, bit: usize) -> Self {
        Self {
            data: self.data,
            pos: bit.min(self.data.len().saturating_mul(8)),
        }
    }

    /// Bits read so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Bits left.
    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_mul(8).saturating_sub(self.pos)
    }

    /// The next `bits` (at most 32) bits without consuming them.
    pub(crate) fn peek(&self, bits: u32) -> Option<u32> {
        if bits > 32 || self.remaining() < bits as usize {
            return None;
        }
        let mut value = 0u64;
        for i in 0..bits as usize {
            let at = self.pos + i;
            let byte = *self.data.get(at / 8)?;
            value = value << 1 | u64::from(byte >> (7 - at % 8) & 1);
        }
        u32::try_from(value).ok()
    }

    /// Reads `bits` (at most 32) bits.
    pub(crate) fn read(&mut self, bits: u32) -> Option<u32> {
        let value = self.peek(bits)?;
        self.pos += bits as usize;
        Some(value)
    }

    /// Reads a field of `bits` bits named `what` (for the error).
    pub(crate) fn field(&mut self, bits: u32, what: &'static str) -> Result<u32, BitError> {
        let bit = self.pos;
        self.read(bits).ok_or(BitError { bit, what })
    }

    /// Reads a one-bit flag named `what`.
    pub(crate) fn flag(&mut self, what: &'static str) -> Result<bool, BitError> {
        Ok(self.field(1, what)? == 1)
    }

    /// Skips `bits` bits.
    pub(crate) fn skip(&mut self, bits: usize, what: &'static str) -> Result<(), BitError> {
        if self.remaining() < bits {
            return Err(BitError {
                bit: self.pos,
                what,
            });
        }
        self.pos += bits;
        Ok(())
    }

    /// Skips to the next multiple of 8 bits counted from bit `origin`.
    pub(crate) fn align_from(&mut self, origin: usize) {
        let misalign = (self.pos.wrapping_sub(origin)) % 8;
        if misalign != 0 {
            self.pos = (self.pos + 8 - misalign).min(self.data.len().saturating_mul(8));
        }
    }

    /// An error at the current position.
    pub(crate) fn error(&self, what: &'static str) -> BitError {
        BitError {
            bit: self.pos,
            what,
        }
    }
}

/// The decoder configuration of an MPEG-4 audio stream (ISO/IEC 14496-3 §1.6.2.1), as carried in the
/// `config=` format parameter of RFC 3640 and inside the StreamMuxConfig of RFC 6416.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AudioSpecificConfig {
    /// The audio object type of the core coder: 2 for AAC LC, 1 AAC Main, 4 AAC LTP, 23 AAC LD…
    /// With explicit hierarchical SBR/PS signalling (object type 5 or 29 first) this is the
    /// underlying type.
    pub object_type: u8,
    /// The core coder's sampling rate in Hz (the escape index 15 gives it explicitly).
    pub sample_rate: u32,
    /// The channelConfiguration field (0: defined by a program_config_element).
    pub channel_configuration: u8,
    /// Channels the core decoder outputs (from channelConfiguration or the program_config_element).
    pub channels: u16,
    /// Samples per frame of the core coder: 1024 or 960 (AAC LD: 512 or 480).
    pub frame_length: u16,
    /// Spectral band replication (HE-AAC): `Some` when signalled, explicitly or by the backwards
    /// compatible sync extension; `None` when the config does not say (SBR may still be present
    /// implicitly, doubling the output rate).
    pub sbr: Option<bool>,
    /// Parametric stereo (HE-AAC v2), when signalled.
    pub ps: Option<bool>,
    /// The SBR output sampling rate, when signalled.
    pub extension_sample_rate: Option<u32>,
    /// Length of the config in bits, when known (object types with a GASpecificConfig).
    bit_len: Option<usize>,
}

impl AudioSpecificConfig {
    /// Parses an AudioSpecificConfig, e.g. the bytes of `config=1190` (AAC LC, 48 kHz, stereo).
    /// Bytes after the config are allowed (and searched for the SBR/PS sync extension).
    pub fn parse(data: &[u8]) -> Result<Self, MediaError> {
        let mut r = BitReader::new(data);
        Self::read(&mut r, true).map_err(|e| MediaError::InvalidAudioSpecificConfig {
            bit: e.bit,
            detail: e.what.to_owned(),
        })
    }

    /// The sampling rate a decoder outputs: the SBR rate when SBR is signalled present.
    pub fn output_sample_rate(&self) -> u32 {
        match (self.sbr, self.extension_sample_rate) {
            (Some(true), Some(rate)) => rate,
            _ => self.sample_rate,
        }
    }

    /// The channel count a decoder outputs: parametric stereo turns mono into stereo.
    pub fn output_channels(&self) -> u16 {
        match (self.ps, self.channels) {
            (Some(true), 1) => 2,
            (_, channels) => channels,
        }
    }

    /// Length of the config in bits, when the object type's config is understood.
    pub(crate) fn bit_len(&self) -> Option<usize> {
        self.bit_len
    }

    /// The duration of one frame in ticks of an RTP clock of `clock_rate` Hz.
    pub(crate) fn frame_ticks(&self, clock_rate: u32) -> i64 {
        let ticks = u64::from(self.frame_length) * u64::from(clock_rate)
            / u64::from(self.sample_rate.max(1));
        i64::try_from(ticks).unwrap_or(i64::MAX).max(1)
    }

    /// Fills in the audio fields of `params` from this config (`raw` is its bytes).
    pub(crate) fn apply(&self, params: &mut CodecParams, raw: Bytes) {
        params.sample_rate = Some(self.output_sample_rate());
        params.channels = Some(self.output_channels()).filter(|&c| c != 0);
        params.config = vec![raw];
    }

    /// Reads a config starting at the reader's position. `sync_extension`: the config's end is the
    /// end of the data, so trailing bits may hold the backwards-compatible SBR/PS signalling.
    pub(crate) fn read(r: &mut BitReader<'_>, sync_extension: bool) -> Result<Self, BitError> {
        let start = r.position();
        let mut object_type = read_object_type(r)?;
        let sample_rate = read_sampling_frequency(r)?;
        let channel_configuration = r.field(4, "channelConfiguration")? as u8;
        let mut config = Self {
            object_type,
            sample_rate,
            channel_configuration,
            channels: channel_count(channel_configuration).ok_or(BitError {
                bit: r.position() - 4,
                what: "reserved channelConfiguration",
            })?,
            frame_length: 1024,
            sbr: None,
            ps: None,
            extension_sample_rate: None,
            bit_len: None,
        };
        // §1.6.2.1: explicit hierarchical signalling of SBR (5) and PS (29).
        if object_type == 5 || object_type == 29 {
            config.sbr = Some(true);
            config.ps = (object_type == 29).then_some(true);
            config.extension_sample_rate = Some(read_sampling_frequency(r)?);
            object_type = read_object_type(r)?;
            config.object_type = object_type;
            if object_type == 22 {
                r.field(4, "extensionChannelConfiguration")?;
            }
        }
        if !GA_OBJECT_TYPES.contains(&object_type) {
            // Other coders (CELP, HVXC, SLS…): the header fields above are all we need.
            return Ok(config);
        }
        let (frame_length, pce_channels) =
            read_ga_specific_config(r, start, object_type, channel_configuration)?;
        config.frame_length = frame_length;
        if let Some(channels) = pce_channels {
            config.channels = channels;
        }
        // §1.6.2.1: error resilient object types carry epConfig.
        if (17..=27).contains(&object_type) {
            let ep_config = r.field(2, "epConfig")?;
            if ep_config >= 2 {
                // ErrorProtectionSpecificConfig follows; its length is not tracked.
                return Ok(config);
            }
        }
        config.bit_len = Some(r.position() - start);
        // §1.6.6.1 (backwards-compatible explicit signalling): syncExtensionType 0x2b7, then the
        // extension object type, SBR flag and rate, then syncExtensionType 0x548 and the PS flag.
        if sync_extension
            && config.sbr.is_none()
            && r.remaining() >= 16
            && r.peek(11) == Some(0x2b7)
        {
            r.skip(11, "syncExtensionType")?;
            let extension_type = read_object_type(r)?;
            if extension_type == 5 || extension_type == 22 {
                let present = r.flag("sbrPresentFlag")?;
                config.sbr = Some(present);
                if present {
                    config.extension_sample_rate = Some(read_sampling_frequency(r)?);
                }
                if extension_type == 22 {
                    r.field(4, "extensionChannelConfiguration")?;
                } else if present && r.remaining() >= 12 && r.peek(11) == Some(0x548) {
                    r.skip(11, "syncExtensionType")?;
                    config.ps = Some(r.flag("psPresentFlag")?);
                }
            }
            config.bit_len = Some(r.position() - start);
        }
        Ok(config)
    }
}

/// §1.6.2.1 GetAudioObjectType(): 5 bits, 31 escapes to 32 + 6 more bits.
fn read_object_type(r: &mut BitReader<'_>) -> Result<u8, BitError> {
    let object_type = r.field(5, "audioObjectType")?;
    if object_type == 31 {
        return Ok(32 + r.field(6, "audioObjectTypeExt")? as u8);
    }
    Ok(object_type as u8)
}

/// §1.6.2.1 samplingFrequencyIndex, with 15 escaping to a 24-bit explicit rate.
fn read_sampling_frequency(r: &mut BitReader<'_>) -> Result<u32, BitError> {
    let index = r.field(4, "samplingFrequencyIndex")?;
    let rate = match index {
        15 => r.field(24, "samplingFrequency")?,
        i => *SAMPLE_RATES
            .get(i as usize)
            .ok_or(r.error("reserved samplingFrequencyIndex"))?,
    };
    if rate == 0 {
        return Err(r.error("sampling frequency 0"));
    }
    Ok(rate)
}

/// §1.6.3.5 Table 1.19: channels per channelConfiguration (0: from the PCE; reserved: `None`).
fn channel_count(configuration: u8) -> Option<u16> {
    match configuration {
        0..=6 => Some(u16::from(configuration)),
        7 | 12 | 14 => Some(8),
        11 => Some(7),
        13 => Some(24),
        _ => None,
    }
}

/// §4.4.1 GASpecificConfig(); returns the frame length and, for channelConfiguration 0, the channel
/// count of the program_config_element.
fn read_ga_specific_config(
    r: &mut BitReader<'_>,
    config_start: usize,
    object_type: u8,
    channel_configuration: u8,
) -> Result<(u16, Option<u16>), BitError> {
    let frame_length_flag = r.flag("frameLengthFlag")?;
    if r.flag("dependsOnCoreCoder")? {
        r.skip(14, "coreCoderDelay")?;
    }
    let extension_flag = r.flag("extensionFlag")?;
    let channels = match channel_configuration {
        0 => Some(read_program_config_element(r, config_start)?),
        _ => None,
    };
    if object_type == 6 || object_type == 20 {
        r.skip(3, "layerNr")?;
    }
    if extension_flag {
        if object_type == 22 {
            r.skip(16, "numOfSubFrame and layer_length")?;
        }
        if [17, 19, 20, 23].contains(&object_type) {
            r.skip(3, "resilience flags")?;
        }
        r.skip(1, "extensionFlag3")?;
    }
    let frame_length = match (object_type, frame_length_flag) {
        (23, false) => 512,
        (23, true) => 480,
        (_, false) => 1024,
        (_, true) => 960,
    };
    Ok((frame_length, channels))
}

/// §4.4.1.1 program_config_element(); returns the channel count. Byte alignment inside it is
/// relative to the start of the AudioSpecificConfig.
fn read_program_config_element(
    r: &mut BitReader<'_>,
    config_start: usize,
) -> Result<u16, BitError> {
    r.skip(
        4 + 2 + 4,
        "element_instance_tag, object_type, sampling_frequency_index",
    )?;
    let front = r.field(4, "num_front_channel_elements")?;
    let side = r.field(4, "num_side_channel_elements")?;
    let back = r.field(4, "num_back_channel_elements")?;
    let lfe = r.field(2, "num_lfe_channel_elements")?;
    let assoc = r.field(3, "num_assoc_data_elements")?;
    let cc = r.field(4, "num_valid_cc_elements")?;
    for (present_what, skip) in [
        ("mono_mixdown_present", 4),
        ("stereo_mixdown_present", 4),
        ("matrix_mixdown_idx_present", 3),
    ] {
        if r.flag(present_what)? {
            r.skip(skip, present_what)?;
        }
    }
    let mut channels = 0u16;
    for _ in 0..front + side + back {
        let is_cpe = r.flag("is_cpe")?;
        r.skip(4, "element_tag_select")?;
        channels += if is_cpe { 2 } else { 1 };
    }
    r.skip(4 * lfe as usize, "lfe_element_tag_select")?;
    channels += lfe as u16;
    r.skip(
        4 * assoc as usize + 5 * cc as usize,
        "assoc and cc elements",
    )?;
    r.align_from(config_start);
    let comment = r.field(8, "comment_field_bytes")?;
    r.skip(8 * comment as usize, "comment_field_data")?;
    Ok(channels)
}

/// The AU-header layout an `mpeg4-generic` fmtp describes (RFC 3640 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AuHeaderLayout {
    size_length: u32,
    index_length: u32,
    index_delta_length: u32,
    cts_delta_length: u32,
    dts_delta_length: u32,
    random_access: bool,
    stream_state_length: u32,
    auxiliary_size_length: u32,
    constant_size: Option<usize>,
}

impl AuHeaderLayout {
    /// RFC 3640 §3.2.1: the AU-header section (and its 16-bit length) is present when any of its
    /// fields is configured.
    fn has_headers(&self) -> bool {
        self.size_length > 0
            || self.index_length > 0
            || self.index_delta_length > 0
            || self.cts_delta_length > 0
            || self.dts_delta_length > 0
            || self.random_access
            || self.stream_state_length > 0
    }
}

/// One parsed AU-header (RFC 3640 §3.2.1.1).
#[derive(Clone, Copy, Debug)]
struct AuHeader {
    size: Option<usize>,
    /// AU-Index for the first header, AU-Index-delta for the others.
    index: u32,
    cts_delta: Option<i64>,
}

/// A fragmented AU being reassembled (RFC 3640 §3.2.3.2).
#[derive(Debug)]
struct Fragment {
    rtp_timestamp: u32,
    timestamp: Timestamp,
    size: usize,
    data: BytesMut,
}

/// RFC 3640 `mpeg4-generic` depacketizer: AAC-hbr, AAC-lbr, and the generic mode's AU headers.
///
/// Each access unit is a raw AAC frame (an ADTS header some cameras leave in front is stripped:
/// go2rtc#1328). A fragmented AU whose continuation is lost, or whose fragments disagree on timestamp
/// or size, is dropped and the next AU flagged.
#[derive(Debug)]
pub struct Depacketizer {
    state: StreamState,
    params: CodecParams,
    layout: AuHeaderLayout,
    frame_ticks: i64,
    fragment: Option<Fragment>,
    ready: VecDeque<AccessUnit>,
}

impl Depacketizer {
    /// A depacketizer for an RTP clock of `clock_rate` Hz and the stream's fmtp.
    ///
    /// Parameter names are case-insensitive and empty ones are skipped (Reolink's trailing
    /// `; profile=1;`). Without any header lengths the AAC-hbr layout is assumed (Anpviz sends only
    /// `config=`), AAC-lbr's for `mode=AAC-lbr`. The sample rate and channels come from `config=`
    /// when present, else from the clock rate; the RTP clock is always `clock_rate`.
    pub fn new(clock_rate: u32, fmtp: Option<&str>) -> Result<Self, MediaError> {
        let invalid = |detail: String| MediaError::InvalidFormatParameters {
            codec: "MPEG4-GENERIC",
            detail,
        };
        let params = sluice_rtsp::sdp::parse_fmtp(fmtp.unwrap_or_default());
        let number = |name: &str| -> Result<Option<u32>, MediaError> {
            codec::fmtp_param(&params, name)
                .map(|v| {
                    v.trim()
                        .parse::<u32>()
                        .map_err(|_| invalid(format!("{name}={v} is not a number")))
                })
                .transpose()
        };
        let length = |name: &str| -> Result<Option<u32>, MediaError> {
            match number(name)? {
                Some(bits) if bits > 32 => Err(invalid(format!("{name}={bits} exceeds 32 bits"))),
                other => Ok(other),
            }
        };
        let mode = codec::fmtp_param(&params, "mode").unwrap_or_default();
        let (size, index, delta) = (
            length("sizelength")?,
            length("indexlength")?,
            length("indexdeltalength")?,
        );
        // RFC 3640 §3.3.5 (AAC-lbr) and §3.3.6 (AAC-hbr) fix these lengths.
        let fixed = |m: Mode| (m.size_length(), m.index_length(), m.index_delta_length());
        let (size, index, delta) = match (size, index, delta) {
            (None, None, None) if mode.eq_ignore_ascii_case("AAC-lbr") => fixed(Mode::Lbr),
            (None, None, None)
                if mode.is_empty()
                    || mode.eq_ignore_ascii_case("AAC-hbr")
                    || mode.eq_ignore_ascii_case("AAC_hbr") =>
            {
                fixed(Mode::Hbr)
            }
            (s, i, d) => (s.unwrap_or(0), i.unwrap_or(0), d.unwrap_or(0)),
        };
        let layout = AuHeaderLayout {
            size_length: size,
            index_length: index,
            index_delta_length: delta,
            cts_delta_length: length("ctsdeltalength")?.unwrap_or(0),
            dts_delta_length: length("dtsdeltalength")?.unwrap_or(0),
            random_access: number("randomaccessindication")?.unwrap_or(0) != 0,
            stream_state_length: length("streamstateindication")?.unwrap_or(0),
            auxiliary_size_length: length("auxiliarydatasizelength")?.unwrap_or(0),
            constant_size: number("constantsize")?
                .filter(|&s| s > 0)
                .map(|s| s as usize),
        };

        let mut codec_params = CodecParams {
            sample_rate: Some(clock_rate).filter(|&r| r != 0),
            ..codec::base_params("MPEG4-GENERIC", clock_rate)
        };
        let mut frame_ticks: i64 = 1024;
        if let Some(hex) = codec::fmtp_param(&params, "config") {
            let raw = codec::decode_hex(hex)
                .ok_or_else(|| invalid(format!("config={hex} is not hex")))?;
            let config = AudioSpecificConfig::parse(&raw)?;
            config.apply(&mut codec_params, Bytes::from(raw));
            frame_ticks = config.frame_ticks(clock_rate);
        }
        // RFC 3640 §4.1: constantDuration, in RTP clock ticks.
        if let Some(duration) = number("constantduration")?.filter(|&d| d > 0) {
            frame_ticks = i64::from(duration);
        }
        Ok(Self {
            state: StreamState::new("MPEG4-GENERIC", clock_rate),
            params: codec_params,
            layout,
            frame_ticks,
            fragment: None,
            ready: VecDeque::new(),
        })
    }

    /// The AAC mode whose AU-header layout the fmtp describes (RFC 3640 §3.3.5, §3.3.6), whatever
    /// its `mode=` says; `None` for any other layout (the generic mode, extra header fields, a
    /// constant size).
    pub fn mode(&self) -> Option<Mode> {
        [Mode::Hbr, Mode::Lbr]
            .into_iter()
            .find(|m| m.layout() == self.layout)
    }

    /// Parses the AU-header and auxiliary sections (RFC 3640 §3.2.1, §3.2.2); returns the headers
    /// and the offset of the access-unit data.
    fn parse_headers(&self, payload: &[u8]) -> Result<(Vec<AuHeader>, usize), String> {
        let layout = &self.layout;
        let mut offset = 0;
        let mut headers = Vec::new();
        if layout.has_headers() {
            let bits = payload
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or("payload shorter than AU-headers-length")?;
            let section = payload
                .get(2..2 + bits.div_ceil(8))
                .ok_or_else(|| format!("AU-header section of {bits} bits exceeds the payload"))?;
            let mut r = BitReader::new(section);
            while r.position() < bits {
                let before = r.position();
                let header = self
                    .read_header(&mut r, headers.is_empty())
                    .map_err(|e| format!("AU-header at bit {}: {}", e.bit, e.what))?;
                if r.position() > bits {
                    return Err(format!("AU-header overruns AU-headers-length {bits}"));
                }
                if r.position() == before {
                    // Only the first header has fields (indexlength without sizelength or
                    // indexdeltalength): the rest of the section cannot be split into headers.
                    return Err("AU-headers after the first have no fields".to_owned());
                }
                if headers.len() == MAX_AUS_PER_PACKET {
                    return Err(format!("more than {MAX_AUS_PER_PACKET} AU-headers"));
                }
                headers.push(header);
            }
            offset = 2 + bits.div_ceil(8);
        } else {
            headers.push(AuHeader {
                size: None,
                index: 0,
                cts_delta: None,
            });
        }
        // RFC 3640 §3.2.2: auxiliary section: its size in bits, the data, padding to a byte.
        if layout.auxiliary_size_length > 0 {
            let rest = payload.get(offset..).unwrap_or_default();
            let mut r = BitReader::new(rest);
            let size = r
                .field(layout.auxiliary_size_length, "auxiliary-data-size")
                .map_err(|e| e.what.to_owned())? as usize;
            let total = (layout.auxiliary_size_length as usize).saturating_add(size);
            if total.div_ceil(8) > rest.len() {
                return Err(format!(
                    "auxiliary section of {total} bits exceeds the payload"
                ));
            }
            offset += total.div_ceil(8);
        }
        Ok((headers, offset))
    }

    /// RFC 3640 §3.2.1.1: one AU-header.
    fn read_header(&self, r: &mut BitReader<'_>, first: bool) -> Result<AuHeader, BitError> {
        let l = &self.layout;
        let size = match l.size_length {
            0 => None,
            bits => Some(r.field(bits, "AU-size")? as usize),
        };
        let index_bits = if first {
            l.index_length
        } else {
            l.index_delta_length
        };
        let index = match index_bits {
            0 => 0,
            bits => r.field(bits, "AU-Index")?,
        };
        let mut cts_delta = None;
        if l.cts_delta_length > 0 && r.flag("CTS-flag")? {
            let raw = r.field(l.cts_delta_length, "CTS-delta")?;
            // Two's complement of cts_delta_length bits.
            let shift = 64 - l.cts_delta_length;
            cts_delta = Some((i64::from(raw) << shift) >> shift);
        }
        if l.dts_delta_length > 0 && r.flag("DTS-flag")? {
            r.skip(l.dts_delta_length as usize, "DTS-delta")?;
        }
        if l.random_access {
            r.skip(1, "RAP-flag")?;
        }
        r.skip(l.stream_state_length as usize, "Stream-state")?;
        Ok(AuHeader {
            size,
            index,
            cts_delta,
        })
    }

    fn emit(&mut self, timestamp: Timestamp, data: Bytes) {
        let data = strip_adts(data);
        if data.is_empty() {
            return;
        }
        self.ready.push_back(AccessUnit {
            timestamp,
            keyframe: true,
            discontinuity: self.state.take_loss(),
            data: vec![data],
        });
    }

    /// Continues the fragment in progress with `pkt`; `false` if `pkt` does not continue it.
    fn continue_fragment(
        &mut self,
        pkt: &RtpIn,
        headers: &[AuHeader],
        data: &Bytes,
    ) -> Result<bool, DepacketizeError> {
        let Some(mut fragment) = self.fragment.take() else {
            return Ok(false);
        };
        let continues = pkt.timestamp == fragment.rtp_timestamp
            && matches!(headers, [h] if h.size.is_none_or(|s| s == fragment.size));
        if !continues {
            // RFC 3640 §3.2.3.2: the fragments of an AU share its timestamp and AU-size; the
            // remainder of this one was lost.
            self.state.mark_loss();
            return Ok(false);
        }
        fragment.data.extend_from_slice(data);
        if fragment.data.len() > fragment.size {
            let what = format!(
                "fragments add up to {} bytes, AU-size is {}",
                fragment.data.len(),
                fragment.size
            );
            return Err(self.state.error(pkt, what));
        }
        if fragment.data.len() == fragment.size {
            self.emit(fragment.timestamp, fragment.data.freeze());
        } else if pkt.marker {
            let what = format!(
                "last fragment ends at {} of {} bytes",
                fragment.data.len(),
                fragment.size
            );
            return Err(self.state.error(pkt, what));
        } else {
            self.fragment = Some(fragment);
        }
        Ok(true)
    }
}

impl crate::Depacketizer for Depacketizer {
    fn push(&mut self, pkt: RtpIn) -> Result<(), DepacketizeError> {
        let Admission::Accept { restart } = self.state.admit(&pkt) else {
            return Ok(());
        };
        if restart {
            self.fragment = None;
        }
        let timestamp = self.state.timestamp(pkt.timestamp);
        let (headers, offset) = match self.parse_headers(&pkt.payload) {
            Ok(parsed) => parsed,
            Err(what) => {
                self.fragment = None;
                return Err(self.state.error(&pkt, what));
            }
        };
        let data = pkt.payload.slice(offset.min(pkt.payload.len())..);
        if self.continue_fragment(&pkt, &headers, &data)? {
            return Ok(());
        }

        // RFC 3640 §3.2.3.2: a single AU larger than the packet is a fragment.
        if let [AuHeader {
            size: Some(size), ..
        }] = headers[..]
        {
            if size > data.len() {
                if size > MAX_AU_SIZE {
                    let what = format!("AU-size {size} exceeds {MAX_AU_SIZE}");
                    return Err(self.state.error(&pkt, what));
                }
                if pkt.marker {
                    // The last fragment of an AU whose start was lost or sent before we joined.
                    self.state.mark_loss();
                    return Ok(());
                }
                let mut buf = BytesMut::with_capacity(size);
                buf.extend_from_slice(&data);
                self.fragment = Some(Fragment {
                    rtp_timestamp: pkt.timestamp,
                    timestamp,
                    size,
                    data: buf,
                });
                return Ok(());
            }
        }

        // RFC 3640 §3.2.3.1: several whole AUs; the n-th AU's time follows from its index.
        let mut units = Vec::with_capacity(headers.len());
        let mut at = 0usize;
        let mut index = 0i64;
        for (n, header) in headers.iter().enumerate() {
            if n > 0 {
                index = index.saturating_add(i64::from(header.index) + 1);
            }
            let remaining = data.len() - at;
            let size = match (header.size, self.layout.constant_size) {
                (Some(size), _) => size,
                (None, Some(constant)) => constant,
                (None, None) if headers.len() == 1 => remaining,
                (None, None) => {
                    return Err(self.state.error(&pkt, "several AUs without AU-size"));
                }
            };
            if size > remaining {
                let what = format!("AU {n} of {size} bytes exceeds the {remaining} left");
                return Err(self.state.error(&pkt, what));
            }
            let ticks = match header.cts_delta {
                Some(delta) => timestamp.ticks.saturating_add(delta),
                None => timestamp
                    .ticks
                    .saturating_add(index.saturating_mul(self.frame_ticks)),
            };
            units.push((ticks, data.slice(at..at + size)));
            at += size;
        }
        // Without AU-sizes, a constant size splits the rest of the payload.
        if let (false, Some(constant)) = (self.layout.size_length > 0, self.layout.constant_size) {
            while data.len() - at >= constant {
                if units.len() == MAX_AUS_PER_PACKET {
                    let what = format!("more than {MAX_AUS_PER_PACKET} constant-size AUs");
                    return Err(self.state.error(&pkt, what));
                }
                index = index.saturating_add(1);
                let ticks = timestamp
                    .ticks
                    .saturating_add(index.saturating_mul(self.frame_ticks));
                units.push((ticks, data.slice(at..at + constant)));
                at += constant;
            }
        }
        for (ticks, unit) in units {
            let ts = Timestamp { ticks, ..timestamp };
            self.emit(ts, unit);
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

/// Strips an ADTS header (ISO/IEC 14496-3 §1.A.2.2) that some cameras leave in front of each AU,
/// when its frame length matches the AU exactly.
fn strip_adts(data: Bytes) -> Bytes {
    let header_len = match data.get(..7) {
        // syncword 0xFFF, layer 00; protection_absent decides whether a CRC follows.
        Some(h) if h[0] == 0xff && h[1] & 0xf6 == 0xf0 => {
            let frame_length =
                usize::from(h[3] & 0x03) << 11 | usize::from(h[4]) << 3 | usize::from(h[5] >> 5);
            let header_len = if h[1] & 0x01 == 1 { 7 } else { 9 };
            if frame_length != data.len() || frame_length < header_len {
                return data;
            }
            header_len
        }
        _ => return data,
    };
    data.slice(header_len..)
}

/// Largest AU an AAC-hbr AU-size (13 bits) describes.
pub const MAX_HBR_AU_SIZE: usize = (1 << 13) - 1;

/// Largest AU an AAC-lbr AU-size (6 bits) describes.
pub const MAX_LBR_AU_SIZE: usize = (1 << 6) - 1;

/// Size of the AU-headers-length field (RFC 3640 §3.2.1).
const AU_HEADERS_LENGTH_LEN: usize = 2;

/// The AAC mode of RFC 3640 a [`Packetizer`] writes, which fixes the AU-header layout and so the
/// largest access unit a packet can describe.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// AAC-hbr (RFC 3640 §3.3.6): 13-bit AU-size, 3-bit AU-Index and AU-Index-delta. Access units
    /// of up to [`MAX_HBR_AU_SIZE`] bytes; one larger than the MTU is fragmented.
    #[default]
    Hbr,
    /// AAC-lbr (RFC 3640 §3.3.5): 6-bit AU-size, 2-bit AU-Index and AU-Index-delta. Access units of
    /// up to [`MAX_LBR_AU_SIZE`] bytes, never fragmented.
    Lbr,
}

impl Mode {
    /// The `mode=` value naming this mode in an fmtp.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Hbr => "AAC-hbr",
            Mode::Lbr => "AAC-lbr",
        }
    }

    /// Bits of the AU-size field (`sizelength`).
    pub fn size_length(self) -> u32 {
        match self {
            Mode::Hbr => 13,
            Mode::Lbr => 6,
        }
    }

    /// Bits of the AU-Index field of the first AU-header (`indexlength`).
    pub fn index_length(self) -> u32 {
        match self {
            Mode::Hbr => 3,
            Mode::Lbr => 2,
        }
    }

    /// Bits of the AU-Index-delta field of the other AU-headers (`indexdeltalength`).
    pub fn index_delta_length(self) -> u32 {
        // RFC 3640 §3.3.5, §3.3.6: both modes give AU-Index and AU-Index-delta the same length.
        self.index_length()
    }

    /// The largest access unit an AU-size of this mode describes.
    pub fn max_au_size(self) -> usize {
        match self {
            Mode::Hbr => MAX_HBR_AU_SIZE,
            Mode::Lbr => MAX_LBR_AU_SIZE,
        }
    }

    /// The `a=fmtp` parameters announcing this mode for AudioSpecificConfig `config`. RFC 3640
    /// §3.3.5 and §3.3.6 require `sizelength`, `indexlength` and `indexdeltalength` in both modes.
    pub fn fmtp(self, config: &[u8]) -> String {
        format!(
            "streamtype=5;profile-level-id=1;mode={};sizelength={};indexlength={};\
             indexdeltalength={};config={}",
            self.name(),
            self.size_length(),
            self.index_length(),
            self.index_delta_length(),
            codec::encode_hex(config)
        )
    }

    /// Bytes of one AU-header: 2 in AAC-hbr (13 + 3 bits), 1 in AAC-lbr (6 + 2 bits).
    fn header_len(self) -> usize {
        (self.size_length() + self.index_length()) as usize / 8
    }

    /// RFC 3640 §3.2.1.1: appends an AU-header with AU-size `size` and AU-Index (first header) or
    /// AU-Index-delta (the others) 0: the first AU of the packet, or the one right after the
    /// previous AU (§3.3.5 and §3.3.6 without interleaving). `size` is at most
    /// [`Mode::max_au_size`].
    fn put_au_header(self, buf: &mut BytesMut, size: usize) {
        let header = (size as u16) << self.index_length();
        match self {
            Mode::Hbr => buf.put_u16(header),
            Mode::Lbr => buf.put_u8(header as u8),
        }
    }

    /// The depacketizer's view of this mode's AU-header section.
    fn layout(self) -> AuHeaderLayout {
        AuHeaderLayout {
            size_length: self.size_length(),
            index_length: self.index_length(),
            index_delta_length: self.index_delta_length(),
            cts_delta_length: 0,
            dts_delta_length: 0,
            random_access: false,
            stream_state_length: 0,
            auxiliary_size_length: 0,
            constant_size: None,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why the AAC [`Packetizer`] refused an access unit. Nothing was sent for it and the access units
/// it holds back are unaffected.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketizeError {
    /// The access unit holds no data.
    #[error("empty access unit at RTP timestamp {timestamp}")]
    Empty {
        /// The RTP timestamp it was given.
        timestamp: u32,
    },
    /// The access unit is larger than the mode's AU-size field describes.
    #[error("{mode} access unit of {size} bytes exceeds {max} bytes (RTP timestamp {timestamp})")]
    TooLarge {
        /// The packetizer's mode.
        mode: Mode,
        /// Size of the access unit.
        size: usize,
        /// The largest size the mode describes.
        max: usize,
        /// The RTP timestamp it was given.
        timestamp: u32,
    },
}

/// RFC 3640 `mpeg4-generic` AAC packetizer, in AAC-hbr (the default) or AAC-lbr [`Mode`].
///
/// By default every access unit goes out at once in a packet of its own, as the [`crate::Packetizer`]
/// trait expects. With [`Packetizer::with_max_aus_per_packet`] above 1 it packs consecutive access
/// units into one packet (RFC 3640 §3.2.1: one AU-header each, AU-Index-delta 0) and so holds them
/// back: a packet is sent when it holds that many access units, when the next one does not fit the
/// MTU, when the next one's RTP timestamp is not the previous one's plus
/// [`Packetizer::with_frame_duration`] (a gap or jump in time), and on [`Packetizer::flush`], which
/// the caller must call when the stream pauses or ends. An access unit is thus held for at most
/// `max_aus_per_packet - 1` frame durations of media time.
///
/// In AAC-hbr an access unit larger than the MTU is sent on its own, fragmented over several
/// packets that each carry one AU-header with the size of the whole access unit (RFC 3640
/// §3.2.1.1, §3.2.3.1). AAC-lbr never fragments (§3.3.5): an MTU below 78 bytes (RTP header, one
/// AU-header and a 63-byte AU) may be exceeded by a single access unit, as AAC-hbr exceeds one
/// below 17 bytes. The marker bit is set on every packet that carries whole access units and on the
/// last fragment of one (§3.1), and a packet's timestamp is its first access unit's (§3.1).
///
/// An access unit that is empty or larger than the mode's AU-size describes ([`MAX_HBR_AU_SIZE`],
/// [`MAX_LBR_AU_SIZE`]) is refused with a [`PacketizeError`] by [`Packetizer::try_packetize`] and
/// skipped by [`crate::Packetizer::packetize`].
#[derive(Debug)]
pub struct Packetizer {
    writer: RtpWriter,
    mtu: usize,
    mode: Mode,
    max_aus: usize,
    frame_duration: u32,
    /// Access units held for the next packet, in order.
    pending: Vec<Bytes>,
    /// Bytes of the held access units.
    pending_len: usize,
    /// The mode the held access units were accepted under.
    pending_mode: Mode,
    /// RTP timestamp of the first held access unit.
    pending_timestamp: u32,
    /// The RTP timestamp an access unit needs to join the held ones.
    next_timestamp: u32,
}

impl Packetizer {
    /// An AAC-hbr packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering
    /// packets from `initial_seq`, packets at most `mtu` bytes long (RTP header included), one
    /// access unit per packet.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        Self {
            writer: RtpWriter::new(payload_type, ssrc, initial_seq),
            mtu,
            mode: Mode::Hbr,
            max_aus: 1,
            frame_duration: 1024,
            pending: Vec::new(),
            pending_len: 0,
            pending_mode: Mode::Hbr,
            pending_timestamp: 0,
            next_timestamp: 0,
        }
    }

    /// Writes `mode`'s AU-headers. Access units already held are still sent as the mode they
    /// were accepted under.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Packs up to `max_aus` consecutive access units into one packet (1, the default, sends each
    /// at once; 0 counts as 1). See [`Packetizer`] for when a packet is sent and call
    /// [`Packetizer::flush`] when the stream pauses or ends.
    pub fn with_max_aus_per_packet(mut self, max_aus: usize) -> Self {
        self.max_aus = max_aus.max(1);
        self
    }

    /// The duration of one access unit in RTP clock ticks (default 1024: AAC LC with the RTP clock
    /// at the sampling rate; 960 with `frameLengthFlag`, 2048 with implicit SBR at the output
    /// rate; 0 counts as 1). Access units packed into one packet must follow each other by exactly
    /// this much; [`Packetizer::format_parameters`] announces it as `constantDuration`.
    pub fn with_frame_duration(mut self, ticks: u32) -> Self {
        self.frame_duration = ticks.max(1);
        self
    }

    /// The `a=fmtp` parameters of the default AAC-hbr packetizer for AudioSpecificConfig
    /// `config`; [`Packetizer::format_parameters`] describes a configured one.
    pub fn fmtp(config: &[u8]) -> String {
        Mode::Hbr.fmtp(config)
    }

    /// The `a=fmtp` parameters describing this packetizer's output for AudioSpecificConfig
    /// `config`: its mode's, plus `constantDuration` when it packs several access units per
    /// packet, so that a receiver spaces them as this packetizer does whatever frame length it
    /// would derive from `config` (RFC 3640 §4.1).
    pub fn format_parameters(&self, config: &[u8]) -> String {
        let mut fmtp = self.mode.fmtp(config);
        if self.max_aus > 1 {
            fmtp.push_str(&format!(";constantDuration={}", self.frame_duration));
        }
        fmtp
    }

    /// The mode new access units are written in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Access units held back for the next packet.
    pub fn held_aus(&self) -> usize {
        self.pending.len()
    }

    /// Packetizes one access unit with RTP timestamp `timestamp`, appending the packets that are
    /// complete to `out` (none while the access unit is held back to share a packet), or says why
    /// it cannot be carried.
    pub fn try_packetize(
        &mut self,
        au: &AccessUnit,
        timestamp: u32,
        out: &mut Vec<Bytes>,
    ) -> Result<(), PacketizeError> {
        let data = match au.data.as_slice() {
            [one] => one.clone(),
            many => Bytes::from(many.concat()),
        };
        if data.is_empty() {
            return Err(PacketizeError::Empty { timestamp });
        }
        let max = self.mode.max_au_size();
        if data.len() > max {
            return Err(PacketizeError::TooLarge {
                mode: self.mode,
                size: data.len(),
                max,
                timestamp,
            });
        }
        // RFC 3640 §3.2.1.1: an AU-Index-delta of 0 puts an AU one frame after the previous one;
        // an AU later (or earlier) than that starts a new packet, whose timestamp is its own (§3.1).
        if !self.pending.is_empty()
            && (timestamp != self.next_timestamp
                || self.pending_mode != self.mode
                || !self.fits(data.len()))
        {
            self.flush(out);
        }
        // RFC 3640 §3.2.3.1, §3.3.6: an AAC-hbr AU larger than a packet is fragmented.
        if self.mode == Mode::Hbr && self.payload_len(1, data.len()) > self.room() {
            self.fragment(&data, timestamp, out);
            return Ok(());
        }
        if self.pending.is_empty() {
            self.pending_mode = self.mode;
            self.pending_timestamp = timestamp;
        }
        self.pending_len += data.len();
        self.pending.push(data);
        self.next_timestamp = timestamp.wrapping_add(self.frame_duration);
        if self.pending.len() >= self.max_aus || !self.fits(1) {
            self.flush(out);
        }
        Ok(())
    }

    /// Sends the access units held back, if any, in one packet appended to `out`.
    pub fn flush(&mut self, out: &mut Vec<Bytes>) {
        if self.pending.is_empty() {
            return;
        }
        let mode = self.pending_mode;
        let header_bits = self.pending.len() * mode.header_len() * 8;
        let mut headers =
            BytesMut::with_capacity(AU_HEADERS_LENGTH_LEN + self.pending.len() * mode.header_len());
        // RFC 3640 §3.2.1: AU-headers-length, in bits, then the AU-headers, whole bytes in both
        // modes. `fits` keeps the length within 16 bits for every packet of several AUs, and one
        // AU-header is at most 16 bits.
        headers.put_u16(u16::try_from(header_bits).unwrap_or(u16::MAX));
        for au in &self.pending {
            mode.put_au_header(&mut headers, au.len());
        }
        let mut parts: Vec<&[u8]> = Vec::with_capacity(1 + self.pending.len());
        parts.push(&headers);
        parts.extend(self.pending.iter().map(|au| &au[..]));
        // RFC 3640 §3.1: the timestamp is the first AU's, and the marker bit is set on a packet of
        // whole AUs.
        let packet = self.writer.packet(true, self.pending_timestamp, &parts);
        out.push(packet);
        self.pending.clear();
        self.pending_len = 0;
    }

    /// Payload bytes available in one packet.
    fn room(&self) -> usize {
        codec::max_payload(self.mtu, 0)
    }

    /// Payload bytes of a packet of `count` AUs in the current mode, `bytes` of them in all.
    fn payload_len(&self, count: usize, bytes: usize) -> usize {
        AU_HEADERS_LENGTH_LEN + count * self.mode.header_len() + bytes
    }

    /// Whether an AU of `len` bytes fits in one packet with the held ones.
    fn fits(&self, len: usize) -> bool {
        let count = self.pending.len() + 1;
        // RFC 3640 §3.2.1: AU-headers-length is a 16-bit count of bits.
        count * self.mode.header_len() * 8 <= usize::from(u16::MAX)
            && self.payload_len(count, self.pending_len + len) <= self.room()
    }

    /// RFC 3640 §3.2.3.1: sends an AAC-hbr AU over several packets with the same timestamp, the
    /// marker bit on the last. Each carries one AU-header with the size of the whole AU
    /// (§3.2.1.1).
    fn fragment(&mut self, data: &[u8], timestamp: u32, out: &mut Vec<Bytes>) {
        let overhead = AU_HEADERS_LENGTH_LEN + Mode::Hbr.header_len();
        let mut headers = BytesMut::with_capacity(overhead);
        headers.put_u16(16);
        Mode::Hbr.put_au_header(&mut headers, data.len());
        let chunk = codec::max_payload(self.mtu, overhead + 1) - overhead;
        let count = data.len().div_ceil(chunk);
        for (i, piece) in data.chunks(chunk).enumerate() {
            out.push(
                self.writer
                    .packet(i + 1 == count, timestamp, &[&headers, piece]),
            );
        }
    }
}

impl crate::Packetizer for Packetizer {
    /// Packetizes the access unit with [`Packetizer::try_packetize`]; one it refuses is skipped.
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let _ = self.try_packetize(au, timestamp, out);
    }

    fn next_sequence_number(&self) -> u16 {
        self.writer.next_sequence_number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_reader() {
        let mut r = BitReader::new(&[0b1010_0000, 0xff]);
        assert_eq!(r.read(3), Some(0b101));
        assert_eq!(r.peek(5), Some(0));
        assert_eq!(r.read(13), Some(0b0_0000_1111_1111));
        assert_eq!(r.read(1), None);
        assert_eq!(r.read(0), Some(0));
        assert_eq!(BitReader::new(&[0; 5]).read(33), None);
        let mut r = BitReader::new(&[0xff; 5]);
        assert_eq!(r.read(32), Some(u32::MAX));
        r.align_from(0);
        assert_eq!(r.position(), 32);
    }

    #[test]
    fn au_headers_length_stays_within_16_bits() {
        use crate::Packetizer as _;
        // An MTU no link has: only the 16-bit AU-headers-length limits the AUs per packet.
        let mut p = Packetizer::new(96, 1, 0, 1 << 20).with_max_aus_per_packet(5000);
        let au = AccessUnit {
            timestamp: Timestamp {
                ticks: 0,
                clock_rate: 48_000,
            },
            keyframe: true,
            discontinuity: false,
            data: vec![Bytes::from_static(b"a")],
        };
        let mut out = Vec::new();
        for i in 0..5000u32 {
            p.packetize(&au, i * 1024, &mut out);
        }
        assert_eq!(out.len(), 1);
        // 4095 AU-headers of 16 bits: 65520 bits.
        assert_eq!(&out[0][12..14], &[0xff, 0xf0]);
        assert_eq!(out[0].len(), 12 + 2 + 4095 * 3);
        assert_eq!(p.held_aus(), 5000 - 4095);
    }

    #[test]
    fn strips_adts_only_when_lengths_match() {
        // ADTS header, protection absent, frame_length = 9 (7 + 2).
        let frame = Bytes::from_static(&[0xff, 0xf1, 0x50, 0x80, 0x01, 0x3f, 0xfc, 0xaa, 0xbb]);
        assert_eq!(&strip_adts(frame)[..], &[0xaa, 0xbb]);
        let not = Bytes::from_static(&[0xff, 0xf1, 0x50, 0x80, 0x02, 0x3f, 0xfc, 0xaa, 0xbb]);
        assert_eq!(strip_adts(not.clone()), not);
    }
}
