//! One RTSP reader over TCP: OPTIONS, DESCRIBE, SETUP of every track (interleaved), PLAY, then counting
//! what arrives.
//!
//! Readers share the machine with the server they measure, so the receive path is kept cheap: one
//! receive buffer per reader that is reused, the project's decoder splitting frames off it without copying,
//! and the shared counters touched once per socket read rather than once per packet.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use bytes::BytesMut;
use sluice_rtsp::codec::{Decoder, Limits, Message};
use sluice_rtsp::message::{Method, Request, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::rtp::{self, ClockTracker, SeqTracker};
use crate::sdp;

/// Receive buffer size; a read never asks for less than [`MIN_READ`] bytes of room.
const BUFFER: usize = 256 * 1024;
const MIN_READ: usize = 64 * 1024;
/// How often a playing reader sends GET_PARAMETER so that session timeouts never end a long run.
const KEEPALIVE: Duration = Duration::from_secs(20);
/// The most time a request may wait for its response.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(15);
/// Marks "no keyframe yet" in [`Stats::first_keyframe_us`].
const NONE: u64 = u64::MAX;

/// Where a reader is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connecting or negotiating.
    Starting,
    /// PLAY was sent; counting packets.
    Playing,
    /// Never reached PLAY.
    Failed,
    /// The connection ended after PLAY (the server closed it, or an error).
    Ended,
}

/// Counters of one reader, read by the bench while the reader runs.
#[derive(Debug)]
pub struct Stats {
    bytes: AtomicU64,
    packets: AtomicU64,
    lost: AtomicU64,
    video_us: AtomicU64,
    first_keyframe_us: AtomicU64,
    phase: AtomicU8,
    error: Mutex<Option<String>>,
}

/// A point-in-time copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Bytes received on the connection (RTSP and interleaved frames).
    pub bytes: u64,
    /// RTP packets received.
    pub packets: u64,
    /// RTP packets missing from the sequence numbers.
    pub lost: u64,
    /// Media time of video received (by the RTP clock), in microseconds. Over a window, this divided by the
    /// window tells whether the reader keeps up with the live stream (1.0) or falls behind.
    pub video_us: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            bytes: AtomicU64::new(0),
            packets: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            video_us: AtomicU64::new(0),
            first_keyframe_us: AtomicU64::new(NONE),
            phase: AtomicU8::new(Phase::Starting as u8),
            error: Mutex::new(None),
        }
    }
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            bytes: self.bytes.load(Ordering::Relaxed),
            packets: self.packets.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            video_us: self.video_us.load(Ordering::Relaxed),
        }
    }

    /// Time from sending PLAY to the first video packet that starts a keyframe.
    pub fn first_keyframe(&self) -> Option<Duration> {
        match self.first_keyframe_us.load(Ordering::Relaxed) {
            NONE => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    /// Where the reader is.
    pub fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Starting,
            1 => Phase::Playing,
            2 => Phase::Failed,
            _ => Phase::Ended,
        }
    }

    /// Why the reader failed or ended, if it did.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
    }
}

/// Reads `url` until the task is aborted or the connection ends, recording into `stats`.
pub async fn run(url: String, stats: Arc<Stats>) {
    let result = read(&url, &stats).await;
    let phase = if stats.phase() == Phase::Starting {
        Phase::Failed
    } else {
        Phase::Ended
    };
    if let Err(e) = result {
        if let Ok(mut slot) = stats.error.lock() {
            *slot = Some(format!("{e:#}"));
        }
    }
    stats.set_phase(phase);
}

/// The media of `url` as its DESCRIBE answer lists them.
pub async fn describe(url: &str) -> anyhow::Result<sdp::Description> {
    let mut conn = Conn::connect(url).await?;
    let (_, d) = conn.describe(url).await?;
    Ok(d)
}

