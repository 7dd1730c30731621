//! RFC 3640 `mpeg4-generic` AAC: AudioSpecificConfig parsing, depacketizing hand-built and captured
//! packets, and packetizer round trips.

mod common;

use std::process::Command;

use bytes::Bytes;
use proptest::prelude::*;
use sluice_media::aac::{self, AudioSpecificConfig};
use sluice_media::{AccessUnit, Depacketizer as _, MediaError, Packetizer as _, RtpIn, Timestamp};

use common::{unhex, CORPUS};

const HBR: &str = "streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;\
                   indexdeltalength=3;config=1190";

fn pkt(seq: u16, ts: u32, marker: bool, payload: Vec<u8>) -> RtpIn {
    RtpIn {
        sequence_number: seq,
        timestamp: ts,
        marker,
        payload_type: 96,
        ssrc: 0xabc,
        payload: Bytes::from(payload),
    }
}

/// An AAC-hbr payload holding `aus` whole.
fn hbr(aus: &[&[u8]]) -> Vec<u8> {
    let mut out = ((aus.len() * 16) as u16).to_be_bytes().to_vec();
    for au in aus {
        out.extend_from_slice(&((au.len() as u16) << 3).to_be_bytes());
    }
    for au in aus {
        out.extend_from_slice(au);
    }
    out
}

/// One AAC-hbr fragment of an AU of `total` bytes.
fn hbr_fragment(total: usize, piece: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 16];
    out.extend_from_slice(&((total as u16) << 3).to_be_bytes());
    out.extend_from_slice(piece);
    out
}

fn drain(d: &mut dyn sluice_media::Depacketizer) -> Vec<AccessUnit> {
    std::iter::from_fn(|| d.pull()).collect()
}

fn ticks(aus: &[AccessUnit]) -> Vec<i64> {
    aus.iter().map(|au| au.timestamp.ticks).collect()
}

#[test]
fn audio_specific_configs() {
    // hex, object type, core rate, channels, output rate, output channels, sbr, ps, frame length
    #[allow(clippy::type_complexity)]
    let cases: [(
        &str,
        u8,
        u32,
        u16,
        u32,
        u16,
        Option<bool>,
        Option<bool>,
        u16,
    ); 15] = [
        ("1190", 2, 48_000, 2, 48_000, 2, None, None, 1024),
        ("1188", 2, 48_000, 1, 48_000, 1, None, None, 1024),
        ("1210", 2, 44_100, 2, 44_100, 2, None, None, 1024),
        ("1408", 2, 16_000, 1, 16_000, 1, None, None, 1024),
        ("1388", 2, 22_050, 1, 22_050, 1, None, None, 1024),
        ("1588", 2, 8_000, 1, 8_000, 1, None, None, 1024),
        ("1490", 2, 12_000, 2, 12_000, 2, None, None, 1024),
        ("1194", 2, 48_000, 2, 48_000, 2, None, None, 960),
        // ffmpeg (lavf58) and others: explicit backwards-compatible "no SBR" signalling.
        (
            "119056e500",
            2,
            48_000,
            2,
            48_000,
            2,
            Some(false),
            None,
            1024,
        ),
        (
            "118856e500",
            2,
            48_000,
            1,
            48_000,
            1,
            Some(false),
            None,
            1024,
        ),
        // Sync extension with SBR at 48 kHz and parametric stereo.
        (
            "130856e59d4880",
            2,
            24_000,
            1,
            48_000,
            2,
            Some(true),
            Some(true),
            1024,
        ),
        // Explicit hierarchical HE-AAC (object type 5) and HE-AAC v2 (29).
        ("2b118800", 2, 24_000, 2, 48_000, 2, Some(true), None, 1024),
        (
            "eb098800",
            2,
            24_000,
            1,
            48_000,
            2,
            Some(true),
            Some(true),
            1024,
        ),
        // Escape index 15: an explicit 24-bit sampling rate.
        ("178049d410", 2, 37_800, 2, 37_800, 2, None, None, 1024),
        // AAC LD with a 480-sample frame.
        ("b99400", 23, 48_000, 2, 48_000, 2, None, None, 480),
    ];
    for (hex, object_type, rate, channels, out_rate, out_channels, sbr, ps, frame) in cases {
        let c = AudioSpecificConfig::parse(&unhex(hex)).unwrap_or_else(|e| panic!("{hex}: {e}"));
        assert_eq!(c.object_type, object_type, "{hex}");
        assert_eq!(c.sample_rate, rate, "{hex}");
        assert_eq!(c.channels, channels, "{hex}");
        assert_eq!(c.output_sample_rate(), out_rate, "{hex}");
        assert_eq!(c.output_channels(), out_channels, "{hex}");
        assert_eq!(c.sbr, sbr, "{hex}");
        assert_eq!(c.ps, ps, "{hex}");
        assert_eq!(c.frame_length, frame, "{hex}");
    }
}

