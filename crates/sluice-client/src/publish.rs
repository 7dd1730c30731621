//! Publishing (RFC 2326 §10.11 `ANNOUNCE`, §10.4 `SETUP` with `mode=record`, §10.11 `RECORD`):
//! [`Publisher`] (announced) and [`Recording`] (sending RTP), the tokio shell around the sans-IO
//! parts the reading client uses too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use sluice_rtsp::codec::{InterleavedFrame, Message};
use sluice_rtsp::header::TransportMode;
use sluice_rtsp::message::{Method, Response};
use sluice_rtsp::rtcp::{self, NtpTimestamp, SenderReport};
use sluice_rtsp::rtp::RtpPacket;
use sluice_rtsp::sdp::{Attribute, SessionDescription};
use sluice_rtsp::url::join_control;
use tokio::net::UdpSocket;

use crate::describe::{is_metadata, track, TrackInfo};
use crate::error::ClientError;
use crate::link::{Link, Route};
use crate::options::{KeepalivePolicy, SessionOptions, TransportPolicy};
use crate::quirk::{self, Quirk, QuirkLog};
use crate::request::AuthDecision;
use crate::response::{classify, match_cseq, status_error, CseqMatch, Verdict};
use crate::schedule::{keepalive_interval, Due, Schedule};
use crate::session::{
    bind_pair, close_quietly, connect, free_pair, keepalive_method, parse_url, port_of,
};
use crate::setup::{adopt_answer, interpret_setup, Delivery, Requested, SessionState, Transport};

/// The content type of the announced description.
const SDP: &str = "application/sdp";

/// Bytes [`Recording::send_all`] queues before it writes them, so that a large frame never sits
/// whole in the output buffer (which counts more than 1 MiB unsent as a server that stopped reading).
const BATCH_BYTES: usize = 256 * 1024;

/// Most packets kept while a UDP socket's send buffer is full; beyond that they are dropped.
const UDP_BACKLOG: usize = 1024;

/// A description announced to a server: the result of `ANNOUNCE`, before any `SETUP`.
///
/// The tracks are the media sections of the SDP, in order; [`Recording::send`] takes their
/// indices. Control URLs resolve against the request URL (RFC 2326 §C.1.1: an `ANNOUNCE` has no
/// `Content-Base`), and a media section without `a=control` is announced with
/// `a=control:trackID=<index>` added, because servers that match `SETUP` URLs to sections (ffmpeg,
/// GStreamer) need one. Redirects are not followed when publishing: a 3xx is an error.
#[derive(Debug)]
pub struct Publisher {
    link: Link,
    announced: Announced,
}

/// What was announced, and where.
#[derive(Debug)]
struct Announced {
    /// The `ANNOUNCE` Request-URI, without userinfo.
    request_url: String,
    /// The URL of `RECORD`, `TEARDOWN` and keepalives.
    aggregate: String,
    sdp: SessionDescription,
    tracks: Vec<TrackInfo>,
    /// The methods the `OPTIONS` answer listed in `Public`.
    public: Vec<String>,
}

impl Publisher {
    /// Connects, sends `OPTIONS` and `ANNOUNCE` with `sdp`, answering 401s with the URL's
    /// credentials (percent-decoded userinfo, never logged) like [`Session::describe`].
    ///
    /// Fails with [`ClientError::NoMedia`] when a media section cannot be sent as RTP (no media,
    /// SRTP, a dynamic payload type without `rtpmap`), and with an [`std::io::ErrorKind::Unsupported`]
    /// I/O error for [`TransportPolicy::Multicast`].
    ///
    /// [`Session::describe`]: crate::Session::describe
    pub async fn announce(
        url: &str,
        sdp: &str,
        options: SessionOptions,
    ) -> Result<Publisher, ClientError> {
        let target = parse_url(url)?;
        let request_url = target.to_request_uri();
        if options.transport == TransportPolicy::Multicast {
            return Err(io_error(
                &request_url,
                std::io::ErrorKind::Unsupported,
                "publishing over multicast is not supported (use TCP or UDP)".to_owned(),
            ));
        }
        let (sdp, body) = name_media(sdp).map_err(|detail| ClientError::NoMedia {
            url: request_url.clone(),
            detail,
        })?;
        let tracks =
            announced_tracks(&request_url, &sdp).map_err(|detail| ClientError::NoMedia {
                url: request_url.clone(),
                detail,
            })?;
        let (mut link, public) = connect(&target, &options, QuirkLog::default()).await?;
        let body = Bytes::from(body);
        let answer = link
            .request_with_body(Method::Announce, &request_url, &[], Some((SDP, &body)))
            .await?;
        match classify("ANNOUNCE", &request_url, &answer) {
            Verdict::Success => {}
            Verdict::Error(e) => return Err(e),
            Verdict::NotSupported => {
                return Err(ClientError::MethodNotSupported {
                    method: "ANNOUNCE".to_owned(),
                    url: request_url,
                    status: Some(answer.status),
                })
            }
            _ => return Err(status_error("ANNOUNCE", &request_url, &answer)),
        }
        let aggregate = join_control(&request_url, sdp.control());
        tracing::debug!(url = %request_url, tracks = tracks.len(), "announced");
        Ok(Publisher {
            link,
            announced: Announced {
                request_url,
                aggregate,
                sdp,
                tracks,
                public,
            },
        })
    }

