//! The `Transport` header (RFC 2326 §12.39).

use std::fmt;

use super::{
    parse_decimal, parse_hex_u32, split_param, split_unquoted, unquote, write_maybe_quoted,
    HeaderError, HeaderKind,
};

const HEADER: HeaderKind = HeaderKind::Transport;

/// The RTP profile of a transport-spec (`RTP/<profile>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Profile {
    /// `RTP/AVP` (RFC 3551).
    Avp,
    /// `RTP/SAVP` (RFC 3711).
    Savp,
    /// `RTP/AVPF` (RFC 4585).
    Avpf,
    /// `RTP/SAVPF` (RFC 5124).
    Savpf,
}

impl Profile {
    /// The profile name as written after `RTP/`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Avp => "AVP",
            Profile::Savp => "SAVP",
            Profile::Avpf => "AVPF",
            Profile::Savpf => "SAVPF",
        }
    }
}

/// The lower transport of a transport-spec. RFC 2326 §12.39: absent means UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LowerTransport {
    /// RTP over UDP (`RTP/AVP` or `RTP/AVP/UDP`).
    Udp,
    /// RTP interleaved in the RTSP connection (`RTP/AVP/TCP`, RFC 2326 §10.12).
    Tcp,
}

/// The `mode` parameter of a transport-spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportMode {
    /// `mode=play`: the server sends media.
    Play,
    /// `mode=record` (or `mode=receive`): the client sends media.
    Record,
}

impl TransportMode {
    /// The canonical (lower-case) mode name.
    pub fn name(self) -> &'static str {
        match self {
            TransportMode::Play => "play",
            TransportMode::Record => "record",
        }
    }
}

/// One transport-spec: a single alternative of a `Transport` header.
///
/// `Display` writes the canonical form: the protocol (`/TCP` only when interleaved, UDP implied),
/// then `unicast` or `multicast`, then the known parameters in RFC 2326 order, then
/// [`extra`](Self::extra) in the order received, e.g.
/// `RTP/AVP;unicast;client_port=5000-5001;server_port=8000-8001;ssrc=0000ABCD;mode=play`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransportSpec {
    /// The RTP profile.
    pub profile: Profile,
    /// The lower transport as written; see also [`effective_lower`](Self::effective_lower).
    pub lower: LowerTransport,
    /// `multicast` rather than `unicast`. Absent counts as unicast (RFC 2326 makes multicast the
    /// default, but no camera means that; senders should always write the token).
    pub multicast: bool,
    /// `destination`: where media is to be sent. An empty value counts as absent.
    pub destination: Option<String>,
    /// `source`: where media comes from. An empty value counts as absent.
    pub source: Option<String>,
    /// `interleaved`: the RTP and RTCP channels of the RTSP connection.
    pub interleaved: Option<(u8, u8)>,
    /// `append` (record into an existing resource).
    pub append: bool,
    /// `ttl`: multicast time-to-live.
    pub ttl: Option<u8>,
    /// `layers`: number of multicast layers.
    pub layers: Option<u32>,
    /// `port`: the multicast RTP and RTCP ports.
    pub port: Option<(u16, u16)>,
    /// `client_port`: the client's RTP and RTCP ports.
    pub client_port: Option<(u16, u16)>,
    /// `server_port`: the server's RTP and RTCP ports.
    pub server_port: Option<(u16, u16)>,
    /// `ssrc`: the SSRC the sender will use. Not hexadecimal or too long: left out.
    pub ssrc: Option<u32>,
    /// `mode`.
    pub mode: Option<TransportMode>,
    /// Parameters not listed above, in order, as `(name, value)` with the value's text as received
    /// (trimmed, quotes kept).
    pub extra: Vec<(String, Option<String>)>,
}

impl TransportSpec {
    /// A unicast spec with the given protocol and no parameters.
    pub fn new(profile: Profile, lower: LowerTransport) -> Self {
        TransportSpec {
            profile,
            lower,
            multicast: false,
            destination: None,
            source: None,
            interleaved: None,
            append: false,
            ttl: None,
            layers: None,
            port: None,
            client_port: None,
            server_port: None,
            ssrc: None,
            mode: None,
            extra: Vec::new(),
        }
    }

