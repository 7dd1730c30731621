//! A sans-IO streaming decoder that splits an RTSP-over-TCP byte stream into messages.
//!
//! The stream carries RTSP requests, RTSP responses and `$`-prefixed interleaved binary frames
//! (RFC 2326 §10.12) in any order. The caller owns the receive buffer: it appends whatever the socket
//! gave and calls [`Decoder::decode`] until that returns `Ok(None)`:
//!
//! ```
//! use bytes::BytesMut;
//! use sluice_rtsp::codec::{Decoder, Limits, Message};
//!
//! let mut decoder = Decoder::new(Limits::default());
//! let mut buf = BytesMut::new();
//! // Bytes as they might arrive from a socket; here a request, then half an interleaved frame.
//! buf.extend_from_slice(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n$\x00\x00\x04ab");
//! let mut got = Vec::new();
//! loop {
//!     match decoder.decode(&mut buf) {
//!         Ok(Some(message)) => got.push(message),
//!         Ok(None) => break, // read more from the socket, append to `buf`, call again
//!         Err(e) if e.is_fatal() => return Err(e.into()), // answer e.status() if possible, then close
//!         Err(e) => { /* answer e.status() with CSeq e.cseq and carry on */ }
//!     }
//! }
//! assert!(matches!(&got[..], [Message::Request(r)] if r.cseq() == Some(1)));
//! buf.extend_from_slice(b"cd");
//! let frame = decoder.decode(&mut buf)?;
//! assert!(matches!(frame, Some(Message::Data(f)) if f.channel == 0 && &f.payload[..] == b"abcd"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Invariants
//!
//! - `decode` removes bytes from the front of the buffer only when it returns a message or a
//!   non-fatal error, and then exactly that message's bytes (plus any blank lines before it). On
//!   `Ok(None)` the partial message is left in place; the caller must only append to the buffer between
//!   calls. Bytes arriving one at a time decode exactly like the same bytes arriving at once.
//! - Interleaved payloads and bodies are split off the caller's buffer without copying
//!   ([`BytesMut::split_to`] then `freeze`).
//! - While `decode` returns `Ok(None)` the buffer holds at most one incomplete message, which is never
//!   larger than `max_header_bytes + max_body_bytes` (or 65,539 bytes for an interleaved frame); past
//!   that, `decode` fails instead of waiting. A header block is checked against its limit as bytes
//!   arrive, not when it ends.
//! - After a fatal error the decoder returns that same error forever; the connection should be
//!   closed (after answering [`DecodeError::status`] if it is a server connection).
//!
//! # Tolerances
//!
//! Real cameras bend the grammar in ways that are harmless to accept (see `shared/CAMERA-QUIRKS.md`
//! section A). The decoder accepts:
//!
//! - **Any header-name case**: `Cseq`, `Content-length` (VStarcam, H264DVR, Hipcam); lookups in
//!   [`Headers`] are case-insensitive and the spelling is kept.
//! - **Extra whitespace** around the `:` and the value (`Session:        708345999` on Hikvision,
//!   `CSeq: 1 ` on Longse) and between the tokens of the start line.
//! - **Bare-LF line endings**, also mixed with CRLF within one message (go2rtc test server).
//! - **Blank lines between messages**: stray CRLF or LF before a message is skipped.
//! - **No `Content-Length`**: the body is empty, for responses as well as requests (RFC 7826 §8.4
//!   says a missing Content-Length means zero).
//! - **Repeated identical `Content-Length`** fields.
//! - **Obsolete line folding**: a header line starting with a space or tab continues the previous
//!   value, joined with one space.
//! - **Missing reason phrase** in a status line (`RTSP/1.0 200` with or without the trailing space).
//! - **Non-UTF-8 bytes in header values and reason phrases**: replaced by U+FFFD rather than rejected.
//! - **Unknown methods**: returned as [`Method::Other`], never an error, so a server can answer 501.
//! - **Anything in any order**: `$` frames before the PLAY response (Reolink, v4l2rtspserver) and
//!   requests arriving on a client connection decode like everything else; what to do with them is
//!   the caller's policy.
//!
//! It does not resynchronise after a fatal error (for instance by scanning for the next `$`), and a
//! lone CR is not a line ending.
//!
//! # Errors
//!
//! Framing errors are fatal: the header block exceeds `max_header_bytes`, there are more than
//! `max_headers` fields, or `Content-Length` is unparsable, conflicting or larger than
//! `max_body_bytes`. When the framing is known but the start line or a header line is malformed, the
//! whole message (body included) is consumed and a non-fatal error is returned that carries the
//! message's CSeq if it could be read, so a server can answer 400 and keep the connection.

