//! Opus, G.711, G.722, L16 and the generic pass-through: one packet per access unit on the way in,
//! packets split by packet time and MTU on the way out.

use bytes::Bytes;
use proptest::prelude::*;
use sluice_media::{
    g711, g722, generic, l16, opus, AccessUnit, Depacketizer, Packetizer, RtpIn, Timestamp,
};

fn pkt(seq: u16, ts: u32, payload: &[u8]) -> RtpIn {
    RtpIn {
        sequence_number: seq,
        timestamp: ts,
        marker: false,
        payload_type: 0,
        ssrc: 0x1111,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn au(data: Vec<u8>, clock_rate: u32) -> AccessUnit {
    AccessUnit {
        timestamp: Timestamp {
            ticks: 0,
            clock_rate,
        },
        keyframe: true,
        discontinuity: false,
        data: vec![Bytes::from(data)],
    }
}

fn drain(d: &mut dyn Depacketizer) -> Vec<AccessUnit> {
    std::iter::from_fn(|| d.pull()).collect()
}

/// Packetizes `frames` (one every `step` ticks from `start`), depacketizes the packets and checks
/// that the pieces put back together give the frames, each piece stamped with its first sample's
/// time. Returns the packets' payload sizes.
fn sample_round_trip(
    p: &mut dyn Packetizer,
    d: &mut dyn Depacketizer,
    frames: &[Vec<u8>],
    bytes_per_tick: usize,
    start: u32,
    step: u32,
    mtu: usize,
) -> Result<Vec<usize>, TestCaseError> {
    let mut sizes = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        let ts = start.wrapping_add(step.wrapping_mul(i as u32));
        let mut out = Vec::new();
        p.packetize(&au(frame.clone(), d.params().clock_rate), ts, &mut out);
        let mut joined = Vec::new();
        for packet in &out {
            prop_assert!(packet.len() <= mtu, "{} > {mtu}", packet.len());
            let rtp = RtpIn::parse(packet).unwrap();
            prop_assert!(!rtp.marker);
            d.push(rtp).unwrap();
            for unit in drain(d) {
                let expected = i as i64 * i64::from(step) + (joined.len() / bytes_per_tick) as i64;
                prop_assert_eq!(unit.timestamp.ticks, expected);
                prop_assert!(!unit.discontinuity);
                sizes.push(unit.data[0].len());
                joined.extend_from_slice(&unit.data[0]);
            }
        }
        prop_assert_eq!(&joined, frame);
    }
    Ok(sizes)
}

fn frames(unit: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(
        prop::collection::vec(any::<u8>(), 1..800).prop_map(move |mut v| {
            v.truncate((v.len() / unit).max(1) * unit);
            v.resize(v.len().max(unit), 0);
            v
        }),
        1..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn g711_round_trip(frames in frames(1), mtu in 13usize..1500, start in any::<u32>()) {
        let mut p = g711::Packetizer::new(8, 3, 0, mtu);
        let mut d = g711::Depacketizer::new(8000, None).with_law(g711::Law::A);
        let sizes = sample_round_trip(&mut p, &mut d, &frames, 1, start, 4000, mtu)?;
        // 20 ms packets at most.
        prop_assert!(sizes.iter().all(|&s| s <= 160));
    }

    #[test]
    fn g722_round_trip(frames in frames(1), mtu in 13usize..1500, start in any::<u32>()) {
        let mut p = g722::Packetizer::new(9, 3, 0, mtu);
        let mut d = g722::Depacketizer::new(8000, None);
        let sizes = sample_round_trip(&mut p, &mut d, &frames, 1, start, 4000, mtu)?;
        // 20 ms of G.722 is 320 samples in 160 bytes and 160 clock ticks.
        prop_assert!(sizes.iter().all(|&s| s <= 160));
    }

    #[test]
    fn l16_stereo_round_trip(frames in frames(4), mtu in 16usize..1500, start in any::<u32>()) {
        let mut p = l16::Packetizer::new(96, 3, 0, mtu, 44_100, 2);
        let mut d = l16::Depacketizer::new(44_100, None).with_channels(Some(2));
        let sizes = sample_round_trip(&mut p, &mut d, &frames, 4, start, 10_000, mtu)?;
        prop_assert!(sizes.iter().all(|&s| s % 4 == 0 && s <= 882 * 4));
    }

    #[test]
    fn opus_round_trip(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..1275), 1..10),
        start in any::<u32>(),
    ) {
        let mut p = opus::Packetizer::new(111, 3, 0, 1400);
        let mut d = opus::Depacketizer::new(48_000, None);
        for (i, frame) in frames.iter().enumerate() {
            let mut out = Vec::new();
            p.packetize(&au(frame.clone(), 48_000), start.wrapping_add(960 * i as u32), &mut out);
            prop_assert_eq!(out.len(), 1);
            d.push(RtpIn::parse(&out[0]).unwrap()).unwrap();
            let got = drain(&mut d);
            prop_assert_eq!(got.len(), 1);
            prop_assert_eq!(&got[0].data[0][..], &frame[..]);
            prop_assert_eq!(got[0].timestamp, Timestamp { ticks: 960 * i as i64, clock_rate: 48_000 });
        }
    }

    #[test]
    fn generic_round_trip(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..3000), 1..10),
        start in any::<u32>(),
    ) {
        let mut p = generic::Packetizer::new(100, 3, 0, 1400);
        let mut d = generic::Depacketizer::new(90_000, None).with_codec("MP4V-ES");
        for (i, frame) in frames.iter().enumerate() {
            let mut out = Vec::new();
            p.packetize(&au(frame.clone(), 90_000), start.wrapping_add(3000 * i as u32), &mut out);
            prop_assert_eq!(out.len(), 1);
            let rtp = RtpIn::parse(&out[0]).unwrap();
            prop_assert!(rtp.marker);
            d.push(rtp).unwrap();
            let got = drain(&mut d);
            prop_assert_eq!(&got[0].data[0][..], &frame[..]);
            prop_assert_eq!(got[0].timestamp.ticks, 3000 * i as i64);
        }
    }

    #[test]
    fn hostile_packets_do_not_panic(
        packets in prop::collection::vec(
            (any::<u16>(), any::<u32>(), any::<u32>(), prop::collection::vec(any::<u8>(), 0..100)),
            1..30,
        ),
    ) {
        let mut depacketizers: Vec<Box<dyn Depacketizer>> = vec![
            Box::new(g711::Depacketizer::new(8000, None)),
            Box::new(g722::Depacketizer::new(8000, None)),
            Box::new(l16::Depacketizer::new(48_000, None).with_channels(Some(6))),
            Box::new(opus::Depacketizer::new(48_000, Some("sprop-stereo=1"))),
            Box::new(generic::Depacketizer::new(90_000, None)),
        ];
        for d in &mut depacketizers {
            for (seq, ts, ssrc, payload) in &packets {
                let mut p = pkt(*seq, *ts, payload);
                p.ssrc = ssrc % 3;
                let _ = d.push(p);
                for unit in drain(d.as_mut()) {
                    prop_assert!(!unit.data[0].is_empty());
                }
            }
        }
    }
}

