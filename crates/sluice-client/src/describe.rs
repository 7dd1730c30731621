//! Turning a `DESCRIBE` answer into tracks and control URLs (sans-IO).

use sluice_rtsp::message::Response;
use sluice_rtsp::sdp::{MediaDescription, SessionDescription};
use sluice_rtsp::url::{join_control, resolve_base};

use crate::error::ClientError;
use crate::quirk::{self, QuirkLog};

/// A media section the client can receive.
///
/// # Tolerances
///
/// The SDP is a set of hints (CAMERA-QUIRKS section G): [`SessionDescription::parse`] accepts missing
/// `v=`/`o=`/`s=`/`t=` lines, malformed `o=`/`c=` lines, lines in any order and trailing whitespace,
/// and the client never looks at `o=`, `c=`, `t=`, ports on `m=` lines or `fmtp` (bad
/// `sprop-parameter-sets` are the depacketizer's business, #40). A media section the client cannot
/// receive is left out, with the reason recorded as [`quirk::MEDIA_SKIPPED`], and only a description
/// with no usable section at all is an error ([`ClientError::NoMedia`]):
///
/// - a protocol other than RTP/AVP(F) or MP2T: SRTP (`RTP/SAVP`, #60) is not supported;
/// - no numeric payload type on the `m=` line (TP-Link `smart/1/90000`, #37);
/// - a payload type without clock rate (`META /0`, a dynamic audio or data type with no `rtpmap`,
///   #38); a dynamic *video* type without `rtpmap` is kept with the 90 kHz clock every video
///   payload format uses (RFC 3551 §5) and an empty encoding name.
///
/// Each section's payload type is the first on its `m=` line and is looked up only in that section's
/// `rtpmap` lines, an explicit `rtpmap` winning over the static table (#38); Opus always runs at
/// 48 kHz (RFC 7587 §7).
///
/// Control URLs are resolved by [`sluice_rtsp::url::resolve_control`]'s rules (#19–#22): Content-Base, else Content-Location,
/// else the request URL; a media section without `a=control` uses the base.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TrackInfo {
    /// The media section as described.
    pub media: MediaDescription,
    /// The absolute URL that `SETUP` is sent to.
    pub control: String,
    /// The payload type (the first on the `m=` line).
    pub payload_type: u8,
    /// The encoding name as written (`H264`, `MPEG4-GENERIC`, `PCMA`, …).
    pub encoding: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// An ONVIF metadata or other data track rather than audio or video (CAMERA-QUIRKS #58).
    pub metadata: bool,
    /// A `sendonly` audio backchannel (ONVIF), which the client does not set up by default
    /// (CAMERA-QUIRKS #59).
    pub backchannel: bool,
}

/// A described presentation.
#[derive(Debug, Clone)]
pub(crate) struct Description {
    /// The URL the successful `DESCRIBE` went to (after redirects), without userinfo.
    pub(crate) request_url: String,
    /// The URL for aggregate requests (`PLAY`, `PAUSE`, `TEARDOWN`, keepalives).
    pub(crate) aggregate: String,
    pub(crate) sdp: SessionDescription,
    pub(crate) tracks: Vec<TrackInfo>,
    /// The `Server` header.
    pub(crate) server: Option<String>,
    /// The methods the `OPTIONS` answer listed in `Public`.
    pub(crate) public: Vec<String>,
}

