//! RTSP 1.0 message types: [`Request`], [`Response`] and the pieces they are made of.
//!
//! These are plain values. Parsing from the wire is the job of [`crate::codec::Decoder`]; each type
//! here encodes itself by appending to a caller's [`BytesMut`].
//!
//! Encoding never produces a message that frames differently from what the value says:
//! `Content-Length` is always written to match the body, and CR/LF inside a header name, header value
//! or reason phrase is written as a space so that a value cannot inject extra header lines.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

/// An RTSP method (RFC 2326 §6.1, §10).
///
/// Method names are case-sensitive. A token that is not one of the methods defined by RFC 2326 is kept
/// verbatim in [`Method::Other`]; an unknown method is not a parse error, so that a server can answer
/// it with 501 (Not Implemented) instead of dropping the connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `OPTIONS` (RFC 2326 §10.1).
    Options,
    /// `DESCRIBE` (RFC 2326 §10.2).
    Describe,
    /// `ANNOUNCE` (RFC 2326 §10.3).
    Announce,
    /// `SETUP` (RFC 2326 §10.4).
    Setup,
    /// `PLAY` (RFC 2326 §10.5).
    Play,
    /// `PAUSE` (RFC 2326 §10.6).
    Pause,
    /// `RECORD` (RFC 2326 §10.11).
    Record,
    /// `TEARDOWN` (RFC 2326 §10.7).
    Teardown,
    /// `GET_PARAMETER` (RFC 2326 §10.8).
    GetParameter,
    /// `SET_PARAMETER` (RFC 2326 §10.9).
    SetParameter,
    /// `REDIRECT` (RFC 2326 §10.10).
    Redirect,
    /// Any other extension method, spelled as it appeared on the wire.
    Other(String),
}

