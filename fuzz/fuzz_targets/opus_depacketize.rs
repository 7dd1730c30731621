//! Fuzzes the RFC 7587 Opus depacketizer with arbitrary packet sequences, then round-trips the
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
    let stereo = if selector & 1 == 0 {
        None
    } else {
        Some("sprop-stereo=1")
    };
    let mut d = sluice_media::opus::Depacketizer::new(48_000, stereo);
    depacketize::feed(&mut d, byte_records::packets(rest), drop);
    let mut d = sluice_media::opus::Depacketizer::new(48_000, None);
    let mut p = sluice_media::opus::Packetizer::new(96, 1, 0, 1400);
    let (_, got) = depacketize::round_trip(&mut p, &mut d, rest, 1000);
    depacketize::assert_one_unit(&got, rest);
});
