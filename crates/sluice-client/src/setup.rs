//! Transport negotiation, the session id and `RTP-Info` (sans-IO).

use std::net::IpAddr;

use sluice_rtsp::header::{
    LowerTransport, Profile, RtpInfo, SessionHeader, Transport as TransportHeader, TransportSpec,
};
use sluice_rtsp::message::Response;
use sluice_rtsp::sdp::{MediaDescription, SessionDescription};

use crate::error::ClientError;
use crate::link::Link;
use crate::options::{InitialSequencePolicy, SessionIdPolicy};
use crate::quirk::{self, QuirkLog};

/// How media reaches the client.
///
/// # Tolerances
///
/// - The request always says `unicast` or `multicast` and never `mode` (a PLAY-side `mode=play`
///   upsets some servers, CAMERA-QUIRKS #16, #18).
/// - TCP or UDP is decided by the presence of `interleaved=` in the answer, not by the profile token
///   (Escam Q6 answers `RTP/AVP;…;interleaved=0-1`), and a UDP request answered with interleaved
///   channels is carried over TCP (#14).
/// - The server's interleaved channels are adopted when they are free, a single channel `n` means
///   `n, n+1`, and a TCP answer without `interleaved=` keeps the requested pair (#13).
/// - `server_port` may be missing, 0, 1 or a single port, and `source=` may name loopback (OpenIPC,
///   H264DVR); UDP media is accepted from the RTSP server's address on any port (see
///   [`UdpSourcePolicy`](crate::options::UdpSourcePolicy)) and RTCP goes to `server_port + 1`, or to
///   where the server's RTCP comes from (#15).
/// - A unicast request answered with multicast-style delivery (`port=` without `server_port`, as
///   VLC's server does) is not used: TCP is tried with
///   [`TransportPolicy::Auto`](crate::TransportPolicy::Auto), otherwise it is an error (#16).
/// - The SSRC in `Transport` may be short, padded, decimal or absent; it is only a hint (#17).
/// - Session ids may change between `SETUP`s ([`SessionIdPolicy`]), timeouts may be missing, 0 or
///   change (#10–#12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// Interleaved in the RTSP connection.
    Tcp,
    /// Unicast UDP.
    Udp,
    /// Multicast UDP.
    Multicast,
}

/// What the client asks for in one `SETUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requested {
    Tcp { channels: (u8, u8) },
    Udp { client_ports: (u16, u16) },
    Multicast,
}

impl Requested {
    /// The `Transport` header value.
    pub(crate) fn header(&self) -> String {
        // RFC 2326 §12.39.
        let spec = match *self {
            Requested::Tcp { channels } => {
                let mut spec = TransportSpec::new(Profile::Avp, LowerTransport::Tcp);
                spec.interleaved = Some(channels);
                spec
            }
            Requested::Udp { client_ports } => {
                let mut spec = TransportSpec::new(Profile::Avp, LowerTransport::Udp);
                spec.client_port = Some(client_ports);
                spec
            }
            Requested::Multicast => {
                let mut spec = TransportSpec::new(Profile::Avp, LowerTransport::Udp);
                spec.multicast = true;
                spec
            }
        };
        spec.to_string()
    }
}

/// How one track's media arrives, as negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Delivery {
    Interleaved {
        rtp: u8,
        rtcp: u8,
    },
    Udp {
        /// Where RTCP reports go (`server_port + 1`), if the server said.
        server_rtcp: Option<u16>,
        /// The announced RTP port, to notice packets from elsewhere.
        server_rtp: Option<u16>,
    },
    Multicast {
        group: IpAddr,
        rtp_port: u16,
        rtcp_port: u16,
    },
}

impl Delivery {
    pub(crate) fn transport(&self) -> Transport {
        match self {
            Delivery::Interleaved { .. } => Transport::Tcp,
            Delivery::Udp { .. } => Transport::Udp,
            Delivery::Multicast { .. } => Transport::Multicast,
        }
    }
}

/// A usable `SETUP` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetupAnswer {
    pub(crate) delivery: Delivery,
    /// The SSRC the server announced, a hint only.
    pub(crate) ssrc: Option<u32>,
}

