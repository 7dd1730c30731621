//! The sending side of a reader: takes packets from the hub in batches and writes them out.
//!
//! Over TCP a batch of up to [`BATCH`] packets goes out in one vectored write (each packet behind its 4-byte
//! interleaved header, RFC 2326 §10.12), with no copy of a payload and no allocation per packet: the headers
//! and the `IoSlice`s live in fixed arrays on the stack. Over UDP each packet is one datagram, each to its
//! track's address, and on Linux a batch goes out in one `sendmmsg(2)` (see the `sendmmsg` module).

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use sluice_rtsp::codec::InterleavedFrame;
use sluice_rtsp::rtcp::{self, NtpTimestamp, SenderReport};
use tokio::io::AsyncWriteExt;
use tokio::net::UdpSocket;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tracing::{debug, warn};

use super::sendmmsg;
use crate::hub::{Packet, ReaderState, Subscription};

/// Most packets written in one syscall.
pub const BATCH: usize = 64;

/// Longest a batch that ends inside a video frame waits for the rest of the frame. A source sends a
/// frame's packets back to back, so they are normally already in the ring; the bound covers a source
/// that never sets the marker bit (CAMERA-QUIRKS #41).
pub const FRAME_WAIT: Duration = Duration::from_millis(3);

/// Where a track's packets go.
#[derive(Debug, Clone, Copy)]
pub enum Dest {
    /// An interleaved channel of the RTSP connection.
    Channel(u8),
    /// A UDP address.
    Addr(SocketAddr),
}

/// One track a reader receives.
#[derive(Debug)]
pub struct TrackOut {
    /// Where RTP goes.
    pub rtp: Dest,
    /// Where RTCP goes.
    pub rtcp: Dest,
    clock_rate: u32,
    ssrc: u32,
    last_ts: u32,
    last_at: Option<Instant>,
    packets: u32,
    octets: u32,
}

impl TrackOut {
    /// A track sent to `rtp`/`rtcp`, whose RTP clock runs at `clock_rate`.
    pub fn new(rtp: Dest, rtcp: Dest, clock_rate: u32) -> TrackOut {
        TrackOut {
            rtp,
            rtcp,
            clock_rate,
            ssrc: 0,
            last_ts: 0,
            last_at: None,
            packets: 0,
            octets: 0,
        }
    }
}

/// The last RTP sequence number sent on each track of a reader session. It outlives a PAUSE, so that
/// the PLAY that follows resumes after it: a reader that pauses within a GOP gets the packets it missed
/// from the GOP cache, one that paused longer starts at the cached keyframe, and sequence numbers never
/// go back.
#[derive(Debug, Clone)]
pub struct Progress(Arc<[AtomicU32]>);

impl Progress {
    /// Nothing sent yet on any of `tracks` tracks.
    pub fn new(tracks: usize) -> Progress {
        Progress((0..tracks).map(|_| AtomicU32::new(u32::MAX)).collect())
    }

    fn record(&self, track: usize, seq: u16) {
        if let Some(a) = self.0.get(track) {
            a.store(u32::from(seq), Ordering::Relaxed);
        }
    }

    fn last(&self, track: usize) -> Option<u16> {
        let v = self.0.get(track)?.load(Ordering::Relaxed);
        u16::try_from(v).ok()
    }

    /// Whether a packet with `seq` on `track` comes after what was sent (RFC 3550 §A.1 style
    /// comparison, modulo 2^16).
    fn is_new(&self, track: usize, seq: u16) -> bool {
        self.last(track)
            .is_none_or(|last| (seq.wrapping_sub(last) as i16) > 0)
    }
}

/// How long `bytes` take at `mbps` Mbit/s: the pause after a batch of the GOP cache sent to a UDP
/// reader, so that the burst does not overflow its socket buffer.
pub fn catchup_pause(bytes: usize, mbps: f64) -> Duration {
    Duration::from_micros((bytes as f64 * 8.0 / mbps.max(1.0)) as u64)
}

