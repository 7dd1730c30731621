//! Choosing a depacketizer or packetizer for an SDP media section, and the per-stream bookkeeping
//! every depacketizer shares (payload type, SSRC, sequence gaps, timestamps).
//!
//! # Stale SSRC tolerance
//!
//! A depacketizer follows SSRC changes (Uniview cameras change SSRC at every GOP; a wrong SSRC on
//! the very first packets), but after a change it locks onto the new SSRC: packets still arriving
//! from the previous one (the old session of a Reolink RLC-410 interleaved with the new one,
//! CAMERA-QUIRKS #44) are dropped and counted ([`crate::Depacketizer::stale_ssrc_packets`]) instead
//! of being taken as yet another change that would throw away the access unit in progress. The
//! previous SSRC is forgotten once [`STALE_SSRC_QUIET_PACKETS`] packets of the current one arrived
//! without any of it in between; [`STALE_SSRC_RETURN_RUN`] packets of it in a row, with none of the
//! current SSRC, mean the sender really went back to it.
//!
//! ```
//! use sluice_rtsp::sdp::SessionDescription;
//!
//! let sdp = SessionDescription::parse(
//!     b"v=0\r\nm=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n\
//!       a=fmtp:97 mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1190\r\n",
//! )
//! .unwrap();
//! let depacketizer = sluice_media::codec::depacketizer_for(&sdp.media[0], 97).unwrap();
//! assert_eq!(depacketizer.params().sample_rate, Some(48000));
//! assert_eq!(depacketizer.params().channels, Some(2));
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use sluice_rtsp::sdp::MediaDescription;

use crate::{
    aac, g711, g722, generic, h264, h265, l16, latm, mjpeg, opus, rtp, AccessUnit, CodecParams,
    DepacketizeError, Depacketizer, MediaError, Packetizer, RtpIn, Timestamp, TimestampExtender,
};

/// RTP clock assumed for a video format whose rtpmap gives no clock rate.
const DEFAULT_VIDEO_CLOCK: u32 = 90_000;
/// RTP clock assumed for a non-video format whose rtpmap gives no clock rate.
const DEFAULT_AUDIO_CLOCK: u32 = 8_000;

/// A depacketizer for payload type `payload_type` of `media`, chosen by the rtpmap encoding name
/// (compared case-insensitively; RFC 3551 static payload types need no rtpmap).
///
/// H.264, H.265, MPEG4-GENERIC (AAC), MP4A-LATM, OPUS, PCMU, PCMA, G722, L16 and JPEG have their own
/// depacketizers; anything else is passed through, one access unit per packet. The returned
/// depacketizer drops and counts packets of any other payload type (GeoVision GV-EBD4701 sends a
/// stray PT 50 packet after each keyframe), unless a run of them makes theirs the track's type
/// (a camera whose RTP payload type differs from its SDP).
///
/// When the section has no `a=fmtp` for `payload_type` but lists a single payload type and has exactly
/// one `a=fmtp` line, that line is used (Hikvision "HIK Media Server V5.03.010" puts `a=fmtp:97` under
/// `a=rtpmap:104`).
pub fn depacketizer_for(
    media: &MediaDescription,
    payload_type: u8,
) -> Result<Box<dyn Depacketizer>, MediaError> {
    let format = Format::of(media, payload_type);
    let fmtp = format.fmtp;
    let clock = format.clock_rate;
    let inner: Box<dyn Depacketizer> = match format.encoding.as_str() {
        "H264" => Box::new(h264::Depacketizer::new(clock, fmtp)?),
        "H265" => Box::new(h265::Depacketizer::new(clock, fmtp)?),
        "MPEG4-GENERIC" => Box::new(aac::Depacketizer::new(clock, fmtp)?),
        "MP4A-LATM" => Box::new(latm::Depacketizer::new(clock, fmtp)?),
        "OPUS" => Box::new(opus::Depacketizer::new(clock, fmtp)),
        "PCMU" | "PCMA" => Box::new(
            g711::Depacketizer::new(clock, fmtp)
                .with_law(g711::Law::from_encoding(&format.encoding))
                .with_channels(format.channels),
        ),
        "G722" => Box::new(g722::Depacketizer::new(clock, fmtp).with_channels(format.channels)),
        "L16" => Box::new(l16::Depacketizer::new(clock, fmtp).with_channels(format.channels)),
        "JPEG" => Box::new(mjpeg::Depacketizer::new(clock, fmtp)),
        _ => Box::new(
            generic::Depacketizer::new(clock, fmtp)
                .with_codec(&format.name)
                .with_channels(format.channels),
        ),
    };
    Ok(Box::new(PayloadTypeFilter {
        payload_type,
        accepted: payload_type,
        foreign_run: None,
        foreign_packets: 0,
        inner,
    }))
}

