//! A small blocking RTSP client over TCP interleaved, for tests that look at every packet.
//!
//! Requests are encoded and responses decoded with `sluice-rtsp`; the SDP is read with a few lines of
//! its own (only `m=` and `a=control:`), so the server's SDP writer is checked by an independent
//! reader.

use std::collections::VecDeque;
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::{Bytes, BytesMut};
use sluice_rtsp::codec::{Decoder, Limits, Message};
use sluice_rtsp::message::{Method, Request, Response};

use crate::rtp::SeqTracker;

/// How long a request waits for its response.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// One interleaved frame received from the server (RFC 2326 §10.12).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The interleaved channel: even for RTP, odd for RTCP with the usual pairing.
    pub channel: u8,
    /// The RTP or RTCP packet.
    pub data: Bytes,
    /// When it was read.
    pub at: Instant,
}

/// The result of waiting for the next packet.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Received {
    /// An interleaved packet.
    Packet(Packet),
    /// The server closed the connection (`reset` when it was a TCP RST rather than a FIN).
    Closed {
        /// True for a reset.
        reset: bool,
    },
    /// Nothing arrived in time.
    TimedOut,
}

/// One media section of a DESCRIBE answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// The media type from the `m=` line (`video`, `audio`, ...).
    pub media: String,
    /// The `a=rtpmap` encoding name, if any (`H264`, `MPEG4-GENERIC`, ...).
    pub encoding: Option<String>,
    /// The absolute control URL (RFC 2326 §C.1.1: resolved against Content-Base).
    pub control: String,
}

/// A DESCRIBE answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    /// The `Content-Base` header (or the request URL with a trailing `/`).
    pub base: String,
    /// The SDP text.
    pub sdp: String,
    /// The media sections in order.
    pub tracks: Vec<Track>,
}

/// A blocking RTSP client on one TCP connection.
#[derive(Debug)]
pub struct RtspClient {
    stream: TcpStream,
    read_buf: BytesMut,
    decoder: Decoder,
    cseq: u32,
    session: Option<String>,
    queued: VecDeque<Packet>,
    closed: Option<bool>,
    last_packet_at: Option<Instant>,
}

