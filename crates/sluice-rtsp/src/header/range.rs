//! The `Range` header (RFC 2326 §12.29) and its time formats (RFC 2326 §3.5–3.7).

use std::fmt;
use std::time::Duration;

use super::{parse_decimal, split_param, split_unquoted, unquote, HeaderError, HeaderKind};

const HEADER: HeaderKind = HeaderKind::Range;

const NANOS_PER_SEC: u32 = 1_000_000_000;

/// A `Range` header: a range in one of three time formats and an optional `time=` parameter
/// (the wall-clock time at which the operation is to take effect).
///
/// `Display` writes e.g. `npt=10.5-` or `clock=19961108T142300Z-;time=19970123T143720Z`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Range {
    /// The range itself.
    pub spec: RangeSpec,
    /// RFC 2326 §12.29: `;time=` utc-time.
    pub time: Option<UtcTime>,
}

impl Range {
    /// A range without a `time=` parameter.
    pub fn new(spec: RangeSpec) -> Self {
        Range { spec, time: None }
    }

    /// An npt range such as `npt=0-`.
    pub fn npt(start: Option<NptTime>, end: Option<NptTime>) -> Self {
        Range::new(RangeSpec::Npt { start, end })
    }

    /// Parses the header value: a range, then `;`-separated parameters of which `time` is
    /// understood and any other is ignored.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(HeaderError::Empty { header: HEADER });
        }
        let mut segments = split_unquoted(value, ';').into_iter();
        let spec = RangeSpec::parse(segments.next().unwrap_or_default())?;
        let mut time = None;
        for segment in segments {
            let (name, param) = split_param(segment);
            if name.eq_ignore_ascii_case("time") {
                let param = unquote(param.unwrap_or_default());
                time = Some(
                    UtcTime::parse(param)
                        .ok_or_else(|| HeaderError::invalid(HEADER, "time", param))?,
                );
            }
        }
        Ok(Range { spec, time })
    }
}

impl From<RangeSpec> for Range {
    fn from(spec: RangeSpec) -> Self {
        Range::new(spec)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.spec)?;
        if let Some(time) = self.time {
            write!(f, ";time={time}")?;
        }
        Ok(())
    }
}

/// A range in one time format. At least one of `start` and `end` is present in a parsed value:
/// an absent end leaves the range open to the end of the presentation (RFC 2326 §3.6), an absent
/// start is written `npt=-20` (RFC 2326 §3.6 for npt, RFC 7826 §4.4 for every format).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RangeSpec {
    /// Normal play time (RFC 2326 §3.6): `npt=10-`, `npt=-20`, `npt=now-`.
    Npt {
        /// Start of the range.
        start: Option<NptTime>,
        /// End of the range.
        end: Option<NptTime>,
    },
    /// Absolute time (RFC 2326 §3.7): `clock=19961108T142300Z-`.
    Clock {
        /// Start of the range.
        start: Option<UtcTime>,
        /// End of the range.
        end: Option<UtcTime>,
    },
    /// SMPTE relative timestamps (RFC 2326 §3.5): `smpte=10:12:33:20-`.
    Smpte {
        /// Which SMPTE format.
        kind: SmpteKind,
        /// Start of the range.
        start: Option<SmpteTime>,
        /// End of the range.
        end: Option<SmpteTime>,
    },
}

