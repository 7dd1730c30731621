//! [`Session`] (connected and described) and [`Playing`]: the tokio shell around the sans-IO parts.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sluice_rtsp::codec::{InterleavedFrame, Message};
use sluice_rtsp::header::parse_token_list;
use sluice_rtsp::message::{Method, Response};
use sluice_rtsp::rtcp::{self, ReceiverReport, RtcpPacket};
use sluice_rtsp::rtp::RtpPacket;
use sluice_rtsp::sdp::SessionDescription;
use sluice_rtsp::url::RtspUrl;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::conn::Conn;
use crate::describe::{default_selection, interpret_describe, Description, TrackInfo};
use crate::error::ClientError;
use crate::link::{Incoming, Link, Route};
use crate::options::{
    KeepalivePolicy, MetadataPolicy, SessionOptions, TeardownPolicy, TransportPolicy,
    UdpSourcePolicy,
};
use crate::quirk::{self, Quirk, QuirkLog};
use crate::response::{classify, status_error, teardown_gone, Verdict};
use crate::schedule::{keepalive_interval, Due, Schedule};
use crate::setup::{
    adopt_answer, interpret_rtp_info, interpret_setup, Delivery, Requested, RtpStart, SessionState,
    SetupProblem, Transport,
};
use crate::stats::{ReceiverStats, SenderReportInfo};

/// Capacity of the channel from the UDP receive tasks.
const UDP_QUEUE: usize = 1024;

/// One RTP packet as received.
#[derive(Debug, Clone)]
pub struct Packet {
    /// The track, an index into [`Session::tracks`] / [`Playing::tracks`].
    pub track: usize,
    /// The whole RTP packet (header and payload), as it arrived.
    pub data: Bytes,
    /// When it arrived.
    pub received: Instant,
}

/// A connected, described session: the result of `DESCRIBE`, before any `SETUP`.
#[derive(Debug)]
pub struct Session {
    target: RtspUrl,
    link: Link,
    description: Description,
}

impl Session {
    /// Connects, sends `OPTIONS` and `DESCRIBE`, follows redirects and answers 401s with the URL's
    /// credentials (percent-decoded userinfo, never logged).
    pub async fn describe(url: &str, options: SessionOptions) -> Result<Session, ClientError> {
        let target = parse_url(url)?;
        let (link, description, target) = open(target, &options, QuirkLog::default()).await?;
        Ok(Session {
            target,
            link,
            description,
        })
    }

    /// The session description.
    pub fn sdp(&self) -> &SessionDescription {
        &self.description.sdp
    }

    /// The media sections the client can receive, with their resolved control URLs.
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.description.tracks
    }

    /// The `Server` header of the `DESCRIBE` answer.
    pub fn server(&self) -> Option<&str> {
        self.description.server.as_deref()
    }

    /// The URL that was finally described (after redirects), without credentials.
    pub fn url(&self) -> &str {
        &self.description.request_url
    }

    /// The URL for aggregate requests (`PLAY`, `TEARDOWN`, keepalives).
    pub fn aggregate_url(&self) -> &str {
        &self.description.aggregate
    }

    /// Tolerated camera quirks seen so far.
    pub fn quirks(&self) -> &[Quirk] {
        self.link.quirks.as_slice()
    }

    /// Sets up the given tracks (indices into [`tracks`](Self::tracks)) with the transport policy,
    /// then sends `PLAY`.
    ///
    /// With `None`, every track is set up except `sendonly` backchannels and, unless
    /// [`MetadataPolicy::Include`], ONVIF metadata tracks (CAMERA-QUIRKS #58, #59).
    pub async fn play(self, tracks: Option<&[usize]>) -> Result<Playing, ClientError> {
        let Session {
            target,
            mut link,
            description,
        } = self;
        let options = link.options.clone();
        let selection = match tracks {
            Some(indices) => {
                if indices.is_empty() {
                    return Err(no_media(&description, "no track selected"));
                }
                if let Some(bad) = indices.iter().find(|&&i| i >= description.tracks.len()) {
                    return Err(no_media(
                        &description,
                        &format!(
                            "track {bad} does not exist ({} tracks)",
                            description.tracks.len()
                        ),
                    ));
                }
                indices.to_vec()
            }
            None => default_selection(
                &description.tracks,
                options.metadata == MetadataPolicy::Include,
                &mut link.quirks,
            ),
        };
        let lower = match options.transport {
            TransportPolicy::Tcp => Requested::tcp(),
            TransportPolicy::Multicast => Requested::Multicast,
            _ => Requested::Udp {
                client_ports: (0, 0),
            },
        };
        let started = start(&mut link, &description, &selection, lower).await;
        let (link, description, target, streams) = match started {
            Ok(streams) => (link, description, target, streams),
            Err(StartError::TryTcp(reason)) if options.transport == TransportPolicy::Auto => {
                tracing::info!(%reason, url = %description.request_url, "UDP refused; reconnecting over TCP");
                let quirks = close_quietly(link, None).await;
                establish(target, &options, quirks, &selection, Requested::tcp()).await?
            }
            Err(StartError::Closed) => {
                // CAMERA-QUIRKS #9: cheap cameras close after DESCRIBE (VStarcam after an
                // authenticated one); describe again on a new connection.
                let mut quirks = close_quietly(link, None).await;
                quirks.record(
                    quirk::RECONNECTED,
                    "connection closed after DESCRIBE; described again on a new connection",
                );
                establish(target, &options, quirks, &selection, lower).await?
            }
            Err(StartError::TryTcp(reason)) => {
                return Err(ClientError::Protocol {
                    method: Some("SETUP".to_owned()),
                    url: description.request_url.clone(),
                    detail: reason,
                })
            }
            Err(StartError::Client(e)) => return Err(e),
        };
        Ok(Playing::new(target, description, selection, link, streams))
    }
}

