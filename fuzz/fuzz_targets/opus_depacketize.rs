//! Fuzzes the RFC 7587 Opus depacketizer with arbitrary packet sequences, then round-trips the input through
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
    if frame.is_empty() {
        return;
    }
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].data[0][..], frame);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let stereo = if selector & 1 == 0 {
        None
    } else {
        Some("sprop-stereo=1")
    };
    let mut d = sluice_media::opus::Depacketizer::new(48_000, stereo);
    for pkt in packets(rest) {
        let _ = d.push(pkt);
        drain(&mut d);
    }
    let mut d = sluice_media::opus::Depacketizer::new(48_000, None);
    let mut p = sluice_media::opus::Packetizer::new(96, 1, 0, 1400);
    round_trip(&mut p, &mut d, rest);
});
