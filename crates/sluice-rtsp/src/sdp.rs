//! Session Description Protocol (RFC 8866, formerly RFC 4566): a tolerant parser and a writer.
//!
//! RTSP servers describe their streams with SDP in the DESCRIBE response, and a great many cameras
//! get it wrong. Strict parsers such as the `sdp-types` crate reject too many real camera SDPs, so
//! this module keeps its own, built around one rule: the SDP is a set of hints, and nothing that
//! RTSP playback does not need may fail the parse. [`SessionDescription::parse`] therefore accepts:
//!
//! - LF-only line endings, bare CRs, trailing whitespace (spaces, tabs, NULs) and blank lines;
//! - text before the first `v=` line, or no session section at all (an SDP starting at `m=`);
//! - missing `v=`, `o=`, `s=` and `t=` lines, `t=now-`, repeated `s=`/`i=`/`o=` lines (the first
//!   wins), and session-only lines repeated inside media sections (ignored there);
//! - `o=` lines with usernames containing spaces, 4, 5 or 7 fields, negative/hex/decimal ids, `IP`
//!   or `In` instead of `IN`, and an empty or missing address: see [`Origin`];
//! - lines in any order within a section, lines of unknown type (skipped) and non-UTF-8 text
//!   (decoded lossily, for example Shift_JIS session names);
//! - non-standard media lines (`m=application/TP-LINK 0 RTP/AVP smart/1/90000`, `m=vana`,
//!   `m=meta`);
//! - `rtpmap` values with spaces, no clock rate or absurd channel counts: see
//!   [`MediaDescription::rtpmap`].
//!
//! Values are kept as written (after trimming whitespace at the ends of the line), so that a parsed
//! description written back with [`SessionDescription::write`] parses to an equal value. Lines of
//! types `e=`, `p=`, `r=`, `z=` and `k=` are not kept: nothing in RTSP uses them.
//!
//! ```
//! use sluice_rtsp::sdp::SessionDescription;
//!
//! let text = b"v=0\nm=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\n";
//! let sdp = SessionDescription::parse(text).unwrap();
//! let video = &sdp.media[0];
//! assert_eq!(video.rtpmap(96).unwrap().clock_rate, 90_000);
//! assert!(sdp.to_string().starts_with("v=0\r\n"));
//! ```

use std::fmt;

/// An `a=` line: `a=<name>` (a flag) or `a=<name>:<value>` (RFC 8866 §5.13).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribute {
    /// The attribute name, as written.
    pub name: String,
    /// The text after the first `:`, as written; `None` for a flag attribute such as `a=recvonly`.
    pub value: Option<String>,
}

/// The `o=` line (RFC 8866 §5.2):
/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
///
/// Parsed best-effort, because RTSP playback never needs it. The network type (`IN`, or `IP`/`In`
/// as some cameras write it) anchors the split: whatever precedes it ends with the session id and
/// version, and anything before those is the username (which may then contain spaces, as in `o=RTSP
/// Session 1 2 IN IP4 0.0.0.0`). A missing username is `-`, a missing id or version `0`; a missing
/// address type or address is left empty. Ids are kept as text (they may be negative, hex or
/// decimal fractions on real cameras).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The user's login on the originating host, or `-`.
    pub username: String,
    /// The session id, as written.
    pub session_id: String,
    /// The session version, as written.
    pub session_version: String,
    /// The network type, normally `IN`.
    pub net_type: String,
    /// The address type, normally `IP4` or `IP6`; may be empty.
    pub addr_type: String,
    /// The address of the originating host; may be empty.
    pub address: String,
}