use std::mem;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::message::{trim_ows, Headers, Method, Request, Response, StatusCode, Version};

/// Size limits that bound what a peer can make the decoder wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest start line plus header fields plus the blank line that ends them, in bytes.
    pub max_header_bytes: usize,
    /// Most header fields in one message (a folded continuation line is part of its field).
    pub max_headers: usize,
    /// Largest body (`Content-Length`), in bytes.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    /// 64 KiB of headers, 128 fields, 1 MiB of body.
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_headers: 128,
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// One unit of an RTSP-over-TCP stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// An RTSP request.
    Request(Request),
    /// An RTSP response.
    Response(Response),
    /// An interleaved binary frame, usually one RTP or RTCP packet.
    Data(InterleavedFrame),
}

/// An interleaved binary frame (RFC 2326 §10.12, RFC 7826 §14): `$`, channel, 16-bit length, payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterleavedFrame {
    /// The channel identifier, as negotiated by `interleaved=` in the Transport header.
    pub channel: u8,
    /// The payload, e.g. one RTP packet.
    pub payload: Bytes,
}

impl InterleavedFrame {
    /// The largest payload a frame can carry.
    pub const MAX_PAYLOAD: usize = u16::MAX as usize;

    /// The 4-byte frame header for a payload of `len` bytes on `channel`.
    ///
    /// Useful for vectored writes that send the header and a shared payload without joining them.
    pub fn header(channel: u8, len: u16) -> [u8; 4] {
        let [hi, lo] = len.to_be_bytes();
        [b'$', channel, hi, lo]
    }

    /// Appends the frame (header and payload) to `out`.
    ///
    /// # Panics
    ///
    /// If the payload is longer than [`InterleavedFrame::MAX_PAYLOAD`]; such a frame cannot be
    /// expressed on the wire, and writing a truncated length would corrupt the stream.
    pub fn encode(&self, out: &mut BytesMut) {
        let len = u16::try_from(self.payload.len())
            .unwrap_or_else(|_| panic!("interleaved payload of {} bytes", self.payload.len()));
        out.reserve(4 + self.payload.len());
        out.put_slice(&Self::header(self.channel, len));
        out.put_slice(&self.payload);
    }
}

/// Why a message could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (message at stream byte offset {offset})")]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Stream offset of the first byte of the offending message (see [`Decoder::offset`]).
    pub offset: u64,
    /// The message's `CSeq`, if its header block could be read far enough to find one.
    pub cseq: Option<u32>,
}

impl DecodeError {
    /// Whether the stream framing is lost, so the connection cannot continue.
    pub fn is_fatal(&self) -> bool {
        match self.kind {
            DecodeErrorKind::HeaderBlockTooLarge { .. }
            | DecodeErrorKind::TooManyHeaders { .. }
            | DecodeErrorKind::BodyTooLarge { .. }
            | DecodeErrorKind::BadContentLength => true,
            DecodeErrorKind::BadStartLine(_)
            | DecodeErrorKind::BadHeaderLine
            | DecodeErrorKind::UnsupportedVersion => false,
        }
    }

