//! One RTSP connection: requests in, responses and (for TCP readers) interleaved media out.
//!
//! The connection task reads and decodes; a writer task owns the socket's write half, so responses and media
//! never interleave mid-frame and a reader blocked on a full socket never stalls request handling for others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sluice_rtsp::codec::{Decoder, InterleavedFrame, Limits, Message};
use sluice_rtsp::header::{
    LowerTransport, Profile, RtpInfo, RtpInfoEntry, SessionHeader, Transport, TransportSpec,
};
use sluice_rtsp::message::{Method, Request, Response, StatusCode};
use sluice_rtsp::sdp::SessionDescription;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::play::{self, Dest, Player, Progress, TrackOut, BATCH};
use super::udp::{Activity, RouteGuard};
use super::{now, Event, EventTx, MulticastSender, ServerState, SERVER_NAME};
use crate::config::Source;
use crate::hub::{Claim, ClaimError, NoStream, Stream, Track};

const READ_CHUNK: usize = 64 * 1024;
const PUBLIC: &str = "OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, PAUSE, RECORD, TEARDOWN, GET_PARAMETER, SET_PARAMETER";
const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// What the connection asks of its writer.
pub(crate) enum WriterCmd {
    /// Bytes to write as they are (an encoded response, RTCP).
    Send(Bytes),
    /// Start sending media.
    Play(Box<Player>),
    /// Stop sending media.
    Stop,
}

