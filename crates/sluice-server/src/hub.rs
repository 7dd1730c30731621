//! The hub: one [`Stream`] per path, fanned out to any number of readers.
//!
//! Packets travel as [`Bytes`] holding a whole RTP packet: one allocation when a packet is received, shared by
//! every reader. The fan-out is a [`tokio::sync::broadcast`] ring of `reader_queue` slots per stream: sending
//! never waits for a reader, a reader that falls more than `reader_queue` packets behind is told how many it
//! lost and skips to the next keyframe ([`ReaderState`]), and memory is bounded by the ring whatever the
//! number of readers. (A queue per reader would hold the same `Bytes` handles N times over; the shared ring
//! holds each once.)
//!
//! The GOP cache keeps every packet since the last keyframe of the video track, bounded in bytes, starting
//! at the parameter sets sent just before that keyframe whatever their timestamp. A joining reader takes a
//! snapshot of it and subscribes under the same lock, so the snapshot and the live packets join without a
//! gap or a duplicate and the reader's first frame is a keyframe.
//!
//! On the way in, a stream also:
//! - keeps one continuous numbering per track across source restarts ([`Continuity`]), each track's gap
//!   measured up to its own first packet so that audio and video stay in sync;
//! - splits H.264/H.265 packets over `hub.max_packet_bytes` into fragmentation units, so UDP readers can
//!   receive them, shifting the track's later sequence numbers accordingly;
//! - follows the video track's parameter sets, which readers' SDP announces instead of the source's.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sluice_media::inband::InBandParams;
use sluice_media::refragment::Refragmenter;
use sluice_rtsp::rtp::{self, RtpPacket};
use sluice_rtsp::sdp::{MediaDescription, SessionDescription};
use tokio::sync::{broadcast, watch, Notify};
use tracing::{debug, info, warn};

use crate::config::{Config, Source};
use crate::continuity::{Continuity, Numbering};

/// Says whether an RTP payload begins a keyframe access unit.
pub type KeyframeFn = fn(&[u8]) -> bool;

/// One RTP packet of a stream.
#[derive(Clone, Debug)]
pub struct Packet {
    /// Index of the track in [`Stream::tracks`].
    pub track: usize,
    /// The whole RTP packet.
    pub data: Bytes,
    /// The packet starts a keyframe access unit of the video track.
    pub keyframe: bool,
}

/// A track of a stream, as described by its source.
#[derive(Debug, Clone)]
pub struct Track {
    /// The media section as the source described it (its `a=control` is replaced for readers).
    pub media: MediaDescription,
    /// RTP clock rate.
    pub clock_rate: u32,
    /// Encoding name, upper case (`H264`, `MPEG4-GENERIC`…).
    pub encoding: String,
    keyframe: Option<KeyframeFn>,
    /// Says whether a payload holds only what may precede a keyframe's slices (parameter sets).
    prelude: Option<KeyframeFn>,
    /// Splits the source's oversized packets (set when the stream starts, from the config).
    refragment: Option<Refragmenter>,
}

impl Track {
    /// Builds a track from an SDP media section.
    pub fn from_media(media: MediaDescription) -> Track {
        let rtpmap = media.payload_types().next().and_then(|pt| media.rtpmap(pt));
        let (encoding, clock_rate) = match rtpmap {
            Some(m) => (m.encoding.to_ascii_uppercase(), m.clock_rate),
            None => (String::new(), 90_000),
        };
        let (keyframe, prelude): (Option<KeyframeFn>, Option<KeyframeFn>) =
            match (media.media.as_str(), encoding.as_str()) {
                ("video", "H264") => (
                    Some(sluice_media::h264::is_keyframe_start),
                    Some(sluice_media::h264::is_prelude),
                ),
                ("video", "H265") => (
                    Some(sluice_media::h265::is_keyframe_start),
                    Some(sluice_media::h265::is_prelude),
                ),
                _ => (None, None),
            };
        Track {
            media,
            clock_rate: clock_rate.max(1),
            encoding,
            keyframe,
            prelude,
            refragment: None,
        }
    }

    /// Whether the hub can find keyframes in this track.
    pub fn has_keyframes(&self) -> bool {
        self.keyframe.is_some()
    }
}

/// Counters of a stream.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// RTP packets received from the source.
    pub packets_in: AtomicU64,
    /// Bytes received from the source.
    pub bytes_in: AtomicU64,
    /// Packets dropped because they were not valid RTP.
    pub invalid_packets: AtomicU64,
    /// Packets dropped because they came after later ones of a track whose numbering moved on
    /// (a packet was split before them), so that their numbers would clash.
    pub late_packets: AtomicU64,
}

/// A live stream on a path.
pub struct Stream {
    path: String,
    created: Instant,
    tracks: Vec<Track>,
    video: Option<usize>,
    gop_limit: usize,
    stats: StreamStats,
    inner: Mutex<Inner>,
}

struct Inner {
    tx: Option<broadcast::Sender<Packet>>,
    continuity: Vec<Continuity>,
    await_keyframe: bool,
    last_packet: Option<Instant>,
    gop: VecDeque<Packet>,
    gop_bytes: usize,
    /// RTP timestamp of the keyframe the cache starts with.
    gop_ts: Option<u32>,
    /// Where in `gop` the run of video prelude packets (parameter sets) that the last video packet
    /// belongs to begins.
    prelude_from: Option<usize>,
    /// The video track's parameter sets as seen in the stream, which readers' SDP announces.
    inband: Option<InBandParams>,
    /// After a source restart: when the previous session's last packet came. Each track's gap is
    /// measured from it to the track's first packet of the new session, so that audio, which resumes at
    /// once, and video, which resumes at the next keyframe, stay in sync.
    resumed_after: Option<Instant>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("path", &self.path)
            .field("tracks", &self.tracks.len())
            .finish()
    }
}