#[test]
fn audio_specific_config_edge_cases() {
    // Object type escape (31 + 6 bits): 42 = USAC; only the header fields are read.
    let c = AudioSpecificConfig::parse(&unhex("f94640")).unwrap();
    assert_eq!((c.object_type, c.sample_rate, c.channels), (42, 48_000, 2));
    // channelConfiguration 0: a program_config_element with SCE + CPE front, CPE back and an LFE.
    let c = AudioSpecificConfig::parse(&unhex("12000508050001088000")).unwrap();
    assert_eq!((c.channel_configuration, c.channels), (0, 6));
    assert_eq!(c.sample_rate, 44_100);
    for bad in ["", "11", "1690", "1710", "17", "1178"] {
        let err = AudioSpecificConfig::parse(&unhex(bad)).unwrap_err();
        assert!(
            matches!(err, MediaError::InvalidAudioSpecificConfig { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn several_aus_per_packet_zero_copy() {
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    assert_eq!(d.params().sample_rate, Some(48_000));
    assert_eq!(d.params().channels, Some(2));
    assert_eq!(d.params().config, vec![Bytes::from_static(&[0x11, 0x90])]);
    let packet = pkt(7, 90_000, true, hbr(&[b"first", b"second", b"third"]));
    let range = packet.payload.as_ptr_range();
    d.push(packet).unwrap();
    let aus = drain(&mut d);
    let data: Vec<&[u8]> = aus.iter().map(|au| &au.data[0][..]).collect();
    assert_eq!(data, vec![&b"first"[..], b"second", b"third"]);
    assert_eq!(ticks(&aus), vec![0, 1024, 2048]);
    assert!(aus.iter().all(|au| au.keyframe && !au.discontinuity));
    assert!(aus.iter().all(|au| au.timestamp.clock_rate == 48_000));
    for au in &aus {
        assert!(
            range.contains(&au.data[0].as_ptr()),
            "AUs share the packet's memory"
        );
    }
    // The next packet continues the timeline.
    d.push(pkt(8, 90_000 + 3072, true, hbr(&[b"fourth"])))
        .unwrap();
    assert_eq!(ticks(&drain(&mut d)), vec![3072]);
}

#[test]
fn fragmented_au() {
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    let au: Vec<u8> = (0..3000).map(|i| (i % 251) as u8).collect();
    d.push(pkt(1, 500, false, hbr_fragment(3000, &au[..1000])))
        .unwrap();
    assert!(d.pull().is_none());
    d.push(pkt(2, 500, false, hbr_fragment(3000, &au[1000..2000])))
        .unwrap();
    d.push(pkt(3, 500, true, hbr_fragment(3000, &au[2000..])))
        .unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 1);
    assert_eq!(&aus[0].data[0][..], &au[..]);
    assert_eq!(aus[0].timestamp.ticks, 0);
    assert!(!aus[0].discontinuity);
}

#[test]
fn lost_fragment_drops_the_au_and_flags_the_next() {
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    let au = vec![5u8; 3000];
    d.push(pkt(1, 0, false, hbr_fragment(3000, &au[..1000])))
        .unwrap();
    // seq 2 lost.
    d.push(pkt(3, 0, true, hbr_fragment(3000, &au[2000..])))
        .unwrap();
    assert!(d.pull().is_none(), "a partial AU is never emitted");
    d.push(pkt(4, 1024, true, hbr(&[b"next"]))).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 1);
    assert!(aus[0].discontinuity);
    assert_eq!(&aus[0].data[0][..], b"next");
    d.push(pkt(5, 2048, true, hbr(&[b"after"]))).unwrap();
    assert!(!drain(&mut d)[0].discontinuity);
}

#[test]
fn fragment_interrupted_by_a_new_timestamp() {
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    d.push(pkt(1, 0, false, hbr_fragment(3000, &[1; 1000])))
        .unwrap();
    d.push(pkt(2, 1024, true, hbr(&[b"whole"]))).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 1);
    assert!(aus[0].discontinuity);
    assert_eq!(&aus[0].data[0][..], b"whole");
    // A fragment whose sizes do not add up is an error, and the AU is lost.
    d.push(pkt(3, 2048, false, hbr_fragment(1500, &[1; 1000])))
        .unwrap();
    let err = d
        .push(pkt(4, 2048, true, hbr_fragment(1500, &[1; 600])))
        .unwrap_err();
    assert_eq!(err.seq, 4);
    assert!(d.pull().is_none());
    // A marked fragment that is too short.
    d.push(pkt(5, 3072, false, hbr_fragment(1500, &[1; 1000])))
        .unwrap();
    assert!(d
        .push(pkt(6, 3072, true, hbr_fragment(1500, &[1; 100])))
        .is_err());
    d.push(pkt(7, 4096, true, hbr(&[b"ok"]))).unwrap();
    assert!(drain(&mut d)[0].discontinuity);
}

#[test]
fn ssrc_change_and_junk_packets() {
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    d.push(pkt(1, 0, false, hbr_fragment(3000, &[1; 1000])))
        .unwrap();
    // Another payload type (GeoVision's PT 50) and a duplicate are ignored.
    let mut junk = pkt(2, 0, false, hbr_fragment(3000, &[1; 1000]));
    junk.payload_type = 50;
    d.push(junk).unwrap();
    d.push(pkt(1, 0, false, hbr_fragment(3000, &[1; 1000])))
        .unwrap();
    // A new SSRC in sequence: the old partial AU is not continued.
    let mut other = pkt(2, 0, false, hbr_fragment(3000, &[1; 1000]));
    other.ssrc = 0xdef;
    d.push(other).unwrap();
    let mut end = pkt(3, 0, true, hbr_fragment(3000, &[1; 1000]));
    end.ssrc = 0xdef;
    assert!(
        d.push(end).is_err(),
        "2000 of 3000 bytes under the new SSRC"
    );
    assert!(d.pull().is_none());
    let mut next = pkt(4, 1024, true, hbr(&[b"x"]));
    next.ssrc = 0xdef;
    d.push(next).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 1);
    assert!(aus[0].discontinuity);
}

/// Pushes packets of two AUs each (2048 ticks) and returns each AU's ticks and discontinuity flag.
fn ssrc_change_timeline(packets: &[(u32, u32)]) -> Vec<(i64, bool)> {
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    for (seq, &(ssrc, ts)) in packets.iter().enumerate() {
        let mut p = pkt(seq as u16, ts, true, hbr(&[b"a", b"b"]));
        p.ssrc = ssrc;
        d.push(p).unwrap();
    }
    drain(&mut d)
        .iter()
        .map(|au| (au.timestamp.ticks, au.discontinuity))
        .collect()
}

#[test]
fn ssrc_change_with_running_timestamps_continues_the_timeline() {
    // Uniview cameras change SSRC at every GOP and keep their timestamps running: the audio
    // timeline carries on, as the video one does.
    let got = ssrc_change_timeline(&[(0xabc, 1000), (0xabc, 3048), (0xdef, 5096), (0xdef, 7144)]);
    assert_eq!(
        got,
        vec![
            (0, false),
            (1024, false),
            (2048, false),
            (3072, false),
            (4096, true),
            (5120, false),
            (6144, false),
            (7168, false),
        ]
    );
}

#[test]
fn ssrc_change_with_a_jumped_timestamp_restarts_after_the_last_frame() {
    use sluice_media::h264::MAX_TIMESTAMP_STEP_BACKWARD_SECS;
    // A new source from a timestamp of its own, far ahead or far behind: the timeline restarts
    // right after the last packet (one packet step, 2048 ticks, after it), flagged.
    let far_back = 3048u32.wrapping_sub(MAX_TIMESTAMP_STEP_BACKWARD_SECS * 48_000 + 1);
    for first in [0x8000_0000u32, far_back] {
        let got = ssrc_change_timeline(&[
            (0xabc, 1000),
            (0xabc, 3048),
            (0xdef, first),
            (0xdef, first.wrapping_add(2048)),
        ]);
        assert_eq!(
            got,
            vec![
                (0, false),
                (1024, false),
                (2048, false),
                (3072, false),
                (4096, true),
                (5120, false),
                (6144, false),
                (7168, false),
            ],
            "first timestamp {first}"
        );
    }
    // Before any step between packets, the restart is one tick on.
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    d.push(pkt(1, 1000, true, hbr(&[b"a"]))).unwrap();
    let mut p = pkt(2, 0x8000_0000, true, hbr(&[b"b"]));
    p.ssrc = 0xdef;
    d.push(p).unwrap();
    let got: Vec<(i64, bool)> = drain(&mut d)
        .iter()
        .map(|au| (au.timestamp.ticks, au.discontinuity))
        .collect();
    assert_eq!(got, vec![(0, false), (1, true)]);
}

#[test]
fn too_many_aus_in_a_packet_are_rejected() {
    use sluice_media::aac::MAX_AUS_PER_PACKET;
    let units = vec![&b"a"[..]; MAX_AUS_PER_PACKET + 1];
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    d.push(pkt(1, 0, true, hbr(&units[..MAX_AUS_PER_PACKET])))
        .unwrap();
    assert_eq!(drain(&mut d).len(), MAX_AUS_PER_PACKET);
    let err = d.push(pkt(2, 1 << 20, true, hbr(&units))).unwrap_err();
    assert_eq!((err.codec, err.seq), ("MPEG4-GENERIC", 2));
    assert!(err.what.contains("512"), "{err}");
    assert!(d.pull().is_none());

    // sizelength=1: each one-bit AU-header declares a one-byte AU.
    let mut d = aac::Depacketizer::new(48_000, Some("sizelength=1;config=1190")).unwrap();
    let headers = 4 * MAX_AUS_PER_PACKET;
    let mut payload = (headers as u16).to_be_bytes().to_vec();
    payload.extend(vec![0xff; headers / 8]);
    payload.extend(vec![7; headers]);
    assert!(d.push(pkt(1, 0, true, payload)).is_err());
    assert!(d.pull().is_none());

    // constantsize splits the rest of the payload: the same limit.
    let mut d = aac::Depacketizer::new(48_000, Some("constantsize=1;config=1190")).unwrap();
    assert!(d
        .push(pkt(1, 0, true, vec![7; MAX_AUS_PER_PACKET + 1]))
        .is_err());
    assert!(d.pull().is_none());
}

#[test]
fn aac_lbr() {
    let fmtp = "streamtype=5;mode=AAC-lbr;config=1408";
    let mut d = aac::Depacketizer::new(16_000, Some(fmtp)).unwrap();
    // Two 6-bit sizes and 2-bit index/delta: 16 bits of headers.
    let mut payload = vec![0, 16, (3 << 2), (4 << 2)];
    payload.extend_from_slice(b"abcdefg");
    d.push(pkt(1, 0, true, payload)).unwrap();
    let aus = drain(&mut d);
    let data: Vec<&[u8]> = aus.iter().map(|au| &au.data[0][..]).collect();
    assert_eq!(data, vec![&b"abc"[..], b"defg"]);
    assert_eq!(ticks(&aus), vec![0, 1024]);
    assert_eq!(d.params().sample_rate, Some(16_000));
    assert_eq!(d.params().channels, Some(1));
}

#[test]
fn format_parameter_tolerance() {
    // Anpviz: config only; Reolink: trailing "; profile=1;"; VLC: mixed case; mode=AAC_hbr.
    for fmtp in [
        "config=1408",
        "streamtype=5;profile-level-id=15;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1408; profile=1;",
        "streamtype=5; profile-level-id=15; mode=AAC-hbr; config=1408; SizeLength=13; IndexLength=3; IndexDeltaLength=3; Profile=1;",
        "streamtype=5; sizeLength=13; indexLength=3; indexDeltaLength=3; mode=AAC_hbr; config=1408",
        "mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1408;sizelength=",
    ] {
        let mut d = aac::Depacketizer::new(16_000, Some(fmtp)).unwrap();
        d.push(pkt(1, 0, true, hbr(&[b"a", b"bc"]))).unwrap();
        assert_eq!(drain(&mut d).len(), 2, "{fmtp}");
        assert_eq!(d.params().sample_rate, Some(16_000));
    }
    for bad in [
        "sizelength=abc;config=1408",
        "sizelength=40;indexlength=3;config=1408",
        "config=zz",
        "config=119",
        "config=1690",
    ] {
        let err = aac::Depacketizer::new(16_000, Some(bad)).unwrap_err();
        assert!(
            matches!(
                err,
                MediaError::InvalidFormatParameters { .. }
                    | MediaError::InvalidAudioSpecificConfig { .. }
            ),
            "{bad}: {err}"
        );
    }
    // No fmtp at all: AAC-hbr layout, the clock rate as sample rate.
    let d = aac::Depacketizer::new(44_100, None).unwrap();
    assert_eq!(d.params().sample_rate, Some(44_100));
    assert!(d.params().config.is_empty());
}

#[test]
fn frame_durations() {
    // 960-sample frames.
    let fmtp = "mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1194";
    let mut d = aac::Depacketizer::new(48_000, Some(fmtp)).unwrap();
    d.push(pkt(1, 0, true, hbr(&[b"a", b"b"]))).unwrap();
    assert_eq!(ticks(&drain(&mut d)), vec![0, 960]);
    // Implicit SBR: the RTP clock runs at the output rate, twice the core rate.
    let fmtp = "mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1310";
    let mut d = aac::Depacketizer::new(48_000, Some(fmtp)).unwrap();
    d.push(pkt(1, 0, true, hbr(&[b"a", b"b"]))).unwrap();
    assert_eq!(ticks(&drain(&mut d)), vec![0, 2048]);
    // constantDuration wins.
    let fmtp = "mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1190;constantDuration=512";
    let mut d = aac::Depacketizer::new(48_000, Some(fmtp)).unwrap();
    d.push(pkt(1, 0, true, hbr(&[b"a", b"b", b"c"]))).unwrap();
    assert_eq!(ticks(&drain(&mut d)), vec![0, 512, 1024]);
    // Interleaving: AU-Index-delta 1 skips one frame slot.
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    let payload = vec![0, 32, 0x00, 0x08, 0x00, 0x09, b'a', b'b'];
    d.push(pkt(1, 0, true, payload)).unwrap();
    assert_eq!(ticks(&drain(&mut d)), vec![0, 2048]);
}

#[test]
fn other_header_fields() {
    // CTS-delta (8 bits, signed), DTS-delta, RAP flag, stream state and an auxiliary section.
    let fmtp = "mode=generic;sizelength=8;indexlength=2;indexdeltalength=2;ctsdeltalength=8;\
                dtsdeltalength=4;randomaccessindication=1;streamstateindication=2;\
                auxiliarydatasizelength=8;config=1190";
    let mut d = aac::Depacketizer::new(48_000, Some(fmtp)).unwrap();
    // Header 1: size 2, index 0, CTS-flag 0, DTS-flag 0, RAP 1, state 0 = 8+2+1+1+1+2 = 15 bits.
    // Header 2: size 1, delta 0, CTS-flag 1, CTS -16 (0xf0), DTS-flag 1, DTS 3, RAP 0, state 0 =
    // 8+2+1+8+1+4+1+2 = 27 bits. 42 bits in all, 6 bytes.
    let bits = "00000010 00 0 0 1 00 00000001 00 1 11110000 1 0011 0 00";
    let bits: String = bits.chars().filter(|c| !c.is_whitespace()).collect();
    assert_eq!(bits.len(), 42);
    let mut header_bytes = Vec::new();
    let padded = format!("{bits:0<48}");
    for i in 0..6 {
        header_bytes.push(u8::from_str_radix(&padded[i * 8..i * 8 + 8], 2).unwrap());
    }
    let mut payload = vec![0, 42];
    payload.extend_from_slice(&header_bytes);
    // Auxiliary section: 8-bit size = 8 bits of data.
    payload.extend_from_slice(&[8, 0xaa]);
    payload.extend_from_slice(b"xyz");
    d.push(pkt(1, 10_000, true, payload)).unwrap();
    let aus = drain(&mut d);
    let data: Vec<&[u8]> = aus.iter().map(|au| &au.data[0][..]).collect();
    assert_eq!(data, vec![&b"xy"[..], b"z"]);
    assert_eq!(ticks(&aus), vec![0, -16]);
}

#[test]
fn adts_headers_are_stripped() {
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    let raw = b"raw aac frame";
    let len = raw.len() + 7;
    let mut adts = vec![
        0xff,
        0xf1,
        0x4c,
        0x80 | (len >> 11) as u8,
        (len >> 3) as u8,
        ((len & 7) << 5) as u8 | 0x1f,
        0xfc,
    ];
    adts.extend_from_slice(raw);
    d.push(pkt(1, 0, true, hbr(&[&adts]))).unwrap();
    assert_eq!(&drain(&mut d)[0].data[0][..], raw);
}

#[test]
fn malformed_payloads_are_errors() {
    let mut d = aac::Depacketizer::new(48_000, Some(HBR)).unwrap();
    for (seq, payload) in [
        vec![],
        vec![0],
        vec![0, 16],
        vec![0, 32, 0, 8],
        vec![0, 32, 0, 8, 0, 8, 1],
    ]
    .into_iter()
    .enumerate()
    {
        let err = d
            .push(pkt(seq as u16, 0, true, payload.clone()))
            .unwrap_err();
        assert_eq!(err.codec, "MPEG4-GENERIC", "{payload:?}");
        assert!(d.pull().is_none());
    }
    // Only the first AU-header has a field: the others would be empty.
    let mut index_only = aac::Depacketizer::new(48_000, Some("indexlength=3;config=1190")).unwrap();
    assert!(index_only
        .push(pkt(1, 0, true, vec![0, 16, 0, 0, 1]))
        .is_err());
    // The tail of an AU whose start was never seen is dropped quietly; the next AU is flagged.
    d.push(pkt(10, 0, true, vec![0, 16, 0, 80, 1, 2])).unwrap();
    d.push(pkt(11, 1024, true, hbr(&[b"z"]))).unwrap();
    assert!(drain(&mut d)[0].discontinuity);
}

/// The interleaved channel-0 packets (AAC) of the Wowza Big Buck Bunny capture.
fn wowza_aac_packets() -> Vec<RtpIn> {
    let data = std::fs::read(format!("{CORPUS}/captures/wowza-bunny-interleaved.rtsp")).unwrap();
    let data = Bytes::from(data);
    let mut packets = Vec::new();
    let mut at = 0;
    while at + 4 <= data.len() {
        assert_eq!(data[at], b'$');
        let channel = data[at + 1];
        let len = usize::from(u16::from_be_bytes([data[at + 2], data[at + 3]]));
        if channel == 0 {
            packets.push(RtpIn::parse(&data.slice(at + 4..at + 4 + len)).unwrap());
        }
        at += 4 + len;
    }
    packets
}

/// An ADTS header for one AAC LC frame of `len` bytes.
fn adts_header(config: &AudioSpecificConfig, freq_index: u8, len: usize) -> [u8; 7] {
    let len = len + 7;
    let profile = config.object_type - 1;
    let channels = config.channel_configuration;
    [
        0xff,
        0xf1,
        profile << 6 | freq_index << 2 | channels >> 2,
        (channels & 3) << 6 | (len >> 11) as u8,
        (len >> 3) as u8,
        ((len & 7) << 5) as u8 | 0x1f,
        0xfc,
    ]
}

#[test]
fn wowza_capture() {
    let fmtp = "profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1490";
    let mut d = aac::Depacketizer::new(12_000, Some(fmtp)).unwrap();
    let packets = wowza_aac_packets();
    assert_eq!(packets.len(), 102);
    let mut aus = Vec::new();
    for p in packets {
        d.push(p).unwrap();
        aus.extend(drain(&mut d));
    }
    assert_eq!(aus.len(), 120, "102 packets, some with two AUs");
    for (i, au) in aus.iter().enumerate() {
        assert_eq!(
            au.timestamp,
            Timestamp {
                ticks: 1024 * i as i64,
                clock_rate: 12_000
            }
        );
        assert!(!au.discontinuity);
    }
    assert_eq!(d.params().sample_rate, Some(12_000));
    assert_eq!(d.params().channels, Some(2));

    // ffmpeg decodes the frames without complaint.
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        eprintln!("ffmpeg not installed: skipping the decoder check");
        return;
    }
    let config = AudioSpecificConfig::parse(&[0x14, 0x90]).unwrap();
    let mut adts = Vec::new();
    for au in &aus {
        adts.extend_from_slice(&adts_header(&config, 9, au.data[0].len()));
        adts.extend_from_slice(&au.data[0]);
    }
    let path = std::env::temp_dir().join(format!("sluice-aac-{}.aac", std::process::id()));
    std::fs::write(&path, &adts).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn packetizer_layout() {
    let mut p = aac::Packetizer::new(97, 5, 0xfffe, 100);
    let au = AccessUnit {
        timestamp: Timestamp {
            ticks: 0,
            clock_rate: 48_000,
        },
        keyframe: true,
        discontinuity: false,
        data: vec![Bytes::from(vec![3u8; 200])],
    };
    let mut out = Vec::new();
    p.packetize(&au, 77, &mut out);
    assert_eq!(out.len(), 3);
    let parsed: Vec<RtpIn> = out.iter().map(|b| RtpIn::parse(b).unwrap()).collect();
    assert_eq!(
        parsed.iter().map(|r| r.sequence_number).collect::<Vec<_>>(),
        vec![0xfffe, 0xffff, 0]
    );
    assert_eq!(
        parsed.iter().map(|r| r.marker).collect::<Vec<_>>(),
        vec![false, false, true]
    );
    assert!(out.iter().all(|b| b.len() <= 100));
    assert_eq!(&parsed[0].payload[..4], &[0, 16, 0x06, 0x40]);
    assert_eq!(
        aac::Packetizer::fmtp(&[0x11, 0x90]),
        "streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1190"
    );
    // Too large for a 13-bit AU-size: not sent.
    let huge = AccessUnit {
        data: vec![Bytes::from(vec![0u8; 9000])],
        ..au
    };
    out.clear();
    p.packetize(&huge, 0, &mut out);
    assert!(out.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn round_trip(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..3000), 1..12),
        mtu in 60usize..1500,
        start in any::<u32>(),
        seq in any::<u16>(),
    ) {
        let fmtp = aac::Packetizer::fmtp(&[0x11, 0x90]);
        let mut p = aac::Packetizer::new(96, 1, seq, mtu);
        let mut d = aac::Depacketizer::new(48_000, Some(&fmtp)).unwrap();
        let mut got = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let au = AccessUnit {
                timestamp: Timestamp { ticks: 0, clock_rate: 48_000 },
                keyframe: true,
                discontinuity: false,
                data: vec![Bytes::from(frame.clone())],
            };
            let mut out = Vec::new();
            p.packetize(&au, start.wrapping_add(1024 * i as u32), &mut out);
            for packet in out {
                prop_assert!(packet.len() <= mtu);
                d.push(RtpIn::parse(&packet).unwrap()).unwrap();
                got.extend(std::iter::from_fn(|| d.pull()));
            }
        }
        prop_assert_eq!(got.len(), frames.len());
        for (i, (au, frame)) in got.iter().zip(&frames).enumerate() {
            prop_assert_eq!(&au.data[0][..], &frame[..]);
            prop_assert_eq!(au.timestamp.ticks, 1024 * i as i64);
            prop_assert!(!au.discontinuity);
        }
        prop_assert_eq!(p.next_sequence_number(), seq.wrapping_add(
            frames.iter().map(|f| f.len().div_ceil(mtu - 16)).sum::<usize>() as u16));
    }

    #[test]
    fn hostile_packets_do_not_panic(
        layout in (0u32..20, 0u32..5, 0u32..5, 0u32..9, 0u32..9, any::<bool>(), 0u32..4, 0u32..12),
        packets in prop::collection::vec(
            (0u16..6, 0u32..3, any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)),
            1..40,
        ),
    ) {
        let (size, index, delta, cts, dts, rap, state, aux) = layout;
        let fmtp = format!(
            "mode=generic;sizelength={size};indexlength={index};indexdeltalength={delta};\
             ctsdeltalength={cts};dtsdeltalength={dts};randomaccessindication={};\
             streamstateindication={state};auxiliarydatasizelength={aux};constantsize=3;config=1190",
            u8::from(rap)
        );
        let mut d = aac::Depacketizer::new(48_000, Some(&fmtp)).unwrap();
        for (seq, ts, marker, payload) in packets {
            let _ = d.push(pkt(seq, ts * 1024, marker, payload));
            while let Some(au) = d.pull() {
                prop_assert!(!au.data[0].is_empty());
            }
        }
    }

    #[test]
    fn hostile_configs_do_not_panic(config in prop::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(c) = AudioSpecificConfig::parse(&config) {
            prop_assert!(c.sample_rate > 0);
            prop_assert!(c.output_sample_rate() > 0);
        }
    }
}