/// A packetizer for payload type `payload_type` of `media`, chosen like [`depacketizer_for`], that
/// writes packets of at most `mtu` bytes (RTP header included) with SSRC `ssrc`, numbered from
/// `initial_seq`.
///
/// H.264 and H.265 access units go out as single NAL units and fragmentation units (packetization
/// mode 1 for H.264). Formats without a packetizer of their own are passed through, one packet per
/// access unit.
pub fn packetizer_for(
    media: &MediaDescription,
    payload_type: u8,
    ssrc: u32,
    initial_seq: u16,
    mtu: usize,
) -> Result<Box<dyn Packetizer>, MediaError> {
    let format = Format::of(media, payload_type);
    let (pt, seq) = (payload_type, initial_seq);
    Ok(match format.encoding.as_str() {
        "H264" => Box::new(h264::Packetizer::new(pt, ssrc, seq, mtu)),
        "H265" => Box::new(h265::Packetizer::new(pt, ssrc, seq, mtu)),
        "MPEG4-GENERIC" => Box::new(aac::Packetizer::new(pt, ssrc, seq, mtu)),
        "MP4A-LATM" => Box::new(latm::Packetizer::new(pt, ssrc, seq, mtu)),
        "OPUS" => Box::new(opus::Packetizer::new(pt, ssrc, seq, mtu)),
        "PCMU" | "PCMA" => Box::new(
            g711::Packetizer::new(pt, ssrc, seq, mtu)
                .with_clock_rate(format.clock_rate)
                .with_channels(format.channels.unwrap_or(1)),
        ),
        "G722" => Box::new(
            g722::Packetizer::new(pt, ssrc, seq, mtu).with_channels(format.channels.unwrap_or(1)),
        ),
        "L16" => Box::new(l16::Packetizer::new(
            pt,
            ssrc,
            seq,
            mtu,
            format.clock_rate,
            format.channels.unwrap_or(1),
        )),
        "JPEG" => Box::new(mjpeg::Packetizer::new(pt, ssrc, seq, mtu)),
        _ => Box::new(generic::Packetizer::new(pt, ssrc, seq, mtu)),
    })
}

/// What the SDP says about one payload type.
struct Format<'a> {
    /// The encoding name as written.
    name: String,
    /// The encoding name in upper case.
    encoding: String,
    /// The RTP clock rate, defaulted when the rtpmap gives none.
    clock_rate: u32,
    /// The rtpmap's channel count.
    channels: Option<u16>,
    /// The format parameters.
    fmtp: Option<&'a str>,
}

impl<'a> Format<'a> {
    fn of(media: &'a MediaDescription, payload_type: u8) -> Self {
        // MediaDescription::rtpmap falls back to the RFC 3551 static table.
        let (name, clock_rate, channels) = match media.rtpmap(payload_type) {
            Some(map) => (map.encoding, map.clock_rate, map.channels),
            None => (String::new(), 0, None),
        };
        let encoding = name.trim().to_ascii_uppercase();
        let clock_rate = match clock_rate {
            0 => default_clock(&encoding, &media.media),
            // RFC 6416 §7.1: MPEG-4 Visual runs a 90 kHz clock. IOI TRK-101 announces 1000 Hz and
            // older cameras 30000 Hz while stamping 90 kHz (CAMERA-QUIRKS #54).
            rate if encoding == "MP4V-ES" && rate != DEFAULT_VIDEO_CLOCK => DEFAULT_VIDEO_CLOCK,
            rate => rate,
        };
        Self {
            name,
            encoding,
            clock_rate,
            channels,
            fmtp: media.fmtp(payload_type).or_else(|| sole_fmtp(media)),
        }
    }
}

