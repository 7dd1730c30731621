//! An async RTSP client for IP cameras, built on the sans-IO [`sluice_rtsp`] core: it plays
//! streams ([`Session`]) and publishes them ([`Publisher`]).
//!
//! ```no_run
//! use sluice_client::{Session, SessionOptions};
//!
//! # async fn pull() -> Result<(), sluice_client::ClientError> {
//! let session = Session::describe("rtsp://admin:secret@192.0.2.10/stream1", SessionOptions::default()).await?;
//! for (i, track) in session.tracks().iter().enumerate() {
//!     println!("track {i}: {} {} Hz at {}", track.encoding, track.clock_rate, track.control);
//! }
//! let mut playing = session.play(None).await?;
//! while let Some(packet) = playing.next().await? {
//!     println!("track {}: {} bytes", packet.track, packet.data.len());
//! }
//! // The server ended the stream (BYE on every track, TEARDOWN, or the connection closed).
//! println!("quirks: {:?}", playing.quirks());
//! # Ok(())
//! # }
//! ```
//!
//! # Model
//!
//! [`Session::describe`] connects, sends `OPTIONS` and `DESCRIBE` (following redirects and answering
//! 401s with the credentials of the URL); [`Session::play`] sets the tracks up and sends `PLAY`;
//! [`Playing::next`] then yields RTP packets while it keeps the session alive. Nothing runs in the
//! background except the tasks that read UDP sockets: keepalives, RTCP receiver reports, answers to
//! requests from the server and the UDP→TCP fallback happen inside `next`, so a caller that stops
//! calling it lets the session time out.
//!
//! Protocol decisions live in plain functions and structs that take values and the current time
//! (request building, response interpretation, transport negotiation, the keepalive and report
//! schedule, reception statistics); the async layer only moves bytes. Framing, headers, SDP,
//! RTP/RTCP, authentication and URLs come from `sluice-rtsp`.
//!
//! # Publishing
//!
//! [`Publisher::announce`] connects, sends `OPTIONS` and `ANNOUNCE` with the caller's SDP (with the
//! same authentication); [`Publisher::record`] sets every media section up with `mode=record` and
//! sends `RECORD`; [`Recording::send`] then takes whole RTP packets per track, over TCP
//! (interleaved, the default) or UDP. As with playing, nothing runs in the background: keepalives,
//! RTCP sender reports and answers to the server happen inside `send`.
//!
//! ```no_run
//! use bytes::Bytes;
//! use sluice_client::{Publisher, SessionOptions};
//!
//! # async fn push(sdp: &str, packets: Vec<Bytes>) -> Result<(), sluice_client::ClientError> {
//! let publisher = Publisher::announce("rtsp://user:secret@192.0.2.20:8554/lobby", sdp, SessionOptions::default()).await?;
//! let mut recording = publisher.record().await?;
//! for packet in packets {
//!     recording.send(0, packet).await?; // track 0: the first m= section
//! }
//! recording.teardown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Camera quirks
//!
//! Every deviation from the RFCs listed in sections A–G and J of `shared/CAMERA-QUIRKS.md` is either
//! a documented tolerance or governed by a named policy in [`SessionOptions`]. What was tolerated on
//! a given camera is listed by [`Playing::quirks`] (and [`Session::quirks`]) under the names in
//! [`quirk`]:
//!
//! | # | behaviour | handling | recorded as |
//! |---|---|---|---|
//! | 1 | CSeq missing, 0, stale, padded | matched by order; [`CseqPolicy`] | `cseq-missing`, `cseq-mismatch` |
//! | 2 | `Cseq`, `Content-length`, extra spaces | case-insensitive, trimmed; requests say `CSeq` | `header-name-case` |
//! | 3 | LF-only lines | accepted | `bare-lf-line-endings` |
//! | 4 | huge SDP, no Content-Length, junk | 1 MiB bodies; no length = empty; junk skipped | `unparseable-message-skipped` |
//! | 5 | `$` data before the PLAY answer | kept and delivered | `data-before-play-response` |
//! | 6 | data on unassigned channels | [`UnassignedChannelPolicy`] | `data-on-unassigned-channel` |
//! | 7 | RTCP on the RTP channel | classified by packet type | `rtcp-on-rtp-channel` |
//! | 8 | requests from the server | OPTIONS/GET_PARAMETER 200, others 501 | `server-request` |
//! | 9 | closed after DESCRIBE | reconnect, DESCRIBE again | `reconnected-after-close` |
//! | 10 | Session header variants, Session before SETUP | trimmed; ignored before SETUP | `session-before-setup` |
//! | 11 | session id changes | [`SessionIdPolicy`] | `session-id-changed` |
//! | 12 | timeout missing, 0, changing | 60 s; smallest kept; keepalive at min(timeout/2, 30 s) | `session-timeout-*` |
//! | 13 | other or missing interleaved channels | adopted; requested pair kept | `interleaved-channels-changed`, `interleaved-missing` |
//! | 14 | profile mismatch, 461, forced TCP | by `interleaved=`; TCP with [`TransportPolicy::Auto`] | `transport-profile-mismatch`, `unsupported-transport-461`, `server-forced-tcp` |
//! | 15 | server ports missing/wrong, `source=` | [`UdpSourcePolicy`]; RTCP to where RTCP comes from | `udp-server-port-missing`, `udp-source-*` |
//! | 16 | multicast answer to unicast | `unicast` always sent; TCP with auto, else error | `multicast-answer-to-unicast` |
//! | 17 | SSRC odd or only in RTP-Info | a hint, never required | `ssrc-mismatch` |
//! | 18 | `mode=` upsets servers | never sent when playing | — |
//! | 19–22 | control URLs, queries, broken bases, no `a=control` | `sluice_rtsp::url` rules | `content-base-repaired`, `no-content-base`, `media-without-control` |
//! | 23 | RTP-Info urls that match nothing, or none | matched loosely, optional | `rtp-info-url-mismatch`, `rtp-info-missing` |
//! | 24 | RTP-Info `seq` 0/1, `rtptime=-1` | [`InitialSequencePolicy`]; absent | `rtp-info-suspicious` |
//! | 25–27 | several challenges, loose Digest, digest `uri` | SHA-256 > MD5 > Basic; tolerant parser; exact Request-URI | `multiple-auth-challenges`, `digest-without-qop` |
//! | 28 | new 401 mid-session, stale nonce | answered once per request, never looped | `reauthenticated` |
//! | 29 | User-Agent required, or too many headers | [`RequestHeaderPolicy`] | — |
//! | 30 | keepalive methods | [`KeepalivePolicy`]; errors never end the session | `keepalive-*` |
//! | 31 | streams die without RTCP RRs | RR + SDES at least every 5 s | — |
//! | 32 | silent streams | keepalive answers count as life | — |
//! | 33 | UDP never arrives | TCP after [`SessionOptions::udp_fallback_after`] | `udp-fallback-to-tcp` |
//! | 34–40 | SDP problems | see [`TrackInfo`] | `sdp-incomplete`, `sdp-media-skipped`, `rtpmap-missing` |
//! | 55 | TEARDOWN trouble | [`TeardownPolicy`]; 454/500 mean gone | `teardown-error` |
//! | 56 | PAUSE answered 551/405 | [`ClientError::MethodNotSupported`], session goes on | `method-not-supported` |
//! | 57 | 3xx and REDIRECT | followed (credentials kept on the same host) | `redirected`, `server-redirect` |
//! | 58 | ONVIF metadata tracks | [`MetadataPolicy`] | `metadata-track-skipped` |
//! | 59 | backchannels, inverted directions | sendonly audio next to receivable media is skipped | `backchannel-skipped`, `sendonly-media-received` |
//! | 60 | SRTP/MIKEY | not supported: SAVP media skipped, 463 reported | `sdp-media-skipped` |
//!
//! Credentials never reach a log or an error: requests carry the URL without userinfo, and
//! errors name the request and that URL.
#![warn(missing_docs)]

mod conn;
mod describe;
mod error;
mod link;
mod options;
mod publish;
pub mod quirk;
mod request;
mod response;
mod schedule;
mod session;
mod setup;
mod stats;

pub use describe::TrackInfo;
pub use error::ClientError;
pub use options::{
    CseqPolicy, InitialSequencePolicy, KeepalivePolicy, MetadataPolicy, ParsePolicyError,
    RequestHeaderPolicy, SessionIdPolicy, SessionOptions, TeardownPolicy, TransportPolicy,
    UdpSourcePolicy, UnassignedChannelPolicy,
};
pub use publish::{Publisher, Recording};
pub use quirk::Quirk;
pub use session::{Packet, Playing, Session};
pub use setup::{RtpStart, Transport};
pub use stats::SenderReportInfo;
