//! Round trips through the H.264 and H.265 packetizers and depacketizers: random access units come
//! back unchanged; with random packet loss, no access unit glues NAL units of two pictures and every
//! access unit after a loss is flagged.

use bytes::Bytes;
use proptest::prelude::*;
use sluice_media::{h264, h265, AccessUnit, Depacketizer, Packetizer, RtpIn, Timestamp};

/// Which codec a case exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    H264,
    H265,
}

// Real parameter sets (shared/corpus: LV-IP22IR40DVBL for H.264, Dahua for H.265).
const H264_SPS: &[u8] = &[
    0x67, 0x4d, 0x00, 0x2a, 0x95, 0xa8, 0x1e, 0x00, 0x89, 0xf9, 0x61, 0x00, 0x00, 0x03, 0x00, 0x01,
    0x00, 0x00, 0x03, 0x00, 0x32, 0x84,
];
const H264_PPS: &[u8] = &[0x68, 0xee, 0x3c, 0x80];
const H265_VPS: &[u8] = &[
    0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0xb0, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x03, 0x00, 0x5a, 0xac, 0x0c, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00,
    0x32, 0xa8,
];
const H265_SPS: &[u8] = &[
    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0xb0, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
    0x00, 0x5a, 0xa0, 0x05, 0x82, 0x01, 0xe1, 0x63, 0x6b, 0x92, 0x45, 0x2f, 0xcd, 0xc1, 0x41, 0x81,
    0x41, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x0c, 0xa1,
];
const H265_PPS: &[u8] = &[0x44, 0x01, 0xc0, 0xf2, 0xc6, 0x8d, 0x03, 0xb3, 0x40];

/// A NAL unit: `header`, then `body` with emulation prevention bytes inserted (ITU-T H.264
/// §7.4.1) and a final stop bit, as an encoder writes it.
fn nal(header: &[u8], body: &[u8]) -> Bytes {
    let mut out = header.to_vec();
    let mut zeros = 0;
    for &b in body {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out.push(0x80);
    Bytes::from(out)
}

/// `len` pseudo-random bytes, a quarter of them zero (so that emulation prevention is exercised).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            // xorshift64
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x & 3 == 0 {
                0
            } else {
                (x >> 32) as u8
            }
        })
        .collect()
}

/// One generated picture: its NAL units and whether it is a keyframe.
#[derive(Debug, Clone)]
struct Picture {
    keyframe: bool,
    nals: Vec<Bytes>,
}

/// A slice body: `first` sets the leading bit (H.264 first_mb_in_slice == 0, H.265
/// first_slice_segment_in_pic_flag).
fn slice_body(first: bool, mut body: Vec<u8>) -> Vec<u8> {
    match body.first_mut() {
        Some(b) if first => *b |= 0x80,
        Some(b) => *b &= 0x7f,
        None => body.push(if first { 0x80 } else { 0x40 }),
    }
    body
}

fn picture(codec: Codec) -> impl Strategy<Value = Picture> {
    let body = (prop_oneof![1usize..60, 1usize..4000], any::<u64>())
        .prop_map(|(len, seed)| noise(len, seed));
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::collection::vec(body, 1..4),
        0u8..4,
    )
        .prop_map(move |(keyframe, with_params, with_sei, slices, nri)| {
            let mut nals = Vec::new();
            match codec {
                Codec::H264 => {
                    if keyframe && with_params {
                        nals.push(Bytes::from_static(H264_SPS));
                        nals.push(Bytes::from_static(H264_PPS));
                    }
                    if with_sei {
                        nals.push(nal(&[0x06], &[5, 1, 0xaa]));
                    }
                    let header = nri << 5 | if keyframe { 5 } else { 1 };
                    for (i, body) in slices.into_iter().enumerate() {
                        nals.push(nal(&[header], &slice_body(i == 0, body)));
                    }
                }
                Codec::H265 => {
                    if keyframe && with_params {
                        nals.push(Bytes::from_static(H265_VPS));
                        nals.push(Bytes::from_static(H265_SPS));
                        nals.push(Bytes::from_static(H265_PPS));
                    }
                    if with_sei {
                        nals.push(nal(&[39 << 1, 0x01], &[5, 1, 0xaa]));
                    }
                    // IDR_W_RADL or TRAIL_R, temporal id from `nri` for variety.
                    let t = if keyframe { 19 } else { 1 };
                    let header = [t << 1, 1 + (nri & 1)];
                    for (i, body) in slices.into_iter().enumerate() {
                        nals.push(nal(&header, &slice_body(i == 0, body)));
                    }
                }
            }
            Picture { keyframe, nals }
        })
}