pub(crate) async fn serve(state: Arc<ServerState>, tcp: TcpStream, peer: SocketAddr, id: u64) {
    let max = state.config.rtsp.max_sessions;
    let count = state
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        + 1;
    let _guard = ConnCount(state.clone());
    let local = tcp.local_addr().unwrap_or(state.config.rtsp.listen);
    // Media goes out in batches, one write per batch; Nagle would only delay the last segment of each.
    let _ = tcp.set_nodelay(true);
    let (mut rd, mut wr) = tcp.into_split();
    if count > max {
        warn!(conn = id, %peer, max, "refused: too many connections (rtsp.max_sessions)");
        let mut out = BytesMut::new();
        Response::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_header("Server", SERVER_NAME)
            .with_header("Connection", "close")
            .encode(&mut out);
        let _ = tokio::time::timeout(Duration::from_secs(1), wr.write_all(&out)).await;
        return;
    }
    info!(conn = id, %peer, "connection opened");
    let (wtx, wrx) = mpsc::channel(32);
    let (etx, mut erx) = mpsc::unbounded_channel();
    let write_timeout = state.config.rtsp.write_timeout();
    let writer = tokio::spawn(writer_task(wr, wrx, etx.clone(), write_timeout, id));
    let r = &state.config.rtsp;
    let limits = Limits {
        max_header_bytes: r.max_header_bytes,
        max_headers: r.max_headers,
        max_body_bytes: r.max_body_bytes,
    };
    let mut conn = Conn {
        decoder: Decoder::new(limits),
        state,
        id,
        peer,
        local,
        wtx,
        etx,
        session: None,
        announced: None,
    };
    let reason = conn.run(&mut rd, &mut erx).await;
    conn.end_session();
    info!(conn = id, %peer, reason = %reason, "connection closed");
    drop(conn);
    // Let the writer flush a last response (a 400 before closing, say).
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

struct ConnCount(Arc<ServerState>);

impl Drop for ConnCount {
    fn drop(&mut self) {
        self.0
            .connections
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

struct Conn {
    state: Arc<ServerState>,
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    wtx: mpsc::Sender<WriterCmd>,
    etx: EventTx,
    decoder: Decoder,
    session: Option<Session>,
    /// A publisher between ANNOUNCE and its first SETUP.
    announced: Option<Announced>,
}

struct Announced {
    claim: Claim,
    sdp: SessionDescription,
}

struct Session {
    id: String,
    activity: Arc<Activity>,
    role: Role,
}

enum Role {
    Reader(ReaderSession),
    Publisher(Box<PublisherSession>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tcp,
    Udp,
    Multicast,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "TCP",
            Kind::Udp => "UDP",
            Kind::Multicast => "multicast",
        }
    }
}

struct ReaderSession {
    stream: Arc<Stream>,
    kind: Kind,
    /// (stream track, where RTP goes, where RTCP goes)
    setups: Vec<(usize, Dest, Dest)>,
    playing: Option<Playing>,
    /// What was sent, kept across PAUSE.
    progress: Progress,
    _routes: Option<RouteGuard>,
}

enum Playing {
    Tcp,
    Udp(#[allow(dead_code)] AbortOnDrop),
    Multicast(#[allow(dead_code)] Arc<MulticastSender>),
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct PublisherSession {
    claim: Claim,
    sdp: SessionDescription,
    kind: Kind,
    /// Media index in the SDP → (RTP channel or client RTP address, RTCP address).
    setups: Vec<(usize, Dest, Dest)>,
    /// Interleaved channel → stream track (RTP on even, RTCP on odd).
    channels: Vec<(u8, usize, bool)>,
    stream: Option<Arc<Stream>>,
    _routes: Option<RouteGuard>,
}

/// A response and what to do after sending it.
struct Reply {
    resp: Response,
    then: Option<WriterCmd>,
    close: bool,
}

impl From<Response> for Reply {
    fn from(resp: Response) -> Reply {
        Reply {
            resp,
            then: None,
            close: false,
        }
    }
}

fn error(status: StatusCode, why: impl std::fmt::Display) -> Reply {
    let mut r = Response::new(status);
    r.reason = format!("{} ({why})", status.canonical_reason());
    r.into()
}

impl Conn {
    async fn run(
        &mut self,
        rd: &mut tokio::net::tcp::OwnedReadHalf,
        erx: &mut mpsc::UnboundedReceiver<Event>,
    ) -> String {
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(READ_CHUNK);
            }
            tokio::select! {
                r = rd.read_buf(&mut buf) => match r {
                    Ok(0) => return "closed by client".into(),
                    Ok(_) => {
                        if let Some(reason) = self.drain(&mut buf).await {
                            return reason;
                        }
                    }
                    Err(e) => return format!("read error: {e}"),
                },
                ev = erx.recv() => match ev {
                    Some(Event::StreamEnded) => return "the stream ended (its source left)".into(),
                    Some(Event::WriterClosed(why)) => return why,
                    None => return "internal: event channel closed".into(),
                },
                _ = tick.tick() => {
                    if let Some(reason) = self.check_session() {
                        return reason;
                    }
                }
            }
        }
    }

    /// Handles every complete message in `buf`. `Some(reason)` closes the connection.
    async fn drain(&mut self, buf: &mut BytesMut) -> Option<String> {
        loop {
            match self.decoder.decode(buf) {
                Ok(None) => return None,
                Ok(Some(Message::Data(frame))) => self.on_data(frame),
                Ok(Some(Message::Request(req))) => {
                    let cseq = req.cseq();
                    let method = req.method.clone();
                    let reply = self.handle(req).await;
                    let status = reply.resp.status;
                    if !status.is_success() {
                        info!(conn = self.id, %method, status = status.0, reason = %reply.resp.reason, "request refused");
                    }
                    let close = reply.close;
                    self.respond(reply, cseq).await;
                    if close {
                        return Some(format!("{method} answered {}", status.0));
                    }
                }
                // A response (a client answering something we never asked): nothing to do.
                Ok(Some(_)) => {}
                Err(e) => {
                    let fatal = e.is_fatal();
                    warn!(conn = self.id, peer = %self.peer, error = %e, fatal, "bad request");
                    let mut r = error(e.status(), &e);
                    r.close = fatal;
                    self.respond(r, e.cseq).await;
                    if fatal {
                        return Some(format!("bad request: {e}"));
                    }
                }
            }
        }
    }

    async fn respond(&mut self, mut reply: Reply, cseq: Option<u32>) {
        let h = &mut reply.resp.headers;
        if let Some(c) = cseq {
            h.insert("CSeq", c.to_string());
        }
        h.insert("Server", SERVER_NAME);
        if reply.close {
            h.insert("Connection", "close");
        }
        if let Some(s) = &self.session {
            if h.get("Session").is_none() {
                let timeout = self.state.config.rtsp.session_timeout;
                h.insert(
                    "Session",
                    SessionHeader {
                        id: s.id.clone(),
                        timeout: Some(timeout),
                    }
                    .to_string(),
                );
            }
        }
        let mut out = BytesMut::with_capacity(256 + reply.resp.body.len());
        reply.resp.encode(&mut out);
        let _ = self.wtx.send(WriterCmd::Send(out.freeze())).await;
        if let Some(cmd) = reply.then {
            let _ = self.wtx.send(cmd).await;
        }
    }

    fn on_data(&mut self, frame: InterleavedFrame) {
        let Some(s) = &self.session else { return };
        s.activity.touch(now());
        if let Role::Reader(_) = &s.role {
            // Readers send RTCP receiver reports on the odd channels.
            if frame.channel % 2 == 1 {
                s.activity.on_rtcp(&frame.payload);
            }
        }
        if let Role::Publisher(p) = &s.role {
            let Some(stream) = &p.stream else { return };
            if let Some(&(_, track, is_rtp)) =
                p.channels.iter().find(|(c, _, _)| *c == frame.channel)
            {
                if is_rtp {
                    stream.publish(track, frame.payload);
                }
            }
        }
    }

    /// Session timeout and the end of a multicast stream. `Some(reason)` closes the connection.
    fn check_session(&mut self) -> Option<String> {
        let s = self.session.as_ref()?;
        let (kind, live) = match &s.role {
            Role::Reader(r) => (r.kind, r.stream.is_live()),
            Role::Publisher(p) => (p.kind, true),
        };
        if !live {
            return Some("the stream ended (its source left)".into());
        }
        let timeout = self.state.config.rtsp.session_timeout();
        // TCP sessions live as long as their connection; UDP ones need signs of life.
        if kind != Kind::Tcp && s.activity.idle(now()) > timeout {
            return Some(format!(
                "session {} timed out after {}s without a request or RTCP report",
                s.id,
                timeout.as_secs()
            ));
        }
        None
    }

    fn end_session(&mut self) {
        self.announced = None;
        if let Some(s) = self.session.take() {
            match s.role {
                Role::Reader(r) => {
                    if r.playing.is_some() {
                        let report = s.activity.reader_report();
                        info!(
                            conn = self.id,
                            path = r.stream.path(),
                            reported_tracks = report.tracks,
                            reported_lost = report.lost,
                            reported_jitter = report.jitter,
                            "reader left"
                        );
                    }
                }
                Role::Publisher(p) => {
                    if let Some(stream) = &p.stream {
                        let st = stream.stats();
                        info!(
                            conn = self.id,
                            path = p.claim.path(),
                            packets = st.packets_in.load(std::sync::atomic::Ordering::Relaxed),
                            bytes = st.bytes_in.load(std::sync::atomic::Ordering::Relaxed),
                            "publisher left"
                        );
                    }
                }
            }
        }
    }

    async fn handle(&mut self, req: Request) -> Reply {
        debug!(conn = self.id, method = %req.method, uri = %req.uri, "request");
        if let Some(h) = req.headers.get("Session") {
            let id = h.split(';').next().unwrap_or("").trim();
            match &self.session {
                Some(s) if s.id == id => s.activity.touch(now()),
                _ => {
                    return error(
                        StatusCode::SESSION_NOT_FOUND,
                        format_args!("no session `{id}` on this connection"),
                    )
                }
            }
        }
        // RFC 2326 §12.32: this server implements no option a client may require.
        if let Some(required) = req.headers.get("Require") {
            let options = sluice_rtsp::header::parse_token_list(required).join(", ");
            if !options.is_empty() {
                let mut reply = error(
                    StatusCode::OPTION_NOT_SUPPORTED,
                    format_args!("options not supported: {options}"),
                );
                reply.resp.headers.insert("Unsupported", options);
                return reply;
            }
        }
        match req.method {
            Method::Options => Response::new(StatusCode::OK)
                .with_header("Public", PUBLIC)
                .into(),
            Method::Describe => self.describe(&req).await,
            Method::Announce => self.announce(&req),
            Method::Setup => self.setup(&req),
            Method::Play => self.play(&req),
            Method::Pause => self.pause(),
            Method::Record => self.record(),
            Method::Teardown => self.teardown(),
            Method::GetParameter | Method::SetParameter => Response::new(StatusCode::OK).into(),
            _ => error(
                StatusCode::NOT_IMPLEMENTED,
                format_args!("method {} is not supported", req.method),
            ),
        }
    }

    async fn describe(&mut self, req: &Request) -> Reply {
        let Some(path) = url_path(&req.uri) else {
            return error(StatusCode::BAD_REQUEST, "not an rtsp:// URL");
        };
        let configured = self.state.config.paths.get(path);
        let wait = configured.map_or(Duration::ZERO, |p| {
            Duration::from_secs_f64(p.on_demand_start_timeout)
        });
        let stream = match self.state.hub.stream_or_demand(path, wait).await {
            Ok(s) => s,
            // A camera path whose camera is not connected (it is retried in the background).
            Err(NoStream::Absent)
                if configured.is_some_and(|p| matches!(p.source, Source::Rtsp(_))) =>
            {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format_args!("the source of `{path}` is not connected"),
                )
            }
            Err(NoStream::Absent) => {
                return error(
                    StatusCode::NOT_FOUND,
                    format_args!("no stream on path `{path}`"),
                )
            }
            // RFC 2326 §11.5.3: the server cannot serve the request now.
            Err(NoStream::Unavailable(Some(failure))) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format_args!("the source of `{path}` failed: {}", failure.reason),
                )
            }
            Err(NoStream::Unavailable(None)) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format_args!("the source of `{path}` did not start in time"),
                )
            }
        };
        let sdp = stream.reader_sdp(&self.local.ip().to_string());
        Response::new(StatusCode::OK)
            .with_header("Content-Base", base_url(&req.uri))
            .with_body("application/sdp", sdp)
            .into()
    }

    fn announce(&mut self, req: &Request) -> Reply {
        if self.session.is_some() || self.announced.is_some() {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "a session is already set up on this connection",
            );
        }
        let Some(path) = url_path(&req.uri) else {
            return error(StatusCode::BAD_REQUEST, "not an rtsp:// URL");
        };
        if let Some(ct) = req.headers.get("Content-Type") {
            if !ct.to_ascii_lowercase().starts_with("application/sdp") {
                return error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format_args!("Content-Type `{ct}`; expected application/sdp"),
                );
            }
        }
        let sdp = match SessionDescription::parse(&req.body) {
            Ok(s) if !s.media.is_empty() => s,
            Ok(_) => return error(StatusCode::BAD_REQUEST, "the SDP has no media"),
            Err(e) => return error(StatusCode::BAD_REQUEST, format_args!("bad SDP: {e}")),
        };
        let claim = match self.state.hub.claim(path) {
            Ok(c) => c,
            Err(e @ ClaimError::NotConfigured(_)) => return error(StatusCode::NOT_FOUND, e),
            Err(e @ ClaimError::BadName(_)) => return error(StatusCode::BAD_REQUEST, e),
            Err(e) => return error(StatusCode::FORBIDDEN, e),
        };
        self.announced = Some(Announced { claim, sdp });
        Response::new(StatusCode::OK).into()
    }

    fn setup(&mut self, req: &Request) -> Reply {
        let Some(th) = req.headers.get("Transport") else {
            return error(StatusCode::BAD_REQUEST, "no Transport header");
        };
        let Ok(transport) = Transport::parse(th) else {
            return error(
                StatusCode::UNSUPPORTED_TRANSPORT,
                format_args!("cannot parse Transport `{th}`"),
            );
        };
        let Some(path) = url_path(&req.uri) else {
            return error(StatusCode::BAD_REQUEST, "not an rtsp:// URL");
        };
        let publishing = self.announced.is_some()
            || matches!(
                &self.session,
                Some(Session {
                    role: Role::Publisher(_),
                    ..
                })
            );
        // RTP/AVP only (SRTP needs RTSPS), over UDP, multicast UDP or TCP.
        // Some cameras' clients send `interleaved=` without `/TCP`: the lower transport is then TCP.
        let spec = transport.0.iter().find(|t| {
            let supported = match t.effective_lower() {
                LowerTransport::Tcp => true,
                LowerTransport::Udp => t.multicast || t.client_port.is_some(),
                _ => false,
            };
            t.profile == Profile::Avp && supported && !(publishing && t.multicast)
        });
        let Some(mut spec) = spec.cloned() else {
            return error(
                StatusCode::UNSUPPORTED_TRANSPORT,
                format_args!("none of `{th}` is supported"),
            );
        };
        spec.lower = spec.effective_lower();
        if publishing {
            self.setup_publisher(path, spec)
        } else {
            self.setup_reader(path, spec)
        }
    }

    fn new_session_id() -> String {
        format!("{:016X}", rand::random::<u64>())
    }

    fn setup_publisher(&mut self, path: &str, spec: TransportSpec) -> Reply {
        if let Some(a) = self.announced.take() {
            self.session = Some(Session {
                id: Self::new_session_id(),
                activity: Activity::new(),
                role: Role::Publisher(Box::new(PublisherSession {
                    claim: a.claim,
                    sdp: a.sdp,
                    kind: if spec.lower == LowerTransport::Tcp {
                        Kind::Tcp
                    } else {
                        Kind::Udp
                    },
                    setups: Vec::new(),
                    channels: Vec::new(),
                    stream: None,
                    _routes: None,
                })),
            });
        }
        let peer_ip = self.peer.ip();
        let (rtp_port, rtcp_port) = self.state.udp.ports();
        let Some(Session {
            role: Role::Publisher(p),
            ..
        }) = &mut self.session
        else {
            return error(StatusCode::METHOD_NOT_VALID_IN_THIS_STATE, "not publishing");
        };
        if p.stream.is_some() {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "already recording",
            );
        }
        let kind = if spec.lower == LowerTransport::Tcp {
            Kind::Tcp
        } else {
            Kind::Udp
        };
        if kind != p.kind {
            return error(
                StatusCode::UNSUPPORTED_TRANSPORT,
                "all tracks must use the same transport",
            );
        }
        let Some(media) = publisher_media(&p.sdp, p.claim.path(), path, &p.setups) else {
            return error(
                StatusCode::NOT_FOUND,
                format_args!("no announced track matches `{path}`"),
            );
        };
        let mut reply = spec.clone();
        reply.mode = None;
        match kind {
            Kind::Tcp => {
                let (a, b) = spec
                    .interleaved
                    .unwrap_or((2 * media as u8, 2 * media as u8 + 1));
                if p.channels.iter().any(|(c, _, _)| *c == a || *c == b) {
                    return error(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        "interleaved channels already in use",
                    );
                }
                p.setups.push((media, Dest::Channel(a), Dest::Channel(b)));
                reply.interleaved = Some((a, b));
            }
            _ => {
                let Some((a, b)) = spec.client_port else {
                    return error(StatusCode::UNSUPPORTED_TRANSPORT, "UDP without client_port");
                };
                p.setups.push((
                    media,
                    Dest::Addr(SocketAddr::new(peer_ip, a)),
                    Dest::Addr(SocketAddr::new(peer_ip, b)),
                ));
                reply.server_port = Some((rtp_port, rtcp_port));
            }
        }
        Response::new(StatusCode::OK)
            .with_header("Transport", reply.to_string())
            .into()
    }

    fn setup_reader(&mut self, path: &str, spec: TransportSpec) -> Reply {
        let Some((stream, track)) = resolve_track(&self.state.hub, path) else {
            return error(
                StatusCode::NOT_FOUND,
                format_args!("no stream or track at `{path}`"),
            );
        };
        let kind = match (spec.lower, spec.multicast) {
            (LowerTransport::Tcp, _) => Kind::Tcp,
            (_, true) => Kind::Multicast,
            _ => Kind::Udp,
        };
        if self.session.is_none() {
            self.session = Some(Session {
                id: Self::new_session_id(),
                activity: Activity::new(),
                role: Role::Reader(ReaderSession {
                    stream: stream.clone(),
                    kind,
                    setups: Vec::new(),
                    playing: None,
                    progress: Progress::new(stream.tracks().len()),
                    _routes: None,
                }),
            });
        }
        let peer_ip = self.peer.ip();
        let (rtp_port, rtcp_port) = self.state.udp.ports();
        let Some(Session {
            role: Role::Reader(r),
            ..
        }) = &mut self.session
        else {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "this session publishes",
            );
        };
        if !Arc::ptr_eq(&r.stream, &stream) {
            return error(
                StatusCode::AGGREGATE_OPERATION_NOT_ALLOWED,
                "tracks of one session must come from one stream",
            );
        }
        if r.playing.is_some() {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "SETUP while playing is not supported",
            );
        }
        if kind != r.kind {
            return error(
                StatusCode::UNSUPPORTED_TRANSPORT,
                "all tracks must use the same transport",
            );
        }
        r.setups.retain(|(t, _, _)| *t != track);
        let mut reply = TransportSpec::new(Profile::Avp, spec.lower);
        reply.multicast = spec.multicast;
        match kind {
            Kind::Tcp => {
                let (a, b) = spec
                    .interleaved
                    .unwrap_or((2 * track as u8, 2 * track as u8 + 1));
                let used = |c: u8| {
                    r.setups.iter().any(|(_, x, y)| matches!((x, y), (Dest::Channel(p), Dest::Channel(q)) if *p == c || *q == c))
                };
                if used(a) || used(b) {
                    return error(
                        StatusCode::UNSUPPORTED_TRANSPORT,
                        "interleaved channels already in use",
                    );
                }
                r.setups.push((track, Dest::Channel(a), Dest::Channel(b)));
                reply.interleaved = Some((a, b));
            }
            Kind::Udp => {
                let Some((a, b)) = spec.client_port else {
                    return error(StatusCode::UNSUPPORTED_TRANSPORT, "UDP without client_port");
                };
                r.setups.push((
                    track,
                    Dest::Addr(SocketAddr::new(peer_ip, a)),
                    Dest::Addr(SocketAddr::new(peer_ip, b)),
                ));
                reply.client_port = Some((a, b));
                reply.server_port = Some((rtp_port, rtcp_port));
            }
            Kind::Multicast => {
                let Some(group) = self.state.groups.group(stream.path()) else {
                    return error(
                        StatusCode::NOT_ENOUGH_BANDWIDTH,
                        "multicast range used up (rtsp.multicast_range)",
                    );
                };
                let c = &self.state.config.rtsp;
                let port = c.multicast_rtp_port.wrapping_add(2 * track as u16);
                let gaddr = |p: u16| Dest::Addr(SocketAddr::new(group.into(), p));
                r.setups
                    .push((track, gaddr(port), gaddr(port.wrapping_add(1))));
                reply.destination = Some(group.to_string());
                reply.port = Some((port, port.wrapping_add(1)));
                reply.ttl = Some(c.multicast_ttl);
            }
        }
        Response::new(StatusCode::OK)
            .with_header("Transport", reply.to_string())
            .into()
    }

    fn play(&mut self, req: &Request) -> Reply {
        let Some(s) = &mut self.session else {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "PLAY before SETUP",
            );
        };
        let Role::Reader(r) = &mut s.role else {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "this session publishes",
            );
        };
        if r.setups.is_empty() {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "PLAY before SETUP",
            );
        }
        let range = "npt=0.000-";
        if r.playing.is_some() {
            return Response::new(StatusCode::OK)
                .with_header("Range", range)
                .into();
        }
        let Some(sub) = r.stream.subscribe() else {
            return error(StatusCode::NOT_FOUND, "the stream has ended");
        };
        let tracks = r.stream.tracks();
        let mut outs: Vec<Option<TrackOut>> = (0..tracks.len()).map(|_| None).collect();
        for &(t, rtp, rtcp) in &r.setups {
            if let (Some(slot), Some(track)) = (outs.get_mut(t), tracks.get(t)) {
                *slot = Some(TrackOut::new(rtp, rtcp, track.clock_rate));
            }
        }
        let player = Player::new(sub, r.stream.video_track(), outs, r.progress.clone());
        let base = base_url(&req.uri);
        let first = player.first_packets();
        let mut info = RtpInfo(Vec::new());
        for &(t, _, _) in &r.setups {
            let (seq, rtptime) = first
                .get(t)
                .copied()
                .flatten()
                .map_or((None, None), |(a, b)| (Some(a), Some(b)));
            info.0.push(RtpInfoEntry {
                url: format!("{base}trackID={t}"),
                seq,
                rtptime,
                ssrc: None,
            });
        }
        let mut reply: Reply = Response::new(StatusCode::OK)
            .with_header("Range", range)
            .with_header("RTP-Info", info.to_string())
            .into();
        info!(conn = self.id, peer = %self.peer, path = r.stream.path(), transport = r.kind.name(), "reader started");
        match r.kind {
            Kind::Tcp => {
                reply.then = Some(WriterCmd::Play(Box::new(player)));
                r.playing = Some(Playing::Tcp);
            }
            Kind::Udp => {
                let rtcp_sources: Vec<SocketAddr> = r
                    .setups
                    .iter()
                    .filter_map(|(_, _, d)| match d {
                        Dest::Addr(a) => Some(*a),
                        Dest::Channel(_) => None,
                    })
                    .collect();
                r._routes = Some(self.state.udp.route_reader(&rtcp_sources, &s.activity));
                let task = tokio::spawn(udp_play(
                    player,
                    self.state.udp.rtp.clone(),
                    self.state.udp.rtcp.clone(),
                    Some(self.etx.clone()),
                    play::catchup_mbps(
                        self.state.config.rtsp.udp_catchup_mbps,
                        r.stream.mbps(now()),
                    ),
                ));
                r.playing = Some(Playing::Udp(AbortOnDrop(task)));
            }
            Kind::Multicast => {
                drop(player);
                let Some(group) = self.state.groups.group(r.stream.path()) else {
                    return error(StatusCode::NOT_ENOUGH_BANDWIDTH, "multicast range used up");
                };
                match self.state.multicast(&r.stream, group) {
                    Ok(m) => r.playing = Some(Playing::Multicast(m)),
                    Err(e) => {
                        return error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            format_args!("multicast: {e}"),
                        )
                    }
                }
            }
        }
        reply
    }

    fn pause(&mut self) -> Reply {
        let Some(s) = &mut self.session else {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "PAUSE without a session",
            );
        };
        let mut reply: Reply = Response::new(StatusCode::OK).into();
        if let Role::Reader(r) = &mut s.role {
            if let Some(Playing::Tcp) = r.playing.take() {
                reply.then = Some(WriterCmd::Stop);
            }
        }
        reply
    }

    fn record(&mut self) -> Reply {
        let Some(s) = &mut self.session else {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "RECORD before ANNOUNCE and SETUP",
            );
        };
        let Role::Publisher(p) = &mut s.role else {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "RECORD on a reading session",
            );
        };
        if p.stream.is_some() {
            return Response::new(StatusCode::OK).into();
        }
        if p.setups.is_empty() {
            return error(
                StatusCode::METHOD_NOT_VALID_IN_THIS_STATE,
                "RECORD before SETUP",
            );
        }
        // The stream's tracks are the media that were set up, in SDP order.
        let mut setups = p.setups.clone();
        setups.sort_by_key(|(m, _, _)| *m);
        let tracks: Vec<Track> = setups
            .iter()
            .filter_map(|(m, _, _)| p.sdp.media.get(*m).cloned().map(Track::from_media))
            .collect();
        let desc: Vec<String> = tracks
            .iter()
            .map(|t| format!("{}/{}", t.encoding, t.clock_rate))
            .collect();
        let stream = p.claim.start(tracks);
        let mut udp = Vec::new();
        for (track, (_, rtp, rtcp)) in setups.iter().enumerate() {
            match (rtp, rtcp) {
                (Dest::Channel(a), Dest::Channel(b)) => {
                    p.channels.push((*a, track, true));
                    p.channels.push((*b, track, false));
                }
                (Dest::Addr(a), Dest::Addr(b)) => udp.push((track, *a, *b)),
                _ => {}
            }
        }
        if !udp.is_empty() {
            p._routes = Some(self.state.udp.route_publisher(&stream, &udp, &s.activity));
        }
        info!(
            conn = self.id,
            peer = %self.peer,
            path = p.claim.path(),
            transport = p.kind.name(),
            tracks = %desc.join(", "),
            "publisher started"
        );
        p.stream = Some(stream);
        Response::new(StatusCode::OK).into()
    }

    fn teardown(&mut self) -> Reply {
        let stop = matches!(
            &self.session,
            Some(Session {
                role: Role::Reader(ReaderSession {
                    playing: Some(Playing::Tcp),
                    ..
                }),
                ..
            })
        );
        self.end_session();
        let mut r: Reply = Response::new(StatusCode::OK).into();
        if stop {
            r.then = Some(WriterCmd::Stop);
        }
        r
    }
}