/// The AudioSpecificConfig the packetizer tests announce: AAC LC, 48 kHz, stereo, 1024-sample
/// frames.
const LC_48K: [u8; 2] = [0x11, 0x90];

fn audio_au(data: &[u8]) -> AccessUnit {
    AccessUnit {
        timestamp: Timestamp {
            ticks: 0,
            clock_rate: 48_000,
        },
        keyframe: true,
        discontinuity: false,
        data: vec![Bytes::copy_from_slice(data)],
    }
}

/// A packet as the packetizer tests see it: its RTP fields, the AU-sizes of its AU-headers and
/// the length of its access-unit data.
struct Written {
    rtp: RtpIn,
    sizes: Vec<usize>,
    data_len: usize,
}

impl Written {
    fn parse(packet: &Bytes, mode: aac::Mode) -> Written {
        let rtp = RtpIn::parse(packet).unwrap();
        let bits = usize::from(u16::from_be_bytes([rtp.payload[0], rtp.payload[1]]));
        let (width, shift) = match mode {
            aac::Mode::Hbr => (2, 3),
            _ => (1, 2),
        };
        assert_eq!(bits % (width * 8), 0, "whole AU-headers");
        let headers = &rtp.payload[2..2 + bits / 8];
        let sizes = headers
            .chunks(width)
            .map(|h| {
                let value = h.iter().fold(0usize, |v, &b| v << 8 | usize::from(b));
                assert_eq!(value & ((1 << shift) - 1), 0, "AU-Index(-delta) 0");
                value >> shift
            })
            .collect();
        let data_len = rtp.payload.len() - 2 - bits / 8;
        Written {
            rtp,
            sizes,
            data_len,
        }
    }