    /// The announced tracks, with their resolved control URLs.
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.announced.tracks
    }

    /// The description as announced (with the controls that were added).
    pub fn sdp(&self) -> &SessionDescription {
        &self.announced.sdp
    }

    /// The URL announced to, without credentials.
    pub fn url(&self) -> &str {
        &self.announced.request_url
    }

    /// Tolerated server quirks seen so far.
    pub fn quirks(&self) -> &[Quirk] {
        self.link.quirks.as_slice()
    }

    /// Sets every track up with `mode=record` and sends `RECORD`.
    ///
    /// [`TransportPolicy::Udp`] sends RTP and RTCP from a port pair per track to the server's
    /// `server_port`s; [`TransportPolicy::Tcp`] and [`TransportPolicy::Auto`] interleave them in
    /// the RTSP connection. `Auto` means TCP here, unlike when playing: a sender gets no sign that
    /// its UDP packets are lost on the way (NAT, firewalls), so there is nothing to fall back on.
    pub async fn record(self) -> Result<Recording, ClientError> {
        let Publisher {
            mut link,
            announced,
        } = self;
        let udp = link.options.transport == TransportPolicy::Udp;
        let server_ip = link.conn.peer.ip();
        let local_ip = link.conn.local.ip();
        let mut session: Option<SessionState> = None;
        let mut outputs = Vec::with_capacity(announced.tracks.len());
        for track in &announced.tracks {
            let url = track.control.as_str();
            let (requested, sockets) = if udp {
                let (rtp, rtcp) = bind_pair(local_ip)
                    .await
                    .map_err(|source| ClientError::Io {
                        url: url.to_owned(),
                        source,
                    })?;
                let client_ports = (port_of(&rtp), port_of(&rtcp));
                (Requested::Udp { client_ports }, Some((rtp, rtcp)))
            } else {
                let channels = free_pair(&link.used_channels());
                (Requested::Tcp { channels }, None)
            };
            let transport = record_transport(&requested);
            let answer = link
                .request(Method::Setup, url, &[("Transport", transport)])
                .await?;
            expect_success("SETUP", url, &answer)?;
            adopt_answer(&mut link, &mut session, &answer, "SETUP", url)?;
            let used = link.used_channels();
            let setup = interpret_setup(
                &requested,
                &answer,
                server_ip,
                &used,
                &announced.sdp,
                &track.media,
                &mut link.quirks,
            )
            .map_err(|problem| protocol("SETUP", url, format!("{problem:?}")))?;
            let slot = outputs.len();
            let path = match setup.delivery {
                // A server may answer a UDP request with interleaved channels (CAMERA-QUIRKS #14).
                Delivery::Interleaved { rtp, rtcp } => {
                    link.route(rtp, Route { slot, rtcp: false });
                    link.route(rtcp, Route { slot, rtcp: true });
                    Path::Interleaved { rtp, rtcp }
                }
                Delivery::Udp {
                    server_rtp: Some(rtp_port),
                    server_rtcp,
                } => {
                    let Some((rtp, rtcp)) = sockets else {
                        return Err(protocol("SETUP", url, "UDP answer to a TCP request".into()));
                    };
                    Path::Udp {
                        rtp,
                        rtcp,
                        rtp_dest: SocketAddr::new(server_ip, rtp_port),
                        rtcp_dest: server_rtcp.map(|port| SocketAddr::new(server_ip, port)),
                    }
                }
                other => {
                    return Err(protocol(
                        "SETUP",
                        url,
                        format!("cannot send to {other:?} (no usable server_port)"),
                    ))
                }
            };
            outputs.push(Output {
                path,
                stats: SenderStats::new(track.clock_rate),
            });
        }
        let aggregate = announced.aggregate.as_str();
        let answer = link
            .request(
                Method::Record,
                aggregate,
                &[("Range", "npt=0.000-".to_owned())],
            )
            .await?;
        expect_success("RECORD", aggregate, &answer)?;
        adopt_answer(&mut link, &mut session, &answer, "RECORD", aggregate)?;
        tracing::info!(url = %announced.request_url, tracks = outputs.len(), udp, "recording");
        Ok(Recording::new(link, announced, outputs, session))
    }
}

