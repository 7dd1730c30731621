//! H.265: RTP depacketization and packetization (RFC 7798), parameter sets, and keyframe detection
//! on RTP payloads.
//!
//! [`Depacketizer`] turns the RTP packets of one track into access units (single NAL unit packets,
//! aggregation packets and fragmentation units) with the same tolerance of camera quirks as the
//! H.264 one; [`Packetizer`] does the reverse.

use bytes::{BufMut, Bytes, BytesMut};

use crate::frame::{AccessUnit, CodecParams, DepacketizeError, RtpIn};
use crate::h264::{
    after_start_code, level_string, split_annexb, sprop_nals, Assembler, NalCodec, NalPacketizer,
    NalPacking, RbspBits, SpsInfo,
};
use crate::rtp;
use crate::MediaError;

/// Smallest `mtu` [`Packetizer::new`] accepts: an RTP header, the payload and FU headers and one
/// byte of NAL unit data. Smaller values are raised to this.
pub const MIN_MTU: usize = rtp::HEADER_LEN + FU_OVERHEAD + 1;

// ITU-T H.265 Table 7-1 and RFC 7798 §4.4: NAL unit types used here.
const IRAP_FIRST: u8 = 16; // BLA_W_LP
const IRAP_LAST: u8 = 21; // CRA_NUT
const VPS: u8 = 32;
const SPS: u8 = 33;
const PPS: u8 = 34;
const AUD: u8 = 35;
const PREFIX_SEI: u8 = 39;
const AP: u8 = 48;
const FU: u8 = 49;
const PACI: u8 = 50;

/// Length of the H.265 NAL unit header and of the RTP payload header that mirrors it.
const NAL_HEADER_LEN: usize = 2;

/// Payload header and FU header in front of each fragment (RFC 7798 §4.4.3).
const FU_OVERHEAD: usize = NAL_HEADER_LEN + 1;

/// The `nal_unit_type` in the first byte of an H.265 NAL unit header (or RTP payload header).
fn nal_type(first_byte: u8) -> u8 {
    // ITU-T H.265 §7.3.1.2: forbidden_zero_bit, nal_unit_type (6 bits), nuh_layer_id, ...
    (first_byte >> 1) & 0x3f
}

/// The `nal_unit_type` of a whole NAL unit, or `None` when it is shorter than its header.
fn unit_type(nal: &[u8]) -> Option<u8> {
    match nal {
        [first, _, ..] => Some(nal_type(*first)),
        _ => None,
    }
}

/// Whether a NAL unit of this type starts a keyframe access unit: an IRAP picture (BLA, IDR, CRA)
/// or a parameter set that precedes one.
fn starts_keyframe_type(nal_type: u8) -> bool {
    (IRAP_FIRST..=IRAP_LAST).contains(&nal_type) || matches!(nal_type, VPS | SPS | PPS)
}

fn starts_keyframe(nal: &[u8]) -> bool {
    nal.first()
        .is_some_and(|&b| starts_keyframe_type(nal_type(b)))
}

/// Packs the NAL units of access units into RTP packets (RFC 7798).
///
/// A NAL unit that fits in one packet goes in a single NAL unit packet (§4.4.1); a larger one is
/// split into fragmentation units (§4.4.3). With [`Packetizer::with_aggregation`], consecutive small
/// NAL units share aggregation packets (§4.4.2). No DONL fields are sent (`sprop-max-don-diff` is
/// 0). The marker bit is set on the last packet of each access unit (§4.1).
#[derive(Debug, Clone)]
pub struct Packetizer {
    inner: NalPacketizer,
}