    /// The status a server should answer the offending request with.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            DecodeErrorKind::BodyTooLarge { .. } => StatusCode::REQUEST_ENTITY_TOO_LARGE,
            DecodeErrorKind::UnsupportedVersion => StatusCode::RTSP_VERSION_NOT_SUPPORTED,
            DecodeErrorKind::HeaderBlockTooLarge { .. }
            | DecodeErrorKind::TooManyHeaders { .. }
            | DecodeErrorKind::BadContentLength
            | DecodeErrorKind::BadStartLine(_)
            | DecodeErrorKind::BadHeaderLine => StatusCode::BAD_REQUEST,
        }
    }
}

/// The kinds of [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// No blank line ended the header block within `limit` bytes. Fatal.
    #[error("header block longer than {limit} bytes")]
    HeaderBlockTooLarge {
        /// [`Limits::max_header_bytes`].
        limit: usize,
    },
    /// More than `limit` header fields. Fatal.
    #[error("more than {limit} header fields")]
    TooManyHeaders {
        /// [`Limits::max_headers`].
        limit: usize,
    },
    /// `Content-Length` announces more than `limit` bytes. Fatal.
    #[error("body of {len} bytes is over the limit of {limit}")]
    BodyTooLarge {
        /// The announced length.
        len: u64,
        /// [`Limits::max_body_bytes`].
        limit: usize,
    },
    /// `Content-Length` is not a decimal number, or two fields disagree. Fatal.
    #[error("invalid or conflicting Content-Length")]
    BadContentLength,
    /// The request or status line is malformed (the line, shortened, is attached).
    #[error("malformed start line {0:?}")]
    BadStartLine(String),
    /// A header line has no `:`, an invalid name, or continues a field that does not exist.
    #[error("malformed header line")]
    BadHeaderLine,
    /// The start line names an RTSP version other than 1.0 or 2.0.
    #[error("unsupported RTSP version")]
    UnsupportedVersion,
}

/// Splits a byte stream into [`Message`]s; see the module docs for the contract.
#[derive(Debug)]
pub struct Decoder {
    limits: Limits,
    /// Bytes consumed from the stream so far.
    offset: u64,
    state: State,
    /// Set once a fatal error happened; returned by every later call.
    failed: Option<DecodeError>,
}