async fn read(url: &str, stats: &Stats) -> anyhow::Result<()> {
    let mut conn = Conn::connect(url).await?;
    conn.request(Request::new(Method::Options, url)).await?;
    let (base, description) = conn.describe(url).await?;
    if description.media.is_empty() {
        bail!("DESCRIBE {url}: no media");
    }
    // Interleaved channel -> (track, is the H.264 video track) for RTP channels.
    let mut tracks: [Option<(usize, bool)>; 256] = [None; 256];
    let mut trackers = vec![SeqTracker::default(); description.media.len()];
    let mut have_video = false;
    let mut video_clock = ClockTracker::default();
    let mut video_rate = 90_000u64;
    for (i, media) in description.media.iter().enumerate() {
        let control = sdp::resolve(&base, media.control.as_deref().unwrap_or("*"));
        let rtp = u8::try_from(2 * i).context("too many tracks")?;
        let transport = format!("RTP/AVP/TCP;unicast;interleaved={rtp}-{}", rtp + 1);
        let resp = conn
            .request(Request::new(Method::Setup, &control).with_header("Transport", transport))
            .await?;
        let channel = resp
            .headers
            .get("Transport")
            .and_then(interleaved_channel)
            .unwrap_or(rtp);
        let video = media.is_h264() && !have_video;
        have_video |= video;
        if video {
            video_rate = media
                .clock_rate
                .filter(|&r| r > 0)
                .map_or(video_rate, u64::from);
        }
        if let Some(slot) = tracks.get_mut(usize::from(channel)) {
            *slot = Some((i, video));
        }
        if conn.session.is_none() {
            conn.session = resp
                .headers
                .get("Session")
                .and_then(|s| s.split(';').next())
                .map(|s| s.trim().to_owned());
        }
    }
    let play_url = description
        .control
        .as_deref()
        .map(|c| sdp::resolve(&base, c))
        .unwrap_or_else(|| url.to_owned());

    // PLAY's answer may come after the first frames; it is checked in the loop below.
    let play_cseq = conn
        .send(Request::new(Method::Play, &play_url).with_header("Range", "npt=0.000-"))
        .await?;
    let sent_play = Instant::now();
    stats.set_phase(Phase::Playing);
    let mut last_keepalive = sent_play;
    let mut keyframe_seen = false;
    loop {
        if conn.buf.capacity() - conn.buf.len() < MIN_READ {
            conn.buf.reserve(MIN_READ);
        }
        let n = conn
            .stream
            .read_buf(&mut conn.buf)
            .await
            .context("reading")?;
        if n == 0 {
            bail!("server closed the connection");
        }
        stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
        let (mut packets, mut lost) = (0u64, 0u64);
        loop {
            let message = match conn.decoder.decode(&mut conn.buf) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) if e.is_fatal() => return Err(e).context("decoding"),
                Err(_) => continue,
            };
            match message {
                Message::Data(frame) => {
                    let Some(Some((track, video))) = tracks.get(usize::from(frame.channel)) else {
                        continue; // RTCP, or a channel not set up
                    };
                    let Some(seq) = rtp::sequence(&frame.payload) else {
                        continue;
                    };
                    packets += 1;
                    if let Some(t) = trackers.get_mut(*track) {
                        lost += t.push(seq);
                    }
                    if !*video {
                        continue;
                    }
                    if let Some(ts) = rtp::timestamp(&frame.payload) {
                        video_clock.push(ts);
                    }
                    if !keyframe_seen
                        && rtp::payload(&frame.payload).is_some_and(rtp::starts_h264_keyframe)
                    {
                        keyframe_seen = true;
                        let us = u64::try_from(sent_play.elapsed().as_micros()).unwrap_or(NONE - 1);
                        stats.first_keyframe_us.store(us, Ordering::Relaxed);
                    }
                }
                Message::Response(r) if r.cseq() == Some(play_cseq) && !r.status.is_success() => {
                    bail!("PLAY {play_url}: {} {}", r.status.0, r.reason);
                }
                _ => {}
            }
        }
        stats.packets.fetch_add(packets, Ordering::Relaxed);
        stats.lost.fetch_add(lost, Ordering::Relaxed);
        let video_us = u128::from(video_clock.ticks()) * 1_000_000 / u128::from(video_rate);
        stats.video_us.store(
            u64::try_from(video_us).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        if last_keepalive.elapsed() >= KEEPALIVE {
            last_keepalive = Instant::now();
            conn.send(Request::new(Method::GetParameter, &play_url))
                .await?;
        }
    }
}

