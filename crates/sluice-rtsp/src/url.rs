//! RTSP URLs (RFC 2326 §3.2) and control-URL resolution (RFC 2326 §C.1.1) the way cameras need it.
//!
//! [`RtspUrl::parse`] reads what a user writes in a configuration file: `rtsp://` or `rtsps://`,
//! percent-encoded credentials in the userinfo, a host name, an IPv4 address or a bracketed IPv6
//! literal, an optional port and a path with its query. The credentials stay out of everything
//! that is written to the wire or a log: [`RtspUrl::to_request_uri`] has no userinfo and `Display`
//! shows `user:***@`.
//!
//! [`resolve_control`] turns the `a=control` attributes of a DESCRIBE answer into the URLs that
//! SETUP and PLAY are sent to. It works on strings and never re-encodes what the camera wrote.
//!
//! # Tolerances in [`RtspUrl::parse`]
//!
//! - **Unencoded `@`, `?` and `#` in a password** (`rtsp://admin:p@ss#1@cam/…`): the userinfo ends
//!   at the last `@` before the first `/`. A `/` in a password must be written `%2F`; when one
//!   seems to be there the error says so ([`UrlError::UnencodedSlash`]).
//! - **A `%` that starts no escape** (`pa%ss`) is kept as a literal `%`.
//! - **A bare IPv6 address** (`rtsp://::1/x`) is read as the host with the default port.
//! - **An empty port** (`rtsp://cam:/x`) means the default port.
//! - **Spaces and non-ASCII characters in the path** are percent-encoded (UTF-8), so the request
//!   line stays valid; control characters are refused.
//! - **Scheme case** (`RTSP://`) and surrounding whitespace are ignored.
//!
//! # Tolerances in [`resolve_control`] (CAMERA-QUIRKS section D)
//!
//! - **Base precedence** (RFC 2326 §C.1.1): Content-Base, else Content-Location, else the request
//!   URL; an empty or blank header counts as absent (VStarcam and FFmpeg-based servers send none).
//! - **Joining the live555 way** (#19): a relative control is appended to the base with exactly
//!   one `/` between them, never resolved per RFC 3986, so `rtsp://h/stream` + `trackID=1` is
//!   `rtsp://h/stream/trackID=1` (H264DVR's `rtsp://127.0.0.1:554/camera`, GW Security's base
//!   without a trailing slash); a control starting with `/` does not double the slash (go2rtc#1236).
//! - **Queries are opaque** (#20): the base and the control are concatenated without reordering or
//!   normalising any query: Dahua's base `…?channel=1&subtype=1&unicast=true&proto=Onvif/` gives
//!   `…proto=Onvif/trackID=0`, GW Security's `…?channel=1&subtype=0&unicast=true&proto=Onvif`
//!   gives `…proto=Onvif/video`, and a Hikvision-style request URL with `?transportmode=unicast`
//!   gives `…?transportmode=unicast/trackID=1`. A control that is only a query (`?ctype=video`) is
//!   appended to the base without a slash.
//! - **Absolute controls are used as they are** (RFC 2326 §C.1.1), whatever their host or port:
//!   Hikvision's `…/101/trackID=1?transportmode=unicast&profile=Profile_1`, Samsung/Hanwha's
//!   control on another host, Bosch's query-only `rtsp://h:554/?inst=2&h26x=4`.
//! - **`*` and a missing control mean the base** (RFC 2326 §C.1.1; the go2rtc test server sends
//!   media without `a=control`, #22).
//! - **A base without a scheme** (#21: Anjvision's `192.168.1.10:554/stream0/`,
//!   `192.168.253.220:1935/`) gets the request URL's scheme; a base that is only a path (`/live/`)
//!   gets the request URL's scheme and host; a relative Content-Location (`stream0/`) is joined to
//!   the request URL as a control would be.
//! - **A doubled scheme** (`rtsp://rtsp://turret2-cam.lan:554/stream1/`) loses its extra copy.
//! - **A bare IPv6 host** (`rtsp://::ffff:192.168.1.123/onvif/profile.1/`) gets its brackets.
//! - **Userinfo** in the base (the request URL as configured, or a camera echoing it) is removed, so
//!   credentials never reach a request line or a log.
//! - **A base on another host is kept**: H264DVR firmware answers `rtsp://127.0.0.1:554/camera`
//!   whatever address it was reached on; requests still go over the connection already open, and
//!   the camera expects its own spelling of the URL.
//!
//! [`resolve_base`] reports which repairs it made ([`BaseRepair`]), for diagnostics.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use thiserror::Error;

use crate::auth::Credentials;