/// A playing session: call [`next`](Self::next) in a loop.
#[derive(Debug)]
pub struct Playing {
    target: RtspUrl,
    description: Description,
    selection: Vec<usize>,
    link: Link,
    streams: Vec<TrackStream>,
    udp: UdpReceivers,
    schedule: Schedule,
    keepalive: Option<Method>,
    pending: Option<PendingKeepalive>,
    epoch: Instant,
    our_ssrc: u32,
    cname: String,
    ended: bool,
    pause_unsupported: bool,
    paused: bool,
    /// A UDP→TCP fallback or a redirect in progress; kept here so that cancelling `next` midway
    /// loses nothing: the next call goes on where it stopped.
    reconnect: Option<Reconnect>,
}

/// The result of setting up a session again.
type Established = (Link, Description, RtspUrl, Streams);

/// The stages of replacing the session by a new one.
#[derive(Debug)]
enum Reconnect {
    /// The old connection is being torn down, until `until`: the bound holds across cancelled calls
    /// (sending TEARDOWN again after a cancel is harmless).
    TearingDown {
        target: RtspUrl,
        lower: Requested,
        until: Instant,
    },
    /// The new session is being set up in a task of its own, which a cancelled `next` does not
    /// stop; dropping the session aborts it.
    Establishing(AbortOnDrop<Result<Established, ClientError>>),
}

/// A task handle that aborts the task when dropped.
#[derive(Debug)]
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug, Clone, Copy)]
struct PendingKeepalive {
    cseq: u32,
    sent_auth: bool,
    retries: u32,
}

impl Playing {
    fn new(
        target: RtspUrl,
        description: Description,
        selection: Vec<usize>,
        link: Link,
        streams: Streams,
    ) -> Self {
        let now = Instant::now();
        let options = &link.options;
        let keepalive = keepalive_method(options.keepalive, &streams.public);
        let every = streams.session.as_ref().map_or(keepalive_interval(0), |s| {
            keepalive_interval(s.timeout_secs)
        });
        let udp_fallback = (options.transport == TransportPolicy::Auto
            && streams
                .tracks
                .iter()
                .all(|t| matches!(t.delivery, Delivery::Udp { .. })))
        .then_some(options.udp_fallback_after);
        let schedule = Schedule::new(
            now,
            keepalive.as_ref().map(|_| every),
            options.rtcp_interval,
            options.stall_timeout,
            options.request_timeout,
            udp_fallback,
        );
        let our_ssrc = rand::random::<u32>();
        let udp = UdpReceivers::start(&streams.tracks);
        Playing {
            target,
            description,
            selection,
            link,
            streams: streams.tracks,
            udp,
            schedule,
            keepalive,
            pending: None,
            epoch: now,
            our_ssrc,
            cname: format!("sluice-{our_ssrc:08x}"),
            ended: false,
            pause_unsupported: false,
            paused: false,
            reconnect: None,
        }
    }

