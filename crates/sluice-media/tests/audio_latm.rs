//! RFC 6416 `MP4A-LATM`: StreamMuxConfig parsing, out-of-band and in-band configurations, frames
//! spread over packets, and packetizer round trips.

mod common;

use bytes::Bytes;
use proptest::prelude::*;
use sluice_media::latm::{self, StreamMuxConfig};
use sluice_media::{AccessUnit, Depacketizer as _, MediaError, Packetizer as _, RtpIn, Timestamp};

use common::{hex, unhex};

fn pkt(seq: u16, ts: u32, marker: bool, payload: Vec<u8>) -> RtpIn {
    RtpIn {
        sequence_number: seq,
        timestamp: ts,
        marker,
        payload_type: 96,
        ssrc: 0x77,
        payload: Bytes::from(payload),
    }
}

fn drain(d: &mut latm::Depacketizer) -> Vec<AccessUnit> {
    std::iter::from_fn(|| d.pull()).collect()
}

/// Writes bits most significant first.
#[derive(Default)]
struct Bits(Vec<bool>);

impl Bits {
    fn put(&mut self, value: u64, bits: u32) -> &mut Self {
        for i in (0..bits).rev() {
            self.0.push(value >> i & 1 == 1);
        }
        self
    }

    fn bytes(&mut self, data: &[u8]) -> &mut Self {
        for b in data {
            self.put(u64::from(*b), 8);
        }
        self
    }

    /// A StreamMuxConfig (audioMuxVersion 0) for one stream with AudioSpecificConfig 1190.
    fn mux_config(
        &mut self,
        sub_frames: u64,
        frame_length: Option<u64>,
        other_bits: u64,
    ) -> &mut Self {
        self.put(0, 1)
            .put(1, 1)
            .put(sub_frames - 1, 6)
            .put(0, 4)
            .put(0, 3);
        self.put(0x1190, 16);
        match frame_length {
            None => self.put(0, 3).put(0xff, 8),
            Some(len) => self.put(1, 3).put(len, 9),
        };
        if other_bits > 0 {
            self.put(1, 1).put(0, 1).put(other_bits, 8);
        } else {
            self.put(0, 1);
        }
        self.put(0, 1)
    }

    /// PayloadLengthInfo for a variable-length frame.
    fn length(&mut self, len: usize) -> &mut Self {
        for _ in 0..len / 255 {
            self.put(255, 8);
        }
        self.put((len % 255) as u64, 8)
    }

    fn align(&mut self) -> &mut Self {
        while self.0.len() % 8 != 0 {
            self.0.push(false);
        }
        self
    }

    fn finish(&mut self) -> Vec<u8> {
        self.align();
        self.0
            .chunks(8)
            .map(|c| c.iter().fold(0u8, |b, &bit| b << 1 | u8::from(bit)))
            .collect()
    }
}

#[test]
fn stream_mux_configs() {
    // RFC 6416 §7.4 examples and common encoder output.
    for (config, rate, channels) in [
        ("400026203fc0", 24_000, 2),
        ("400024203fc0", 44_100, 2),
        ("400023203fc0", 48_000, 2),
        ("400028103fc0", 16_000, 1),
    ] {
        let mux = StreamMuxConfig::parse(&unhex(config)).unwrap();
        let asc = mux.audio_specific_config();
        assert_eq!(
            (asc.sample_rate, asc.channels),
            (rate, channels),
            "{config}"
        );
        assert_eq!(mux.sub_frames(), 1);
        let d =
            latm::Depacketizer::new(rate, Some(&format!("cpresent=0;config={config}"))).unwrap();
        assert_eq!(d.params().sample_rate, Some(rate));
        assert_eq!(d.params().channels, Some(channels));
        assert_eq!(d.params().codec, "MP4A-LATM");
        assert_eq!(d.params().config.len(), 1);
        let reencoded = StreamMuxConfig::for_audio_specific_config(&d.params().config[0]).unwrap();
        assert_eq!(hex(&reencoded), config);
    }
    // audioMuxVersion 1: lengths given with LatmGetValue.
    let v1 = Bits::default()
        .put(1, 1)
        .put(0, 1)
        .put(0, 2)
        .put(0xff, 8)
        .put(1, 1)
        .put(0, 6)
        .put(0, 4)
        .put(0, 3)
        .put(0, 2)
        .put(16, 8)
        .put(0x1190, 16)
        .put(0, 3)
        .put(0xff, 8)
        .put(0, 2)
        .finish();
    let mux = StreamMuxConfig::parse(&v1).unwrap();
    assert_eq!(mux.audio_specific_config().sample_rate, 48_000);
    for bad in ["", "40", "00002620", "c0002620", "4000262080", "0000ff"] {
        let err = StreamMuxConfig::parse(&unhex(bad)).unwrap_err();
        assert!(
            matches!(
                err,
                MediaError::InvalidStreamMuxConfig { .. }
                    | MediaError::InvalidAudioSpecificConfig { .. }
            ),
            "{bad}: {err}"
        );
    }
}

