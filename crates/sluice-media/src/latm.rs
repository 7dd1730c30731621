//! MPEG-4 audio in LATM (RFC 6416 `MP4A-LATM`): each RTP payload holds one or more
//! AudioMuxElements (ISO/IEC 14496-3 §1.7.3), or a fragment of one.
//!
//! With `cpresent=0` the StreamMuxConfig travels in the fmtp `config=` and the payload is just
//! length-prefixed frames, byte aligned, handed out without copying. With `cpresent=1` (the default)
//! each element may carry its own StreamMuxConfig, which shifts the frames off byte boundaries, so they
//! are copied.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use crate::aac::{AudioSpecificConfig, BitError, BitReader, MAX_AUS_PER_PACKET};
use crate::codec::{self, Admission, RtpWriter, StreamState};
use crate::{AccessUnit, CodecParams, DepacketizeError, MediaError, RtpIn, Timestamp};

/// Largest AudioMuxElement reassembled from fragments.
const MAX_ELEMENT_SIZE: usize = 1 << 20;

/// Streams a StreamMuxConfig may describe: 16 programs of 8 layers.
const MAX_STREAMS: usize = 16 * 8;

/// One stream (program and layer) of a StreamMuxConfig.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layer {
    /// frameLengthType: 0 = variable (PayloadLengthInfo), 1 = fixed.
    frame_length_type: u8,
    /// frameLength for type 1: the payload is `frame_length + 20` bytes.
    frame_length: u16,
}

/// The multiplex configuration of a LATM stream (ISO/IEC 14496-3 §1.7.3 StreamMuxConfig()).
///
/// Streams must share time framing (`allStreamsSameTimeFraming`) and use AAC-style frame lengths
/// (types 0 and 1); only the first stream's frames are handed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamMuxConfig {
    audio_mux_version: u8,
    /// numSubFrames + 1: frames of each stream per AudioMuxElement.
    sub_frames: u8,
    layers: Vec<Layer>,
    config: AudioSpecificConfig,
    /// The first stream's AudioSpecificConfig as bytes (padded with zero bits).
    config_bytes: Bytes,
    other_data_bits: u32,
}

impl StreamMuxConfig {
    /// Parses a StreamMuxConfig, e.g. the bytes of an RFC 6416 `config=` parameter.
    pub fn parse(data: &[u8]) -> Result<Self, MediaError> {
        Self::read(&mut BitReader::new(data)).map_err(|e| MediaError::InvalidStreamMuxConfig {
            bit: e.bit,
            detail: e.what.to_owned(),
        })
    }

    /// The StreamMuxConfig that describes one AAC stream with AudioSpecificConfig `config`, one
    /// frame per AudioMuxElement and variable frame lengths: what a `cpresent=0` `config=` carries.
    pub fn for_audio_specific_config(config: &[u8]) -> Result<Vec<u8>, MediaError> {
        let parsed = AudioSpecificConfig::parse(config)?;
        let bits = parsed
            .bit_len()
            .ok_or(MediaError::InvalidAudioSpecificConfig {
                bit: 0,
                detail: "length unknown for this audio object type".to_owned(),
            })?;
        let mut w = BitWriter::default();
        w.put(0, 1); // audioMuxVersion
        w.put(1, 1); // allStreamsSameTimeFraming
        w.put(0, 6); // numSubFrames
        w.put(0, 4); // numProgram
        w.put(0, 3); // numLayer
        let mut r = BitReader::new(config);
        for _ in 0..bits {
            w.put(r.read(1).unwrap_or(0), 1);
        }
        w.put(0, 3); // frameLengthType
        w.put(0xff, 8); // latmBufferFullness
        w.put(0, 1); // otherDataPresent
        w.put(0, 1); // crcCheckPresent
        Ok(w.finish())
    }

    /// The first stream's AudioSpecificConfig.
    pub fn audio_specific_config(&self) -> &AudioSpecificConfig {
        &self.config
    }

    /// Frames per AudioMuxElement (numSubFrames + 1).
    pub fn sub_frames(&self) -> u8 {
        self.sub_frames
    }

