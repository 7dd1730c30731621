//! Typed RTSP header values (RFC 2326 §12, with RFC 7826 where it clarifies).
//!
//! Each parser takes the header *value* (the text after `Name:`), already unfolded by the message
//! decoder, and returns a typed view or a [`HeaderError`] naming the header and the part that was
//! wrong. Every `Display` impl writes the canonical form, which parses back to the same value.
//!
//! | header | type |
//! |---|---|
//! | `Transport` | [`Transport`] (a list of [`TransportSpec`] alternatives) |
//! | `Session` | [`SessionHeader`] |
//! | `Range` | [`Range`] ([`RangeSpec`] plus the optional `time=` parameter) |
//! | `RTP-Info` | [`RtpInfo`] (a list of [`RtpInfoEntry`]) |
//! | `CSeq` | [`parse_cseq`] |
//! | `Public`, `Require`, `Unsupported`, `Supported`, `Allow` | [`parse_token_list`] |
//!
//! # Tolerances
//!
//! Cameras deviate from the grammar in ways that are harmless to accept; the parsers accept the
//! following (each is exercised by a file in `shared/corpus`):
//!
//! - **Whitespace everywhere.** Optional whitespace around `;`, `,` and `=` and at either end of a
//!   value is skipped (`Session: 9a90de54; timeout=60` from GW Security, `ssrc=     D93FF` from
//!   Dahua, a padded `CSeq: 1 ` from Longse).
//! - **Case.** Parameter names, transport tokens, modes and range units match case-insensitively
//!   (`rtp/avp/tcp`, `UNICAST`, `mode=play` vs `mode="PLAY"`).
//! - **Transport:** parameters before the `RTP/AVP` token (gortsplib "unsorted" case); no
//!   `unicast`/`multicast` token (Luckfox rkipc); quoted or unquoted `mode` and `mode=receive` meaning
//!   record; single ports and a single interleaved channel `n` meaning `n-(n+1)`; a missing
//!   `server_port` (OpenIPC); an empty value such as `source=` meaning the parameter is absent; an
//!   `ssrc` with leading whitespace or fewer than eight hex digits (Hikvision, Dahua); an `ssrc` that
//!   is not hexadecimal or longer than eight digits is ignored rather than rejected; `interleaved=`
//!   on a profile without `/TCP` (Escam Q6, see [`TransportSpec::effective_lower`]); unknown
//!   parameters are kept in [`TransportSpec::extra`].
//! - **Session:** leading whitespace, whitespace before `;timeout`, no timeout (RFC 2326 §12.37 then
//!   implies 60 s, see [`SessionHeader::timeout_or_default`]), an unparseable timeout (ignored) and
//!   unknown parameters (ignored).
//! - **RTP-Info:** relative urls (`url=trackID=0`), missing `seq`/`rtptime`, an `ssrc` parameter
//!   (Reolink), whitespace after the `,` between streams (Axis), a trailing `;` (Laureii), empty
//!   parameters, values that do not parse such as `rtptime=-1` (treated as absent), and urls that
//!   contain `;` or `,` (quoted as RFC 7826 writes them, or unquoted when the rest of the value is
//!   unambiguous).
//! - **Range:** npt in seconds or `hh:mm:ss`, `now`, open starts and ends, fractional seconds of
//!   any length (truncated to nanoseconds), and unknown parameters after the range (ignored).

use std::fmt;

use thiserror::Error;

mod range;
mod rtp_info;
mod session;
mod transport;

pub use range::{NptTime, Range, RangeSpec, SmpteKind, SmpteTime, UtcTime};
pub use rtp_info::{RtpInfo, RtpInfoEntry};
pub use session::SessionHeader;
pub use transport::{LowerTransport, Profile, Transport, TransportMode, TransportSpec};

/// Longest excerpt of an offending value kept in a [`HeaderError`].
const MAX_EXCERPT: usize = 64;

/// The header a [`HeaderError`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderKind {
    /// `CSeq`.
    CSeq,
    /// `Transport`.
    Transport,
    /// `Session`.
    Session,
    /// `Range`.
    Range,
    /// `RTP-Info`.
    RtpInfo,
}

impl HeaderKind {
    /// The header name as written on the wire.
    pub fn name(self) -> &'static str {
        match self {
            HeaderKind::CSeq => "CSeq",
            HeaderKind::Transport => "Transport",
            HeaderKind::Session => "Session",
            HeaderKind::Range => "Range",
            HeaderKind::RtpInfo => "RTP-Info",
        }
    }
}

impl fmt::Display for HeaderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A header value that could not be parsed.
///
/// Offending values are kept as an excerpt of at most 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The value is empty or only whitespace.
    #[error("{header} header is empty")]
    Empty {
        /// The header.
        header: HeaderKind,
    },
    /// A mandatory part is absent.
    #[error("{header} header lacks {field}")]
    Missing {
        /// The header.
        header: HeaderKind,
        /// The missing part, e.g. `"transport protocol"`.
        field: &'static str,
    },
    /// A part is present but malformed.
    #[error("{header} header has an invalid {field}: {value:?}")]
    Invalid {
        /// The header.
        header: HeaderKind,
        /// The malformed part, e.g. `"client_port"`.
        field: &'static str,
        /// An excerpt of the offending text.
        value: String,
    },
    /// A part is well formed but names something this crate does not implement.
    #[error("{header} header has an unsupported {field}: {value:?}")]
    Unsupported {
        /// The header.
        header: HeaderKind,
        /// The part, e.g. `"profile"`.
        field: &'static str,
        /// An excerpt of the offending text.
        value: String,
    },
}