/// Why a `SETUP` answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetupProblem {
    /// The transport is refused or unusable; TCP may work (with [`TransportPolicy::Auto`]).
    ///
    /// [`TransportPolicy::Auto`]: crate::TransportPolicy::Auto
    TryTcp(String),
    /// Nothing to retry.
    Fatal(String),
}

/// Interprets the `Transport` of a successful `SETUP` answer.
///
/// `used_channels` are the interleaved channels earlier tracks took; `server_ip` is the RTSP
/// server's address; `sdp`/`media` give the multicast fallback (the `c=` address and `m=` port, as
/// FFmpeg does).
pub(crate) fn interpret_setup(
    requested: &Requested,
    response: &Response,
    server_ip: IpAddr,
    used_channels: &[u8],
    sdp: &SessionDescription,
    media: &MediaDescription,
    quirks: &mut QuirkLog,
) -> Result<SetupAnswer, SetupProblem> {
    let spec = match response.headers.get("Transport") {
        None => None,
        Some(value) => Some(
            TransportHeader::parse(value)
                .map_err(|e| SetupProblem::Fatal(format!("unreadable Transport {value:?}: {e}")))?
                .0
                .into_iter()
                .next()
                .ok_or_else(|| SetupProblem::Fatal("empty Transport".to_owned()))?,
        ),
    };
    let ssrc = spec.as_ref().and_then(|s| s.ssrc);
    let delivery = match (requested, spec) {
        (Requested::Tcp { channels }, None) => {
            quirks.record(
                quirk::INTERLEAVED_MISSING,
                "SETUP answer without Transport; using the requested channels",
            );
            interleaved(*channels, used_channels)?
        }
        (Requested::Udp { .. }, None) => {
            quirks.record(quirk::SERVER_PORT_MISSING, "SETUP answer without Transport");
            Delivery::Udp {
                server_rtcp: None,
                server_rtp: None,
            }
        }
        (Requested::Multicast, None) => multicast(None, sdp, media)?,
        (requested, Some(spec)) => {
            if let Some(channels) = spec.interleaved {
                if spec.lower != LowerTransport::Tcp {
                    quirks.record(
                        quirk::TRANSPORT_PROFILE_MISMATCH,
                        format!("interleaved= on a UDP profile: {spec}"),
                    );
                }
                match requested {
                    Requested::Tcp { channels: asked } if *asked != channels => quirks.record(
                        quirk::INTERLEAVED_CHANGED,
                        format!(
                            "asked for channels {}-{}, got {}-{}",
                            asked.0, asked.1, channels.0, channels.1
                        ),
                    ),
                    Requested::Tcp { .. } => {}
                    _ => quirks.record(
                        quirk::SERVER_FORCED_TCP,
                        format!("UDP request answered with {spec}"),
                    ),
                }
                interleaved(channels, used_channels)?
            } else {
                match requested {
                    Requested::Tcp { channels } if spec.lower == LowerTransport::Tcp => {
                        quirks.record(
                            quirk::INTERLEAVED_MISSING,
                            format!("TCP answer without interleaved=: {spec}"),
                        );
                        interleaved(*channels, used_channels)?
                    }
                    Requested::Tcp { .. } => {
                        // FFmpeg: "Nonmatching transport in server reply".
                        return Err(SetupProblem::Fatal(format!(
                            "TCP request answered with UDP transport {spec}"
                        )));
                    }
                    Requested::Udp { .. } => udp(&spec, server_ip, quirks)?,
                    Requested::Multicast => {
                        if !spec.multicast && spec.server_port.is_some() {
                            return Err(SetupProblem::Fatal(format!(
                                "multicast request answered with unicast transport {spec}"
                            )));
                        }
                        multicast(Some(&spec), sdp, media)?
                    }
                }
            }
        }
    };
    Ok(SetupAnswer { delivery, ssrc })
}

fn interleaved(channels: (u8, u8), used: &[u8]) -> Result<Delivery, SetupProblem> {
    let (rtp, rtcp) = channels;
    if used.contains(&rtp) || used.contains(&rtcp) {
        return Err(SetupProblem::Fatal(format!(
            "server assigned interleaved channels {rtp}-{rtcp}, already in use"
        )));
    }
    Ok(Delivery::Interleaved { rtp, rtcp })
}

