//! G.722 depacketizer on arbitrary packets: never panics, hands out whole sample frames on the
//! 8000 Hz RTP clock while reporting a 16 kHz sample rate (RFC 3551 §4.5.2), and refuses only
//! packets that are not whole frames; then arbitrary audio survives a round trip through the
//! packetizer, in packets of at most 20 ms and the MTU, each stamped with its first byte's time.
//!
//! Input: as `rtp_input` describes. The selector picks the channel count (bits 0-1), whether the
//! depacketizer comes from an SDP media section (bit 2: static payload type 9 or an rtpmap) or is
//! made directly, and the MTU (bits 3-7). The round trip sends the bytes of all payloads, cut to
//! whole frames.
#![no_main]

mod depacketize;
mod rtp_input;
mod sample_audio;

use libfuzzer_sys::fuzz_target;
use sluice_media::{g722, Depacketizer};

/// A G.722 depacketizer for `channels`, and the payload type its packets must carry.
fn depacketizer(channels: u16, from_sdp: bool) -> (Box<dyn Depacketizer>, u8) {
    if !from_sdp {
        let d = g722::Depacketizer::new(g722::CLOCK_RATE, None).with_channels(Some(channels));
        return (Box::new(d), 96);
    }
    // RFC 3551 Table 4: payload type 9 is G.722 mono, 8000 Hz RTP clock, no rtpmap needed.
    let (pt, sdp) = match channels {
        1 => (9, "v=0\r\nm=audio 0 RTP/AVP 9\r\n".to_owned()),
        n => (
            96,
            format!("v=0\r\nm=audio 0 RTP/AVP 96\r\na=rtpmap:96 G722/8000/{n}\r\n"),
        ),
    };
    sample_audio::from_sdp(&sdp, pt)
}

fuzz_target!(|data: &[u8]| {
    let (selector, packets) = rtp_input::packets(data);
    let channels = u16::from(selector & 3) + 1;
    let frame_bytes = usize::from(channels);
    let from_sdp = selector & 4 != 0;
    let (mut d, pt) = depacketizer(channels, from_sdp);
    let params = d.params().clone();
    assert_eq!(params.codec, "G722");
    assert_eq!(params.clock_rate, g722::CLOCK_RATE);
    assert_eq!(params.sample_rate, Some(g722::SAMPLE_RATE));
    assert_eq!(params.channels, Some(channels));

    let audio = sample_audio::depacketize(d.as_mut(), packets, pt, frame_bytes);

    let mtu = 12 + usize::from(selector >> 3) * 24;
    let mut p = g722::Packetizer::new(96, 7, 0xfff0, mtu).with_channels(channels);
    let (mut d, _) = depacketizer(channels, false);
    // One byte per channel per tick of the 8000 Hz clock; at most 20 ms (160 ticks) per packet.
    let ticks_per_packet = g722::CLOCK_RATE as usize / 50;
    sample_audio::round_trip(
        &mut p,
        d.as_mut(),
        &audio,
        mtu,
        frame_bytes,
        ticks_per_packet,
    );
});
