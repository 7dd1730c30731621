//! Options decided before connecting, and the named policies for camera quirks.
//!
//! Every lenient behaviour the client has that could hide a real problem is a `*Policy` enum whose
//! default favours playback; the doc of each names the devices that needed it and the entry of
//! `shared/CAMERA-QUIRKS.md` it answers.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How media is carried (RFC 2326 §12.39).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportPolicy {
    /// Unicast UDP first; interleaved TCP when the server answers `461 Unsupported Transport`, answers
    /// with another delivery than asked, or when no packet arrives within
    /// [`SessionOptions::udp_fallback_after`] (NAT, firewalls: CAMERA-QUIRKS #14, #16, #33).
    #[default]
    Auto,
    /// Unicast UDP only.
    Udp,
    /// Interleaved in the RTSP connection (`RTP/AVP/TCP`, RFC 2326 §10.12).
    Tcp,
    /// Multicast UDP: the server chooses the group.
    Multicast,
}

impl FromStr for TransportPolicy {
    type Err = ParsePolicyError;

    /// Parses `auto`, `udp`, `tcp` or `multicast` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(TransportPolicy::Auto),
            "udp" => Ok(TransportPolicy::Udp),
            "tcp" => Ok(TransportPolicy::Tcp),
            "multicast" => Ok(TransportPolicy::Multicast),
            _ => Err(ParsePolicyError {
                value: s.to_owned(),
                expected: "auto, udp, tcp or multicast",
            }),
        }
    }
}

impl fmt::Display for TransportPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportPolicy::Auto => "auto",
            TransportPolicy::Udp => "udp",
            TransportPolicy::Tcp => "tcp",
            TransportPolicy::Multicast => "multicast",
        })
    }
}

/// A policy name that is not one of the accepted values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not one of {expected}")]
pub struct ParsePolicyError {
    /// The text given.
    pub value: String,
    /// The accepted values.
    pub expected: &'static str,
}

/// When to send `TEARDOWN` (CAMERA-QUIRKS #55).
///
/// Hikvision DS-2CD2032 (fw V5.4.41) ties a session to its TCP connection even for UDP and answers a
/// `TEARDOWN` on a fresh connection with 500; Reolink answers without a `Session` header; old LIVE555
/// keeps streaming a dead session. Whatever the policy, `454 Session Not Found` and `500` count as
/// "gone", unrelated responses and data are skipped while waiting, and the wait is bounded by
/// [`SessionOptions::request_timeout`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TeardownPolicy {
    /// One `TEARDOWN` on the open connection. If the connection is already closed and media went over
    /// UDP (so the server-side session may outlive the connection), one attempt on a new connection.
    #[default]
    Auto,
    /// Like `Auto`, and also retry on a new connection after a TCP session's connection closed.
    Always,
    /// Close the connection without `TEARDOWN`, for servers that misbehave on it.
    Never,
}

/// What to do with a response whose `CSeq` is missing or does not match the request
/// (CAMERA-QUIRKS #1).
///
/// The Hisilicon server in the Foscam C1 answers `CSeq: 0` to `CSeq: 1`; a "C520WS" camera echoes the
/// previous request's CSeq on an error; Parrot Anafi drones omit it. The client never has more than
/// one request outstanding, so the answer can be matched by order. A response carrying the CSeq of a
/// keepalive that was given up on is always skipped as late.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CseqPolicy {
    /// Take a response without CSeq or with an unexpected one as the answer to the outstanding
    /// request, and record the quirk.
    #[default]
    Lenient,
    /// Fail with [`ClientError::Protocol`](crate::ClientError::Protocol).
    Strict,
}

/// What to do with interleaved data on a channel that no `SETUP` assigned (CAMERA-QUIRKS #6).
///
/// "Some broken IP cameras" send on built-in default channels, and LIVE555 older than 2017.06.04
/// (older Reolink firmware: `a=tool:LIVE555 Streaming Media v2013.04.08`) writes an earlier session's
/// RTP into a new connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnassignedChannelPolicy {
    /// Drop the frame, count it and record the quirk (naming an old LIVE555 from `a=tool` if any).
    #[default]
    Ignore,
    /// Fail with [`ClientError::Protocol`](crate::ClientError::Protocol).
    Error,
}