/// A whole session description: the session-level lines and the media sections.
///
/// Fields hold the line values as written. [`SessionDescription::write`] emits `v=`, `o=` (when
/// present), `s=` (a single space when empty, as RFC 8866 §5.3 asks), `i=`, `u=`, `c=`, each `b=`,
/// each `t=` and each `a=`, then the media sections. To generate a valid SDP, set `origin` and at
/// least one time (`"0 0"` for an unbounded session).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionDescription {
    /// The protocol version (`v=`), always 0 in practice; 0 when the line is missing.
    pub version: u32,
    /// The originator and session identifier (`o=`), if present.
    pub origin: Option<Origin>,
    /// The session name (`s=`); empty when missing or blank.
    pub session_name: String,
    /// Session information (`i=`).
    pub information: Option<String>,
    /// A URI with more information (`u=`).
    pub uri: Option<String>,
    /// The session-level connection data (`c=`), as written, e.g. `IN IP4 0.0.0.0`.
    pub connection: Option<String>,
    /// Session-level bandwidth lines (`b=`), as written, e.g. `AS:4096`.
    pub bandwidths: Vec<String>,
    /// Timing lines (`t=`), as written, e.g. `0 0`.
    pub times: Vec<String>,
    /// Session-level attributes, in order.
    pub attributes: Vec<Attribute>,
    /// The media sections, in order.
    pub media: Vec<MediaDescription>,
}

/// A media section, from its `m=` line up to the next one (RFC 8866 §5.14).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaDescription {
    /// The media type: `video`, `audio`, `application`, … or anything a camera invents
    /// (`application/TP-LINK`).
    pub media: String,
    /// The transport port; usually 0 under RTSP, which negotiates transport in SETUP.
    pub port: u16,
    /// The number of ports, from `<port>/<number>`.
    pub num_ports: Option<u16>,
    /// The transport protocol, e.g. `RTP/AVP`.
    pub proto: String,
    /// The media formats: RTP payload type numbers for RTP protocols, but kept as text because some
    /// cameras put other things there (`smart/1/90000`).
    pub formats: Vec<String>,
    /// The media title (`i=`).
    pub title: Option<String>,
    /// The media-level connection data (`c=`), as written; only the first one is kept.
    pub connection: Option<String>,
    /// Media-level bandwidth lines (`b=`), as written.
    pub bandwidths: Vec<String>,
    /// Media-level attributes, in order.
    pub attributes: Vec<Attribute>,
}

/// An RTP payload mapping (`a=rtpmap`, RFC 8866 §6.6), or an RFC 3551 static payload type default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpMap {
    /// The encoding name as written, e.g. `H264`, `MPEG4-GENERIC`, `pcma` (compare
    /// case-insensitively).
    pub encoding: String,
    /// The RTP clock rate in Hz; 0 when the rtpmap gives none (the stream is then unusable, the
    /// session is not).
    pub clock_rate: u32,
    /// The encoding parameters: the channel count for audio, when given.
    pub channels: Option<u16>,
}

/// Why an SDP could not be parsed at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The text has neither a `v=` nor an `m=` line.
    #[error("no SDP found: neither a v= nor an m= line")]
    Empty,
    /// The `v=` value is not a number.
    #[error("line {line}: invalid protocol version {value:?}")]
    InvalidVersion {
        /// The 1-based line number.
        line: usize,
        /// The offending value.
        value: String,
    },
    /// An `m=` line lacks the port or protocol, or its port is not a 16-bit number.
    #[error("line {line}: invalid media line: {reason}")]
    InvalidMedia {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Attribute {
    /// An attribute with a value: `a=<name>:<value>`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// A flag attribute: `a=<name>`.
    pub fn flag(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: None,
        }
    }

    // RFC 8866 §5.13: attribute-field = (attribute-name ":" attribute-value) / attribute-name
    fn parse(value: &str) -> Self {
        match value.split_once(':') {
            Some((name, value)) => Self::new(name, value),
            None => Self::flag(value),
        }
    }
}