    // ISO/IEC 14496-3 §1.7.3.1 Table 1.42: StreamMuxConfig().
    fn read(r: &mut BitReader<'_>) -> Result<Self, BitError> {
        let audio_mux_version = r.field(1, "audioMuxVersion")? as u8;
        if audio_mux_version == 1 && r.flag("audioMuxVersionA")? {
            return Err(r.error("audioMuxVersionA 1 is reserved"));
        }
        if audio_mux_version == 1 {
            latm_value(r)?; // taraBufferFullness
        }
        if !r.flag("allStreamsSameTimeFraming")? {
            return Err(r.error("streams without the same time framing are not supported"));
        }
        let sub_frames = r.field(6, "numSubFrames")? as u8 + 1;
        let num_program = r.field(4, "numProgram")?;
        let mut layers = Vec::new();
        let mut first: Option<(AudioSpecificConfig, Bytes)> = None;
        for program in 0..=num_program {
            let num_layer = r.field(3, "numLayer")?;
            for layer in 0..=num_layer {
                let use_same_config = (program, layer) != (0, 0) && r.flag("useSameConfig")?;
                if !use_same_config {
                    let config = read_config(r, audio_mux_version)?;
                    first.get_or_insert(config);
                }
                let frame_length_type = r.field(3, "frameLengthType")? as u8;
                let frame_length = match frame_length_type {
                    0 => {
                        r.skip(8, "latmBufferFullness")?;
                        0
                    }
                    1 => r.field(9, "frameLength")? as u16,
                    _ => return Err(r.error("only frameLengthType 0 and 1 are supported")),
                };
                layers.push(Layer {
                    frame_length_type,
                    frame_length,
                });
            }
        }
        let mut other_data_bits = 0u32;
        if r.flag("otherDataPresent")? {
            if audio_mux_version == 1 {
                other_data_bits = latm_value(r)?;
            } else {
                // §1.7.3.1: otherDataLenBits in 8-bit pieces with an escape bit; four pieces at most
                // fit 32 bits.
                for _ in 0..4 {
                    let escape = r.flag("otherDataLenEsc")?;
                    other_data_bits = other_data_bits << 8 | r.field(8, "otherDataLenTmp")?;
                    if !escape {
                        break;
                    }
                }
            }
        }
        if r.flag("crcCheckPresent")? {
            r.skip(8, "crcCheckSum")?;
        }
        let (config, config_bytes) = first.ok_or(r.error("no AudioSpecificConfig"))?;
        Ok(Self {
            audio_mux_version,
            sub_frames,
            layers,
            config,
            config_bytes,
            other_data_bits,
        })
    }
}

/// The AudioSpecificConfig of one stream, and its bytes.
fn read_config(
    r: &mut BitReader<'_>,
    audio_mux_version: u8,
) -> Result<(AudioSpecificConfig, Bytes), BitError> {
    let start = r.position();
    if audio_mux_version == 0 {
        // The config's length is implied by its contents.
        let config = AudioSpecificConfig::read(r, false)?;
        if config.bit_len().is_none() {
            return Err(r.error("AudioSpecificConfig of unknown length"));
        }
        let bytes = copy_bits(r, start, r.position() - start);
        return Ok((config, bytes));
    }
    // audioMuxVersion 1: ascLen, the config, then fill bits up to ascLen.
    let len = latm_value(r)? as usize;
    let start = r.position();
    let bytes = copy_bits(r, start, len);
    r.skip(len, "AudioSpecificConfig")?;
    let config = AudioSpecificConfig::read(&mut BitReader::new(&bytes), true)?;
    Ok((config, bytes))
}

/// `len` bits of `r`'s data from bit `start`, packed into bytes (the last one padded with zeros).
fn copy_bits(r: &BitReader<'_>, start: usize, len: usize) -> Bytes {
    let mut copy = r.at(start);
    let mut w = BitWriter::default();
    for _ in 0..len.min(copy.remaining()) {
        w.put(copy.read(1).unwrap_or(0), 1);
    }
    Bytes::from(w.finish())
}

/// §1.7.3.1 LatmGetValue(): 2 bits of byte count minus one, then that many bytes.
fn latm_value(r: &mut BitReader<'_>) -> Result<u32, BitError> {
    let bytes = r.field(2, "bytesForValue")?;
    let mut value = 0u32;
    for _ in 0..=bytes {
        value = value << 8 | r.field(8, "valueTmp")?;
    }
    Ok(value)
}

