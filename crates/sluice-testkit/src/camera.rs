//! Cameras for client tests: a scripted fake camera on loopback, and GStreamer's rtsp-server.
//!
//! [`FakeCamera`] accepts one TCP connection per [`Script`] and plays its [`Step`]s in order: wait for
//! a request and check it ([`Expect`]), answer with raw bytes (usually a transcript from
//! `shared/corpus/transcripts`, its `CSeq` rewritten to the request's), stream RTP over the connection
//! or over UDP to the ports the client's `SETUP` named, send RTCP or arbitrary bytes, go silent,
//! close. Everything the client sent is logged ([`CameraLog`]) for the test to inspect.
//!
//! While a step streams or sleeps, requests from the client are still read: keepalives (`OPTIONS`,
//! `GET_PARAMETER`, `SET_PARAMETER`) get a 200 at once unless [`Script::manual_keepalive`] is set,
//! and other requests wait for the next `Expect`. After the last step the camera answers every
//! request with 200 until the client closes, so a `TEARDOWN` needs no step of its own.
//!
//! ```no_run
//! use sluice_testkit::camera::{Expect, FakeCamera, Reply, Script, Step};
//!
//! # fn main() -> anyhow::Result<()> {
//! let camera = FakeCamera::start(vec![Script::new(vec![
//!     Expect::new("OPTIONS").reply(Reply::status(200)).into(),
//!     Expect::new("DESCRIBE").reply(Reply::transcript("vstarcam-describe.txt")).into(),
//!     Expect::new("SETUP").reply(Reply::status(200).session("1234")).into(),
//!     Expect::new("PLAY").check_session().reply(Reply::status(200)).into(),
//!     Step::rtp(0, 25),
//! ])])?;
//! // ... run the client against camera.url("stream") ...
//! let log = camera.finish()?;
//! assert_eq!(log.methods(), ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"]);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::BytesMut;
use sluice_rtsp::codec::{Decoder, InterleavedFrame, Message};
use sluice_rtsp::header::{SessionHeader, Transport};
use sluice_rtsp::message::Request;

use crate::peer::Peer;

/// How long the camera waits for a connection or a request before it gives up on the script.
const WAIT: Duration = Duration::from_secs(20);

/// Granularity of the camera's polling reads.
const POLL: Duration = Duration::from_millis(5);

/// The corpus transcript `name` (`shared/corpus/transcripts/<name>`).
pub fn transcript(name: &str) -> Result<Vec<u8>> {
    let path = corpus_dir().join("transcripts").join(name);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

/// `shared/corpus`.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ))
}

/// What the camera does on one connection.
#[derive(Clone, Debug, Default)]
pub struct Script {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Keepalive requests wait for an `Expect` instead of being answered at once.
    pub manual_keepalive: bool,
}

impl Script {
    /// A script with automatic keepalive answers.
    pub fn new(steps: Vec<Step>) -> Script {
        Script {
            steps,
            manual_keepalive: false,
        }
    }

    /// Keepalives wait for an [`Expect`] step.
    pub fn manual_keepalive(mut self) -> Script {
        self.manual_keepalive = true;
        self
    }
}

/// One step of a [`Script`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Step {
    /// Wait for a request, check it, answer it.
    Expect(Expect),
    /// Write these bytes (a request to the client, junk, a hand-made frame).
    Send(Vec<u8>),
    /// Wait for the client's answer to a request the camera sent and check its status.
    ExpectResponse {
        /// The status the client must answer with.
        status: u16,
    },
    /// Send RTP packets to a track.
    Rtp(RtpStream),
    /// Send an RTCP packet to a track, on its RTCP channel/port or (`on_rtp_channel`) its RTP one.
    Rtcp {
        /// The track, in `SETUP` order.
        track: usize,
        /// The compound packet.
        packet: Vec<u8>,
        /// Send on the RTP channel instead (CAMERA-QUIRKS #7).
        on_rtp_channel: bool,
    },
    /// Keep reading (and answering keepalives) for this long, sending nothing.
    Sleep(Duration),
    /// Close the connection.
    Close,
}

impl Step {
    /// `count` RTP packets to `track` at 10 ms intervals.
    pub fn rtp(track: usize, count: u32) -> Step {
        Step::Rtp(RtpStream::new(track, count))
    }

    /// Keeps reading for `ms` milliseconds.
    pub fn sleep_ms(ms: u64) -> Step {
        Step::Sleep(Duration::from_millis(ms))
    }

    /// Writes `text` as it is.
    pub fn send(text: &str) -> Step {
        Step::Send(text.as_bytes().to_vec())
    }

