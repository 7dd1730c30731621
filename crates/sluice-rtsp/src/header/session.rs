//! The `Session` header (RFC 2326 §12.37).

use std::fmt;

use super::{parse_decimal, split_param, HeaderError, HeaderKind};

const HEADER: HeaderKind = HeaderKind::Session;

/// RFC 2326 §12.37: the timeout that applies when the header carries none, in seconds.
pub const DEFAULT_SESSION_TIMEOUT_SECS: u32 = 60;

/// A `Session` header: `session-id [ ";" "timeout" "=" delta-seconds ]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionHeader {
    /// The opaque session identifier: printable ASCII without whitespace or `;`.
    pub id: String,
    /// The server's session timeout in seconds, if it sent one.
    pub timeout: Option<u32>,
}

impl SessionHeader {
    /// A header with the given id and no timeout.
    pub fn new(id: impl Into<String>) -> Self {
        SessionHeader {
            id: id.into(),
            timeout: None,
        }
    }

    /// Parses the header value.
    ///
    /// Whitespace around the id and the parameters is skipped (`9a90de54; timeout=60`); a timeout
    /// that is not a decimal number and parameters other than `timeout` are ignored.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = value.trim();
        let mut segments = value.split(';');
        let id = segments.next().unwrap_or_default().trim();
        if id.is_empty() {
            return Err(HeaderError::Missing {
                header: HEADER,
                field: "session id",
            });
        }
        // RFC 2326 §3.4: session-id = 1*( ALPHA | DIGIT | safe ). Other visible characters are
        // tolerated; whitespace, controls and non-ASCII are not, since the id is echoed verbatim
        // in later requests.
        if !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(HeaderError::invalid(HEADER, "session id", id));
        }
        let mut timeout = None;
        for segment in segments {
            let (name, param) = split_param(segment);
            if name.eq_ignore_ascii_case("timeout") {
                timeout = param.and_then(parse_decimal);
            }
        }
        Ok(SessionHeader {
            id: id.to_owned(),
            timeout,
        })
    }

    /// The timeout in seconds, or the RFC 2326 §12.37 default of 60 s when none was given.
    pub fn timeout_or_default(&self) -> u32 {
        self.timeout.unwrap_or(DEFAULT_SESSION_TIMEOUT_SECS)
    }
}

impl fmt::Display for SessionHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)?;
        if let Some(timeout) = self.timeout {
            write!(f, ";timeout={timeout}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_and_timeout() {
        let s = SessionHeader::parse("12345678;timeout=60").unwrap();
        assert_eq!(s.id, "12345678");
        assert_eq!(s.timeout, Some(60));
        assert_eq!(s.to_string(), "12345678;timeout=60");
    }

    #[test]
    fn whitespace_and_case() {
        let s = SessionHeader::parse("       708345999 ;  Timeout = 30 ").unwrap();
        assert_eq!(
            s,
            SessionHeader {
                id: "708345999".into(),
                timeout: Some(30)
            }
        );
    }

    #[test]
    fn no_timeout_defaults_to_sixty() {
        let s = SessionHeader::parse("7116520596809429228").unwrap();
        assert_eq!(s.timeout, None);
        assert_eq!(s.timeout_or_default(), 60);
        assert_eq!(s.to_string(), "7116520596809429228");
    }

    #[test]
    fn bad_timeout_is_ignored() {
        let s = SessionHeader::parse("abc;timeout=soon;foo=bar").unwrap();
        assert_eq!(s, SessionHeader::new("abc"));
        assert_eq!(
            SessionHeader::parse("abc;timeout=-5").unwrap().timeout,
            None
        );
    }

    #[test]
    fn rejects_missing_or_unsafe_id() {
        assert_eq!(
            SessionHeader::parse("  ;timeout=60"),
            Err(HeaderError::Missing {
                header: HEADER,
                field: "session id"
            })
        );
        assert_eq!(
            SessionHeader::parse(""),
            Err(HeaderError::Missing {
                header: HEADER,
                field: "session id"
            })
        );
        assert!(SessionHeader::parse("a b").is_err());
        assert!(SessionHeader::parse("a\r\nX-Injected: 1").is_err());
        assert!(SessionHeader::parse("sessión").is_err());
    }
}