/// What a reader gets when it subscribes.
pub struct Subscription {
    /// Packets since the last keyframe, to send first.
    pub gop: Vec<Packet>,
    /// Live packets that follow the cache without a gap.
    pub rx: broadcast::Receiver<Packet>,
}

impl Stream {
    fn new(
        path: String,
        mut tracks: Vec<Track>,
        queue: usize,
        gop_limit: usize,
        max_packet: usize,
    ) -> Stream {
        if max_packet > 0 {
            for t in &mut tracks {
                let fmtp = t
                    .media
                    .payload_types()
                    .next()
                    .and_then(|pt| t.media.fmtp(pt));
                t.refragment = Refragmenter::for_encoding(&t.encoding, fmtp, max_packet);
            }
        }
        let video = tracks.iter().position(Track::has_keyframes);
        let inband = video
            .and_then(|v| tracks.get(v))
            .and_then(|t| InBandParams::for_encoding(&t.encoding));
        let (tx, _) = broadcast::channel(queue.max(16));
        let n = tracks.len();
        Stream {
            path,
            created: Instant::now(),
            tracks,
            video,
            gop_limit,
            stats: StreamStats::default(),
            inner: Mutex::new(Inner {
                tx: Some(tx),
                continuity: vec![Continuity::default(); n],
                await_keyframe: false,
                last_packet: None,
                gop: VecDeque::new(),
                gop_bytes: 0,
                gop_ts: None,
                prelude_from: None,
                inband,
                resumed_after: None,
            }),
        }
    }

