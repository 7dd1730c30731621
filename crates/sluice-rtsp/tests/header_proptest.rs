//! Property tests for the typed headers: `Display` then `parse` is the identity on generated
//! values, parsing arbitrary text never panics, and whatever parses is stable under a second
//! `Display`/`parse` cycle.

use std::time::Duration;

use proptest::prelude::*;
use sluice_rtsp::header::{
    parse_cseq, parse_token_list, LowerTransport, NptTime, Profile, Range, RangeSpec, RtpInfo,
    RtpInfoEntry, SessionHeader, SmpteKind, SmpteTime, Transport, TransportMode, TransportSpec,
    UtcTime,
};

const CASES: u32 = 512;

fn profile() -> impl Strategy<Value = Profile> {
    prop_oneof![
        Just(Profile::Avp),
        Just(Profile::Savp),
        Just(Profile::Avpf),
        Just(Profile::Savpf)
    ]
}

fn lower() -> impl Strategy<Value = LowerTransport> {
    prop_oneof![Just(LowerTransport::Udp), Just(LowerTransport::Tcp)]
}

fn mode() -> impl Strategy<Value = TransportMode> {
    prop_oneof![Just(TransportMode::Play), Just(TransportMode::Record)]
}

/// Host-like text, sometimes with separators that force quoting; never empty, never padded.
fn address() -> impl Strategy<Value = String> {
    "[a-z0-9.:]([a-z0-9.:; ,-]{0,18}[a-z0-9.])?"
}

fn extra() -> impl Strategy<Value = Vec<(String, Option<String>)>> {
    prop::collection::vec(
        (
            "x-[a-z0-9_]{1,8}",
            prop::option::of("[A-Za-z0-9._/-]{0,10}"),
        ),
        0..3,
    )
}

fn transport_spec() -> impl Strategy<Value = TransportSpec> {
    (
        (
            profile(),
            lower(),
            any::<bool>(),
            prop::option::of(address()),
            prop::option::of(address()),
        ),
        (
            any::<Option<(u8, u8)>>(),
            any::<bool>(),
            any::<Option<u8>>(),
            any::<Option<u32>>(),
        ),
        (
            any::<Option<(u16, u16)>>(),
            any::<Option<(u16, u16)>>(),
            any::<Option<(u16, u16)>>(),
        ),
        (any::<Option<u32>>(), prop::option::of(mode()), extra()),
    )
        .prop_map(
            |(
                (profile, lower, multicast, destination, source),
                (interleaved, append, ttl, layers),
                (port, client_port, server_port),
                (ssrc, mode, extra),
            )| {
                let mut spec = TransportSpec::new(profile, lower);
                spec.multicast = multicast;
                spec.destination = destination;
                spec.source = source;
                spec.interleaved = interleaved;
                spec.append = append;
                spec.ttl = ttl;
                spec.layers = layers;
                spec.port = port;
                spec.client_port = client_port;
                spec.server_port = server_port;
                spec.ssrc = ssrc;
                spec.mode = mode;
                spec.extra = extra;
                spec
            },
        )
}

fn session() -> impl Strategy<Value = SessionHeader> {
    // Visible ASCII except ';'.
    ("[!-:<-~]{1,40}", any::<Option<u32>>()).prop_map(|(id, timeout)| SessionHeader { id, timeout })
}

fn rtp_info() -> impl Strategy<Value = RtpInfo> {
    let entry = (
        "[^\"]{0,30}",
        any::<Option<u16>>(),
        any::<Option<u32>>(),
        any::<Option<u32>>(),
    )
        .prop_map(|(url, seq, rtptime, ssrc)| RtpInfoEntry {
            url,
            seq,
            rtptime,
            ssrc,
        });
    prop::collection::vec(entry, 1..4).prop_map(RtpInfo)
}

fn npt_time() -> impl Strategy<Value = NptTime> {
    prop_oneof![
        Just(NptTime::Now),
        (any::<u64>(), 0..1_000_000_000u32)
            .prop_map(|(secs, nanos)| NptTime::Position(Duration::new(secs, nanos))),
        (0..100_000u64, 0..1000u32)
            .prop_map(|(secs, millis)| NptTime::Position(Duration::new(secs, millis * 1_000_000))),
    ]
}

fn utc_time() -> impl Strategy<Value = UtcTime> {
    (
        0..=9999u16,
        1..=12u8,
        1..=31u8,
        0..=23u8,
        0..=59u8,
        0..=60u8,
        0..1_000_000_000u32,
    )
        .prop_map(|(year, month, day, hour, minute, second, nanos)| UtcTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            nanos,
        })
}