#[test]
fn out_of_band_config_zero_copy() {
    let mut d = latm::Depacketizer::new(48_000, Some("cpresent=0;config=400023203fc0")).unwrap();
    let frame = vec![9u8; 300];
    let payload = Bits::default().length(300).bytes(&frame).finish();
    let packet = pkt(1, 1000, true, payload);
    let range = packet.payload.as_ptr_range();
    d.push(packet).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 1);
    assert_eq!(&aus[0].data[0][..], &frame[..]);
    assert!(
        range.contains(&aus[0].data[0].as_ptr()),
        "frames share the packet's memory"
    );
    assert_eq!(
        aus[0].timestamp,
        Timestamp {
            ticks: 0,
            clock_rate: 48_000
        }
    );
}

#[test]
fn too_many_frames_in_a_packet_are_rejected() {
    use sluice_media::aac::MAX_AUS_PER_PACKET;
    let elements = |n: usize| {
        let mut bits = Bits::default();
        for _ in 0..n {
            bits.length(1).bytes(b"x");
        }
        bits.finish()
    };
    let mut d = latm::Depacketizer::new(48_000, Some("cpresent=0;config=400023203fc0")).unwrap();
    d.push(pkt(1, 0, true, elements(MAX_AUS_PER_PACKET)))
        .unwrap();
    assert_eq!(drain(&mut d).len(), MAX_AUS_PER_PACKET);
    let err = d
        .push(pkt(2, 1 << 20, true, elements(MAX_AUS_PER_PACKET + 1)))
        .unwrap_err();
    assert_eq!((err.codec, err.seq), ("MP4A-LATM", 2));
    assert!(err.what.contains("512"), "{err}");
    assert!(drain(&mut d).is_empty(), "none of the packet's frames");
}

#[test]
fn in_band_config() {
    // cpresent=1 (the default): the first element carries its StreamMuxConfig, the next reuse it.
    let mut d = latm::Depacketizer::new(48_000, None).unwrap();
    let first = Bits::default()
        .put(0, 1)
        .mux_config(1, None, 0)
        .length(3)
        .bytes(b"abc")
        .finish();
    d.push(pkt(1, 0, true, first)).unwrap();
    let aus = drain(&mut d);
    assert_eq!(&aus[0].data[0][..], b"abc");
    assert_eq!(d.params().sample_rate, Some(48_000));
    assert_eq!(d.params().channels, Some(2));
    let next = Bits::default().put(1, 1).length(2).bytes(b"de").finish();
    d.push(pkt(2, 1024, true, next)).unwrap();
    let aus = drain(&mut d);
    assert_eq!(&aus[0].data[0][..], b"de");
    assert_eq!(aus[0].timestamp.ticks, 1024);
    // useSameStreamMux before any config is an error.
    let mut fresh = latm::Depacketizer::new(48_000, None).unwrap();
    let next = Bits::default().put(1, 1).length(2).bytes(b"de").finish();
    assert!(fresh.push(pkt(1, 0, true, next)).is_err());
}

#[test]
fn sub_frames_fixed_lengths_and_other_data() {
    // Two frames per element: stamped one frame duration apart.
    let config = hex(&Bits::default().mux_config(2, None, 0).finish());
    let mut d =
        latm::Depacketizer::new(48_000, Some(&format!("cpresent=0;config={config}"))).unwrap();
    let payload = Bits::default()
        .length(1)
        .bytes(b"a")
        .length(2)
        .bytes(b"bc")
        .finish();
    d.push(pkt(1, 0, true, payload)).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 2);
    assert_eq!(
        (&aus[1].data[0][..], aus[1].timestamp.ticks),
        (&b"bc"[..], 1024)
    );

    // frameLengthType 1: every frame is frameLength + 20 bytes, no PayloadLengthInfo; two elements
    // in one packet; 8 bits of other data after each.
    let config = hex(&Bits::default().mux_config(1, Some(2), 8).finish());
    let mut d =
        latm::Depacketizer::new(48_000, Some(&format!("cpresent=0;config={config}"))).unwrap();
    let mut payload = vec![1u8; 22];
    payload.push(0xee);
    payload.extend_from_slice(&[2u8; 22]);
    payload.push(0xee);
    d.push(pkt(1, 0, true, payload)).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 2);
    assert_eq!(&aus[0].data[0][..], &[1u8; 22]);
    assert_eq!(&aus[1].data[0][..], &[2u8; 22]);
    assert_eq!(aus[1].timestamp.ticks, 1024);
}