impl Method {
    /// Maps a method token to a [`Method`]; unknown tokens become [`Method::Other`].
    pub fn parse(token: &str) -> Method {
        // RFC 2326 §6.1: method names are case-sensitive.
        match token {
            "OPTIONS" => Method::Options,
            "DESCRIBE" => Method::Describe,
            "ANNOUNCE" => Method::Announce,
            "SETUP" => Method::Setup,
            "PLAY" => Method::Play,
            "PAUSE" => Method::Pause,
            "RECORD" => Method::Record,
            "TEARDOWN" => Method::Teardown,
            "GET_PARAMETER" => Method::GetParameter,
            "SET_PARAMETER" => Method::SetParameter,
            "REDIRECT" => Method::Redirect,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method token as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Options => "OPTIONS",
            Method::Describe => "DESCRIBE",
            Method::Announce => "ANNOUNCE",
            Method::Setup => "SETUP",
            Method::Play => "PLAY",
            Method::Pause => "PAUSE",
            Method::Record => "RECORD",
            Method::Teardown => "TEARDOWN",
            Method::GetParameter => "GET_PARAMETER",
            Method::SetParameter => "SET_PARAMETER",
            Method::Redirect => "REDIRECT",
            Method::Other(token) => token,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The protocol version of a message (RFC 2326 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Version {
    /// `RTSP/1.0` (RFC 2326).
    Rtsp10,
    /// `RTSP/2.0` (RFC 7826). Recognised so that a server can answer 505 knowingly.
    Rtsp20,
}

impl Version {
    /// Parses `RTSP/1.0` or `RTSP/2.0`; the protocol name is matched case-insensitively.
    pub fn parse(token: &str) -> Option<Version> {
        if token.eq_ignore_ascii_case("RTSP/1.0") {
            Some(Version::Rtsp10)
        } else if token.eq_ignore_ascii_case("RTSP/2.0") {
            Some(Version::Rtsp20)
        } else {
            None
        }
    }

    /// The version as written on the wire, e.g. `RTSP/1.0`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Version::Rtsp10 => "RTSP/1.0",
            Version::Rtsp20 => "RTSP/2.0",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The header fields of a message: an ordered multimap.
///
/// Lookups match names ASCII case-insensitively (RFC 2326 §4.2 via RFC 2616 §4.2), so a camera's
/// `Cseq` or `Content-length` is found as `CSeq` or `Content-Length`. The original spelling and order
/// of every field is kept and written back by the encoders. Names and values are stored with
/// surrounding spaces and tabs removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<(String, String)>,
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of the first field called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_ows(v))
    }

    /// The values of all fields called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim_ows(v))
    }

    /// Sets `name` to `value`, replacing every existing field of that name.
    ///
    /// The new field takes the position of the first replaced one (or goes last if there was none) and
    /// the spelling of `name` given here.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = trimmed(name.into());
        let value = trimmed(value.into());
        match self
            .fields
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&name))
        {
            Some(first) => {
                let mut index = 0;
                self.fields.retain(|(n, _)| {
                    let keep = index <= first || !n.eq_ignore_ascii_case(&name);
                    index += 1;
                    keep
                });
                if let Some(slot) = self.fields.get_mut(first) {
                    *slot = (name, value);
                }
            }
            None => self.fields.push((name, value)),
        }
    }

    /// Adds a field after all existing ones, keeping any earlier field of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.fields
            .push((trimmed(name.into()), trimmed(value.into())));
    }

    /// Removes every field called `name`.
    pub fn remove(&mut self, name: &str) {
        self.fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// All fields as `(name, value)` in order, names spelled as received or inserted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of fields (a repeated name counts once per field).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Appends `more` to the value of the last field, separated by one space.
    ///
    /// Used for obsolete line folding; returns `false` if there is no field yet.
    pub(crate) fn extend_last(&mut self, more: &str) -> bool {
        match self.fields.last_mut() {
            Some((_, value)) => {
                let more = trim_ows(more);
                if !more.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(more);
                }
                true
            }
            None => false,
        }
    }

    /// Writes the fields as header lines, with `Content-Length` forced to `body_len`.
    ///
    /// The first `Content-Length` field keeps its position and spelling but gets the right value; any
    /// further one is dropped. If there is none and the body is not empty, one is added last.
    fn encode(&self, body_len: usize, out: &mut BytesMut) {
        let mut wrote_length = false;
        for (name, value) in &self.fields {
            if name.eq_ignore_ascii_case("Content-Length") {
                if !wrote_length {
                    put_header(out, name, &body_len.to_string());
                    wrote_length = true;
                }
                continue;
            }
            put_header(out, name, value);
        }
        // RFC 2326 §12.14: Content-Length is required whenever there is a body.
        if !wrote_length && body_len > 0 {
            put_header(out, "Content-Length", &body_len.to_string());
        }
    }
}

/// A response status code (RFC 2326 §7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(pub u16);