/// Writes bits most significant first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: usize,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u32) {
        for i in (0..bits).rev() {
            if self.bits % 8 == 0 {
                self.bytes.push(0);
            }
            let bit = (value >> i & 1) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= bit << (7 - self.bits % 8);
            }
            self.bits += 1;
        }
    }

    fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// RFC 6416 `MP4A-LATM` depacketizer. Each access unit is one raw AAC frame of the first stream.
///
/// AudioMuxElements fragmented over several packets are reassembled up to the packet with the marker
/// bit; if the timestamp changes before a marker arrives (a sender that never sets it), what was
/// gathered is parsed as complete. After a loss, packets are skipped until one can be known to start
/// an element, so a fragment's tail is never read as an element.
#[derive(Debug)]
pub struct Depacketizer {
    state: StreamState,
    params: CodecParams,
    /// RFC 6416 §7.1 `cpresent`: the StreamMuxConfig may come in-band.
    in_band_config: bool,
    mux: Option<StreamMuxConfig>,
    frame_ticks: i64,
    pending: BytesMut,
    pending_start: Option<(u32, Timestamp)>,
    /// Whether the next packet starts an AudioMuxElement; unknown after a loss.
    synced: bool,
    /// Whether the sender sets the marker bit at all.
    markers_seen: bool,
    last_rtp_timestamp: Option<u32>,
    ready: VecDeque<AccessUnit>,
}

impl Depacketizer {
    /// A depacketizer for an RTP clock of `clock_rate` Hz and the stream's fmtp (`cpresent`,
    /// `config`). `cpresent=0` requires `config`.
    pub fn new(clock_rate: u32, fmtp: Option<&str>) -> Result<Self, MediaError> {
        let params = sluice_rtsp::sdp::parse_fmtp(fmtp.unwrap_or_default());
        // RFC 6416 §7.1: cpresent defaults to 1.
        let in_band_config = codec::fmtp_param(&params, "cpresent").map(str::trim) != Some("0");
        let mut depacketizer = Self {
            state: StreamState::new("MP4A-LATM", clock_rate),
            params: CodecParams {
                sample_rate: Some(clock_rate).filter(|&r| r != 0),
                ..codec::base_params("MP4A-LATM", clock_rate)
            },
            in_band_config,
            mux: None,
            frame_ticks: 1024,
            pending: BytesMut::new(),
            pending_start: None,
            synced: true,
            markers_seen: false,
            last_rtp_timestamp: None,
            ready: VecDeque::new(),
        };
        match codec::fmtp_param(&params, "config") {
            Some(hex) => {
                let raw =
                    codec::decode_hex(hex).ok_or_else(|| MediaError::InvalidFormatParameters {
                        codec: "MP4A-LATM",
                        detail: format!("config={hex} is not hex"),
                    })?;
                depacketizer.set_mux(StreamMuxConfig::parse(&raw)?);
            }
            None if !in_band_config => {
                return Err(MediaError::InvalidFormatParameters {
                    codec: "MP4A-LATM",
                    detail: "cpresent=0 without config".to_owned(),
                })
            }
            None => {}
        }
        Ok(depacketizer)
    }

    fn set_mux(&mut self, mux: StreamMuxConfig) {
        mux.config.apply(&mut self.params, mux.config_bytes.clone());
        self.frame_ticks = mux.config.frame_ticks(self.state.clock_rate());
        self.mux = Some(mux);
    }

    /// Parses the AudioMuxElements of a complete payload and queues their frames: those before
    /// an error in a later element, none when the payload holds more than [`MAX_AUS_PER_PACKET`].
    fn parse(&mut self, data: &Bytes, base: Timestamp) -> Result<(), String> {
        let mut units = Vec::new();
        let result = self.parse_elements(data, base, &mut units);
        for (ticks, unit) in units {
            self.ready.push_back(AccessUnit {
                timestamp: Timestamp { ticks, ..base },
                keyframe: true,
                discontinuity: self.state.take_loss(),
                data: vec![unit],
            });
        }
        result
    }