impl HeaderError {
    /// The header this error is about.
    pub fn header(&self) -> HeaderKind {
        match self {
            HeaderError::Empty { header }
            | HeaderError::Missing { header, .. }
            | HeaderError::Invalid { header, .. }
            | HeaderError::Unsupported { header, .. } => *header,
        }
    }

    pub(crate) fn invalid(header: HeaderKind, field: &'static str, value: &str) -> Self {
        HeaderError::Invalid {
            header,
            field,
            value: excerpt(value),
        }
    }

    pub(crate) fn unsupported(header: HeaderKind, field: &'static str, value: &str) -> Self {
        HeaderError::Unsupported {
            header,
            field,
            value: excerpt(value),
        }
    }
}

/// Parses a `CSeq` value (RFC 2326 §12.17): decimal digits, surrounding whitespace ignored.
pub fn parse_cseq(value: &str) -> Result<u32, HeaderError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(HeaderError::Empty {
            header: HeaderKind::CSeq,
        });
    }
    parse_decimal(value)
        .ok_or_else(|| HeaderError::invalid(HeaderKind::CSeq, "sequence number", value))
}

/// Splits a comma-separated token list (`Public`, `Require`, `Proxy-Require`, `Unsupported`,
/// `Supported`, `Allow`; RFC 2326 §12.4, §12.32): items are trimmed and empty items dropped.
pub fn parse_token_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// At most [`MAX_EXCERPT`] bytes of `value`, cut at a character boundary.
fn excerpt(value: &str) -> String {
    let mut end = value.len().min(MAX_EXCERPT);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.get(..end).unwrap_or_default().to_owned()
}

/// Splits `value` at every `sep` that is not inside a double-quoted string.
///
/// An unterminated quote extends to the end of `value`.
fn split_unquoted(value: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(value.get(start..i).unwrap_or_default());
            start = i + c.len_utf8();
        }
    }
    parts.push(value.get(start..).unwrap_or_default());
    parts
}

/// Splits a trimmed `name[=value]` parameter into its trimmed name and value.
fn split_param(segment: &str) -> (&str, Option<&str>) {
    match segment.split_once('=') {
        Some((name, value)) => (name.trim(), Some(value.trim())),
        None => (segment.trim(), None),
    }
}

/// Removes one pair of surrounding double quotes, if present.
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

/// Whether `value` must be quoted to survive [`split_unquoted`] and trimming.
fn needs_quotes(value: &str) -> bool {
    value.is_empty()
        || value
            .chars()
            .any(|c| matches!(c, ';' | ',') || c.is_whitespace())
}

/// Writes `value`, quoted when it contains separators or whitespace (and no quote of its own).
fn write_maybe_quoted(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if needs_quotes(value) && !value.contains('"') {
        write!(f, "\"{value}\"")
    } else {
        f.write_str(value)
    }
}

/// A non-empty run of ASCII digits as an unsigned integer; `None` on anything else or overflow.
fn parse_decimal<T: std::str::FromStr>(value: &str) -> Option<T> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// One to eight hexadecimal digits (RFC 2326 §12.39 `ssrc = 8*8(HEX)`, shorter values tolerated).
fn parse_hex_u32(value: &str) -> Option<u32> {
    let value = value.trim();
    if value.is_empty() || value.len() > 8 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(value, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq_tolerates_whitespace() {
        assert_eq!(parse_cseq("1 "), Ok(1));
        assert_eq!(parse_cseq("  42\t"), Ok(42));
        assert_eq!(parse_cseq("4294967295"), Ok(u32::MAX));
    }

    #[test]
    fn cseq_rejects_garbage() {
        assert_eq!(
            parse_cseq(""),
            Err(HeaderError::Empty {
                header: HeaderKind::CSeq
            })
        );
        for bad in ["+1", "-1", "1 2", "0x10", "4294967296", "abc"] {
            let err = parse_cseq(bad).unwrap_err();
            assert_eq!(err.header(), HeaderKind::CSeq, "{bad}");
        }
    }

    #[test]
    fn token_lists() {
        assert_eq!(
            parse_token_list("OPTIONS, DESCRIBE,SETUP ,, PLAY,"),
            ["OPTIONS", "DESCRIBE", "SETUP", "PLAY"]
        );
        assert!(parse_token_list(" , ").is_empty());
        assert_eq!(
            parse_token_list("www.onvif.org/ver20/backchannel"),
            ["www.onvif.org/ver20/backchannel"]
        );
    }

    #[test]
    fn quote_aware_split() {
        assert_eq!(
            split_unquoted(r#"a;b="x;y";c"#, ';'),
            ["a", r#"b="x;y""#, "c"]
        );
        assert_eq!(split_unquoted(r#"a,"b"#, ','), ["a", r#""b"#]);
        assert_eq!(split_unquoted("", ','), [""]);
    }

    #[test]
    fn hex_ssrc() {
        assert_eq!(parse_hex_u32(" 4317f"), Some(0x4317f));
        assert_eq!(parse_hex_u32("0000ABCD"), Some(0xabcd));
        assert_eq!(parse_hex_u32("1449463210"), None);
        assert_eq!(parse_hex_u32(""), None);
        assert_eq!(parse_hex_u32("+1"), None);
    }

    #[test]
    fn excerpt_respects_char_boundaries() {
        let long = "é".repeat(100);
        let cut = excerpt(&long);
        assert!(cut.len() <= MAX_EXCERPT);
        assert!(cut.chars().all(|c| c == 'é'));
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn error_messages_name_the_header() {
        let err = HeaderError::invalid(HeaderKind::RtpInfo, "url", "x");
        assert_eq!(err.to_string(), "RTP-Info header has an invalid url: \"x\"");
    }
}