    /// Parses one transport-spec (no top-level commas).
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(HeaderError::Empty { header: HEADER });
        }
        let mut protocol = None;
        let mut spec = TransportSpec::new(Profile::Avp, LowerTransport::Udp);
        for segment in split_unquoted(value, ';') {
            let segment = segment.trim();
            if segment.is_empty() {
                continue;
            }
            let (name, param) = split_param(segment);
            // RFC 2326 §12.39 puts `transport/profile/lower-transport` first; some clients put it
            // after other parameters, so it is recognised anywhere.
            if param.is_none() && name.contains('/') {
                if protocol.is_some() {
                    return Err(HeaderError::invalid(HEADER, "transport protocol", value));
                }
                protocol = Some(parse_protocol(name)?);
                continue;
            }
            spec.apply(name, param)?;
        }
        let (profile, lower) = protocol.ok_or(HeaderError::Missing {
            header: HEADER,
            field: "transport protocol",
        })?;
        spec.profile = profile;
        spec.lower = lower;
        Ok(spec)
    }

    /// The lower transport actually in use: TCP whenever channels are interleaved, whatever the
    /// profile token says (the Escam Q6 answers a TCP request with `RTP/AVP;…;interleaved=0-1`).
    pub fn effective_lower(&self) -> LowerTransport {
        if self.interleaved.is_some() {
            LowerTransport::Tcp
        } else {
            self.lower
        }
    }

    /// Records one parameter; `raw` is its trimmed value text, if any.
    fn apply(&mut self, name: &str, raw: Option<&str>) -> Result<(), HeaderError> {
        let is = |known: &str| name.eq_ignore_ascii_case(known);
        // An empty value is treated like an absent parameter (`source=`, seen on cameras).
        let value = raw.map(unquote).map(str::trim).filter(|v| !v.is_empty());
        if is("unicast") {
            self.multicast = false;
        } else if is("multicast") {
            self.multicast = true;
        } else if is("append") {
            self.append = true;
        } else if is("destination") {
            self.destination = value.map(|v| parse_address(v, "destination")).transpose()?;
        } else if is("source") {
            self.source = value.map(|v| parse_address(v, "source")).transpose()?;
        } else if is("interleaved") {
            self.interleaved = value
                .map(|v| {
                    parse_pair(v, |c: u8| c.checked_add(1))
                        .ok_or_else(|| HeaderError::invalid(HEADER, "interleaved", v))
                })
                .transpose()?;
        } else if is("ttl") {
            self.ttl = parse_number(value, "ttl")?;
        } else if is("layers") {
            self.layers = parse_number(value, "layers")?;
        } else if is("port") {
            self.port = parse_ports(value, "port")?;
        } else if is("client_port") {
            self.client_port = parse_ports(value, "client_port")?;
        } else if is("server_port") {
            self.server_port = parse_ports(value, "server_port")?;
        } else if is("ssrc") {
            // gortsplib "invalid ssrc": a decimal or overlong value is ignored, not fatal.
            self.ssrc = value.and_then(parse_hex_u32);
        } else if is("mode") {
            self.mode = value.map(parse_mode).transpose()?;
        } else {
            // The raw text is kept so that unknown parameters are written back unchanged.
            self.extra.push((name.to_owned(), raw.map(str::to_owned)));
        }
        Ok(())
    }
}

