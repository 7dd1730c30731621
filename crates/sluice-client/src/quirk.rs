//! Tolerated camera quirks, as reported by [`Playing::quirks`](crate::Playing::quirks).

use std::fmt;

/// One deviation from the RFCs that the client tolerated, for `sluice probe` and logs.
///
/// `name` is stable and names the behaviour (see the constants in this module, one per entry of
/// `shared/CAMERA-QUIRKS.md` the client can observe); `detail` says what exactly was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quirk {
    /// A stable identifier such as [`CSEQ_MISMATCH`].
    pub name: &'static str,
    /// What was seen, for a person.
    pub detail: String,
}

impl fmt::Display for Quirk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.detail)
    }
}

/// #1: a response without `CSeq`, matched by order.
pub const CSEQ_MISSING: &str = "cseq-missing";
/// #1: a response whose `CSeq` is not the request's, matched by order.
pub const CSEQ_MISMATCH: &str = "cseq-mismatch";
/// #2: header names spelled other than canonically (`Cseq`, `Content-length`).
pub const HEADER_NAME_CASE: &str = "header-name-case";
/// #3: lines ending in a bare LF.
pub const BARE_LF: &str = "bare-lf-line-endings";
/// #4: a message that could not be parsed was skipped (junk after a wrong `Content-Length`).
pub const MESSAGE_SKIPPED: &str = "unparseable-message-skipped";
/// #5: interleaved data before the `PLAY` response (kept and delivered).
pub const DATA_BEFORE_PLAY: &str = "data-before-play-response";
/// #6: interleaved data on a channel that no `SETUP` assigned (dropped).
pub const UNASSIGNED_CHANNEL: &str = "data-on-unassigned-channel";
/// #7: RTCP sent on the RTP channel.
pub const RTCP_ON_RTP_CHANNEL: &str = "rtcp-on-rtp-channel";
/// #8: the server sent a request on the client connection.
pub const SERVER_REQUEST: &str = "server-request";
/// #9: the server closed the connection between requests; reconnected and described again.
pub const RECONNECTED: &str = "reconnected-after-close";
/// #10: a `Session` header before any `SETUP` (`OPTIONS`, `DESCRIBE`), ignored.
pub const SESSION_BEFORE_SETUP: &str = "session-before-setup";
/// #11: a later `SETUP` answered with another session id.
pub const SESSION_ID_CHANGED: &str = "session-id-changed";
/// #12: the session timeout is missing (60 s assumed).
pub const SESSION_TIMEOUT_MISSING: &str = "session-timeout-missing";
/// #12: the session timeout is 0 (60 s assumed).
pub const SESSION_TIMEOUT_ZERO: &str = "session-timeout-zero";
/// #12: the session timeout changed between responses (the smallest is used).
pub const SESSION_TIMEOUT_CHANGED: &str = "session-timeout-changed";
/// #13: the server chose other interleaved channels than requested (adopted).
pub const INTERLEAVED_CHANGED: &str = "interleaved-channels-changed";
/// #13: a TCP `SETUP` answer without `interleaved=` (the requested channels are used).
pub const INTERLEAVED_MISSING: &str = "interleaved-missing";
/// #14: `interleaved=` on a transport without `/TCP`.
pub const TRANSPORT_PROFILE_MISMATCH: &str = "transport-profile-mismatch";
/// #14: a UDP request answered with interleaved TCP.
pub const SERVER_FORCED_TCP: &str = "server-forced-tcp";
/// #14: `461 Unsupported Transport` to UDP; TCP used instead.
pub const UNSUPPORTED_TRANSPORT: &str = "unsupported-transport-461";
/// #15: a UDP `SETUP` answer without usable `server_port`.
pub const SERVER_PORT_MISSING: &str = "udp-server-port-missing";
/// #15: UDP media from another port than the announced `server_port`.
pub const UDP_SOURCE_PORT: &str = "udp-source-port-differs";
/// #15: the `source=` of a UDP answer is not the server's address (ignored).
pub const UDP_SOURCE_IGNORED: &str = "udp-source-ignored";
/// #16: a unicast request answered with multicast-style delivery.
pub const MULTICAST_ANSWER: &str = "multicast-answer-to-unicast";
/// #17: packets whose SSRC differs from the one in `Transport` or `RTP-Info`.
pub const SSRC_MISMATCH: &str = "ssrc-mismatch";
/// #21: a `Content-Base` that needed repair (no scheme, doubled scheme).
pub const CONTENT_BASE_REPAIRED: &str = "content-base-repaired";
/// #21: no `Content-Base` or `Content-Location`: the request URL is the base.
pub const NO_CONTENT_BASE: &str = "no-content-base";
/// #22: media without `a=control` (the base URL is used).
pub const MEDIA_WITHOUT_CONTROL: &str = "media-without-control";
/// #23: `RTP-Info` absent.
pub const RTP_INFO_MISSING: &str = "rtp-info-missing";
/// #23: `RTP-Info` urls that match no track.
pub const RTP_INFO_URL_MISMATCH: &str = "rtp-info-url-mismatch";
/// #24: `RTP-Info` `seq` 0 or 1, or an `rtptime` that does not parse.
pub const RTP_INFO_SUSPICIOUS: &str = "rtp-info-suspicious";
/// #25: several authentication challenges offered.
pub const MULTIPLE_CHALLENGES: &str = "multiple-auth-challenges";
/// #26: a Digest challenge without `qop` (RFC 2069 mode).
pub const DIGEST_WITHOUT_QOP: &str = "digest-without-qop";
/// #28: a 401 with a new or stale nonce after authenticating; answered once.
pub const REAUTHENTICATED: &str = "reauthenticated";
/// #30: `GET_PARAMETER` refused; keepalives use `OPTIONS` from then on.
pub const KEEPALIVE_FALLBACK: &str = "keepalive-fallback-to-options";
/// #30: a keepalive got an error answer (ignored).
pub const KEEPALIVE_ERROR: &str = "keepalive-error";
/// #30: a keepalive got no answer before the next one (ignored).
pub const KEEPALIVE_UNANSWERED: &str = "keepalive-unanswered";
/// #33: no UDP packet in time; reconnected over TCP.
pub const UDP_FALLBACK: &str = "udp-fallback-to-tcp";
/// #34: the SDP lacks mandatory lines (`o=`, `s=`, `t=`).
pub const SDP_INCOMPLETE: &str = "sdp-incomplete";
/// #36: an `a=fmtp` sat in a section that does not list its payload type.
pub const FMTP_MISPLACED: &str = "sdp-fmtp-misplaced";
/// #37, #38, #60: a media section the client cannot receive was left out.
pub const MEDIA_SKIPPED: &str = "sdp-media-skipped";
/// #38: a video payload type without `rtpmap` (90 kHz assumed).
pub const RTPMAP_MISSING: &str = "rtpmap-missing";
/// #55: `TEARDOWN` failed or got an error answer (ignored).
pub const TEARDOWN_ERROR: &str = "teardown-error";
/// #56: a method answered with 405/406/501/551 although it may have been advertised.
pub const METHOD_NOT_SUPPORTED: &str = "method-not-supported";
/// #57: `DESCRIBE` answered with a redirect.
pub const REDIRECTED: &str = "redirected";
/// #57: the server sent a `REDIRECT` request.
pub const SERVER_REDIRECT: &str = "server-redirect";
/// #58: ONVIF metadata tracks not set up.
pub const METADATA_SKIPPED: &str = "metadata-track-skipped";
/// #59: a `sendonly` backchannel track not set up.
pub const BACKCHANNEL_SKIPPED: &str = "backchannel-skipped";
/// #59: a `sendonly` section that is not an audio backchannel (IDS uEye, D-Link DCS-2630L),
/// read as an ordinary track.
pub const SENDONLY_MEDIA: &str = "sendonly-media-received";

/// The quirks seen so far, each name once (the first detail is kept).
#[derive(Debug, Clone, Default)]
pub(crate) struct QuirkLog {
    quirks: Vec<Quirk>,
}

impl QuirkLog {
    /// Records `name` unless it was recorded already.
    pub(crate) fn record(&mut self, name: &'static str, detail: impl Into<String>) {
        if self.quirks.iter().any(|q| q.name == name) {
            return;
        }
        let quirk = Quirk {
            name,
            detail: detail.into(),
        };
        tracing::debug!(quirk = %quirk, "tolerated camera quirk");
        self.quirks.push(quirk);
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.quirks.iter().any(|q| q.name == name)
    }

    pub(crate) fn as_slice(&self) -> &[Quirk] {
        &self.quirks
    }
}