    /// The path name.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tracks, in SDP order.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Counters.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// The average rate the source has sent at since the stream started, in Mbit/s.
    pub fn mbps(&self, now: Instant) -> f64 {
        let us = now
            .saturating_duration_since(self.created)
            .as_micros()
            .max(1) as f64;
        self.stats.bytes_in.load(Ordering::Relaxed) as f64 * 8.0 / us
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug in this module; the data stays consistent anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the source is still there.
    pub fn is_live(&self) -> bool {
        self.lock().tx.is_some()
    }

    /// Sends one RTP packet of `track` to every reader. Invalid RTP is counted and dropped.
    pub fn publish(&self, track: usize, data: Bytes) {
        let Some(t) = self.tracks.get(track) else {
            self.stats.invalid_packets.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let (keyframe, prelude, input) = match RtpPacket::parse(&data) {
            Ok(p) => (
                t.keyframe.is_some_and(|f| f(p.payload())),
                t.prelude
                    .is_some_and(|f| f(p.payload()))
                    .then(|| data.slice_ref(p.payload())),
                Numbering {
                    seq: p.sequence_number(),
                    ts: p.timestamp(),
                    ssrc: p.ssrc(),
                    pt: p.payload_type(),
                },
            ),
            Err(_) => {
                self.stats.invalid_packets.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.stats.packets_in.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_in
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut inner = self.lock();
        inner.last_packet = Some(now);
        if let (Some(payload), Some(inband), true) =
            (&prelude, &mut inner.inband, self.video == Some(track))
        {
            if inband.observe(payload) {
                debug!(path = %self.path, "in-band parameter sets changed");
            }
        }
        if inner.await_keyframe && self.video == Some(track) {
            if !keyframe {
                // After a source restart readers resume at the next keyframe.
                return;
            }
            inner.await_keyframe = false;
        }
        let resumed_after = inner.resumed_after;
        let Some(cont) = inner.continuity.get_mut(track) else {
            return;
        };
        if let Some(since) = resumed_after.filter(|_| cont.is_resuming()) {
            cont.resume(gap_ticks(
                now.saturating_duration_since(since),
                t.clock_rate,
            ));
        }
        if cont.is_late(input.seq) {
            // Once a packet was split, a late one would take a number already given out.
            self.stats.late_packets.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let out = cont.map(input);
        let video = self.video == Some(track);
        let mut pieces = Vec::new();
        if t.refragment
            .as_ref()
            .is_some_and(|r| r.split(&data, &mut pieces))
        {
            // An oversized packet goes on as several, numbered on from it; later packets of the track
            // shift by as many.
            cont.grow(u16::try_from(pieces.len() - 1).unwrap_or(u16::MAX));
            for (i, piece) in pieces.into_iter().enumerate() {
                let numbering = Numbering {
                    seq: out.seq.wrapping_add(i as u16),
                    ..out
                };
                let keyframe = i == 0 && keyframe;
                let piece = renumber(piece, numbering);
                inner.emit(
                    self,
                    track,
                    piece,
                    out.ts,
                    keyframe,
                    video && prelude.is_some(),
                );
            }
            return;
        }
        let data = if out == input {
            data
        } else {
            renumber(data, out)
        };
        inner.emit(
            self,
            track,
            data,
            out.ts,
            keyframe,
            video && prelude.is_some(),
        );
    }

    /// Whether a new source session with these tracks can continue this stream (same media, codecs and
    /// clock rates, in the same order).
    pub fn compatible(&self, tracks: &[Track]) -> bool {
        self.tracks.len() == tracks.len()
            && self.tracks.iter().zip(tracks).all(|(a, b)| {
                a.media.media == b.media.media
                    && a.encoding == b.encoding
                    && a.clock_rate == b.clock_rate
            })
    }

    /// A new source session continues this stream: readers stay attached and see one continuous RTP stream,
    /// resuming at the next keyframe.
    pub fn resume(&self, now: Instant) {
        let mut inner = self.lock();
        let gap = inner
            .last_packet
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        inner.resumed_after = inner.last_packet;
        for (c, t) in inner.continuity.iter_mut().zip(&self.tracks) {
            c.resume(gap_ticks(gap, t.clock_rate));
        }
        inner.await_keyframe = self.video.is_some();
        inner.clear_gop();
    }

    /// Subscribes a reader: the GOP cache, then live packets. `None` once the source has left.
    pub fn subscribe(&self) -> Option<Subscription> {
        let inner = self.lock();
        let rx = inner.tx.as_ref()?.subscribe();
        Some(Subscription {
            gop: inner.gop.iter().cloned().collect(),
            rx,
        })
    }

    /// Number of subscribed readers.
    pub fn reader_count(&self) -> usize {
        self.lock().tx.as_ref().map_or(0, |tx| tx.receiver_count())
    }

    /// Ends the stream: readers drain what is queued, then see the end.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.tx = None;
        inner.clear_gop();
    }

    /// The SDP readers get: the source's tracks with `a=control:trackID=N`.
    pub fn reader_sdp(&self, origin_addr: &str) -> String {
        let mut sdp = SessionDescription::default();
        sdp.version = 0;
        sdp.origin = Some(sluice_rtsp::sdp::Origin {
            username: "-".into(),
            session_id: "0".into(),
            session_version: "0".into(),
            net_type: "IN".into(),
            addr_type: "IP4".into(),
            address: origin_addr.into(),
        });
        sdp.session_name = "Sluice".into();
        sdp.connection = Some("IN IP4 0.0.0.0".into());
        sdp.times = vec!["0 0".into()];
        sdp.attributes = vec![
            attr("tool", Some("sluice")),
            attr("type", Some("broadcast")),
            attr("control", Some("*")),
            attr("range", Some("npt=now-")),
        ];
        let inband = self.lock().inband.clone();
        for (i, t) in self.tracks.iter().enumerate() {
            let mut m = t.media.clone();
            if let Some(p) = inband.as_ref().filter(|_| self.video == Some(i)) {
                announce_parameter_sets(&mut m, p);
            }
            if t.refragment.is_some() {
                announce_fragmentation(&mut m);
            }
            m.port = 0;
            m.num_ports = None;
            m.connection = None;
            m.attributes.retain(|a| {
                !matches!(
                    a.name.as_str(),
                    "control" | "sendonly" | "recvonly" | "sendrecv" | "inactive"
                )
            });
            m.attributes
                .push(attr("control", Some(&format!("trackID={i}"))));
            sdp.media.push(m);
        }
        sdp.to_string()
    }
}

impl Inner {
    /// Caches (video streams) and fans out one packet.
    fn emit(
        &mut self,
        stream: &Stream,
        track: usize,
        data: Bytes,
        ts: u32,
        keyframe: bool,
        prelude: bool,
    ) {
        let packet = Packet {
            track,
            data,
            keyframe,
        };
        if stream.video.is_some() {
            self.cache(
                packet.clone(),
                ts,
                stream.video == Some(track),
                prelude,
                stream.gop_limit,
            );
        }
        if let Some(tx) = &self.tx {
            // An error only means that nobody is reading.
            let _ = tx.send(packet);
        }
    }

    fn clear_gop(&mut self) {
        self.gop.clear();
        self.gop_bytes = 0;
        self.gop_ts = None;
        self.prelude_from = None;
    }

    /// Adds a packet to the GOP cache. `video` says it is of the track the cache follows, `prelude`
    /// that it holds only parameter sets (or SEI, AUD).
    fn cache(&mut self, packet: Packet, ts: u32, video: bool, prelude: bool, limit: usize) {
        if video && packet.keyframe && self.gop_ts != Some(ts) {
            // A new keyframe access unit: the cache restarts here, or at the parameter sets just before
            // it, whatever their timestamp (CAMERA-QUIRKS #42: Reolink sends SPS and PPS with the
            // previous frame's). SPS, PPS and IDR slices sharing a timestamp all land in this cache.
            let keep = self
                .prelude_from
                .unwrap_or(self.gop.len())
                .min(self.gop.len());
            self.gop.drain(..keep);
            self.gop_bytes = self.gop.iter().map(|p| p.data.len()).sum();
            self.prelude_from = self.prelude_from.map(|_| 0);
            self.gop_ts = Some(ts);
        }
        if self.gop_ts.is_none() && !(video && prelude) {
            // Not caching (no keyframe yet, or the GOP outgrew the limit); parameter sets are kept in
            // case a keyframe follows, until other video comes.
            if video {
                self.clear_gop();
            }
            return;
        }
        if self.gop_bytes + packet.data.len() > limit {
            // Too long a GOP to cache: joining readers wait for the next keyframe instead.
            self.clear_gop();
            return;
        }
        if video {
            self.prelude_from = if prelude {
                self.prelude_from.or(Some(self.gop.len()))
            } else {
                None
            };
        }
        self.gop_bytes += packet.data.len();
        self.gop.push_back(packet);
    }
}

/// A wall-clock gap in ticks of an RTP clock (at most half the 32-bit range).
fn gap_ticks(gap: Duration, clock_rate: u32) -> u32 {
    (gap.as_secs_f64() * f64::from(clock_rate)).min(f64::from(u32::MAX / 2)) as u32
}

/// An RTP packet with new numbering (after a source restart, or a re-fragmented packet): changed in
/// place when nothing else holds the buffer, else copied.
fn renumber(data: Bytes, n: Numbering) -> Bytes {
    let mut b = data
        .try_into_mut()
        .unwrap_or_else(|shared| bytes::BytesMut::from(&shared[..]));
    rtp::set_sequence_number(&mut b, n.seq);
    rtp::set_timestamp(&mut b, n.ts);
    rtp::set_ssrc(&mut b, n.ssrc);
    if let Some(x) = b.get_mut(1) {
        *x = (*x & 0x80) | (n.pt & 0x7f);
    }
    b.freeze()
}

/// Puts the parameter sets seen in the stream into a media section's fmtp (the stream wins over what
/// the source's SDP said, which cameras get wrong: CAMERA-QUIRKS #48).
fn announce_parameter_sets(m: &mut MediaDescription, p: &InBandParams) {
    let pts: Vec<u8> = m.payload_types().collect();
    for pt in pts {
        let Some(params) = p.fmtp(m.fmtp(pt)) else {
            return;
        };
        set_fmtp(m, pt, &params);
    }
}

/// An H.264 track whose oversized packets may be split into FU-A: its readers are told
/// `packetization-mode=1` (RFC 6184 §6.2: mode 0, the default, allows no FU-A), which also covers
/// what a mode 0 camera sends.
fn announce_fragmentation(m: &mut MediaDescription) {
    let pts: Vec<u8> = m.payload_types().collect();
    for pt in pts {
        if !m
            .rtpmap(pt)
            .is_some_and(|r| r.encoding.eq_ignore_ascii_case("H264"))
        {
            continue;
        }
        let mut params: Vec<String> = sluice_rtsp::sdp::parse_fmtp(m.fmtp(pt).unwrap_or_default())
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("packetization-mode"))
            .map(|(name, value)| {
                if value.is_empty() {
                    name
                } else {
                    format!("{name}={value}")
                }
            })
            .collect();
        params.insert(0, "packetization-mode=1".to_owned());
        set_fmtp(m, pt, &params.join(";"));
    }
}

/// Replaces (or adds) the `a=fmtp` line of `pt`.
fn set_fmtp(m: &mut MediaDescription, pt: u8, params: &str) {
    let value = format!("{pt} {params}");
    let existing = m.attributes.iter_mut().find(|a| {
        a.name.eq_ignore_ascii_case("fmtp")
            && a.value.as_deref().and_then(|v| v.split_whitespace().next())
                == Some(pt.to_string().as_str())
    });
    match existing {
        Some(a) => a.value = Some(value),
        None => m.attributes.push(attr("fmtp", Some(&value))),
    }
}

fn attr(name: &str, value: Option<&str>) -> sluice_rtsp::sdp::Attribute {
    sluice_rtsp::sdp::Attribute {
        name: name.into(),
        value: value.map(Into::into),
    }
}

/// How a reader is doing with the fan-out ring.
#[derive(Debug, Default)]
pub struct ReaderState {
    /// Packets lost because the reader fell behind (the ring overran it, or skipped while waiting for a
    /// keyframe).
    pub lost: u64,
    /// Packets sent.
    pub sent: u64,
    skipping: bool,
}

impl ReaderState {
    /// The reader fell `n` packets behind: it skips video up to the next keyframe.
    pub fn lagged(&mut self, n: u64) {
        self.lost += n;
        self.skipping = true;
    }

    /// Whether to forward this packet; counts it either way.
    pub fn admit(&mut self, p: &Packet, video: Option<usize>) -> bool {
        if self.skipping {
            if p.keyframe {
                self.skipping = false;
            } else if video.is_none_or(|v| v == p.track) {
                self.lost += 1;
                return false;
            }
        }
        self.sent += 1;
        true
    }
}

impl Stream {
    /// The track whose keyframes the hub follows.
    pub fn video_track(&self) -> Option<usize> {
        self.video
    }
}

/// Why a publisher cannot take a path.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimError {
    /// The path is not in the config and `publish_any_path` is off.
    #[error("path `{0}` is not configured and publish_any_path is off")]
    NotConfigured(String),
    /// The path's source is not a publisher.
    #[error("path `{0}` has its own source and does not take publishers")]
    NotPublishable(String),
    /// Someone is publishing already.
    #[error("another publisher is active on path `{0}`")]
    Busy(String),
    /// The name is not a valid path name.
    #[error("`{0}` is not a valid path name")]
    BadName(String),
}

/// The registry of paths and their streams.
pub struct Hub {
    config: Arc<Config>,
    paths: Mutex<HashMap<String, Slot>>,
    demands: Mutex<HashMap<String, Arc<Demand>>>,
}

/// How readers wake an on-demand source and wait for its stream.
pub struct Demand {
    wake: Notify,
    ready: watch::Sender<u64>,
    /// The source's last failure to bring the stream up, and whether retrying can help.
    failure: Mutex<Option<SourceFailure>>,
}

/// Why an on-demand source did not bring its stream up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// What went wrong (for a camera: the client's error, which never shows credentials).
    pub reason: String,
    /// Retrying cannot help (credentials refused, not found at the camera, no usable media).
    pub fatal: bool,
}

impl Demand {
    /// Waits until a reader wants the stream.
    pub async fn wanted(&self) {
        self.wake.notified().await;
    }