/// The RTP clock of a format whose rtpmap gives none.
fn default_clock(encoding: &str, media: &str) -> u32 {
    match encoding {
        // RFC 7587 §4.1: Opus always uses a 48 kHz RTP clock.
        "OPUS" => 48_000,
        // RFC 3551 §4.5.2: G.722 uses an 8000 Hz RTP clock.
        "PCMU" | "PCMA" | "G722" => DEFAULT_AUDIO_CLOCK,
        "H264" | "H265" | "JPEG" => DEFAULT_VIDEO_CLOCK,
        _ if media.eq_ignore_ascii_case("video") => DEFAULT_VIDEO_CLOCK,
        _ => DEFAULT_AUDIO_CLOCK,
    }
}

/// The parameters of the section's only `a=fmtp` line, when the section has a single payload type.
fn sole_fmtp(media: &MediaDescription) -> Option<&str> {
    if media.payload_types().count() != 1 {
        return None;
    }
    let mut fmtps = media
        .attributes
        .iter()
        .filter(|a| a.name.eq_ignore_ascii_case("fmtp"))
        .filter_map(|a| a.value.as_deref());
    let only = fmtps.next()?;
    if fmtps.next().is_some() {
        return None;
    }
    // RFC 8866 §6.15: a=fmtp:<format> <format specific parameters>
    let (_, params) = only.trim().split_once(|c: char| c.is_whitespace())?;
    Some(params.trim())
}

/// Drops packets of other payload types before they reach the codec's depacketizer, and counts
/// them ([`Depacketizer::foreign_payload_type_packets`]).
///
/// A run of [`h264::FOREIGN_PAYLOAD_TYPE_RUN`] packets of one other payload type, with none of the
/// track's in between, makes that type the track's: a camera whose RTP payload type differs from
/// its SDP would otherwise lose every packet. The stray packets of GeoVision GV-EBD4701 (one PT 50
/// packet after each keyframe) never form such a run. The inner depacketizer sees every packet let
/// through with the SDP's payload type, so it takes them as one stream.
struct PayloadTypeFilter {
    /// The SDP's payload type.
    payload_type: u8,
    /// The payload type let through: the SDP's, until a run of another.
    accepted: u8,
    /// Consecutive packets of another payload type: the type and the count.
    foreign_run: Option<(u8, u8)>,
    foreign_packets: u64,
    inner: Box<dyn Depacketizer>,
}

impl Depacketizer for PayloadTypeFilter {
    fn push(&mut self, mut pkt: RtpIn) -> Result<(), DepacketizeError> {
        if pkt.payload_type != self.accepted {
            let run = match self.foreign_run {
                Some((pt, n)) if pt == pkt.payload_type => n.saturating_add(1),
                _ => 1,
            };
            if run < h264::FOREIGN_PAYLOAD_TYPE_RUN {
                self.foreign_run = Some((pkt.payload_type, run));
                self.foreign_packets += 1;
                return Ok(());
            }
            self.accepted = pkt.payload_type;
        }
        self.foreign_run = None;
        pkt.payload_type = self.payload_type;
        self.inner.push(pkt)
    }

    fn pull(&mut self) -> Option<AccessUnit> {
        self.inner.pull()
    }

    fn params(&self) -> &CodecParams {
        self.inner.params()
    }

    fn stale_ssrc_packets(&self) -> u64 {
        self.inner.stale_ssrc_packets()
    }