    /// An RTCP BYE for `ssrc` on `track`.
    pub fn bye(track: usize, ssrc: u32) -> Step {
        let mut out = BytesMut::new();
        sluice_rtsp::rtcp::write_bye(&[ssrc], Some("done"), &mut out);
        Step::Rtcp {
            track,
            packet: out.to_vec(),
            on_rtp_channel: false,
        }
    }

    /// An RTCP sender report from `ssrc` on `track`.
    pub fn sender_report(track: usize, ssrc: u32, on_rtp_channel: bool) -> Step {
        let mut out = BytesMut::new();
        sluice_rtsp::rtcp::SenderReport {
            ssrc,
            ntp: sluice_rtsp::rtcp::NtpTimestamp(0xe5a0_0000_8000_0000),
            rtp_timestamp: 90_000,
            packet_count: 1,
            octet_count: 100,
            reports: Vec::new(),
        }
        .write(&mut out);
        Step::Rtcp {
            track,
            packet: out.to_vec(),
            on_rtp_channel,
        }
    }
}

impl From<Expect> for Step {
    fn from(expect: Expect) -> Step {
        Step::Expect(expect)
    }
}

/// RTP packets to send to one track.
#[derive(Clone, Debug)]
pub struct RtpStream {
    /// The track, in `SETUP` order.
    pub track: usize,
    /// How many packets.
    pub count: u32,
    /// Time between packets.
    pub interval: Duration,
    /// The first sequence number.
    pub first_seq: u16,
    /// The SSRC.
    pub ssrc: u32,
    /// The payload type.
    pub payload_type: u8,
    /// Payload bytes per packet.
    pub payload_len: usize,
    /// Send on this interleaved channel instead of the track's.
    pub channel: Option<u8>,
    /// Over UDP, send from a port other than the announced `server_port` (CAMERA-QUIRKS #15).
    pub from_other_port: bool,
}

impl RtpStream {
    /// Defaults: 10 ms apart, sequence numbers from 1000, SSRC `0x5eed0000 + track`, PT 96, 100 bytes.
    pub fn new(track: usize, count: u32) -> RtpStream {
        RtpStream {
            track,
            count,
            interval: Duration::from_millis(10),
            first_seq: 1000,
            ssrc: 0x5eed_0000 + track as u32,
            payload_type: 96,
            payload_len: 100,
            channel: None,
            from_other_port: false,
        }
    }
}

/// A request to wait for, what to check on it and how to answer.
#[derive(Clone, Debug)]
pub struct Expect {
    /// The method, e.g. `SETUP`.
    pub method: String,
    /// Checks on the request; a failed check is recorded and the camera answers anyway.
    pub checks: Vec<Check>,
    /// The answer.
    pub reply: Reply,
}

impl Expect {
    /// Expects `method`, answers 200.
    pub fn new(method: &str) -> Expect {
        Expect {
            method: method.to_owned(),
            checks: Vec::new(),
            reply: Reply::status(200),
        }
    }

    /// Sets the answer.
    pub fn reply(mut self, reply: Reply) -> Expect {
        self.reply = reply;
        self
    }

    /// Adds a check.
    pub fn check(mut self, check: Check) -> Expect {
        self.checks.push(check);
        self
    }

    /// Checks that the request carries the session id the camera gave in its last `SETUP` answer.
    pub fn check_session(self) -> Expect {
        self.check(Check::Session)
    }
}

