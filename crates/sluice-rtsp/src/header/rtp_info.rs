//! The `RTP-Info` header (RFC 2326 §12.33).

use std::fmt;

use super::{parse_decimal, parse_hex_u32, write_maybe_quoted, HeaderError, HeaderKind};

const HEADER: HeaderKind = HeaderKind::RtpInfo;

/// Parameters that may follow a stream url; a `;` before one of them ends an unquoted url.
const KNOWN_PARAMS: [&str; 4] = ["seq", "rtptime", "ssrc", "url"];

/// An `RTP-Info` header: one entry per stream.
///
/// `Display` writes `url=rtsp://h/p/trackID=0;seq=1;rtptime=2`, entries separated by `,`; a url
/// containing `;`, `,` or whitespace is written quoted as in RFC 7826.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpInfo(pub Vec<RtpInfoEntry>);

impl RtpInfo {
    /// Parses the header value. Empty entries (stray commas) are skipped; at least one entry
    /// must remain.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let entries = split_entries(value)
            .into_iter()
            .filter(|entry| !entry.trim().is_empty())
            .map(RtpInfoEntry::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if entries.is_empty() {
            return Err(HeaderError::Empty { header: HEADER });
        }
        Ok(RtpInfo(entries))
    }
}

impl fmt::Display for RtpInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, entry) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{entry}")?;
        }
        Ok(())
    }
}

/// The synchronisation information for one stream of a `PLAY` response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RtpInfoEntry {
    /// The stream url as sent: absolute, or relative (`trackID=0`) as some cameras write it.
    pub url: String,
    /// Sequence number of the first packet after the `PLAY`.
    pub seq: Option<u16>,
    /// RTP timestamp corresponding to the start of the `Range`.
    pub rtptime: Option<u32>,
    /// SSRC of the stream (RFC 7826 §18.45; some RTSP 1.0 servers send it too).
    pub ssrc: Option<u32>,
}

impl RtpInfoEntry {
    /// An entry for `url` with no parameters.
    pub fn new(url: impl Into<String>) -> Self {
        RtpInfoEntry {
            url: url.into(),
            seq: None,
            rtptime: None,
            ssrc: None,
        }
    }

    /// Parses one entry (`url=…;seq=…;rtptime=…`).
    ///
    /// Values that do not parse (`rtptime=-1`), empty parameters (a trailing `;`) and unknown
    /// parameters are ignored; only a missing `url` is an error.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let mut url = None;
        let mut entry = RtpInfoEntry::new("");
        let mut rest = value;
        loop {
            // `:` separates the ssrc from its parameters in RFC 7826 (`ssrc=0A13C760:seq=45102`).
            rest = rest.trim_start_matches(|c: char| c == ';' || c == ':' || c.is_whitespace());
            if rest.is_empty() {
                break;
            }
            let name_end = rest.find(['=', ';']).unwrap_or(rest.len());
            let name = rest.get(..name_end).unwrap_or_default().trim();
            let Some(after) = rest.get(name_end..).and_then(|r| r.strip_prefix('=')) else {
                // A parameter without a value: nothing this header defines.
                rest = rest.get(name_end..).unwrap_or_default();
                continue;
            };
            let after = after.trim_start();
            if name.eq_ignore_ascii_case("url") {
                let (text, remainder) = split_url(after);
                url = Some(text.to_owned());
                rest = remainder;
                continue;
            }
            let is_ssrc = name.eq_ignore_ascii_case("ssrc");
            let value_end = after
                .find(|c: char| c == ';' || (is_ssrc && c == ':'))
                .unwrap_or(after.len());
            let param = after.get(..value_end).unwrap_or_default().trim();
            rest = after.get(value_end..).unwrap_or_default();
            // RFC 2326 §12.33: seq and rtptime are decimal; RFC 7826 §18.45: ssrc is 8HEX.
            if name.eq_ignore_ascii_case("seq") {
                entry.seq = parse_decimal(param);
            } else if name.eq_ignore_ascii_case("rtptime") {
                entry.rtptime = parse_decimal(param);
            } else if is_ssrc {
                entry.ssrc = parse_hex_u32(param);
            }
        }
        entry.url = url.ok_or(HeaderError::Missing {
            header: HEADER,
            field: "url",
        })?;
        Ok(entry)
    }
}

impl fmt::Display for RtpInfoEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("url=")?;
        write_maybe_quoted(f, &self.url)?;
        if let Some(seq) = self.seq {
            write!(f, ";seq={seq}")?;
        }
        if let Some(rtptime) = self.rtptime {
            write!(f, ";rtptime={rtptime}")?;
        }
        if let Some(ssrc) = self.ssrc {
            write!(f, ";ssrc={ssrc:08X}")?;
        }
        Ok(())
    }
}

/// Splits the value of `url=` from the rest of the entry.
///
/// A quoted url (RFC 7826 §18.45) ends at its closing quote. An unquoted one (RFC 2326) ends at
/// the first `;` that is followed by nothing or by a known parameter, so urls containing `;` survive.
fn split_url(after: &str) -> (&str, &str) {
    if let Some(quoted) = after.strip_prefix('"') {
        return match quoted.split_once('"') {
            Some((url, rest)) => (url, rest),
            None => (quoted.trim_end(), ""),
        };
    }
    for (i, _) in after.match_indices(';') {
        let following = after.get(i + 1..).unwrap_or_default();
        if ends_url(following) {
            let url = after.get(..i).unwrap_or_default().trim_end();
            return (url, following);
        }
    }
    (after.trim_end(), "")
}

