//! The hub: one [`Stream`] per path, fanned out to any number of readers.
//!
//! Packets travel as [`Bytes`] holding a whole RTP packet: one allocation when a packet is received, shared by
//! every reader. The fan-out is a [`tokio::sync::broadcast`] ring of `reader_queue` slots per stream: sending
//! never waits for a reader, a reader that falls more than `reader_queue` packets behind is told how many it
//! lost and skips to the next keyframe ([`ReaderState`]), and memory is bounded by the ring whatever the
//! number of readers. (A queue per reader would hold the same `Bytes` handles N times over; the shared ring
//! holds each once.)
//!
//! The GOP cache keeps every packet since the last keyframe of the video track, bounded in bytes. A joining
//! reader takes a snapshot of it and subscribes under the same lock, so the snapshot and the live packets
//! join without a gap or a duplicate and the reader's first frame is a keyframe.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use sluice_rtsp::rtp::RtpPacket;
use sluice_rtsp::sdp::{MediaDescription, SessionDescription};
use tokio::sync::broadcast;

use crate::config::{Config, Source};

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
}

impl Track {
    /// Builds a track from an SDP media section.
    pub fn from_media(media: MediaDescription) -> Track {
        let rtpmap = media.payload_types().next().and_then(|pt| media.rtpmap(pt));
        let (encoding, clock_rate) = match rtpmap {
            Some(m) => (m.encoding.to_ascii_uppercase(), m.clock_rate),
            None => (String::new(), 90_000),
        };
        let keyframe: Option<KeyframeFn> = match (media.media.as_str(), encoding.as_str()) {
            ("video", "H264") => Some(sluice_media::h264::is_keyframe_start),
            ("video", "H265") => Some(sluice_media::h265::is_keyframe_start),
            _ => None,
        };
        Track {
            media,
            clock_rate: clock_rate.max(1),
            encoding,
            keyframe,
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
}

/// A live stream on a path.
pub struct Stream {
    path: String,
    tracks: Vec<Track>,
    video: Option<usize>,
    gop_limit: usize,
    stats: StreamStats,
    inner: Mutex<Inner>,
}

struct Inner {
    tx: Option<broadcast::Sender<Packet>>,
    gop: VecDeque<Packet>,
    gop_bytes: usize,
    /// RTP timestamp of the keyframe the cache starts with.
    gop_ts: Option<u32>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").field("path", &self.path).field("tracks", &self.tracks.len()).finish()
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
    fn new(path: String, tracks: Vec<Track>, queue: usize, gop_limit: usize) -> Stream {
        let video = tracks.iter().position(Track::has_keyframes);
        let (tx, _) = broadcast::channel(queue.max(16));
        Stream {
            path,
            tracks,
            video,
            gop_limit,
            stats: StreamStats::default(),
            inner: Mutex::new(Inner {
                tx: Some(tx),
                gop: VecDeque::new(),
                gop_bytes: 0,
                gop_ts: None,
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
        let (keyframe, ts) = match RtpPacket::parse(&data) {
            Ok(p) => (t.keyframe.is_some_and(|f| f(p.payload())), p.timestamp()),
            Err(_) => {
                self.stats.invalid_packets.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        self.stats.packets_in.fetch_add(1, Ordering::Relaxed);
        self.stats.bytes_in.fetch_add(data.len() as u64, Ordering::Relaxed);
        let len = data.len();
        let packet = Packet { track, data, keyframe };
        let mut inner = self.lock();
        if self.video.is_some() {
            if keyframe && inner.gop_ts != Some(ts) {
                // A new keyframe access unit: the cache restarts here. (SPS, PPS and the IDR share a
                // timestamp, so they all land in the same cache.)
                inner.gop.clear();
                inner.gop_bytes = 0;
                inner.gop_ts = Some(ts);
            }
            if inner.gop_ts.is_some() {
                if inner.gop_bytes + len > self.gop_limit {
                    // Too long a GOP to cache: joining readers wait for the next keyframe instead.
                    inner.gop.clear();
                    inner.gop_bytes = 0;
                    inner.gop_ts = None;
                } else {
                    inner.gop_bytes += len;
                    inner.gop.push_back(packet.clone());
                }
            }
        }
        if let Some(tx) = &inner.tx {
            // An error only means that nobody is reading.
            let _ = tx.send(packet);
        }
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
        inner.gop.clear();
        inner.gop_bytes = 0;
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
        for (i, t) in self.tracks.iter().enumerate() {
            let mut m = t.media.clone();
            m.port = 0;
            m.num_ports = None;
            m.connection = None;
            m.attributes.retain(|a| {
                !matches!(a.name.as_str(), "control" | "sendonly" | "recvonly" | "sendrecv" | "inactive")
            });
            m.attributes.push(attr("control", Some(&format!("trackID={i}"))));
            sdp.media.push(m);
        }
        sdp.to_string()
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
    #[error("path `{0}` has a built-in source and does not take publishers")]
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
}

enum Slot {
    /// A publisher has the path (between ANNOUNCE and RECORD the stream is not there yet).
    Claimed(Option<Arc<Stream>>, u64),
    /// A built-in source.
    Static(Arc<Stream>),
}

static CLAIM_IDS: AtomicU64 = AtomicU64::new(1);

/// A publisher's hold on a path; dropping it frees the path and ends the stream.
pub struct Claim {
    hub: Arc<Hub>,
    path: String,
    id: u64,
    stream: Option<Arc<Stream>>,
}

impl Claim {
    /// The path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Starts the stream with these tracks (at RECORD). Readers can now DESCRIBE it.
    pub fn start(&mut self, tracks: Vec<Track>) -> Arc<Stream> {
        let h = &self.hub.config.hub;
        let stream = Arc::new(Stream::new(self.path.clone(), tracks, h.reader_queue, h.gop_cache_bytes));
        if let Some(old) = self.stream.replace(stream.clone()) {
            old.close();
        }
        let mut paths = self.hub.lock();
        if let Some(Slot::Claimed(s, id)) = paths.get_mut(&self.path) {
            if *id == self.id {
                *s = Some(stream.clone());
            }
        }
        stream
    }

    /// The stream, once started.
    pub fn stream(&self) -> Option<&Arc<Stream>> {
        self.stream.as_ref()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(s) = &self.stream {
            s.close();
        }
        let mut paths = self.hub.lock();
        if matches!(paths.get(&self.path), Some(Slot::Claimed(_, id)) if *id == self.id) {
            paths.remove(&self.path);
        }
    }
}

impl Hub {
    /// A hub for this configuration.
    pub fn new(config: Arc<Config>) -> Arc<Hub> {
        Arc::new(Hub {
            config,
            paths: Mutex::new(HashMap::new()),
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
            Slot::Static(s) => Some(s.clone()),
        }
    }

    /// Names of the paths that have a live stream.
    pub fn live_paths(&self) -> Vec<String> {
        let paths = self.lock();
        let mut v: Vec<String> = paths
            .iter()
            .filter(|(_, s)| matches!(s, Slot::Static(_) | Slot::Claimed(Some(_), _)))
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
        let mut paths = self.lock();
        if paths.contains_key(path) {
            return Err(ClaimError::Busy(path.to_string()));
        }
        let id = CLAIM_IDS.fetch_add(1, Ordering::Relaxed);
        paths.insert(path.to_string(), Slot::Claimed(None, id));
        Ok(Claim {
            hub: self.clone(),
            path: path.to_string(),
            id,
            stream: None,
        })
    }

    /// Installs a built-in source's stream on a path.
    pub fn start_static(&self, path: &str, tracks: Vec<Track>) -> Arc<Stream> {
        let h = &self.config.hub;
        let stream = Arc::new(Stream::new(path.to_string(), tracks, h.reader_queue, h.gop_cache_bytes));
        if let Some(Slot::Static(old)) = self.lock().insert(path.to_string(), Slot::Static(stream.clone())) {
            old.close();
        }
        stream
    }
}