/// What to do when a later `SETUP` answers with another session id (CAMERA-QUIRKS #11).
///
/// "H264DVR 1.0" firmware (LV-IP22IR40DVBL and other XiongMai-style cameras) answers the audio SETUP
/// with session 231980 after 231970 for video, and hangs unless the audio stream is set up too.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionIdPolicy {
    /// Keep the first id for every later request and record the quirk.
    #[default]
    UseFirst,
    /// Fail with [`ClientError::Protocol`](crate::ClientError::Protocol).
    RequireConsistent,
}

/// How to keep the session alive (CAMERA-QUIRKS #30).
///
/// VLC's server needs `GET_PARAMETER`; a "C520WS" advertises `SET_PARAMETER` but rejects it; some
/// servers dislike unsupported methods and some old ones any keepalive. Keepalives go to the
/// aggregate URL at half the session timeout, at most every 30 s; an error answer or no answer never
/// ends the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeepalivePolicy {
    /// `GET_PARAMETER` when the `OPTIONS` answer lists it in `Public`, else `OPTIONS`; after an error
    /// answer to `GET_PARAMETER`, `OPTIONS` from then on.
    #[default]
    Auto,
    /// Always `OPTIONS`.
    Options,
    /// Always `GET_PARAMETER`.
    GetParameter,
    /// No keepalive requests (RTCP receiver reports still flow).
    Disabled,
}

/// Which headers requests carry besides the essential ones (CAMERA-QUIRKS #29).
///
/// Some cameras answer `401` to a `DESCRIBE` without `User-Agent` (go2rtc#235), while some encoders
/// break on anything beyond the basic headers (GStreamer's `short-header` property).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestHeaderPolicy {
    /// `User-Agent` on every request and `Accept: application/sdp` on `DESCRIBE`.
    #[default]
    Standard,
    /// Only `CSeq`, `Session`, `Authorization`, `Transport` and `Range`.
    Minimal,
}

/// Which UDP datagrams are accepted as the server's media (CAMERA-QUIRKS #15).
///
/// OpenIPC sends no `server_port`, others `server_port=0` or a single port, H264DVR announces
/// `source=127.0.0.1`, and packets may come from other ports than announced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UdpSourcePolicy {
    /// Datagrams from the RTSP server's IP address, from any port.
    #[default]
    ServerAddress,
    /// Datagrams from any address (for servers behind NAT that send from another address). Anyone
    /// who can reach the client's ports can then inject media.
    InsecureAnySource,
}

/// Whether [`Session::play`](crate::Session::play) with no track list sets up ONVIF metadata tracks
/// (CAMERA-QUIRKS #58).
///
/// Hikvision, Dahua, GeoVision, Uniview and Samsung/Hanwha describe `vnd.onvif.metadata` (or
/// `METADATA`, `META`, TP-Link `smart`) tracks that can be silent for long periods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataPolicy {
    /// Leave them out unless asked for by index.
    #[default]
    Skip,
    /// Set them up like audio and video.
    Include,
}

/// How far to trust the `seq` of the `PLAY` answer's `RTP-Info` (CAMERA-QUIRKS #24), as reported by
/// [`Playing::rtp_info`](crate::Playing::rtp_info).
///
/// Hikvision DS-2CD2032-I (metadata stream) sends `seq=0`, the Tapo C320WS `seq=1` on all streams,
/// and then the first packet has a different sequence number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InitialSequencePolicy {
    /// Treat `seq=0` and `seq=1` as absent.
    #[default]
    IgnoreSuspicious,
    /// Report whatever the server sent.
    Trust,
    /// Never report a sequence number.
    Ignore,
}