#[derive(Debug)]
enum State {
    /// Waiting for a complete header block. The first `scanned` bytes of the buffer are known not to
    /// contain its end, so the search resumes there.
    Head { scanned: usize },
    /// The header block (`head_len` bytes) is parsed; waiting for `body_len` body bytes after it.
    Body {
        head_len: usize,
        body_len: usize,
        /// The message without its body, or the non-fatal error to report once the body is skipped.
        parsed: Result<Message, DecodeError>,
    },
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new(limits: Limits) -> Self {
        Decoder {
            limits,
            offset: 0,
            state: State::Head { scanned: 0 },
            failed: None,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes consumed from the stream so far (the stream offset of the buffer's first byte).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Decodes the next message from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds no complete message yet; the caller appends more bytes and
    /// calls again. A non-fatal error has consumed its message and decoding can continue; a fatal one
    /// is returned again by every later call.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = match self.state {
            State::Head { .. } => self.decode_head(buf),
            State::Body { .. } => self.finish_body(buf),
        };
        if let Err(err) = &result {
            if err.is_fatal() {
                self.failed = Some(err.clone());
            }
        }
        result
    }

    fn decode_head(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        // Blank lines between messages are not part of any message; drop them as they arrive so a
        // peer sending only line ends cannot make the buffer grow.
        let blank = buf
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if blank > 0 {
            buf.advance(blank);
            self.offset += blank as u64;
            self.state = State::Head { scanned: 0 };
        }
        match buf.first() {
            None => return Ok(None),
            Some(b'$') => return Ok(self.decode_frame(buf)),
            Some(_) => {}
        }

        let scanned = match self.state {
            State::Head { scanned } => scanned.min(buf.len()),
            State::Body { .. } => 0,
        };
        let window = buf
            .get(..buf.len().min(self.limits.max_header_bytes))
            .unwrap_or(&[]);
        let head_len = match find_head_end(window, scanned) {
            Ok(end) => end,
            Err(resume) => {
                if buf.len() >= self.limits.max_header_bytes {
                    return Err(self.error(
                        DecodeErrorKind::HeaderBlockTooLarge {
                            limit: self.limits.max_header_bytes,
                        },
                        None,
                    ));
                }
                self.state = State::Head { scanned: resume };
                return Ok(None);
            }
        };

        let head = window.get(..head_len).unwrap_or(&[]);
        let (parsed, body_len) = self.parse_head(head)?;
        self.state = State::Body {
            head_len,
            body_len,
            parsed,
        };
        self.finish_body(buf)
    }

    /// RFC 2326 §10.12: `$`, one-byte channel, two-byte big-endian length, then the payload.
    fn decode_frame(&mut self, buf: &mut BytesMut) -> Option<Message> {
        let &[_, channel, hi, lo] = buf.get(..4)? else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        if buf.len() < 4 + len {
            return None;
        }
        buf.advance(4);
        let payload = buf.split_to(len).freeze();
        self.offset += (4 + len) as u64;
        self.state = State::Head { scanned: 0 };
        Some(Message::Data(InterleavedFrame { channel, payload }))
    }

    fn finish_body(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        let State::Body {
            head_len, body_len, ..
        } = self.state
        else {
            return Ok(None);
        };
        let total = head_len.saturating_add(body_len);
        if buf.len() < total {
            return Ok(None);
        }
        let State::Body { parsed, .. } = mem::replace(&mut self.state, State::Head { scanned: 0 })
        else {
            return Ok(None);
        };
        buf.advance(head_len);
        let body = buf.split_to(body_len).freeze();
        self.offset += total as u64;
        match parsed {
            Ok(Message::Request(mut request)) => {
                request.body = body;
                Ok(Some(Message::Request(request)))
            }
            Ok(Message::Response(mut response)) => {
                response.body = body;
                Ok(Some(Message::Response(response)))
            }
            Ok(other) => Ok(Some(other)),
            Err(err) => Err(err),
        }
    }

    /// Parses a complete header block (start line through the blank line).
    ///
    /// Returns the message (or a non-fatal error) and the body length; framing errors are returned as
    /// the outer `Err`.
    fn parse_head(
        &self,
        head: &[u8],
    ) -> Result<(Result<Message, DecodeError>, usize), DecodeError> {
        // RFC 2326 §4: lines end in CRLF, but receivers should also accept a bare LF.
        let mut lines = head
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
        let start_line = lines.next().unwrap_or(&[]);

        let mut headers = Headers::new();
        let mut fields = 0usize;
        let mut header_error = false;
        for line in lines {
            if line.is_empty() {
                break;
            }
            // RFC 2326 §4.2 (via RFC 2616 §2.2): a line starting with SP or HT continues the
            // previous field's value (obsolete line folding).
            if matches!(line.first(), Some(b' ' | b'\t')) {
                if !headers.extend_last(&String::from_utf8_lossy(line)) {
                    header_error = true;
                }
                continue;
            }
            fields += 1;
            if fields > self.limits.max_headers {
                return Err(self.error(
                    DecodeErrorKind::TooManyHeaders {
                        limit: self.limits.max_headers,
                    },
                    cseq_of(&headers),
                ));
            }
            match split_field(line) {
                Some((name, value)) => headers.append(name, String::from_utf8_lossy(value)),
                None => header_error = true,
            }
        }
        let cseq = cseq_of(&headers);
        let body_len = self.content_length(&headers, cseq)?;

        let parsed = match parse_start_line(start_line) {
            Err(kind) => Err(self.error(kind, cseq)),
            Ok(_) if header_error => Err(self.error(DecodeErrorKind::BadHeaderLine, cseq)),
            Ok(StartLine::Request {
                method,
                uri,
                version,
            }) => Ok(Message::Request(Request {
                method,
                uri,
                version,
                headers,
                body: Bytes::new(),
            })),
            Ok(StartLine::Response {
                version,
                status,
                reason,
            }) => Ok(Message::Response(Response {
                version,
                status,
                reason,
                headers,
                body: Bytes::new(),
            })),
        };
        Ok((parsed, body_len))
    }

    /// RFC 2326 §4.4, §12.14: the body length is `Content-Length`, or zero without one.
    fn content_length(&self, headers: &Headers, cseq: Option<u32>) -> Result<usize, DecodeError> {
        let mut length: Option<u64> = None;
        for value in headers.get_all("Content-Length") {
            let parsed = parse_decimal(value)
                .ok_or_else(|| self.error(DecodeErrorKind::BadContentLength, cseq))?;
            if length.is_some_and(|previous| previous != parsed) {
                return Err(self.error(DecodeErrorKind::BadContentLength, cseq));
            }
            length = Some(parsed);
        }
        let len = length.unwrap_or(0);
        match usize::try_from(len) {
            Ok(n) if n <= self.limits.max_body_bytes => Ok(n),
            _ => Err(self.error(
                DecodeErrorKind::BodyTooLarge {
                    len,
                    limit: self.limits.max_body_bytes,
                },
                cseq,
            )),
        }
    }

    /// An error about the message starting at the current offset.
    fn error(&self, kind: DecodeErrorKind, cseq: Option<u32>) -> DecodeError {
        DecodeError {
            kind,
            offset: self.offset,
            cseq,
        }
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Limits::default())
    }
}