impl RangeSpec {
    /// Parses one ranges-specifier, `unit=[start]-[end]`, without parameters.
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(HeaderError::Empty { header: HEADER });
        }
        let (unit, range) = value.split_once('=').ok_or(HeaderError::Missing {
            header: HEADER,
            field: "range unit",
        })?;
        let unit = unit.trim();
        // None of the time formats contains '-', so the first one separates start and end.
        let (start, end) = range
            .split_once('-')
            .map(|(start, end)| (start.trim(), end.trim()))
            .ok_or_else(|| HeaderError::invalid(HEADER, "range", value))?;
        if start.is_empty() && end.is_empty() {
            return Err(HeaderError::invalid(HEADER, "range", value));
        }
        if unit.eq_ignore_ascii_case("npt") {
            // RFC 2326 §3.6
            Ok(RangeSpec::Npt {
                start: parse_bound(start, NptTime::parse, "npt time")?,
                end: parse_bound(end, NptTime::parse, "npt time")?,
            })
        } else if unit.eq_ignore_ascii_case("clock") {
            // RFC 2326 §3.7
            Ok(RangeSpec::Clock {
                start: parse_bound(start, UtcTime::parse, "clock time")?,
                end: parse_bound(end, UtcTime::parse, "clock time")?,
            })
        } else if let Some(kind) = SmpteKind::from_name(unit) {
            // RFC 2326 §3.5
            Ok(RangeSpec::Smpte {
                kind,
                start: parse_bound(start, SmpteTime::parse, "smpte time")?,
                end: parse_bound(end, SmpteTime::parse, "smpte time")?,
            })
        } else {
            Err(HeaderError::unsupported(HEADER, "range unit", unit))
        }
    }
}

impl fmt::Display for RangeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn bounds<T: fmt::Display>(
            f: &mut fmt::Formatter<'_>,
            start: &Option<T>,
            end: &Option<T>,
        ) -> fmt::Result {
            if let Some(start) = start {
                write!(f, "{start}")?;
            }
            f.write_str("-")?;
            if let Some(end) = end {
                write!(f, "{end}")?;
            }
            Ok(())
        }
        match self {
            RangeSpec::Npt { start, end } => {
                f.write_str("npt=")?;
                bounds(f, start, end)
            }
            RangeSpec::Clock { start, end } => {
                f.write_str("clock=")?;
                bounds(f, start, end)
            }
            RangeSpec::Smpte { kind, start, end } => {
                write!(f, "{}=", kind.name())?;
                bounds(f, start, end)
            }
        }
    }
}

fn parse_bound<T>(
    text: &str,
    parse: fn(&str) -> Option<T>,
    field: &'static str,
) -> Result<Option<T>, HeaderError> {
    if text.is_empty() {
        return Ok(None);
    }
    parse(text)
        .map(Some)
        .ok_or_else(|| HeaderError::invalid(HEADER, field, text))
}

/// A normal-play-time position (RFC 2326 §3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NptTime {
    /// `now`: the current instant of a live presentation.
    Now,
    /// An offset from the beginning of the presentation, to the nanosecond. Written in seconds
    /// (`12.5`) whichever form (`0:00:12.5`) it was read from.
    Position(Duration),
}

impl NptTime {
    /// Parses `now`, `seconds[.fraction]` or `h:mm:ss[.fraction]`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("now") {
            return Some(NptTime::Now);
        }
        // RFC 2326 §3.6: npt-sec = 1*DIGIT [ "." *DIGIT ];
        // npt-hhmmss = npt-hh ":" npt-mm ":" npt-ss [ "." *DIGIT ]
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let nanos = parse_fraction(fraction)?;
        let secs = if whole.contains(':') {
            let mut parts = whole.split(':');
            let hours: u64 = parse_decimal(parts.next()?)?;
            let minutes = parse_two_digits(parts.next()?).filter(|&m| m < 60)?;
            let seconds = parse_two_digits(parts.next()?).filter(|&s| s < 60)?;
            if parts.next().is_some() {
                return None;
            }
            hours
                .checked_mul(3600)?
                .checked_add(u64::from(minutes) * 60 + u64::from(seconds))?
        } else {
            parse_decimal(whole)?
        };
        Some(NptTime::Position(Duration::new(secs, nanos)))
    }

    /// The position, or `None` for [`NptTime::Now`].
    pub fn position(self) -> Option<Duration> {
        match self {
            NptTime::Now => None,
            NptTime::Position(position) => Some(position),
        }
    }
}