/// The default port of `rtsp://` (RFC 2326 §3.2).
pub const DEFAULT_PORT: u16 = 554;
/// The default port of `rtsps://` (RFC 7826 §19.2, IANA).
pub const DEFAULT_TLS_PORT: u16 = 322;

/// A parsed `rtsp://` or `rtsps://` URL.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RtspUrl {
    /// `rtsp` or `rtsps`, lower case.
    pub scheme: String,
    /// The host name or address, without the brackets of an IPv6 literal (`::1`), so it can be
    /// passed to a resolver as it is. An IPv6 zone is kept decoded (`fe80::1%eth0`).
    pub host: String,
    /// The port; the scheme's default when the URL names none.
    pub port: u16,
    /// Everything after the authority: empty, or starting with `/` (or `?` when there is no
    /// path), query included.
    pub path: String,
    /// The percent-decoded userinfo, when the URL has one.
    pub credentials: Option<Credentials>,
    /// The URL spelled out its port, so the request URI does too.
    port_written: bool,
}

impl RtspUrl {
    /// Parses an RTSP URL. The userinfo is percent-decoded into [`RtspUrl::credentials`]; the
    /// default port is 554 for `rtsp` and 322 for `rtsps`.
    pub fn parse(s: &str) -> Result<RtspUrl, UrlError> {
        let input = s.trim();
        let lead = s.len() - s.trim_start().len();
        if input.is_empty() {
            return Err(UrlError::Empty);
        }
        let (scheme, rest) = split_scheme(input).ok_or(UrlError::MissingScheme)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "rtsp" && scheme != "rtsps" {
            return Err(UrlError::UnsupportedScheme { scheme });
        }
        let rest_offset = lead + (input.len() - rest.len());

        // RFC 3986 §3.2: the authority ends at the first "/"; the userinfo at the last "@" in it.
        let slash = rest.find('/').unwrap_or(rest.len());
        let (head, tail) = rest.split_at_checked(slash).unwrap_or((rest, ""));
        let (userinfo, hostport, hostport_offset) = match head.rfind('@') {
            Some(at) => (
                head.get(..at),
                head.get(at + 1..).unwrap_or_default(),
                rest_offset + at + 1,
            ),
            None => (None, head, rest_offset),
        };
        // A query or fragment may follow the authority without a path ("rtsp://cam?x=1").
        let (hostport, query) = match hostport.find(['?', '#']) {
            Some(i) => hostport.split_at_checked(i).unwrap_or((hostport, "")),
            None => (hostport, ""),
        };
        let slash_hint = || {
            // "user:pa/ss@host/…": an '@' after the first '/' but before the next one.
            userinfo.is_none()
                && tail
                    .get(1..)
                    .and_then(|t| t.split('/').next())
                    .is_some_and(|segment| segment.contains('@'))
        };
        let (host, port) = parse_hostport(hostport, hostport_offset).map_err(|e| {
            if slash_hint() {
                UrlError::UnencodedSlash {
                    offset: rest_offset,
                }
            } else {
                e
            }
        })?;
        let default = default_port(&scheme);
        let credentials = match userinfo {
            None | Some("") => None,
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                let username = percent_decode(user).ok_or(UrlError::InvalidUserinfo)?;
                let password = percent_decode(password).ok_or(UrlError::InvalidUserinfo)?;
                Some(Credentials { username, password })
            }
        };
        let path_offset = lead + (input.len() - tail.len());
        let mut path = String::with_capacity(query.len() + tail.len());
        push_path(&mut path, query, path_offset.saturating_sub(query.len()))?;
        push_path(&mut path, tail, path_offset)?;
        Ok(RtspUrl {
            scheme,
            host,
            port: port.unwrap_or(default),
            path,
            credentials,
            port_written: port.is_some(),
        })
    }

    /// The URL without userinfo: what goes on the request line, into the Digest `uri` and into
    /// logs. The port appears when it is not the default or when the parsed URL spelled it out.
    pub fn to_request_uri(&self) -> String {
        let mut out =
            String::with_capacity(self.scheme.len() + self.host.len() + self.path.len() + 10);
        self.write_without_userinfo(&mut out, "");
        out
    }

    /// The scheme's default port: 322 for `rtsps`, otherwise 554.
    pub fn default_port(&self) -> u16 {
        default_port(&self.scheme)
    }

    /// Whether the scheme is `rtsps` (RTSP over TLS).
    pub fn is_tls(&self) -> bool {
        self.scheme == "rtsps"
    }

    /// The host as written in a URL: an IPv6 literal in brackets, with its zone as `%25`.
    pub fn host_for_uri(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host.replace('%', "%25"))
        } else {
            self.host.clone()
        }
    }

    fn write_without_userinfo(&self, out: &mut String, userinfo: &str) {
        out.push_str(&self.scheme);
        out.push_str("://");
        out.push_str(userinfo);
        out.push_str(&self.host_for_uri());
        if self.port_written || self.port != self.default_port() {
            // Writing to a String cannot fail.
            let _ = write!(out, ":{}", self.port);
        }
        out.push_str(&self.path);
    }
}