fn udp(
    spec: &TransportSpec,
    server_ip: IpAddr,
    quirks: &mut QuirkLog,
) -> Result<Delivery, SetupProblem> {
    // CAMERA-QUIRKS #16: RFC 2326 makes multicast the default; VLC answers a unicast request with
    // `destination=…;port=…` and no server_port.
    if spec.multicast || (spec.port.is_some() && spec.server_port.is_none()) {
        quirks.record(
            quirk::MULTICAST_ANSWER,
            format!("unicast request answered with {spec}"),
        );
        return Err(SetupProblem::TryTcp(format!(
            "unicast UDP request answered with multicast delivery {spec}"
        )));
    }
    if let Some(source) = &spec.source {
        if source.parse::<IpAddr>().ok() != Some(server_ip) {
            quirks.record(
                quirk::UDP_SOURCE_IGNORED,
                format!("source={source} is not the server's address {server_ip}"),
            );
        }
    }
    // gortsplib treats ports 0 and 1 as "any".
    let ports = spec.server_port.filter(|(rtp, _)| *rtp > 1);
    if ports.is_none() {
        quirks.record(
            quirk::SERVER_PORT_MISSING,
            format!("no usable server_port in {spec}"),
        );
    }
    Ok(Delivery::Udp {
        server_rtp: ports.map(|p| p.0),
        server_rtcp: ports.map(|p| p.1),
    })
}

fn multicast(
    spec: Option<&TransportSpec>,
    sdp: &SessionDescription,
    media: &MediaDescription,
) -> Result<Delivery, SetupProblem> {
    // RFC 2326 §12.39 destination/port; FFmpeg falls back to the SDP's c= and m= values.
    let from_sdp = || {
        media
            .connection
            .as_deref()
            .or(sdp.connection.as_deref())
            .and_then(connection_address)
    };
    let group = spec
        .and_then(|s| s.destination.as_deref())
        .and_then(|d| d.parse::<IpAddr>().ok())
        .or_else(from_sdp)
        .filter(IpAddr::is_multicast)
        .ok_or_else(|| {
            SetupProblem::Fatal("multicast answer without a group address".to_owned())
        })?;
    let (rtp_port, rtcp_port) = spec
        .and_then(|s| s.port)
        .or_else(|| (media.port > 0).then(|| (media.port, media.port.saturating_add(1))))
        .ok_or_else(|| SetupProblem::Fatal("multicast answer without a port".to_owned()))?;
    Ok(Delivery::Multicast {
        group,
        rtp_port,
        rtcp_port,
    })
}

/// The address of an SDP `c=` value: `IN IP4 239.1.2.3/16`.
fn connection_address(value: &str) -> Option<IpAddr> {
    let address = value.split_whitespace().nth(2)?;
    address.split('/').next()?.parse().ok()
}

/// The session the server gave: the id all requests carry and the smallest timeout seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionState {
    pub(crate) id: String,
    pub(crate) timeout_secs: u32,
}

/// Takes the `Session` header of a `SETUP` or `PLAY` answer into account (RFC 2326 §12.37).
/// Takes the `Session` of a `SETUP`, `PLAY` or `RECORD` answer into account (CAMERA-QUIRKS #10–#12)
/// and sends it with the link's next requests.
pub(crate) fn adopt_answer(
    link: &mut Link,
    session: &mut Option<SessionState>,
    answer: &Response,
    method: &str,
    url: &str,
) -> Result<(), ClientError> {
    adopt_session(
        session,
        answer.headers.get("Session"),
        link.options.session_id,
        &mut link.quirks,
    )
    .map_err(|detail| ClientError::Protocol {
        method: Some(method.to_owned()),
        url: url.to_owned(),
        detail,
    })?;
    link.requester.session_id = session.as_ref().map(|s| s.id.clone());
    Ok(())
}