/// A stream: pictures with strictly increasing RTP timestamps (wrapping past 2^32 sometimes).
#[derive(Debug, Clone)]
struct Stream {
    pictures: Vec<Picture>,
    timestamps: Vec<u32>,
    mtu: usize,
    aggregate: bool,
    initial_seq: u16,
    ssrc: u32,
}

fn stream(codec: Codec) -> impl Strategy<Value = Stream> {
    (
        proptest::collection::vec(picture(codec), 1..10),
        prop_oneof![any::<u32>(), (u32::MAX - 20_000)..=u32::MAX],
        proptest::collection::vec(1u32..6000, 10),
        prop_oneof![60usize..200, 200usize..1500],
        any::<bool>(),
        prop_oneof![any::<u16>(), 65530u16..=65535],
        any::<u32>(),
    )
        .prop_map(
            |(pictures, start, deltas, mtu, aggregate, initial_seq, ssrc)| {
                let mut timestamps = Vec::new();
                let mut ts = start;
                for delta in deltas.iter().take(pictures.len()) {
                    timestamps.push(ts);
                    ts = ts.wrapping_add(*delta);
                }
                Stream {
                    pictures,
                    timestamps,
                    mtu,
                    aggregate,
                    initial_seq,
                    ssrc,
                }
            },
        )
}

/// The packets of each picture, in order.
fn packetize(codec: Codec, stream: &Stream) -> Vec<Vec<Bytes>> {
    let mut packetizer: Box<dyn Packetizer> = match codec {
        Codec::H264 => Box::new(
            h264::Packetizer::new(96, stream.ssrc, stream.initial_seq, stream.mtu)
                .with_aggregation(stream.aggregate),
        ),
        Codec::H265 => Box::new(
            h265::Packetizer::new(96, stream.ssrc, stream.initial_seq, stream.mtu)
                .with_aggregation(stream.aggregate),
        ),
    };
    stream
        .pictures
        .iter()
        .zip(&stream.timestamps)
        .map(|(picture, &ts)| {
            let au = AccessUnit {
                timestamp: Timestamp {
                    ticks: 0,
                    clock_rate: 90_000,
                },
                keyframe: picture.keyframe,
                discontinuity: false,
                data: picture.nals.clone(),
            };
            let mut out = Vec::new();
            packetizer.packetize(&au, ts, &mut out);
            assert!(out.iter().all(|p| p.len() <= stream.mtu.max(16)));
            out
        })
        .collect()
}

fn depacketizer(codec: Codec) -> Box<dyn Depacketizer> {
    match codec {
        Codec::H264 => Box::new(h264::Depacketizer::new(90_000, None).unwrap()),
        Codec::H265 => Box::new(h265::Depacketizer::new(90_000, None).unwrap()),
    }
}

/// Depacketizes the packets not dropped; `dropped[i][j]` drops packet j of picture i.
fn depacketize(codec: Codec, packets: &[Vec<Bytes>], dropped: &[Vec<bool>]) -> Vec<AccessUnit> {
    let mut d = depacketizer(codec);
    let mut out = Vec::new();
    for (i, picture) in packets.iter().enumerate() {
        for (j, packet) in picture.iter().enumerate() {
            if dropped[i][j] {
                continue;
            }
            let pkt = RtpIn::parse(packet).unwrap();
            d.push(pkt).unwrap();
            while let Some(au) = d.pull() {
                out.push(au);
            }
        }
    }
    out
}