enum StartLine {
    Request {
        method: Method,
        uri: String,
        version: Version,
    },
    Response {
        version: Version,
        status: StatusCode,
        reason: String,
    },
}

/// Finds the end of the header block: the index just past the first empty line (LF LF or LF CR LF).
///
/// `from` is where a previous search stopped. On failure returns where to resume once more bytes
/// have arrived.
fn find_head_end(window: &[u8], from: usize) -> Result<usize, usize> {
    let mut i = from;
    while let Some(rest) = window.get(i..) {
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            return Err(window.len());
        };
        let at = i + lf;
        match (window.get(at + 1), window.get(at + 2)) {
            (Some(b'\n'), _) => return Ok(at + 2),
            (Some(b'\r'), Some(b'\n')) => return Ok(at + 3),
            (None, _) | (Some(b'\r'), None) => return Err(at),
            _ => i = at + 1,
        }
    }
    Err(window.len())
}

/// RFC 2326 §6.1 Request-Line and §7.1 Status-Line.
fn parse_start_line(line: &[u8]) -> Result<StartLine, DecodeErrorKind> {
    let bad = || DecodeErrorKind::BadStartLine(shorten(line));
    let is_response = line
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"RTSP/"));
    if is_response {
        // Status-Line = RTSP-Version SP Status-Code SP Reason-Phrase CRLF
        let (version, rest) = split_token(line);
        let (code, reason) = split_token(rest);
        let version = std::str::from_utf8(version)
            .ok()
            .and_then(Version::parse)
            .ok_or(DecodeErrorKind::UnsupportedVersion)?;
        let status = match *code {
            [a, b, c] if code.iter().all(u8::is_ascii_digit) => StatusCode(
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'),
            ),
            _ => return Err(bad()),
        };
        let reason = trim_ows(&String::from_utf8_lossy(reason)).to_owned();
        return Ok(StartLine::Response {
            version,
            status,
            reason,
        });
    }

    // Request-Line = Method SP Request-URI SP RTSP-Version CRLF
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    let mut tokens = text.split_ascii_whitespace();
    let (Some(method), Some(uri), Some(version), None) =
        (tokens.next(), tokens.next(), tokens.next(), tokens.next())
    else {
        return Err(bad());
    };
    if !method.bytes().all(is_token_byte) {
        return Err(bad());
    }
    let version = match Version::parse(version) {
        Some(v) => v,
        None if version
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("RTSP/")) =>
        {
            return Err(DecodeErrorKind::UnsupportedVersion)
        }
        None => return Err(bad()),
    };
    Ok(StartLine::Request {
        method: Method::parse(method),
        uri: uri.to_owned(),
        version,
    })
}