    /// Whether the packet carries whole AUs rather than a fragment of one.
    fn whole(&self) -> bool {
        self.sizes.iter().sum::<usize>() == self.data_len
    }
}

/// A packetizer configuration and its input for [`check_round_trip`].
struct Case {
    mode: aac::Mode,
    max_aus: usize,
    frame_duration: u32,
    mtu: usize,
    start: u32,
    seq: u16,
    frames: Vec<Vec<u8>>,
    /// Extra ticks before each frame (0: it follows the previous one).
    gaps: Vec<u32>,
}

impl Case {
    fn packetizer(&self) -> aac::Packetizer {
        aac::Packetizer::new(96, 7, self.seq, self.mtu)
            .with_mode(self.mode)
            .with_max_aus_per_packet(self.max_aus)
            .with_frame_duration(self.frame_duration)
    }

    fn timestamps(&self) -> Vec<u32> {
        let mut ts = self.start;
        let mut out = Vec::new();
        for (i, gap) in self.gaps.iter().enumerate().take(self.frames.len()) {
            if i > 0 {
                ts = ts.wrapping_add(self.frame_duration).wrapping_add(*gap);
            }
            out.push(ts);
        }
        out
    }
}

/// Packetizes the case's frames, flushes, checks the packets (MTU, AUs per packet, marker bits,
/// sequence numbers) and that the depacketizer configured by the announced fmtp returns the
/// frames with their timestamps. Returns the parsed packets.
fn check_round_trip(case: &Case) -> Result<Vec<Written>, TestCaseError> {
    let mut p = case.packetizer();
    let timestamps = case.timestamps();
    let mut packets = Vec::new();
    for (frame, &ts) in case.frames.iter().zip(&timestamps) {
        p.try_packetize(&audio_au(frame), ts, &mut packets)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(p.held_aus() < case.max_aus);
    }
    p.flush(&mut packets);
    prop_assert_eq!(p.held_aus(), 0);
    prop_assert_eq!(
        p.next_sequence_number(),
        case.seq.wrapping_add(packets.len() as u16)
    );

    let written: Vec<Written> = packets
        .iter()
        .map(|b| Written::parse(b, case.mode))
        .collect();
    for (i, (w, bytes)) in written.iter().zip(&packets).enumerate() {
        prop_assert!(bytes.len() <= case.mtu, "packet {i}: {} bytes", bytes.len());
        prop_assert_eq!(w.rtp.sequence_number, case.seq.wrapping_add(i as u16));
        if w.whole() {
            // RFC 3640 §3.1: whole AUs are marked.
            prop_assert!(w.rtp.marker, "packet {i} of whole AUs unmarked");
            prop_assert!(w.sizes.len() <= case.max_aus);
        } else {
            // §3.2.3.1: one AU-header with the whole AU's size; the marker on the last fragment.
            prop_assert_eq!(case.mode, aac::Mode::Hbr);
            prop_assert_eq!(w.sizes.len(), 1);
            let last = written
                .get(i + 1)
                .is_none_or(|next| next.rtp.timestamp != w.rtp.timestamp || next.whole());
            prop_assert_eq!(w.rtp.marker, last, "packet {}", i);
        }
    }

    let fmtp = p.format_parameters(&LC_48K);
    let mut d = aac::Depacketizer::new(48_000, Some(&fmtp)).unwrap();
    prop_assert_eq!(d.mode(), Some(case.mode));
    let mut got = Vec::new();
    for packet in &packets {
        d.push(RtpIn::parse(packet).unwrap())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        got.extend(drain(&mut d));
    }
    prop_assert_eq!(got.len(), case.frames.len());
    for (i, (au, frame)) in got.iter().zip(&case.frames).enumerate() {
        prop_assert_eq!(&au.data[0][..], &frame[..], "AU {}", i);
        let expected = i64::from(timestamps[i].wrapping_sub(case.start));
        prop_assert_eq!(au.timestamp.ticks, expected, "AU {}", i);
        prop_assert!(!au.discontinuity);
    }
    Ok(written)
}