    /// The source failed to bring the stream up: waiting readers learn why, at once when retrying
    /// cannot help.
    pub fn failed(&self, failure: SourceFailure) {
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(failure);
        self.ready.send_modify(|g| *g += 1);
    }

    fn failure(&self) -> Option<SourceFailure> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Why a reader gets no stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoStream {
    /// Nothing publishes on the path, and no source can be woken.
    Absent,
    /// An on-demand source could not bring the stream up (in time, or at all).
    Unavailable(Option<SourceFailure>),
}

enum Slot {
    /// A source has the path (between ANNOUNCE and RECORD the stream is not there yet).
    Claimed(Option<Arc<Stream>>, u64),
    /// The publisher left; the stream waits `publisher_grace` for it to come back.
    Orphaned(Arc<Stream>, u64),
}

static CLAIM_IDS: AtomicU64 = AtomicU64::new(1);

/// A source's hold on a path: a publisher's, a pulled camera's or a built-in source's. Dropping it frees the
/// path and ends the stream (after the publisher grace period, for publishers).
pub struct Claim {
    hub: Arc<Hub>,
    path: String,
    id: u64,
    stream: Option<Arc<Stream>>,
    grace: bool,
}

impl Claim {
    /// The path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Starts the stream with these tracks (a publisher at RECORD, a camera once described). When the path
    /// already has a stream with the same tracks (a reconnecting source), readers stay attached and the stream
    /// continues; otherwise the old stream ends and its readers are closed.
    pub fn start(&mut self, tracks: Vec<Track>) -> Arc<Stream> {
        if let Some(old) = self.stream.take() {
            if old.is_live() && old.compatible(&tracks) {
                old.resume(Instant::now());
                info!(
                    path = self.path,
                    readers = old.reader_count(),
                    "source resumed; readers stay attached"
                );
                self.stream = Some(old.clone());
                self.set_slot(Some(old.clone()));
                return old;
            }
            if old.reader_count() > 0 {
                warn!(
                    path = self.path,
                    "the source came back with different tracks; closing its readers"
                );
            }
            old.close();
        }
        let h = &self.hub.config.hub;
        let stream = Arc::new(Stream::new(
            self.path.clone(),
            tracks,
            h.reader_queue,
            h.gop_cache_bytes,
            h.max_packet_bytes,
        ));
        self.stream = Some(stream.clone());
        self.set_slot(Some(stream.clone()));
        stream
    }