    /// The frames of the AudioMuxElements of `data` and their times, appended to `units`.
    fn parse_elements(
        &mut self,
        data: &Bytes,
        base: Timestamp,
        units: &mut Vec<(i64, Bytes)>,
    ) -> Result<(), String> {
        let mut r = BitReader::new(data);
        let mut frame = 0usize;
        while r.remaining() >= 8 {
            let start = r.position();
            let frames = self
                .read_element(&mut r, data)
                .map_err(|e| format!("AudioMuxElement at bit {}: {}", e.bit, e.what))?;
            // §1.7.3: an AudioMuxElement ends byte aligned.
            r.align_from(0);
            if r.position() == start {
                break;
            }
            for unit in frames {
                // Empty frames count too: each costs parsing and a time slot.
                if frame == MAX_AUS_PER_PACKET {
                    units.clear();
                    return Err(format!("more than {MAX_AUS_PER_PACKET} frames"));
                }
                let ticks = base
                    .ticks
                    .saturating_add((frame as i64).saturating_mul(self.frame_ticks));
                frame += 1;
                if !unit.is_empty() {
                    units.push((ticks, unit));
                }
            }
        }
        Ok(())
    }

    // ISO/IEC 14496-3 §1.7.3.1 Table 1.41: AudioMuxElement(muxConfigPresent).
    fn read_element(
        &mut self,
        r: &mut BitReader<'_>,
        data: &Bytes,
    ) -> Result<Vec<Bytes>, BitError> {
        if self.in_band_config && !r.flag("useSameStreamMux")? {
            let mux = StreamMuxConfig::read(r)?;
            if self.mux.as_ref() != Some(&mux) {
                self.set_mux(mux);
            }
        }
        let Some(mux) = self.mux.as_ref() else {
            return Err(r.error("no StreamMuxConfig yet"));
        };
        let mut frames = Vec::with_capacity(usize::from(mux.sub_frames));
        for _ in 0..mux.sub_frames {
            // Table 1.44 PayloadLengthInfo().
            let mut lengths = Vec::with_capacity(mux.layers.len().min(MAX_STREAMS));
            for layer in &mux.layers {
                let len = match layer.frame_length_type {
                    0 => {
                        let mut len = 0usize;
                        loop {
                            let tmp = r.field(8, "MuxSlotLengthBytes")?;
                            len += tmp as usize;
                            if tmp != 255 {
                                break;
                            }
                        }
                        len
                    }
                    _ => usize::from(layer.frame_length) + 20,
                };
                lengths.push(len);
            }
            // Table 1.45 PayloadMux(): the first stream's frame is kept.
            for (i, len) in lengths.into_iter().enumerate() {
                if r.remaining() / 8 < len {
                    return Err(r.error("frame exceeds the payload"));
                }
                if i == 0 {
                    frames.push(take_bytes(r, data, len));
                } else {
                    r.skip(len * 8, "payload")?;
                }
            }
        }
        r.skip(mux.other_data_bits as usize, "otherDataBit")?;
        Ok(frames)
    }

    /// Parses what was gathered for an element whose end never got a marker.
    fn flush_pending(&mut self) {
        let Some((_, start)) = self.pending_start.take() else {
            return;
        };
        let data = self.pending.split().freeze();
        if self.parse(&data, start).is_err() {
            self.state.mark_loss();
        }
    }
}

/// `len` whole bytes from the reader: a slice of `data` when aligned, else a copy.
fn take_bytes(r: &mut BitReader<'_>, data: &Bytes, len: usize) -> Bytes {
    let at = r.position();
    if at % 8 == 0 {
        let _ = r.skip(len * 8, "payload");
        return data.slice(at / 8..at / 8 + len);
    }
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        out.push(r.read(8).unwrap_or(0) as u8);
    }
    Bytes::from(out)
}