impl RtspClient {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Result<RtspClient> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .with_context(|| format!("connecting to {addr}"))?;
        RtspClient::from_stream(stream)
    }

    /// Connects to the host and port of an `rtsp://` URL.
    pub fn connect_url(url: &str) -> Result<RtspClient> {
        RtspClient::connect(url_addr(url)?)
    }

    /// Connects with a small receive buffer (`SO_RCVBUF` set before the handshake, so the TCP
    /// window stays small): a client that then stops reading backs up into the server quickly.
    pub fn connect_with_recv_buffer(addr: SocketAddr, bytes: usize) -> Result<RtspClient> {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .context("creating socket")?;
        socket
            .set_recv_buffer_size(bytes)
            .context("setting SO_RCVBUF")?;
        socket
            .connect_timeout(&addr.into(), Duration::from_secs(5))
            .with_context(|| format!("connecting to {addr}"))?;
        RtspClient::from_stream(socket.into())
    }

    fn from_stream(stream: TcpStream) -> Result<RtspClient> {
        stream.set_nodelay(true).context("setting TCP_NODELAY")?;
        Ok(RtspClient {
            stream,
            read_buf: BytesMut::with_capacity(64 * 1024),
            decoder: Decoder::new(Limits::default()),
            cseq: 0,
            session: None,
            queued: VecDeque::new(),
            closed: None,
            last_packet_at: None,
        })
    }

    /// The session id from the last SETUP (without `;timeout=`).
    pub fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }

    /// Replaces the session id sent with later requests (to test a wrong one).
    pub fn set_session(&mut self, session: Option<String>) {
        self.session = session;
    }

    /// Sends a request with the next CSeq, the session (if any) and `headers`, and waits for its
    /// response. Interleaved packets that arrive meanwhile are kept for [`RtspClient::recv`].
    pub fn request(
        &mut self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        self.cseq += 1;
        let cseq = self.cseq;
        let mut req = Request::new(method, uri);
        req.headers.insert("CSeq", cseq.to_string());
        if let Some(session) = &self.session {
            req.headers.insert("Session", session.clone());
        }
        for (name, value) in headers {
            req.headers.insert(*name, *value);
        }
        // `encode` writes Content-Length to match the body.
        req.body = Bytes::copy_from_slice(body);
        let mut out = BytesMut::new();
        req.encode(&mut out);
        self.send_raw(&out)?;
        let deadline = Instant::now() + RESPONSE_TIMEOUT;
        loop {
            let Some(response) = self.read_response(deadline)? else {
                bail!("connection closed while waiting for the response to {uri} (CSeq {cseq})");
            };
            let got = response.headers.get("CSeq").map(str::trim);
            if got == Some(cseq.to_string().as_str()) {
                return Ok(response);
            }
            if got.is_none() {
                bail!(
                    "response without CSeq to CSeq {cseq}: status {}",
                    response.status.0
                );
            }
            // A late answer to an earlier request: skip it.
        }
    }

    /// Like [`RtspClient::request`], but fails unless the status is 2xx.
    pub fn request_ok(
        &mut self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response> {
        let method_name = method.to_string();
        let response = self.request(method, uri, headers, body)?;
        if !(200..300).contains(&response.status.0) {
            bail!(
                "{method_name} {uri} answered {} (headers {:?})",
                response.status.0,
                response.headers
            );
        }
        Ok(response)
    }

    /// DESCRIBE `url` and read the tracks from the SDP.
    pub fn describe(&mut self, url: &str) -> Result<Description> {
        let response =
            self.request_ok(Method::Describe, url, &[("Accept", "application/sdp")], &[])?;
        let base = response
            .headers
            .get("Content-Base")
            .map(|b| b.trim().to_owned())
            .unwrap_or_else(|| format!("{}/", url.trim_end_matches('/')));
        let sdp = String::from_utf8(response.body.to_vec()).context("SDP is not UTF-8")?;
        let tracks = parse_tracks(&sdp, &base);
        if tracks.is_empty() {
            bail!("SDP from {url} has no media:\n{sdp}");
        }
        Ok(Description { base, sdp, tracks })
    }

    /// SETUP one track over TCP interleaved on channels `channel`/`channel + 1`; remembers the
    /// session.
    pub fn setup_interleaved(&mut self, control: &str, channel: u8) -> Result<Response> {
        let transport = format!(
            "RTP/AVP/TCP;unicast;interleaved={}-{}",
            channel,
            channel.saturating_add(1)
        );
        let response =
            self.request_ok(Method::Setup, control, &[("Transport", &transport)], &[])?;
        let session = response
            .headers
            .get("Session")
            .ok_or_else(|| anyhow!("SETUP {control} answered without a Session header"))?;
        let id = session.split(';').next().unwrap_or_default().trim();
        if id.is_empty() {
            bail!("SETUP {control} answered an empty session: {session:?}");
        }
        self.session = Some(id.to_owned());
        Ok(response)
    }

    /// DESCRIBE, SETUP every track (track `n` on channels `2n`/`2n + 1`) and PLAY.
    pub fn play_all(&mut self, url: &str) -> Result<Description> {
        let description = self.describe(url)?;
        for (n, track) in description.tracks.iter().enumerate() {
            let channel = u8::try_from(2 * n).context("too many tracks")?;
            self.setup_interleaved(&track.control, channel)?;
        }
        self.request_ok(
            Method::Play,
            &description.base,
            &[("Range", "npt=0.000-")],
            &[],
        )?;
        Ok(description)
    }

    /// Connects to `url`'s server and plays every track of `url`.
    pub fn open(url: &str) -> Result<(RtspClient, Description)> {
        let mut client = RtspClient::connect_url(url)?;
        let description = client.play_all(url)?;
        Ok((client, description))
    }

    /// Writes raw bytes to the connection.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .set_write_timeout(Some(RESPONSE_TIMEOUT))
            .context("setting write timeout")?;
        self.stream.write_all(bytes).context("writing to server")
    }

    /// Reads until the next response; `None` when the connection closes first.
    pub fn read_response(&mut self, deadline: Instant) -> Result<Option<Response>> {
        loop {
            match self.next_message(deadline)? {
                Some(Message::Response(response)) => return Ok(Some(response)),
                Some(Message::Data(frame)) => self.queued.push_back(Packet {
                    channel: frame.channel,
                    data: frame.payload,
                    at: Instant::now(),
                }),
                // The server asking something of us (keepalive) or anything newer: not part of
                // these tests.
                Some(_) => {}
                None => {
                    if self.closed.is_some() {
                        return Ok(None);
                    }
                    bail!("no response within {RESPONSE_TIMEOUT:?}");
                }
            }
        }
    }

    /// Waits up to `timeout` for the next interleaved packet.
    pub fn recv(&mut self, timeout: Duration) -> Result<Received> {
        if let Some(packet) = self.queued.pop_front() {
            self.last_packet_at = Some(packet.at);
            return Ok(Received::Packet(packet));
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_message(deadline)? {
                Some(Message::Data(frame)) => {
                    let at = Instant::now();
                    self.last_packet_at = Some(at);
                    return Ok(Received::Packet(Packet {
                        channel: frame.channel,
                        data: frame.payload,
                        at,
                    }));
                }
                Some(_) => {}
                None => {
                    return Ok(match self.closed {
                        Some(reset) => Received::Closed { reset },
                        None => Received::TimedOut,
                    })
                }
            }
        }
    }

    /// Reads until `count` RTP packets (even channels) have arrived; fails if the connection closes
    /// or `timeout` passes first. RTCP (odd channels) is skipped.
    pub fn read_rtp_packets(&mut self, count: u64, timeout: Duration) -> Result<SeqTracker> {
        let mut tracker = SeqTracker::new();
        let deadline = Instant::now() + timeout;
        while tracker.total_packets() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left)? {
                Received::Packet(p) => {
                    if p.channel % 2 == 0 {
                        tracker.record(p.channel, &p.data);
                    }
                }
                other => bail!(
                    "after {} of {count} RTP packets: {other:?} (tracker {tracker:?})",
                    tracker.total_packets()
                ),
            }
        }
        Ok(tracker)
    }

    /// Reads RTP packets for `duration`; fails if the connection closes or nothing arrives for
    /// `max_silence`.
    pub fn read_rtp_for(
        &mut self,
        duration: Duration,
        max_silence: Duration,
    ) -> Result<SeqTracker> {
        let mut tracker = SeqTracker::new();
        let end = Instant::now() + duration;
        loop {
            let now = Instant::now();
            if now >= end {
                return Ok(tracker);
            }
            let wait = max_silence.min(end - now);
            match self.recv(wait)? {
                Received::Packet(p) => {
                    if p.channel % 2 == 0 {
                        tracker.record(p.channel, &p.data);
                    }
                }
                Received::TimedOut if Instant::now() >= end => return Ok(tracker),
                other => bail!(
                    "after {} RTP packets: {other:?} (tracker {tracker:?})",
                    tracker.total_packets()
                ),
            }
        }
    }

    /// The next decoded message, or `None` at the deadline or when the connection has closed.
    fn next_message(&mut self, deadline: Instant) -> Result<Option<Message>> {
        loop {
            if let Some(message) = self
                .decoder
                .decode(&mut self.read_buf)
                .map_err(|e| anyhow!("undecodable data from server: {e}"))?
            {
                return Ok(Some(message));
            }
            if self.closed.is_some() {
                return Ok(None);
            }
            let now = Instant::now();
            let Some(left) = deadline
                .checked_duration_since(now)
                .filter(|d| !d.is_zero())
            else {
                return Ok(None);
            };
            self.stream
                .set_read_timeout(Some(left))
                .context("setting read timeout")?;
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = Some(false),
                Ok(n) => self
                    .read_buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => self.closed = Some(true),
                Err(e) => return Err(e).context("reading from server"),
            }
        }
    }
}