#[test]
fn aggregation_layout() {
    let mut p = aac::Packetizer::new(96, 7, 100, 1500).with_max_aus_per_packet(3);
    let mut out = Vec::new();
    for (i, len) in [10usize, 20, 30].into_iter().enumerate() {
        assert!(out.is_empty(), "nothing sent before the third AU");
        p.packetize(
            &audio_au(&vec![i as u8; len]),
            1000 + 1024 * i as u32,
            &mut out,
        );
    }
    assert_eq!(out.len(), 1);
    assert_eq!(p.held_aus(), 0);
    let rtp = RtpIn::parse(&out[0]).unwrap();
    assert_eq!(
        (rtp.sequence_number, rtp.timestamp, rtp.marker),
        (100, 1000, true)
    );
    // AU-headers-length 48 bits, then AU-size << 3 (AU-Index, AU-Index-delta 0) for each AU.
    assert_eq!(&rtp.payload[..8], &[0, 48, 0, 80, 0, 160, 0, 240]);
    assert_eq!(rtp.payload.len(), 8 + 60);
    assert_eq!(&rtp.payload[8..18], &[0; 10]);
    assert_eq!(&rtp.payload[38..], &[2; 30]);

    // A fourth AU is held until flushed.
    out.clear();
    p.packetize(&audio_au(b"four"), 1000 + 3 * 1024, &mut out);
    assert!(out.is_empty());
    assert_eq!(p.held_aus(), 1);
    p.flush(&mut out);
    p.flush(&mut out);
    assert_eq!(out.len(), 1, "a second flush sends nothing");
    let rtp = RtpIn::parse(&out[0]).unwrap();
    assert_eq!(rtp.timestamp, 1000 + 3 * 1024);
    assert_eq!(&rtp.payload[..], b"\x00\x10\x00\x20four");

    // A timestamp that does not follow on sends the held AU first, under its own timestamp.
    out.clear();
    p.packetize(&audio_au(b"a"), 10_000, &mut out);
    p.packetize(&audio_au(b"b"), 10_000 + 1025, &mut out);
    assert_eq!(out.len(), 1);
    let rtp = RtpIn::parse(&out[0]).unwrap();
    assert_eq!(
        (rtp.timestamp, &rtp.payload[..]),
        (10_000, &b"\x00\x10\x00\x08a"[..])
    );
    assert_eq!(p.held_aus(), 1);

    // A packet with no room left is sent at once.
    let mut p = aac::Packetizer::new(96, 7, 0, 12 + 2 + 4 + 100).with_max_aus_per_packet(8);
    let mut out = Vec::new();
    p.packetize(&audio_au(&[1; 60]), 0, &mut out);
    assert!(out.is_empty());
    p.packetize(&audio_au(&[2; 40]), 1024, &mut out);
    assert_eq!(out.len(), 1, "2 + 4 + 100 bytes fill the packet");
    assert_eq!(out[0].len(), 12 + 2 + 4 + 100);
    assert_eq!(p.held_aus(), 0);
    // An AU that does not fit with the held ones sends them first.
    out.clear();
    p.packetize(&audio_au(&[3; 60]), 2048, &mut out);
    p.packetize(&audio_au(&[4; 50]), 3072, &mut out);
    assert_eq!(out.len(), 1);
    let rtp = RtpIn::parse(&out[0]).unwrap();
    assert_eq!((rtp.timestamp, rtp.payload.len()), (2048, 2 + 2 + 60));
    assert_eq!(p.held_aus(), 1);
}