/// A check on a request.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Check {
    /// The header is present.
    Has(&'static str),
    /// The header is absent.
    Lacks(&'static str),
    /// The header's value contains the text.
    Contains(&'static str, String),
    /// The header's value does not contain the text.
    NotContains(&'static str, String),
    /// The Request-URI equals the text.
    Uri(String),
    /// The `Session` header's id is the camera's session id.
    Session,
}

/// An answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The bytes (one or more messages); empty to send nothing.
    pub bytes: Vec<u8>,
    /// Replace the value of the first `CSeq` header (any spelling) with the request's.
    pub rewrite_cseq: bool,
    /// Replace `server_port=` with the camera's UDP ports.
    pub rewrite_server_port: bool,
    /// Close the connection after answering.
    pub close: bool,
    /// RTP packets sent to track 0 just before the answer (sequence numbers from 1000), as
    /// Reolink and v4l2rtspserver do before the `PLAY` answer (CAMERA-QUIRKS #5).
    pub rtp_before: u32,
    /// An RTCP sender report sent to track 0 just before the answer.
    pub sr_before: bool,
}

impl Reply {
    /// Raw bytes, CSeq rewritten.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            bytes: bytes.into(),
            rewrite_cseq: true,
            rewrite_server_port: true,
            close: false,
            rtp_before: 0,
            sr_before: false,
        }
    }

    /// A corpus transcript, CSeq rewritten. Panics if the file is missing (a broken test).
    pub fn transcript(name: &str) -> Reply {
        match transcript(name) {
            Ok(bytes) => Reply::raw(bytes),
            Err(e) => panic!("{e:#}"),
        }
    }

    /// `RTSP/1.0 <status> <reason>` with a CSeq header.
    pub fn status(status: u16) -> Reply {
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            404 => "Not Found",
            461 => "Unsupported Transport",
            _ => "Status",
        };
        Reply::raw(format!("RTSP/1.0 {status} {reason}\r\nCSeq: 0\r\n\r\n"))
    }

    /// Adds a header before the blank line of the (first) message.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        if let Some(end) = find(&self.bytes, b"\r\n\r\n") {
            let line = format!("\r\n{name}: {value}");
            self.bytes.splice(end..end, line.into_bytes());
        }
        self
    }

    /// Adds `Session: <id>`.
    pub fn session(self, id: &str) -> Reply {
        self.header("Session", id)
    }

    /// Adds a body with `Content-Length` (and `Content-Type: application/sdp`).
    pub fn body(self, body: &[u8]) -> Reply {
        let mut reply = self
            .header("Content-Type", "application/sdp")
            .header("Content-Length", &body.len().to_string());
        reply.bytes.extend_from_slice(body);
        reply
    }

    /// Keeps the CSeq as written (for broken-CSeq cameras).
    pub fn keep_cseq(mut self) -> Reply {
        self.rewrite_cseq = false;
        self
    }

    /// Keeps `server_port=` as written.
    pub fn keep_ports(mut self) -> Reply {
        self.rewrite_server_port = false;
        self
    }

    /// Closes the connection after answering.
    pub fn then_close(mut self) -> Reply {
        self.close = true;
        self
    }

    /// Sends nothing.
    pub fn none() -> Reply {
        Reply {
            bytes: Vec::new(),
            rewrite_cseq: false,
            rewrite_server_port: false,
            close: false,
            rtp_before: 0,
            sr_before: false,
        }
    }

    /// Sends `count` RTP packets (and, with `sender_report`, an RTCP SR) to track 0 first.
    pub fn data_before(mut self, count: u32, sender_report: bool) -> Reply {
        self.rtp_before = count;
        self.sr_before = sender_report;
        self
    }
}

/// A request the camera received.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    /// Which connection (0-based).
    pub connection: usize,
    /// The method.
    pub method: String,
    /// The Request-URI.
    pub uri: String,
    /// The header fields as sent.
    pub headers: Vec<(String, String)>,
    /// When, since the camera started.
    pub at: Duration,
}

impl LoggedRequest {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Everything the client sent.
#[derive(Clone, Debug, Default)]
pub struct CameraLog {
    /// Requests in order.
    pub requests: Vec<LoggedRequest>,
    /// Interleaved frames from the client: (connection, channel, payload).
    pub frames: Vec<(usize, u8, Vec<u8>)>,
    /// UDP datagrams received on the camera's RTCP port (receiver reports): (connection, payload).
    pub udp_rtcp: Vec<(usize, Vec<u8>)>,
    /// Statuses of the client's answers to requests the camera sent.
    pub responses: Vec<u16>,
    /// Connections accepted.
    pub connections: usize,
    /// Failed checks and script problems.
    pub failures: Vec<String>,
}

impl CameraLog {
    /// The methods of all requests, in order.
    pub fn methods(&self) -> Vec<&str> {
        self.requests.iter().map(|r| r.method.as_str()).collect()
    }

    /// The requests with this method.
    pub fn requests_of(&self, method: &str) -> Vec<&LoggedRequest> {
        self.requests
            .iter()
            .filter(|r| r.method == method)
            .collect()
    }