/// Splits off the first whitespace-delimited token; the rest has leading whitespace removed.
fn split_token(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(s.len());
    let (token, rest) = s.split_at(end);
    let skip = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    (token, rest.get(skip..).unwrap_or(&[]))
}

/// Splits `name: value`; the name must be a token, optionally followed by spaces before the colon.
fn split_field(line: &[u8]) -> Option<(&str, &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = line.split_at(colon);
    let name = std::str::from_utf8(name).ok()?;
    let name = trim_ows(name);
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return None;
    }
    Some((name, value.get(1..).unwrap_or(&[])))
}

/// RFC 2326 §15.1 (via RFC 2616 §2.2): token = 1*<any CHAR except CTLs or tspecials>.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

/// A decimal number of ASCII digits (no sign), or `None` (also on overflow).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn cseq_of(headers: &Headers) -> Option<u32> {
    headers.get("CSeq").and_then(|v| v.parse().ok())
}

/// The start line for an error message: lossily decoded and cut to a readable length.
fn shorten(line: &[u8]) -> String {
    const MAX: usize = 80;
    let text = String::from_utf8_lossy(line.get(..MAX).unwrap_or(line));
    let mut text = text.into_owned();
    if line.len() > MAX {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(decoder: &mut Decoder, bytes: &[u8]) -> Vec<Result<Message, DecodeError>> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(m)) => out.push(Ok(m)),
                Ok(None) => break,
                Err(e) => {
                    let fatal = e.is_fatal();
                    out.push(Err(e));
                    if fatal {
                        break;
                    }
                }
            }
        }
        out
    }

    fn one(bytes: &[u8]) -> Result<Message, DecodeError> {
        let mut decoder = Decoder::default();
        let mut all = decode_all(&mut decoder, bytes);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn find_head_end_variants() {
        assert_eq!(find_head_end(b"A\r\n\r\n", 0), Ok(5));
        assert_eq!(find_head_end(b"A\n\n", 0), Ok(3));
        assert_eq!(find_head_end(b"A\r\nB\n\r\nX", 0), Ok(7));
        assert_eq!(find_head_end(b"A\r\nB\r\n", 0), Err(5));
        assert_eq!(find_head_end(b"A\r\nB\r\n\r", 0), Err(5));
        assert_eq!(find_head_end(b"A\r\nB", 0), Err(4));
        assert_eq!(find_head_end(b"A\n\rB\n\n", 0), Ok(6));
    }

    #[test]
    fn request_with_body() {
        let msg = one(b"ANNOUNCE rtsp://h/p RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 3\r\n\r\nv=0");
        let Ok(Message::Request(req)) = msg else {
            panic!("{msg:?}")
        };
        assert_eq!(req.method, Method::Announce);
        assert_eq!(req.uri, "rtsp://h/p");
        assert_eq!(req.cseq(), Some(2));
        assert_eq!(&req.body[..], b"v=0");
    }

    #[test]
    fn tolerates_sloppy_status_line_and_headers() {
        let msg = one(b"\r\n\nRTSP/1.0 200\nCseq :  4 \r\nPublic: OPTIONS,\r\n  PLAY\n\n");
        let Ok(Message::Response(resp)) = msg else {
            panic!("{msg:?}")
        };
        assert_eq!(resp.status, StatusCode::OK);
        assert_eq!(resp.reason, "");
        assert_eq!(resp.cseq(), Some(4));
        assert_eq!(resp.headers.get("public"), Some("OPTIONS, PLAY"));
    }

    #[test]
    fn unknown_method_is_not_an_error() {
        let msg = one(b"FLUSH * RTSP/1.0\r\nCSeq: 9\r\n\r\n");
        assert!(
            matches!(msg, Ok(Message::Request(r)) if r.method == Method::Other("FLUSH".into()))
        );
    }

    #[test]
    fn recoverable_errors_carry_cseq_and_status() {
        let err = one(b"PLAY rtsp://h RTSP/1.1\r\nCSeq: 5\r\n\r\n").unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::UnsupportedVersion);
        assert_eq!(err.status(), StatusCode::RTSP_VERSION_NOT_SUPPORTED);
        assert_eq!(err.cseq, Some(5));
        assert!(!err.is_fatal());

        let err = one(b"PLAY rtsp://h RTSP/1.0\r\nCSeq: 6\r\nno colon here\r\n\r\n").unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::BadHeaderLine);
        assert_eq!(err.cseq, Some(6));

        let err = one(b"PLAY rtsp://h RTSP/1.0\r\n folded first\r\n\r\n").unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::BadHeaderLine);
        assert_eq!(err.cseq, None);

        let err = one(b"RTSP/1.0 2x0 OK\r\nCSeq: 7\r\n\r\n").unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::BadStartLine(ref l) if l == "RTSP/1.0 2x0 OK"));
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn content_length_rules() {
        // Identical duplicates are fine.
        let msg = one(b"RTSP/1.0 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nab");
        assert!(matches!(msg, Ok(Message::Response(r)) if &r.body[..] == b"ab"));
        for bad in [
            &b"-1"[..],
            b"+2",
            b"0x10",
            b"",
            b"1 2",
            b"99999999999999999999999",
        ] {
            let mut input = b"RTSP/1.0 200 OK\r\nContent-Length: ".to_vec();
            input.extend_from_slice(bad);
            input.extend_from_slice(b"\r\n\r\n");
            let err = one(&input).unwrap_err();
            assert_eq!(err.kind, DecodeErrorKind::BadContentLength, "{bad:?}");
            assert!(err.is_fatal());
        }
        let err = one(b"RTSP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap_err();
        assert_eq!(err.kind, DecodeErrorKind::BadContentLength);
    }

    #[test]
    fn fatal_error_is_sticky() {
        let mut decoder = Decoder::default();
        let mut buf = BytesMut::from(&b"OPTIONS * RTSP/1.0\r\nContent-Length: x\r\n\r\n"[..]);
        let first = decoder.decode(&mut buf).unwrap_err();
        buf.extend_from_slice(b"OPTIONS * RTSP/1.0\r\n\r\n");
        assert_eq!(decoder.decode(&mut buf), Err(first));
    }

    #[test]
    fn frame_header_and_encode() {
        assert_eq!(InterleavedFrame::header(3, 0x0102), [b'$', 3, 1, 2]);
        let frame = InterleavedFrame {
            channel: 1,
            payload: Bytes::from_static(b"rtcp"),
        };
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        assert_eq!(&out[..], b"$\x01\x00\x04rtcp");
        assert_eq!(one(&out), Ok(Message::Data(frame)));
    }

    #[test]
    fn offset_counts_skipped_and_consumed_bytes() {
        let mut decoder = Decoder::default();
        let input = b"\r\n$\x00\x00\x01x\r\nOPTIONS * RTSP/1.0\r\n\r\n";
        let all = decode_all(&mut decoder, input);
        assert_eq!(all.len(), 2);
        assert_eq!(decoder.offset(), input.len() as u64);
    }

    #[test]
    fn error_display_mentions_offset() {
        let mut decoder = Decoder::default();
        let all = decode_all(&mut decoder, b"$\x00\x00\x00\r\nBAD\r\n\r\n");
        let Some(Err(err)) = all.last() else {
            panic!("{all:?}")
        };
        assert_eq!(err.offset, 6);
        assert_eq!(
            err.to_string(),
            "malformed start line \"BAD\" (message at stream byte offset 6)"
        );
    }
}