impl Origin {
    // RFC 8866 §5.2, read tolerantly as described on the type.
    fn parse(value: &str) -> Option<Self> {
        let tokens: Vec<&str> = value.split_whitespace().collect();
        if tokens.is_empty() {
            return None;
        }
        let n = tokens.len();
        let is_net_type = |t: &&str| t.eq_ignore_ascii_case("IN") || t.eq_ignore_ascii_case("IP");
        // The network type normally has two fields after it; truncated lines have fewer.
        let net_index = (n.saturating_sub(3)..n).find(|&i| tokens.get(i).is_some_and(is_net_type));
        let (pre, net, post): (&[&str], &str, &[&str]) = match net_index {
            Some(i) => (
                tokens.get(..i).unwrap_or_default(),
                tokens.get(i).copied().unwrap_or_default(),
                tokens.get(i + 1..).unwrap_or_default(),
            ),
            // No recognisable network type: positional from the end when all six fields are there.
            None if n >= 6 => (
                tokens.get(..n - 3).unwrap_or_default(),
                tokens.get(n - 3).copied().unwrap_or_default(),
                tokens.get(n - 2..).unwrap_or_default(),
            ),
            None => (&tokens[..], "", &[]),
        };
        let (username, session_id, session_version) = match pre {
            [] => ("-".to_owned(), "0", "0"),
            [id] => ("-".to_owned(), *id, "0"),
            [id, version] => ("-".to_owned(), *id, *version),
            [user @ .., id, version] => (user.join(" "), *id, *version),
        };
        Some(Self {
            username,
            session_id: session_id.to_owned(),
            session_version: session_version.to_owned(),
            net_type: net.to_owned(),
            addr_type: post.first().copied().unwrap_or_default().to_owned(),
            address: post.get(1..).unwrap_or_default().join(" "),
        })
    }

    fn write(&self, out: &mut String) {
        let start = out.len();
        for (i, field) in [
            &self.username,
            &self.session_id,
            &self.session_version,
            &self.net_type,
            &self.addr_type,
            &self.address,
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push(' ');
            }
            push_value(out, field);
        }
        // Truncated origins end in empty fields; don't leave their separators behind.
        let end = start
            + out
                .get(start..)
                .unwrap_or_default()
                .trim_end_matches(' ')
                .len();
        out.truncate(end);
    }
}

impl SessionDescription {
    /// Parses an SDP body, tolerating the deviations listed in the [module docs](self).
    ///
    /// Fails only when there is no SDP at all ([`SdpError::Empty`]), on a non-numeric `v=`, or on
    /// an `m=` line without a usable port and protocol.
    pub fn parse(text: &[u8]) -> Result<Self, SdpError> {
        let lines = lines(text);
        // Anything before the first v= line is not SDP (but an SDP may lack v= altogether).
        let start = lines.iter().position(|l| l.kind == b'v').unwrap_or(0);
        let lines = lines.get(start..).unwrap_or_default();
        if !lines.iter().any(|l| l.kind == b'v' || l.kind == b'm') {
            return Err(SdpError::Empty);
        }

        let mut sdp = Self::default();
        let mut seen_version = false;
        let mut seen_name = false;
        for line in lines {
            if line.kind == b'm' {
                sdp.media.push(MediaDescription::parse_media_line(line)?);
                continue;
            }
            if let Some(media) = sdp.media.last_mut() {
                media.parse_line(line);
                continue;
            }
            let value = line.value.as_str();
            match line.kind {
                b'v' if !seen_version => {
                    seen_version = true;
                    sdp.version = value.parse().map_err(|_| SdpError::InvalidVersion {
                        line: line.number,
                        value: value.to_owned(),
                    })?;
                }
                b'o' if sdp.origin.is_none() => sdp.origin = Origin::parse(value),
                b's' if !seen_name => {
                    seen_name = true;
                    sdp.session_name = value.to_owned();
                }
                b'i' if sdp.information.is_none() => sdp.information = Some(value.to_owned()),
                b'u' if sdp.uri.is_none() => sdp.uri = Some(value.to_owned()),
                b'c' if sdp.connection.is_none() => sdp.connection = Some(value.to_owned()),
                b'b' => sdp.bandwidths.push(value.to_owned()),
                b't' => sdp.times.push(value.to_owned()),
                b'a' => sdp.attributes.push(Attribute::parse(value)),
                // Repeated session lines, e=, p=, r=, z=, k= and unknown types.
                _ => {}
            }
        }
        Ok(sdp)
    }