    /// RTCP packet types the client sent (interleaved or UDP), flattened.
    pub fn rtcp_packet_types(&self) -> Vec<u8> {
        self.frames
            .iter()
            .map(|(_, _, p)| p)
            .chain(self.udp_rtcp.iter().map(|(_, p)| p))
            .flat_map(|p| crate::rtp::rtcp_packet_types(p))
            .collect()
    }
}

/// A scripted RTSP camera on 127.0.0.1; see the module docs.
pub struct FakeCamera {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<CameraLog>>,
}

impl FakeCamera {
    /// Listens on a free loopback port and plays `scripts`, one per accepted connection.
    pub fn start(scripts: Vec<Script>) -> Result<FakeCamera> {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding the fake camera")?;
        listener
            .set_nonblocking(true)
            .context("non-blocking listener")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("fake-camera".to_owned())
            .spawn(move || run(listener, scripts, &stop2))
            .context("spawning the fake camera")?;
        Ok(FakeCamera {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// `rtsp://127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the camera (after it finished the current connection or within a few seconds) and
    /// returns the log; fails if a check failed.
    pub fn finish(mut self) -> Result<CameraLog> {
        let log = self.stop_and_join()?;
        if !log.failures.is_empty() {
            let mut text = String::new();
            for f in &log.failures {
                let _ = writeln!(text, "  {f}");
            }
            let _ = writeln!(text, "requests: {:?}", log.methods());
            bail!("fake camera checks failed:\n{text}");
        }
        Ok(log)
    }

    /// Like [`finish`](Self::finish) but returns the log even when checks failed.
    pub fn log(mut self) -> Result<CameraLog> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<CameraLog> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self
            .thread
            .take()
            .ok_or_else(|| anyhow!("fake camera already finished"))?;
        thread
            .join()
            .map_err(|_| anyhow!("the fake camera thread panicked"))
    }
}

impl Drop for FakeCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(listener: TcpListener, scripts: Vec<Script>, stop: &AtomicBool) -> CameraLog {
    let started = Instant::now();
    let mut log = CameraLog::default();
    for (index, script) in scripts.into_iter().enumerate() {
        let deadline = Instant::now() + WAIT;
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break Some(stream),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
                        break None;
                    }
                    std::thread::sleep(POLL);
                }
                Err(e) => {
                    log.failures.push(format!("accept: {e}"));
                    break None;
                }
            }
        };
        let Some(stream) = stream else {
            if !stop.load(Ordering::Relaxed) {
                log.failures.push(format!(
                    "connection {index} never came ({} scripts)",
                    index + 1
                ));
            }
            return log;
        };
        log.connections += 1;
        match Connection::new(stream, index, started, script.manual_keepalive) {
            Ok(mut conn) => {
                conn.play(script.steps, &mut log, stop);
            }
            Err(e) => log.failures.push(format!("connection {index}: {e:#}")),
        }
    }
    log
}

/// What the camera knows about a track from its `SETUP`.
#[derive(Clone, Debug, Default)]
struct Track {
    channels: Option<(u8, u8)>,
    client_ports: Option<(u16, u16)>,
}

struct Connection {
    stream: TcpStream,
    index: usize,
    started: Instant,
    manual_keepalive: bool,
    decoder: Decoder,
    buf: BytesMut,
    pending: VecDeque<Request>,
    responses: VecDeque<u16>,
    tracks: Vec<Track>,
    session: Option<String>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    other: UdpSocket,
    eof: bool,
}