/// A session sending media: call [`send`](Self::send) (or [`send_all`](Self::send_all)) for every
/// RTP packet, then [`teardown`](Self::teardown).
///
/// Nothing runs in the background. Each call also does what keeps the session up: it answers
/// requests from the server (CAMERA-QUIRKS #8), reads and drops the server's interleaved RTCP (over
/// UDP the server's RTCP is not read), sends a keepalive (`GET_PARAMETER` when the server lists it, else `OPTIONS`) at half the session
/// timeout, and an RTCP sender report with an SDES CNAME per track at least every 5 s
/// ([`SessionOptions::rtcp_interval`]). A caller that stops sending lets the session time out.
///
/// Sender reports map each track's newest RTP timestamp to the wall clock at which its first packet
/// was handed over, so they are right when packets are sent at the pace their timestamps advance
/// (RFC 3550 §6.4.1).
///
/// Over TCP, packets are appended to the connection's output buffer (header and packet, no
/// allocation once the buffer has grown) and written per call; [`send_all`](Self::send_all) writes
/// a whole frame's packets with one write. Over UDP each packet is one datagram from the track's
/// RTP port to the server's.
#[derive(Debug)]
pub struct Recording {
    link: Link,
    announced: Announced,
    outputs: Vec<Output>,
    schedule: Schedule,
    keepalive: Keepalive,
    /// Datagrams waiting for a full UDP send buffer: (slot, packet).
    backlog: VecDeque<(usize, Bytes)>,
    cname: String,
    ended: Option<Ended>,
}

/// Per-track state of a recording.
#[derive(Debug)]
struct Output {
    path: Path,
    stats: SenderStats,
}

/// Where a track's packets go.
#[derive(Debug)]
enum Path {
    Interleaved {
        rtp: u8,
        rtcp: u8,
    },
    Udp {
        rtp: UdpSocket,
        rtcp: UdpSocket,
        rtp_dest: SocketAddr,
        /// Where sender reports go, when the server said.
        rtcp_dest: Option<SocketAddr>,
    },
}

/// Why the server no longer takes media.
#[derive(Debug, Clone)]
enum Ended {
    Closed,
    Teardown,
    Redirect(String),
}

impl Recording {
    fn new(
        mut link: Link,
        announced: Announced,
        outputs: Vec<Output>,
        session: Option<SessionState>,
    ) -> Self {
        let now = Instant::now();
        let options = &link.options;
        let method = keepalive_method(options.keepalive, &announced.public);
        let every = keepalive_interval(session.map_or(0, |s| s.timeout_secs));
        // A server that says nothing while it records is normal: `Stalled` is ignored, and a dead
        // server shows as failing or stuck writes instead.
        let schedule = Schedule::new(
            now,
            method.as_ref().map(|_| every),
            options.rtcp_interval,
            options.stall_timeout,
            options.request_timeout,
            None,
        );
        // The server's RTCP (receiver reports) is read and dropped.
        link.discard_data = true;
        Recording {
            link,
            announced,
            outputs,
            schedule,
            keepalive: Keepalive {
                method,
                pending: None,
            },
            backlog: VecDeque::new(),
            cname: format!("sluice-{:08x}", rand::random::<u32>()),
            ended: None,
        }
    }