/// The `host:port` of an `rtsp://` URL (port 554 when absent).
pub fn url_addr(url: &str) -> Result<SocketAddr> {
    let rest = url
        .strip_prefix("rtsp://")
        .ok_or_else(|| anyhow!("not an rtsp:// URL: {url}"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let with_port = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:554")
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("resolving {with_port}"))?
        .next()
        .ok_or_else(|| anyhow!("{with_port} resolves to nothing"))
}

/// The media sections of an SDP with their control URLs resolved against `base`.
pub fn parse_tracks(sdp: &str, base: &str) -> Vec<Track> {
    let mut tracks: Vec<Track> = Vec::new();
    for line in sdp.lines().map(str::trim_end) {
        if let Some(m) = line.strip_prefix("m=") {
            tracks.push(Track {
                media: m.split(' ').next().unwrap_or_default().to_owned(),
                encoding: None,
                control: base.to_owned(),
            });
        } else if let (Some(track), Some(rtpmap)) =
            (tracks.last_mut(), line.strip_prefix("a=rtpmap:"))
        {
            track.encoding = rtpmap
                .split_once(' ')
                .and_then(|(_, enc)| enc.split('/').next())
                .map(str::to_owned);
        } else if let (Some(track), Some(control)) =
            (tracks.last_mut(), line.strip_prefix("a=control:"))
        {
            track.control = resolve(base, control);
        }
    }
    tracks
}

/// RFC 2326 §C.1.1: a control attribute is absolute, `*`, or relative to the base.
fn resolve(base: &str, control: &str) -> String {
    if control.contains("://") {
        control.to_owned()
    } else if control == "*" {
        base.to_owned()
    } else if base.ends_with('/') {
        format!("{base}{control}")
    } else {
        format!("{base}/{control}")
    }
}

/// A reader playing a URL on its own thread until stopped, counting packets and gaps.
///
/// Used as a witness: a test does hostile or heavy things elsewhere and then checks this reader saw
/// an unbroken stream throughout.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<SeqTracker>>>,
}