fn round_trip(codec: Codec, stream: &Stream) -> Result<(), TestCaseError> {
    let packets = packetize(codec, stream);
    let none: Vec<Vec<bool>> = packets.iter().map(|p| vec![false; p.len()]).collect();
    let out = depacketize(codec, &packets, &none);
    prop_assert_eq!(out.len(), stream.pictures.len());
    let base = stream.timestamps[0];
    for ((au, picture), &ts) in out.iter().zip(&stream.pictures).zip(&stream.timestamps) {
        prop_assert_eq!(&au.data, &picture.nals);
        prop_assert_eq!(au.keyframe, picture.keyframe);
        prop_assert!(!au.discontinuity);
        prop_assert_eq!(au.timestamp.ticks, i64::from(ts.wrapping_sub(base)));
        prop_assert_eq!(au.timestamp.rtp(base), ts);
    }
    Ok(())
}

fn lossy_round_trip(codec: Codec, stream: &Stream, loss: &[bool]) -> Result<(), TestCaseError> {
    let packets = packetize(codec, stream);
    // The first packet always arrives: a stream joined mid-picture is another matter.
    let mut k = 0;
    let dropped: Vec<Vec<bool>> = packets
        .iter()
        .map(|picture| {
            picture
                .iter()
                .map(|_| {
                    k += 1;
                    k > 1 && loss[k % loss.len()]
                })
                .collect()
        })
        .collect();
    let out = depacketize(codec, &packets, &dropped);
    let base = stream.timestamps[0];
    let mut previous: Option<usize> = None;
    for au in &out {
        // The picture it came from, by timestamp.
        let index = stream
            .timestamps
            .iter()
            .position(|&ts| i64::from(ts.wrapping_sub(base)) == au.timestamp.ticks);
        prop_assert!(
            index.is_some(),
            "timestamp {} of no picture",
            au.timestamp.ticks
        );
        let index = index.unwrap_or_default();
        prop_assert!(previous.is_none_or(|p| p < index), "out of order");
        let nals = &stream.pictures[index].nals;
        // Never glued: a tail of one picture's NAL units.
        prop_assert!(!au.data.is_empty());
        prop_assert!(
            nals.ends_with(&au.data),
            "picture {} gave {} of its {} NAL units, not a tail",
            index,
            au.data.len(),
            nals.len()
        );
        let complete = au.data.len() == nals.len();
        prop_assert!(complete || au.discontinuity, "partial picture not flagged");
        // A partial picture still starts where an access unit can: never at a later slice.
        let first = &au.data[0];
        let later_slice = match codec {
            Codec::H264 => matches!(first[0] & 0x1f, 1 | 5) && first[1] & 0x80 == 0,
            Codec::H265 => (first[0] >> 1) & 0x3f < 32 && first[2] & 0x80 == 0,
        };
        prop_assert!(!later_slice, "picture {} starts at a later slice", index);
        let first_affected = previous.map_or(0, |p| p + 1);
        let lost = dropped[first_affected..=index].iter().flatten().any(|&d| d);
        prop_assert_eq!(au.discontinuity, lost, "picture {}", index);
        let has_key = au.data.iter().any(|n| match codec {
            Codec::H264 => n[0] & 0x1f == 5,
            Codec::H265 => (16..=21).contains(&((n[0] >> 1) & 0x3f)),
        });
        prop_assert_eq!(au.keyframe, has_key);
        previous = Some(index);
    }
    // Pictures none of whose packets were lost all come out.
    for (i, d) in dropped.iter().enumerate() {
        let whole_run = dropped[..=i].iter().flatten().all(|&d| !d);
        if whole_run && !d.is_empty() {
            prop_assert!(out.iter().any(|au| au.data == stream.pictures[i].nals));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn h264_round_trip(stream in stream(Codec::H264)) {
        round_trip(Codec::H264, &stream)?;
    }

    #[test]
    fn h265_round_trip(stream in stream(Codec::H265)) {
        round_trip(Codec::H265, &stream)?;
    }

    #[test]
    fn h264_loss_never_glues(
        stream in stream(Codec::H264),
        loss in proptest::collection::vec(proptest::bool::weighted(0.15), 1..64),
    ) {
        lossy_round_trip(Codec::H264, &stream, &loss)?;
    }

    #[test]
    fn h265_loss_never_glues(
        stream in stream(Codec::H265),
        loss in proptest::collection::vec(proptest::bool::weighted(0.15), 1..64),
    ) {
        lossy_round_trip(Codec::H265, &stream, &loss)?;
    }
}