impl fmt::Display for NptTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NptTime::Now => f.write_str("now"),
            NptTime::Position(position) => {
                write!(f, "{}", position.as_secs())?;
                write_fraction(f, position.subsec_nanos())
            }
        }
    }
}

/// An absolute UTC time, `YYYYMMDDThhmmss[.fraction]Z` (RFC 2326 §3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcTime {
    /// Year, 0–9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–60 (60 for a leap second).
    pub second: u8,
    /// Fraction of the second in nanoseconds (digits beyond the ninth are dropped).
    pub nanos: u32,
}

impl UtcTime {
    /// Parses `YYYYMMDDThhmmss[.fraction]Z` (letters in either case).
    pub fn parse(text: &str) -> Option<Self> {
        // RFC 2326 §3.7: utc-time = utc-date "T" utc-time "Z"; utc-date = 8DIGIT;
        // utc-time = 6DIGIT [ "." fraction ]
        let text = text.trim();
        let text = text.strip_suffix(['Z', 'z'])?;
        let (date, time) = text.split_once(['T', 't'])?;
        let (time, fraction) = match time.split_once('.') {
            Some((time, fraction)) => (time, Some(fraction)),
            None => (time, None),
        };
        if date.len() != 8 || time.len() != 6 {
            return None;
        }
        let utc = UtcTime {
            year: parse_decimal(date.get(0..4)?)?,
            month: parse_decimal(date.get(4..6)?)?,
            day: parse_decimal(date.get(6..8)?)?,
            hour: parse_decimal(time.get(0..2)?)?,
            minute: parse_decimal(time.get(2..4)?)?,
            second: parse_decimal(time.get(4..6)?)?,
            nanos: parse_fraction(fraction)?,
        };
        utc.is_valid().then_some(utc)
    }

    fn is_valid(&self) -> bool {
        self.year <= 9999
            && (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour <= 23
            && self.minute <= 59
            && self.second <= 60
            && self.nanos < NANOS_PER_SEC
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}{:02}{:02}T{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        write_fraction(f, self.nanos)?;
        f.write_str("Z")
    }
}

/// The SMPTE variant of a [`RangeSpec::Smpte`] range (RFC 2326 §3.5, RFC 7826 §4.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SmpteKind {
    /// `smpte`: 30 frames per second, non-drop.
    Smpte30,
    /// `smpte-30-drop`: 29.97 frames per second, drop-frame.
    Smpte30Drop,
    /// `smpte-25`: 25 frames per second.
    Smpte25,
    /// Another `smpte…` type (RFC 7826 smpte-type-extension), as written.
    Other(String),
}

impl SmpteKind {
    /// The range unit as written, e.g. `smpte-25`.
    pub fn name(&self) -> &str {
        match self {
            SmpteKind::Smpte30 => "smpte",
            SmpteKind::Smpte30Drop => "smpte-30-drop",
            SmpteKind::Smpte25 => "smpte-25",
            SmpteKind::Other(name) => name,
        }
    }

    /// The kind for a range unit, if it names an SMPTE format (case-insensitive).
    fn from_name(unit: &str) -> Option<Self> {
        let known = [
            SmpteKind::Smpte30,
            SmpteKind::Smpte30Drop,
            SmpteKind::Smpte25,
        ];
        if let Some(kind) = known
            .into_iter()
            .find(|k| unit.eq_ignore_ascii_case(k.name()))
        {
            return Some(kind);
        }
        // RFC 7826 §4.4.1: smpte-type-extension = "smpte" token
        let prefix = unit.get(..5)?;
        let rest = unit.get(5..)?;
        (prefix.eq_ignore_ascii_case("smpte")
            && !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| SmpteKind::Other(unit.to_owned()))
    }
}

