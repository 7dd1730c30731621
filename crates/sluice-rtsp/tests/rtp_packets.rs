//! RTP packet views against the recorded Wowza capture, handmade layouts and malformed packets.

use std::collections::BTreeMap;
use std::fs;

use bytes::BytesMut;
use proptest::prelude::*;
use sluice_rtsp::rtp::{self, RtpError, RtpHeader, RtpPacket};

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/captures/wowza-bunny-interleaved.rtsp"
);

/// Splits an RTSP interleaved byte stream (`$`, channel, 16-bit length, data) into `(channel,
/// data)`.
fn interleaved_frames(mut stream: &[u8]) -> Vec<(u8, &[u8])> {
    let mut frames = Vec::new();
    while let [b'$', channel, hi, lo, rest @ ..] = stream {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        assert!(rest.len() >= len, "truncated frame");
        frames.push((*channel, &rest[..len]));
        stream = &rest[len..];
    }
    assert!(
        stream.is_empty(),
        "{} bytes of non-frame data",
        stream.len()
    );
    frames
}

fn packet(header: RtpHeader, payload: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    header.write(&mut buf);
    buf.extend_from_slice(payload);
    buf
}

const HEADER: RtpHeader = RtpHeader {
    marker: false,
    payload_type: 96,
    sequence_number: 0x1234,
    timestamp: 0xdead_beef,
    ssrc: 0x0102_0304,
};

#[test]
fn wowza_capture_is_valid_rtp() {
    let stream = fs::read(CAPTURE).unwrap();
    let frames = interleaved_frames(&stream);
    assert_eq!(frames.len(), 371);

    // channel -> (payload type, SSRC, last sequence number, packet count)
    let mut channels: BTreeMap<u8, (u8, u32, u16, usize)> = BTreeMap::new();
    for (index, (channel, data)) in frames.iter().enumerate() {
        let packet = RtpPacket::parse(data).unwrap_or_else(|e| panic!("frame {index}: {e}"));
        assert_eq!(packet.version(), 2);
        assert_eq!(packet.header_len(), 12, "frame {index}");
        assert_eq!(
            (packet.csrc_count(), packet.extension(), packet.padding()),
            (0, None, false)
        );
        assert_eq!(packet.payload().len(), data.len() - 12);
        match channels.get_mut(channel) {
            None => {
                channels.insert(
                    *channel,
                    (
                        packet.payload_type(),
                        packet.ssrc(),
                        packet.sequence_number(),
                        1,
                    ),
                );
            }
            Some((pt, ssrc, seq, count)) => {
                assert_eq!(packet.payload_type(), *pt, "frame {index}");
                assert_eq!(packet.ssrc(), *ssrc, "frame {index}");
                assert_eq!(
                    packet.sequence_number(),
                    seq.wrapping_add(1),
                    "frame {index}: not contiguous"
                );
                *seq = packet.sequence_number();
                *count += 1;
            }
        }
    }
    let summary: Vec<(u8, u8, usize)> = channels
        .iter()
        .map(|(ch, (pt, _, _, n))| (*ch, *pt, *n))
        .collect();
    assert_eq!(summary, [(0, 96, 102), (2, 97, 269)]);

    // The first frame: the H.264 stream's first packet, a STAP-A with SPS and PPS.
    let (channel, data) = frames[0];
    let first = RtpPacket::parse(data).unwrap();
    assert_eq!(channel, 2);
    assert_eq!(
        first.header(),
        RtpHeader {
            marker: true,
            payload_type: 97,
            sequence_number: 1,
            timestamp: 0,
            ssrc: 0x1c73_08a2
        }
    );
    assert_eq!(first.payload()[0] & 0x1f, 24, "STAP-A");
}

#[test]
fn header_write_and_parse() {
    let header = RtpHeader {
        marker: true,
        ..HEADER
    };
    let buf = packet(header, b"hello");
    assert_eq!(
        &buf[..12],
        [0x80, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]
    );
    let parsed = RtpPacket::parse(&buf).unwrap();
    assert_eq!(parsed.header(), header);
    assert_eq!(parsed.payload(), b"hello");
    assert_eq!(parsed.as_bytes(), &buf[..]);
    assert_eq!(parsed.csrcs().count(), 0);

    // The payload type's eighth bit would be the marker: it is dropped.
    let buf = packet(
        RtpHeader {
            payload_type: 0xff,
            ..HEADER
        },
        b"",
    );
    let parsed = RtpPacket::parse(&buf).unwrap();
    assert_eq!((parsed.payload_type(), parsed.marker()), (0x7f, false));
    assert!(parsed.payload().is_empty());
}