/// Options decided before connecting.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How media is carried. Default [`TransportPolicy::Auto`].
    pub transport: TransportPolicy,
    /// With [`TransportPolicy::Auto`]: no packet over UDP within this time after `PLAY` means
    /// reconnecting over TCP (CAMERA-QUIRKS #33). Default 3 s.
    pub udp_fallback_after: Duration,
    /// Time allowed to open the TCP connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Time allowed for each response. Default 10 s.
    pub request_timeout: Duration,
    /// Time without any data from the server (media, RTCP or an RTSP message) after which
    /// [`Playing::next`](crate::Playing::next) fails with a timeout; it is never shorter than a
    /// keepalive interval plus `request_timeout`, so a silent stream whose keepalives are answered
    /// stays up (CAMERA-QUIRKS #32). Default 10 s.
    pub stall_timeout: Duration,
    /// Interval of RTCP receiver reports, at most 5 s (CAMERA-QUIRKS #31). Default 5 s.
    pub rtcp_interval: Duration,
    /// `User-Agent` value. Default `sluice/<version>`.
    pub user_agent: String,
    /// Redirects (3xx answers to `DESCRIBE`) followed before giving up; 0 follows none. Default 5.
    pub max_redirects: u8,
    /// When to send `TEARDOWN`.
    pub teardown: TeardownPolicy,
    /// Responses with a missing or unexpected `CSeq`.
    pub cseq: CseqPolicy,
    /// Interleaved data on channels that no `SETUP` assigned.
    pub unassigned_channel: UnassignedChannelPolicy,
    /// A session id that changes between `SETUP`s.
    pub session_id: SessionIdPolicy,
    /// The keepalive method.
    pub keepalive: KeepalivePolicy,
    /// Optional request headers.
    pub request_headers: RequestHeaderPolicy,
    /// Accepted UDP sources.
    pub udp_source: UdpSourcePolicy,
    /// ONVIF metadata tracks in `play(None)`.
    pub metadata: MetadataPolicy,
    /// `RTP-Info` sequence numbers.
    pub initial_sequence: InitialSequencePolicy,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            transport: TransportPolicy::Auto,
            udp_fallback_after: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(10),
            rtcp_interval: MAX_RTCP_INTERVAL,
            user_agent: concat!("sluice/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_redirects: 5,
            teardown: TeardownPolicy::default(),
            cseq: CseqPolicy::default(),
            unassigned_channel: UnassignedChannelPolicy::default(),
            session_id: SessionIdPolicy::default(),
            keepalive: KeepalivePolicy::default(),
            request_headers: RequestHeaderPolicy::default(),
            udp_source: UdpSourcePolicy::default(),
            metadata: MetadataPolicy::default(),
            initial_sequence: InitialSequencePolicy::default(),
        }
    }
}

impl SessionOptions {
    /// These options with another transport policy.
    pub fn with_transport(mut self, transport: TransportPolicy) -> Self {
        self.transport = transport;
        self
    }
}

/// The longest interval between receiver reports (CAMERA-QUIRKS #31: Arlo cameras stop after ~10 s
/// without them; gortsplib settled on 5 s).
pub(crate) const MAX_RTCP_INTERVAL: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_policy_from_str() {
        assert_eq!("auto".parse(), Ok(TransportPolicy::Auto));
        assert_eq!(" TCP ".parse(), Ok(TransportPolicy::Tcp));
        assert_eq!("udp".parse(), Ok(TransportPolicy::Udp));
        assert_eq!("Multicast".parse(), Ok(TransportPolicy::Multicast));
        let err = "quic".parse::<TransportPolicy>().unwrap_err();
        assert_eq!(err.value, "quic");
        for policy in [
            TransportPolicy::Auto,
            TransportPolicy::Udp,
            TransportPolicy::Tcp,
            TransportPolicy::Multicast,
        ] {
            assert_eq!(policy.to_string().parse(), Ok(policy));
        }
    }
}