    /// Moves `a=fmtp` lines that sit in a section which does not list their payload type into the
    /// section that does and has no fmtp of its own for it; returns how many moved.
    ///
    /// CAMERA-QUIRKS #36: some cameras put the video's `a=fmtp:96` at the end of the audio section
    /// (`sdp/unknown-fmtp-in-wrong-section-1.sdp`), which leaves the video without its parameter
    /// sets. Only dynamic payload types (96–127) move, and only to exactly one owner.
    pub fn adopt_misplaced_fmtp(&mut self) -> usize {
        // Linear in the size of the description (cameras are hostile too): per dynamic payload
        // type, a bit per section for "lists it" and "has an fmtp for it".
        let dynamic = |pt: u8| (96..=127).contains(&pt).then(|| 1u32 << (pt - 96));
        let fmtp_pt = |a: &Attribute| -> Option<u8> {
            if !a.name.eq_ignore_ascii_case("fmtp") {
                return None;
            }
            Some(split_payload_type(a.value.as_deref()?)?.0)
        };
        let lists: Vec<u32> = self
            .media
            .iter()
            .map(|m| m.payload_types().filter_map(dynamic).fold(0, |a, b| a | b))
            .collect();
        let mut has_fmtp: Vec<u32> = self
            .media
            .iter()
            .map(|m| {
                m.attributes
                    .iter()
                    .filter_map(fmtp_pt)
                    .filter_map(dynamic)
                    .fold(0, |a, b| a | b)
            })
            .collect();
        // For each dynamic payload type, the sections that list it without an fmtp for it: the
        // first two are enough to tell "exactly one".
        let owners = |lists: &[u32], has_fmtp: &[u32], bit: u32| -> Option<usize> {
            let mut found =
                (0..lists.len()).filter(|&m| lists[m] & bit != 0 && has_fmtp[m] & bit == 0);
            let first = found.next()?;
            found.next().is_none().then_some(first)
        };
        let mut owner_of: [Option<Option<usize>>; 32] = [None; 32];
        let mut moved = 0;
        for from in 0..self.media.len() {
            let mut i = 0;
            while i < self.media[from].attributes.len() {
                let bit = fmtp_pt(&self.media[from].attributes[i])
                    .and_then(dynamic)
                    .filter(|bit| lists[from] & bit == 0);
                let to = bit.and_then(|bit| {
                    let slot = &mut owner_of[bit.trailing_zeros() as usize];
                    *slot.get_or_insert_with(|| owners(&lists, &has_fmtp, bit))
                });
                match (to, bit) {
                    (Some(to), Some(bit)) => {
                        let attr = self.media[from].attributes.remove(i);
                        self.media[to].attributes.push(attr);
                        has_fmtp[to] |= bit;
                        // The owner has its fmtp now: later strays for this type stay where they are.
                        owner_of[bit.trailing_zeros() as usize] = Some(None);
                        moved += 1;
                    }
                    _ => i += 1,
                }
            }
        }
        moved
    }

