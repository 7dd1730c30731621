//! H.265 depacketizer on arbitrary packets: never panics, emits sane access units, and every access
//! unit it emits survives a round trip through the packetizer.
#![no_main]

mod depacketize;
mod rtp_input;

use libfuzzer_sys::fuzz_target;
use sluice_media::{h265, AccessUnit, Depacketizer, Packetizer};

const FMTPS: [&str; 3] = [
    "",
    "sprop-max-don-diff=1",
    "sprop-vps=QAEMAf//AWAAAAMAsAAAAwAAAwBarAwAAAMABAAAAwAyqA==;\
     sprop-sps=QgEBAWAAAAMAsAAAAwAAAwBaoAWCAeFja5JFL83BQYFBAAADAAEAAAMADKE=;sprop-pps=RAHA8saNA7NA",
];

fuzz_target!(|data: &[u8]| {
    let (selector, packets) = rtp_input::packets(data);
    let fmtp = FMTPS[usize::from(selector) % FMTPS.len()];
    let mut d = h265::Depacketizer::new(90_000, Some(fmtp)).expect("fmtp accepted");
    let mut out = Vec::new();
    depacketize::feed(&mut d, packets, |au| out.push(au));
    d.flush();
    out.extend(std::iter::from_fn(|| d.pull()));
    for au in &out {
        assert!(!au.data.is_empty());
        assert!(au.data.iter().all(|nal| nal.len() >= 2));
        let irap = |nal: &bytes::Bytes| (16..=21).contains(&((nal[0] >> 1) & 0x3f));
        assert_eq!(au.keyframe, au.data.iter().any(irap));
        round_trip(au, usize::from(selector) * 8 + 20, selector & 1 != 0);
    }
});

/// Packetizes `au` and depacketizes it again: the same NAL units come back (AUDs aside).
fn round_trip(au: &AccessUnit, mtu: usize, aggregate: bool) {
    let mut packetizer = h265::Packetizer::new(96, 1, 0, mtu).with_aggregation(aggregate);
    let mut packets = Vec::new();
    Packetizer::packetize(&mut packetizer, au, 0, &mut packets);
    let mut d = h265::Depacketizer::new(90_000, None).expect("no fmtp");
    let mut back = depacketize::own_packets(&mut d, &packets);
    d.flush();
    back.extend(std::iter::from_fn(|| d.pull()));
    let aud = |nal: &&bytes::Bytes| (nal[0] >> 1) & 0x3f == 35;
    let expected: Vec<_> = au.data.iter().filter(|nal| !aud(nal)).cloned().collect();
    match &back[..] {
        [back] => assert_eq!(back.data, expected),
        [] => assert!(expected.is_empty()),
        more => panic!("{} access units back", more.len()),
    }
}
