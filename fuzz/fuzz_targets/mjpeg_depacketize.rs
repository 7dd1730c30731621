//! Fuzzes the RFC 2435 JPEG depacketizer with arbitrary packet sequences, then round-trips the input through
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
    // Files RFC 2435 cannot carry produce no packets; the others come back as one JPEG file.
    if !out.is_empty() {
        assert_eq!(got.len(), 1);
        assert!(got[0].data[0].ends_with(&[0xff, 0xd9]));
    }
    let _ = frame;
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut d = sluice_media::mjpeg::Depacketizer::new(90_000, None);
    for pkt in packets(rest) {
        let _ = d.push(pkt);
        for au in drain(&mut d) {
            assert!(au.data[0].starts_with(&[0xff, 0xd8]));
        }
    }
    let mut d = sluice_media::mjpeg::Depacketizer::new(90_000, None);
    let mut p = sluice_media::mjpeg::Packetizer::new(26, 1, 0, 160 + usize::from(selector) * 8);
    round_trip(&mut p, &mut d, rest);
});