    /// The value of the first session-level attribute called `name` (ASCII case-insensitive);
    /// `Some("")` for a flag attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_attribute(&self.attributes, name)
    }

    /// The session-level `a=control` URL (RFC 2326 §C.1.1), trimmed; often `*`.
    pub fn control(&self) -> Option<&str> {
        self.attribute("control").map(str::trim)
    }

    /// The session-level direction attribute: `sendonly`, `recvonly`, `sendrecv` or `inactive`
    /// (RFC 8866 §6.7), if any.
    pub fn direction(&self) -> Option<&str> {
        find_direction(&self.attributes)
    }

    /// Appends the description as SDP text with CRLF line endings, lines in RFC 8866 §5 order.
    ///
    /// CR and LF characters inside values are written as spaces so that no value can inject a line.
    pub fn write(&self, out: &mut String) {
        // RFC 8866 §5: v, o, s, i, u, (e, p), c, b, t, (r, z, k), a, then the media sections.
        push_line(out, 'v', &self.version.to_string());
        if let Some(origin) = &self.origin {
            out.push_str("o=");
            origin.write(out);
            out.push_str("\r\n");
        }
        // RFC 8866 §5.3: a session without a meaningful name uses "s= ".
        push_line(
            out,
            's',
            if self.session_name.is_empty() {
                " "
            } else {
                &self.session_name
            },
        );
        if let Some(information) = &self.information {
            push_line(out, 'i', information);
        }
        if let Some(uri) = &self.uri {
            push_line(out, 'u', uri);
        }
        if let Some(connection) = &self.connection {
            push_line(out, 'c', connection);
        }
        for bandwidth in &self.bandwidths {
            push_line(out, 'b', bandwidth);
        }
        for time in &self.times {
            push_line(out, 't', time);
        }
        for attribute in &self.attributes {
            push_attribute(out, attribute);
        }
        for media in &self.media {
            media.write(out);
        }
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write(&mut out);
        f.write_str(&out)
    }
}

impl MediaDescription {
    /// The value of the first attribute of this section called `name` (ASCII case-insensitive);
    /// `Some("")` for a flag attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_attribute(&self.attributes, name)
    }

    /// This section's `a=control` URL (RFC 2326 §C.1.1), trimmed; relative or absolute.
    pub fn control(&self) -> Option<&str> {
        self.attribute("control").map(str::trim)
    }

    /// The RTP payload types listed on the `m=` line, skipping formats that are not numbers below
    /// 128.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|&pt| pt < 128)
    }

    /// The payload mapping of `pt` in this section: the first `a=rtpmap:<pt>` line, else the
    /// RFC 3551 static assignment for static payload types.
    ///
    /// An explicit rtpmap wins over the static table (cameras reuse static numbers, e.g. AAC on
    /// PT 0). Tolerates spaces around the parts (`META /0`), a missing or unparseable clock rate
    /// (then 0) and unparseable channel counts (then `None`).
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.attributes
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case("rtpmap"))
            .filter_map(|a| a.value.as_deref())
            .find_map(|value| {
                let (number, mapping) = split_payload_type(value)?;
                (number == pt).then(|| RtpMap::parse(mapping))
            })
            .or_else(|| RtpMap::static_payload_type(pt))
    }

    /// The format parameters of `pt` in this section: the text after `a=fmtp:<pt> `, trimmed
    /// (possibly empty). Split it with [`parse_fmtp`].
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case("fmtp"))
            .filter_map(|a| a.value.as_deref())
            .find_map(|value| {
                let (number, params) = split_payload_type(value)?;
                (number == pt).then_some(params)
            })
    }

    /// This section's direction attribute: `sendonly`, `recvonly`, `sendrecv` or `inactive`
    /// (RFC 8866 §6.7), if any. Absent means the session-level direction, or `sendrecv`.
    ///
    /// ONVIF servers mark directions from the client's view (`recvonly` camera tracks, a `sendonly`
    /// audio backchannel), but some cameras mark ordinary tracks `sendonly` too (IDS uEye, D-Link
    /// DCS-2630L).
    pub fn direction(&self) -> Option<&str> {
        find_direction(&self.attributes)
    }

    // RFC 8866 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
    fn parse_media_line(line: &Line) -> Result<Self, SdpError> {
        let invalid = |reason| SdpError::InvalidMedia {
            line: line.number,
            reason,
        };
        let mut tokens = line.value.split_whitespace();
        let media = tokens.next().ok_or(invalid("no media type"))?;
        let port = tokens.next().ok_or(invalid("no port"))?;
        let proto = tokens.next().ok_or(invalid("no protocol"))?;
        let (port, num_ports) = match port.split_once('/') {
            Some((port, num)) => (
                port,
                Some(num.parse().map_err(|_| invalid("bad number of ports"))?),
            ),
            None => (port, None),
        };
        Ok(Self {
            media: media.to_owned(),
            port: port.parse().map_err(|_| invalid("bad port"))?,
            num_ports,
            proto: proto.to_owned(),
            formats: tokens.map(str::to_owned).collect(),
            ..Self::default()
        })
    }

    fn parse_line(&mut self, line: &Line) {
        let value = line.value.as_str();
        match line.kind {
            b'i' if self.title.is_none() => self.title = Some(value.to_owned()),
            b'c' if self.connection.is_none() => self.connection = Some(value.to_owned()),
            b'b' => self.bandwidths.push(value.to_owned()),
            b'a' => self.attributes.push(Attribute::parse(value)),
            // Session-only lines repeated here (seen on "RtspServer" cameras), k= and unknown
            // types.
            _ => {}
        }
    }

    fn write(&self, out: &mut String) {
        // RFC 8866 §5: m, i, c, b, (k), a.
        out.push_str("m=");
        push_value(out, &self.media);
        out.push(' ');
        out.push_str(&self.port.to_string());
        if let Some(num) = self.num_ports {
            out.push('/');
            out.push_str(&num.to_string());
        }
        out.push(' ');
        push_value(out, &self.proto);
        for format in &self.formats {
            out.push(' ');
            push_value(out, format);
        }
        out.push_str("\r\n");
        if let Some(title) = &self.title {
            push_line(out, 'i', title);
        }
        if let Some(connection) = &self.connection {
            push_line(out, 'c', connection);
        }
        for bandwidth in &self.bandwidths {
            push_line(out, 'b', bandwidth);
        }
        for attribute in &self.attributes {
            push_attribute(out, attribute);
        }
    }
}