    /// The next RTP packet. Keepalives, RTCP receiver reports, requests from the server and the
    /// UDP→TCP fallback are handled here, so call it in a loop.
    ///
    /// `Ok(None)` means the server ended the stream: an RTCP BYE on every track, a `TEARDOWN` from
    /// the server, or the connection closed.
    ///
    /// Cancel-safe, so it can sit in a `tokio::select!`: reads keep their progress in a buffer and
    /// writes (reports, keepalives, answers to the server) go through an output buffer that is
    /// drained across calls. A UDP→TCP fallback or a redirect in progress goes on at the next call.
    pub async fn next(&mut self) -> Result<Option<Packet>, ClientError> {
        loop {
            if self.reconnect.is_some() {
                self.resume_reconnect().await?;
                continue;
            }
            while let Some(incoming) = self.link.queue.pop_front() {
                if let Some(packet) = self.on_incoming(incoming) {
                    return Ok(Some(packet));
                }
            }
            if self.ended {
                return Ok(None);
            }
            if self.link.server_teardown {
                tracing::info!(url = %self.link.url(), "server sent TEARDOWN");
                self.ended = true;
                continue;
            }
            if let Some(location) = self.link.redirect.take() {
                self.follow_redirect(&location).await?;
                continue;
            }
            let now = Instant::now();
            while let Some(due) = self.schedule.poll(now) {
                match due {
                    Due::Reports => self.queue_reports(now),
                    Due::Keepalive => self.queue_keepalive(),
                    Due::UdpFallback => {
                        self.fallback_to_tcp().await?;
                        break;
                    }
                    Due::Stalled => {
                        return Err(ClientError::Timeout {
                            what: "media".to_owned(),
                            url: self.link.url().to_owned(),
                            after: self.schedule.stall_after(),
                        })
                    }
                }
            }
            if !self.link.queue.is_empty() {
                continue;
            }
            let deadline = tokio::time::Instant::from_std(self.schedule.next_deadline());
            tokio::select! {
                written = self.link.conn.writer.write_some(), if self.link.conn.writer.has_pending() => written?,
                message = self.link.conn.reader.read_message(&mut self.link.quirks) => {
                    let now = Instant::now();
                    match message? {
                        None => {
                            tracing::info!(url = %self.link.url(), "server closed the connection");
                            self.ended = true;
                        }
                        Some(message) => {
                            self.schedule.activity(now);
                            self.on_message(message, now)?;
                        }
                    }
                }
                Some(datagram) = self.udp.rx.recv() => self.on_datagram(datagram),
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// The transport in use (of the first track; all tracks normally share it).
    pub fn transport(&self) -> Transport {
        self.streams
            .first()
            .map_or(Transport::Tcp, |s| s.delivery.transport())
    }

    /// Tolerated camera quirks seen so far (for `sluice probe`).
    pub fn quirks(&self) -> &[Quirk] {
        self.link.quirks.as_slice()
    }

    /// All described tracks; [`Packet::track`] indexes this.
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.description.tracks
    }

    /// The indices of the tracks that are playing.
    pub fn selection(&self) -> &[usize] {
        &self.selection
    }

    /// The session description.
    pub fn sdp(&self) -> &SessionDescription {
        &self.description.sdp
    }

    /// The `Server` header of the `DESCRIBE` answer.
    pub fn server(&self) -> Option<&str> {
        self.description.server.as_deref()
    }

    /// Where a playing track's stream starts according to the `PLAY` answer's `RTP-Info`.
    pub fn rtp_info(&self, track: usize) -> Option<RtpStart> {
        self.stream(track).and_then(|s| s.start)
    }

    /// The last RTCP sender report of a playing track's source.
    pub fn last_sender_report(&self, track: usize) -> Option<SenderReportInfo> {
        self.stream(track)
            .and_then(|s| s.stats.last_sender_report())
    }

    /// Packets dropped so far: from foreign UDP sources, on unassigned channels, or because the
    /// queue filled while a response was awaited.
    pub fn dropped(&self) -> u64 {
        self.link.dropped + self.udp.foreign
    }

    /// Sends `PAUSE`. A server that answers 405, 406, 501 or 551 gets
    /// [`ClientError::MethodNotSupported`], the session goes on and `PAUSE` is not sent again
    /// (CAMERA-QUIRKS #56: Hikvision DS-2CD2732F-IS).
    pub async fn pause(&mut self) -> Result<(), ClientError> {
        let uri = self.description.aggregate.clone();
        if self.pause_unsupported {
            return Err(ClientError::MethodNotSupported {
                method: "PAUSE".to_owned(),
                url: uri,
                status: None,
            });
        }
        let response = self.aggregate_request(Method::Pause, &[]).await?;
        match classify("PAUSE", &uri, &response) {
            Verdict::Success => {
                self.paused = true;
                Ok(())
            }
            Verdict::NotSupported => {
                self.pause_unsupported = true;
                self.link.quirks.record(
                    quirk::METHOD_NOT_SUPPORTED,
                    format!("PAUSE answered {}", response.status),
                );
                Err(ClientError::MethodNotSupported {
                    method: "PAUSE".to_owned(),
                    url: uri,
                    status: Some(response.status),
                })
            }
            Verdict::Error(e) => Err(e),
            _ => Err(status_error("PAUSE", &uri, &response)),
        }
    }

    /// Sends `PLAY` again after [`pause`](Self::pause).
    pub async fn resume(&mut self) -> Result<(), ClientError> {
        let uri = self.description.aggregate.clone();
        let response = self.aggregate_request(Method::Play, &[]).await?;
        match classify("PLAY", &uri, &response) {
            Verdict::Success => {
                self.paused = false;
                Ok(())
            }
            Verdict::Error(e) => Err(e),
            _ => Err(status_error("PLAY", &uri, &response)),
        }
    }

    /// Ends the session following [`TeardownPolicy`], then closes the connection.
    pub async fn teardown(self) {
        let Playing {
            target,
            description,
            mut link,
            streams,
            udp,
            pending,
            ..
        } = self;
        drop(udp);
        if let Some(p) = pending {
            link.abandon(p.cseq);
        }
        let over_udp = streams
            .iter()
            .any(|s| !matches!(s.delivery, Delivery::Interleaved { .. }));
        let policy = link.options.teardown;
        let session_id = link.requester.session_id.clone();
        let options = link.options.clone();
        let open = !link.conn.is_closed();
        let mut quirks = close_quietly(link, Some(&description.aggregate)).await;
        let retry_elsewhere = match policy {
            TeardownPolicy::Never => false,
            TeardownPolicy::Always => !open,
            _ => !open && over_udp,
        };
        if retry_elsewhere && session_id.is_some() {
            // The server-side session may outlive the connection (UDP): one attempt on a new one.
            let uri = target.to_request_uri();
            if let Ok(conn) =
                Conn::connect(&target.host, target.port, &uri, options.connect_timeout).await
            {
                let mut link = Link::new(
                    conn,
                    &options,
                    target.credentials.clone(),
                    QuirkLog::default(),
                );
                link.requester.session_id = session_id;
                let _ = close_quietly(link, Some(&description.aggregate)).await;
            } else {
                quirks.record(
                    quirk::TEARDOWN_ERROR,
                    "could not reconnect to send TEARDOWN",
                );
            }
        }
    }

    fn stream(&self, track: usize) -> Option<&TrackStream> {
        self.streams.iter().find(|s| s.index == track)
    }

    /// A request to the aggregate URL that waits for its answer (keepalives in flight are
    /// abandoned so their late answers are not mistaken for this one).
    async fn aggregate_request(
        &mut self,
        method: Method,
        extra: &[(&str, String)],
    ) -> Result<Response, ClientError> {
        if let Some(p) = self.pending.take() {
            self.link.abandon(p.cseq);
        }
        let uri = self.description.aggregate.clone();
        self.link.request(method, &uri, extra).await
    }

    fn on_message(&mut self, message: Message, now: Instant) -> Result<(), ClientError> {
        match message {
            Message::Data(frame) => self.link.on_frame(frame, now)?,
            Message::Request(request) => self.link.answer_server_request(request),
            Message::Response(response) => self.on_response(response),
            _ => {}
        }
        Ok(())
    }

    /// A response while playing: the answer to a keepalive, or a late one.
    fn on_response(&mut self, response: Response) {
        let Some(pending) = self.pending else {
            return;
        };
        crate::response::note_header_spelling(&response, &mut self.link.quirks);
        let matched = crate::response::match_cseq(
            &response,
            pending.cseq,
            &[],
            self.link.options.cseq,
            &mut self.link.quirks,
        );
        if matched != crate::response::CseqMatch::Answer {
            return;
        }
        self.pending = None;
        let method = self.keepalive.clone().unwrap_or(Method::Options);
        let uri = self.description.aggregate.clone();
        // CAMERA-QUIRKS #30: a keepalive answer never ends the session.
        match classify(method.as_str(), &uri, &response) {
            Verdict::Success => {}
            Verdict::Unauthorized => {
                // CAMERA-QUIRKS #28: a new 401 mid-session (Axis M5525): answer it once.
                let decision = self.link.requester.auth.on_unauthorized(
                    &response,
                    pending.sent_auth,
                    &mut self.link.quirks,
                );
                if decision == crate::request::AuthDecision::Retry && pending.retries < 2 {
                    let (cseq, sent_auth) = self.link.queue(method, &uri, &[]);
                    self.pending = Some(PendingKeepalive {
                        cseq,
                        sent_auth,
                        retries: pending.retries + 1,
                    });
                } else {
                    self.link.quirks.record(
                        quirk::KEEPALIVE_ERROR,
                        format!(
                            "{method} answered {} (credentials refused)",
                            response.status
                        ),
                    );
                }
            }
            _ if method == Method::GetParameter
                && self.link.options.keepalive == KeepalivePolicy::Auto
                && response.status.0 >= 400 =>
            {
                self.link.quirks.record(
                    quirk::KEEPALIVE_FALLBACK,
                    format!("GET_PARAMETER answered {}; using OPTIONS", response.status),
                );
                self.keepalive = Some(Method::Options);
            }
            _ => self.link.quirks.record(
                quirk::KEEPALIVE_ERROR,
                format!("{method} answered {}", response.status),
            ),
        }
    }

    fn queue_keepalive(&mut self) {
        let Some(method) = self.keepalive.clone() else {
            return;
        };
        if let Some(p) = self.pending.take() {
            self.link.quirks.record(
                quirk::KEEPALIVE_UNANSWERED,
                format!("{method} got no answer before the next keepalive"),
            );
            self.link.abandon(p.cseq);
        }
        let uri = self.description.aggregate.clone();
        let (cseq, sent_auth) = self.link.queue(method, &uri, &[]);
        self.pending = Some(PendingKeepalive {
            cseq,
            sent_auth,
            retries: 0,
        });
    }

    /// RFC 3550 §6.4.2: an RR (with a block per source heard) and an SDES CNAME per track, over the
    /// track's RTCP channel or from its RTCP socket (CAMERA-QUIRKS #15: some servers check the port
    /// RTCP comes from).
    fn queue_reports(&mut self, now: Instant) {
        let mut interleaved = BytesMut::new();
        for stream in &mut self.streams {
            let mut compound = BytesMut::new();
            ReceiverReport {
                ssrc: self.our_ssrc,
                reports: stream.stats.report_block(now).into_iter().collect(),
            }
            .write(&mut compound);
            rtcp::write_sdes_cname(self.our_ssrc, &self.cname, &mut compound);
            match &stream.delivery {
                Delivery::Interleaved { rtcp, .. } => {
                    if let Ok(len) = u16::try_from(compound.len()) {
                        interleaved.extend_from_slice(&InterleavedFrame::header(*rtcp, len));
                        interleaved.extend_from_slice(&compound);
                    }
                }
                _ => {
                    if let (Some(socket), Some(dest)) = (&stream.rtcp_socket, stream.rtcp_dest) {
                        // A full socket buffer drops this report; the next one follows.
                        if let Err(e) = socket.try_send_to(&compound, dest) {
                            tracing::debug!(%dest, error = %e, "sending RTCP receiver report");
                        }
                    }
                }
            }
        }
        if !interleaved.is_empty() && !self.link.conn.is_closed() {
            self.link.conn.writer.queue_bytes(&interleaved);
        }
    }

    /// Handles a queued packet; returns it when it is RTP for the caller.
    fn on_incoming(&mut self, incoming: Incoming) -> Option<Packet> {
        let Incoming {
            slot,
            rtcp,
            data,
            at,
        } = incoming;
        let epoch = self.epoch;
        let stream = self.streams.get_mut(slot)?;
        if rtcp {
            self.schedule.activity(at);
            for packet in rtcp::parse_compound(&data) {
                match packet {
                    Ok(RtcpPacket::SenderReport(sr)) => stream.stats.on_sender_report(&sr, at),
                    Ok(RtcpPacket::Goodbye(_)) => stream.bye = true,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(track = stream.index, error = %e, "malformed RTCP");
                        break;
                    }
                }
            }
            if self.streams.iter().all(|s| s.bye) {
                tracing::info!(url = %self.link.url(), "RTCP BYE on every track");
                self.ended = true;
            }
            return None;
        }
        let Ok(packet) = RtpPacket::parse(&data) else {
            self.link.dropped += 1;
            return None;
        };
        self.schedule.media(at);
        stream.stats.on_rtp(
            packet.ssrc(),
            packet.sequence_number(),
            packet.timestamp(),
            at.saturating_duration_since(epoch),
        );
        let hint = stream.ssrc_hint.or(stream.start.and_then(|s| s.ssrc));
        if hint.is_some_and(|h| h != packet.ssrc()) {
            self.link.quirks.record(
                quirk::SSRC_MISMATCH,
                format!(
                    "track {}: packets from SSRC {:08x}, announced {:08x}",
                    stream.index,
                    packet.ssrc(),
                    hint.unwrap_or_default()
                ),
            );
        }
        Some(Packet {
            track: stream.index,
            data,
            received: at,
        })
    }

    fn on_datagram(&mut self, datagram: Datagram) {
        let server_ip = canonical(self.link.conn.peer.ip());
        if self.link.options.udp_source == UdpSourcePolicy::ServerAddress
            && canonical(datagram.from.ip()) != server_ip
            && !matches!(
                self.streams.get(datagram.slot).map(|s| &s.delivery),
                Some(Delivery::Multicast { .. })
            )
        {
            self.udp.foreign += 1;
            return;
        }
        let Some(stream) = self.streams.get_mut(datagram.slot) else {
            return;
        };
        let rtcp = datagram.rtcp || rtcp::looks_like_rtcp(&datagram.data);
        if rtcp {
            if stream.rtcp_dest.is_none() && datagram.rtcp {
                stream.rtcp_dest = Some(datagram.from);
            }
        } else if let Delivery::Udp {
            server_rtp: Some(port),
            ..
        } = stream.delivery
        {
            if datagram.from.port() != port {
                self.link.quirks.record(
                    quirk::UDP_SOURCE_PORT,
                    format!(
                        "track {}: RTP from port {}, announced {port}",
                        stream.index,
                        datagram.from.port()
                    ),
                );
            }
        }
        self.link.push(Incoming {
            slot: datagram.slot,
            rtcp,
            data: datagram.data,
            at: datagram.at,
        });
    }

    /// CAMERA-QUIRKS #33: nothing over UDP in time; describe again and set up over TCP (some
    /// Hikvision cameras need a DESCRIBE before a SETUP on a new connection, #9).
    async fn fallback_to_tcp(&mut self) -> Result<(), ClientError> {
        tracing::info!(url = %self.link.url(), after = ?self.link.options.udp_fallback_after, "no UDP packets; switching to TCP");
        self.link.quirks.record(
            quirk::UDP_FALLBACK,
            format!(
                "no UDP packet within {:?}; reconnected over TCP",
                self.link.options.udp_fallback_after
            ),
        );
        self.reconnect(self.target.clone(), Requested::tcp()).await
    }

    /// RFC 2326 §10.10: the server asks the client to go elsewhere.
    async fn follow_redirect(&mut self, location: &str) -> Result<(), ClientError> {
        let target = redirect_target(&self.target, location)?;
        self.link.quirks.record(
            quirk::SERVER_REDIRECT,
            format!("REDIRECT to {}", target.to_request_uri()),
        );
        let lower = match self.transport() {
            Transport::Tcp => Requested::tcp(),
            Transport::Multicast => Requested::Multicast,
            _ => Requested::Udp {
                client_ports: (0, 0),
            },
        };
        self.reconnect(target, lower).await
    }

    /// Replaces the session by a new one at `target`.
    async fn reconnect(&mut self, target: RtspUrl, lower: Requested) -> Result<(), ClientError> {
        self.reconnect = Some(Reconnect::TearingDown {
            target,
            lower,
            until: Instant::now() + Duration::from_secs(1),
        });
        self.resume_reconnect().await
    }

    /// Carries a reconnect forward from the stage it reached. Cancel-safe: every await leaves
    /// `self.reconnect` in a state the next call can resume from.
    async fn resume_reconnect(&mut self) -> Result<(), ClientError> {
        if let Some(Reconnect::TearingDown { until, .. }) = self.reconnect {
            if let Some(p) = self.pending.take() {
                self.link.abandon(p.cseq);
            }
            // Best-effort TEARDOWN on the old connection, bounded.
            let left = until.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                let aggregate = self.description.aggregate.clone();
                let link = &mut self.link;
                link.discard_data = true;
                let teardown = link.request(Method::Teardown, &aggregate, &[]);
                let _ = tokio::time::timeout(left, teardown).await;
            }
            self.link.conn.shutdown().await;
            let Some(Reconnect::TearingDown { target, lower, .. }) = self.reconnect.take() else {
                // Invariant: only this function changes `reconnect`, and it was `TearingDown`.
                unreachable!("reconnect stage changed during teardown");
            };
            let options = self.link.options.clone();
            let quirks = self.link.quirks.clone();
            let selection = self.selection.clone();
            let task = tokio::spawn(async move {
                establish(target, &options, quirks, &selection, lower).await
            });
            self.reconnect = Some(Reconnect::Establishing(AbortOnDrop(task)));
        }
        if let Some(Reconnect::Establishing(task)) = &mut self.reconnect {
            let joined = (&mut task.0).await;
            self.reconnect = None;
            let established = joined.unwrap_or_else(|e| {
                Err(ClientError::Io {
                    url: self.link.url().to_owned(),
                    source: std::io::Error::other(format!("reconnect task failed: {e}")),
                })
            });
            let (link, description, target, streams) = match established {
                Ok(e) => e,
                Err(e) => {
                    self.ended = true;
                    return Err(e);
                }
            };
            *self = Playing::new(target, description, self.selection.clone(), link, streams);
        }
        Ok(())
    }
}