    fn foreign_payload_type_packets(&self) -> u64 {
        self.foreign_packets + self.inner.foreign_payload_type_packets()
    }
}

/// How far behind the expected sequence number a packet may be and still count as a duplicate or
/// a late (reordered) packet; anything further back is taken as the sender restarting its
/// numbering (RFC 3550 §A.1: `MAX_MISORDER`).
const MAX_MISORDER: u16 = 100;

/// Packets of the current SSRC, in a row without one of the previous SSRC, after which the previous
/// SSRC is forgotten and its packets would count as a new change (see the module docs).
pub const STALE_SSRC_QUIET_PACKETS: u32 = 256;

/// Packets of the previous SSRC in a row, with none of the current SSRC in between, that make it
/// current again: the sender went back to it (see the module docs). The packets before the last
/// one of the run are dropped.
pub const STALE_SSRC_RETURN_RUN: u32 = 32;

/// What [`SsrcLock::check`] makes of a packet's SSRC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SsrcVerdict {
    /// The stream's SSRC, or the first packet's.
    Current,
    /// A new source: the access unit in progress, sequence numbers and timestamps start afresh.
    Changed,
    /// A packet of the previous SSRC while the current one still flows: drop it.
    Stale,
}

/// The SSRC before the last change, while its packets are still dropped.
#[derive(Clone, Copy, Debug)]
struct PreviousSsrc {
    ssrc: u32,
    /// Packets of the current SSRC since the last packet of this one.
    quiet: u32,
    /// Packets of this SSRC in a row, with none of the current one in between.
    run: u32,
}

/// Follows a stream's SSRC with the stale SSRC tolerance of the module docs (CAMERA-QUIRKS #44).
#[derive(Clone, Debug, Default)]
pub(crate) struct SsrcLock {
    current: Option<u32>,
    previous: Option<PreviousSsrc>,
    stale: u64,
}

impl SsrcLock {
    /// Classifies a packet of SSRC `ssrc`, following a change when it is one.
    pub(crate) fn check(&mut self, ssrc: u32) -> SsrcVerdict {
        let Some(current) = self.current else {
            self.current = Some(ssrc);
            return SsrcVerdict::Current;
        };
        if ssrc == current {
            if let Some(previous) = &mut self.previous {
                previous.run = 0;
                previous.quiet += 1;
                if previous.quiet >= STALE_SSRC_QUIET_PACKETS {
                    self.previous = None;
                }
            }
            return SsrcVerdict::Current;
        }
        if let Some(previous) = self.previous.as_mut().filter(|p| p.ssrc == ssrc) {
            previous.quiet = 0;
            previous.run += 1;
            if previous.run < STALE_SSRC_RETURN_RUN {
                self.stale += 1;
                return SsrcVerdict::Stale;
            }
        }
        self.previous = Some(PreviousSsrc {
            ssrc: current,
            quiet: 0,
            run: 0,
        });
        self.current = Some(ssrc);
        SsrcVerdict::Changed
    }

    /// Packets dropped as [`SsrcVerdict::Stale`] so far.
    pub(crate) fn stale_packets(&self) -> u64 {
        self.stale
    }
}

/// Whether a step of `ticks` from one packet's timestamp to the next, on a clock of `clock_rate`
/// Hz, is a jump rather than the stream running on: more than
/// [`h264::MAX_TIMESTAMP_STEP_FORWARD_SECS`] forward or [`h264::MAX_TIMESTAMP_STEP_BACKWARD_SECS`]
/// back.
pub(crate) fn is_timestamp_jump(clock_rate: u32, ticks: i64) -> bool {
    let clock = i64::from(clock_rate);
    clock > 0
        && (ticks > i64::from(h264::MAX_TIMESTAMP_STEP_FORWARD_SECS) * clock
            || ticks < -i64::from(h264::MAX_TIMESTAMP_STEP_BACKWARD_SECS) * clock)
}