impl fmt::Display for TransportSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RTP/{}", self.profile.name())?;
        if self.lower == LowerTransport::Tcp {
            f.write_str("/TCP")?;
        }
        f.write_str(if self.multicast {
            ";multicast"
        } else {
            ";unicast"
        })?;
        if let Some(destination) = &self.destination {
            f.write_str(";destination=")?;
            write_maybe_quoted(f, destination)?;
        }
        if let Some(source) = &self.source {
            f.write_str(";source=")?;
            write_maybe_quoted(f, source)?;
        }
        if let Some((rtp, rtcp)) = self.interleaved {
            write!(f, ";interleaved={rtp}-{rtcp}")?;
        }
        if self.append {
            f.write_str(";append")?;
        }
        if let Some(ttl) = self.ttl {
            write!(f, ";ttl={ttl}")?;
        }
        if let Some(layers) = self.layers {
            write!(f, ";layers={layers}")?;
        }
        for (name, ports) in [
            ("port", self.port),
            ("client_port", self.client_port),
            ("server_port", self.server_port),
        ] {
            if let Some((rtp, rtcp)) = ports {
                write!(f, ";{name}={rtp}-{rtcp}")?;
            }
        }
        if let Some(ssrc) = self.ssrc {
            write!(f, ";ssrc={ssrc:08X}")?;
        }
        if let Some(mode) = self.mode {
            write!(f, ";mode={}", mode.name())?;
        }
        for (name, value) in &self.extra {
            write!(f, ";{name}")?;
            if let Some(value) = value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

/// Parses `RTP/<profile>[/<lower>]`.
fn parse_protocol(token: &str) -> Result<(Profile, LowerTransport), HeaderError> {
    let mut parts = token.split('/').map(str::trim);
    let protocol = parts.next().unwrap_or_default();
    let profile = parts.next().unwrap_or_default();
    let lower = parts.next();
    if !protocol.eq_ignore_ascii_case("RTP") || parts.next().is_some() {
        return Err(HeaderError::unsupported(
            HEADER,
            "transport protocol",
            token,
        ));
    }
    let profile = [Profile::Avp, Profile::Savp, Profile::Avpf, Profile::Savpf]
        .into_iter()
        .find(|p| profile.eq_ignore_ascii_case(p.name()))
        .ok_or_else(|| HeaderError::unsupported(HEADER, "profile", token))?;
    let lower = match lower {
        None => LowerTransport::Udp,
        Some(l) if l.eq_ignore_ascii_case("UDP") => LowerTransport::Udp,
        Some(l) if l.eq_ignore_ascii_case("TCP") => LowerTransport::Tcp,
        Some(_) => return Err(HeaderError::unsupported(HEADER, "lower transport", token)),
    };
    Ok((profile, lower))
}

/// A `destination` or `source` address (RFC 7826 §18.54 writes it quoted, RFC 2326 bare). An
/// address cannot contain a quote.
fn parse_address(value: &str, field: &'static str) -> Result<String, HeaderError> {
    if value.contains('"') {
        return Err(HeaderError::invalid(HEADER, field, value));
    }
    Ok(value.to_owned())
}

/// RFC 2326 §12.39: `mode = <"> 1#mode <">`; unquoted and lower-case forms are common, and some
/// servers answer `mode=receive` for record.
fn parse_mode(value: &str) -> Result<TransportMode, HeaderError> {
    if value.eq_ignore_ascii_case("play") {
        Ok(TransportMode::Play)
    } else if value.eq_ignore_ascii_case("record") || value.eq_ignore_ascii_case("receive") {
        Ok(TransportMode::Record)
    } else {
        Err(HeaderError::unsupported(HEADER, "mode", value))
    }
}

fn parse_number<T: std::str::FromStr>(
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<T>, HeaderError> {
    value
        .map(|v| parse_decimal(v).ok_or_else(|| HeaderError::invalid(HEADER, field, v)))
        .transpose()
}

fn parse_ports(
    value: Option<&str>,
    field: &'static str,
) -> Result<Option<(u16, u16)>, HeaderError> {
    value
        .map(|v| {
            parse_pair(v, |p: u16| p.checked_add(1))
                .ok_or_else(|| HeaderError::invalid(HEADER, field, v))
        })
        .transpose()
}

/// RFC 2326 §12.39: `port [ "-" port ]` and `channel [ "-" channel ]`; a single number `n` means
/// the pair `n`, `n + 1` (RTP and RTCP).
fn parse_pair<T: std::str::FromStr + Copy>(
    value: &str,
    next: fn(T) -> Option<T>,
) -> Option<(T, T)> {
    let (first, second) = match value.split_once('-') {
        Some((first, second)) => (first.trim(), second.trim()),
        None => (value, ""),
    };
    let first = parse_decimal(first)?;
    let second = if second.is_empty() {
        next(first)?
    } else {
        parse_decimal(second)?
    };
    Some((first, second))
}

/// A `Transport` header: one or more comma-separated [`TransportSpec`] alternatives, in order of
/// preference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Transport(pub Vec<TransportSpec>);

impl Transport {
    /// Parses the header value. Empty alternatives (stray commas) are skipped; at least one
    /// alternative must remain.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let specs = split_unquoted(value, ',')
            .into_iter()
            .filter(|spec| !spec.trim().is_empty())
            .map(TransportSpec::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if specs.is_empty() {
            return Err(HeaderError::Empty { header: HEADER });
        }
        Ok(Transport(specs))
    }
}

impl From<TransportSpec> for Transport {
    fn from(spec: TransportSpec) -> Self {
        Transport(vec![spec])
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, spec) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{spec}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_display() {
        let mut tcp = TransportSpec::new(Profile::Avp, LowerTransport::Tcp);
        tcp.interleaved = Some((0, 1));
        assert_eq!(tcp.to_string(), "RTP/AVP/TCP;unicast;interleaved=0-1");

        let mut udp = TransportSpec::new(Profile::Avp, LowerTransport::Udp);
        udp.client_port = Some((5000, 5001));
        udp.server_port = Some((8000, 8001));
        udp.ssrc = Some(0xabcd);
        udp.mode = Some(TransportMode::Play);
        assert_eq!(
            udp.to_string(),
            "RTP/AVP;unicast;client_port=5000-5001;server_port=8000-8001;ssrc=0000ABCD;mode=play"
        );
        assert_eq!(TransportSpec::parse(&udp.to_string()), Ok(udp));
    }

    #[test]
    fn every_field() {
        let spec = TransportSpec::parse(
            "RTP/SAVPF/UDP;multicast;destination=224.2.0.1;source=192.0.2.1;interleaved=4-5;append;\
             ttl=16;layers=2;port=3456-3457;client_port=1000;server_port=2000-2001;ssrc=DEADBEEF;\
             mode=\"RECORD\";x-foo=\"a b\";x-flag",
        )
        .unwrap();
        assert_eq!(spec.profile, Profile::Savpf);
        assert_eq!(spec.lower, LowerTransport::Udp);
        assert!(spec.multicast && spec.append);
        assert_eq!(spec.destination.as_deref(), Some("224.2.0.1"));
        assert_eq!(spec.source.as_deref(), Some("192.0.2.1"));
        assert_eq!(spec.interleaved, Some((4, 5)));
        assert_eq!((spec.ttl, spec.layers), (Some(16), Some(2)));
        assert_eq!(spec.port, Some((3456, 3457)));
        assert_eq!(spec.client_port, Some((1000, 1001)));
        assert_eq!(spec.server_port, Some((2000, 2001)));
        assert_eq!(spec.ssrc, Some(0xdead_beef));
        assert_eq!(spec.mode, Some(TransportMode::Record));
        assert_eq!(
            spec.extra,
            [
                ("x-foo".to_owned(), Some("\"a b\"".to_owned())),
                ("x-flag".to_owned(), None)
            ]
        );
        assert_eq!(spec.effective_lower(), LowerTransport::Tcp);
        assert_eq!(TransportSpec::parse(&spec.to_string()), Ok(spec));
    }

    #[test]
    fn profiles_and_case() {
        for (text, profile, lower) in [
            ("RTP/AVP", Profile::Avp, LowerTransport::Udp),
            ("rtp/avp/tcp", Profile::Avp, LowerTransport::Tcp),
            ("RTP/SAVP/UDP", Profile::Savp, LowerTransport::Udp),
            ("RTP/AVPF", Profile::Avpf, LowerTransport::Udp),
            ("RTP/SAVPF/TCP", Profile::Savpf, LowerTransport::Tcp),
        ] {
            let spec = TransportSpec::parse(&format!("{text};UNICAST")).unwrap();
            assert_eq!(
                (spec.profile, spec.lower, spec.multicast),
                (profile, lower, false),
                "{text}"
            );
        }
    }

    #[test]
    fn whitespace_around_separators() {
        let spec =
            TransportSpec::parse(" RTP/AVP/TCP ; unicast ; interleaved = 2 - 3 ; ssrc =  1a ")
                .unwrap();
        assert_eq!(spec.interleaved, Some((2, 3)));
        assert_eq!(spec.ssrc, Some(0x1a));
    }

    #[test]
    fn single_numbers_imply_a_pair() {
        let spec = TransportSpec::parse("RTP/AVP/TCP;interleaved=5").unwrap();
        assert_eq!(spec.interleaved, Some((5, 6)));
        let spec = TransportSpec::parse("RTP/AVP;client_port=14186-").unwrap();
        assert_eq!(spec.client_port, Some((14186, 14187)));
        assert!(TransportSpec::parse("RTP/AVP/TCP;interleaved=255").is_err());
        assert!(TransportSpec::parse("RTP/AVP;client_port=65535").is_err());
    }

    #[test]
    fn modes() {
        for (text, mode) in [
            ("play", TransportMode::Play),
            ("\"PLAY\"", TransportMode::Play),
            ("record", TransportMode::Record),
            ("\"RECORD\"", TransportMode::Record),
            ("receive", TransportMode::Record),
        ] {
            let spec = TransportSpec::parse(&format!("RTP/AVP;mode={text}")).unwrap();
            assert_eq!(spec.mode, Some(mode), "{text}");
        }
        assert_eq!(
            TransportSpec::parse("RTP/AVP;mode=\"PLAY,RECORD\""),
            Err(HeaderError::unsupported(HEADER, "mode", "PLAY,RECORD"))
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            TransportSpec::parse(" "),
            Err(HeaderError::Empty { header: HEADER })
        );
        assert_eq!(
            TransportSpec::parse("unicast;client_port=1-2"),
            Err(HeaderError::Missing {
                header: HEADER,
                field: "transport protocol"
            })
        );
        assert_eq!(
            TransportSpec::parse("RAW/RAW/UDP;unicast"),
            Err(HeaderError::unsupported(
                HEADER,
                "transport protocol",
                "RAW/RAW/UDP"
            ))
        );
        assert_eq!(
            TransportSpec::parse("RTP/AVP/SCTP"),
            Err(HeaderError::unsupported(
                HEADER,
                "lower transport",
                "RTP/AVP/SCTP"
            ))
        );
        assert_eq!(
            TransportSpec::parse("RTP/AVP;client_port=a-b"),
            Err(HeaderError::invalid(HEADER, "client_port", "a-b"))
        );
        assert!(TransportSpec::parse("RTP/AVP;ttl=256").is_err());
        assert!(TransportSpec::parse("RTP/AVP;RTP/AVP/TCP").is_err());
    }

    #[test]
    fn alternatives() {
        let transport = Transport::parse(
            "RTP/AVP/TCP;unicast;interleaved=0-1, RTP/AVP;unicast;client_port=5000-5001,",
        )
        .unwrap();
        assert_eq!(transport.0.len(), 2);
        assert_eq!(transport.0[0].lower, LowerTransport::Tcp);
        assert_eq!(transport.0[1].client_port, Some((5000, 5001)));
        assert_eq!(
            transport.to_string(),
            "RTP/AVP/TCP;unicast;interleaved=0-1,RTP/AVP;unicast;client_port=5000-5001"
        );
        assert_eq!(
            Transport::parse(" , "),
            Err(HeaderError::Empty { header: HEADER })
        );
    }
}