/// The first channel of `interleaved=a-b` in a Transport header (RFC 2326 §12.39).
fn interleaved_channel(transport: &str) -> Option<u8> {
    let value = transport
        .split(';')
        .find_map(|p| p.trim().strip_prefix("interleaved="))?;
    value.split('-').next()?.trim().parse().ok()
}

/// An RTSP connection during negotiation.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: Decoder,
    cseq: u32,
    session: Option<String>,
    out: BytesMut,
}

impl Conn {
    async fn connect(url: &str) -> anyhow::Result<Conn> {
        let authority = url
            .strip_prefix("rtsp://")
            .and_then(|rest| rest.split('/').next())
            .ok_or_else(|| anyhow!("not an rtsp:// URL: {url}"))?;
        let addr = if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:554")
        };
        let stream = TcpStream::connect(&addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::with_capacity(BUFFER),
            decoder: Decoder::new(Limits::default()),
            cseq: 0,
            session: None,
            out: BytesMut::with_capacity(1024),
        })
    }

    /// Sends a request with the next CSeq (and the session, once there is one); returns the CSeq.
    async fn send(&mut self, req: Request) -> anyhow::Result<u32> {
        self.cseq += 1;
        let mut req = req
            .with_header("CSeq", self.cseq.to_string())
            .with_header("User-Agent", "sluice-bench");
        if let Some(s) = &self.session {
            req = req.with_header("Session", s.clone());
        }
        self.out.clear();
        req.encode(&mut self.out);
        self.stream
            .write_all(&self.out)
            .await
            .context("writing a request")?;
        Ok(self.cseq)
    }

    /// Sends a request and waits for its successful response.
    async fn request(&mut self, req: Request) -> anyhow::Result<Response> {
        let what = format!("{} {}", req.method.as_str(), req.uri);
        let cseq = self.send(req).await?;
        let resp = tokio::time::timeout(RESPONSE_TIMEOUT, self.response(cseq))
            .await
            .map_err(|_| anyhow!("{what}: no response in {RESPONSE_TIMEOUT:?}"))??;
        if !resp.status.is_success() {
            bail!("{what}: {} {}", resp.status.0, resp.reason);
        }
        Ok(resp)
    }

    async fn response(&mut self, cseq: u32) -> anyhow::Result<Response> {
        loop {
            while let Some(message) = self
                .decoder
                .decode(&mut self.buf)
                .context("decoding a response")?
            {
                if let Message::Response(r) = message {
                    if r.cseq() == Some(cseq) {
                        return Ok(r);
                    }
                }
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                bail!("server closed the connection");
            }
        }
    }

    /// DESCRIBE: the base URL for relative controls, and the media.
    async fn describe(&mut self, url: &str) -> anyhow::Result<(String, sdp::Description)> {
        let resp = self
            .request(Request::new(Method::Describe, url).with_header("Accept", "application/sdp"))
            .await?;
        // RFC 2326 §C.1.1: relative controls resolve against Content-Base, else Content-Location, else
        // the request URL.
        let base = resp
            .headers
            .get("Content-Base")
            .or_else(|| resp.headers.get("Content-Location"))
            .map(|b| b.trim().to_owned())
            .unwrap_or_else(|| url.to_owned());
        let text = String::from_utf8_lossy(&resp.body);
        Ok((base, sdp::parse(&text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_from_transport() {
        assert_eq!(
            interleaved_channel("RTP/AVP/TCP;unicast;interleaved=4-5"),
            Some(4)
        );
        assert_eq!(
            interleaved_channel("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=1234"),
            Some(0)
        );
        assert_eq!(
            interleaved_channel("RTP/AVP;unicast;client_port=5000-5001"),
            None
        );
        assert_eq!(interleaved_channel("RTP/AVP/TCP;interleaved=x"), None);
    }
}