/// Whether the text after a `;` inside an unquoted url starts a new parameter (or is empty).
fn ends_url(following: &str) -> bool {
    let following = following.trim_start_matches(|c: char| c == ';' || c.is_whitespace());
    following.is_empty()
        || KNOWN_PARAMS
            .iter()
            .any(|name| starts_with_param(following, name))
}

/// Whether `text` starts with `name` (any case), optional whitespace and `=`.
fn starts_with_param(text: &str, name: &str) -> bool {
    text.get(..name.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(name))
        && text
            .get(name.len()..)
            .is_some_and(|tail| tail.trim_start().starts_with('='))
}

/// Splits the header value into entries: at each `,` outside quotes that is followed by `url=` or
/// by nothing, so that a `,` inside an unquoted url does not split it.
fn split_entries(value: &str) -> Vec<&str> {
    let mut entries = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in value.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == ',' && !quoted {
            let following = value.get(i + 1..).unwrap_or_default().trim_start();
            if following.is_empty() || starts_with_param(following, "url") {
                entries.push(value.get(start..i).unwrap_or_default());
                start = i + 1;
            }
        }
    }
    entries.push(value.get(start..).unwrap_or_default());
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(url: &str, seq: Option<u16>, rtptime: Option<u32>, ssrc: Option<u32>) -> RtpInfoEntry {
        RtpInfoEntry {
            url: url.into(),
            seq,
            rtptime,
            ssrc,
        }
    }

    #[test]
    fn canonical_display() {
        let info = RtpInfo(vec![entry("rtsp://h/p/trackID=0", Some(1), Some(2), None)]);
        assert_eq!(info.to_string(), "url=rtsp://h/p/trackID=0;seq=1;rtptime=2");
        assert_eq!(RtpInfo::parse(&info.to_string()), Ok(info));
    }

    #[test]
    fn trailing_semicolon_and_negative_rtptime() {
        let info = RtpInfo::parse("url=rtsp://192.168.1.19:554/0/main/trackID=0;seq=0;rtptime=0;")
            .unwrap();
        assert_eq!(
            info.0,
            [entry(
                "rtsp://192.168.1.19:554/0/main/trackID=0",
                Some(0),
                Some(0),
                None
            )]
        );
        let info = RtpInfo::parse("url=trackID=1;seq=1;rtptime=-1,url=trackID=2;seq=1;rtptime=-1")
            .unwrap();
        assert_eq!(
            info.0,
            [
                entry("trackID=1", Some(1), None, None),
                entry("trackID=2", Some(1), None, None)
            ]
        );
    }

    #[test]
    fn urls_with_separators() {
        let info =
            RtpInfo::parse(r#"url="rtsp://h/a;b,c";seq=5, url=rtsp://h/x,y;z;rtptime=7"#).unwrap();
        assert_eq!(
            info.0,
            [
                entry("rtsp://h/a;b,c", Some(5), None, None),
                entry("rtsp://h/x,y;z", None, Some(7), None)
            ]
        );
        assert_eq!(
            info.to_string(),
            r#"url="rtsp://h/a;b,c";seq=5,url="rtsp://h/x,y;z";rtptime=7"#
        );
    }

    #[test]
    fn url_with_query_and_colon() {
        let text = "url=rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=1?transportmode=unicast&profile=Profile_1;seq=24104;rtptime=1270711678";
        let info = RtpInfo::parse(text).unwrap();
        assert_eq!(info.0.len(), 1);
        assert!(info.0[0].url.ends_with("profile=Profile_1"));
        assert_eq!(info.0[0].seq, Some(24104));
    }

    #[test]
    fn rfc7826_single_ssrc_form() {
        let info = RtpInfo::parse(
            r#"url="rtsp://example.com/foo/audio" ssrc=0A13C760:seq=45102;rtptime=12345678"#,
        )
        .unwrap();
        assert_eq!(
            info.0,
            [entry(
                "rtsp://example.com/foo/audio",
                Some(45102),
                Some(12_345_678),
                Some(0x0a13_c760)
            )]
        );
    }

    #[test]
    fn missing_url_is_an_error() {
        assert_eq!(
            RtpInfo::parse("seq=1;rtptime=2"),
            Err(HeaderError::Missing {
                header: HEADER,
                field: "url"
            })
        );
        assert_eq!(
            RtpInfo::parse(" , "),
            Err(HeaderError::Empty { header: HEADER })
        );
    }

    #[test]
    fn unknown_and_valueless_parameters_are_skipped() {
        let info = RtpInfo::parse("url=a;foo;seq=3;x=y").unwrap();
        assert_eq!(info.0, [entry("a;foo", Some(3), None, None)]);
        let info = RtpInfo::parse("seq=3;url=b").unwrap();
        assert_eq!(info.0, [entry("b", Some(3), None, None)]);
    }
}