pub(crate) fn adopt_session(
    current: &mut Option<SessionState>,
    value: Option<&str>,
    policy: SessionIdPolicy,
    quirks: &mut QuirkLog,
) -> Result<(), String> {
    let Some(value) = value else {
        return Ok(());
    };
    let header =
        SessionHeader::parse(value).map_err(|e| format!("unreadable Session {value:?}: {e}"))?;
    let timeout = match header.timeout {
        None => {
            quirks.record(
                quirk::SESSION_TIMEOUT_MISSING,
                format!("Session {value:?} has no timeout; 60 s assumed"),
            );
            header.timeout_or_default()
        }
        // Retina rejects timeout=0; a session that never times out still gets keepalives.
        Some(0) => {
            quirks.record(
                quirk::SESSION_TIMEOUT_ZERO,
                format!("Session {value:?}: timeout 0; 60 s assumed"),
            );
            60
        }
        Some(t) => t,
    };
    match current {
        None => {
            *current = Some(SessionState {
                id: header.id,
                timeout_secs: timeout,
            });
        }
        Some(state) => {
            if state.id != header.id {
                if policy == SessionIdPolicy::RequireConsistent {
                    return Err(format!(
                        "session id changed from {:?} to {:?}",
                        state.id, header.id
                    ));
                }
                quirks.record(
                    quirk::SESSION_ID_CHANGED,
                    format!(
                        "session id {:?} then {:?}; keeping the first",
                        state.id, header.id
                    ),
                );
            }
            if header.timeout.is_some() && timeout != state.timeout_secs {
                quirks.record(
                    quirk::SESSION_TIMEOUT_CHANGED,
                    format!(
                        "session timeout {} s then {timeout} s; using the smaller",
                        state.timeout_secs
                    ),
                );
                state.timeout_secs = state.timeout_secs.min(timeout);
            }
        }
    }
    Ok(())
}

/// Where a track's stream starts, from the `PLAY` answer's `RTP-Info` (RFC 2326 §12.33).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RtpStart {
    /// The sequence number of the first packet (see
    /// [`InitialSequencePolicy`](crate::options::InitialSequencePolicy)).
    pub seq: Option<u16>,
    /// The RTP timestamp of the start of the range.
    pub rtptime: Option<u32>,
    /// The SSRC, when the server gave one (Reolink sends it only here).
    pub ssrc: Option<u32>,
}

/// Assigns `RTP-Info` entries to the playing tracks, given their control URLs.
///
/// CAMERA-QUIRKS #23: urls may be relative (`trackID=1`), lose the query string (GW Security), name
/// streams that were not set up (Reolink) or be missing (VStarcam, H264DVR); with one track and one
/// entry, the entry applies whatever its url (RFC 2326 §14.3). #24: see [`InitialSequencePolicy`].
pub(crate) fn interpret_rtp_info(
    value: Option<&str>,
    controls: &[&str],
    policy: InitialSequencePolicy,
    quirks: &mut QuirkLog,
) -> Vec<Option<RtpStart>> {
    let mut starts = vec![None; controls.len()];
    let Some(value) = value else {
        quirks.record(quirk::RTP_INFO_MISSING, "PLAY answer without RTP-Info");
        return starts;
    };
    let Ok(info) = RtpInfo::parse(value) else {
        quirks.record(
            quirk::RTP_INFO_URL_MISMATCH,
            format!("unreadable RTP-Info {value:?} ignored"),
        );
        return starts;
    };
    if value.contains("rtptime=-")
        || info.0.iter().any(|e| e.rtptime.is_none()) && value.contains("rtptime=")
    {
        quirks.record(
            quirk::RTP_INFO_SUSPICIOUS,
            format!("RTP-Info with an unreadable rtptime: {value:?}"),
        );
    }
    let single = controls.len() == 1 && info.0.len() == 1;
    for entry in &info.0 {
        let index = if single {
            Some(0)
        } else {
            controls.iter().position(|c| url_matches(c, &entry.url))
        };
        let Some(slot) = index.and_then(|i| starts.get_mut(i)) else {
            quirks.record(
                quirk::RTP_INFO_URL_MISMATCH,
                format!("RTP-Info url {:?} matches no playing track", entry.url),
            );
            continue;
        };
        let seq = match (policy, entry.seq) {
            (InitialSequencePolicy::Ignore, _) => None,
            (InitialSequencePolicy::IgnoreSuspicious, Some(s @ (0 | 1))) => {
                quirks.record(
                    quirk::RTP_INFO_SUSPICIOUS,
                    format!("RTP-Info seq={s} ignored"),
                );
                None
            }
            (_, seq) => seq,
        };
        *slot = Some(RtpStart {
            seq,
            rtptime: entry.rtptime,
            ssrc: entry.ssrc,
        });
    }
    starts
}