/// The media index an ANNOUNCE'd SDP gives the SETUP URL `path` (its control attribute, relative to the path
/// or absolute). When the SDP has no controls, SETUPs take the media in order.
fn publisher_media(
    sdp: &SessionDescription,
    base: &str,
    path: &str,
    done: &[(usize, Dest, Dest)],
) -> Option<usize> {
    let free = |i: &usize| !done.iter().any(|(m, _, _)| m == i);
    for (i, m) in sdp.media.iter().enumerate() {
        let Some(c) = m.control() else { continue };
        let target = if c.contains("://") {
            url_path(c).unwrap_or("").to_string()
        } else {
            format!("{}/{}", base, c.trim_matches('/'))
        };
        if target.trim_matches('/') == path && free(&i) {
            return Some(i);
        }
    }
    if path == base || sdp.media.iter().all(|m| m.control().is_none()) {
        return (0..sdp.media.len()).find(free);
    }
    None
}

/// The stream and track a reader's SETUP URL names: `<path>/trackID=<n>`, or `<path>` for a single track.
fn resolve_track(hub: &crate::hub::Hub, path: &str) -> Option<(Arc<Stream>, usize)> {
    if let Some((base, last)) = path.rsplit_once('/') {
        if let Some(n) = last.strip_prefix("trackID=") {
            let stream = hub.stream(base)?;
            let n: usize = n.parse().ok()?;
            return (n < stream.tracks().len()).then_some((stream, n));
        }
    }
    let stream = hub.stream(path)?;
    (stream.tracks().len() == 1).then_some((stream, 0))
}