impl FromStr for RtspUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RtspUrl::parse(s)
    }
}

impl fmt::Display for RtspUrl {
    /// The URL with the password replaced by `***` (`rtsp://admin:***@cam/x`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut userinfo = String::new();
        if let Some(credentials) = &self.credentials {
            percent_encode_userinfo(&mut userinfo, &credentials.username);
            userinfo.push_str(":***@");
        }
        let mut out = String::new();
        self.write_without_userinfo(&mut out, &userinfo);
        f.write_str(&out)
    }
}

impl fmt::Debug for RtspUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RtspUrl({self})")
    }
}

/// A URL that [`RtspUrl::parse`] refused. Errors point at byte offsets and never quote the input,
/// which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UrlError {
    /// The text is empty.
    #[error("URL is empty")]
    Empty,
    /// No `scheme://`.
    #[error("URL lacks a scheme such as rtsp://")]
    MissingScheme,
    /// A scheme other than `rtsp` and `rtsps`.
    #[error("URL scheme {scheme:?} is not rtsp or rtsps")]
    UnsupportedScheme {
        /// The scheme, lower case.
        scheme: String,
    },
    /// The host is empty or holds characters a host cannot have.
    #[error("URL has an invalid host at offset {offset}")]
    InvalidHost {
        /// Byte offset of the host in the input.
        offset: usize,
    },
    /// The port is not a number from 1 to 65535.
    #[error("URL has an invalid port at offset {offset}")]
    InvalidPort {
        /// Byte offset of the port in the input.
        offset: usize,
    },
    /// The userinfo is not valid UTF-8 once percent-decoded.
    #[error("URL userinfo is not UTF-8 once percent-decoded")]
    InvalidUserinfo,
    /// The userinfo seems to hold a `/`, which must be written `%2F`.
    #[error("URL userinfo at offset {offset} seems to contain '/'; write it as %2F")]
    UnencodedSlash {
        /// Byte offset of the authority in the input.
        offset: usize,
    },
    /// A control character in the path.
    #[error("URL has a control character at offset {offset}")]
    InvalidCharacter {
        /// Byte offset of the character in the input.
        offset: usize,
    },
}

/// A base URL chosen by [`resolve_base`], with the repairs it needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedBase {
    /// The base URL against which controls are joined.
    pub url: String,
    /// What was wrong with the header the base came from, in the order it was fixed.
    pub repairs: Vec<BaseRepair>,
}

/// A repair [`resolve_base`] made to a camera's Content-Base or Content-Location.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BaseRepair {
    /// `192.168.1.10:554/stream0/`: the request URL's scheme was added (Anjvision).
    MissingScheme,
    /// `/stream0/`: the request URL's scheme and host were added.
    PathOnly,
    /// `stream0/`: joined to the request URL.
    Relative,
    /// `rtsp://rtsp://host/…`: the extra scheme was removed.
    DoubledScheme,
    /// `rtsp://::ffff:192.168.1.123/…`: brackets were put around the IPv6 host.
    UnbracketedIpv6,
    /// `rtsp://user:pass@host/…`: the userinfo was removed.
    UserinfoRemoved,
}

impl BaseRepair {
    /// A short name for diagnostics (`sluice probe`).
    pub fn name(self) -> &'static str {
        match self {
            BaseRepair::MissingScheme => "base-missing-scheme",
            BaseRepair::PathOnly => "base-path-only",
            BaseRepair::Relative => "base-relative",
            BaseRepair::DoubledScheme => "base-doubled-scheme",
            BaseRepair::UnbracketedIpv6 => "base-unbracketed-ipv6",
            BaseRepair::UserinfoRemoved => "base-userinfo-removed",
        }
    }
}

impl fmt::Display for BaseRepair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Control URL resolution (RFC 2326 §C.1.1 and the camera quirks in CAMERA-QUIRKS section D):
/// base is Content-Base, else Content-Location, else the request URL; a control that is absolute
/// is used as it is; `*` or no control means the base; relative controls are joined with exactly
/// one `/`; a base without scheme (`192.168.1.10:554/stream0/`) is repaired from the request URL.
/// See the module documentation for every tolerance.
pub fn resolve_control(
    request_url: &str,
    content_base: Option<&str>,
    content_location: Option<&str>,
    control: Option<&str>,
) -> String {
    let base = resolve_base(request_url, content_base, content_location);
    join_control(&base.url, control)
}