/// An SMPTE timestamp `hh:mm:ss[:frames][.subframes]` (RFC 2326 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SmpteTime {
    /// Hours, 0–99.
    pub hours: u8,
    /// Minutes, 0–59.
    pub minutes: u8,
    /// Seconds, 0–59.
    pub seconds: u8,
    /// Frames, 0–99 (0 when absent).
    pub frames: u8,
    /// Hundredths of a frame, 0–99 (0 when absent).
    pub subframes: u8,
}

impl SmpteTime {
    /// Parses `hh:mm:ss[:frames][.subframes]`.
    pub fn parse(text: &str) -> Option<Self> {
        // RFC 2326 §3.5: smpte-time = 1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT [ ":" 1*2DIGIT ]
        //                             [ "." 1*2DIGIT ]
        let text = text.trim();
        let (main, subframes) = match text.split_once('.') {
            Some((main, subframes)) => (main, parse_two_digits(subframes)?),
            None => (text, 0),
        };
        let mut parts = main.split(':');
        let hours = parse_two_digits(parts.next()?)?;
        let minutes = parse_two_digits(parts.next()?).filter(|&m| m < 60)?;
        let seconds = parse_two_digits(parts.next()?).filter(|&s| s < 60)?;
        let frames = match parts.next() {
            Some(frames) => parse_two_digits(frames)?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(SmpteTime {
            hours,
            minutes,
            seconds,
            frames,
            subframes,
        })
    }
}

impl fmt::Display for SmpteTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}:{:02}",
            self.hours, self.minutes, self.seconds
        )?;
        if self.frames != 0 || self.subframes != 0 {
            write!(f, ":{:02}", self.frames)?;
        }
        if self.subframes != 0 {
            write!(f, ".{:02}", self.subframes)?;
        }
        Ok(())
    }
}

/// One or two decimal digits.
fn parse_two_digits(text: &str) -> Option<u8> {
    if text.is_empty() || text.len() > 2 {
        return None;
    }
    parse_decimal(text)
}

