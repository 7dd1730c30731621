//! Fuzzes the RFC 2435 JPEG depacketizer with arbitrary packet sequences, then round-trips the
//! input through the packetizer.
//!
//! Input: one selector byte, then packets as `byte_records` describes.
#![no_main]

mod byte_records;
mod depacketize;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let mut d = sluice_media::mjpeg::Depacketizer::new(90_000, None);
    depacketize::feed(&mut d, byte_records::packets(rest), |au| {
        assert!(au.data[0].starts_with(&[0xff, 0xd8]));
    });
    let mut d = sluice_media::mjpeg::Depacketizer::new(90_000, None);
    let mut p = sluice_media::mjpeg::Packetizer::new(26, 1, 0, 160 + usize::from(selector) * 8);
    let (packets, got) = depacketize::round_trip(&mut p, &mut d, rest, 1000);
    // Files RFC 2435 cannot carry produce no packets; the others come back as one JPEG file.
    if !packets.is_empty() {
        assert_eq!(got.len(), 1);
        assert!(got[0].data[0].ends_with(&[0xff, 0xd9]));
    }
});