impl Connection {
    fn new(
        stream: TcpStream,
        index: usize,
        started: Instant,
        manual_keepalive: bool,
    ) -> Result<Self> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(POLL))?;
        let (rtp, rtcp) = udp_pair()?;
        let other = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        rtcp.set_nonblocking(true)?;
        Ok(Connection {
            stream,
            index,
            started,
            manual_keepalive,
            decoder: Decoder::default(),
            buf: BytesMut::new(),
            pending: VecDeque::new(),
            responses: VecDeque::new(),
            tracks: Vec::new(),
            session: None,
            rtp,
            rtcp,
            other,
            eof: false,
        })
    }

    fn play(&mut self, steps: Vec<Step>, log: &mut CameraLog, stop: &AtomicBool) {
        for (n, step) in steps.into_iter().enumerate() {
            if let Err(e) = self.step(step, log, stop) {
                log.failures
                    .push(format!("connection {} step {n}: {e:#}", self.index));
                return;
            }
            if self.eof {
                // The client left; later steps cannot run.
                return;
            }
        }
        // Serve until the client closes: answer whatever comes with 200.
        let deadline = Instant::now() + WAIT;
        while !self.eof && Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            if self.pump(log).is_err() {
                return;
            }
            while let Some(request) = self.pending.pop_front() {
                let reply = Reply::status(200);
                if self.answer(&request, &reply, log).is_err() {
                    return;
                }
            }
        }
    }

    fn step(&mut self, step: Step, log: &mut CameraLog, stop: &AtomicBool) -> Result<()> {
        match step {
            Step::Expect(expect) => {
                let request = self.next_request(log, stop)?;
                if request.method.as_str() != expect.method {
                    log.failures.push(format!(
                        "connection {}: expected {}, got {} {}",
                        self.index, expect.method, request.method, request.uri
                    ));
                }
                for check in &expect.checks {
                    if let Err(problem) = self.check(&request, check) {
                        log.failures.push(format!(
                            "connection {}: {} {}: {problem}",
                            self.index, request.method, request.uri
                        ));
                    }
                }
                self.answer(&request, &expect.reply, log)?;
                if expect.reply.close {
                    self.close();
                }
            }
            Step::Send(bytes) => self.write(&bytes)?,
            Step::ExpectResponse { status } => {
                let deadline = Instant::now() + WAIT;
                let got = loop {
                    if let Some(got) = self.responses.pop_front() {
                        break got;
                    }
                    if self.eof || Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                        bail!("no response from the client (expected {status})");
                    }
                    self.pump(log)?;
                };
                if got != status {
                    log.failures.push(format!(
                        "connection {}: client answered {got}, expected {status}",
                        self.index
                    ));
                }
            }
            Step::Rtp(stream) => self.stream_rtp(&stream, log, stop)?,
            Step::Rtcp {
                track,
                packet,
                on_rtp_channel,
            } => self.send_to_track(track, &packet, !on_rtp_channel, false)?,
            Step::Sleep(duration) => {
                let until = Instant::now() + duration;
                while Instant::now() < until && !self.eof && !stop.load(Ordering::Relaxed) {
                    self.pump(log)?;
                }
            }
            Step::Close => self.close(),
        }
        Ok(())
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        self.eof = true;
    }

    fn stream_rtp(
        &mut self,
        stream: &RtpStream,
        log: &mut CameraLog,
        stop: &AtomicBool,
    ) -> Result<()> {
        let mut next = Instant::now();
        for i in 0..stream.count {
            if stop.load(Ordering::Relaxed) || self.eof {
                return Ok(());
            }
            let header = sluice_rtsp::rtp::RtpHeader {
                marker: i % 5 == 4,
                payload_type: stream.payload_type,
                sequence_number: stream.first_seq.wrapping_add(i as u16),
                timestamp: 90_000u32.wrapping_add(i * 3600),
                ssrc: stream.ssrc,
            };
            let mut packet = BytesMut::new();
            header.write(&mut packet);
            packet.extend(std::iter::repeat_n((i % 251) as u8, stream.payload_len));
            match stream.channel {
                Some(channel) => self.write_frame(channel, &packet)?,
                None => self.send_to_track(stream.track, &packet, false, stream.from_other_port)?,
            }
            next += stream.interval;
            while Instant::now() < next {
                self.pump(log)?;
            }
        }
        Ok(())
    }

    /// Sends to a track's RTP (or RTCP) channel or UDP port.
    fn send_to_track(
        &mut self,
        track: usize,
        packet: &[u8],
        rtcp: bool,
        other_port: bool,
    ) -> Result<()> {
        let info = self
            .tracks
            .get(track)
            .cloned()
            .ok_or_else(|| anyhow!("no SETUP for track {track}"))?;
        if let Some((rtp_channel, rtcp_channel)) = info.channels {
            return self.write_frame(if rtcp { rtcp_channel } else { rtp_channel }, packet);
        }
        let (rtp_port, rtcp_port) = info
            .client_ports
            .ok_or_else(|| anyhow!("track {track} has neither channels nor client ports"))?;
        let dest = SocketAddr::from((Ipv4Addr::LOCALHOST, if rtcp { rtcp_port } else { rtp_port }));
        let socket = match (rtcp, other_port) {
            (true, _) => &self.rtcp,
            (false, true) => &self.other,
            (false, false) => &self.rtp,
        };
        socket.send_to(packet, dest).context("sending UDP")?;
        Ok(())
    }

    fn write_frame(&mut self, channel: u8, payload: &[u8]) -> Result<()> {
        let len = u16::try_from(payload.len()).context("frame too long")?;
        let mut out = InterleavedFrame::header(channel, len).to_vec();
        out.extend_from_slice(payload);
        self.write(&out)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        if self.eof {
            return Ok(());
        }
        if let Err(e) = self.stream.write_all(bytes) {
            // The client went away; the test decides whether that is a failure.
            self.eof = true;
            if e.kind() != ErrorKind::BrokenPipe && e.kind() != ErrorKind::ConnectionReset {
                return Err(e).context("writing to the client");
            }
        }
        Ok(())
    }

    /// The next request that is not answered automatically.
    fn next_request(&mut self, log: &mut CameraLog, stop: &AtomicBool) -> Result<Request> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(request) = self.pending.pop_front() {
                return Ok(request);
            }
            if self.eof {
                bail!("the client closed the connection");
            }
            if Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                bail!("no request within {WAIT:?}");
            }
            self.pump(log)?;
        }
    }

    /// Reads what is available (waiting at most one poll interval) and handles it.
    fn pump(&mut self, log: &mut CameraLog) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        if !self.eof {
            match self.stream.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => self.eof = true,
                Err(e) => return Err(e).context("reading from the client"),
            }
        }
        let mut datagram = [0u8; 2048];
        while let Ok((n, _)) = self.rtcp.recv_from(&mut datagram) {
            log.udp_rtcp
                .push((self.index, datagram.get(..n).unwrap_or_default().to_vec()));
        }
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(Message::Request(request))) => {
                    log.requests.push(LoggedRequest {
                        connection: self.index,
                        method: request.method.as_str().to_owned(),
                        uri: request.uri.clone(),
                        headers: request
                            .headers
                            .iter()
                            .map(|(n, v)| (n.to_owned(), v.to_owned()))
                            .collect(),
                        at: self.started.elapsed(),
                    });
                    let keepalive = matches!(
                        request.method.as_str(),
                        "OPTIONS" | "GET_PARAMETER" | "SET_PARAMETER"
                    );
                    if keepalive && !self.manual_keepalive && self.tracks_playing() {
                        self.answer(&request, &Reply::status(200), log)?;
                    } else {
                        self.pending.push_back(request);
                    }
                }
                Ok(Some(Message::Response(response))) => {
                    log.responses.push(response.status.0);
                    self.responses.push_back(response.status.0);
                }
                Ok(Some(Message::Data(frame))) => {
                    log.frames
                        .push((self.index, frame.channel, frame.payload.to_vec()));
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if e.is_fatal() => bail!("client sent undecodable bytes: {e}"),
                Err(e) => log
                    .failures
                    .push(format!("client sent a malformed message: {e}")),
            }
        }
        Ok(())
    }

    /// Keepalives are answered automatically only once a session exists (after `SETUP`).
    fn tracks_playing(&self) -> bool {
        !self.tracks.is_empty()
    }

    fn check(&self, request: &Request, check: &Check) -> std::result::Result<(), String> {
        let header = |name: &str| request.headers.get(name);
        match check {
            Check::Has(name) => header(name).map(|_| ()).ok_or(format!("no {name} header")),
            Check::Lacks(name) => match header(name) {
                None => Ok(()),
                Some(v) => Err(format!("unexpected {name}: {v}")),
            },
            Check::Contains(name, text) => match header(name) {
                Some(v) if v.contains(text.as_str()) => Ok(()),
                other => Err(format!("{name} is {other:?}, expected to contain {text:?}")),
            },
            Check::NotContains(name, text) => match header(name) {
                Some(v) if v.contains(text.as_str()) => {
                    Err(format!("{name} {v:?} contains {text:?}"))
                }
                _ => Ok(()),
            },
            Check::Uri(uri) => {
                if &request.uri == uri {
                    Ok(())
                } else {
                    Err(format!("Request-URI {:?}, expected {uri:?}", request.uri))
                }
            }
            Check::Session => {
                let got = header("Session").and_then(|v| SessionHeader::parse(v).ok());
                match (&self.session, got) {
                    (Some(id), Some(got)) if &got.id == id => Ok(()),
                    (expected, got) => Err(format!(
                        "Session {:?}, expected {expected:?}",
                        got.map(|g| g.id)
                    )),
                }
            }
        }
    }

    /// Answers `request` with `reply`, after rewriting, and records what a SETUP set up.
    fn answer(&mut self, request: &Request, reply: &Reply, log: &mut CameraLog) -> Result<()> {
        if reply.sr_before {
            if let Step::Rtcp { packet, .. } = Step::sender_report(0, 0x5eed_0000, false) {
                self.send_to_track(0, &packet, true, false)?;
            }
        }
        if reply.rtp_before > 0 {
            let mut burst = RtpStream::new(0, reply.rtp_before);
            burst.interval = Duration::ZERO;
            let never = AtomicBool::new(false);
            self.stream_rtp(&burst, log, &never)?;
        }
        let mut bytes = reply.bytes.clone();
        if reply.rewrite_cseq {
            if let Some(cseq) = request.headers.get("CSeq") {
                bytes = rewrite_header_value(&bytes, "cseq", cseq.trim());
            }
        }
        if reply.rewrite_server_port {
            let ports = (port(&self.rtp), port(&self.rtcp));
            bytes = rewrite_server_port(&bytes, ports);
        }
        let head = head_of(&bytes);
        if request.method.as_str() == "SETUP" {
            if let Some(session) = header_value(head, "session") {
                if let Ok(parsed) = SessionHeader::parse(session) {
                    if self.session.is_none() {
                        self.session = Some(parsed.id);
                    }
                }
            }
        }
        if request.method.as_str() == "SETUP"
            && status_of(head).is_some_and(|s| (200..300).contains(&s))
        {
            let asked = request
                .headers
                .get("Transport")
                .and_then(|t| Transport::parse(t).ok())
                .and_then(|t| t.0.into_iter().next());
            let answered = header_value(head, "transport")
                .and_then(|t| Transport::parse(t).ok())
                .and_then(|t| t.0.into_iter().next());
            let channels = answered
                .as_ref()
                .and_then(|a| a.interleaved)
                .or_else(|| asked.as_ref().and_then(|a| a.interleaved));
            let client_ports = asked.as_ref().and_then(|a| a.client_port);
            self.tracks.push(Track {
                channels: channels.filter(|_| {
                    answered.as_ref().is_none_or(|a| a.interleaved.is_some())
                        || asked.as_ref().is_some_and(|a| a.interleaved.is_some())
                }),
                client_ports,
            });
        }
        self.write(&bytes)
    }
}

