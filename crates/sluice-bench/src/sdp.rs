//! The parts of a DESCRIBE answer a reader needs: the media sections, their control URLs and encodings.

/// One `m=` section (RFC 4566 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `video`, `audio`, ...
    pub kind: String,
    /// The `a=control:` attribute (RFC 2326 §C.1.1), if any.
    pub control: Option<String>,
    /// The encoding name of the first `a=rtpmap:` (e.g. `H264`), if any.
    pub encoding: Option<String>,
    /// The clock rate of the first `a=rtpmap:`, if any.
    pub clock_rate: Option<u32>,
}

impl Media {
    /// Whether the section carries H.264 video.
    pub fn is_h264(&self) -> bool {
        self.kind == "video"
            && self
                .encoding
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case("H264"))
    }
}

/// The media sections of a session description, and its session-level control URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description {
    /// Session-level `a=control:` (the aggregate control URL), if any.
    pub control: Option<String>,
    /// The `m=` sections in order.
    pub media: Vec<Media>,
}

/// Reads the media sections out of SDP text; unknown lines are ignored.
pub fn parse(text: &str) -> Description {
    let mut d = Description::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(m) = line.strip_prefix("m=") {
            d.media.push(Media {
                kind: m.split(' ').next().unwrap_or_default().to_owned(),
                control: None,
                encoding: None,
                clock_rate: None,
            });
        } else if let Some(c) = line.strip_prefix("a=control:") {
            match d.media.last_mut() {
                Some(m) => m.control = Some(c.trim().to_owned()),
                None => d.control = Some(c.trim().to_owned()),
            }
        } else if let Some(map) = line.strip_prefix("a=rtpmap:") {
            // RFC 4566 §6: a=rtpmap:<payload type> <encoding name>/<clock rate>[/<parameters>]
            if let Some(m) = d.media.last_mut() {
                if m.encoding.is_none() {
                    let format = map
                        .split_once(' ')
                        .map(|(_, rest)| rest)
                        .unwrap_or_default();
                    let mut parts = format.split('/');
                    m.encoding = Some(parts.next().unwrap_or_default().trim().to_owned());
                    m.clock_rate = parts.next().and_then(|r| r.trim().parse().ok());
                }
            }
        }
    }
    d
}

/// Resolves a control attribute against a base URL (RFC 2326 §C.1.1): absolute URLs stay, `*` means the
/// base itself, anything else is appended to the base (with a `/` between them).
pub fn resolve(base: &str, control: &str) -> String {
    if control.starts_with("rtsp://") || control.starts_with("rtsps://") {
        return control.to_owned();
    }
    if control == "*" || control.is_empty() {
        return base.to_owned();
    }
    if base.ends_with('/') {
        format!("{base}{control}")
    } else {
        format!("{base}/{control}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLUICE: &str = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Stream\r\nt=0 0\r\n\
        m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n\
        m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\na=control:trackID=1\r\n";

    #[test]
    fn media_sections_with_controls() {
        let d = parse(SLUICE);
        assert_eq!(d.control, None);
        assert_eq!(d.media.len(), 2);
        assert!(d.media[0].is_h264());
        assert_eq!(d.media[0].control.as_deref(), Some("trackID=0"));
        assert_eq!(d.media[1].kind, "audio");
        assert_eq!(d.media[1].encoding.as_deref(), Some("MPEG4-GENERIC"));
        assert_eq!(d.media[0].clock_rate, Some(90000));
        assert_eq!(d.media[1].clock_rate, Some(48000));
        assert!(!d.media[1].is_h264());
    }

    #[test]
    fn session_level_control_and_bare_lf() {
        let d = parse("v=0\na=control:*\nm=video 0 RTP/AVP 96\na=control:stream=0\n");
        assert_eq!(d.control.as_deref(), Some("*"));
        assert_eq!(d.media[0].control.as_deref(), Some("stream=0"));
        assert!(!d.media[0].is_h264(), "no rtpmap");
    }

    #[test]
    fn resolve_controls() {
        let base = "rtsp://127.0.0.1:8554/bench/";
        assert_eq!(
            resolve(base, "trackID=1"),
            "rtsp://127.0.0.1:8554/bench/trackID=1"
        );
        assert_eq!(
            resolve("rtsp://h/bench", "stream=0"),
            "rtsp://h/bench/stream=0"
        );
        assert_eq!(resolve(base, "*"), base);
        assert_eq!(resolve(base, "rtsp://other/x"), "rtsp://other/x");
    }
}
