//! L16 depacketizer on arbitrary packets: never panics, hands out whole sample frames (two bytes
//! per channel) on an RTP clock equal to the sample rate (RFC 3551 §4.5.11), and refuses only
//! packets that are not whole frames; then arbitrary audio survives a round trip through the
//! packetizer, in packets of at most 20 ms and the MTU, each stamped with its first frame's time.
//!
//! Input: as `rtp_input` describes. The selector picks the channel count (bits 0-1), the sample
//! rate (bits 2-3: 8, 16, 44.1 or 48 kHz), whether the depacketizer comes from an SDP media
//! section (bit 4: static payload types 10 and 11 for 44.1 kHz, else an rtpmap) or is made
//! directly, and the MTU (bits 5-7). The round trip sends the bytes of all payloads, cut to whole
//! frames.
#![no_main]

mod depacketize;
mod rtp_input;
mod sample_audio;

use libfuzzer_sys::fuzz_target;
use sluice_media::{l16, Depacketizer};

const RATES: [u32; 4] = [8000, 16_000, 44_100, 48_000];

/// An L16 depacketizer, and the payload type its packets must carry.
fn depacketizer(rate: u32, channels: u16, from_sdp: bool) -> (Box<dyn Depacketizer>, u8) {
    if !from_sdp {
        let d = l16::Depacketizer::new(rate, None).with_channels(Some(channels));
        return (Box::new(d), 96);
    }
    // RFC 3551 Table 4: payload types 10 (stereo) and 11 (mono) are L16 at 44.1 kHz.
    let (pt, sdp) = match (rate, channels) {
        (44_100, 2) => (10, "v=0\r\nm=audio 0 RTP/AVP 10\r\n".to_owned()),
        (44_100, 1) => (11, "v=0\r\nm=audio 0 RTP/AVP 11\r\n".to_owned()),
        (rate, 1) => (
            96,
            format!("v=0\r\nm=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/{rate}\r\n"),
        ),
        (rate, n) => (
            96,
            format!("v=0\r\nm=audio 0 RTP/AVP 96\r\na=rtpmap:96 L16/{rate}/{n}\r\n"),
        ),
    };
    sample_audio::from_sdp(&sdp, pt)
}

fuzz_target!(|data: &[u8]| {
    let (selector, packets) = rtp_input::packets(data);
    let channels = u16::from(selector & 3) + 1;
    let rate = RATES[usize::from(selector >> 2 & 3)];
    let from_sdp = selector & 0x10 != 0;
    let frame_bytes = 2 * usize::from(channels);
    let (mut d, pt) = depacketizer(rate, channels, from_sdp);
    let params = d.params().clone();
    assert_eq!(params.codec, "L16");
    assert_eq!(params.clock_rate, rate);
    assert_eq!(params.sample_rate, Some(rate));
    assert_eq!(params.channels, Some(channels));

    let audio = sample_audio::depacketize(d.as_mut(), packets, pt, frame_bytes);

    let mtu = 12 + usize::from(selector >> 5) * 200;
    let mut p = l16::Packetizer::new(96, 7, 0xfff0, mtu, rate, channels);
    let (mut d, _) = depacketizer(rate, channels, false);
    // One frame per tick; at most 20 ms per packet.
    let ticks_per_packet = rate as usize / 50;
    sample_audio::round_trip(
        &mut p,
        d.as_mut(),
        &audio,
        mtu,
        frame_bytes,
        ticks_per_packet,
    );
});