fn port(socket: &UdpSocket) -> u16 {
    socket.local_addr().map_or(0, |a| a.port())
}

fn udp_pair() -> Result<(UdpSocket, UdpSocket)> {
    for _ in 0..64 {
        let rtp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let p = port(&rtp);
        if p % 2 != 0 {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((Ipv4Addr::LOCALHOST, p + 1)) {
            return Ok((rtp, rtcp));
        }
    }
    bail!("no UDP port pair for the fake camera")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The header block of the first message (up to the first blank line, LF or CRLF).
fn head_of(bytes: &[u8]) -> &str {
    let end = find(bytes, b"\r\n\r\n")
        .into_iter()
        .chain(find(bytes, b"\n\n"))
        .min()
        .unwrap_or(bytes.len());
    std::str::from_utf8(bytes.get(..end).unwrap_or_default()).unwrap_or_default()
}

fn status_of(head: &str) -> Option<u16> {
    head.lines().next()?.split_whitespace().nth(1)?.parse().ok()
}

fn header_value<'a>(head: &'a str, lower_name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim().eq_ignore_ascii_case(lower_name)).then(|| value.trim())
    })
}

/// Replaces the value of the first `name` header in the first header block, keeping the name's
/// spelling and any whitespace around the value (Longse's `CSeq: 1 `).
pub fn rewrite_header_value(bytes: &[u8], name: &str, value: &str) -> Vec<u8> {
    let head_len = head_of(bytes).len();
    let mut offset = 0;
    for line in bytes
        .get(..head_len)
        .unwrap_or_default()
        .split_inclusive(|&b| b == b'\n')
    {
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let field = String::from_utf8_lossy(line.get(..colon).unwrap_or_default());
            if field.trim().eq_ignore_ascii_case(name) {
                let rest = line.get(colon + 1..).unwrap_or_default();
                let start = rest
                    .iter()
                    .position(|b| !b" \t".contains(b))
                    .unwrap_or(rest.len());
                let end = rest
                    .iter()
                    .rposition(|b| !b" \t\r\n".contains(b))
                    .map_or(start, |e| e + 1);
                let from = offset + colon + 1 + start;
                let to = offset + colon + 1 + end.max(start);
                let mut out = bytes.get(..from).unwrap_or_default().to_vec();
                out.extend_from_slice(value.as_bytes());
                out.extend_from_slice(bytes.get(to..).unwrap_or_default());
                return out;
            }
        }
        offset += line.len();
    }
    bytes.to_vec()
}