/// Whether an `RTP-Info` url names the track with control URL `control`.
fn url_matches(control: &str, url: &str) -> bool {
    let trim = |s: &str| s.trim().trim_end_matches('/').to_owned();
    let (control, url) = (trim(control), trim(url));
    if control == url {
        return true;
    }
    if !url.contains("://") {
        // Relative: `trackID=1` names `…/trackID=1` (and `…/trackID=1?query`).
        let path = control.split('?').next().unwrap_or_default();
        return path.ends_with(&format!("/{url}")) || control.ends_with(&format!("/{url}"));
    }
    // Absolute with another host spelling (loopback, port): compare from the path on.
    path_of(&control) == path_of(&url) && !path_of(&url).is_empty()
}

fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .and_then(|i| rest.get(i..))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_rtsp::message::StatusCode;

    fn answer(transport: &str) -> Response {
        Response::new(StatusCode::OK).with_header("Transport", transport)
    }

    fn media() -> (SessionDescription, MediaDescription) {
        let sdp =
            SessionDescription::parse(b"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n")
                .unwrap();
        let media = sdp.media[0].clone();
        (sdp, media)
    }

    fn setup(
        requested: Requested,
        transport: &str,
        used: &[u8],
    ) -> (Result<SetupAnswer, SetupProblem>, QuirkLog) {
        let (sdp, media) = media();
        let mut q = QuirkLog::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let r = interpret_setup(
            &requested,
            &answer(transport),
            ip,
            used,
            &sdp,
            &media,
            &mut q,
        );
        (r, q)
    }

    #[test]
    fn request_headers_omit_mode_and_say_unicast() {
        assert_eq!(
            Requested::Tcp { channels: (2, 3) }.header(),
            "RTP/AVP/TCP;unicast;interleaved=2-3"
        );
        assert_eq!(
            Requested::Udp {
                client_ports: (5000, 5001)
            }
            .header(),
            "RTP/AVP;unicast;client_port=5000-5001"
        );
        assert_eq!(Requested::Multicast.header(), "RTP/AVP;multicast");
    }

    #[test]
    fn adopts_server_channels() {
        let tcp = Requested::Tcp { channels: (0, 1) };
        let (r, q) = setup(tcp, "RTP/AVP/TCP;unicast;interleaved=4-5", &[]);
        assert_eq!(
            r.unwrap().delivery,
            Delivery::Interleaved { rtp: 4, rtcp: 5 }
        );
        assert!(q.has(quirk::INTERLEAVED_CHANGED));
        let (r, _) = setup(tcp, "RTP/AVP/TCP;unicast;interleaved=4-5", &[4, 5]);
        assert!(matches!(r, Err(SetupProblem::Fatal(_))));
        // Escam Q6: no /TCP.
        let (r, q) = setup(tcp, "RTP/AVP;unicast;interleaved=0-1", &[]);
        assert_eq!(
            r.unwrap().delivery,
            Delivery::Interleaved { rtp: 0, rtcp: 1 }
        );
        assert!(q.has(quirk::TRANSPORT_PROFILE_MISMATCH));
        let (r, q) = setup(tcp, "RTP/AVP/TCP;unicast", &[]);
        assert_eq!(
            r.unwrap().delivery,
            Delivery::Interleaved { rtp: 0, rtcp: 1 }
        );
        assert!(q.has(quirk::INTERLEAVED_MISSING));
        let (r, _) = setup(tcp, "RTP/AVP;unicast;client_port=1-2;server_port=3-4", &[]);
        assert!(matches!(r, Err(SetupProblem::Fatal(_))));
    }

    #[test]
    fn udp_answers() {
        let udp = Requested::Udp {
            client_ports: (5000, 5001),
        };
        let (r, q) = setup(
            udp,
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6970",
            &[],
        );
        assert_eq!(
            r.unwrap().delivery,
            Delivery::Udp {
                server_rtp: Some(6970),
                server_rtcp: Some(6971)
            }
        );
        assert!(q.as_slice().is_empty());
        let (r, q) = setup(udp, "RTP/AVP;unicast;client_port=5000-5001", &[]);
        assert_eq!(
            r.unwrap().delivery,
            Delivery::Udp {
                server_rtp: None,
                server_rtcp: None
            }
        );
        assert!(q.has(quirk::SERVER_PORT_MISSING));
        let (r, q) = setup(udp, "RTP/AVP;unicast;source=10.1.1.1;server_port=0-1", &[]);
        assert_eq!(
            r.unwrap().delivery,
            Delivery::Udp {
                server_rtp: None,
                server_rtcp: None
            }
        );
        assert!(q.has(quirk::UDP_SOURCE_IGNORED));
        // VLC: multicast-style answer to a unicast request.
        let (r, q) = setup(
            udp,
            "RTP/AVP;destination=127.0.0.1;port=1234-1235;ttl=1",
            &[],
        );
        assert!(matches!(r, Err(SetupProblem::TryTcp(_))));
        assert!(q.has(quirk::MULTICAST_ANSWER));
        // The server forces TCP.
        let (r, q) = setup(udp, "RTP/AVP/TCP;unicast;interleaved=0-1", &[]);
        assert_eq!(
            r.unwrap().delivery,
            Delivery::Interleaved { rtp: 0, rtcp: 1 }
        );
        assert!(q.has(quirk::SERVER_FORCED_TCP));
    }

    #[test]
    fn multicast_answers() {
        let (r, _) = setup(
            Requested::Multicast,
            "RTP/AVP;multicast;destination=239.1.2.3;port=5000-5001;ttl=1",
            &[],
        );
        assert_eq!(
            r.unwrap().delivery,
            Delivery::Multicast {
                group: "239.1.2.3".parse().unwrap(),
                rtp_port: 5000,
                rtcp_port: 5001
            }
        );
        let (r, _) = setup(Requested::Multicast, "RTP/AVP;multicast", &[]);
        assert!(matches!(r, Err(SetupProblem::Fatal(_))));
    }

    #[test]
    fn session_ids_and_timeouts() {
        let mut q = QuirkLog::default();
        let mut s = None;
        adopt_session(
            &mut s,
            Some("        708345999;timeout=60"),
            SessionIdPolicy::UseFirst,
            &mut q,
        )
        .unwrap();
        assert_eq!(s.as_ref().unwrap().id, "708345999");
        adopt_session(
            &mut s,
            Some("9a90de54; timeout=120"),
            SessionIdPolicy::UseFirst,
            &mut q,
        )
        .unwrap();
        assert_eq!(s.as_ref().unwrap().id, "708345999");
        assert_eq!(s.as_ref().unwrap().timeout_secs, 60);
        assert!(q.has(quirk::SESSION_ID_CHANGED));
        assert!(q.has(quirk::SESSION_TIMEOUT_CHANGED));
        assert!(adopt_session(
            &mut s,
            Some("other"),
            SessionIdPolicy::RequireConsistent,
            &mut q
        )
        .is_err());
        let mut s = None;
        adopt_session(
            &mut s,
            Some("1;timeout=0"),
            SessionIdPolicy::UseFirst,
            &mut q,
        )
        .unwrap();
        assert_eq!(s.unwrap().timeout_secs, 60);
        assert!(q.has(quirk::SESSION_TIMEOUT_ZERO));
    }

    #[test]
    fn rtp_info_matching() {
        let controls = ["rtsp://h/s/trackID=1", "rtsp://h/s/trackID=2"];
        let mut q = QuirkLog::default();
        let starts = interpret_rtp_info(
            Some("url=trackID=1;seq=16852;rtptime=1070938629;ssrc=dcc4a0d8,url=trackID=2;seq=1"),
            &controls,
            InitialSequencePolicy::IgnoreSuspicious,
            &mut q,
        );
        assert_eq!(starts[0].unwrap().seq, Some(16852));
        assert_eq!(starts[0].unwrap().ssrc, Some(0xdcc4a0d8));
        assert_eq!(starts[1].unwrap().seq, None);
        assert!(q.has(quirk::RTP_INFO_SUSPICIOUS));
        // One track, one entry with an unrelated url (GW Security): applies.
        let mut q = QuirkLog::default();
        let starts = interpret_rtp_info(
            Some("url=rtsp://192.168.1.110:5050/H264/video;seq=271;rtptime=1621990950"),
            &["rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif/video"],
            InitialSequencePolicy::IgnoreSuspicious,
            &mut q,
        );
        assert_eq!(starts[0].unwrap().seq, Some(271));
        let starts = interpret_rtp_info(None, &controls, InitialSequencePolicy::Trust, &mut q);
        assert_eq!(starts, vec![None, None]);
        assert!(q.has(quirk::RTP_INFO_MISSING));
    }
}