/// A packet's place on a track's timeline, from [`Timeline::extend`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimelinePoint {
    /// The extended timestamp.
    pub(crate) ticks: i64,
    /// The step from the previous packet was a jump (see [`is_timestamp_jump`]).
    pub(crate) jumped: bool,
    /// The source changed with a jump, so the timeline restarted after the previous packet.
    pub(crate) restarted: bool,
}

/// The timeline of one track, shared by every depacketizer: wrap-extends RTP timestamps and
/// carries the timeline across SSRC changes.
///
/// One rule for video and audio alike: when the new source's first timestamp is within the jump
/// bounds ([`is_timestamp_jump`]) of the last one, the timeline keeps extending (Uniview cameras
/// change SSRC at every GOP and keep their timestamps running, so audio and video stay in step).
/// Otherwise the new source started from a timestamp of its own (RFC 3550 §5.1: the initial value
/// is random): the timeline restarts right after the last packet, one nominal frame later (the
/// last forward step between packet timestamps that was not a jump, or one tick before any), and
/// the caller flags a discontinuity.
#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    clock_rate: u32,
    extender: TimestampExtender,
    /// Added to extended timestamps: where the current source's timestamps start on the timeline.
    offset: i64,
    /// Ticks of the last packet.
    last: Option<i64>,
    /// The last forward step between packet timestamps that was not a jump.
    frame_ticks: Option<i64>,
    /// The next packet is the first of a new source.
    source_changed: bool,
}

impl Timeline {
    /// An empty timeline on a clock of `clock_rate` Hz.
    pub(crate) fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            extender: TimestampExtender::default(),
            offset: 0,
            last: None,
            frame_ticks: None,
            source_changed: false,
        }
    }

    /// The next packet comes from a new SSRC.
    pub(crate) fn source_changed(&mut self) {
        self.source_changed = true;
    }

    /// Places a packet with RTP timestamp `ts` on the timeline.
    pub(crate) fn extend(&mut self, ts: u32) -> TimelinePoint {
        let changed = std::mem::take(&mut self.source_changed);
        let mut ticks = self.offset + self.extender.extend(ts);
        let Some(last) = self.last else {
            self.last = Some(ticks);
            return TimelinePoint {
                ticks,
                jumped: false,
                restarted: false,
            };
        };
        let step = ticks - last;
        let jumped = is_timestamp_jump(self.clock_rate, step);
        let restarted = changed && jumped;
        if restarted {
            ticks = last.saturating_add(self.frame_ticks.unwrap_or(1));
            self.extender = TimestampExtender::default();
            self.offset = ticks - self.extender.extend(ts);
        } else if step > 0 && !jumped {
            self.frame_ticks = Some(step);
        }
        self.last = Some(ticks);
        TimelinePoint {
            ticks,
            jumped,
            restarted,
        }
    }
}

/// What to do with an arriving packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Another payload type, a duplicate or a late packet: ignore it.
    Drop,
    /// The next packet of the stream. `restart`: packets were lost or the SSRC changed, so any
    /// partly assembled access unit must be discarded.
    Accept {
        /// Discard the partial access unit.
        restart: bool,
    },
}

/// Per-stream bookkeeping shared by the depacketizers: locks to the first payload type seen,
/// notices sequence gaps and SSRC changes, and wrap-extends timestamps.
///
/// A new SSRC resets the sequence tracking and flags a discontinuity; the timeline carries on or
/// restarts by the rule of [`Timeline`], the same as for H.264 and H.265. Packets of the previous
/// SSRC are dropped for a while after a change (stale SSRC tolerance, see the module docs).
#[derive(Clone, Debug)]
pub(crate) struct StreamState {
    codec: &'static str,
    clock_rate: u32,
    payload_type: Option<u8>,
    ssrc: SsrcLock,
    next_seq: Option<u16>,
    timeline: Timeline,
    loss: bool,
}

