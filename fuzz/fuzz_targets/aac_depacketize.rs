//! Fuzzes the RFC 3640 AAC depacketizer with arbitrary packet sequences, then round-trips the input through
//! the packetizer in the mode, access units per packet and MTU the selector picks: as one access unit,
//! and cut into several.
//!
//! Input: one selector byte, then packets as `byte_records` describes.
#![no_main]

mod byte_records;
mod depacketize;

use libfuzzer_sys::fuzz_target;
use sluice_media::aac;

/// Whether the depacketizer would take `frame` for an ADTS frame and strip or drop it.
fn looks_like_adts(frame: &[u8]) -> bool {
    frame.len() >= 7 && frame[0] == 0xff && frame[1] & 0xf6 == 0xf0
}

/// Packetizes `frames` (stamped `timestamps`), flushes, and checks that depacketizing with the
/// announced fmtp gives back every frame the mode can carry, with its timestamp.
fn round_trip(p: &mut aac::Packetizer, frames: &[&[u8]], timestamps: &[u32]) {
    let fmtp = p.format_parameters(&[0x11, 0x90]);
    let mut d = aac::Depacketizer::new(48_000, Some(&fmtp)).expect("announced fmtp parses");
    assert_eq!(d.mode(), Some(p.mode()));
    let mut out = Vec::new();
    let mut sent = Vec::new();
    for (&frame, &ts) in frames.iter().zip(timestamps) {
        let au = depacketize::access_unit(frame, 48_000);
        let held = p.held_aus();
        match p.try_packetize(&au, ts, &mut out) {
            Ok(()) => sent.push((frame, ts)),
            Err(_) => {
                assert!(frame.is_empty() || frame.len() > p.mode().max_au_size());
                assert_eq!(p.held_aus(), held, "a refused AU leaves the held ones");
            }
        }
    }
    p.flush(&mut out);
    assert_eq!(p.held_aus(), 0);
    let got = depacketize::own_packets(&mut d, &out);
    // An AU that looks like ADTS has its header stripped on the way back (or is dropped).
    if sent.iter().any(|(frame, _)| looks_like_adts(frame)) {
        return;
    }
    assert_eq!(got.len(), sent.len());
    let Some(&(_, first)) = sent.first() else {
        return;
    };
    for (au, (frame, ts)) in got.iter().zip(&sent) {
        assert_eq!(&au.data[0][..], *frame);
        assert_eq!(au.timestamp.ticks, i64::from(ts.wrapping_sub(first)));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let layouts = [
        "streamtype=5;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3;config=1190",
        "streamtype=5;mode=AAC-lbr;sizelength=6;indexlength=2;indexdeltalength=2;config=1408",
        "mode=generic;sizelength=8;indexlength=2;indexdeltalength=2;ctsdeltalength=8;\
         dtsdeltalength=4;randomaccessindication=1;streamstateindication=2;\
         auxiliarydatasizelength=8;config=1190",
        "mode=generic;constantsize=7;config=1190",
    ];
    let fmtp = layouts[usize::from(selector) % layouts.len()];
    let mut d = aac::Depacketizer::new(48_000, Some(fmtp)).expect("valid fmtp");
    depacketize::feed(&mut d, byte_records::packets(rest), |au| {
        assert!(!au.data[0].is_empty());
    });
    let _ = aac::AudioSpecificConfig::parse(rest);

    // The selector also picks the packetizer: bit 0 the mode, bits 1-2 the AUs per packet (1 to 4),
    // bits 3-7 the MTU.
    let mode = if selector & 1 == 0 {
        aac::Mode::Hbr
    } else {
        aac::Mode::Lbr
    };
    let max_aus = 1 + usize::from(selector >> 1 & 3);
    let mtu = 60 + usize::from(selector >> 3) * 48;
    // The whole input as one AU (fragmented, or refused when too large for the mode)…
    let mut p = aac::Packetizer::new(96, 1, 0, mtu).with_mode(mode);
    round_trip(&mut p, &[rest], &[1000]);
    // …and cut into AUs: each one starts with a byte whose low 7 bits give its length in units of
    // 2 bytes (AAC-lbr refuses those over 63 bytes, both modes empty ones) and whose top bit leaves
    // a gap in time after it.
    let mut frames = Vec::new();
    let mut timestamps = Vec::new();
    let mut ts = 1000u32;
    let mut data = rest;
    while let [first, tail @ ..] = data {
        let len = (usize::from(first & 0x7f) * 2).min(tail.len());
        let gap = if first & 0x80 == 0 { 0 } else { 77 };
        let (frame, after) = tail.split_at(len);
        frames.push(frame);
        timestamps.push(ts);
        ts = ts.wrapping_add(1024 + gap);
        data = after;
    }
    let mut p = aac::Packetizer::new(96, 1, 0, mtu)
        .with_mode(mode)
        .with_max_aus_per_packet(max_aus);
    round_trip(&mut p, &frames, &timestamps);
});