    /// Sends one RTP packet (header and payload) on `track`, an index into
    /// [`tracks`](Self::tracks).
    ///
    /// Cancel-safe: the packet is queued whole before the first await, so a cancelled call loses
    /// nothing; what is not written yet goes out with the next call (or
    /// [`flush`](Self::flush)). Fails when the server closed the connection or tore the session
    /// down, when writing stalls for [`SessionOptions::request_timeout`], when more than 1 MiB is
    /// waiting to be written, for an unknown track, and for a packet that is not RTP or does not fit
    /// an interleaved frame (64 KiB).
    pub async fn send(&mut self, track: usize, packet: Bytes) -> Result<(), ClientError> {
        self.push(track, packet, Instant::now())?;
        self.flush().await
    }

    /// Sends several RTP packets on `track` (typically one frame), written together.
    ///
    /// Packets are taken from the iterator in order and written every 256 KiB and at the end. When
    /// the call is cancelled, every packet already taken is sent whole (by a later call) and the
    /// rest are not taken.
    pub async fn send_all<I>(&mut self, track: usize, packets: I) -> Result<(), ClientError>
    where
        I: IntoIterator<Item = Bytes>,
    {
        let mut queued = 0;
        for packet in packets {
            queued += packet.len();
            self.push(track, packet, Instant::now())?;
            if queued >= BATCH_BYTES {
                self.flush().await?;
                queued = 0;
            }
        }
        self.flush().await
    }