/// Per-track state of a playing session.
#[derive(Debug)]
struct TrackStream {
    /// The index into the described tracks.
    index: usize,
    delivery: Delivery,
    rtp_socket: Option<Arc<UdpSocket>>,
    rtcp_socket: Option<Arc<UdpSocket>>,
    /// Where receiver reports go over UDP.
    rtcp_dest: Option<SocketAddr>,
    stats: ReceiverStats,
    ssrc_hint: Option<u32>,
    start: Option<RtpStart>,
    bye: bool,
}

/// What `start` set up.
#[derive(Debug)]
struct Streams {
    tracks: Vec<TrackStream>,
    session: Option<SessionState>,
    public: Vec<String>,
}

/// A datagram from a UDP receive task.
#[derive(Debug)]
struct Datagram {
    slot: usize,
    rtcp: bool,
    data: Bytes,
    from: SocketAddr,
    at: Instant,
}

/// The tasks reading the UDP sockets; aborted on drop.
#[derive(Debug)]
struct UdpReceivers {
    rx: mpsc::Receiver<Datagram>,
    /// Kept so that `rx` never reports a closed channel.
    _tx: mpsc::Sender<Datagram>,
    tasks: Vec<JoinHandle<()>>,
    /// Datagrams from sources other than the server.
    foreign: u64,
}

