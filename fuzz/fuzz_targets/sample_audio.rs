//! Checks shared by the fuzz targets of sample-based audio formats (G.722, L16), whose RTP payloads
//! are runs of whole sample frames (RFC 3551 §4.3).

use sluice_media::{codec, Depacketizer, Packetizer, RtpIn};
use sluice_rtsp::sdp::SessionDescription;

use crate::depacketize;

/// The depacketizer the codec factory picks for payload type `pt` of the media section of `sdp`,
/// and `pt`.
pub fn from_sdp(sdp: &str, pt: u8) -> (Box<dyn Depacketizer>, u8) {
    let parsed = SessionDescription::parse(sdp.as_bytes()).expect("a valid SDP");
    let d = codec::depacketizer_for(&parsed.media[0], pt)
        .unwrap_or_else(|e| panic!("{sdp:?} is supported: {e}"));
    (d, pt)
}

/// Feeds `packets` to `d`, whose packets carry payload type `pt` (packets of the default type 96
/// are relabelled), checking each access unit out and that a packet is refused only when it is not
/// a whole number of `frame_bytes`-byte sample frames. Returns the bytes of all payloads, cut to
/// whole frames, for a round trip.
pub fn depacketize(
    d: &mut dyn Depacketizer,
    mut packets: Vec<RtpIn>,
    pt: u8,
    frame_bytes: usize,
) -> Vec<u8> {
    let mut audio = Vec::new();
    for pkt in &mut packets {
        audio.extend_from_slice(&pkt.payload);
        if pkt.payload_type == 96 {
            pkt.payload_type = pt;
        }
    }
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
    audio.truncate(audio.len() / frame_bytes * frame_bytes);
    audio
}

/// Packetizes `audio` (whole sample frames) as one access unit stamped just before the RTP
/// timestamp wraps and depacketizes it again with `d`, a depacketizer that has seen nothing yet: the same bytes come
/// back in packets of at most `mtu` bytes (or one frame, when the MTU is smaller) and
/// `ticks_per_packet` RTP clock ticks, each stamped with its first sample's time, where a tick is
/// `tick_bytes` bytes.
pub fn round_trip(
    p: &mut dyn Packetizer,
    d: &mut dyn Depacketizer,
    audio: &[u8],
    mtu: usize,
    tick_bytes: usize,
    ticks_per_packet: usize,
) {
    let first_seq = p.next_sequence_number();
    let (packets, got) = depacketize::round_trip(p, d, audio, u32::MAX - 200);
    for packet in &packets {
        assert!(
            packet.len() <= mtu.max(12 + tick_bytes),
            "{}-byte packet",
            packet.len()
        );
        assert!(packet.len() - 12 <= ticks_per_packet * tick_bytes);
    }
    let mut joined = Vec::new();
    for back in &got {
        assert!(!back.discontinuity);
        assert_eq!(back.timestamp.ticks, (joined.len() / tick_bytes) as i64);
        joined.extend_from_slice(&back.data[0]);
    }
    assert_eq!(&joined[..], audio);
    assert_eq!(
        p.next_sequence_number(),
        first_seq.wrapping_add(packets.len() as u16)
    );
}