/// The rate the GOP cache goes out to a joining UDP reader: the configured floor, or one and a half
/// times the stream's own rate when that is more, so that the reader still catches up with the live
/// stream (a cache of `g` seconds in `2g`; a reader that falls further behind than the ring skips to
/// the next keyframe).
pub fn catchup_mbps(floor: u32, stream_mbps: f64) -> f64 {
    f64::from(floor).max(1.5 * stream_mbps)
}

/// A packet's RTP sequence number.
fn seq_of(p: &Packet) -> Option<u16> {
    p.data.get(2..4).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

/// A reader's view of a stream.
pub struct Player {
    pending: VecDeque<Packet>,
    rx: broadcast::Receiver<Packet>,
    closed: bool,
    /// Counters.
    pub state: ReaderState,
    video: Option<usize>,
    /// Per stream track: `None` when the reader did not set it up.
    pub outs: Vec<Option<TrackOut>>,
    progress: Progress,
    /// UDP datagrams the kernel refused; the first is logged as a warning, the others at debug level.
    udp_errors: u64,
}

impl Player {
    /// Starts with the GOP cache, then live packets. After a PAUSE that ended within the cached GOP
    /// (the cache holds the last video packet sent), only what comes after `progress` is sent again;
    /// otherwise the whole cache, which then starts after everything sent before.
    pub fn new(
        sub: Subscription,
        video: Option<usize>,
        outs: Vec<Option<TrackOut>>,
        progress: Progress,
    ) -> Player {
        let within_gop = video.is_some_and(|v| {
            progress.last(v).is_some_and(|last| {
                sub.gop
                    .iter()
                    .any(|p| p.track == v && seq_of(p) == Some(last))
            })
        });
        let pending = sub
            .gop
            .into_iter()
            .filter(|p| !within_gop || seq_of(p).is_none_or(|seq| progress.is_new(p.track, seq)))
            .collect();
        Player {
            pending,
            rx: sub.rx,
            closed: false,
            state: ReaderState::default(),
            video,
            outs,
            progress,
            udp_errors: 0,
        }
    }

    /// The first packet of each track the reader will get, from the cache: `(seq, rtptime)` by track.
    pub fn first_packets(&self) -> Vec<Option<(u16, u32)>> {
        let mut v = vec![None; self.outs.len()];
        for p in &self.pending {
            if let Some(slot @ None) = v.get_mut(p.track) {
                if p.data.len() >= 12 {
                    let seq = u16::from_be_bytes([p.data[2], p.data[3]]);
                    let ts = u32::from_be_bytes([p.data[4], p.data[5], p.data[6], p.data[7]]);
                    *slot = Some((seq, ts));
                }
            }
        }
        v
    }

    fn take(&mut self, p: Packet, batch: &mut Vec<Packet>) {
        let Some(Some(out)) = self.outs.get_mut(p.track) else {
            return;
        };
        if !self.state.admit(&p, self.video) {
            return;
        }
        if let Some(h) = p.data.get(4..12) {
            out.last_ts = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
            out.ssrc = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        }
        out.last_at = Some(Instant::now());
        out.packets = out.packets.wrapping_add(1);
        out.octets = out
            .octets
            .wrapping_add(p.data.len().saturating_sub(12) as u32);
        batch.push(p);
    }

    /// Fills `batch` with up to [`BATCH`] packets, waiting for the first, and then, while the batch ends
    /// inside a video frame, up to [`FRAME_WAIT`] for the rest of that frame: one write per frame and
    /// reader, audio included, is the aim. Returns `false` once the stream has ended and everything was
    /// delivered. Cancel-safe: packets move into `batch` before any await, and a call with a non-empty
    /// `batch` goes on from there.
    pub async fn fill(&mut self, batch: &mut Vec<Packet>) -> bool {
        while batch.len() < BATCH {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            self.take(p, batch);
        }
        while batch.is_empty() {
            if self.closed {
                return false;
            }
            match self.rx.recv().await {
                Ok(p) => self.take(p, batch),
                Err(RecvError::Lagged(n)) => self.state.lagged(n),
                Err(RecvError::Closed) => self.closed = true,
            }
        }
        self.take_ready(batch);
        if self.ends_mid_frame(batch) {
            let deadline = tokio::time::Instant::now() + FRAME_WAIT;
            while batch.len() < BATCH && !self.closed && self.ends_mid_frame(batch) {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Err(_elapsed) => break,
                    Ok(Ok(p)) => self.take(p, batch),
                    Ok(Err(RecvError::Lagged(n))) => self.state.lagged(n),
                    Ok(Err(RecvError::Closed)) => self.closed = true,
                }
                self.take_ready(batch);
            }
        }
        true
    }

    /// Moves what the ring holds now into `batch`, up to [`BATCH`].
    fn take_ready(&mut self, batch: &mut Vec<Packet>) {
        while batch.len() < BATCH && !self.closed {
            match self.rx.try_recv() {
                Ok(p) => self.take(p, batch),
                Err(TryRecvError::Lagged(n)) => self.state.lagged(n),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => self.closed = true,
            }
        }
    }

    /// Whether the last video packet in `batch` is not the last of its frame (no marker bit,
    /// RFC 6184 §5.1).
    fn ends_mid_frame(&self, batch: &[Packet]) -> bool {
        let Some(video) = self.video else {
            return false;
        };
        batch
            .iter()
            .rev()
            .find(|p| p.track == video)
            .is_some_and(|p| p.data.get(1).is_some_and(|b| b & 0x80 == 0))
    }

    /// Whether packets of the GOP cache are still to be sent.
    pub fn catching_up(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The reader is being dropped: what was still queued for it counts as lost.
    pub fn abandon(&mut self) {
        self.state.lost += (self.rx.len() + self.pending.len()) as u64;
        self.pending.clear();
    }

    /// RTCP sender reports (with SDES CNAME) for every track that has sent something, RFC 3550 §6.4.1.
    pub fn sender_reports(&self, now: Instant) -> Vec<(Dest, Bytes)> {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut v = Vec::new();
        for out in self.outs.iter().flatten() {
            let Some(at) = out.last_at else { continue };
            let elapsed = now.saturating_duration_since(at);
            let advance = (elapsed.as_secs_f64() * f64::from(out.clock_rate)) as u64 as u32;
            let sr = SenderReport {
                ssrc: out.ssrc,
                ntp: NtpTimestamp::from_unix(wall),
                rtp_timestamp: out.last_ts.wrapping_add(advance),
                packet_count: out.packets,
                octet_count: out.octets,
                reports: Vec::new(),
            };
            let mut buf = BytesMut::with_capacity(64);
            sr.write(&mut buf);
            rtcp::write_sdes_cname(out.ssrc, "sluice", &mut buf);
            v.push((out.rtcp, buf.freeze()));
        }
        v
    }

    /// RTCP BYE for every track, RFC 3550 §6.6.
    pub fn goodbyes(&self) -> Vec<(Dest, Bytes)> {
        let mut v = Vec::new();
        for out in self.outs.iter().flatten() {
            let mut buf = BytesMut::with_capacity(32);
            rtcp::write_bye(&[out.ssrc], Some("end of stream"), &mut buf);
            v.push((out.rtcp, buf.freeze()));
        }
        v
    }

    /// The interleaved channel of a packet's track.
    fn channel(&self, p: &Packet) -> Option<u8> {
        match self.outs.get(p.track)?.as_ref()?.rtp {
            Dest::Channel(c) => Some(c),
            Dest::Addr(_) => None,
        }
    }

    /// Writes a batch to an RTSP connection in one vectored write (more only if the kernel takes less).
    pub async fn write_tcp<W: AsyncWriteExt + Unpin>(
        &self,
        w: &mut W,
        batch: &[Packet],
    ) -> io::Result<()> {
        let mut headers = [[0u8; 4]; BATCH];
        let mut n = 0;
        let mut keep = [false; BATCH];
        for (i, p) in batch.iter().enumerate().take(BATCH) {
            let (Some(ch), Ok(len)) = (self.channel(p), u16::try_from(p.data.len())) else {
                continue;
            };
            headers[i] = InterleavedFrame::header(ch, len);
            keep[i] = true;
            n += 1;
        }
        if n == 0 {
            return Ok(());
        }
        let mut iov = [IoSlice::new(&[]); 2 * BATCH];
        let mut k = 0;
        for (i, p) in batch.iter().enumerate().take(BATCH) {
            if keep[i] {
                iov[k] = IoSlice::new(&headers[i]);
                iov[k + 1] = IoSlice::new(&p.data);
                k += 2;
            }
        }
        write_all_vectored(w, &mut iov[..k]).await?;
        self.mark_sent(batch);
        Ok(())
    }

    /// Records the batch as sent (for a PLAY after PAUSE).
    fn mark_sent(&self, batch: &[Packet]) {
        for p in batch {
            if let Some(seq) = seq_of(p) {
                self.progress.record(p.track, seq);
            }
        }
    }

    /// Sends a batch as UDP datagrams, each to its track's RTP address: in one `sendmmsg(2)` on Linux (more
    /// only if the socket buffer fills up), one `send_to` per packet elsewhere.
    ///
    /// UDP is best effort: a datagram the kernel refuses (no route to the reader, an address of the wrong
    /// family) counts as lost, and the rest of the batch still goes.
    pub async fn send_udp(&mut self, sock: &UdpSocket, batch: &[Packet]) {
        let outs = &self.outs;
        let state = &mut self.state;
        let errors = &mut self.udp_errors;
        sendmmsg::send_batch(
            sock,
            batch,
            |p| match outs.get(p.track) {
                Some(Some(TrackOut {
                    rtp: Dest::Addr(a), ..
                })) => Some((&p.data[..], *a)),
                _ => None,
            },
            |p, to, e| {
                state.lost += 1;
                *errors += 1;
                let seq = seq_of(p);
                if *errors == 1 {
                    warn!(%to, track = p.track, ?seq, error = %e, "UDP send failed (more at debug level)");
                } else {
                    debug!(%to, track = p.track, ?seq, error = %e, "UDP send failed");
                }
            },
        )
        .await;
        self.mark_sent(batch);
    }
}

/// Writes every byte of `bufs`, however the kernel splits the writes.
pub async fn write_all_vectored<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    mut bufs: &mut [IoSlice<'_>],
) -> io::Result<()> {
    while !bufs.is_empty() {
        let n = w.write_vectored(bufs).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, n);
    }
    Ok(())
}

