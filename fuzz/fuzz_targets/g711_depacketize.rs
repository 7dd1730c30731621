//! Fuzzes the G.711 (and G.722 and L16) depacketizer with arbitrary packet sequences, then
//! round-trips the input through the packetizer.
//!
//! Input: one selector byte, then packets as `byte_records` describes.
#![no_main]

mod byte_records;
mod depacketize;

use libfuzzer_sys::fuzz_target;
use sluice_media::Depacketizer;

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
        depacketize::feed(d.as_mut(), byte_records::packets(rest), drop);
    }
    let mut d = sluice_media::g711::Depacketizer::new(8000, None).with_channels(Some(channels));
    let mut p = sluice_media::g711::Packetizer::new(96, 1, 0, 13 + usize::from(selector) * 8)
        .with_channels(channels);
    // Packetizes whole frames and checks that depacketizing gives them back.
    let frames = &rest[..rest.len() / usize::from(channels) * usize::from(channels)];
    let (_, got) = depacketize::round_trip(&mut p, &mut d, frames, 1000);
    let joined: Vec<u8> = got.iter().flat_map(|au| au.data[0].to_vec()).collect();
    assert_eq!(&joined[..], frames);
});
