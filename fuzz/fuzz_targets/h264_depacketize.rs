//! H.264 depacketizer on arbitrary packets: never panics, emits sane access units, and every access
//! unit it emits survives a round trip through the packetizer.
#![no_main]

mod depacketize;
mod rtp_input;

use libfuzzer_sys::fuzz_target;
use sluice_media::{h264, AccessUnit, Depacketizer, Packetizer};

const FMTPS: [&str; 3] = [
    "packetization-mode=1",
    "packetization-mode=0;sprop-parameter-sets=Z00AKpWoHgCJ+WEAAAMAAQAAAwAyhA==,aO48gA==",
    "sprop-parameter-sets=AAAAAWdNAB6NjUBaHtCAAAOEAACvyAI=,AAAAAWjuOIA=,%%",
];

fuzz_target!(|data: &[u8]| {
    let (selector, packets) = rtp_input::packets(data);
    let fmtp = FMTPS[usize::from(selector) % FMTPS.len()];
    let mut d = h264::Depacketizer::new(90_000, Some(fmtp)).expect("mode 0 and 1 are accepted");
    let mut out = Vec::new();
    depacketize::feed(&mut d, packets, |au| out.push(au));
    d.flush();
    out.extend(std::iter::from_fn(|| d.pull()));
    for au in &out {
        assert!(!au.data.is_empty());
        assert!(au.data.iter().all(|nal| !nal.is_empty()));
        assert_eq!(au.keyframe, au.data.iter().any(|nal| nal[0] & 0x1f == 5));
        round_trip(au, usize::from(selector) * 8 + 20, selector & 1 != 0);
    }
});

/// Packetizes `au` and depacketizes it again: the same NAL units come back (AUDs aside).
fn round_trip(au: &AccessUnit, mtu: usize, aggregate: bool) {
    let mut packetizer = h264::Packetizer::new(96, 1, 0, mtu).with_aggregation(aggregate);
    let mut packets = Vec::new();
    Packetizer::packetize(&mut packetizer, au, 0, &mut packets);
    let mut d = h264::Depacketizer::new(90_000, None).expect("no fmtp");
    let mut back = depacketize::own_packets(&mut d, &packets);
    d.flush();
    back.extend(std::iter::from_fn(|| d.pull()));
    let expected: Vec<_> = au
        .data
        .iter()
        .filter(|nal| nal[0] & 0x1f != 9)
        .cloned()
        .collect();
    match &back[..] {
        [back] => assert_eq!(back.data, expected),
        [] => assert!(expected.is_empty()),
        more => panic!("{} access units back", more.len()),
    }
}