impl StatusCode {
    /// 100 Continue.
    pub const CONTINUE: StatusCode = StatusCode(100);
    /// 200 OK.
    pub const OK: StatusCode = StatusCode(200);
    /// 201 Created.
    pub const CREATED: StatusCode = StatusCode(201);
    /// 250 Low on Storage Space.
    pub const LOW_ON_STORAGE_SPACE: StatusCode = StatusCode(250);
    /// 300 Multiple Choices.
    pub const MULTIPLE_CHOICES: StatusCode = StatusCode(300);
    /// 301 Moved Permanently.
    pub const MOVED_PERMANENTLY: StatusCode = StatusCode(301);
    /// 302, "Moved Temporarily" in RFC 2326 and "Found" in RFC 7826.
    pub const FOUND: StatusCode = StatusCode(302);
    /// 303 See Other.
    pub const SEE_OTHER: StatusCode = StatusCode(303);
    /// 304 Not Modified.
    pub const NOT_MODIFIED: StatusCode = StatusCode(304);
    /// 305 Use Proxy.
    pub const USE_PROXY: StatusCode = StatusCode(305);
    /// 400 Bad Request.
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 401 Unauthorized.
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    /// 402 Payment Required.
    pub const PAYMENT_REQUIRED: StatusCode = StatusCode(402);
    /// 403 Forbidden.
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    /// 404 Not Found.
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// 405 Method Not Allowed.
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    /// 406 Not Acceptable.
    pub const NOT_ACCEPTABLE: StatusCode = StatusCode(406);
    /// 407 Proxy Authentication Required.
    pub const PROXY_AUTHENTICATION_REQUIRED: StatusCode = StatusCode(407);
    /// 408 Request Time-out.
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    /// 410 Gone.
    pub const GONE: StatusCode = StatusCode(410);
    /// 411 Length Required.
    pub const LENGTH_REQUIRED: StatusCode = StatusCode(411);
    /// 412 Precondition Failed.
    pub const PRECONDITION_FAILED: StatusCode = StatusCode(412);
    /// 413 Request Entity Too Large.
    pub const REQUEST_ENTITY_TOO_LARGE: StatusCode = StatusCode(413);
    /// 414 Request-URI Too Large.
    pub const REQUEST_URI_TOO_LARGE: StatusCode = StatusCode(414);
    /// 415 Unsupported Media Type.
    pub const UNSUPPORTED_MEDIA_TYPE: StatusCode = StatusCode(415);
    /// 451 Parameter Not Understood.
    pub const PARAMETER_NOT_UNDERSTOOD: StatusCode = StatusCode(451);
    /// 452 Conference Not Found.
    pub const CONFERENCE_NOT_FOUND: StatusCode = StatusCode(452);
    /// 453 Not Enough Bandwidth.
    pub const NOT_ENOUGH_BANDWIDTH: StatusCode = StatusCode(453);
    /// 454 Session Not Found.
    pub const SESSION_NOT_FOUND: StatusCode = StatusCode(454);
    /// 455 Method Not Valid in This State.
    pub const METHOD_NOT_VALID_IN_THIS_STATE: StatusCode = StatusCode(455);
    /// 456 Header Field Not Valid for Resource.
    pub const HEADER_FIELD_NOT_VALID: StatusCode = StatusCode(456);
    /// 457 Invalid Range.
    pub const INVALID_RANGE: StatusCode = StatusCode(457);
    /// 458 Parameter Is Read-Only.
    pub const PARAMETER_IS_READ_ONLY: StatusCode = StatusCode(458);
    /// 459 Aggregate Operation Not Allowed.
    pub const AGGREGATE_OPERATION_NOT_ALLOWED: StatusCode = StatusCode(459);
    /// 460 Only Aggregate Operation Allowed.
    pub const ONLY_AGGREGATE_OPERATION_ALLOWED: StatusCode = StatusCode(460);
    /// 461 Unsupported Transport.
    pub const UNSUPPORTED_TRANSPORT: StatusCode = StatusCode(461);
    /// 462 Destination Unreachable.
    pub const DESTINATION_UNREACHABLE: StatusCode = StatusCode(462);
    /// 500 Internal Server Error.
    pub const INTERNAL_SERVER_ERROR: StatusCode = StatusCode(500);
    /// 501 Not Implemented.
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    /// 502 Bad Gateway.
    pub const BAD_GATEWAY: StatusCode = StatusCode(502);
    /// 503 Service Unavailable.
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    /// 504 Gateway Time-out.
    pub const GATEWAY_TIMEOUT: StatusCode = StatusCode(504);
    /// 505 RTSP Version Not Supported.
    pub const RTSP_VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);
    /// 551 Option Not Supported.
    pub const OPTION_NOT_SUPPORTED: StatusCode = StatusCode(551);

    /// The reason phrase RFC 2326 §7.1.1 gives for this code, or `""` for codes it does not define.
    pub fn canonical_reason(&self) -> &'static str {
        // RFC 2326 §7.1.1 (Status-Code table).
        match self.0 {
            100 => "Continue",
            200 => "OK",
            201 => "Created",
            250 => "Low on Storage Space",
            300 => "Multiple Choices",
            301 => "Moved Permanently",
            302 => "Moved Temporarily",
            303 => "See Other",
            304 => "Not Modified",
            305 => "Use Proxy",
            400 => "Bad Request",
            401 => "Unauthorized",
            402 => "Payment Required",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            407 => "Proxy Authentication Required",
            408 => "Request Time-out",
            410 => "Gone",
            411 => "Length Required",
            412 => "Precondition Failed",
            413 => "Request Entity Too Large",
            414 => "Request-URI Too Large",
            415 => "Unsupported Media Type",
            451 => "Parameter Not Understood",
            452 => "Conference Not Found",
            453 => "Not Enough Bandwidth",
            454 => "Session Not Found",
            455 => "Method Not Valid in This State",
            456 => "Header Field Not Valid for Resource",
            457 => "Invalid Range",
            458 => "Parameter Is Read-Only",
            459 => "Aggregate operation not allowed",
            460 => "Only aggregate operation allowed",
            461 => "Unsupported transport",
            462 => "Destination unreachable",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Time-out",
            505 => "RTSP Version not supported",
            551 => "Option not supported",
            _ => "",
        }
    }

    /// Whether this is a 2xx code.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.0)
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = self.canonical_reason();
        if reason.is_empty() {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{} {}", self.0, reason)
        }
    }
}