/// Replaces `server_port=a[-b]` in the first header block with the given pair.
fn rewrite_server_port(bytes: &[u8], (rtp, rtcp): (u16, u16)) -> Vec<u8> {
    let head_len = head_of(bytes).len();
    let head = bytes.get(..head_len).unwrap_or_default();
    let Some(at) = find(head, b"server_port=") else {
        return bytes.to_vec();
    };
    let start = at + b"server_port=".len();
    let end = head
        .get(start..)
        .and_then(|rest| {
            rest.iter()
                .position(|b| !(b.is_ascii_digit() || *b == b'-'))
        })
        .map_or(head_len, |p| start + p);
    let mut out = bytes.get(..start).unwrap_or_default().to_vec();
    out.extend_from_slice(format!("{rtp}-{rtcp}").as_bytes());
    out.extend_from_slice(bytes.get(end..).unwrap_or_default());
    out
}

/// Builds a request the camera sends to the client (`OPTIONS`, `REDIRECT`, `TEARDOWN`, …).
pub fn server_request(method: &str, uri: &str, cseq: u32, headers: &[(&str, &str)]) -> Step {
    let mut text = format!("{method} {uri} RTSP/1.0\r\nCSeq: {cseq}\r\n");
    for (name, value) in headers {
        let _ = write!(text, "{name}: {value}\r\n");
    }
    text.push_str("\r\n");
    Step::Send(text.into_bytes())
}

