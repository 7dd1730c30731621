//! Drives a depacketizer with a peer's packets, and with a packetizer's own for round trips.
//! Shared by the depacketizer targets (each target is its own binary and uses part of this).
#![allow(dead_code)]

use bytes::Bytes;
use sluice_media::{AccessUnit, Depacketizer, Packetizer, RtpIn, Timestamp};

/// Feeds `packets` as a peer might send them: a refused packet is only dropped. Hands every
/// access unit that comes out to `each`, and reads the parameters after every packet.
pub fn feed(d: &mut dyn Depacketizer, packets: Vec<RtpIn>, mut each: impl FnMut(AccessUnit)) {
    for pkt in packets {
        let _ = d.push(pkt);
        while let Some(au) = d.pull() {
            each(au);
        }
        let _ = d.params();
    }
}

/// Feeds a packetizer's output: every packet parses and is accepted. The access units that come
/// out.
pub fn own_packets(d: &mut dyn Depacketizer, packets: &[Bytes]) -> Vec<AccessUnit> {
    let mut got = Vec::new();
    for packet in packets {
        d.push(RtpIn::parse(packet).expect("packetizer output parses"))
            .expect("own packets depacketize");
        got.extend(std::iter::from_fn(|| d.pull()));
    }
    got
}

/// A keyframe access unit holding `data` in one piece, at time zero of `clock_rate`.
pub fn access_unit(data: &[u8], clock_rate: u32) -> AccessUnit {
    AccessUnit {
        timestamp: Timestamp {
            ticks: 0,
            clock_rate,
        },
        keyframe: true,
        discontinuity: false,
        data: vec![Bytes::copy_from_slice(data)],
    }
}

/// Packetizes `data` as one access unit stamped `timestamp` and feeds the packets to `d`: the
/// packets and the access units that come out.
pub fn round_trip(
    p: &mut dyn Packetizer,
    d: &mut dyn Depacketizer,
    data: &[u8],
    timestamp: u32,
) -> (Vec<Bytes>, Vec<AccessUnit>) {
    let au = access_unit(data, d.params().clock_rate);
    let mut packets = Vec::new();
    p.packetize(&au, timestamp, &mut packets);
    let got = own_packets(d, &packets);
    (packets, got)
}

/// Checks that `data` came back from a round trip as one access unit (when it was not empty).
pub fn assert_one_unit(got: &[AccessUnit], data: &[u8]) {
    if data.is_empty() {
        return;
    }
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].data[0][..], data);
}