#[test]
fn lbr_layout_and_limits() {
    let mut p = aac::Packetizer::new(96, 7, 0, 1500)
        .with_mode(aac::Mode::Lbr)
        .with_max_aus_per_packet(2);
    assert_eq!(p.mode(), aac::Mode::Lbr);
    let mut out = Vec::new();
    p.try_packetize(&audio_au(&[1; 3]), 0, &mut out).unwrap();
    p.try_packetize(&audio_au(&[2; 63]), 1024, &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    let rtp = RtpIn::parse(&out[0]).unwrap();
    // AU-headers-length 16 bits: two 8-bit headers, AU-size << 2.
    assert_eq!(&rtp.payload[..4], &[0, 16, 3 << 2, 63 << 2]);
    assert_eq!(rtp.payload.len(), 4 + 66);

    // 64 bytes do not fit a 6-bit AU-size: refused, the held AU stays held.
    out.clear();
    p.try_packetize(&audio_au(&[3; 5]), 2048, &mut out).unwrap();
    let err = p
        .try_packetize(&audio_au(&[4; 64]), 3072, &mut out)
        .unwrap_err();
    assert_eq!(
        err,
        aac::PacketizeError::TooLarge {
            mode: aac::Mode::Lbr,
            size: 64,
            max: aac::MAX_LBR_AU_SIZE,
            timestamp: 3072,
        }
    );
    assert_eq!(
        err.to_string(),
        "AAC-lbr access unit of 64 bytes exceeds 63 bytes (RTP timestamp 3072)"
    );
    assert_eq!(
        p.try_packetize(&audio_au(b""), 3072, &mut out),
        Err(aac::PacketizeError::Empty { timestamp: 3072 })
    );
    // The trait skips what it cannot carry.
    p.packetize(&audio_au(&[4; 64]), 3072, &mut out);
    assert!(out.is_empty());
    assert_eq!(p.held_aus(), 1);
    p.flush(&mut out);
    assert_eq!(
        &RtpIn::parse(&out[0]).unwrap().payload[..],
        &[0, 8, 5 << 2, 3, 3, 3, 3, 3]
    );

    // Never fragmented: an MTU too small for a 63-byte AU is exceeded rather than the AU split.
    let mut p = aac::Packetizer::new(96, 7, 0, 40).with_mode(aac::Mode::Lbr);
    let mut out = Vec::new();
    p.try_packetize(&audio_au(&[9; 63]), 0, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 12 + 3 + 63);
}

#[test]
fn hbr_aggregation_switching_to_fragments() {
    // A large AU after small held ones: the held ones go first, then the fragments.
    let mut p = aac::Packetizer::new(96, 7, 0, 200).with_max_aus_per_packet(4);
    let mut out = Vec::new();
    p.packetize(&audio_au(b"xy"), 0, &mut out);
    p.packetize(&audio_au(&[5; 500]), 1024, &mut out);
    let written: Vec<Written> = out
        .iter()
        .map(|b| Written::parse(b, aac::Mode::Hbr))
        .collect();
    assert_eq!(written.len(), 4);
    assert_eq!(written[0].sizes, vec![2]);
    assert_eq!(written[0].rtp.timestamp, 0);
    for w in &written[1..] {
        assert_eq!(
            w.sizes,
            vec![500],
            "every fragment carries the whole AU's size"
        );
        assert_eq!(w.rtp.timestamp, 1024);
    }
    let markers: Vec<bool> = written.iter().map(|w| w.rtp.marker).collect();
    assert_eq!(markers, vec![true, false, false, true]);
    assert_eq!(p.held_aus(), 0);
}

#[test]
fn announced_fmtp_parses_back_into_the_mode() {
    assert_eq!(aac::Packetizer::fmtp(&LC_48K), aac::Mode::Hbr.fmtp(&LC_48K));
    for mode in [aac::Mode::Hbr, aac::Mode::Lbr] {
        for max_aus in [1, 5] {
            let p = aac::Packetizer::new(96, 7, 0, 1500)
                .with_mode(mode)
                .with_max_aus_per_packet(max_aus)
                .with_frame_duration(960);
            let fmtp = p.format_parameters(&LC_48K);
            assert!(fmtp.contains(&format!("mode={mode};")), "{fmtp}");
            assert_eq!(fmtp.contains("constantDuration=960"), max_aus > 1, "{fmtp}");
            let d = aac::Depacketizer::new(48_000, Some(&fmtp)).unwrap();
            assert_eq!(d.mode(), Some(mode), "{fmtp}");
            assert_eq!(d.params().config, vec![Bytes::from_static(&LC_48K)]);
        }
    }
    // The mode= name alone selects the layout; other layouts are no AAC mode.
    let d = aac::Depacketizer::new(16_000, Some("mode=AAC-lbr;config=1408")).unwrap();
    assert_eq!(d.mode(), Some(aac::Mode::Lbr));
    let generic = "mode=generic;sizelength=13;indexlength=3;indexdeltalength=3;ctsdeltalength=8";
    let d = aac::Depacketizer::new(48_000, Some(generic)).unwrap();
    assert_eq!(d.mode(), None);
}

/// Extra ticks before a frame: mostly none, sometimes a gap.
fn gap() -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(0u32), 1 => 1u32..50_000]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn hbr_aggregated_round_trip(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..700), 1..24),
        gaps in prop::collection::vec(gap(), 24),
        max_aus in 2usize..10,
        frame_duration in prop::sample::select(vec![1024u32, 960, 2048, 1]),
        mtu in 60usize..1500,
        start in any::<u32>(),
        seq in any::<u16>(),
    ) {
        let case = Case { mode: aac::Mode::Hbr, max_aus, frame_duration, mtu, start, seq, frames, gaps };
        check_round_trip(&case)?;
    }

    #[test]
    fn lbr_round_trip(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..=63), 1..40),
        gaps in prop::collection::vec(gap(), 40),
        max_aus in prop_oneof![Just(1usize), 2usize..30],
        frame_duration in prop::sample::select(vec![1024u32, 960]),
        mtu in 78usize..600,
        start in any::<u32>(),
        seq in any::<u16>(),
    ) {
        let case = Case { mode: aac::Mode::Lbr, max_aus, frame_duration, mtu, start, seq, frames, gaps };
        let written = check_round_trip(&case)?;
        prop_assert!(written.iter().all(Written::whole), "AAC-lbr never fragments");
        if max_aus == 1 {
            prop_assert_eq!(written.len(), case.frames.len());
        }
    }

    #[test]
    fn fragmented_round_trip(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..=aac::MAX_HBR_AU_SIZE), 1..6),
        gaps in prop::collection::vec(gap(), 6),
        max_aus in 1usize..4,
        mtu in 60usize..1500,
        start in any::<u32>(),
        seq in any::<u16>(),
    ) {
        let case = Case { mode: aac::Mode::Hbr, max_aus, frame_duration: 1024, mtu, start, seq, frames, gaps };
        let written = check_round_trip(&case)?;
        // Every AU larger than a packet's room was fragmented into just enough packets.
        let room = mtu - 12 - 4;
        let fragments = written.iter().filter(|w| !w.whole()).count();
        let expected: usize = case.frames.iter().filter(|f| f.len() > room).map(|f| f.len().div_ceil(room)).sum();
        prop_assert_eq!(fragments, expected);
    }

    /// Aggregated packets stay within the MTU, and a packet is only sent short of the AU limit
    /// when the next AU would not have fitted, followed a gap, or was the last.
    #[test]
    fn aggregated_packets_fill_but_never_exceed_the_mtu(
        lbr in any::<bool>(),
        sizes in prop::collection::vec(1usize..=63, 1..60),
        gaps in prop::collection::vec(gap(), 60),
        max_aus in 2usize..40,
        frame_duration in prop::sample::select(vec![1024u32, 960]),
        // 79: a 63-byte AU with its 2-byte AAC-hbr AU-header and the AU-headers-length fits whole.
        mtu in 79usize..400,
    ) {
        let mode = if lbr { aac::Mode::Lbr } else { aac::Mode::Hbr };
        let frames: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0x5a; n]).collect();
        let case = Case { mode, max_aus, frame_duration, mtu, start: 0, seq: 0, frames, gaps };
        let timestamps = case.timestamps();
        let written = check_round_trip(&case)?;
        let header_len = if lbr { 1 } else { 2 };
        let mut next = 0;
        for w in &written {
            prop_assert!(w.whole());
            prop_assert!(12 + w.rtp.payload.len() <= mtu);
            next += w.sizes.len();
            let Some(following) = sizes.get(next) else { continue };
            let consecutive = timestamps[next]
                == w.rtp.timestamp.wrapping_add(frame_duration * w.sizes.len() as u32);
            if w.sizes.len() < max_aus && consecutive {
                prop_assert!(
                    12 + w.rtp.payload.len() + header_len + following > mtu,
                    "a {}-byte AU would have fitted in a {}-byte packet", following, 12 + w.rtp.payload.len()
                );
            }
        }
        prop_assert_eq!(next, sizes.len());
    }
}