impl Watcher {
    /// Starts playing every track of `url` (fails if DESCRIBE/SETUP/PLAY fail), then reads on a
    /// thread. `max_silence` is the longest pause between packets accepted.
    pub fn start(url: &str, max_silence: Duration) -> Result<Watcher> {
        let (mut client, _) = RtspClient::open(url)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut tracker = SeqTracker::new();
            while !flag.load(Ordering::Relaxed) {
                match client.recv(max_silence.min(Duration::from_millis(500)))? {
                    Received::Packet(p) if p.channel % 2 == 0 => {
                        tracker.record(p.channel, &p.data);
                    }
                    Received::Packet(_) => {}
                    Received::TimedOut => {
                        let last = client.last_packet_at;
                        if last.is_none_or(|t| t.elapsed() > max_silence) {
                            bail!(
                                "no packet for {max_silence:?} after {} RTP packets",
                                tracker.total_packets()
                            );
                        }
                    }
                    other => bail!(
                        "reader stopped after {} RTP packets: {other:?}",
                        tracker.total_packets()
                    ),
                }
            }
            Ok(tracker)
        });
        Ok(Watcher {
            stop,
            thread: Some(thread),
        })
    }

    /// True while the reader is still running (it stops on the first problem).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops reading and returns what was seen, or the first problem.
    pub fn finish(mut self) -> Result<SeqTracker> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => bail!("reader thread panicked"),
            None => bail!("reader already finished"),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// What a raw exchange got back.