fn smpte_time() -> impl Strategy<Value = SmpteTime> {
    (0..=99u8, 0..=59u8, 0..=59u8, 0..=99u8, 0..=99u8).prop_map(
        |(hours, minutes, seconds, frames, subframes)| SmpteTime {
            hours,
            minutes,
            seconds,
            frames,
            subframes,
        },
    )
}

fn smpte_kind() -> impl Strategy<Value = SmpteKind> {
    prop_oneof![
        Just(SmpteKind::Smpte30),
        Just(SmpteKind::Smpte30Drop),
        Just(SmpteKind::Smpte25),
        "smpte-(24|50|60)".prop_map(SmpteKind::Other),
    ]
}

/// Start and end, at least one present.
fn bounds<S: Strategy>(
    start: S,
    end: S,
) -> impl Strategy<Value = (Option<S::Value>, Option<S::Value>)> {
    (prop::option::of(start), prop::option::of(end))
        .prop_filter("open at both ends", |(start, end)| {
            start.is_some() || end.is_some()
        })
}

fn range() -> impl Strategy<Value = Range> {
    let spec = prop_oneof![
        bounds(npt_time(), npt_time()).prop_map(|(start, end)| RangeSpec::Npt { start, end }),
        bounds(utc_time(), utc_time()).prop_map(|(start, end)| RangeSpec::Clock { start, end }),
        (smpte_kind(), bounds(smpte_time(), smpte_time()))
            .prop_map(|(kind, (start, end))| RangeSpec::Smpte { kind, start, end }),
    ];
    (spec, prop::option::of(utc_time())).prop_map(|(spec, time)| Range { spec, time })
}

/// Text made of the characters headers are made of, so that parsers get past their first checks.
fn header_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[RTPAVSFUDC/;=,\" \t:.0-9a-fnptwcloksemrdxurlqi_-]{0,80}",
        "(RTP/AVP(/TCP)?|unicast|interleaved=|client_port=|ssrc=|mode=|url=|seq=|rtptime=|npt=|clock=|smpte=|timeout=|[0-9]{1,12}|[-;,.:\" =T Z]){0,16}",
    ]
}

/// If `text` parses, its canonical form parses to the same value.
fn assert_stable<T, E>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<(), TestCaseError>
where
    T: std::fmt::Display + std::fmt::Debug + PartialEq,
    E: std::fmt::Debug + PartialEq,
{
    if let Ok(value) = parse(text) {
        let canonical = value.to_string();
        prop_assert_eq!(
            parse(&canonical),
            Ok(value),
            "canonical form {:?} of {:?}",
            canonical,
            text
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn transport_spec_round_trips(spec in transport_spec()) {
        let text = spec.to_string();
        prop_assert_eq!(TransportSpec::parse(&text), Ok(spec), "{}", text);
    }

    #[test]
    fn transport_round_trips(specs in prop::collection::vec(transport_spec(), 1..4)) {
        let transport = Transport(specs);
        let text = transport.to_string();
        prop_assert_eq!(Transport::parse(&text), Ok(transport), "{}", text);
    }

    #[test]
    fn session_round_trips(session in session()) {
        let text = session.to_string();
        prop_assert_eq!(SessionHeader::parse(&text), Ok(session), "{}", text);
    }

    #[test]
    fn rtp_info_round_trips(info in rtp_info()) {
        let text = info.to_string();
        prop_assert_eq!(RtpInfo::parse(&text), Ok(info), "{}", text);
    }

    #[test]
    fn range_round_trips(range in range()) {
        let text = range.to_string();
        prop_assert_eq!(Range::parse(&text), Ok(range), "{}", text);
    }

    #[test]
    fn parsers_never_panic_and_are_stable(text in header_like()) {
        assert_stable(&text, Transport::parse)?;
        assert_stable(&text, TransportSpec::parse)?;
        assert_stable(&text, SessionHeader::parse)?;
        assert_stable(&text, RtpInfo::parse)?;
        assert_stable(&text, Range::parse)?;
        assert_stable(&text, RangeSpec::parse)?;
        assert_stable(&text, |t| parse_cseq(t).map(|n| n.to_string()))?;
        assert_stable(&text, |t| NptTime::parse(t).ok_or(()))?;
        assert_stable(&text, |t| UtcTime::parse(t).ok_or(()))?;
        assert_stable(&text, |t| SmpteTime::parse(t).ok_or(()))?;
        let tokens = parse_token_list(&text);
        prop_assert!(tokens.iter().all(|t| !t.is_empty() && t.trim() == t && !t.contains(',')));
    }
}