impl StreamState {
    /// State for a stream of `codec` with an RTP clock of `clock_rate` Hz.
    pub(crate) fn new(codec: &'static str, clock_rate: u32) -> Self {
        Self {
            codec,
            clock_rate,
            payload_type: None,
            ssrc: SsrcLock::default(),
            next_seq: None,
            timeline: Timeline::new(clock_rate),
            loss: false,
        }
    }

    /// The RTP clock rate.
    pub(crate) fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Classifies `pkt` and advances the sequence tracking.
    pub(crate) fn admit(&mut self, pkt: &RtpIn) -> Admission {
        match self.payload_type {
            Some(pt) if pt != pkt.payload_type => return Admission::Drop,
            Some(_) => {}
            None => self.payload_type = Some(pkt.payload_type),
        }
        let mut restart = false;
        match self.ssrc.check(pkt.ssrc) {
            SsrcVerdict::Current => {}
            SsrcVerdict::Stale => return Admission::Drop,
            SsrcVerdict::Changed => {
                restart = true;
                self.loss = true;
                self.next_seq = None;
                self.timeline.source_changed();
            }
        }
        if let Some(expected) = self.next_seq {
            // RFC 3550 §A.1: sequence numbers are compared modulo 2^16.
            let ahead = pkt.sequence_number.wrapping_sub(expected);
            if ahead != 0 {
                if ahead > u16::MAX - MAX_MISORDER {
                    return Admission::Drop;
                }
                restart = true;
                self.loss = true;
            }
        }
        self.next_seq = Some(pkt.sequence_number.wrapping_add(1));
        Admission::Accept { restart }
    }

    /// Packets dropped by the stale SSRC tolerance so far.
    pub(crate) fn stale_ssrc_packets(&self) -> u64 {
        self.ssrc.stale_packets()
    }

    /// The wrap-extended timestamp of an admitted packet.
    pub(crate) fn timestamp(&mut self, rtp_timestamp: u32) -> Timestamp {
        let point = self.timeline.extend(rtp_timestamp);
        if point.restarted {
            self.loss = true;
        }
        Timestamp {
            ticks: point.ticks,
            clock_rate: self.clock_rate,
        }
    }

    /// Notes that an access unit was lost, so the next one is flagged.
    pub(crate) fn mark_loss(&mut self) {
        self.loss = true;
    }

    /// Whether the next access unit follows a loss; clears the flag.
    pub(crate) fn take_loss(&mut self) -> bool {
        std::mem::take(&mut self.loss)
    }

    /// An error about `pkt`; also marks the access unit it belonged to as lost.
    pub(crate) fn error(&mut self, pkt: &RtpIn, what: impl Into<String>) -> DepacketizeError {
        self.loss = true;
        DepacketizeError {
            codec: self.codec,
            seq: pkt.sequence_number,
            ts: pkt.timestamp,
            what: what.into(),
        }
    }
}

/// Writes RTP packets with contiguous sequence numbers.
#[derive(Clone, Debug)]
pub(crate) struct RtpWriter {
    payload_type: u8,
    ssrc: u32,
    next_seq: u16,
}

impl RtpWriter {
    pub(crate) fn new(payload_type: u8, ssrc: u32, initial_seq: u16) -> Self {
        Self {
            payload_type,
            ssrc,
            next_seq: initial_seq,
        }
    }

    /// The sequence number of the next packet.
    pub(crate) fn next_sequence_number(&self) -> u16 {
        self.next_seq
    }

    /// One whole packet whose payload is the concatenation of `parts`.
    pub(crate) fn packet(&mut self, marker: bool, timestamp: u32, parts: &[&[u8]]) -> Bytes {
        let len = parts.iter().map(|p| p.len()).sum::<usize>();
        let mut buf = BytesMut::with_capacity(rtp::HEADER_LEN + len);
        rtp::put_header(
            &mut buf,
            self.payload_type,
            marker,
            self.next_seq,
            timestamp,
            self.ssrc,
        );
        for part in parts {
            buf.put_slice(part);
        }
        self.next_seq = self.next_seq.wrapping_add(1);
        buf.freeze()
    }
}