impl Packetizer {
    /// A packetizer for one RTP stream. `mtu` is the largest RTP packet to produce, 12-byte header
    /// included (see [`crate::h264::DEFAULT_MTU`]; values below [`MIN_MTU`] are raised to it,
    /// values above [`crate::h264::MAX_MTU`] lowered to it). Only the low seven bits of
    /// `payload_type` are used.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        Packetizer {
            inner: NalPacketizer::new::<H265Packing>(payload_type, ssrc, initial_seq, mtu),
        }
    }

    /// Turns aggregation packets on or off: when on, consecutive NAL units of an access unit that
    /// fit in one packet together (VPS, SPS, PPS, SEI, small slices) share an aggregation packet.
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
    /// Access unit delimiters and NAL units shorter than their 2-byte header are dropped; an
    /// access unit with nothing else produces no packet.
    pub fn packetize(&mut self, nals: &[&[u8]], timestamp: u32, out: &mut Vec<Bytes>) {
        self.inner.packetize::<H265Packing>(nals, timestamp, out);
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

/// H.265 framing for [`NalPacketizer`].
#[derive(Debug)]
struct H265Packing;

impl NalPacking for H265Packing {
    const NAL_HEADER_LEN: usize = NAL_HEADER_LEN;
    const FU_OVERHEAD: usize = FU_OVERHEAD;
    const AGGREGATE_HEADER_LEN: usize = NAL_HEADER_LEN;

    fn keep(nal: &[u8]) -> bool {
        unit_type(nal).is_some_and(|t| t != AUD)
    }

    fn put_aggregate_header(buf: &mut BytesMut, nals: &[&[u8]]) {
        // RFC 7798 §4.4.2: F is the OR of the aggregated F bits; LayerId and TID are the lowest
        // of the aggregated ones.
        let headers = nals.iter().filter_map(|nal| match nal {
            [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        });
        let forbidden = headers.clone().fold(0, |f, h| f | (h & 0x8000));
        let layer = headers.clone().map(|h| h & 0x01f8).min().unwrap_or(0);
        let tid = headers.map(|h| h & 0x0007).min().unwrap_or(1);
        buf.put_u16(forbidden | u16::from(AP) << 9 | layer | tid);
    }

    fn put_fu_header(buf: &mut BytesMut, nal_header: &[u8], start: bool, end: bool) {
        // RFC 7798 §4.4.3: the payload header is the NAL header with type 49; the FU header has
        // S, E and the NAL unit type.
        let (first, second) = match nal_header {
            [a, b, ..] => (*a, *b),
            _ => (0, 1),
        };
        buf.put_u8((first & 0x81) | FU << 1);
        buf.put_u8(second);
        buf.put_u8(u8::from(start) << 7 | u8::from(end) << 6 | nal_type(first));
    }
}

/// Turns the RTP packets of an H.265 track into access units (RFC 7798).
///
/// Understood: single NAL unit packets (§4.4.1), aggregation packets (§4.4.2) and fragmentation
/// units (§4.4.3), with DONL/DOND fields when the fmtp announces them (`sprop-max-don-diff` or
/// `sprop-depack-buf-nalus` above 0; NAL units are still taken in transmission order). PACI
/// packets (§4.4.4) are errors.
///
/// Access unit boundaries, loss handling and camera tolerance are those of
/// [`crate::h264::Depacketizer`]: marker bit or timestamp change, parameter sets and SEI that do
/// not end an access unit, Annex B streams inside packets and fragments (Amatek AR-N3222F),
/// fragmentation units with both S and E set (OpenIPC), packets of a foreign payload type,
/// duplicates, SSRC changes. A keyframe is an access unit with an IRAP picture (types 16..=21).
#[derive(Debug)]
pub struct Depacketizer {
    asm: Assembler<H265Params>,
    /// DONL/DOND fields are present (RFC 7798 §4.4).
    don: bool,
}

impl Depacketizer {
    /// A depacketizer for a track with this RTP clock rate (90 000 for H.265) and SDP `a=fmtp`
    /// value. `sprop-vps`, `sprop-sps` and `sprop-pps` are taken in any order when they parse
    /// (Annex B prefixes tolerated); anything else in the fmtp is ignored, so this does not fail
    /// today (it returns a `Result` like the other codecs' constructors).
    pub fn new(clock_rate: u32, fmtp: Option<&str>) -> Result<Self, MediaError> {
        let mut params = H265Params {
            params: CodecParams {
                codec: "H265".to_owned(),
                clock_rate,
                ..CodecParams::default()
            },
            vps: None,
            sps: None,
            pps: Vec::new(),
        };
        let mut don = false;
        let fmtp_params = fmtp.map(sluice_rtsp::sdp::parse_fmtp).unwrap_or_default();
        // Parameter sets go in VPS, SPS, PPS order whatever the fmtp order (Dahua lists the VPS
        // last; any order is legal): an SPS starts a new parameter set and drops the PPSs seen
        // before it, so a PPS listed ahead of its SPS would otherwise be lost.
        for wanted in ["sprop-vps", "sprop-sps", "sprop-pps"] {
            for (name, value) in &fmtp_params {
                if name.eq_ignore_ascii_case(wanted) {
                    for nal in sprop_nals(value) {
                        params.observe(&nal);
                    }
                }
            }
        }
        for (name, value) in &fmtp_params {
            // RFC 7798 §7.1: DONL/DOND are present when either parameter is above 0.
            if (name.eq_ignore_ascii_case("sprop-max-don-diff")
                || name.eq_ignore_ascii_case("sprop-depack-buf-nalus"))
                && value.trim().parse::<u32>().is_ok_and(|v| v > 0)
            {
                don = true;
            }
        }
        Ok(Depacketizer {
            asm: Assembler::new(params, clock_rate),
            don,
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
        let (first, second) = match payload.get(..NAL_HEADER_LEN) {
            Some(&[a, b]) => (a, b),
            _ if payload.is_empty() => return self.asm.end(pkt.marker),
            _ => return Err("payload shorter than the 2-byte payload header".to_owned()),
        };
        let don_len = if self.don { 2 } else { 0 };
        match nal_type(first) {
            // RFC 7798 §4.4.2: payload header, then ([DONL or DOND], 16-bit size, NAL unit)
            // repeated: DONL (16 bits) before the first unit, DOND (8 bits) before the others.
            AP => {
                let mut pos = NAL_HEADER_LEN;
                let mut first_unit = true;
                while pos < payload.len() {
                    pos += match (self.don, first_unit) {
                        (false, _) => 0,
                        (true, true) => 2,
                        (true, false) => 1,
                    };
                    first_unit = false;
                    let Some(&[hi, lo]) = payload.get(pos..pos + 2) else {
                        return Err(format!(
                            "AP: truncated NAL unit size at offset {pos} of {}",
                            payload.len()
                        ));
                    };
                    let size = usize::from(u16::from_be_bytes([hi, lo]));
                    let start = pos + 2;
                    let end = start + size;
                    if end > payload.len() {
                        return Err(format!(
                            "AP: NAL unit of {size} bytes at offset {start} overruns the \
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
            // RFC 7798 §4.4.3: payload header, FU header (S, E, FuType), DONL in the first
            // fragment, data. The NAL header is the payload header with FuType as its type.
            FU => {
                let Some(&fu_header) = payload.get(NAL_HEADER_LEN) else {
                    return Err("FU without an FU header".to_owned());
                };
                let start = fu_header & 0x80 != 0;
                let end = fu_header & 0x40 != 0;
                if start {
                    let data = payload.get(FU_OVERHEAD + don_len..).unwrap_or_default();
                    let header = [(first & 0x81) | (fu_header & 0x3f) << 1, second];
                    self.asm.fragment_start(&header, data)?;
                    if end {
                        self.asm.fragment_data(&[], true)?;
                    }
                } else {
                    let data = payload.get(FU_OVERHEAD..).unwrap_or_default();
                    self.asm.fragment_data(data, end)?;
                }
            }
            PACI => return Err("PACI packets are not supported".to_owned()),
            // RFC 7798 §4.4: types 51..=63 are not used by the payload format; ignored.
            51..=63 => {}
            // RFC 7798 §4.4.1: single NAL unit packet, DONL after the header when present.
            _ if self.don => {
                let mut nal = BytesMut::with_capacity(payload.len().saturating_sub(don_len));
                nal.extend_from_slice(&[first, second]);
                nal.extend_from_slice(payload.get(NAL_HEADER_LEN + don_len..).unwrap_or_default());
                self.asm.nal(nal.freeze())?;
            }
            _ => self.asm.nal(payload.clone())?,
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

/// H.265 codec parameters: the VPS, SPS and PPSs last seen, and what the SPS says.
#[derive(Debug)]
struct H265Params {
    params: CodecParams,
    vps: Option<Bytes>,
    sps: Option<Bytes>,
    /// PPSs by `pps_pic_parameter_set_id`, in arrival order.
    pps: Vec<(u32, Bytes)>,
}

impl H265Params {
    fn rebuild_config(&mut self) {
        self.params.config = self
            .vps
            .iter()
            .chain(&self.sps)
            .cloned()
            .chain(self.pps.iter().map(|(_, pps)| pps.clone()))
            .collect();
    }
}

impl NalCodec for H265Params {
    const NAME: &'static str = "H265";

    fn is_vcl(nal: &[u8]) -> bool {
        unit_type(nal).is_some_and(|t| t < VPS)
    }

    fn is_keyframe(nal: &[u8]) -> bool {
        unit_type(nal).is_some_and(|t| (IRAP_FIRST..=IRAP_LAST).contains(&t))
    }

    fn starts_access_unit(nal: &[u8]) -> bool {
        // ITU-T H.265 §7.4.2.4.4: an access unit begins with a VPS, SPS, PPS, AUD, prefix SEI or
        // types 41..=44, else with a slice segment having first_slice_segment_in_pic_flag.
        match unit_type(nal) {
            Some(t) if t < VPS => nal.get(NAL_HEADER_LEN).is_some_and(|b| b & 0x80 != 0),
            Some(VPS..=AUD | PREFIX_SEI | 41..=44) => true,
            _ => false,
        }
    }

    fn is_plausible(nal: &[u8]) -> bool {
        // A coded slice is more than its header: a bare one is what remains of a start code
        // after a rebuilt header (Amatek AR-N3222F). Types 48..=63 are RTP payload structures
        // (RFC 7798 §4.4), never NAL units to decode.
        unit_type(nal).is_some_and(|t| (t >= VPS || nal.len() > NAL_HEADER_LEN) && t < AP)
    }

    fn observe(&mut self, nal: &Bytes) {
        match unit_type(nal) {
            Some(VPS) if self.vps.as_ref() != Some(nal) => {
                self.vps = Some(nal.clone());
                self.rebuild_config();
            }
            Some(SPS) => {
                if self.sps.as_ref() == Some(nal) {
                    return;
                }
                if let Some(info) = parse_sps(nal) {
                    info.apply(&mut self.params);
                }
                self.sps = Some(nal.clone());
                // A new SPS starts a new set of parameters; its PPSs follow it.
                self.pps.clear();
                self.rebuild_config();
            }
            Some(PPS) => {
                // ITU-T H.265 §7.3.2.3.1: pps_pic_parameter_set_id is the first ue(v).
                let id = RbspBits::new(nal.get(NAL_HEADER_LEN..).unwrap_or_default())
                    .ue()
                    .unwrap_or(0);
                match self.pps.iter_mut().find(|(i, _)| *i == id) {
                    Some((_, pps)) if pps == nal => return,
                    Some((_, pps)) => *pps = nal.clone(),
                    // At most 64 ids: the list stays small.
                    None if id <= 63 => self.pps.push((id, nal.clone())),
                    None => return,
                }
                self.rebuild_config();
            }
            _ => {}
        }
    }
}

/// Parses an H.265 SPS NAL unit (header included) as far as the VUI timing information.
///
/// A small parser of its own: `scuffle-h265` 0.2.2 panics (index out of bounds in
/// `scaling_list.rs`) on some malformed SPSs, and an SPS comes from the network.
pub(crate) fn parse_sps(nal: &[u8]) -> Option<SpsInfo> {
    let mut r = RbspBits::new(nal.get(NAL_HEADER_LEN..)?);
    // ITU-T H.265 §7.3.2.2.1: seq_parameter_set_rbsp().
    r.skip(4)?; // sps_video_parameter_set_id
    let max_sub_layers_minus1 = r.bits(3)?;
    r.skip(1)?; // sps_temporal_id_nesting_flag
    let (profile_idc, level_idc) = profile_tier_level(&mut r, max_sub_layers_minus1)?;
    if r.ue()? > 15 {
        return None; // sps_seq_parameter_set_id
    }
    let chroma_format_idc = r.ue()?;
    let separate_colour_plane = chroma_format_idc == 3 && r.bit()?;
    let width = r.ue()?;
    let height = r.ue()?;
    let (mut crop_x, mut crop_y) = (0u64, 0u64);
    if r.bit()? {
        // conf_win_{left,right,top,bottom}_offset, in chroma samples (Table 6-1).
        let (sub_width, sub_height) = match (chroma_format_idc, separate_colour_plane) {
            (1, _) => (2, 2),
            (2, _) => (2, 1),
            _ => (1, 1),
        };
        crop_x = sub_width * (u64::from(r.ue()?) + u64::from(r.ue()?));
        crop_y = sub_height * (u64::from(r.ue()?) + u64::from(r.ue()?));
    }
    let width = u64::from(width).checked_sub(crop_x)?;
    let height = u64::from(height).checked_sub(crop_y)?;
    if width == 0 || height == 0 {
        return None;
    }
    r.ue()?; // bit_depth_luma_minus8
    r.ue()?; // bit_depth_chroma_minus8
    let log2_max_poc_lsb = r.ue()?.checked_add(4).filter(|v| *v <= 16)?;
    let ordering_info_present = r.bit()?;
    let first = if ordering_info_present {
        0
    } else {
        max_sub_layers_minus1
    };
    for _ in first..=max_sub_layers_minus1 {
        r.ue()?; // sps_max_dec_pic_buffering_minus1
        r.ue()?; // sps_max_num_reorder_pics
        r.ue()?; // sps_max_latency_increase_plus1
    }
    for _ in 0..6 {
        // log2_min_luma_coding_block_size_minus3 .. max_transform_hierarchy_depth_intra
        r.ue()?;
    }
    if r.bit()? && r.bit()? {
        // scaling_list_enabled_flag, sps_scaling_list_data_present_flag
        skip_scaling_list_data(&mut r)?;
    }
    r.skip(2)?; // amp_enabled_flag, sample_adaptive_offset_enabled_flag
    if r.bit()? {
        // pcm_enabled_flag: two 4-bit depths, two ue(v) sizes, loop filter flag.
        r.skip(8)?;
        r.ue()?;
        r.ue()?;
        r.skip(1)?;
    }
    let num_short_term_ref_pic_sets = r.ue()?;
    if num_short_term_ref_pic_sets > 64 {
        return None;
    }
    skip_short_term_ref_pic_sets(&mut r, num_short_term_ref_pic_sets)?;
    if r.bit()? {
        // long_term_ref_pics_present_flag
        let count = r.ue()?;
        if count > 32 {
            return None;
        }
        for _ in 0..count {
            r.skip(log2_max_poc_lsb + 1)?; // lt_ref_pic_poc_lsb_sps, used_by_curr_pic_lt_sps_flag
        }
    }
    r.skip(2)?; // sps_temporal_mvp_enabled_flag, strong_intra_smoothing_enabled_flag
    let frame_rate = if r.bit()? {
        vui_frame_rate(&mut r)
    } else {
        None
    };
    // ITU-T H.265 Annex A.3: general_profile_idc.
    let profile = match profile_idc {
        1 => "Main".to_owned(),
        2 => "Main 10".to_owned(),
        3 => "Main Still Picture".to_owned(),
        4 => "Format Range Extensions".to_owned(),
        5 => "High Throughput".to_owned(),
        9 => "Screen Content Coding".to_owned(),
        other => other.to_string(),
    };
    Some(SpsInfo {
        width: u32::try_from(width).ok()?,
        height: u32::try_from(height).ok()?,
        profile,
        // ITU-T H.265 Annex A.4: general_level_idc is 30 times the level.
        level: level_string(level_idc / 3),
        frame_rate,
    })
}

/// Reads `profile_tier_level(1, max_sub_layers_minus1)` (ITU-T H.265 §7.3.3): the general profile
/// and level.
fn profile_tier_level(r: &mut RbspBits<'_>, max_sub_layers_minus1: u32) -> Option<(u32, u32)> {
    r.skip(3)?; // general_profile_space, general_tier_flag
    let profile_idc = r.bits(5)?;
    // Compatibility flags (32), source and constraint flags (4 + 43 + 1).
    r.skip(32 + 48)?;
    let level_idc = r.bits(8)?;
    let mut present = Vec::with_capacity(8);
    for _ in 0..max_sub_layers_minus1 {
        present.push((r.bit()?, r.bit()?));
    }
    if max_sub_layers_minus1 > 0 {
        r.skip(2 * (8 - max_sub_layers_minus1))?; // reserved_zero_2bits
    }
    for (profile_present, level_present) in present {
        if profile_present {
            r.skip(88)?;
        }
        if level_present {
            r.skip(8)?;
        }
    }
    Some((profile_idc, level_idc))
}

/// Skips `scaling_list_data()` (ITU-T H.265 §7.3.4).
fn skip_scaling_list_data(r: &mut RbspBits<'_>) -> Option<()> {
    for size_id in 0..4u32 {
        let step = if size_id == 3 { 3 } else { 1 };
        for _ in (0..6).step_by(step) {
            if !r.bit()? {
                r.ue()?; // scaling_list_pred_matrix_id_delta
                continue;
            }
            let coefficients = 64.min(1 << (4 + (size_id << 1)));
            if size_id > 1 {
                r.se()?; // scaling_list_dc_coef_minus8
            }
            for _ in 0..coefficients {
                r.se()?; // scaling_list_delta_coef
            }
        }
    }
    Some(())
}

/// Skips the SPS's `st_ref_pic_set(i)` structures (ITU-T H.265 §7.3.7), tracking each set's delta
/// POCs because a set can be predicted from the previous one.
fn skip_short_term_ref_pic_sets(r: &mut RbspBits<'_>, count: u32) -> Option<()> {
    /// Delta POCs of one set: negative ones (S0) and positive ones (S1).
    type Set = (Vec<i64>, Vec<i64>);
    const MAX_PICS: usize = 16;
    let mut previous: Option<Set> = None;
    for idx in 0..count {
        let inter_prediction = idx != 0 && r.bit()?;
        let set = if inter_prediction {
            // In an SPS delta_idx_minus1 is absent: the reference is the previous set.
            let (ref_s0, ref_s1) = previous.as_ref()?;
            let negative = r.bit()?;
            let abs = i64::from(r.ue()?);
            if abs > 0x7fff {
                return None;
            }
            let delta_rps = if negative { -(abs + 1) } else { abs + 1 };
            let n = ref_s0.len() + ref_s1.len();
            let mut use_delta = Vec::with_capacity(n + 1);
            for _ in 0..=n {
                let used_by_curr_pic = r.bit()?;
                use_delta.push(used_by_curr_pic || r.bit()?);
            }
            let used = |j: usize| use_delta.get(j).copied().unwrap_or(false);
            // (7-61) and (7-62): the predicted set.
            let mut s0 = Vec::new();
            for (j, d) in ref_s1.iter().enumerate().rev() {
                if d + delta_rps < 0 && used(ref_s0.len() + j) {
                    s0.push(d + delta_rps);
                }
            }
            if delta_rps < 0 && used(n) {
                s0.push(delta_rps);
            }
            for (j, d) in ref_s0.iter().enumerate() {
                if d + delta_rps < 0 && used(j) {
                    s0.push(d + delta_rps);
                }
            }
            let mut s1 = Vec::new();
            for (j, d) in ref_s0.iter().enumerate().rev() {
                if d + delta_rps > 0 && used(j) {
                    s1.push(d + delta_rps);
                }
            }
            if delta_rps > 0 && used(n) {
                s1.push(delta_rps);
            }
            for (j, d) in ref_s1.iter().enumerate() {
                if d + delta_rps > 0 && used(ref_s0.len() + j) {
                    s1.push(d + delta_rps);
                }
            }
            (s0, s1)
        } else {
            let negatives = r.ue()? as usize;
            let positives = r.ue()? as usize;
            if negatives > MAX_PICS || positives > MAX_PICS {
                return None;
            }
            let mut read = |count: usize, sign: i64| -> Option<Vec<i64>> {
                let mut poc = 0i64;
                let mut out = Vec::with_capacity(count);
                for _ in 0..count {
                    poc += sign * (i64::from(r.ue()?) + 1);
                    r.skip(1)?; // used_by_curr_pic_s{0,1}_flag
                    out.push(poc);
                }
                Some(out)
            };
            let s0 = read(negatives, -1)?;
            let s1 = read(positives, 1)?;
            (s0, s1)
        };
        // ITU-T H.265 §7.4.8: at most sps_max_dec_pic_buffering_minus1 (< 16) pictures of each kind.
        if set.0.len() > MAX_PICS || set.1.len() > MAX_PICS {
            return None;
        }
        previous = Some(set);
    }
    Some(())
}

/// Reads `vui_parameters()` (ITU-T H.265 §E.2.1) as far as the timing information: the picture
/// rate `vui_time_scale / vui_num_units_in_tick`, when signalled.
fn vui_frame_rate(r: &mut RbspBits<'_>) -> Option<f64> {
    if r.bit()? && r.bits(8)? == 255 {
        // aspect_ratio_info_present_flag, aspect_ratio_idc == EXTENDED_SAR: sar_width, sar_height
        r.skip(32)?;
    }
    if r.bit()? {
        r.skip(1)?; // overscan_info_present_flag, overscan_appropriate_flag
    }
    if r.bit()? {
        // video_signal_type_present_flag: video_format, video_full_range_flag, then colour
        // description (primaries, transfer, matrix) when flagged.
        r.skip(4)?;
        if r.bit()? {
            r.skip(24)?;
        }
    }
    if r.bit()? {
        r.ue()?; // chroma_sample_loc_type_top_field
        r.ue()?; // chroma_sample_loc_type_bottom_field
    }
    r.skip(3)?; // neutral_chroma_indication_flag, field_seq_flag, frame_field_info_present_flag
    if r.bit()? {
        for _ in 0..4 {
            r.ue()?; // def_disp_win_*_offset
        }
    }
    if !r.bit()? {
        return None; // vui_timing_info_present_flag
    }
    let num_units_in_tick = r.bits(32)?;
    let time_scale = r.bits(32)?;
    if num_units_in_tick == 0 || time_scale == 0 {
        return None;
    }
    Some(f64::from(time_scale) / f64::from(num_units_in_tick))
}

/// True when this RTP payload carries only NAL units that may come ahead of a keyframe's slices in
/// its access unit: VPS, SPS, PPS, prefix SEI or an access unit delimiter (single NAL unit packets,
/// or an aggregation packet holding nothing else). See `h264::is_prelude` for why the GOP cache
/// needs it (CAMERA-QUIRKS #42).
pub fn is_prelude(rtp_payload: &[u8]) -> bool {
    let Some(&first) = rtp_payload.first() else {
        return false;
    };
    if rtp_payload.len() < NAL_HEADER_LEN {
        return false;
    }
    let prelude_type = |t: u8| matches!(t, VPS | SPS | PPS | AUD | PREFIX_SEI);
    match nal_type(first) {
        // RFC 7798 §4.4.2: payload header, then (16-bit size, NAL unit) repeated.
        AP => {
            let mut rest = rtp_payload.get(NAL_HEADER_LEN..).unwrap_or_default();
            let mut any = false;
            while let Some((len, tail)) = rest.split_first_chunk::<2>() {
                let len = usize::from(u16::from_be_bytes(*len));
                let Some(nal) = tail.get(..len) else {
                    break;
                };
                match nal.first() {
                    Some(&h) if prelude_type(nal_type(h)) => any = true,
                    _ => return false,
                }
                rest = tail.get(len..).unwrap_or_default();
            }
            any
        }
        t => prelude_type(t),
    }
}

/// True when this RTP payload begins a keyframe access unit: it starts an IRAP picture (types
/// 16..=21) or a VPS, SPS or PPS.
///
/// Recognized: a single NAL unit packet of such a type (RFC 7798 §4.4.1); an aggregation packet
/// holding such a NAL unit anywhere in it (§4.4.2); the first fragment (S bit) of such a NAL unit
/// (§4.4.3). Streams using DONL fields (`sprop-max-don-diff` > 0) are read as if they had none.
/// Tolerated: a payload, or the first FU fragment, that is itself an Annex B byte stream (start
/// code first; seen from Amatek AR-N3222F recorders) is looked into.
///
/// An access unit of several such NAL units has several packets for which this is true; a GOP
/// cache restarts only at the first of them.
pub fn is_keyframe_start(rtp_payload: &[u8]) -> bool {
    let Some(&first) = rtp_payload.first() else {
        return false;
    };
    if rtp_payload.len() < NAL_HEADER_LEN {
        return false;
    }
    match nal_type(first) {
        t if starts_keyframe_type(t) => true,
        // RFC 7798 §4.4.2: payload header, then (16-bit size, NAL unit) repeated.
        AP => {
            let mut rest = rtp_payload.get(NAL_HEADER_LEN..).unwrap_or_default();
            while let Some((len, tail)) = rest.split_first_chunk::<2>() {
                let len = usize::from(u16::from_be_bytes(*len));
                let Some(nal) = tail.get(..len) else {
                    break;
                };
                if starts_keyframe(nal) {
                    return true;
                }
                rest = tail.get(len..).unwrap_or_default();
            }
            false
        }
        // RFC 7798 §4.4.3: payload header, FU header (S, E, FuType), data.
        FU => {
            let Some(&fu_header) = rtp_payload.get(NAL_HEADER_LEN) else {
                return false;
            };
            if fu_header & 0x80 == 0 {
                return false;
            }
            match fu_header & 0x3f {
                // TRAIL_N, or (tolerated) an Annex B stream, whose first start code may begin in
                // the NAL header a depacketizer rebuilds: F and layer id, type 0, then TID.
                0 => {
                    let second = rtp_payload.get(1).copied().unwrap_or_default();
                    let rebuilt = [first & 0x81, second];
                    let data = rtp_payload.get(NAL_HEADER_LEN + 1..).unwrap_or_default();
                    annexb_starts_keyframe(&rebuilt, data)
                }
                t => starts_keyframe_type(t),
            }
        }
        // A NAL unit header of two zero bytes is invalid (nuh_temporal_id_plus1 is 0): Annex B.
        0 => annexb_starts_keyframe(&[], rtp_payload),
        _ => false,
    }
}

/// Whether `prefix` and `data` form an Annex B stream (start code first) holding a
/// keyframe-starting NAL unit.
fn annexb_starts_keyframe(prefix: &[u8], data: &[u8]) -> bool {
    after_start_code(prefix, data).is_some_and(|rest| split_annexb(rest).any(starts_keyframe))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2-byte NAL unit header of type `t`, layer 0, temporal id 1.
    fn hdr(t: u8) -> [u8; 2] {
        [t << 1, 0x01]
    }

    #[test]
    fn single_nal_units() {
        assert!(!is_keyframe_start(&[]));
        assert!(!is_keyframe_start(&[0x26]), "header cut short");
        for t in 16..=21 {
            assert!(is_keyframe_start(&[hdr(t)[0], 1, 0xaf]), "IRAP type {t}");
        }
        assert!(is_keyframe_start(&[0x40, 0x01, 0x0c]), "VPS");
        assert!(is_keyframe_start(&[0x42, 0x01, 0x01]), "SPS");
        assert!(is_keyframe_start(&[0x44, 0x01, 0xc1]), "PPS");
        assert!(!is_keyframe_start(&[0x02, 0x01, 0xd0]), "TRAIL_R");
        assert!(!is_keyframe_start(&hdr(22)), "reserved IRAP 22");
        assert!(!is_keyframe_start(&[0x4e, 0x01, 0x05]), "prefix SEI");
        assert!(!is_keyframe_start(&[0x46, 0x01, 0x50]), "AUD");
    }

    #[test]
    fn aggregation_packets() {
        let ap = hdr(AP);
        // [VPS, SPS]
        assert!(is_keyframe_start(&[
            ap[0], ap[1], 0, 3, 0x40, 0x01, 0x0c, 0, 3, 0x42, 0x01, 0x01
        ]));
        // [SEI, IDR_W_RADL]
        assert!(is_keyframe_start(&[
            ap[0], ap[1], 0, 2, 0x4e, 0x01, 0, 3, 0x26, 0x01, 0xaf
        ]));
        // [TRAIL_R, TRAIL_R]
        assert!(!is_keyframe_start(&[
            ap[0], ap[1], 0, 2, 0x02, 0x01, 0, 2, 0x02, 0x01
        ]));
        // Truncated size or unit.
        assert!(!is_keyframe_start(&[ap[0], ap[1], 0]));
        assert!(!is_keyframe_start(&[ap[0], ap[1], 0, 9, 0x40, 0x01]));
    }

    #[test]
    fn fragmentation_units() {
        let fu = hdr(FU);
        assert!(
            is_keyframe_start(&[fu[0], fu[1], 0x80 | 19, 0xaf]),
            "start of IDR"
        );
        assert!(
            is_keyframe_start(&[fu[0], fu[1], 0x80 | 21, 0xaf]),
            "start of CRA"
        );
        assert!(
            is_keyframe_start(&[fu[0], fu[1], 0x80 | 32, 0x0c]),
            "start of VPS"
        );
        assert!(
            !is_keyframe_start(&[fu[0], fu[1], 19, 0xaf]),
            "middle of IDR"
        );
        assert!(
            !is_keyframe_start(&[fu[0], fu[1], 0x40 | 19, 0xaf]),
            "end of IDR"
        );
        assert!(
            !is_keyframe_start(&[fu[0], fu[1], 0x80 | 1, 0xaf]),
            "start of TRAIL_R"
        );
        assert!(!is_keyframe_start(&[fu[0], fu[1]]), "no FU header");
        // FuType 0 with an Annex B stream inside.
        assert!(is_keyframe_start(&[
            fu[0], 0x00, 0x80, 0, 0, 1, 0x40, 0x01, 0x0c
        ]));
        assert!(!is_keyframe_start(&[
            fu[0], 0x00, 0x80, 0, 0, 1, 0x02, 0x01
        ]));
        // The rebuilt two-byte NAL header (all zero) begins the start code.
        assert!(is_keyframe_start(&[
            fu[0], 0x00, 0x80, 0, 1, 0x40, 0x01, 0x0c
        ]));
        assert!(is_keyframe_start(&[fu[0], 0x00, 0x80, 1, 0x42, 0x01, 0x01]));
        assert!(!is_keyframe_start(&[
            fu[0], 0x01, 0x80, 0, 1, 0x40, 0x01, 0x0c
        ]));
    }

    #[test]
    fn annexb_payload() {
        assert!(is_keyframe_start(&[0, 0, 0, 1, 0x40, 0x01, 0x0c]));
        assert!(!is_keyframe_start(&[0, 0, 0, 1, 0x02, 0x01, 0xd0]));
        assert!(
            !is_keyframe_start(&[0x01, 0x01]),
            "TRAIL_N with layer bit is not Annex B"
        );
        assert!(!is_keyframe_start(&[0x00, 0x01, 0x20, 0x00]), "TRAIL_N");
        // A TRAIL_N fragment whose data merely looks like a keyframe NAL header.
        let fu = hdr(FU);
        assert!(!is_keyframe_start(&[fu[0], fu[1], 0x80, 0x26, 0x01]));
    }

    fn b64(s: &str) -> Vec<u8> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn sps_of_real_cameras() {
        // (sprop-sps, width, height, level, frame rate), from shared/corpus fmtp and SDP files.
        let cases = [
            // Tenda CP3 Pro.
            (
                "QgEBAWAAAAMAkAAAAwAAAwA/oAUCAXFlLkkyS7I=",
                640,
                368,
                "2.1",
                None,
            ),
            // Xiaomi Yi (hacked firmware).
            (
                "QgEBAWAAAAMAAAMAAAMAAAMAuqABICAFEf5a7kSIi/Lc1AQEBAI=",
                2304,
                1296,
                "6.2",
                None,
            ),
            // Anjvision (packetization-mode=0).
            (
                "QgEBAUAAAAMAAAMAAAMAAAMAmaACgIAsH+Wu5Gwa5VE1BQYFAIA=",
                1280,
                704,
                "5.1",
                None,
            ),
            // Dahua, with VUI timing.
            (
                "QgEBAWAAAAMAsAAAAwAAAwBaoAWCAeFja5JFL83BQYFBAAADAAEAAAMADKE=",
                704,
                480,
                "3",
                Some(12.0),
            ),
            (
                "QgEBAWAAAAMAAAMAAAMAAAMAlqABQCAFof4qtO6JLuaAgA27oADN/mAE",
                2560,
                1440,
                "5",
                Some(15.0),
            ),
            (
                "QgEBAWAAAAMAAAMAAAMAAAMAlqABICAFEWNrkk5TNwEBAQQAAEZQAAV+QoQ=",
                2304,
                1296,
                "5",
                Some(20.0),
            ),
        ];
        for (sps, width, height, level, frame_rate) in cases {
            let info = parse_sps(&b64(sps)).unwrap_or_else(|| panic!("{sps}"));
            assert_eq!((info.width, info.height), (width, height), "{sps}");
            assert_eq!(info.profile, "Main", "{sps}");
            assert_eq!(info.level, level, "{sps}");
            assert_eq!(info.frame_rate, frame_rate, "{sps}");
        }
        // A trailing extra byte changes nothing.
        let mut sps = b64(cases[3].0);
        sps.push(0x04);
        assert_eq!(parse_sps(&sps).map(|i| i.width), Some(704));
        assert_eq!(parse_sps(&[0x42, 0x01]), None);
        assert_eq!(parse_sps(&[]), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

        /// Mutated SPSs never panic the parser (`scuffle-h265` 0.2.2 does on such input).
        #[test]
        fn sps_parser_never_panics(
            edits in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 0..6),
            cut in 0usize..64,
        ) {
            let mut sps = b64("QgEBAWAAAAMAsAAAAwAAAwBaoAWCAeFja5JFL83BQYFBAAADAAEAAAMADKE=");
            for (at, byte) in edits {
                let len = sps.len();
                sps[2 + at % (len - 2)] = byte;
            }
            sps.truncate(2 + cut);
            let _ = parse_sps(&sps);
        }
    }

    #[test]
    fn packetize_aggregation_and_fragments() {
        let mut packetizer = Packetizer::new(96, 7, 0, 40).with_aggregation(true);
        let vps = [0x40, 0x01, 0x0c];
        let sps = [0x42, 0x01, 0x01];
        let pps = [0x44, 0x01, 0xc1];
        let aud = [0x46, 0x01, 0x50];
        let idr = [[0x26, 0x01].as_slice(), &[0xaf; 60]].concat();
        let mut out = Vec::new();
        packetizer.packetize(&[&aud, &vps, &sps, &pps, &idr], 5, &mut out);
        let payloads: Vec<&[u8]> = out.iter().map(|p| &p[12..]).collect();
        assert_eq!(
            payloads[0],
            &[0x60, 0x01, 0, 3, 0x40, 0x01, 0x0c, 0, 3, 0x42, 0x01, 0x01, 0, 3, 0x44, 0x01, 0xc1][..]
        );
        // FU: payload header type 49, FU header S + type 19.
        assert_eq!(payloads[1][..3], [0x62, 0x01, 0x80 | 19]);
        assert_eq!(payloads.last().map(|p| p[2]), Some(0x40 | 19));
        assert!(out.iter().all(|p| p.len() <= 40));
        assert_eq!(packetizer.next_sequence_number() as usize, out.len());
        // Only an AUD: nothing.
        let mut out = Vec::new();
        packetizer.packetize(&[&aud, &[0x26]], 5, &mut out);
        assert!(out.is_empty());
    }
}