#[test]
fn stale_ssrc_packets_are_dropped() {
    // CAMERA-QUIRKS #44: the old session's packets (SSRC 0x1111) keep arriving between those of
    // the new one (0x2222).
    let mut d = g711::Depacketizer::new(8000, None);
    let mut packets = vec![pkt(10, 0, &[1; 160]), pkt(11, 160, &[1; 160])];
    for i in 0..4u16 {
        let mut new = pkt(700 + i, 48_000 + 160 * u32::from(i), &[2; 160]);
        new.ssrc = 0x2222;
        packets.push(new);
        packets.push(pkt(12 + i, 320 + 160 * u32::from(i), &[1; 160]));
    }
    for p in packets {
        d.push(p).unwrap();
    }
    let aus = drain(&mut d);
    let got: Vec<(u8, i64, bool)> = aus
        .iter()
        .map(|a| (a.data[0][0], a.timestamp.ticks, a.discontinuity))
        .collect();
    // The timeline carries on across the change (the timestamp extension is not reset).
    let step = 48_000 - 160;
    assert_eq!(
        got,
        vec![
            (1, 0, false),
            (1, 160, false),
            (2, 160 + step, true),
            (2, 320 + step, false),
            (2, 480 + step, false),
            (2, 640 + step, false),
        ]
    );
    assert_eq!(d.stale_ssrc_packets(), 4);
}