    fn set_slot(&self, stream: Option<Arc<Stream>>) {
        let mut paths = self.hub.lock();
        if let Some(Slot::Claimed(s, id)) = paths.get_mut(&self.path) {
            if *id == self.id {
                *s = stream;
            }
        }
        drop(paths);
        if let Some(d) = self
            .hub
            .demands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&self.path)
        {
            if self.stream.is_some() {
                // The stream is up: an earlier failure no longer says anything.
                *d.failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
            }
            d.ready.send_modify(|g| *g += 1);
        }
    }

    /// Ends the stream now (an on-demand source closing when idle); the claim stays.
    pub fn stop(&mut self) {
        if let Some(s) = self.stream.take() {
            s.close();
        }
        self.set_slot(None);
    }

    /// The stream, once started.
    pub fn stream(&self) -> Option<&Arc<Stream>> {
        self.stream.as_ref()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let grace = Duration::from_secs_f64(self.hub.config.hub.publisher_grace.max(0.0));
        let mut paths = self.hub.lock();
        if !matches!(paths.get(&self.path), Some(Slot::Claimed(_, id)) if *id == self.id) {
            return;
        }
        let runtime = tokio::runtime::Handle::try_current();
        match (self.stream.take(), runtime) {
            (Some(s), Ok(rt)) if self.grace && !grace.is_zero() && s.is_live() => {
                // Keep the stream for a while: a publisher that reconnects with the same tracks continues it.
                let id = CLAIM_IDS.fetch_add(1, Ordering::Relaxed);
                paths.insert(self.path.clone(), Slot::Orphaned(s, id));
                let hub = self.hub.clone();
                let path = self.path.clone();
                rt.spawn(async move {
                    tokio::time::sleep(grace).await;
                    let mut paths = hub.lock();
                    if matches!(paths.get(&path), Some(Slot::Orphaned(_, i)) if *i == id) {
                        if let Some(Slot::Orphaned(s, _)) = paths.remove(&path) {
                            info!(path, "publisher did not come back; stream ended");
                            s.close();
                        }
                    }
                });
            }
            (s, _) => {
                paths.remove(&self.path);
                if let Some(s) = s {
                    s.close();
                }
            }
        }
    }
}

impl Hub {
    /// A hub for this configuration.
    pub fn new(config: Arc<Config>) -> Arc<Hub> {
        Arc::new(Hub {
            config,
            paths: Mutex::new(HashMap::new()),
            demands: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        self.paths.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live stream on a path.
    pub fn stream(&self, path: &str) -> Option<Arc<Stream>> {
        match self.lock().get(path)? {
            Slot::Claimed(s, _) => s.clone(),
            Slot::Orphaned(s, _) => Some(s.clone()),
        }
    }

    /// Registers an on-demand source for a path: readers wake it through the returned handle.
    pub fn on_demand(&self, path: &str) -> Arc<Demand> {
        let d = Arc::new(Demand {
            wake: Notify::new(),
            ready: watch::channel(0).0,
            failure: Mutex::new(None),
        });
        self.demands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.to_string(), d.clone());
        d
    }

    /// The stream on a path; an on-demand source is woken and awaited for at most `wait`. A source
    /// failure that retrying cannot help ends the wait at once.
    pub async fn stream_or_demand(
        &self,
        path: &str,
        wait: Duration,
    ) -> Result<Arc<Stream>, NoStream> {
        if let Some(s) = self.stream(path) {
            return Ok(s);
        }
        let d = self
            .demands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
            .ok_or(NoStream::Absent)?;
        let mut ready = d.ready.subscribe();
        d.wake.notify_one();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(s) = self.stream(path) {
                return Ok(s);
            }
            let woken = tokio::time::timeout_at(deadline, ready.changed()).await;
            let failure = d.failure();
            if woken.is_err() || woken.is_ok_and(|r| r.is_err()) {
                return Err(NoStream::Unavailable(failure));
            }
            if let Some(f) = failure.filter(|f| f.fatal) {
                return Err(NoStream::Unavailable(Some(f)));
            }
        }
    }

    /// Names of the paths that have a live stream.
    pub fn live_paths(&self) -> Vec<String> {
        let paths = self.lock();
        let mut v: Vec<String> = paths
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Orphaned(..) | Slot::Claimed(Some(_), _)))
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// A publisher asks for a path.
    pub fn claim(self: &Arc<Self>, path: &str) -> Result<Claim, ClaimError> {
        if !crate::config::valid_path_name(path) {
            return Err(ClaimError::BadName(path.to_string()));
        }
        match self.config.paths.get(path) {
            Some(p) if p.source != Source::Publisher => {
                return Err(ClaimError::NotPublishable(path.to_string()))
            }
            Some(_) => {}
            None if !self.config.hub.publish_any_path => {
                return Err(ClaimError::NotConfigured(path.to_string()))
            }
            None => {}
        }
        self.take(path, true)
    }