#[test]
fn fragments_loss_and_missing_markers() {
    let fmtp = "cpresent=0;config=400023203fc0";
    let mut d = latm::Depacketizer::new(48_000, Some(fmtp)).unwrap();
    let frame: Vec<u8> = (0..600).map(|i| i as u8).collect();
    let element = Bits::default().length(600).bytes(&frame).finish();
    d.push(pkt(1, 0, false, element[..250].to_vec())).unwrap();
    d.push(pkt(2, 0, true, element[250..].to_vec())).unwrap();
    assert_eq!(&drain(&mut d)[0].data[0][..], &frame[..]);

    // Loss of an element's first half: its tail is not read as an element; the next is flagged.
    d.push(pkt(4, 1024, true, element[250..].to_vec())).unwrap();
    assert!(drain(&mut d).is_empty());
    d.push(pkt(5, 2048, true, element.clone())).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 1);
    assert!(aus[0].discontinuity);

    // A sender that never sets the marker: the element is parsed when the timestamp moves on.
    d.push(pkt(6, 3072, false, element.clone())).unwrap();
    assert!(drain(&mut d).is_empty());
    d.push(pkt(7, 4096, false, element.clone())).unwrap();
    let aus = drain(&mut d);
    assert_eq!(aus.len(), 1);
    assert_eq!(aus[0].timestamp.ticks, 3072);
    assert!(!aus[0].discontinuity);
}

#[test]
fn bad_format_parameters() {
    for bad in ["cpresent=0", "cpresent=0;config=xyz", "config=00002620"] {
        assert!(latm::Depacketizer::new(48_000, Some(bad)).is_err(), "{bad}");
    }
    assert_eq!(
        latm::Packetizer::fmtp(&[0x11, 0x90]).unwrap(),
        "object=2;cpresent=0;config=400023203fc0"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn round_trip(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..2000), 1..10),
        mtu in 20usize..1500,
        start in any::<u32>(),
    ) {
        let fmtp = latm::Packetizer::fmtp(&[0x11, 0x90]).unwrap();
        let mut p = latm::Packetizer::new(96, 1, 0, mtu);
        let mut d = latm::Depacketizer::new(48_000, Some(&fmtp)).unwrap();
        let mut got = Vec::new();
        for (i, frame) in frames.iter().enumerate() {
            let au = AccessUnit {
                timestamp: Timestamp { ticks: 0, clock_rate: 48_000 },
                keyframe: true,
                discontinuity: false,
                data: vec![Bytes::from(frame.clone())],
            };
            let mut out = Vec::new();
            p.packetize(&au, start.wrapping_add(1024 * i as u32), &mut out);
            for (n, packet) in out.iter().enumerate() {
                prop_assert!(packet.len() <= mtu);
                let rtp = RtpIn::parse(packet).unwrap();
                prop_assert_eq!(rtp.marker, n + 1 == out.len());
                d.push(rtp).unwrap();
                got.extend(std::iter::from_fn(|| d.pull()));
            }
        }
        prop_assert_eq!(got.len(), frames.len());
        for (i, (au, frame)) in got.iter().zip(&frames).enumerate() {
            prop_assert_eq!(&au.data[0][..], &frame[..]);
            prop_assert_eq!(au.timestamp.ticks, 1024 * i as i64);
        }
    }

    #[test]
    fn hostile_packets_do_not_panic(
        in_band in any::<bool>(),
        packets in prop::collection::vec(
            (0u16..6, 0u32..3, any::<bool>(), prop::collection::vec(any::<u8>(), 0..200)),
            1..40,
        ),
    ) {
        let fmtp = if in_band { "cpresent=1" } else { "cpresent=0;config=400023203fc0" };
        let mut d = latm::Depacketizer::new(48_000, Some(fmtp)).unwrap();
        for (seq, ts, marker, payload) in packets {
            let _ = d.push(pkt(seq, ts * 1024, marker, payload));
            while let Some(au) = d.pull() {
                prop_assert!(!au.data[0].is_empty());
            }
        }
    }

    #[test]
    fn hostile_configs_do_not_panic(config in prop::collection::vec(any::<u8>(), 0..24)) {
        let _ = StreamMuxConfig::parse(&config);
    }
}
