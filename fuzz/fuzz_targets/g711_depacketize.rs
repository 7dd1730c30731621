//! Fuzzes the G.711 (and G.722 and L16) depacketizer with arbitrary packet sequences, then round-trips the input through
//! the packetizer.
//!
//! Input: one selector byte, then packets, each a flags byte (bit 0 marker, bit 1 skip a sequence
//! number, bit 2 new timestamp, bit 3 other SSRC, bit 4 other payload type, bits 5-7 length low
//! bits), a length byte (times 4) and the payload.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sluice_media::{AccessUnit, Depacketizer, Packetizer, RtpIn, Timestamp};

/// Splits the input into RTP packets.
fn packets(mut data: &[u8]) -> Vec<RtpIn> {
    let (mut seq, mut ts) = (0u16, 0u32);
    let mut out = Vec::new();
    while let [flags, len, rest @ ..] = data {
        let len = (usize::from(*len) * 4 + usize::from(flags >> 5)).min(rest.len());
        let (payload, after) = rest.split_at(len);
        data = after;
        seq = seq.wrapping_add(1 + u16::from(flags >> 1 & 1));
        ts = ts.wrapping_add(u32::from(flags >> 2 & 1) * 1024);
        out.push(RtpIn {
            sequence_number: seq,
            timestamp: ts,
            marker: flags & 1 == 1,
            payload_type: if flags & 0x10 == 0 { 96 } else { 50 },
            ssrc: u32::from(flags >> 3 & 1),
            payload: Bytes::copy_from_slice(payload),
        });
    }
    out
}

fn drain(d: &mut dyn Depacketizer) -> Vec<AccessUnit> {
    std::iter::from_fn(|| d.pull()).collect()
}

/// Packetizes `frame` and checks that depacketizing gives it back.
fn round_trip(p: &mut dyn Packetizer, d: &mut dyn Depacketizer, frame: &[u8]) {
    let au = AccessUnit {
        timestamp: Timestamp {
            ticks: 0,
            clock_rate: d.params().clock_rate,
        },
        keyframe: true,
        discontinuity: false,
        data: vec![Bytes::copy_from_slice(frame)],
    };
    let mut out = Vec::new();
    p.packetize(&au, 1000, &mut out);
    let mut got = Vec::new();
    for packet in &out {
        d.push(RtpIn::parse(packet).expect("packetizer output parses"))
            .expect("own packets depacketize");
        got.extend(drain(d));
    }
    let joined: Vec<u8> = got.iter().flat_map(|au| au.data[0].to_vec()).collect();
    assert_eq!(&joined[..], frame);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let channels = u16::from(selector % 4 + 1);
    let mut depacketizers: Vec<Box<dyn Depacketizer>> = vec![
        Box::new(sluice_media::g711::Depacketizer::new(8000, None).with_channels(Some(channels))),
        Box::new(sluice_media::g722::Depacketizer::new(8000, None)),
        Box::new(sluice_media::l16::Depacketizer::new(44_100, None).with_channels(Some(channels))),
    ];
    for d in &mut depacketizers {
        for pkt in packets(rest) {
            let _ = d.push(pkt);
            drain(d.as_mut());
        }
    }
    let mut d = sluice_media::g711::Depacketizer::new(8000, None).with_channels(Some(channels));
    let mut p = sluice_media::g711::Packetizer::new(96, 1, 0, 13 + usize::from(selector) * 8)
        .with_channels(channels);
    let whole = rest.len() / usize::from(channels) * usize::from(channels);
    round_trip(&mut p, &mut d, &rest[..whole]);
});