    /// A path's own source (a camera, the demo clip) takes its path.
    pub fn claim_source(self: &Arc<Self>, path: &str) -> Result<Claim, ClaimError> {
        self.take(path, false)
    }

    fn take(self: &Arc<Self>, path: &str, grace: bool) -> Result<Claim, ClaimError> {
        let mut paths = self.lock();
        let adopted = match paths.get(path) {
            Some(Slot::Claimed(..)) => return Err(ClaimError::Busy(path.to_string())),
            Some(Slot::Orphaned(s, _)) => Some(s.clone()),
            None => None,
        };
        let id = CLAIM_IDS.fetch_add(1, Ordering::Relaxed);
        paths.insert(path.to_string(), Slot::Claimed(adopted.clone(), id));
        Ok(Claim {
            hub: self.clone(),
            path: path.to_string(),
            id,
            stream: adopted,
            grace,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_rtsp::rtp::RtpHeader;

    fn hub(grace: f64) -> Arc<Hub> {
        let mut c = Config::parse("", "t").unwrap();
        c.hub.publisher_grace = grace;
        Hub::new(Arc::new(c))
    }

    fn tracks() -> Vec<Track> {
        let sdp = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
        SessionDescription::parse(sdp.as_bytes())
            .unwrap()
            .media
            .into_iter()
            .map(Track::from_media)
            .collect()
    }

    /// An H.264 packet: an IDR slice when `key`, else a non-IDR slice.
    fn pkt(seq: u16, ts: u32, ssrc: u32, key: bool) -> Bytes {
        let mut b = bytes::BytesMut::new();
        RtpHeader {
            marker: true,
            payload_type: 96,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
        }
        .write(&mut b);
        b.extend_from_slice(if key { &[0x65, 0x88] } else { &[0x41, 0x9a] });
        b.freeze()
    }

    /// An H.264 packet with the given payload.
    fn nal(seq: u16, ts: u32, payload: &[u8]) -> Bytes {
        let mut b = bytes::BytesMut::new();
        RtpHeader {
            marker: false,
            payload_type: 96,
            sequence_number: seq,
            timestamp: ts,
            ssrc: 9,
        }
        .write(&mut b);
        b.extend_from_slice(payload);
        b.freeze()
    }

    const SPS: &[u8] = &[0x67, 0x42, 0xc0, 0x1e];
    const PPS: &[u8] = &[0x68, 0xce, 0x3c, 0x80];
    const IDR: &[u8] = &[0x65, 0x88];
    const NON_IDR: &[u8] = &[0x41, 0x9a];

    /// Publishes `(seq, timestamp, payload)` H.264 packets on track 0.
    fn feed(s: &Stream, packets: &[(u16, u32, &[u8])]) {
        for &(seq, ts, payload) in packets {
            s.publish(0, nal(seq, ts, payload));
        }
    }

    fn gop_seqs(s: &Stream) -> Vec<u16> {
        s.subscribe()
            .unwrap()
            .gop
            .iter()
            .map(|p| header(p).0)
            .collect()
    }

    #[test]
    fn gop_cache_starts_at_the_parameter_sets() {
        let h = hub(0.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        feed(
            &s,
            &[
                (1, 0, IDR),
                (2, 3600, NON_IDR),
                (3, 7200, SPS),
                (4, 7200, PPS),
                (5, 7200, IDR),
                (6, 10800, NON_IDR),
            ],
        );
        assert_eq!(gop_seqs(&s), [3, 4, 5, 6]);
    }

    /// CAMERA-QUIRKS #42 (Reolink RLC-822A): SPS and PPS carry the previous frame's timestamp.
    #[test]
    fn gop_cache_keeps_parameter_sets_with_an_old_timestamp() {
        let h = hub(0.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        feed(
            &s,
            &[
                (1, 0, SPS),
                (2, 0, PPS),
                (3, 0, IDR),
                (4, 3600, NON_IDR),
                (5, 3600, SPS),
                (6, 3600, PPS),
                (7, 7200, IDR),
                (8, 10800, NON_IDR),
            ],
        );
        assert_eq!(gop_seqs(&s), [5, 6, 7, 8]);
        // Parameter sets before the first keyframe count too.
        let mut c = h.claim("cam2").unwrap();
        let s = c.start(tracks());
        feed(
            &s,
            &[(1, 0, NON_IDR), (2, 0, SPS), (3, 0, PPS), (4, 3600, IDR)],
        );
        assert_eq!(gop_seqs(&s), [2, 3, 4]);
    }

    #[test]
    fn h265_gop_cache_starts_at_the_parameter_sets() {
        let h = hub(0.0);
        let mut c = h.claim("cam").unwrap();
        let sdp = "v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n";
        let tracks = SessionDescription::parse(sdp.as_bytes())
            .unwrap()
            .media
            .into_iter()
            .map(Track::from_media)
            .collect();
        let s = c.start(tracks);
        assert_eq!(s.video_track(), Some(0));
        s.publish(0, nal(1, 0, &[0x26, 0x01, 0xaf])); // IDR_W_RADL
        s.publish(0, nal(2, 3600, &[0x02, 0x01, 0xd0])); // TRAIL_R
        s.publish(0, nal(3, 3600, &[0x40, 0x01, 0x0c])); // VPS, old timestamp
        s.publish(0, nal(4, 3600, &[0x42, 0x01, 0x01])); // SPS
        s.publish(0, nal(5, 3600, &[0x44, 0x01, 0xc1])); // PPS
        s.publish(0, nal(6, 7200, &[0x26, 0x01, 0xaf]));
        s.publish(0, nal(7, 10800, &[0x02, 0x01, 0xd0]));
        assert_eq!(gop_seqs(&s), [3, 4, 5, 6, 7]);
    }

    /// CAMERA-QUIRKS #48: the camera's sprop-parameter-sets are wrong (or missing); readers are told
    /// the ones the stream carries.
    #[test]
    fn reader_sdp_announces_the_parameter_sets_of_the_stream() {
        let h = hub(0.0);
        let mut c = h.claim("cam").unwrap();
        let sdp = "v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                   a=fmtp:96 packetization-mode=1;profile-level-id=420029;sprop-parameter-sets=AAAA,BBBB\r\n";
        let tracks = SessionDescription::parse(sdp.as_bytes())
            .unwrap()
            .media
            .into_iter()
            .map(Track::from_media)
            .collect();
        let s = c.start(tracks);
        let before = s.reader_sdp("127.0.0.1");
        assert!(
            before.contains("sprop-parameter-sets=AAAA,BBBB"),
            "{before}"
        );
        feed(&s, &[(1, 0, SPS), (2, 0, PPS), (3, 0, IDR)]);
        let after = s.reader_sdp("127.0.0.1");
        assert!(
            after.contains(
                "a=fmtp:96 packetization-mode=1;profile-level-id=42C01E;sprop-parameter-sets=Z0LAHg==,aM48gA=="
            ),
            "{after}"
        );
        assert_eq!(after.matches("a=fmtp").count(), 1, "{after}");
    }

    /// CAMERA-QUIRKS #49: a 6 kB slice in one packet (over TCP) reaches readers as fragments that fit
    /// a datagram, and the sequence numbers after it move on by as many.
    #[tokio::test]
    async fn oversized_packets_are_split_and_numbered_on() {
        let h = hub(0.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        let mut sub = s.subscribe().unwrap();
        let mut big = vec![0x65];
        big.extend((0..6000).map(|i| (i % 250) as u8 + 1));
        feed(&s, &[(100, 0, SPS), (101, 0, &big), (102, 3600, NON_IDR)]);
        let mut got = Vec::new();
        while let Ok(p) = sub.rx.try_recv() {
            got.push(p);
        }
        let seqs: Vec<u16> = got.iter().map(|p| header(p).0).collect();
        let n = got.len();
        assert!(n >= 7, "{n} packets");
        assert_eq!(seqs, (100..100 + n as u16).collect::<Vec<_>>());
        assert!(got[..n - 1].iter().all(|p| p.data.len() <= 1472));
        assert!(got[1].keyframe, "the first fragment starts the keyframe");
        assert!(!got[2].keyframe);
        // The cache holds the same packets.
        assert_eq!(gop_seqs(&s), seqs);
        // A packet that comes late, from before the split, would clash with a fragment's number.
        s.publish(0, nal(99, 0, NON_IDR));
        assert!(sub.rx.try_recv().is_err());
        assert_eq!(s.stats().late_packets.load(Ordering::Relaxed), 1);
        s.publish(0, nal(103, 7200, NON_IDR));
        assert_eq!(header(&sub.rx.try_recv().unwrap()).0, 100 + n as u16);
    }

    /// Splitting may send FU-A, which packetization mode 0 (the default when the camera says nothing)
    /// does not allow: readers are told mode 1.
    #[test]
    fn reader_sdp_announces_packetization_mode_1_when_packets_may_be_split() {
        let h = hub(0.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        let sdp = s.reader_sdp("127.0.0.1");
        assert!(sdp.contains("a=fmtp:96 packetization-mode=1\r\n"), "{sdp}");

        let mut config = Config::parse("", "t").unwrap();
        config.hub.max_packet_bytes = 0;
        let h = Hub::new(Arc::new(config));
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        let sdp = s.reader_sdp("127.0.0.1");
        assert!(!sdp.contains("a=fmtp"), "{sdp}");
    }

    /// An IDR picture in several slices, each fragmented: one cache, not one per slice.
    #[test]
    fn gop_cache_keeps_every_slice_of_the_keyframe() {
        let h = hub(0.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        s.publish(0, nal(1, 0, SPS));
        s.publish(0, nal(2, 0, PPS));
        s.publish(0, nal(3, 0, &[0x7c, 0x85, 1])); // FU-A start, IDR
        s.publish(0, nal(4, 0, &[0x7c, 0x45, 2])); // FU-A end
        s.publish(0, nal(5, 0, &[0x7c, 0x85, 3])); // second slice
        s.publish(0, nal(6, 0, &[0x7c, 0x45, 4]));
        s.publish(0, nal(7, 3600, NON_IDR));
        assert_eq!(gop_seqs(&s), [1, 2, 3, 4, 5, 6, 7]);
    }

    fn header(p: &Packet) -> (u16, u32, u32) {
        let r = RtpPacket::parse(&p.data).unwrap();
        (r.sequence_number(), r.timestamp(), r.ssrc())
    }

    #[test]
    fn joining_reader_gets_gop_from_keyframe() {
        let h = hub(0.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        s.publish(0, pkt(1, 0, 9, false));
        s.publish(0, pkt(2, 3600, 9, true));
        s.publish(0, pkt(3, 7200, 9, false));
        let sub = s.subscribe().unwrap();
        let seqs: Vec<u16> = sub.gop.iter().map(|p| header(p).0).collect();
        assert_eq!(seqs, [2, 3]);
        assert!(sub.gop[0].keyframe);
    }

    #[test]
    fn second_publisher_is_refused_and_drop_frees_path() {
        let h = hub(0.0);
        let c = h.claim("cam").unwrap();
        assert_eq!(h.claim("cam").err(), Some(ClaimError::Busy("cam".into())));
        drop(c);
        assert!(h.claim("cam").is_ok());
    }

    #[tokio::test]
    async fn publisher_back_within_grace_continues_the_stream() {
        let h = hub(5.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        let mut sub = s.subscribe().unwrap();
        s.publish(0, pkt(100, 1000, 7, true));
        s.publish(0, pkt(101, 4600, 7, false));
        drop(c);
        assert!(
            h.stream("cam").is_some(),
            "the stream waits for its publisher"
        );
        let mut c = h.claim("cam").unwrap();
        let s2 = c.start(tracks());
        assert!(Arc::ptr_eq(&s, &s2));
        // The new session starts mid-GOP: readers skip to its keyframe, numbered on from the old session.
        s2.publish(0, pkt(5000, 77, 8, false));
        s2.publish(0, pkt(5001, 3677, 8, true));
        s2.publish(0, pkt(5002, 7277, 8, false));
        let got: Vec<(u16, u32, u32)> = (0..4)
            .map(|_| header(&sub.rx.try_recv().unwrap()))
            .collect();
        assert_eq!(got[..2], [(100, 1000, 7), (101, 4600, 7)]);
        assert_eq!((got[2].0, got[2].2), (102, 7));
        assert!(got[2].1 > 4600, "timestamp moves on across the gap");
        assert_eq!((got[3].0, got[3].1 - got[2].1, got[3].2), (103, 3600, 7));
        assert!(sub.rx.try_recv().is_err());
    }

    /// After a restart, video resumes at its first keyframe, later than audio: each track's gap is
    /// measured up to its own first packet, so the two stay in sync.
    #[tokio::test]
    async fn audio_and_video_stay_in_sync_across_a_restart() {
        let sdp = "v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                   m=audio 0 RTP/AVP 0\r\n";
        let tracks = || -> Vec<Track> {
            SessionDescription::parse(sdp.as_bytes())
                .unwrap()
                .media
                .into_iter()
                .map(Track::from_media)
                .collect()
        };
        let audio = |seq: u16, ts: u32, ssrc: u32| {
            let mut b = bytes::BytesMut::new();
            RtpHeader {
                marker: false,
                payload_type: 0,
                sequence_number: seq,
                timestamp: ts,
                ssrc,
            }
            .write(&mut b);
            b.extend_from_slice(&[0xff; 160]);
            b.freeze()
        };
        let h = hub(5.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        let mut sub = s.subscribe().unwrap();
        s.publish(0, pkt(10, 90_000, 7, true));
        s.publish(1, audio(20, 8_000, 8));
        drop(c);
        let mut c = h.claim("cam").unwrap();
        let s2 = c.start(tracks());
        assert!(Arc::ptr_eq(&s, &s2));
        s2.publish(1, audio(500, 123_456, 9));
        s2.publish(0, pkt(900, 5_000, 10, false)); // waits for a keyframe
        std::thread::sleep(Duration::from_millis(300));
        s2.publish(0, pkt(901, 5_000 + 27_000, 10, true));
        let got: Vec<(usize, u32)> = std::iter::from_fn(|| sub.rx.try_recv().ok())
            .map(|p| (p.track, header(&p).1))
            .collect();
        assert_eq!(got.len(), 4, "{got:?}");
        let audio_gap = f64::from(got[2].1.wrapping_sub(8_000)) / 8_000.0;
        let video_gap = f64::from(got[3].1.wrapping_sub(90_000)) / 90_000.0;
        assert_eq!((got[2].0, got[3].0), (1, 0));
        // The keyframe came 300 ms after the first audio packet of the new session.
        let skew = video_gap - audio_gap;
        assert!(
            (0.2..0.6).contains(&skew),
            "video resumed {skew:.3} s after audio on the RTP clocks (audio gap {audio_gap:.3} s)"
        );
    }

    #[tokio::test]
    async fn different_tracks_end_the_old_stream() {
        let h = hub(5.0);
        let mut c = h.claim("cam").unwrap();
        let s = c.start(tracks());
        let mut reader = s.subscribe().unwrap();
        drop(c);
        let mut c = h.claim("cam").unwrap();
        let sdp = "v=0\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
        let other = SessionDescription::parse(sdp.as_bytes())
            .unwrap()
            .media
            .into_iter()
            .map(Track::from_media)
            .collect();
        let s2 = c.start(other);
        assert!(!Arc::ptr_eq(&s, &s2));
        assert!(!s.is_live());
        assert!(
            matches!(
                reader.rx.try_recv(),
                Err(broadcast::error::TryRecvError::Closed)
            ),
            "an attached reader sees the end of the old stream"
        );
    }

    #[test]
    fn lagging_reader_skips_to_keyframe() {
        let mut r = ReaderState::default();
        r.lagged(5);
        let p = |key| Packet {
            track: 0,
            data: Bytes::new(),
            keyframe: key,
        };
        assert!(!r.admit(&p(false), Some(0)));
        assert!(r.admit(&p(true), Some(0)));
        assert!(r.admit(&p(false), Some(0)));
        assert_eq!((r.lost, r.sent), (6, 2));
    }
}