impl RtpMap {
    /// The RFC 3551 §6 (tables 4 and 5) assignment of a static payload type, `None` for unassigned
    /// and dynamic ones.
    ///
    /// G.722 (PT 9) has an 8000 Hz RTP clock although it samples at 16 kHz (RFC 3551 §4.5.2), and
    /// MPEG audio (PT 14) uses the 90 kHz clock.
    pub fn static_payload_type(pt: u8) -> Option<Self> {
        let (encoding, clock_rate, channels) = match pt {
            0 => ("PCMU", 8000, None),
            3 => ("GSM", 8000, None),
            4 => ("G723", 8000, None),
            5 => ("DVI4", 8000, None),
            6 => ("DVI4", 16000, None),
            7 => ("LPC", 8000, None),
            8 => ("PCMA", 8000, None),
            9 => ("G722", 8000, None),
            10 => ("L16", 44100, Some(2)),
            11 => ("L16", 44100, None),
            12 => ("QCELP", 8000, None),
            13 => ("CN", 8000, None),
            14 => ("MPA", 90000, None),
            15 => ("G728", 8000, None),
            16 => ("DVI4", 11025, None),
            17 => ("DVI4", 22050, None),
            18 => ("G729", 8000, None),
            25 => ("CelB", 90000, None),
            26 => ("JPEG", 90000, None),
            28 => ("nv", 90000, None),
            31 => ("H261", 90000, None),
            32 => ("MPV", 90000, None),
            33 => ("MP2T", 90000, None),
            34 => ("H263", 90000, None),
            _ => return None,
        };
        Some(Self {
            encoding: encoding.to_owned(),
            clock_rate,
            channels,
        })
    }

    // RFC 8866 §6.6: <encoding name>/<clock rate>[/<encoding parameters>]
    fn parse(mapping: &str) -> Self {
        let mut parts = mapping.split('/').map(str::trim);
        let encoding = parts.next().unwrap_or_default().to_owned();
        let clock_rate = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
        let channels = parts.next().and_then(|c| c.parse().ok());
        Self {
            encoding,
            clock_rate,
            channels,
        }
    }
}

impl fmt::Display for RtpMap {
    /// The rtpmap text after the payload type, e.g. `MPEG4-GENERIC/48000/2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.encoding, self.clock_rate)?;
        if let Some(channels) = self.channels {
            write!(f, "/{channels}")?;
        }
        Ok(())
    }
}