/// The path of an RTSP URL, without slashes at either end, query or fragment. `None` if it is no URL.
pub(crate) fn url_path(uri: &str) -> Option<&str> {
    let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
    let rest = if let Some(scheme_len) = ["rtsp://", "rtsps://", "rtspu://"]
        .iter()
        .find(|s| lower.starts_with(*s))
        .map(|s| s.len())
    {
        let after = uri.get(scheme_len..)?;
        after.find('/').map_or("", |i| &after[i..])
    } else if uri.starts_with('/') {
        uri
    } else {
        return None;
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    Some(rest.trim_matches('/'))
}

/// `Content-Base` for a request URL: the URL without query, ending in `/`.
fn base_url(uri: &str) -> String {
    let u = uri.split('?').next().unwrap_or(uri);
    format!("{}/", u.trim_end_matches('/'))
}

async fn writer_task(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::Receiver<WriterCmd>,
    etx: EventTx,
    write_timeout: Duration,
    id: u64,
) {
    let mut player: Option<Box<Player>> = None;
    let mut batch = Vec::with_capacity(BATCH);
    let mut reports = tokio::time::interval(REPORT_INTERVAL);
    reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let playing = player.is_some();
        tokio::select! {
            biased;
            cmd = rx.recv() => match cmd {
                None => break,
                Some(WriterCmd::Send(b)) => {
                    if let Err(why) = timed(write_timeout, w.write_all(&b)).await {
                        let _ = etx.send(Event::WriterClosed(why));
                        break;
                    }
                }
                Some(WriterCmd::Play(p)) => player = Some(p),
                Some(WriterCmd::Stop) => {
                    if let Some(p) = player.take() {
                        log_reader(id, &p);
                    }
                    batch.clear();
                }
            },
            alive = fill(&mut player, &mut batch), if playing => {
                let Some(p) = player.as_mut() else { continue };
                if !alive {
                    let bye = play::send_rtcp(p.goodbyes(), None).await;
                    let _ = timed(write_timeout, w.write_all(&bye)).await;
                    log_reader(id, p);
                    player = None;
                    let _ = etx.send(Event::StreamEnded);
                    continue;
                }
                if let Err(why) = timed(write_timeout, p.write_tcp(&mut w, &batch)).await {
                    p.state.lost += batch.len() as u64;
                    p.abandon();
                    log_reader(id, p);
                    let _ = etx.send(Event::WriterClosed(why));
                    break;
                }
                batch.clear();
            },
            _ = reports.tick(), if playing => {
                if let Some(p) = player.as_ref() {
                    let sr = play::send_rtcp(p.sender_reports(now()), None).await;
                    if !sr.is_empty() {
                        if let Err(why) = timed(write_timeout, w.write_all(&sr)).await {
                            let _ = etx.send(Event::WriterClosed(why));
                            break;
                        }
                    }
                }
            }
        }
    }
    let _ = w.shutdown().await;
}