#[derive(Clone, Debug, Default)]
pub struct RawReply {
    /// Everything received, lossily decoded.
    pub text: String,
    /// The status codes of the `RTSP/1.0 NNN` lines found, in order.
    pub statuses: Vec<u16>,
    /// True when the server closed (or reset) the connection before the timeout.
    pub closed: bool,
}

impl RawReply {
    /// The value of the first header `name` in the text (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.text.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `bytes` on a fresh connection and collects everything the server sends back until it
/// closes the connection or `timeout` passes (or, with `until_responses`, that many responses came).
///
/// The bytes are written from another thread, so a server that answers and closes early does not
/// block the write; write errors are ignored (the server may legitimately stop reading).
pub fn raw_exchange(
    addr: SocketAddr,
    bytes: Vec<u8>,
    timeout: Duration,
    until_responses: Option<usize>,
) -> Result<RawReply> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    let mut writer = stream.try_clone().context("cloning socket")?;
    writer
        .set_write_timeout(Some(timeout))
        .context("setting write timeout")?;
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&bytes);
    });
    let mut reply = RawReply::default();
    let mut received = Vec::new();
    let deadline = Instant::now() + timeout;
    let mut reader = stream;
    while let Some(left) = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
    {
        reader
            .set_read_timeout(Some(left))
            .context("setting read timeout")?;
        let mut chunk = [0u8; 16 * 1024];
        match reader.read(&mut chunk) {
            Ok(0) => {
                reply.closed = true;
                break;
            }
            Ok(n) => received.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                reply.closed = true;
                break;
            }
        }
        if let Some(want) = until_responses {
            if status_codes(&received).len() >= want {
                break;
            }
        }
    }
    let _ = reader.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    reply.statuses = status_codes(&received);
    reply.text = String::from_utf8_lossy(&received).into_owned();
    Ok(reply)
}

/// The status codes of the `RTSP/1.0 NNN` status lines in `bytes` (responses only, not frames).
pub fn status_codes(bytes: &[u8]) -> Vec<u16> {
    let text = String::from_utf8_lossy(bytes);
    text.split("\r\n")
        .filter_map(|line| {
            let rest = line.strip_prefix("RTSP/1.0 ")?;
            rest.get(..3)?.parse().ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_and_controls() {
        let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\na=control:*\r\n\
                   m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n\
                   m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\n\
                   a=control:rtsp://h/p/trackID=1\r\n";
        let tracks = parse_tracks(sdp, "rtsp://h/p/");
        assert_eq!(tracks.len(), 2);
        assert_eq!(tracks[0].media, "video");
        assert_eq!(tracks[0].encoding.as_deref(), Some("H264"));
        assert_eq!(tracks[0].control, "rtsp://h/p/trackID=0");
        assert_eq!(tracks[1].control, "rtsp://h/p/trackID=1");
        assert_eq!(resolve("rtsp://h/p", "trackID=2"), "rtsp://h/p/trackID=2");
    }

    #[test]
    fn url_addresses() {
        assert_eq!(
            url_addr("rtsp://127.0.0.1:8554/a/b").unwrap(),
            "127.0.0.1:8554".parse().unwrap()
        );
        assert_eq!(
            url_addr("rtsp://u:p@127.0.0.1/x").unwrap(),
            "127.0.0.1:554".parse().unwrap()
        );
        assert!(url_addr("http://127.0.0.1/").is_err());
    }

    #[test]
    fn raw_status_codes() {
        let text = b"RTSP/1.0 400 Bad Request\r\nCSeq: 7\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 8\r\n\r\n";
        assert_eq!(status_codes(text), vec![400, 200]);
        let reply = RawReply {
            text: String::from_utf8_lossy(text).into_owned(),
            ..RawReply::default()
        };
        assert_eq!(reply.header("cseq"), Some("7"));
    }
}