/// The digits after a decimal point as nanoseconds: `None` → 0, `"5"` → 500 000 000. Digits past
/// the ninth are checked and dropped; an empty fraction (`"1."`) is 0.
fn parse_fraction(fraction: Option<&str>) -> Option<u32> {
    let Some(digits) = fraction else {
        return Some(0);
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos = 0u32;
    let mut scale = NANOS_PER_SEC;
    for digit in digits.bytes().take(9) {
        scale /= 10;
        nanos += u32::from(digit - b'0') * scale;
    }
    Some(nanos)
}

/// Writes `.fraction` for a non-zero nanosecond count, without trailing zeros.
fn write_fraction(f: &mut fmt::Formatter<'_>, nanos: u32) -> fmt::Result {
    if nanos == 0 {
        return Ok(());
    }
    let digits = format!("{nanos:09}");
    write!(f, ".{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(secs: u64, millis: u32) -> Option<NptTime> {
        Some(NptTime::Position(Duration::new(secs, millis * 1_000_000)))
    }

    #[test]
    fn npt_forms() {
        let cases = [
            ("npt=0.000-", pos(0, 0), None),
            ("npt=0.0-596.48", pos(0, 0), pos(596, 480)),
            ("npt=10-", pos(10, 0), None),
            ("npt=-20", None, pos(20, 0)),
            ("npt=now-", Some(NptTime::Now), None),
            ("npt=0:01:02.5-1:00:00", pos(62, 500), pos(3600, 0)),
            ("NPT = 12.5 - 13.", pos(12, 500), pos(13, 0)),
        ];
        for (text, start, end) in cases {
            let range = Range::parse(text).unwrap();
            assert_eq!(range.spec, RangeSpec::Npt { start, end }, "{text}");
            assert_eq!(range.time, None);
        }
    }

    #[test]
    fn npt_display() {
        assert_eq!(Range::npt(pos(12, 500), None).to_string(), "npt=12.5-");
        assert_eq!(Range::npt(pos(0, 0), None).to_string(), "npt=0-");
        assert_eq!(Range::npt(None, pos(20, 0)).to_string(), "npt=-20");
        assert_eq!(Range::npt(Some(NptTime::Now), None).to_string(), "npt=now-");
        let tiny = NptTime::Position(Duration::new(1, 1));
        assert_eq!(tiny.to_string(), "1.000000001");
    }

    #[test]
    fn fraction_beyond_nanoseconds_is_truncated() {
        assert_eq!(
            NptTime::parse("1.1234567899"),
            Some(NptTime::Position(Duration::new(1, 123_456_789)))
        );
        assert_eq!(NptTime::parse("1.12a"), None);
    }

    #[test]
    fn clock_with_time_parameter() {
        let range =
            Range::parse("clock=19961108T142300Z-19961108T143520.25Z;time=19970123T143720Z")
                .unwrap();
        let RangeSpec::Clock {
            start: Some(start),
            end: Some(end),
        } = range.spec
        else {
            panic!("{range:?}");
        };
        assert_eq!(
            (start.year, start.month, start.day, start.hour, start.minute),
            (1996, 11, 8, 14, 23)
        );
        assert_eq!((end.minute, end.second, end.nanos), (35, 20, 250_000_000));
        assert_eq!(range.time.map(|t| t.year), Some(1997));
        assert_eq!(
            range.to_string(),
            "clock=19961108T142300Z-19961108T143520.25Z;time=19970123T143720Z"
        );
        assert!(matches!(
            Range::parse("clock=19961108T142300Z-").unwrap().spec,
            RangeSpec::Clock {
                start: Some(_),
                end: None
            }
        ));
    }

    #[test]
    fn smpte_kinds() {
        let range = Range::parse("smpte=10:12:33:20-").unwrap();
        let expected = SmpteTime {
            hours: 10,
            minutes: 12,
            seconds: 33,
            frames: 20,
            subframes: 0,
        };
        assert_eq!(
            range.spec,
            RangeSpec::Smpte {
                kind: SmpteKind::Smpte30,
                start: Some(expected),
                end: None
            }
        );
        assert_eq!(range.to_string(), "smpte=10:12:33:20-");
        let range = Range::parse("smpte-30-drop=10:07:00-10:07:33:05.01").unwrap();
        let RangeSpec::Smpte { kind, start, end } = range.spec else {
            panic!("{range:?}");
        };
        assert_eq!(kind, SmpteKind::Smpte30Drop);
        assert_eq!(start.map(|s| (s.minutes, s.frames)), Some((7, 0)));
        assert_eq!(
            end.map(|e| (e.seconds, e.frames, e.subframes)),
            Some((33, 5, 1))
        );
        assert!(matches!(
            Range::parse("SMPTE-25=00:00:01-").unwrap().spec,
            RangeSpec::Smpte {
                kind: SmpteKind::Smpte25,
                ..
            }
        ));
        assert!(matches!(
            Range::parse("smpte-24=00:00:01-").unwrap().spec,
            RangeSpec::Smpte { kind: SmpteKind::Other(ref name), .. } if name == "smpte-24"
        ));
    }

    #[test]
    fn rejects_malformed_ranges() {
        for bad in [
            "",
            "npt",
            "npt=",
            "npt=-",
            "npt=5",
            "npt=a-",
            "npt=0:60:00-",
            "npt=.5-",
            "frames=1-2",
            "clock=19961308T142300Z-",
            "clock=1996110T142300Z-",
            "smpte=1:2-",
            "smpte=100:00:00-",
            "npt=0-;time=yesterday",
            "npt=99999999999999999999-",
        ] {
            let err = Range::parse(bad).unwrap_err();
            assert_eq!(err.header(), HeaderKind::Range, "{bad}");
        }
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let range = Range::parse("npt=0- ; foo=bar").unwrap();
        assert_eq!(range, Range::npt(pos(0, 0), None));
    }
}