/// Writes RTCP to its destinations: interleaved frames are returned as bytes to write on the connection, UDP
/// destinations are sent on `sock`.
pub async fn send_rtcp(items: Vec<(Dest, Bytes)>, sock: Option<&UdpSocket>) -> BytesMut {
    let mut tcp = BytesMut::new();
    for (dest, data) in items {
        match dest {
            Dest::Channel(c) => InterleavedFrame {
                channel: c,
                payload: data,
            }
            .encode(&mut tcp),
            Dest::Addr(a) => {
                if let Some(s) = sock {
                    let _ = s.send_to(&data, a).await;
                }
            }
        }
    }
    tcp
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::BytesMut;
    use sluice_rtsp::rtp::RtpHeader;
    use sluice_rtsp::sdp::SessionDescription;

    use super::*;
    use crate::config::Config;
    use crate::hub::{Hub, Stream, Track};

    fn stream() -> (Arc<Hub>, crate::hub::Claim, Arc<Stream>) {
        let hub = Hub::new(Arc::new(Config::parse("", "t").unwrap()));
        let sdp = "v=0\r\ns=x\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
        let tracks = SessionDescription::parse(sdp.as_bytes())
            .unwrap()
            .media
            .into_iter()
            .map(Track::from_media)
            .collect();
        let mut claim = hub.claim("cam").unwrap();
        let stream = claim.start(tracks);
        (hub, claim, stream)
    }

    /// A non-IDR slice fragment; `last` sets the marker bit.
    fn packet(seq: u16, last: bool) -> Bytes {
        let mut b = BytesMut::new();
        RtpHeader {
            marker: last,
            payload_type: 96,
            sequence_number: seq,
            timestamp: 3600,
            ssrc: 1,
        }
        .write(&mut b);
        b.extend_from_slice(&[0x41, 0x9a]);
        b.freeze()
    }

    fn player(stream: &Stream) -> Player {
        let outs = vec![Some(TrackOut::new(
            Dest::Channel(0),
            Dest::Channel(1),
            90_000,
        ))];
        Player::new(stream.subscribe().unwrap(), Some(0), outs, Progress::new(1))
    }

    /// An IDR slice (a keyframe for the GOP cache).
    fn keyframe(seq: u16) -> Bytes {
        let mut b = BytesMut::from(&packet(seq, true)[..]);
        b[12] = 0x65;
        b.freeze()
    }

    fn pending_seqs(p: &Player) -> Vec<u16> {
        p.pending.iter().filter_map(seq_of).collect()
    }

    #[test]
    fn play_after_pause_resends_only_what_follows_within_the_gop() {
        let (_hub, _claim, stream) = stream();
        stream.publish(0, keyframe(10));
        for seq in 11..15 {
            stream.publish(0, packet(seq, true));
        }
        // Sent up to 12 before the pause: the cache holds 12, so 13 and 14 follow.
        let progress = Progress::new(1);
        progress.record(0, 12);
        let outs = || {
            vec![Some(TrackOut::new(
                Dest::Channel(0),
                Dest::Channel(1),
                90_000,
            ))]
        };
        let p = Player::new(stream.subscribe().unwrap(), Some(0), outs(), progress);
        assert_eq!(pending_seqs(&p), [13, 14]);
        // Sent up to a packet the cache no longer holds (a long pause, or sequence numbers that
        // wrapped meanwhile): the whole cache, from its keyframe.
        for last in [9, 40_000] {
            let progress = Progress::new(1);
            progress.record(0, last);
            let p = Player::new(stream.subscribe().unwrap(), Some(0), outs(), progress);
            assert_eq!(pending_seqs(&p), [10, 11, 12, 13, 14], "last sent {last}");
        }
    }

    #[test]
    fn gop_catch_up_is_paced() {
        // 90 kB at 20 Mbit/s: 36 ms.
        assert_eq!(catchup_pause(90_000, 20.0), Duration::from_millis(36));
        // The floor, or 1.5 times a faster stream.
        assert_eq!(catchup_mbps(20, 4.0), 20.0);
        assert_eq!(catchup_mbps(20, 40.0), 60.0);
        assert!(catchup_pause(1, 0.0) <= Duration::from_micros(8));
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_waits_for_the_rest_of_its_frame() {
        let (_hub, _claim, stream) = stream();
        let mut p = player(&stream);
        stream.publish(0, packet(1, false));
        stream.publish(0, packet(2, false));
        let rest = stream.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            rest.publish(0, packet(3, true));
            rest.publish(0, packet(4, false));
        });
        let mut batch = Vec::new();
        assert!(p.fill(&mut batch).await);
        // The whole frame in one batch; the next frame's first packet may come along.
        assert!(batch.len() >= 3, "{} packets", batch.len());
        assert_eq!(batch[2].data[1] & 0x80, 0x80);
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_without_marker_bit_waits_no_longer_than_frame_wait() {
        let (_hub, _claim, stream) = stream();
        let mut p = player(&stream);
        stream.publish(0, packet(1, false));
        let started = tokio::time::Instant::now();
        let mut batch = Vec::new();
        assert!(p.fill(&mut batch).await);
        assert_eq!(batch.len(), 1);
        assert_eq!(started.elapsed(), FRAME_WAIT);
    }
}
