//! Fuzzes the RFC 6416 MP4A-LATM depacketizer with arbitrary packet sequences, then round-trips
//! the input through the packetizer.
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
    let fmtp = if selector & 1 == 0 {
        "cpresent=0;config=400023203fc0"
    } else {
        "cpresent=1"
    };
    let mut d = sluice_media::latm::Depacketizer::new(48_000, Some(fmtp)).expect("valid fmtp");
    depacketize::feed(&mut d, byte_records::packets(rest), drop);
    let _ = sluice_media::latm::StreamMuxConfig::parse(rest);
    let fmtp = sluice_media::latm::Packetizer::fmtp(&[0x11, 0x90]).expect("valid config");
    let mut d = sluice_media::latm::Depacketizer::new(48_000, Some(&fmtp)).expect("valid fmtp");
    let mut p = sluice_media::latm::Packetizer::new(96, 1, 0, 20 + usize::from(selector) * 4);
    let (_, got) = depacketize::round_trip(&mut p, &mut d, rest, 1000);
    depacketize::assert_one_unit(&got, rest);
});