impl crate::Depacketizer for Depacketizer {
    fn push(&mut self, pkt: RtpIn) -> Result<(), DepacketizeError> {
        let Admission::Accept { restart } = self.state.admit(&pkt) else {
            return Ok(());
        };
        if restart {
            self.pending.clear();
            self.pending_start = None;
            self.synced = false;
        }
        let timestamp = self.state.timestamp(pkt.timestamp);
        let new_timestamp = self.last_rtp_timestamp != Some(pkt.timestamp);
        self.last_rtp_timestamp = Some(pkt.timestamp);
        if !self.synced {
            // RFC 6416 §6.1: after a loss, the packet after the next marked one starts an element;
            // for a sender that never marks, a packet with a new timestamp does (fragments share
            // their element's timestamp).
            if self.markers_seen || !new_timestamp {
                self.synced = pkt.marker;
                self.markers_seen |= pkt.marker;
                return Ok(());
            }
            self.synced = true;
        }
        self.markers_seen |= pkt.marker;
        if matches!(self.pending_start, Some((rtp, _)) if rtp != pkt.timestamp) {
            self.flush_pending();
        }
        // RFC 6416 §6.1: the marker bit ends an AudioMuxElement spread over several packets.
        let (data, start) = match self.pending_start {
            None if pkt.marker => (pkt.payload.clone(), timestamp),
            _ => {
                if self.pending.len() + pkt.payload.len() > MAX_ELEMENT_SIZE {
                    self.pending.clear();
                    self.pending_start = None;
                    return Err(self.state.error(&pkt, "AudioMuxElement exceeds 1 MiB"));
                }
                self.pending.extend_from_slice(&pkt.payload);
                let (_, start) = *self.pending_start.get_or_insert((pkt.timestamp, timestamp));
                if !pkt.marker {
                    return Ok(());
                }
                self.pending_start = None;
                (self.pending.split().freeze(), start)
            }
        };
        self.parse(&data, start)
            .map_err(|what| self.state.error(&pkt, what))
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

/// RFC 6416 packetizer with `cpresent=0`: each access unit becomes one AudioMuxElement
/// (PayloadLengthInfo and the frame), split over several packets when it does not fit the MTU. The
/// marker bit is set on the packet that ends the element (RFC 6416 §6.1).
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

    /// The `a=fmtp` parameters describing this packetizer's output for AudioSpecificConfig
    /// `config` (RFC 6416 §7.1; profile-level-id is left at its default).
    pub fn fmtp(config: &[u8]) -> Result<String, MediaError> {
        let object = AudioSpecificConfig::parse(config)?.object_type;
        let mux = StreamMuxConfig::for_audio_specific_config(config)?;
        Ok(format!(
            "object={object};cpresent=0;config={}",
            codec::encode_hex(&mux)
        ))
    }
}

impl crate::Packetizer for Packetizer {
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        let len: usize = au.data.iter().map(Bytes::len).sum();
        if len == 0 {
            return;
        }
        // §1.7.3.1 PayloadLengthInfo(): 255 per full byte, then the remainder.
        let mut element = Vec::with_capacity(len + len / 255 + 1);
        element.resize(len / 255, 0xff);
        element.push((len % 255) as u8);
        for part in &au.data {
            element.extend_from_slice(part);
        }
        let chunk = codec::max_payload(self.mtu, 1);
        let count = element.len().div_ceil(chunk);
        for (i, piece) in element.chunks(chunk).enumerate() {
            out.push(self.writer.packet(i + 1 == count, timestamp, &[piece]));
        }
    }

    fn next_sequence_number(&self) -> u16 {
        self.writer.next_sequence_number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_rfc_6416_example_config() {
        // RFC 6416 §7.4 example: AAC LC, 24 kHz, stereo ⇒ config=400026203fc0.
        let mux = StreamMuxConfig::for_audio_specific_config(&[0x13, 0x10]).unwrap();
        assert_eq!(codec::encode_hex(&mux), "400026203fc0");
        let parsed = StreamMuxConfig::parse(&mux).unwrap();
        assert_eq!(parsed.audio_specific_config().sample_rate, 24_000);
        assert_eq!(parsed.audio_specific_config().channels, 2);
        assert_eq!(parsed.sub_frames(), 1);
        assert_eq!(&parsed.config_bytes[..], &[0x13, 0x10]);
    }

    #[test]
    fn bit_writer() {
        let mut w = BitWriter::default();
        w.put(1, 1);
        w.put(0x3, 2);
        w.put(0xff, 8);
        assert_eq!(w.finish(), vec![0xff, 0xe0]);
    }
}