/// The largest payload a packet of at most `mtu` bytes can carry, never less than `min`.
pub(crate) fn max_payload(mtu: usize, min: usize) -> usize {
    mtu.saturating_sub(rtp::HEADER_LEN).max(min)
}

/// The codec parameters every format starts from.
pub(crate) fn base_params(codec: &str, clock_rate: u32) -> CodecParams {
    CodecParams {
        codec: codec.to_owned(),
        clock_rate,
        ..CodecParams::default()
    }
}

/// Looks up a format parameter by name, ASCII case-insensitively (cameras write `SizeLength` as
/// well as `sizelength`); empty values count as absent.
pub(crate) fn fmtp_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case(name) && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// Decodes a hex string (`config=` parameters).
pub(crate) fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim().as_bytes();
    if hex.len() % 2 != 0 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c.wrapping_sub(b'A').wrapping_add(10),
    };
    Some(
        hex.chunks_exact(2)
            .map(|pair| match pair {
                [hi, lo] => digit(*hi) << 4 | digit(*lo),
                _ => 0,
            })
            .collect(),
    )
}

/// Encodes bytes as lower-case hex.
pub(crate) fn encode_hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(data.len() * 2);
    for b in data {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u16, ssrc: u32, pt: u8) -> RtpIn {
        RtpIn {
            sequence_number: seq,
            timestamp: 0,
            marker: true,
            payload_type: pt,
            ssrc,
            payload: Bytes::new(),
        }
    }

    #[test]
    fn admission() {
        let mut s = StreamState::new("test", 8000);
        assert_eq!(
            s.admit(&pkt(65534, 1, 0)),
            Admission::Accept { restart: false }
        );
        assert_eq!(
            s.admit(&pkt(65535, 1, 0)),
            Admission::Accept { restart: false }
        );
        assert_eq!(s.admit(&pkt(0, 1, 0)), Admission::Accept { restart: false });
        assert!(!s.take_loss());
        // Duplicate and late packets are dropped without flagging loss.
        assert_eq!(s.admit(&pkt(0, 1, 0)), Admission::Drop);
        assert_eq!(s.admit(&pkt(65530, 1, 0)), Admission::Drop);
        // Another payload type is dropped.
        assert_eq!(s.admit(&pkt(1, 1, 50)), Admission::Drop);
        assert!(!s.take_loss());
        // A gap restarts.
        assert_eq!(s.admit(&pkt(3, 1, 0)), Admission::Accept { restart: true });
        assert!(s.take_loss());
        // A far jump backwards is a renumbering, not a late packet.
        assert_eq!(
            s.admit(&pkt(40000, 1, 0)),
            Admission::Accept { restart: true }
        );
        assert!(s.take_loss());
        // A new SSRC restarts even in sequence.
        assert_eq!(
            s.admit(&pkt(40001, 2, 0)),
            Admission::Accept { restart: true }
        );
        assert!(s.take_loss());
        assert_eq!(s.admit(&pkt(7, 2, 0)), Admission::Accept { restart: true });
    }

    #[test]
    fn ssrc_lock_drops_the_previous_ssrc_for_a_while() {
        use SsrcVerdict::{Changed, Current, Stale};
        let mut lock = SsrcLock::default();
        assert_eq!(lock.check(1), Current);
        assert_eq!(lock.check(1), Current);
        assert_eq!(lock.check(2), Changed);
        // The old source interleaved with the new one.
        assert_eq!(lock.check(1), Stale);
        assert_eq!(lock.check(2), Current);
        assert_eq!(lock.check(1), Stale);
        assert_eq!(lock.stale_packets(), 2);
        // Each packet of the old source starts the quiet period again.
        for _ in 1..STALE_SSRC_QUIET_PACKETS {
            assert_eq!(lock.check(2), Current);
        }
        assert_eq!(lock.check(1), Stale);
        // A whole quiet period: the old SSRC is forgotten, and a packet of it is a change.
        for _ in 0..STALE_SSRC_QUIET_PACKETS {
            assert_eq!(lock.check(2), Current);
        }
        assert_eq!(lock.check(1), Changed);
        assert_eq!(lock.stale_packets(), 3);
        // Now 2 is the previous SSRC; a run of it with nothing of 1 in between brings it back.
        for _ in 1..STALE_SSRC_RETURN_RUN {
            assert_eq!(lock.check(2), Stale);
        }
        assert_eq!(lock.check(2), Changed);
        assert_eq!(
            lock.stale_packets(),
            3 + u64::from(STALE_SSRC_RETURN_RUN) - 1
        );
        // A run broken by a packet of the current SSRC starts over.
        for _ in 1..STALE_SSRC_RETURN_RUN {
            assert_eq!(lock.check(1), Stale);
        }
        assert_eq!(lock.check(2), Current);
        assert_eq!(lock.check(1), Stale);
        // A third SSRC is an ordinary change.
        assert_eq!(lock.check(3), Changed);
        assert_eq!(lock.check(2), Stale);
        assert_eq!(
            lock.check(1),
            Changed,
            "only the last SSRC before a change is held"
        );
    }

    #[test]
    fn a_payload_type_other_than_the_sdp_is_adopted_after_a_run() {
        let media = MediaDescription {
            media: "video".into(),
            formats: vec!["96".into()],
            attributes: vec![sluice_rtsp::sdp::Attribute::new("rtpmap", "96 H264/90000")],
            ..MediaDescription::default()
        };
        let mut d = depacketizer_for(&media, 96).unwrap();
        let run = u16::from(h264::FOREIGN_PAYLOAD_TYPE_RUN);
        let slice = |seq: u16, pt: u8| RtpIn {
            sequence_number: seq,
            timestamp: 3000 * u32::from(seq),
            marker: true,
            payload_type: pt,
            ssrc: 1,
            payload: Bytes::from_static(&[0x65, 0x88, 0x84]),
        };
        let mut out = Vec::new();
        // A camera sending PT 97 against an SDP saying 96.
        for seq in 0..run + 3 {
            d.push(slice(seq, 97)).unwrap();
            out.extend(std::iter::from_fn(|| d.pull()));
        }
        // The run's last packet is the first let through.
        let ticks: Vec<i64> = out.iter().map(|au| au.timestamp.ticks).collect();
        assert_eq!(ticks, vec![0, 3000, 6000, 9000]);
        assert_eq!(d.foreign_payload_type_packets(), u64::from(run) - 1);
        // A stray packet of another type is dropped and counted; the track goes on.
        d.push(slice(run + 3, 50)).unwrap();
        d.push(slice(run + 4, 97)).unwrap();
        assert_eq!(d.foreign_payload_type_packets(), u64::from(run));
        let next = d.pull().unwrap();
        assert_eq!(next.timestamp.ticks, 15_000);
        assert!(
            next.discontinuity,
            "a packet went missing from the inner stream"
        );
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("1190"), Some(vec![0x11, 0x90]));
        assert_eq!(
            decode_hex("119056E500"),
            Some(vec![0x11, 0x90, 0x56, 0xe5, 0])
        );
        assert_eq!(decode_hex("119"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("+1"), None);
        assert_eq!(encode_hex(&[0x11, 0x90]), "1190");
    }

    #[test]
    fn sole_fmtp_is_adopted() {
        let media = MediaDescription {
            media: "audio".into(),
            formats: vec!["104".into()],
            attributes: vec![
                sluice_rtsp::sdp::Attribute::new("rtpmap", "104 mpeg4-generic/16000/1"),
                sluice_rtsp::sdp::Attribute::new(
                    "fmtp",
                    "97 streamtype=5;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1408",
                ),
            ],
            ..MediaDescription::default()
        };
        let d = depacketizer_for(&media, 104).unwrap();
        assert_eq!(d.params().sample_rate, Some(16000));
        assert_eq!(d.params().channels, Some(1));
    }
}