/// The base URL for relative controls (RFC 2326 §C.1.1), repaired as the module documentation
/// describes.
pub fn resolve_base(
    request_url: &str,
    content_base: Option<&str>,
    content_location: Option<&str>,
) -> ResolvedBase {
    fn present(value: Option<&str>) -> Option<&str> {
        value.map(str::trim).filter(|v| !v.is_empty())
    }
    let mut repairs = Vec::new();
    let request = request_url.trim();
    let candidate = present(content_base).or_else(|| present(content_location));
    let mut url = match candidate {
        None => request.to_owned(),
        Some(candidate) => absolutize(request, candidate, &mut repairs),
    };
    if let Some((start, end)) = authority_span(&url) {
        if let Some(at) = url
            .get(start..end)
            .and_then(|authority| authority.rfind('@'))
        {
            url.replace_range(start..start + at + 1, "");
            repairs.push(BaseRepair::UserinfoRemoved);
        }
    }
    if let Some((start, end)) = authority_span(&url) {
        if let Some(bracketed) = url.get(start..end).and_then(bracket_bare_ipv6) {
            url.replace_range(start..end, &bracketed);
            repairs.push(BaseRepair::UnbracketedIpv6);
        }
    }
    ResolvedBase { url, repairs }
}

/// Joins a control attribute to a base URL the live555 way (CAMERA-QUIRKS #19, #20): absolute
/// controls are used as they are, `*` or no control is the base, a query-only control is appended
/// as it is, and any other control is appended with exactly one `/` between base and control.
pub fn join_control(base: &str, control: Option<&str>) -> String {
    let control = control.map(str::trim).unwrap_or_default();
    // RFC 2326 §C.1.1: "*" (and an absent attribute) inherit the entire base URL.
    if control.is_empty() || control == "*" {
        return base.to_owned();
    }
    if split_scheme(control).is_some() {
        return control.to_owned();
    }
    if control.starts_with('?') {
        return format!("{base}{control}");
    }
    let base = base.trim_end_matches('/');
    let control = control.trim_start_matches('/');
    let mut out = String::with_capacity(base.len() + control.len() + 1);
    out.push_str(base);
    out.push('/');
    out.push_str(control);
    out
}

/// Turns a Content-Base or Content-Location value into an absolute URL.
fn absolutize(request: &str, candidate: &str, repairs: &mut Vec<BaseRepair>) -> String {
    let mut candidate = candidate;
    // go2rtc#830: "rtsp://rtsp://host/…".
    while let Some((_, rest)) = split_scheme(candidate) {
        if split_scheme(rest).is_some() {
            candidate = rest;
            repairs.push(BaseRepair::DoubledScheme);
        } else {
            break;
        }
    }
    if split_scheme(candidate).is_some() {
        return candidate.to_owned();
    }
    let request_scheme = split_scheme(request).map_or("rtsp", |(scheme, _)| scheme);
    if let Some(rest) = candidate.strip_prefix("//") {
        repairs.push(BaseRepair::MissingScheme);
        return format!("{request_scheme}://{rest}");
    }
    if candidate.starts_with('/') {
        repairs.push(BaseRepair::PathOnly);
        let origin = match authority_span(request) {
            Some((_, end)) => request.get(..end).unwrap_or(request),
            None => request,
        };
        return format!("{origin}{candidate}");
    }
    let first = candidate.split(['/', '?']).next().unwrap_or_default();
    if looks_like_authority(first) {
        // moonfire-nvr#356 (Anjvision), go2rtc#1852.
        repairs.push(BaseRepair::MissingScheme);
        return format!("{request_scheme}://{candidate}");
    }
    repairs.push(BaseRepair::Relative);
    join_control(request, Some(candidate))
}

/// Whether a scheme-less base starts with `host:port`, an IPv4 address or an IPv6 literal rather
/// than a relative path.
fn looks_like_authority(segment: &str) -> bool {
    if segment.starts_with('[') {
        return true;
    }
    if segment.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    match segment.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && host.bytes().all(is_host_byte)
                && !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

/// `[host]` or `[host]:port` for an authority that is a bare IPv6 address (with or without a
/// trailing port); `None` when it is not one.
fn bracket_bare_ipv6(authority: &str) -> Option<String> {
    if authority.starts_with('[') || authority.bytes().filter(|&b| b == b':').count() < 2 {
        return None;
    }
    if authority.parse::<Ipv6Addr>().is_ok() {
        return Some(format!("[{authority}]"));
    }
    let (host, port) = authority.rsplit_once(':')?;
    if host.parse::<Ipv6Addr>().is_ok() && port.parse::<u16>().is_ok() {
        return Some(format!("[{host}]:{port}"));
    }
    None
}

/// The scheme and the rest of `scheme://rest` (RFC 3986 §3.1 scheme syntax).
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let mut bytes = scheme.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    (first_ok && rest_ok).then_some((scheme, rest))
}