impl UdpReceivers {
    fn start(streams: &[TrackStream]) -> Self {
        let (tx, rx) = mpsc::channel(UDP_QUEUE);
        let mut tasks = Vec::new();
        for (slot, stream) in streams.iter().enumerate() {
            for (socket, rtcp) in [(&stream.rtp_socket, false), (&stream.rtcp_socket, true)] {
                if let Some(socket) = socket {
                    tasks.push(tokio::spawn(receive(
                        socket.clone(),
                        slot,
                        rtcp,
                        tx.clone(),
                    )));
                }
            }
        }
        UdpReceivers {
            rx,
            _tx: tx,
            tasks,
            foreign: 0,
        }
    }
}

impl Drop for UdpReceivers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn receive(socket: Arc<UdpSocket>, slot: usize, rtcp: bool, tx: mpsc::Sender<Datagram>) {
    const MAX_DATAGRAM: usize = 65_536;
    const CHUNK: usize = 512 * 1024;
    // Datagrams are received back to back into one chunk and split off as `Bytes`; a chunk is freed
    // when the last packet cut from it is dropped (a chunk per datagram would pin 64 KiB each).
    let mut buf = BytesMut::with_capacity(CHUNK);
    loop {
        if buf.capacity() - buf.len() < MAX_DATAGRAM {
            buf = BytesMut::with_capacity(CHUNK);
        }
        match socket.recv_buf_from(&mut buf).await {
            Ok((n, from)) => {
                let data = buf.split_to(n).freeze();
                let datagram = Datagram {
                    slot,
                    rtcp,
                    data,
                    from,
                    at: Instant::now(),
                };
                if tx.send(datagram).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                // ICMP port unreachable after sending a report shows up here on some systems.
                tracing::trace!(error = %e, "UDP receive");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Why `start` did not get the stream going.
#[derive(Debug)]
enum StartError {
    /// UDP did not work; TCP might.
    TryTcp(String),
    /// The connection closed before the first `SETUP` was answered.
    Closed,
    Client(ClientError),
}

impl From<ClientError> for StartError {
    fn from(e: ClientError) -> Self {
        StartError::Client(e)
    }
}

impl Requested {
    fn tcp() -> Requested {
        Requested::Tcp { channels: (0, 1) }
    }
}

pub(crate) fn parse_url(url: &str) -> Result<RtspUrl, ClientError> {
    let parsed = RtspUrl::parse(url).map_err(|e| ClientError::InvalidUrl {
        // The error never quotes the input; the URL itself may hold a password.
        url: "(as given)".to_owned(),
        detail: e.to_string(),
    })?;
    check_scheme(&parsed)?;
    Ok(parsed)
}

fn check_scheme(url: &RtspUrl) -> Result<(), ClientError> {
    if url.is_tls() {
        return Err(ClientError::InvalidUrl {
            url: url.to_request_uri(),
            detail: "rtsps (RTSP over TLS) is not supported".to_owned(),
        });
    }
    Ok(())
}

/// The target of a redirect: absolute, or a path on the same server. The credentials go along only
/// to the same host, unless the new URL has its own.
fn redirect_target(from: &RtspUrl, location: &str) -> Result<RtspUrl, ClientError> {
    let absolute = if location.starts_with('/') {
        format!(
            "{}://{}:{}{location}",
            from.scheme,
            from.host_for_uri(),
            from.port
        )
    } else {
        location.to_owned()
    };
    let mut target = RtspUrl::parse(&absolute).map_err(|e| ClientError::InvalidUrl {
        url: from.to_request_uri(),
        detail: format!("redirect to an unusable Location: {e}"),
    })?;
    check_scheme(&target)?;
    if target.credentials.is_none() && target.host.eq_ignore_ascii_case(&from.host) {
        target.credentials = from.credentials.clone();
    }
    Ok(target)
}

/// Connects to `target` and sends `OPTIONS`; returns the link and the methods the answer lists in
/// `Public` (none when it is an error).
pub(crate) async fn connect(
    target: &RtspUrl,
    options: &SessionOptions,
    quirks: QuirkLog,
) -> Result<(Link, Vec<String>), ClientError> {
    let uri = target.to_request_uri();
    let conn = Conn::connect(&target.host, target.port, &uri, options.connect_timeout).await?;
    let mut link = Link::new(conn, options, target.credentials.clone(), quirks);
    let options_answer = link.request(Method::Options, &uri, &[]).await?;
    let public = if options_answer.status.is_success() {
        options_answer
            .headers
            .get("Public")
            .map(parse_token_list)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if options_answer.headers.get("Session").is_some() {
        link.quirks.record(
            quirk::SESSION_BEFORE_SETUP,
            "Session header in the OPTIONS answer (ignored)",
        );
    }
    Ok((link, public))
}

/// Connects and describes, following redirects (CAMERA-QUIRKS #57).
async fn open(
    mut target: RtspUrl,
    options: &SessionOptions,
    mut quirks: QuirkLog,
) -> Result<(Link, Description, RtspUrl), ClientError> {
    let mut redirects = 0;
    loop {
        let uri = target.to_request_uri();
        let (mut link, public) = connect(&target, options, quirks).await?;
        let answer = link.request(Method::Describe, &uri, &[]).await?;
        match classify("DESCRIBE", &uri, &answer) {
            Verdict::Success => {
                if answer.headers.get("Session").is_some() {
                    link.quirks.record(
                        quirk::SESSION_BEFORE_SETUP,
                        "Session header in the DESCRIBE answer (ignored)",
                    );
                }
                let mut description = interpret_describe(&uri, &answer, &mut link.quirks)?;
                description.public = public;
                link.tool = description.sdp.attribute("tool").map(str::to_owned);
                return Ok((link, description, target));
            }
            Verdict::Redirect(location) => {
                if redirects >= options.max_redirects {
                    return Err(status_error("DESCRIBE", &uri, &answer));
                }
                redirects += 1;
                let next = redirect_target(&target, &location)?;
                link.quirks.record(
                    quirk::REDIRECTED,
                    format!("{} redirected to {}", answer.status, next.to_request_uri()),
                );
                tracing::info!(from = %uri, to = %next.to_request_uri(), "following redirect");
                link.conn.shutdown().await;
                quirks = link.quirks;
                target = next;
            }
            Verdict::Error(e) => return Err(e),
            _ => return Err(status_error("DESCRIBE", &uri, &answer)),
        }
    }
}

/// Opens a new connection, describes and starts playing `selection`.
async fn establish(
    target: RtspUrl,
    options: &SessionOptions,
    quirks: QuirkLog,
    selection: &[usize],
    lower: Requested,
) -> Result<(Link, Description, RtspUrl, Streams), ClientError> {
    let (mut link, description, target) = open(target, options, quirks).await?;
    if let Some(bad) = selection.iter().find(|&&i| i >= description.tracks.len()) {
        return Err(no_media(
            &description,
            &format!("track {bad} is gone after describing again"),
        ));
    }
    match start(&mut link, &description, selection, lower).await {
        Ok(streams) => Ok((link, description, target, streams)),
        Err(StartError::Client(e)) => Err(e),
        Err(StartError::Closed) => Err(ClientError::Closed {
            method: "SETUP".to_owned(),
            url: description.request_url.clone(),
        }),
        Err(StartError::TryTcp(detail)) => Err(ClientError::Protocol {
            method: Some("SETUP".to_owned()),
            url: description.request_url.clone(),
            detail,
        }),
    }
}

/// `SETUP` for each selected track, then `PLAY`.
async fn start(
    link: &mut Link,
    description: &Description,
    selection: &[usize],
    mut lower: Requested,
) -> Result<Streams, StartError> {
    let auto = link.options.transport == TransportPolicy::Auto;
    let server_ip = link.conn.peer.ip();
    let local_ip = link.conn.local.ip();
    let mut session: Option<SessionState> = None;
    let mut tracks: Vec<TrackStream> = Vec::new();
    for (slot, &index) in selection.iter().enumerate() {
        let track = description.tracks.get(index).ok_or_else(|| {
            StartError::Client(no_media(description, &format!("no track {index}")))
        })?;
        loop {
            let mut sockets = None;
            let requested = match lower {
                Requested::Tcp { .. } => Requested::Tcp {
                    channels: free_pair(&link.used_channels()),
                },
                Requested::Udp { .. } => {
                    let (rtp, rtcp) =
                        bind_pair(local_ip)
                            .await
                            .map_err(|source| ClientError::Io {
                                url: link.url().to_owned(),
                                source,
                            })?;
                    let ports = (port_of(&rtp), port_of(&rtcp));
                    sockets = Some((rtp, rtcp));
                    Requested::Udp {
                        client_ports: ports,
                    }
                }
                Requested::Multicast => Requested::Multicast,
            };
            let extra = [("Transport", requested.header())];
            let answer = match link.request(Method::Setup, &track.control, &extra).await {
                Err(ClientError::Closed { .. }) if slot == 0 => return Err(StartError::Closed),
                Err(e) => return Err(e.into()),
                Ok(answer) => answer,
            };
            match classify("SETUP", &track.control, &answer) {
                Verdict::Success => {}
                Verdict::UnsupportedTransport if !matches!(lower, Requested::Tcp { .. }) => {
                    link.quirks.record(
                        quirk::UNSUPPORTED_TRANSPORT,
                        format!(
                            "SETUP {} answered 461 to {}",
                            track.control,
                            requested.header()
                        ),
                    );
                    if !auto {
                        return Err(status_error("SETUP", &track.control, &answer).into());
                    }
                    if slot == 0 {
                        lower = Requested::tcp();
                        continue;
                    }
                    return Err(StartError::TryTcp("461 Unsupported Transport".to_owned()));
                }
                Verdict::Error(e) => return Err(e.into()),
                _ => return Err(status_error("SETUP", &track.control, &answer).into()),
            }
            adopt_answer(link, &mut session, &answer, "SETUP", &track.control)?;
            let used = link.used_channels();
            let setup = match interpret_setup(
                &requested,
                &answer,
                server_ip,
                &used,
                &description.sdp,
                &track.media,
                &mut link.quirks,
            ) {
                Ok(setup) => setup,
                Err(SetupProblem::TryTcp(reason)) if auto => {
                    if slot == 0 && session.is_none() {
                        lower = Requested::tcp();
                        continue;
                    }
                    return Err(StartError::TryTcp(reason));
                }
                Err(SetupProblem::TryTcp(detail) | SetupProblem::Fatal(detail)) => {
                    return Err(ClientError::Protocol {
                        method: Some("SETUP".to_owned()),
                        url: track.control.clone(),
                        detail,
                    }
                    .into())
                }
            };
            let stream_slot = tracks.len();
            let (rtp_socket, rtcp_socket, rtcp_dest) = match &setup.delivery {
                Delivery::Interleaved { rtp, rtcp } => {
                    link.route(
                        *rtp,
                        Route {
                            slot: stream_slot,
                            rtcp: false,
                        },
                    );
                    link.route(
                        *rtcp,
                        Route {
                            slot: stream_slot,
                            rtcp: true,
                        },
                    );
                    // The server chose TCP: ask for it from now on.
                    lower = Requested::tcp();
                    (None, None, None)
                }
                Delivery::Udp { server_rtcp, .. } => {
                    let Some((rtp, rtcp)) = sockets.take() else {
                        return Err(StartError::TryTcp("no UDP sockets".to_owned()));
                    };
                    let dest = server_rtcp.map(|port| SocketAddr::new(server_ip, port));
                    (Some(Arc::new(rtp)), Some(Arc::new(rtcp)), dest)
                }
                Delivery::Multicast {
                    group,
                    rtp_port,
                    rtcp_port,
                } => {
                    let rtp = join_multicast(*group, *rtp_port, local_ip);
                    let rtcp = join_multicast(*group, *rtcp_port, local_ip);
                    let (rtp, rtcp) = match (rtp, rtcp) {
                        (Ok(a), Ok(b)) => (a, b),
                        (Err(source), _) | (_, Err(source)) => {
                            return Err(ClientError::Io {
                                url: track.control.clone(),
                                source,
                            }
                            .into())
                        }
                    };
                    (
                        Some(Arc::new(rtp)),
                        Some(Arc::new(rtcp)),
                        Some(SocketAddr::new(*group, *rtcp_port)),
                    )
                }
            };
            tracks.push(TrackStream {
                index,
                delivery: setup.delivery,
                rtp_socket,
                rtcp_socket,
                rtcp_dest,
                stats: ReceiverStats::new(track.clock_rate),
                ssrc_hint: setup.ssrc,
                start: None,
                bye: false,
            });
            break;
        }
    }

    // NAT: open the path back for UDP with a first receiver report (go2rtc, FFmpeg punch holes
    // with a dummy packet); the scheduled report at PLAY does the same from the RTCP socket.
    link.awaiting_play = true;
    let play = link
        .request(
            Method::Play,
            &description.aggregate,
            &[("Range", "npt=0.000-".to_owned())],
        )
        .await;
    link.awaiting_play = false;
    let answer = play?;
    match classify("PLAY", &description.aggregate, &answer) {
        Verdict::Success => {}
        Verdict::Error(e) => return Err(e.into()),
        _ => return Err(status_error("PLAY", &description.aggregate, &answer).into()),
    }
    // The PLAY answer may change the timeout (GW Security: 60 in SETUP, 120 in PLAY).
    adopt_answer(link, &mut session, &answer, "PLAY", &description.aggregate)?;
    let controls: Vec<&str> = tracks
        .iter()
        .filter_map(|t| description.tracks.get(t.index).map(|d| d.control.as_str()))
        .collect();
    let starts = interpret_rtp_info(
        answer.headers.get("RTP-Info"),
        &controls,
        link.options.initial_sequence,
        &mut link.quirks,
    );
    for (track, start) in tracks.iter_mut().zip(starts) {
        track.start = start;
    }
    Ok(Streams {
        tracks,
        session,
        public: description.public.clone(),
    })
}

/// Sends `TEARDOWN` on `link` (when `aggregate` is given and the policy allows), then closes it.
/// Error answers and failures are recorded and ignored (CAMERA-QUIRKS #55). Returns the quirks.
pub(crate) async fn close_quietly(mut link: Link, aggregate: Option<&str>) -> QuirkLog {
    let send = aggregate.is_some()
        && link.options.teardown != TeardownPolicy::Never
        && !link.conn.is_closed()
        && link.requester.session_id.is_some();
    if let (true, Some(uri)) = (send, aggregate) {
        link.discard_data = true;
        match link.request(Method::Teardown, uri, &[]).await {
            Ok(answer) if teardown_gone(answer.status) => {}
            Ok(answer) => link.quirks.record(
                quirk::TEARDOWN_ERROR,
                format!("TEARDOWN answered {}", answer.status),
            ),
            Err(e) => link
                .quirks
                .record(quirk::TEARDOWN_ERROR, format!("TEARDOWN failed: {e}")),
        }
    }
    link.conn.shutdown().await;
    link.quirks
}

pub(crate) fn keepalive_method(policy: KeepalivePolicy, public: &[String]) -> Option<Method> {
    match policy {
        KeepalivePolicy::Disabled => None,
        KeepalivePolicy::Options => Some(Method::Options),
        KeepalivePolicy::GetParameter => Some(Method::GetParameter),
        // FFmpeg: GET_PARAMETER when Public lists it, else OPTIONS.
        _ => Some(
            if public
                .iter()
                .any(|m| m.eq_ignore_ascii_case("GET_PARAMETER"))
            {
                Method::GetParameter
            } else {
                Method::Options
            },
        ),
    }
}

fn no_media(description: &Description, detail: &str) -> ClientError {
    ClientError::NoMedia {
        url: description.request_url.clone(),
        detail: detail.to_owned(),
    }
}

/// The lowest free even channel and the next one.
pub(crate) fn free_pair(used: &[u8]) -> (u8, u8) {
    (0..=127u8)
        .map(|i| (i * 2, i * 2 + 1))
        .find(|(a, b)| !used.contains(a) && !used.contains(b))
        .unwrap_or((254, 255))
}

/// An even RTP port and the next one for RTCP (RFC 3550 §11).
pub(crate) async fn bind_pair(ip: IpAddr) -> std::io::Result<(UdpSocket, UdpSocket)> {
    for _ in 0..64 {
        let rtp = UdpSocket::bind((ip, 0)).await?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 {
            continue;
        }
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if let Ok(rtcp) = UdpSocket::bind((ip, next)).await {
            return Ok((rtp, rtcp));
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free even/odd UDP port pair",
    ))
}

pub(crate) fn port_of(socket: &UdpSocket) -> u16 {
    socket.local_addr().map_or(0, |a| a.port())
}

/// A socket bound to `port` and joined to `group` (shared with other receivers of the group).
fn join_multicast(group: IpAddr, port: u16, local_ip: IpAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let IpAddr::V4(group) = group else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "IPv6 multicast is not supported",
        ));
    };
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port).into())?;
    let interface = match local_ip {
        IpAddr::V4(ip) if !ip.is_loopback() => ip,
        _ => Ipv4Addr::UNSPECIFIED,
    };
    socket.join_multicast_v4(&group, &interface)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket.into())
}