#[test]
fn csrcs_extension_and_padding() {
    let mut buf = vec![
        0b1011_0010,
        0x80 | 33,
        0,
        7,
        0,
        0,
        0,
        9,
        0xaa,
        0xbb,
        0xcc,
        0xdd,
    ];
    buf.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]); // two CSRCs
    buf.extend_from_slice(&[0xbe, 0xde, 0, 2, 0x10, 0xff, 0, 0, 1, 2, 3, 4]); // extension, 2 words
    buf.extend_from_slice(b"payload");
    buf.extend_from_slice(&[0, 0, 3]); // 3 bytes of padding
    let parsed = RtpPacket::parse(&buf).unwrap();
    assert!(parsed.padding() && parsed.has_extension() && parsed.marker());
    assert_eq!(
        (
            parsed.csrc_count(),
            parsed.payload_type(),
            parsed.sequence_number()
        ),
        (2, 33, 7)
    );
    assert_eq!((parsed.timestamp(), parsed.ssrc()), (9, 0xaabb_ccdd));
    assert_eq!(parsed.csrcs().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        parsed.extension(),
        Some((0xbede, &[0x10, 0xff, 0, 0, 1, 2, 3, 4][..]))
    );
    assert_eq!(parsed.header_len(), 12 + 8 + 12);
    assert_eq!(parsed.payload(), b"payload");
    assert_eq!(parsed.padding_len(), 3);
    assert!(format!("{parsed:?}").contains("aabbccdd"));

    // Padding may take up the whole payload; an empty extension is legal.
    let empty = [
        0xb0, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x12, 0x34, 0, 0, 0, 0, 0, 4,
    ];
    let parsed = RtpPacket::parse(&empty).unwrap();
    assert_eq!(parsed.extension(), Some((0x1234, &[][..])));
    assert!(parsed.payload().is_empty());
}

#[test]
fn malformed_packets_are_rejected() {
    let base = packet(HEADER, b"abcd");
    assert_eq!(
        RtpPacket::parse(&base[..11]),
        Err(RtpError::TooShort { len: 11 })
    );
    assert_eq!(RtpPacket::parse(&[]), Err(RtpError::TooShort { len: 0 }));

    let mut v1 = base.to_vec();
    v1[0] = 0x40;
    assert_eq!(
        RtpPacket::parse(&v1),
        Err(RtpError::BadVersion { version: 1 })
    );

    // CSRC count 15 needs 72 bytes.
    let mut csrc = base.to_vec();
    csrc[0] |= 0x0f;
    assert_eq!(
        RtpPacket::parse(&csrc),
        Err(RtpError::CsrcOverrun {
            ssrc: 0x0102_0304,
            sequence_number: 0x1234,
            csrc_count: 15,
            len: 16
        })
    );

    // Extension flag with only 2 bytes after the header, then with a length that overruns.
    let mut ext = packet(HEADER, b"ab").to_vec();
    ext[0] |= 0x10;
    assert!(matches!(
        RtpPacket::parse(&ext),
        Err(RtpError::ExtensionOverrun {
            offset: 12,
            len: 14,
            ..
        })
    ));
    let mut ext = packet(HEADER, &[0xbe, 0xde, 0, 2, 1, 2, 3, 4]).to_vec();
    ext[0] |= 0x10;
    assert!(matches!(
        RtpPacket::parse(&ext),
        Err(RtpError::ExtensionOverrun { .. })
    ));

    // Padding longer than the payload, and a zero padding count.
    let mut pad = packet(HEADER, &[1, 2, 3, 5]).to_vec();
    pad[0] |= 0x20;
    assert_eq!(
        RtpPacket::parse(&pad),
        Err(RtpError::BadPadding {
            ssrc: 0x0102_0304,
            sequence_number: 0x1234,
            padding: 5,
            available: 4
        })
    );
    let mut zero = packet(HEADER, &[1, 2, 3, 0]).to_vec();
    zero[0] |= 0x20;
    assert!(matches!(
        RtpPacket::parse(&zero),
        Err(RtpError::BadPadding { padding: 0, .. })
    ));
    let message = RtpPacket::parse(&pad).unwrap_err().to_string();
    assert!(message.contains("seq=4660"), "{message}");
}

#[test]
fn in_place_rewrites() {
    let mut buf = packet(HEADER, b"data").to_vec();
    assert!(rtp::set_sequence_number(&mut buf, 0xfffe));
    assert!(rtp::set_timestamp(&mut buf, 123_456));
    assert!(rtp::set_ssrc(&mut buf, 0xcafe_f00d));
    let parsed = RtpPacket::parse(&buf).unwrap();
    assert_eq!(
        parsed.header(),
        RtpHeader {
            sequence_number: 0xfffe,
            timestamp: 123_456,
            ssrc: 0xcafe_f00d,
            ..HEADER
        }
    );
    assert_eq!(parsed.payload(), b"data");

    let mut short = [0x80u8; 11];
    assert!(!rtp::set_sequence_number(&mut short, 1));
    assert!(!rtp::set_timestamp(&mut short, 1));
    assert!(!rtp::set_ssrc(&mut short, 1));
    assert_eq!(short, [0x80; 11]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        if let Ok(parsed) = RtpPacket::parse(&bytes) {
            prop_assert_eq!(parsed.version(), 2);
            prop_assert_eq!(parsed.header_len() + parsed.payload().len() + parsed.padding_len(), bytes.len());
            prop_assert_eq!(parsed.csrcs().count(), usize::from(parsed.csrc_count()));
            prop_assert_eq!(parsed.extension().is_some(), parsed.has_extension());
            let _ = format!("{parsed:?}");
        }
    }

    #[test]
    fn header_round_trips(
        marker: bool, payload_type in 0u8..128, sequence_number: u16, timestamp: u32, ssrc: u32,
        payload in prop::collection::vec(any::<u8>(), 0..32),
    ) {
        let header = RtpHeader { marker, payload_type, sequence_number, timestamp, ssrc };
        let buf = packet(header, &payload);
        let parsed = RtpPacket::parse(&buf).unwrap();
        prop_assert_eq!(parsed.header(), header);
        prop_assert_eq!(parsed.payload(), &payload[..]);
    }
}
