//! Checks shared by the fuzz targets of sample-based audio formats (G.722, L16), whose RTP payloads
//! are runs of whole sample frames (RFC 3551 §4.2).

use bytes::Bytes;
use sluice_media::{AccessUnit, Depacketizer, Packetizer, RtpIn, Timestamp};

/// Feeds `packets`, checking each access unit out and that a packet is refused only when it is
/// not a whole number of `frame_bytes`-byte sample frames.
pub fn depacketize(d: &mut dyn Depacketizer, packets: Vec<RtpIn>, frame_bytes: usize) {
    let clock_rate = d.params().clock_rate;
    for pkt in packets {
        let len = pkt.payload.len();
        if let Err(e) = d.push(pkt) {
            assert!(len % frame_bytes != 0, "{len}-byte payload refused: {e}");
        }
        while let Some(au) = d.pull() {
            assert_eq!(au.data.len(), 1);
            assert!(!au.data[0].is_empty());
            assert_eq!(au.data[0].len() % frame_bytes, 0);
            assert!(au.keyframe);
            assert_eq!(au.timestamp.clock_rate, clock_rate);
        }
    }
}

/// Packetizes `audio` (whole sample frames) as one access unit stamped `timestamp` and
/// depacketizes it again with `d`, a depacketizer that has seen nothing yet: the same bytes come
/// back in packets of at most `mtu` bytes (or one frame, when the MTU is smaller) and
/// `ticks_per_packet` RTP clock ticks, each stamped with its first sample's time, where a tick is
/// `tick_bytes` bytes.
pub fn round_trip(
    p: &mut dyn Packetizer,
    d: &mut dyn Depacketizer,
    audio: &[u8],
    timestamp: u32,
    mtu: usize,
    tick_bytes: usize,
    ticks_per_packet: usize,
) {
    let au = AccessUnit {
        timestamp: Timestamp {
            ticks: 0,
            clock_rate: d.params().clock_rate,
        },
        keyframe: true,
        discontinuity: false,
        data: vec![Bytes::copy_from_slice(audio)],
    };
    let first_seq = p.next_sequence_number();
    let mut packets = Vec::new();
    p.packetize(&au, timestamp, &mut packets);
    let mut joined = Vec::new();
    for packet in &packets {
        assert!(
            packet.len() <= mtu.max(12 + tick_bytes),
            "{}-byte packet",
            packet.len()
        );
        assert!(packet.len() - 12 <= ticks_per_packet * tick_bytes);
        d.push(RtpIn::parse(packet).expect("packetizer output parses"))
            .expect("own packets depacketize");
        while let Some(back) = d.pull() {
            assert!(!back.discontinuity);
            assert_eq!(back.timestamp.ticks, (joined.len() / tick_bytes) as i64);
            joined.extend_from_slice(&back.data[0]);
        }
    }
    assert_eq!(&joined[..], audio);
    assert_eq!(
        p.next_sequence_number(),
        first_seq.wrapping_add(packets.len() as u16)
    );
}