/// The byte range of the authority in an absolute URL.
fn authority_span(url: &str) -> Option<(usize, usize)> {
    let (_, rest) = split_scheme(url)?;
    let start = url.len() - rest.len();
    let len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((start, start + len))
}

/// Host and optional port of an authority without userinfo.
fn parse_hostport(hostport: &str, offset: usize) -> Result<(String, Option<u16>), UrlError> {
    let invalid_host = UrlError::InvalidHost { offset };
    if let Some(inside) = hostport.strip_prefix('[') {
        // RFC 3986 §3.2.2: IP-literal = "[" IPv6address "]", with a zone per RFC 6874.
        let (literal, after) = inside.split_once(']').ok_or(invalid_host.clone())?;
        let host = parse_ipv6_literal(literal).ok_or(invalid_host)?;
        let port_offset = offset + 2 + literal.len();
        let port = match after {
            "" => None,
            after => parse_port(
                after.strip_prefix(':').ok_or(UrlError::InvalidPort {
                    offset: port_offset,
                })?,
                port_offset + 1,
            )?,
        };
        return Ok((host, port));
    }
    if hostport.bytes().filter(|&b| b == b':').count() >= 2 {
        // A bare IPv6 address: the whole authority is the host.
        return match hostport.parse::<Ipv6Addr>() {
            Ok(_) => Ok((hostport.to_owned(), None)),
            Err(_) => Err(invalid_host),
        };
    }
    let (host, port) = match hostport.split_once(':') {
        Some((host, port)) => (host, parse_port(port, offset + host.len() + 1)?),
        None => (hostport, None),
    };
    if host.is_empty() || !host.bytes().all(is_host_byte) {
        return Err(invalid_host);
    }
    Ok((host.to_owned(), port))
}

/// An IPv6 literal with an optional `%25`-encoded zone (RFC 6874), returned decoded.
fn parse_ipv6_literal(literal: &str) -> Option<String> {
    let (address, zone) = match literal.split_once('%') {
        Some((address, zone)) => (address, Some(zone.strip_prefix("25").unwrap_or(zone))),
        None => (literal, None),
    };
    address.parse::<Ipv6Addr>().ok()?;
    match zone {
        None => Some(address.to_owned()),
        Some(zone)
            if !zone.is_empty()
                && zone
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) =>
        {
            Some(format!("{address}%{zone}"))
        }
        Some(_) => None,
    }
}

/// An empty port means the default (RFC 3986 §3.2.3); 0 is refused.
fn parse_port(port: &str, offset: usize) -> Result<Option<u16>, UrlError> {
    if port.is_empty() {
        return Ok(None);
    }
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidPort { offset });
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort { offset }),
        Ok(port) => Ok(Some(port)),
    }
}

/// RFC 3986 §3.2.2 reg-name characters that make sense in a host name (unreserved and `%`).
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~%".contains(&b)
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "rtsps" {
        DEFAULT_TLS_PORT
    } else {
        DEFAULT_PORT
    }
}

/// Appends `text` to a path, percent-encoding spaces and non-ASCII bytes and refusing control
/// characters. `offset` is where `text` starts in the input, for errors.
fn push_path(out: &mut String, text: &str, offset: usize) -> Result<(), UrlError> {
    for (i, c) in text.char_indices() {
        if c.is_ascii_control() {
            return Err(UrlError::InvalidCharacter { offset: offset + i });
        }
        if c == ' ' || !c.is_ascii() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        } else {
            out.push(c);
        }
    }
    Ok(())
}

/// Percent-decodes (RFC 3986 §2.1); a `%` not followed by two hex digits stays literal. `None`
/// when the result is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = (b == b'%')
            .then(|| {
                Some((
                    hex_value(*bytes.get(i + 1)?)?,
                    hex_value(*bytes.get(i + 2)?)?,
                ))
            })
            .flatten();
        match escaped {
            Some((high, low)) => {
                out.push((high << 4) | low);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Percent-encodes a user name for display: everything but unreserved characters and sub-delims
/// other than `:`.
fn percent_encode_userinfo(out: &mut String, text: &str) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}