async fn fill(player: &mut Option<Box<Player>>, batch: &mut Vec<crate::hub::Packet>) -> bool {
    match player {
        Some(p) => p.fill(batch).await,
        None => std::future::pending().await,
    }
}

async fn timed<F: std::future::Future<Output = std::io::Result<()>>>(
    limit: Duration,
    f: F,
) -> Result<(), String> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("write error: {e}")),
        Err(_) => Err(format!(
            "reader blocked for {}s (rtsp.write_timeout)",
            limit.as_secs()
        )),
    }
}

fn log_reader(id: u64, p: &Player) {
    info!(
        conn = id,
        sent = p.state.sent,
        lost = p.state.lost,
        "reader stopped"
    );
}

/// Sends a player's packets over UDP until the stream ends (then RTCP BYE and [`Event::StreamEnded`]).
/// The GOP cache goes out at `catchup_mbps` at most (`rtsp.udp_catchup_mbps`).
pub(crate) async fn udp_play(
    mut p: Player,
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    events: Option<EventTx>,
    catchup_mbps: f64,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut reports = tokio::time::interval(REPORT_INTERVAL);
    reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let catching_up = p.catching_up();
        tokio::select! {
            alive = p.fill(&mut batch) => {
                if !alive {
                    play::send_rtcp(p.goodbyes(), Some(&rtcp)).await;
                    if let Some(e) = &events {
                        let _ = e.send(Event::StreamEnded);
                    }
                    return;
                }
                p.send_udp(&rtp, &batch).await;
                if catching_up {
                    let bytes = batch.iter().map(|x| x.data.len()).sum();
                    tokio::time::sleep(play::catchup_pause(bytes, catchup_mbps)).await;
                }
                batch.clear();
            }
            _ = reports.tick() => {
                play::send_rtcp(p.sender_reports(now()), Some(&rtcp)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths() {
        assert_eq!(
            url_path("rtsp://h:8554/a/b/trackID=0"),
            Some("a/b/trackID=0")
        );
        assert_eq!(url_path("RTSP://h/lobby/"), Some("lobby"));
        assert_eq!(url_path("rtsp://h:8554"), Some(""));
        assert_eq!(url_path("rtsp://h/x?token=1"), Some("x"));
        assert_eq!(url_path("/x/y"), Some("x/y"));
        assert_eq!(url_path("*"), None);
        assert_eq!(url_path("rtsp:/"), None);
        assert_eq!(base_url("rtsp://h/x?y=1"), "rtsp://h/x/");
    }
}