/// Authentication of a [`GstCamera`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GstAuth {
    /// No authentication.
    None,
    /// Basic.
    Basic,
    /// Digest (MD5).
    Digest,
}

/// GStreamer's rtsp-server playing an H.264 camera (`scripts/gst_camera.py`), killed on drop.
pub struct GstCamera {
    peer: Peer,
    port: u16,
    path: String,
}

impl GstCamera {
    /// The user name the camera accepts.
    pub const USER: &'static str = "admin";
    /// The password the camera accepts.
    pub const PASSWORD: &'static str = "se:cr@t";

    /// Starts the camera on a free port and waits until it listens.
    pub fn start(auth: GstAuth) -> Result<GstCamera> {
        let port = crate::net::free_tcp_port()?;
        let path = "/cam".to_owned();
        let script = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/gst_camera.py"
        ));
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&script)
            .args(["--port", &port.to_string(), "--path", &path])
            .args([
                "--auth",
                match auth {
                    GstAuth::None => "none",
                    GstAuth::Basic => "basic",
                    GstAuth::Digest => "digest",
                },
            ])
            .args(["--user", Self::USER, "--password", Self::PASSWORD]);
        let mut peer = Peer::spawn(cmd)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if peer.stdout_lines().iter().any(|l| l.text == "ready") {
                break;
            }
            if peer.try_status()?.is_some() || Instant::now() >= deadline {
                peer.kill();
                bail!(
                    "gst_camera.py did not start (python3-gi and gir1.2-gst-rtsp-server-1.0 \
                     are needed):\n{}",
                    peer.stderr_tail(20)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        crate::net::wait_for_tcp(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Duration::from_secs(5),
        )?;
        Ok(GstCamera { peer, port, path })
    }

    /// `rtsp://127.0.0.1:PORT/cam`, without credentials.
    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}{}", self.port, self.path)
    }

    /// The URL with `user:password@` (percent-encoded).
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!(
            "rtsp://{}:{}@127.0.0.1:{}{}",
            encode_userinfo(user),
            encode_userinfo(password),
            self.port,
            self.path
        )
    }

    /// The URL with the right credentials.
    pub fn authorized_url(&self) -> String {
        self.url_with(Self::USER, Self::PASSWORD)
    }

    /// The last lines the server printed, for failure messages.
    pub fn log_tail(&self) -> String {
        self.peer.stderr_tail(20)
    }
}

fn encode_userinfo(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_keep_spelling_and_padding() {
        let longse = b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1 \r\nServer: x\r\n\r\n";
        let out = rewrite_header_value(longse, "cseq", "7");
        assert_eq!(
            &out[..],
            b"RTSP/1.0 401 Unauthorized\r\nCSeq: 7 \r\nServer: x\r\n\r\n"
        );
        let lf = b"RTSP/1.0 200 OK\nCseq: 3\n\nbody Cseq: 3";
        assert_eq!(
            &rewrite_header_value(lf, "cseq", "12")[..],
            b"RTSP/1.0 200 OK\nCseq: 12\n\nbody Cseq: 3"
        );
        let setup = b"RTSP/1.0 200 OK\r\nTransport: RTP/AVP;server_port=40004-40005;ssrc=0\r\n\r\n";
        assert_eq!(
            &rewrite_server_port(setup, (6000, 6001))[..],
            b"RTSP/1.0 200 OK\r\nTransport: RTP/AVP;server_port=6000-6001;ssrc=0\r\n\r\n"
        );
    }

    #[test]
    fn reply_builders() {
        let reply = Reply::status(200).session("abc").body(b"v=0\r\n");
        let text = String::from_utf8(reply.bytes).unwrap();
        assert!(text.starts_with("RTSP/1.0 200 OK\r\nCSeq: 0\r\nSession: abc\r\n"));
        assert!(text.ends_with("Content-Length: 5\r\n\r\nv=0\r\n"));
        assert_eq!(encode_userinfo("se:cr@t"), "se%3Acr%40t");
    }
}