#[test]
fn g711_params_and_loss() {
    let mut d = g711::Depacketizer::new(0, None).with_law(g711::Law::from_encoding("pcma"));
    assert_eq!(d.params().codec, "PCMA");
    assert_eq!(d.params().clock_rate, 8000);
    assert_eq!(d.params().sample_rate, Some(8000));
    assert_eq!(d.params().channels, Some(1));
    d.push(pkt(10, 0, &[1; 160])).unwrap();
    d.push(pkt(11, 160, &[2; 160])).unwrap();
    d.push(pkt(11, 160, &[2; 160])).unwrap(); // duplicate
    d.push(pkt(13, 480, &[4; 160])).unwrap(); // 12 lost
    let mut other_pt = pkt(14, 640, &[5; 160]);
    other_pt.payload_type = 8;
    d.push(other_pt).unwrap();
    d.push(pkt(15, 800, &[6; 160])).unwrap(); // 14 was another payload type: counts as lost
    let mut new_ssrc = pkt(16, 960, &[7; 160]);
    new_ssrc.ssrc = 0x2222;
    d.push(new_ssrc).unwrap();
    let aus = drain(&mut d);
    let flags: Vec<(i64, bool)> = aus
        .iter()
        .map(|a| (a.timestamp.ticks, a.discontinuity))
        .collect();
    assert_eq!(
        flags,
        vec![
            (0, false),
            (160, false),
            (480, true),
            (800, true),
            (960, true)
        ]
    );
    assert!(aus.iter().all(|a| a.keyframe));
    assert_eq!(g711::Law::from_encoding("PCMU"), g711::Law::Mu);
}

#[test]
fn g711_packet_time_and_channels() {
    let mut p = g711::Packetizer::new(0, 1, 0, 1400)
        .with_ptime(40)
        .with_channels(2);
    let mut out = Vec::new();
    p.packetize(&au(vec![0; 2000], 8000), 0, &mut out);
    let sizes: Vec<usize> = out.iter().map(|b| b.len() - 12).collect();
    // 40 ms at 8 kHz = 320 samples of 2 channels = 640 bytes.
    assert_eq!(sizes, vec![640, 640, 640, 80]);
    let ts: Vec<u32> = out
        .iter()
        .map(|b| RtpIn::parse(b).unwrap().timestamp)
        .collect();
    assert_eq!(ts, vec![0, 320, 640, 960]);
    let mut p = g711::Packetizer::new(0, 1, 0, 1400).with_clock_rate(16_000);
    out.clear();
    p.packetize(&au(vec![0; 1000], 16_000), 0, &mut out);
    assert_eq!(out[0].len() - 12, 320);
}

#[test]
fn g722_clock_is_half_the_sample_rate() {
    let d = g722::Depacketizer::new(8000, None).with_channels(None);
    assert_eq!(d.params().clock_rate, 8000);
    assert_eq!(d.params().sample_rate, Some(16_000));
    assert_eq!(d.params().codec, "G722");
    let mut p = g722::Packetizer::new(9, 1, 0, 1400);
    let mut out = Vec::new();
    p.packetize(&au(vec![0; 400], 8000), 1000, &mut out);
    let ts: Vec<u32> = out
        .iter()
        .map(|b| RtpIn::parse(b).unwrap().timestamp)
        .collect();
    assert_eq!(
        ts,
        vec![1000, 1160, 1320],
        "160 bytes = 320 samples = 160 ticks per 20 ms"
    );
}

#[test]
fn l16_rejects_partial_samples() {
    let mut d = l16::Depacketizer::new(44_100, None).with_channels(Some(2));
    assert_eq!(d.params().channels, Some(2));
    assert_eq!(d.params().sample_rate, Some(44_100));
    let err = d.push(pkt(1, 0, &[0; 6])).unwrap_err();
    assert_eq!(err.codec, "L16");
    d.push(pkt(2, 100, &[0; 8])).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 1);
    assert!(aus[0].discontinuity, "the bad packet's samples were lost");
}

#[test]
fn opus_channels_follow_the_stream() {
    let mut d = opus::Depacketizer::new(48_000, Some("sprop-stereo=1"));
    assert_eq!(d.params().channels, Some(2));
    assert_eq!(d.params().clock_rate, 48_000);
    // TOC byte with s=0: mono.
    d.push(pkt(1, 0, &[0xf8, 1, 2])).unwrap();
    assert_eq!(d.params().channels, Some(1));
    d.push(pkt(2, 960, &[0xfc, 1, 2])).unwrap();
    assert_eq!(d.params().channels, Some(2));
    // Empty payloads carry nothing.
    d.push(pkt(3, 1920, &[])).unwrap();
    assert_eq!(drain(&mut d).len(), 2);
    // The RTP clock is 48 kHz whatever the SDP says.
    let d = opus::Depacketizer::new(16_000, None);
    assert_eq!(d.params().clock_rate, 48_000);
    assert_eq!(d.params().channels, Some(1));
}

#[test]
fn generic_ignores_markers() {
    let mut d = generic::Depacketizer::new(90_000, None)
        .with_codec("MP4V-ES")
        .with_channels(None);
    d.push(pkt(1, 0, b"a")).unwrap();
    d.push(pkt(2, 0, b"b")).unwrap();
    d.push(pkt(3, 0, b"")).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 2);
    assert_eq!(d.params().codec, "MP4V-ES");
}