/// An RTSP request (RFC 2326 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI, as written (`*` for a request about the server itself).
    pub uri: String,
    /// The protocol version.
    pub version: Version,
    /// The header fields.
    pub headers: Headers,
    /// The message body (empty if there is none).
    pub body: Bytes,
}

impl Request {
    /// A `RTSP/1.0` request with no headers and no body.
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Request {
            method,
            uri: uri.into(),
            version: Version::Rtsp10,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header field (keeping earlier fields of the same name).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body with its `Content-Type` and `Content-Length`.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self.headers.insert("Content-Type", content_type);
        self.headers
            .insert("Content-Length", self.body.len().to_string());
        self
    }

    /// The `CSeq` header as a number, if present and valid (RFC 2326 §12.17).
    pub fn cseq(&self) -> Option<u32> {
        cseq(&self.headers)
    }

    /// Appends the request in wire format to `out`.
    ///
    /// `Content-Length` is written to match the body (see the module docs).
    /// Spaces, CR and LF in the URI are percent-encoded, because they would end the URI on the wire.
    pub fn encode(&self, out: &mut BytesMut) {
        // RFC 2326 §6.1: Request-Line = Method SP Request-URI SP RTSP-Version CRLF
        out.reserve(self.uri.len() + 64 + self.body.len());
        put_sanitized(out, self.method.as_str());
        out.put_u8(b' ');
        for &b in self.uri.as_bytes() {
            match b {
                b' ' => out.put_slice(b"%20"),
                b'\r' => out.put_slice(b"%0D"),
                b'\n' => out.put_slice(b"%0A"),
                b'\t' => out.put_slice(b"%09"),
                _ => out.put_u8(b),
            }
        }
        out.put_u8(b' ');
        out.put_slice(self.version.as_str().as_bytes());
        out.put_slice(b"\r\n");
        self.headers.encode(self.body.len(), out);
        out.put_slice(b"\r\n");
        out.put_slice(&self.body);
    }
}

/// An RTSP response (RFC 2326 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The protocol version.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase (may be empty; some cameras omit it).
    pub reason: String,
    /// The header fields.
    pub headers: Headers,
    /// The message body (empty if there is none).
    pub body: Bytes,
}