/// Splits an `a=fmtp` value (the text after `a=fmtp:<pt> `) into `(name, value)` pairs, in order.
///
/// RFC 8866 §6.15 leaves the syntax to the payload format; in practice it is `name=value` pairs
/// joined by `;`. Tolerates spaces around `;` and `=`, a trailing `;`, pairs separated by spaces
/// only (`DecoderTag=h3c-v3 RTCP=0`) and names without a value (then the value is empty). Names
/// keep their case as written (cameras mix `SizeLength` and `sizelength`): compare them
/// case-insensitively.
pub fn parse_fmtp(value: &str) -> Vec<(String, String)> {
    let is_separator = |c: char| c == ';' || c.is_whitespace();
    let mut params = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(is_separator);
        if rest.is_empty() {
            return params;
        }
        let name_end = rest
            .find(|c: char| c == '=' || is_separator(c))
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_end);
        let after_name = after.trim_start_matches(|c: char| c.is_whitespace());
        let param_value = match after_name.strip_prefix('=') {
            Some(v) => {
                let v = v.trim_start_matches(|c: char| c.is_whitespace());
                let end = v.find(is_separator).unwrap_or(v.len());
                let (param_value, after_value) = v.split_at(end);
                rest = after_value;
                param_value
            }
            None => {
                rest = after;
                ""
            }
        };
        // Each turn consumes the name or, when there is none, the "=" that stopped it.
        if !name.is_empty() {
            params.push((name.to_owned(), param_value.to_owned()));
        }
    }
}

/// One line of SDP text: its type letter, trimmed value and 1-based line number.
struct Line {
    kind: u8,
    value: String,
    number: usize,
}

/// Splits SDP text into typed lines: LF, CRLF or CR endings; whitespace and NULs trimmed; blank
/// lines and lines without a `<letter>=` prefix dropped.
fn lines(text: &[u8]) -> Vec<Line> {
    let mut out = Vec::new();
    for (index, physical) in text.split(|&b| b == b'\n').enumerate() {
        for raw in physical.split(|&b| b == b'\r') {
            let decoded = String::from_utf8_lossy(raw);
            let trimmed = decoded.trim_matches(|c: char| c.is_whitespace() || c == '\0');
            let mut bytes = trimmed.bytes();
            let (Some(kind), Some(b'=')) = (bytes.next(), bytes.next()) else {
                continue;
            };
            if !kind.is_ascii_lowercase() {
                continue;
            }
            let value = trimmed.get(2..).unwrap_or_default().trim();
            out.push(Line {
                kind,
                value: value.to_owned(),
                number: index + 1,
            });
        }
    }
    out
}

fn find_attribute<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| a.value.as_deref().unwrap_or(""))
}

fn find_direction(attributes: &[Attribute]) -> Option<&str> {
    // RFC 8866 §6.7: the four media direction attributes.
    attributes
        .iter()
        .filter(|a| a.value.is_none())
        .map(|a| a.name.as_str())
        .find(|name| {
            ["sendonly", "recvonly", "sendrecv", "inactive"]
                .iter()
                .any(|d| d.eq_ignore_ascii_case(name))
        })
}

/// Splits `<pt> <rest>` as found in rtpmap and fmtp values.
fn split_payload_type(value: &str) -> Option<(u8, &str)> {
    let value = value.trim_start();
    let end = value.find(char::is_whitespace).unwrap_or(value.len());
    let (number, rest) = value.split_at(end);
    Some((number.parse().ok()?, rest.trim()))
}

fn push_value(out: &mut String, value: &str) {
    out.extend(
        value
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c }),
    );
}

fn push_line(out: &mut String, kind: char, value: &str) {
    out.push(kind);
    out.push('=');
    push_value(out, value);
    out.push_str("\r\n");
}

fn push_attribute(out: &mut String, attribute: &Attribute) {
    out.push_str("a=");
    push_value(out, &attribute.name);
    if let Some(value) = &attribute.value {
        out.push(':');
        push_value(out, value);
    }
    out.push_str("\r\n");
}
