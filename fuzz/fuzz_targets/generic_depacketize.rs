//! Fuzzes the pass-through depacketizer with arbitrary packet sequences, then round-trips the
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
    let mut d = sluice_media::generic::Depacketizer::new(90_000, None);
    depacketize::feed(&mut d, byte_records::packets(rest), drop);
    let mut d = sluice_media::generic::Depacketizer::new(90_000, None);
    let mut p = sluice_media::generic::Packetizer::new(96, 1, 0, 1400 + usize::from(selector));
    let (_, got) = depacketize::round_trip(&mut p, &mut d, rest, 1000);
    depacketize::assert_one_unit(&got, rest);
});