/// IPv4-mapped IPv6 addresses compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_method_follows_public() {
        let public = parse_token_list("OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER");
        assert_eq!(
            keepalive_method(KeepalivePolicy::Auto, &public),
            Some(Method::GetParameter)
        );
        assert_eq!(
            keepalive_method(KeepalivePolicy::Auto, &[]),
            Some(Method::Options)
        );
        assert_eq!(
            keepalive_method(KeepalivePolicy::Options, &public),
            Some(Method::Options)
        );
        assert_eq!(keepalive_method(KeepalivePolicy::Disabled, &public), None);
    }

    #[test]
    fn channel_pairs() {
        assert_eq!(free_pair(&[]), (0, 1));
        assert_eq!(free_pair(&[0, 1, 4, 5]), (2, 3));
        assert_eq!(free_pair(&[0, 1, 3]), (4, 5));
    }

    #[test]
    fn redirect_targets_keep_credentials_on_the_same_host_only() {
        let from = RtspUrl::parse("rtsp://u:p@127.0.0.1:8554/a").unwrap();
        let same = redirect_target(&from, "rtsp://127.0.0.1:9000/b").unwrap();
        assert_eq!(
            same.credentials.as_ref().map(|c| c.username.as_str()),
            Some("u")
        );
        let path = redirect_target(&from, "/c?x=1").unwrap();
        assert_eq!(path.to_request_uri(), "rtsp://127.0.0.1:8554/c?x=1");
        let other = redirect_target(&from, "rtsp://192.0.2.1/b").unwrap();
        assert!(other.credentials.is_none());
        assert!(matches!(
            redirect_target(&from, "rtsps://127.0.0.1/b"),
            Err(ClientError::InvalidUrl { .. })
        ));
    }
}