/// Interprets a successful `DESCRIBE` answer.
pub(crate) fn interpret_describe(
    request_url: &str,
    response: &Response,
    quirks: &mut QuirkLog,
) -> Result<Description, ClientError> {
    let mut sdp = SessionDescription::parse(&response.body).map_err(|e| ClientError::Protocol {
        method: Some("DESCRIBE".to_owned()),
        url: request_url.to_owned(),
        detail: format!("unreadable SDP: {e}"),
    })?;
    // CAMERA-QUIRKS #36.
    let moved = sdp.adopt_misplaced_fmtp();
    if moved > 0 {
        quirks.record(
            quirk::FMTP_MISPLACED,
            format!("{moved} a=fmtp line(s) moved to the section of their payload type"),
        );
    }
    let content_base = response
        .headers
        .get("Content-Base")
        .filter(|v| !v.is_empty());
    let content_location = response
        .headers
        .get("Content-Location")
        .filter(|v| !v.is_empty());
    // CAMERA-QUIRKS #21: RFC 2326 §C.1.1 base precedence, with broken bases repaired.
    let base = resolve_base(request_url, content_base, content_location);
    if content_base.is_none() && content_location.is_none() {
        quirks.record(
            quirk::NO_CONTENT_BASE,
            "no Content-Base or Content-Location; the request URL is the base",
        );
    }
    for repair in &base.repairs {
        quirks.record(
            quirk::CONTENT_BASE_REPAIRED,
            format!(
                "{repair}: {:?} used as {:?}",
                content_base.or(content_location).unwrap_or_default(),
                base.url
            ),
        );
    }
    if sdp.origin.is_none() || sdp.times.is_empty() {
        quirks.record(
            quirk::SDP_INCOMPLETE,
            format!(
                "SDP without {}",
                [
                    sdp.origin.is_none().then_some("o="),
                    sdp.times.is_empty().then_some("t="),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" or ")
            ),
        );
    }

    let aggregate = join_control(&base.url, sdp.control());
    // CAMERA-QUIRKS #59: gortsplib's rule (a sendonly section is a backchannel only next to one
    // that is not), narrowed to audio: IDS uEye and D-Link DCS-2630L mark their video sendonly.
    let sendonly = |m: &MediaDescription| m.direction().or(sdp.direction()) == Some("sendonly");
    let any_receivable = sdp.media.iter().any(|m| !sendonly(m));
    let mut tracks = Vec::new();
    let mut skipped = Vec::new();
    for (index, media) in sdp.media.iter().enumerate() {
        match track(media) {
            Ok((payload_type, encoding, clock_rate)) => {
                if encoding.is_empty() {
                    quirks.record(
                        quirk::RTPMAP_MISSING,
                        format!("media {index}: payload type {payload_type} without rtpmap; 90 kHz video assumed"),
                    );
                }
                if media.control().is_none() {
                    quirks.record(
                        quirk::MEDIA_WITHOUT_CONTROL,
                        format!("m={} section without a=control", media.media),
                    );
                }
                let control = join_control(&base.url, media.control());
                let backchannel =
                    sendonly(media) && any_receivable && media.media.eq_ignore_ascii_case("audio");
                if sendonly(media) && !backchannel {
                    quirks.record(
                        quirk::SENDONLY_MEDIA,
                        format!(
                            "m={} section marked sendonly; read as an ordinary track",
                            media.media
                        ),
                    );
                }
                tracks.push(TrackInfo {
                    media: media.clone(),
                    control,
                    payload_type,
                    metadata: is_metadata(media, &encoding),
                    backchannel,
                    encoding,
                    clock_rate,
                });
            }
            Err(reason) => {
                let detail = format!("media {index} (m={}): {reason}", media.media);
                quirks.record(quirk::MEDIA_SKIPPED, detail.clone());
                skipped.push(detail);
            }
        }
    }
    if tracks.is_empty() {
        return Err(ClientError::NoMedia {
            url: request_url.to_owned(),
            detail: if skipped.is_empty() {
                "no m= lines".to_owned()
            } else {
                skipped.join("; ")
            },
        });
    }
    Ok(Description {
        request_url: request_url.to_owned(),
        aggregate,
        sdp,
        tracks,
        server: response.headers.get("Server").map(str::to_owned),
        public: Vec::new(),
    })
}

/// The payload type, encoding and clock rate of a media section, or why it cannot be received.
pub(crate) fn track(media: &MediaDescription) -> Result<(u8, String, u32), String> {
    let proto = media.proto.to_ascii_uppercase();
    if proto.contains("SAVP") {
        return Err(format!("SRTP protocol {} is not supported", media.proto));
    }
    if !(proto.contains("RTP/AVP") || proto.starts_with("MP2T/")) {
        return Err(format!("protocol {} is not RTP", media.proto));
    }
    let payload_type = media
        .payload_types()
        .next()
        .ok_or_else(|| format!("no numeric payload type in {:?}", media.formats))?;
    let Some(map) = media.rtpmap(payload_type) else {
        // RFC 3551 §5: video payload formats use a 90 kHz clock; the encoding stays unknown (an
        // AJA encoder describes `m=video 0 RTP/AVP 96` and nothing else).
        if media.media.eq_ignore_ascii_case("video") {
            return Ok((payload_type, String::new(), 90_000));
        }
        return Err(format!("payload type {payload_type} has no rtpmap"));
    };
    let mut clock_rate = map.clock_rate;
    // RFC 7587 §7: Opus is always described as 48000/2, whatever the camera writes.
    if map.encoding.eq_ignore_ascii_case("opus") {
        clock_rate = 48_000;
    }
    if clock_rate == 0 {
        return Err(format!(
            "payload type {payload_type} ({}) has no clock rate",
            map.encoding
        ));
    }
    Ok((payload_type, map.encoding, clock_rate))
}

/// ONVIF metadata and other data tracks: anything that is neither audio nor video, plus the
/// metadata encodings some cameras put under `m=video`/`m=application`.
pub(crate) fn is_metadata(media: &MediaDescription, encoding: &str) -> bool {
    let kind = media.media.to_ascii_lowercase();
    let encoding = encoding.to_ascii_lowercase();
    !(kind == "video" || kind == "audio")
        || encoding.contains("metadata")
        || encoding == "meta"
        || encoding == "smart"
}

/// The indices `play(None)` sets up: everything but metadata (unless included) and backchannels.
pub(crate) fn default_selection(
    tracks: &[TrackInfo],
    include_metadata: bool,
    quirks: &mut QuirkLog,
) -> Vec<usize> {
    let mut chosen = Vec::new();
    for (i, track) in tracks.iter().enumerate() {
        if track.backchannel {
            quirks.record(
                quirk::BACKCHANNEL_SKIPPED,
                format!("track {i} ({}) is a sendonly backchannel", track.encoding),
            );
        } else if track.metadata && !include_metadata {
            quirks.record(
                quirk::METADATA_SKIPPED,
                format!("track {i} ({}) is metadata", track.encoding),
            );
        } else {
            chosen.push(i);
        }
    }
    // A description with only metadata still plays it rather than nothing.
    if chosen.is_empty() {
        chosen = (0..tracks.len())
            .filter(|&i| tracks.get(i).is_some_and(|t| !t.backchannel))
            .collect();
    }
    chosen
}