impl Response {
    /// A `RTSP/1.0` response with the canonical reason phrase, no headers and no body.
    pub fn new(status: StatusCode) -> Self {
        Response {
            version: Version::Rtsp10,
            status,
            reason: status.canonical_reason().to_owned(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header field (keeping earlier fields of the same name).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets the body with its `Content-Type` and `Content-Length`.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self.headers.insert("Content-Type", content_type);
        self.headers
            .insert("Content-Length", self.body.len().to_string());
        self
    }

    /// The `CSeq` header as a number, if present and valid (RFC 2326 §12.17).
    pub fn cseq(&self) -> Option<u32> {
        cseq(&self.headers)
    }

    /// Appends the response in wire format to `out`; `Content-Length` is written to match the body.
    pub fn encode(&self, out: &mut BytesMut) {
        // RFC 2326 §7.1: Status-Line = RTSP-Version SP Status-Code SP Reason-Phrase CRLF
        out.reserve(self.reason.len() + 64 + self.body.len());
        out.put_slice(self.version.as_str().as_bytes());
        out.put_u8(b' ');
        // The grammar wants exactly three digits; a code above 999 cannot be written faithfully.
        let code = format!("{:03}", self.status.0.min(999));
        out.put_slice(code.as_bytes());
        out.put_u8(b' ');
        put_sanitized(out, &self.reason);
        out.put_slice(b"\r\n");
        self.headers.encode(self.body.len(), out);
        out.put_slice(b"\r\n");
        out.put_slice(&self.body);
    }
}

/// Parses the `CSeq` header; surrounding whitespace is ignored (Longse sends `CSeq: 1 `).
fn cseq(headers: &Headers) -> Option<u32> {
    headers.get("CSeq").and_then(|v| v.parse().ok())
}

/// Strips spaces and tabs (RFC 2616 §2.2 LWS without folding) from both ends.
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

fn trimmed(s: String) -> String {
    let t = trim_ows(&s);
    if t.len() == s.len() {
        s
    } else {
        t.to_owned()
    }
}

fn put_header(out: &mut BytesMut, name: &str, value: &str) {
    put_sanitized(out, name);
    out.put_slice(b": ");
    put_sanitized(out, value);
    out.put_slice(b"\r\n");
}

/// Writes `s` with CR and LF replaced by spaces, so it stays on one line.
fn put_sanitized(out: &mut BytesMut, s: &str) {
    let mut parts = s.as_bytes().split(|&b| b == b'\r' || b == b'\n');
    if let Some(first) = parts.next() {
        out.put_slice(first);
    }
    for part in parts {
        out.put_u8(b' ');
        out.put_slice(part);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_round_trips_known_and_other() {
        for token in [
            "OPTIONS",
            "DESCRIBE",
            "ANNOUNCE",
            "SETUP",
            "PLAY",
            "PAUSE",
            "RECORD",
            "TEARDOWN",
            "GET_PARAMETER",
            "SET_PARAMETER",
            "REDIRECT",
            "FLUSH",
        ] {
            assert_eq!(Method::parse(token).as_str(), token);
            assert_eq!(Method::parse(token).to_string(), token);
        }
        assert_eq!(Method::parse("PLAY"), Method::Play);
        // Case matters (RFC 2326 §6.1).
        assert_eq!(Method::parse("play"), Method::Other("play".into()));
    }

    #[test]
    fn version_display_and_parse() {
        assert_eq!(Version::Rtsp10.to_string(), "RTSP/1.0");
        assert_eq!(Version::parse("RTSP/2.0"), Some(Version::Rtsp20));
        assert_eq!(Version::parse("rtsp/1.0"), Some(Version::Rtsp10));
        assert_eq!(Version::parse("RTSP/1.1"), None);
        assert_eq!(Version::parse("HTTP/1.0"), None);
    }

    #[test]
    fn headers_are_case_insensitive_and_ordered() {
        let mut h = Headers::new();
        h.append("Cseq", " 7 ");
        h.append("Session", "a");
        h.append("session", "b");
        assert_eq!(h.get("CSeq"), Some("7"));
        assert_eq!(h.get_all("SESSION").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(h.len(), 3);

        h.insert("SESSION", "c");
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            [("Cseq", "7"), ("SESSION", "c")]
        );

        h.insert("Server", "x");
        assert_eq!(h.iter().last(), Some(("Server", "x")));

        h.remove("cseq");
        assert_eq!(h.get("CSeq"), None);
        assert_eq!(h.len(), 2);
        h.remove("session");
        h.remove("server");
        assert!(h.is_empty());
    }

    #[test]
    fn extend_last_joins_with_one_space() {
        let mut h = Headers::new();
        assert!(!h.extend_last("x"));
        h.append("Public", "OPTIONS,");
        assert!(h.extend_last("  DESCRIBE"));
        assert_eq!(h.get("public"), Some("OPTIONS, DESCRIBE"));
    }

    #[test]
    fn status_codes() {
        assert_eq!(StatusCode::OK.canonical_reason(), "OK");
        assert_eq!(StatusCode::SESSION_NOT_FOUND.0, 454);
        assert_eq!(
            StatusCode::OPTION_NOT_SUPPORTED.canonical_reason(),
            "Option not supported"
        );
        assert_eq!(StatusCode(299).canonical_reason(), "");
        assert!(StatusCode::OK.is_success());
        assert!(StatusCode(250).is_success());
        assert!(!StatusCode::FOUND.is_success());
        assert_eq!(StatusCode::NOT_FOUND.to_string(), "404 Not Found");
        assert_eq!(StatusCode(299).to_string(), "299");
    }

    #[test]
    fn request_encode_adds_content_length() {
        let mut req = Request::new(Method::SetParameter, "rtsp://cam/stream")
            .with_header("CSeq", "3")
            .with_header("Content-Type", "text/parameters");
        req.body = Bytes::from_static(b"a: b\r\n");
        let mut out = BytesMut::new();
        req.encode(&mut out);
        assert_eq!(
            &out[..],
            b"SET_PARAMETER rtsp://cam/stream RTSP/1.0\r\nCSeq: 3\r\n\
              Content-Type: text/parameters\r\nContent-Length: 6\r\n\r\na: b\r\n"
        );
        assert_eq!(req.cseq(), Some(3));
    }

    #[test]
    fn encode_fixes_stale_and_duplicate_content_length() {
        let mut resp = Response::new(StatusCode::OK)
            .with_header("content-length", "99")
            .with_header("Content-Length", "1");
        resp.body = Bytes::from_static(b"hello");
        let mut out = BytesMut::new();
        resp.encode(&mut out);
        assert_eq!(
            &out[..],
            b"RTSP/1.0 200 OK\r\ncontent-length: 5\r\n\r\nhello"
        );
    }

    #[test]
    fn encode_keeps_values_on_one_line() {
        let resp = Response::new(StatusCode::OK).with_header("X-Evil", "a\r\nCSeq: 9");
        let mut out = BytesMut::new();
        resp.encode(&mut out);
        assert_eq!(&out[..], b"RTSP/1.0 200 OK\r\nX-Evil: a  CSeq: 9\r\n\r\n");

        let req = Request::new(Method::Options, "rtsp://h/a b\r\n");
        let mut out = BytesMut::new();
        req.encode(&mut out);
        assert_eq!(&out[..], b"OPTIONS rtsp://h/a%20b%0D%0A RTSP/1.0\r\n\r\n");
    }

    #[test]
    fn response_builders() {
        let resp = Response::new(StatusCode::OK)
            .with_header("CSeq", "2")
            .with_body("application/sdp", &b"v=0\r\n"[..]);
        assert_eq!(resp.reason, "OK");
        assert_eq!(resp.cseq(), Some(2));
        assert_eq!(resp.headers.get("content-type"), Some("application/sdp"));
        assert_eq!(resp.headers.get("content-length"), Some("5"));
        let mut out = BytesMut::new();
        resp.encode(&mut out);
        assert_eq!(
            &out[..],
            b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\n\
              Content-Length: 5\r\n\r\nv=0\r\n"
        );
    }
}