    /// Writes whatever is queued (media, reports, keepalives, answers to the server). Cancel-safe.
    pub async fn flush(&mut self) -> Result<(), ClientError> {
        let timeout = self.link.options.request_timeout;
        match tokio::time::timeout(timeout, self.drain()).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                what: "writing media".to_owned(),
                url: self.link.url().to_owned(),
                after: timeout,
            }),
        }
    }

    /// Ends the session: writes what is queued, sends a last sender report with an RTCP BYE per
    /// track (RFC 3550 §6.6), then `TEARDOWN` following [`TeardownPolicy`](crate::TeardownPolicy),
    /// and closes the connection. Errors are ignored and recorded (CAMERA-QUIRKS #55); every step
    /// is bounded by [`SessionOptions::request_timeout`].
    pub async fn teardown(mut self) {
        if self.ended.is_none() {
            let _ = self.flush().await;
            self.queue_reports(Instant::now(), SystemTime::now(), true);
        }
        if let Some((cseq, ..)) = self.keepalive.pending.take() {
            self.link.abandon(cseq);
        }
        let aggregate = self.announced.aggregate.clone();
        close_quietly(self.link, Some(&aggregate)).await;
    }

    /// The announced tracks; [`send`](Self::send) takes indices into this.
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.announced.tracks
    }

    /// The transport in use.
    pub fn transport(&self) -> Transport {
        match self.outputs.first().map(|o| &o.path) {
            Some(Path::Udp { .. }) => Transport::Udp,
            _ => Transport::Tcp,
        }
    }

    /// The URL announced to, without credentials.
    pub fn url(&self) -> &str {
        &self.announced.request_url
    }

    /// Tolerated server quirks seen so far.
    pub fn quirks(&self) -> &[Quirk] {
        self.link.quirks.as_slice()
    }

    /// Queues one packet; no I/O except a non-blocking UDP send.
    fn push(&mut self, track: usize, packet: Bytes, now: Instant) -> Result<(), ClientError> {
        self.check_open()?;
        let tracks = self.outputs.len();
        let Some(output) = self.outputs.get_mut(track) else {
            return Err(invalid_input(
                self.link.url(),
                format!("track {track} does not exist ({tracks} tracks)"),
            ));
        };
        let parsed = RtpPacket::parse(&packet)
            .map_err(|e| invalid_input(self.link.url(), format!("track {track}: {e}")))?;
        match &output.path {
            Path::Interleaved { rtp, .. } => {
                let Ok(len) = u16::try_from(packet.len()) else {
                    return Err(invalid_input(
                        self.link.url(),
                        format!(
                            "track {track}: a {}-byte packet does not fit an interleaved frame",
                            packet.len()
                        ),
                    ));
                };
                output.stats.on_rtp(&parsed, now);
                // RFC 2326 §10.12: `$`, channel, length, packet.
                let writer = &mut self.link.conn.writer;
                writer.queue_bytes(&InterleavedFrame::header(*rtp, len));
                writer.queue_bytes(&packet);
            }
            Path::Udp {
                rtp: socket,
                rtp_dest,
                ..
            } => {
                output.stats.on_rtp(&parsed, now);
                if !self.backlog.is_empty() || !send_datagram(socket, &packet, *rtp_dest) {
                    if self.backlog.len() >= UDP_BACKLOG {
                        tracing::debug!(track, "UDP backlog full; packet dropped");
                    } else {
                        self.backlog.push_back((track, packet));
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes everything queued while handling what the server sends.
    async fn drain(&mut self) -> Result<(), ClientError> {
        loop {
            self.service().await?;
            while let Some((slot, packet)) = self.backlog.front() {
                if let Some(Output {
                    path:
                        Path::Udp {
                            rtp: socket,
                            rtp_dest,
                            ..
                        },
                    ..
                }) = self.outputs.get(*slot)
                {
                    if let Err(e) = socket.send_to(packet, *rtp_dest).await {
                        tracing::debug!(dest = %rtp_dest, error = %e, "sending RTP");
                    }
                }
                self.backlog.pop_front();
            }
            if !self.link.conn.writer.has_pending() {
                return Ok(());
            }
            tokio::select! {
                written = self.link.conn.writer.write_some() => written?,
                message = self.link.conn.reader.read_message(&mut self.link.quirks) => {
                    self.on_message(message?, Instant::now())?;
                }
            }
        }
    }

    /// Handles what the server already sent (without waiting for more), then the timers.
    async fn service(&mut self) -> Result<(), ClientError> {
        self.check_open()?;
        loop {
            let message = tokio::select! {
                biased;
                message = self.link.conn.reader.read_message(&mut self.link.quirks) => message?,
                () = std::future::ready(()) => break,
            };
            let closed = message.is_none();
            self.on_message(message, Instant::now())?;
            if closed {
                break;
            }
        }
        self.check_open()?;
        let now = Instant::now();
        while let Some(due) = self.schedule.poll(now) {
            match due {
                Due::Reports => self.queue_reports(now, SystemTime::now(), false),
                Due::Keepalive => self
                    .keepalive
                    .send(&mut self.link, &self.announced.aggregate),
                Due::Stalled | Due::UdpFallback => {}
            }
        }
        Ok(())
    }

    fn on_message(&mut self, message: Option<Message>, now: Instant) -> Result<(), ClientError> {
        let Some(message) = message else {
            tracing::info!(url = %self.link.url(), "server closed the connection");
            self.ended = Some(Ended::Closed);
            return Ok(());
        };
        self.schedule.activity(now);
        match message {
            // The server's RTCP (or anything else) is dropped: nothing is queued while recording,
            // and only `UnassignedChannelPolicy::Error` can fail here.
            Message::Data(frame) => self.link.on_frame(frame, now)?,
            Message::Request(request) => {
                self.link.answer_server_request(request);
                if self.link.server_teardown {
                    tracing::info!(url = %self.link.url(), "server sent TEARDOWN");
                    self.ended = Some(Ended::Teardown);
                } else if let Some(location) = self.link.redirect.take() {
                    self.ended = Some(Ended::Redirect(location));
                }
            }
            Message::Response(response) => {
                self.keepalive
                    .on_response(&mut self.link, &self.announced.aggregate, &response);
            }
            _ => {}
        }
        Ok(())
    }

    fn check_open(&self) -> Result<(), ClientError> {
        let Some(ended) = &self.ended else {
            return Ok(());
        };
        let (kind, detail) = match ended {
            Ended::Closed => (
                std::io::ErrorKind::ConnectionReset,
                "the server closed the connection".to_owned(),
            ),
            Ended::Teardown => (
                std::io::ErrorKind::ConnectionAborted,
                "the server tore the session down".to_owned(),
            ),
            Ended::Redirect(location) => (
                std::io::ErrorKind::ConnectionAborted,
                format!("the server redirected the session to {location} (not followed when publishing)"),
            ),
        };
        Err(io_error(self.link.url(), kind, detail))
    }

    /// RFC 3550 §6.4.1: an SR and an SDES CNAME per track that has sent something, over the
    /// track's RTCP channel or from its RTCP port; with `leaving`, a BYE too (§6.6).
    fn queue_reports(&mut self, now: Instant, wall: SystemTime, leaving: bool) {
        let ntp = NtpTimestamp::from_unix(wall.duration_since(UNIX_EPOCH).unwrap_or_default());
        for slot in 0..self.outputs.len() {
            let Some(report) = self
                .outputs
                .get(slot)
                .and_then(|o| o.stats.report(now, ntp))
            else {
                continue;
            };
            let mut compound = BytesMut::new();
            report.write(&mut compound);
            rtcp::write_sdes_cname(report.ssrc, &self.cname, &mut compound);
            if leaving {
                rtcp::write_bye(&[report.ssrc], Some("teardown"), &mut compound);
            }
            self.send_rtcp(slot, &compound);
        }
    }

    fn send_rtcp(&mut self, slot: usize, compound: &[u8]) {
        match self.outputs.get(slot).map(|o| &o.path) {
            Some(Path::Interleaved { rtcp, .. }) => {
                if let Ok(len) = u16::try_from(compound.len()) {
                    let writer = &mut self.link.conn.writer;
                    writer.queue_bytes(&InterleavedFrame::header(*rtcp, len));
                    writer.queue_bytes(compound);
                }
            }
            Some(Path::Udp {
                rtcp,
                rtcp_dest: Some(dest),
                ..
            }) => {
                // A full socket buffer drops this report; the next one follows.
                send_datagram(rtcp, compound, *dest);
            }
            _ => {}
        }
    }
}

/// Sends a datagram without waiting; `false` when the socket's buffer is full. Other errors
/// (ICMP port unreachable reported on a later send) drop the datagram.
fn send_datagram(socket: &UdpSocket, data: &[u8], dest: SocketAddr) -> bool {
    match socket.try_send_to(data, dest) {
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(e) => {
            tracing::debug!(%dest, error = %e, "sending a datagram");
            true
        }
    }
}

/// The keepalive in flight and the method in use; an answer never ends the session
/// (CAMERA-QUIRKS #30), a new 401 is answered once (#28).
#[derive(Debug)]
struct Keepalive {
    method: Option<Method>,
    /// CSeq, whether it carried credentials, and how often it was re-sent after a 401.
    pending: Option<(u32, bool, u32)>,
}

impl Keepalive {
    fn send(&mut self, link: &mut Link, uri: &str) {
        let Some(method) = self.method.clone() else {
            return;
        };
        if let Some((cseq, ..)) = self.pending.take() {
            link.quirks.record(
                quirk::KEEPALIVE_UNANSWERED,
                format!("{method} got no answer before the next keepalive"),
            );
            link.abandon(cseq);
        }
        let (cseq, sent_auth) = link.queue(method, uri, &[]);
        self.pending = Some((cseq, sent_auth, 0));
    }

    fn on_response(&mut self, link: &mut Link, uri: &str, response: &Response) {
        let (Some((cseq, sent_auth, resent)), Some(method)) = (self.pending, self.method.clone())
        else {
            return;
        };
        let matched = match_cseq(response, cseq, &[], link.options.cseq, &mut link.quirks);
        if matched != CseqMatch::Answer {
            return;
        }
        self.pending = None;
        let problem = match classify(method.as_str(), uri, response) {
            Verdict::Success => return,
            Verdict::Unauthorized => {
                let decision =
                    link.requester
                        .auth
                        .on_unauthorized(response, sent_auth, &mut link.quirks);
                if decision == AuthDecision::Retry && resent < 2 {
                    let (cseq, sent_auth) = link.queue(method, uri, &[]);
                    self.pending = Some((cseq, sent_auth, resent + 1));
                    return;
                }
                quirk::KEEPALIVE_ERROR
            }
            _ if method == Method::GetParameter
                && link.options.keepalive == KeepalivePolicy::Auto =>
            {
                self.method = Some(Method::Options);
                quirk::KEEPALIVE_FALLBACK
            }
            _ => quirk::KEEPALIVE_ERROR,
        };
        link.quirks.record(
            problem,
            format!("{method} answered {} while recording", response.status),
        );
    }
}

/// What a sender knows about one track's stream, for its sender reports (RFC 3550 §6.4.1).
#[derive(Debug, Clone)]
struct SenderStats {
    clock_rate: u32,
    ssrc: Option<u32>,
    packets: u32,
    /// Payload octets (without header and padding).
    octets: u32,
    /// The newest RTP timestamp sent and when its first packet was handed over.
    anchor: Option<(u32, Instant)>,
}

impl SenderStats {
    fn new(clock_rate: u32) -> Self {
        SenderStats {
            clock_rate: clock_rate.max(1),
            ssrc: None,
            packets: 0,
            octets: 0,
            anchor: None,
        }
    }

    /// Counts a packet handed over at `now`. A new SSRC starts the counts again.
    fn on_rtp(&mut self, packet: &RtpPacket<'_>, now: Instant) {
        if self.ssrc != Some(packet.ssrc()) {
            *self = SenderStats::new(self.clock_rate);
            self.ssrc = Some(packet.ssrc());
        }
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(packet.payload().len() as u32);
        let timestamp = packet.timestamp();
        // Only a later timestamp moves the anchor: B-frames go back in time (RFC 3550 §5.1).
        let newer = self
            .anchor
            .is_none_or(|(last, _)| (timestamp.wrapping_sub(last) as i32) > 0);
        if newer {
            self.anchor = Some((timestamp, now));
        }
    }

    /// The report for wall-clock time `ntp` at `now`, once a packet was sent.
    fn report(&self, now: Instant, ntp: NtpTimestamp) -> Option<SenderReport> {
        let ssrc = self.ssrc?;
        let (timestamp, at) = self.anchor?;
        let elapsed = now.saturating_duration_since(at);
        // RTP time advances with the clock rate from the anchor; it wraps like the timestamps.
        let ticks = (elapsed.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        Some(SenderReport {
            ssrc,
            ntp,
            rtp_timestamp: timestamp.wrapping_add(ticks),
            packet_count: self.packets,
            octet_count: self.octets,
            reports: Vec::new(),
        })
    }
}

/// The caller's SDP with an `a=control:trackID=<index>` on every media section that has none, and
/// its text: the caller's own when nothing was added.
fn name_media(text: &str) -> Result<(SessionDescription, String), String> {
    let mut sdp =
        SessionDescription::parse(text.as_bytes()).map_err(|e| format!("unreadable SDP: {e}"))?;
    if sdp.media.is_empty() {
        return Err("no m= lines".to_owned());
    }
    let mut added = false;
    for (index, media) in sdp.media.iter_mut().enumerate() {
        if media.control().is_none_or(str::is_empty) {
            media
                .attributes
                .push(Attribute::new("control", format!("trackID={index}")));
            added = true;
        }
    }
    if !added {
        return Ok((sdp, text.to_owned()));
    }
    let mut body = String::with_capacity(text.len() + 32);
    sdp.write(&mut body);
    Ok((sdp, body))
}

/// A track per media section, its control resolved against the request URL (RFC 2326 §C.1.1).
fn announced_tracks(request_url: &str, sdp: &SessionDescription) -> Result<Vec<TrackInfo>, String> {
    sdp.media
        .iter()
        .enumerate()
        .map(|(index, media)| {
            let (payload_type, encoding, clock_rate) = track(media)
                .map_err(|reason| format!("media {index} (m={}): {reason}", media.media))?;
            Ok(TrackInfo {
                control: join_control(request_url, media.control()),
                payload_type,
                metadata: is_metadata(media, &encoding),
                backchannel: false,
                encoding,
                clock_rate,
                media: media.clone(),
            })
        })
        .collect()
}

/// The `Transport` of a publisher's `SETUP`: RFC 2326 §12.39 `mode=record`, in the lower case that
/// ffmpeg's server requires.
fn record_transport(requested: &Requested) -> String {
    format!(
        "{};mode={}",
        requested.header(),
        TransportMode::Record.name()
    )
}

fn expect_success(method: &str, url: &str, answer: &Response) -> Result<(), ClientError> {
    match classify(method, url, answer) {
        Verdict::Success => Ok(()),
        Verdict::Error(e) => Err(e),
        _ => Err(status_error(method, url, answer)),
    }
}

fn protocol(method: &str, url: &str, detail: String) -> ClientError {
    ClientError::Protocol {
        method: Some(method.to_owned()),
        url: url.to_owned(),
        detail,
    }
}

fn io_error(url: &str, kind: std::io::ErrorKind, detail: String) -> ClientError {
    ClientError::Io {
        url: url.to_owned(),
        source: std::io::Error::new(kind, detail),
    }
}

fn invalid_input(url: &str, detail: String) -> ClientError {
    io_error(url, std::io::ErrorKind::InvalidInput, detail)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sluice_rtsp::rtp::RtpHeader;

    use super::*;

    const URL: &str = "rtsp://127.0.0.1:8554/lobby";

    #[test]
    fn controls_are_added_only_where_missing_and_resolved_against_the_request_url() {
        let text = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\na=control:*\r\n\
                    m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                    m=audio 0 RTP/AVP 8\r\na=control:audio\r\n";
        let (sdp, body) = name_media(text).unwrap();
        assert!(body.contains("a=control:trackID=0\r\n"), "{body}");
        assert!(!body.contains("trackID=1"), "{body}");
        let tracks = announced_tracks(URL, &sdp).unwrap();
        let controls: Vec<&str> = tracks.iter().map(|t| t.control.as_str()).collect();
        assert_eq!(
            controls,
            [
                "rtsp://127.0.0.1:8554/lobby/trackID=0",
                "rtsp://127.0.0.1:8554/lobby/audio"
            ]
        );
        assert_eq!(
            (tracks[1].encoding.as_str(), tracks[1].clock_rate),
            ("PCMA", 8000)
        );
        assert_eq!(join_control(URL, sdp.control()), URL);

        // Nothing added: the caller's text goes out unchanged.
        let named = "v=0\r\ns=x\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:rtsp://h/x/v\r\n";
        let (sdp, body) = name_media(named).unwrap();
        assert_eq!(body, named);
        assert_eq!(
            announced_tracks(URL, &sdp).unwrap()[0].control,
            "rtsp://h/x/v"
        );
    }

    #[test]
    fn unusable_descriptions() {
        assert!(name_media("v=0\r\ns=x\r\n").is_err());
        let (sdp, _) =
            name_media("v=0\r\nm=video 0 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\n").unwrap();
        let err = announced_tracks(URL, &sdp).unwrap_err();
        assert!(err.contains("media 0"), "{err}");
    }

    #[test]
    fn setup_asks_for_record_mode() {
        assert_eq!(
            record_transport(&Requested::Tcp { channels: (0, 1) }),
            "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record"
        );
        assert_eq!(
            record_transport(&Requested::Udp {
                client_ports: (5000, 5001)
            }),
            "RTP/AVP;unicast;client_port=5000-5001;mode=record"
        );
    }

    fn packet(seq: u16, timestamp: u32, payload: usize) -> Vec<u8> {
        let mut out = BytesMut::new();
        RtpHeader {
            marker: false,
            payload_type: 96,
            sequence_number: seq,
            timestamp,
            ssrc: 0x1234,
        }
        .write(&mut out);
        out.extend(std::iter::repeat_n(0u8, payload));
        out.to_vec()
    }

    #[test]
    fn sender_reports_extrapolate_rtp_time() {
        let start = Instant::now();
        let ntp = NtpTimestamp(7);
        let mut stats = SenderStats::new(90_000);
        assert!(stats.report(start, ntp).is_none());
        // Two frames 40 ms apart, then a B-frame with an older timestamp.
        let frames = [(u32::MAX - 1799, 0), (1800, 40), (0, 80)];
        for (i, (timestamp, at)) in frames.into_iter().enumerate() {
            let data = packet(i as u16, timestamp, 100);
            let rtp = RtpPacket::parse(&data).unwrap();
            stats.on_rtp(&rtp, start + Duration::from_millis(at));
        }
        // 100 ms after the newest timestamp (1800, sent at 40 ms): 1800 + 9000 ticks.
        let report = stats
            .report(start + Duration::from_millis(140), ntp)
            .unwrap();
        assert_eq!(report.ssrc, 0x1234);
        assert_eq!(report.ntp, ntp);
        assert_eq!(report.rtp_timestamp, 10_800);
        assert_eq!((report.packet_count, report.octet_count), (3, 300));
    }
}
