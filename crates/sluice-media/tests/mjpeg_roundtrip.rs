//! RFC 2435 Motion JPEG: real baseline JPEG files through the packetizer and back through the
//! depacketizer.
//!
//! The files under `tests/data/` were made once with
//! `ffmpeg -f lavfi -i testsrc=size=64x48 -frames:v 1 -pix_fmt yuvj420p -huffman default -q:v 5`
//! (and `smptebars` 128x96 with `-force_duplicated_matrix 1 -q:v 10`; `testsrc2` 80x64 `yuvj422p`,
//! `testsrc` 32x32 with `-huffman optimal`, both refused) and with GStreamer
//! `videotestsrc pattern=ball ! video/x-raw,width=96,height=64,format=I420 ! jpegenc quality=80`
//! (and `pattern=smpte`, 80x64 `Y42B`, `quality=60`).

use std::path::PathBuf;
use std::process::Command;

use bytes::Bytes;
use proptest::prelude::*;
use sluice_media::mjpeg::{self, quantization_tables};
use sluice_media::{AccessUnit, Depacketizer as _, MediaError, Packetizer as _, RtpIn, Timestamp};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// The files RFC 2435 can carry: name, width, height.
const CARRIABLE: [(&str, u32, u32); 4] = [
    ("testsrc-64x48-420.jpg", 64, 48),
    ("gst-smpte-80x64-422.jpg", 80, 64),
    ("smptebars-128x96-420.jpg", 128, 96),
    ("gst-ball-96x64-420.jpg", 96, 64),
];

fn read(name: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(DATA).join(name)).unwrap()
}

/// The entropy-coded data of a JPEG file: after the SOS segment, up to EOI.
fn scan_data(jpeg: &[u8]) -> &[u8] {
    let mut at = 2;
    loop {
        assert_eq!(jpeg[at], 0xff, "marker expected at {at}");
        let marker = jpeg[at + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        at += 2 + len;
        if marker == 0xda {
            let end = jpeg.len() - 2;
            assert_eq!(&jpeg[end..], &[0xff, 0xd9], "file ends with EOI");
            return &jpeg[at..end];
        }
    }
}

/// The payloads of the segments with marker `marker`.
fn segments(jpeg: &[u8], marker: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut at = 2;
    while jpeg[at + 1] != 0xda {
        let len = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if jpeg[at + 1] == marker {
            out.push(&jpeg[at + 4..at + 2 + len]);
        }
        at += 2 + len;
    }
    out
}

fn parse(packets: &[Bytes]) -> Vec<RtpIn> {
    packets.iter().map(|p| RtpIn::parse(p).unwrap()).collect()
}

fn depacketize(d: &mut mjpeg::Depacketizer, packets: Vec<RtpIn>) -> Vec<AccessUnit> {
    let mut out = Vec::new();
    for pkt in packets {
        d.push(pkt).unwrap();
        out.extend(std::iter::from_fn(|| d.pull()));
    }
    out
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("-version").output().is_ok();
    if !found {
        eprintln!("{name} not installed: skipping the decoder check");
    }
    found
}

fn temp_file(name: &str, data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("sluice-mjpeg-{}-{name}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    path
}

/// Width and height as ffprobe reads them.
fn probe_size(jpeg: &[u8], name: &str) -> (u32, u32) {
    let path = temp_file(name, jpeg);
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (w, h) = text.trim().split_once(',').unwrap();
    (w.parse().unwrap(), h.parse().unwrap())
}

/// The raw decoded picture as ffmpeg produces it.
fn decode(jpeg: &[u8], name: &str) -> Vec<u8> {
    let path = temp_file(name, jpeg);
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-"])
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn packetize(jpeg: &[u8], mtu: usize, timestamp: u32) -> Vec<Bytes> {
    let mut p = mjpeg::Packetizer::new(26, 0x1234, 100, mtu);
    let mut out = Vec::new();
    p.packetize_jpeg(jpeg, timestamp, &mut out).unwrap();
    assert_eq!(p.next_sequence_number() as usize, 100 + out.len());
    out
}

#[test]
fn real_jpegs_round_trip() {
    let have_ffmpeg = tool("ffprobe") && tool("ffmpeg");
    for (name, width, height) in CARRIABLE {
        let jpeg = read(name);
        for mtu in [1400, 300, 170] {
            let packets = packetize(&jpeg, mtu, 90_000);
            // MTU respected, marker only on the last packet, sequence numbers contiguous.
            for (i, p) in packets.iter().enumerate() {
                assert!(
                    p.len() <= mtu,
                    "{name} mtu {mtu}: packet {i} is {} bytes",
                    p.len()
                );
                let rtp = RtpIn::parse(p).unwrap();
                assert_eq!(rtp.marker, i + 1 == packets.len());
                assert_eq!(rtp.sequence_number as usize, 100 + i);
                assert_eq!(rtp.timestamp, 90_000);
            }
            if mtu == 1400 && jpeg.len() < 1300 {
                assert_eq!(packets.len(), 1, "{name} fits one packet");
            }
            let mut d = mjpeg::Depacketizer::new(90_000, None);
            let aus = depacketize(&mut d, parse(&packets));
            assert_eq!(aus.len(), 1, "{name} mtu {mtu}");
            let au = &aus[0];
            assert!(au.keyframe);
            assert!(!au.discontinuity);
            assert_eq!(
                au.timestamp,
                Timestamp {
                    ticks: 0,
                    clock_rate: 90_000
                }
            );
            let out = &au.data[0];
            assert_eq!(
                scan_data(out),
                scan_data(&jpeg),
                "{name}: scan data differs"
            );
            assert_eq!(d.params().width, Some(width));
            assert_eq!(d.params().height, Some(height));
            assert_eq!(d.params().codec, "JPEG");
            if have_ffmpeg && mtu == 300 {
                assert_eq!(probe_size(out, name), (width, height), "{name}");
                assert_eq!(
                    decode(out, name),
                    decode(&jpeg, name),
                    "{name}: pixels differ"
                );
            }
        }
    }
}

#[test]
fn chroma_table_is_carried_when_it_differs() {
    // GStreamer's encoder quantizes chroma with table 1: both go in-band and come back.
    let jpeg = read("gst-ball-96x64-420.jpg");
    let packets = packetize(&jpeg, 1400, 0);
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    let aus = depacketize(&mut d, parse(&packets));
    let out = &aus[0].data[0];
    let original: Vec<&[u8]> = segments(&jpeg, 0xdb);
    let rebuilt: Vec<&[u8]> = segments(out, 0xdb);
    assert_eq!(rebuilt, original);
    // ffmpeg's files use table 0 for every component: one table is sent.
    let jpeg = read("testsrc-64x48-420.jpg");
    let packets = packetize(&jpeg, 1400, 0);
    let aus = depacketize(&mut mjpeg::Depacketizer::new(90_000, None), parse(&packets));
    assert_eq!(segments(&aus[0].data[0], 0xdb), segments(&jpeg, 0xdb));
}

#[test]
fn files_rfc_2435_cannot_carry_are_refused() {
    let mut p = mjpeg::Packetizer::new(26, 1, 0, 1400);
    let mut out = Vec::new();
    // Optimized Huffman tables: the receiver would rebuild the standard ones.
    let optimal = read("testsrc-32x32-optimal-huffman.jpg");
    let err = p.packetize_jpeg(&optimal, 0, &mut out).unwrap_err();
    assert!(matches!(err, MediaError::InvalidJpeg { .. }), "{err}");
    assert!(out.is_empty());
    // ffmpeg's yuvj422p codes Y 2x2 and chroma 1x2: same ratios as RFC 2435 type 0 (Y 2x1,
    // chroma 1x1) but a different MCU layout, which the receiver could not rebuild.
    let tall_chroma = read("testsrc2-80x64-422-chroma-1x2.jpg");
    assert!(p.packetize_jpeg(&tall_chroma, 0, &mut out).is_err());
    assert!(out.is_empty());
    // Not a JPEG at all, and a truncated one.
    assert!(p.packetize_jpeg(b"hello", 0, &mut out).is_err());
    let jpeg = read("testsrc-64x48-420.jpg");
    assert!(p.packetize_jpeg(&jpeg[..200], 0, &mut out).is_err());
    // The trait method skips what it cannot send.
    let au = AccessUnit {
        timestamp: Timestamp {
            ticks: 0,
            clock_rate: 90_000,
        },
        keyframe: true,
        discontinuity: false,
        data: vec![Bytes::from(optimal)],
    };
    p.packetize(&au, 0, &mut out);
    assert!(out.is_empty());
    assert_eq!(p.next_sequence_number(), 0);
}

/// One RFC 2435 packet: main header, optional restart header, optional table header, data.
#[allow(clippy::too_many_arguments)]
fn jpeg_packet(
    seq: u16,
    ts: u32,
    marker: bool,
    offset: u32,
    kind: u8,
    q: u8,
    restart: Option<u16>,
    tables: Option<(u8, &[u8])>,
    data: &[u8],
) -> RtpIn {
    let mut payload = vec![0];
    payload.extend_from_slice(&offset.to_be_bytes()[1..]);
    payload.extend_from_slice(&[kind, q, 64 / 8, 48 / 8]);
    if let Some(interval) = restart {
        payload.extend_from_slice(&interval.to_be_bytes());
        payload.extend_from_slice(&[0xff, 0xff]);
    }
    if let Some((precision, t)) = tables {
        payload.extend_from_slice(&[0, precision]);
        payload.extend_from_slice(&(t.len() as u16).to_be_bytes());
        payload.extend_from_slice(t);
    }
    payload.extend_from_slice(data);
    RtpIn {
        sequence_number: seq,
        timestamp: ts,
        marker,
        payload_type: 26,
        ssrc: 0x55,
        payload: Bytes::from(payload),
    }
}

#[test]
fn q_factor_tables_are_rebuilt() {
    let jpeg = read("testsrc-64x48-420.jpg");
    let scan = scan_data(&jpeg);
    let (a, b) = scan.split_at(scan.len() / 2);
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    let aus = depacketize(
        &mut d,
        vec![
            jpeg_packet(1, 3000, false, 0, 1, 50, None, None, a),
            jpeg_packet(2, 3000, true, a.len() as u32, 1, 50, None, None, b),
        ],
    );
    assert_eq!(aus.len(), 1);
    let out = &aus[0].data[0];
    let [luma, chroma] = quantization_tables(50);
    let dqt = segments(out, 0xdb);
    assert_eq!(dqt.len(), 2);
    assert_eq!((dqt[0][0], &dqt[0][1..]), (0, &luma[..]));
    assert_eq!((dqt[1][0], &dqt[1][1..]), (1, &chroma[..]));
    assert_eq!(scan_data(out), scan);
    // The same coefficients dequantized differently: still a decodable 64x48 picture.
    if tool("ffprobe") {
        assert_eq!(probe_size(out, "q50.jpg"), (64, 48));
    }
}

#[test]
fn restart_marker_header_becomes_dri() {
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    let aus = depacketize(
        &mut d,
        vec![jpeg_packet(
            1,
            0,
            true,
            0,
            65,
            80,
            Some(4),
            None,
            &[1, 2, 3],
        )],
    );
    let dri = segments(&aus[0].data[0], 0xdd);
    assert_eq!(dri, vec![&[0, 4][..]]);
    // And the packetizer writes the restart header for a file with DRI.
    let jpeg = read("testsrc-64x48-420.jpg");
    let mut with_dri = jpeg[..2].to_vec();
    with_dri.extend_from_slice(&[0xff, 0xdd, 0, 4, 0, 9]);
    with_dri.extend_from_slice(&jpeg[2..]);
    let packets = packetize(&with_dri, 1400, 0);
    let rtp = RtpIn::parse(&packets[0]).unwrap();
    assert_eq!(
        rtp.payload[4],
        64 + 1,
        "type 65: 4:2:0 with restart markers"
    );
    assert_eq!(&rtp.payload[8..12], &[0, 9, 0xff, 0xff]);
    let aus = depacketize(&mut mjpeg::Depacketizer::new(90_000, None), parse(&packets));
    assert_eq!(segments(&aus[0].data[0], 0xdd), vec![&[0, 9][..]]);
    assert_eq!(scan_data(&aus[0].data[0]), scan_data(&jpeg));
}

#[test]
fn in_band_tables_are_cached_for_static_q() {
    let tables: Vec<u8> = (1..=128).collect();
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    let aus = depacketize(
        &mut d,
        vec![
            jpeg_packet(1, 0, true, 0, 0, 200, None, Some((0, &tables)), &[9]),
            // Q 128..=254 may omit tables once sent.
            jpeg_packet(2, 3000, true, 0, 0, 200, None, Some((0, &[])), &[9]),
        ],
    );
    assert_eq!(aus.len(), 2);
    assert_eq!(
        segments(&aus[0].data[0], 0xdb),
        segments(&aus[1].data[0], 0xdb)
    );
    assert_eq!(&segments(&aus[1].data[0], 0xdb)[1][1..], &tables[64..]);
    // Q=255 must always carry them; a 16-bit table is 128 bytes.
    let wide: Vec<u8> = (0..128).collect();
    assert!(d
        .push(jpeg_packet(
            3,
            6000,
            true,
            0,
            0,
            255,
            None,
            Some((0, &[])),
            &[9]
        ))
        .is_err());
    d.push(jpeg_packet(
        4,
        9000,
        true,
        0,
        0,
        255,
        None,
        Some((1, &wide)),
        &[9],
    ))
    .unwrap();
    let au = d.pull().unwrap();
    assert!(au.discontinuity, "the frame with the error was lost");
    let dqt = segments(&au.data[0], 0xdb);
    assert_eq!(dqt.len(), 1);
    assert_eq!(dqt[0][0], 0x10, "Pq=1: 16-bit table");
    // Table data that is not whole tables.
    assert!(d
        .push(jpeg_packet(
            5,
            12_000,
            true,
            0,
            0,
            255,
            None,
            Some((0, &wide[..70])),
            &[9]
        ))
        .is_err());
}

#[test]
fn loss_drops_the_frame_and_flags_the_next() {
    let jpeg = read("testsrc-64x48-420.jpg");
    let mut packets = parse(&packetize(&jpeg, 200, 1000));
    assert!(packets.len() >= 3);
    let mut second = parse(&packetize(&jpeg, 200, 4000));
    for (i, p) in second.iter_mut().enumerate() {
        p.sequence_number = packets.len() as u16 + 100 + i as u16;
    }
    packets.remove(1);
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    let aus = depacketize(&mut d, packets.into_iter().chain(second).collect());
    assert_eq!(aus.len(), 1, "the damaged frame is dropped, never glued");
    assert!(aus[0].discontinuity);
    assert_eq!(aus[0].timestamp.ticks, 3000);
    assert_eq!(scan_data(&aus[0].data[0]), scan_data(&jpeg));
}

#[test]
fn a_missing_marker_drops_the_frame() {
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    let aus = depacketize(
        &mut d,
        vec![
            jpeg_packet(1, 0, false, 0, 1, 50, None, None, &[1, 2]),
            jpeg_packet(2, 3000, true, 0, 1, 50, None, None, &[3, 4]),
        ],
    );
    assert_eq!(aus.len(), 1);
    assert!(aus[0].discontinuity);
    assert_eq!(aus[0].timestamp.ticks, 3000);
}

#[test]
fn fragments_of_another_timestamp_and_other_payload_types_are_dropped() {
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    let mut stray = jpeg_packet(2, 999, false, 2, 1, 50, None, None, &[7, 7]);
    stray.sequence_number = 2;
    let mut other_pt = jpeg_packet(3, 0, false, 2, 1, 50, None, None, &[8, 8]);
    other_pt.payload_type = 50;
    other_pt.sequence_number = 2;
    let aus = depacketize(
        &mut d,
        vec![
            // Joined mid-frame: dropped quietly.
            jpeg_packet(0, 500, false, 40, 1, 50, None, None, &[0]),
            jpeg_packet(1, 0, false, 0, 1, 50, None, None, &[1, 2]),
            stray,
            other_pt,
            jpeg_packet(3, 0, true, 2, 1, 50, None, None, &[3, 4]),
        ],
    );
    assert_eq!(aus.len(), 1);
    assert!(!aus[0].discontinuity);
    assert_eq!(scan_data(&aus[0].data[0]), &[1, 2, 3, 4]);
}

#[test]
fn ssrc_change_resets() {
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    d.push(jpeg_packet(1, 0, false, 0, 1, 50, None, None, &[1, 2]))
        .unwrap();
    let mut p = jpeg_packet(2, 0, true, 2, 1, 50, None, None, &[3, 4]);
    p.ssrc = 0x66;
    d.push(p).unwrap();
    assert!(
        d.pull().is_none(),
        "a continuation from another SSRC is not glued"
    );
    let mut p = jpeg_packet(3, 3000, true, 0, 1, 50, None, None, &[5]);
    p.ssrc = 0x66;
    d.push(p).unwrap();
    let au = d.pull().unwrap();
    assert!(au.discontinuity);
    assert_eq!(scan_data(&au.data[0]), &[5]);
}

#[test]
fn bad_headers_are_errors() {
    let mut d = mjpeg::Depacketizer::new(90_000, None);
    for (seq, (kind, q)) in [(2, 50), (130, 50), (0, 0), (0, 110)]
        .into_iter()
        .enumerate()
    {
        let err = d
            .push(jpeg_packet(
                seq as u16,
                0,
                true,
                0,
                kind,
                q,
                None,
                None,
                &[1],
            ))
            .unwrap_err();
        assert_eq!(err.codec, "JPEG");
    }
    let mut short = jpeg_packet(4, 0, true, 0, 0, 50, None, None, &[]);
    short.payload = short.payload.slice(..5);
    assert!(d.push(short).is_err());
    let mut zero = jpeg_packet(5, 0, true, 0, 0, 50, None, None, &[1]);
    let mut bytes = zero.payload.to_vec();
    bytes[6] = 0;
    zero.payload = Bytes::from(bytes);
    assert!(d.push(zero).is_err());
}

/// A JPEG file with the headers of a real one and `scan` as entropy-coded data.
fn with_scan(headers_from: &[u8], scan: &[u8]) -> Vec<u8> {
    let original = scan_data(headers_from);
    let start = original.as_ptr() as usize - headers_from.as_ptr() as usize;
    let mut out = headers_from[..start].to_vec();
    out.extend_from_slice(scan);
    out.extend_from_slice(&[0xff, 0xd9]);
    out
}

/// Entropy-coded bytes: any byte, with 0xFF always stuffed (followed by 0x00) or a restart marker.
fn scan_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..5000).prop_map(|raw| {
        let mut out = Vec::with_capacity(raw.len() * 2);
        for (i, b) in raw.iter().enumerate() {
            out.push(*b);
            if *b == 0xff {
                out.push(if i % 7 == 0 { 0xd0 + (i % 8) as u8 } else { 0 });
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_frames_round_trip(
        scans in prop::collection::vec(scan_strategy(), 1..5),
        mtu in 160usize..1500,
        start in any::<u32>(),
        steps in prop::collection::vec(1u32..10_000, 5),
    ) {
        let template = read("gst-ball-96x64-420.jpg");
        let mut p = mjpeg::Packetizer::new(26, 9, 65_000, mtu);
        let mut d = mjpeg::Depacketizer::new(90_000, None);
        let mut ts = start;
        let mut ticks = 0i64;
        for (scan, step) in scans.iter().zip(&steps) {
            let jpeg = with_scan(&template, scan);
            let mut packets = Vec::new();
            p.packetize_jpeg(&jpeg, ts, &mut packets).unwrap();
            let mut aus = Vec::new();
            for packet in &packets {
                prop_assert!(packet.len() <= mtu);
                d.push(RtpIn::parse(packet).unwrap()).unwrap();
                aus.extend(std::iter::from_fn(|| d.pull()));
            }
            prop_assert_eq!(aus.len(), 1);
            prop_assert_eq!(scan_data(&aus[0].data[0]), &scan[..]);
            prop_assert_eq!(aus[0].timestamp.ticks, ticks);
            prop_assert!(!aus[0].discontinuity);
            ts = ts.wrapping_add(*step);
            ticks += i64::from(*step);
        }
    }

    #[test]
    fn hostile_packets_do_not_panic(
        packets in prop::collection::vec(
            (any::<u16>(), any::<u32>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..300)),
            1..30,
        )
    ) {
        let mut d = mjpeg::Depacketizer::new(90_000, None);
        for (seq, ts, marker, payload) in packets {
            let _ = d.push(RtpIn {
                sequence_number: seq % 8,
                timestamp: ts % 3,
                marker,
                payload_type: 26,
                ssrc: 1,
                payload: Bytes::from(payload),
            });
            while let Some(au) = d.pull() {
                prop_assert!(au.data[0].starts_with(&[0xff, 0xd8]));
                prop_assert!(au.data[0].ends_with(&[0xff, 0xd9]));
            }
        }
    }

    #[test]
    fn hostile_jpegs_do_not_panic(data in prop::collection::vec(any::<u8>(), 0..600), cut in 0usize..2000) {
        let mut p = mjpeg::Packetizer::new(26, 9, 0, 100);
        let mut out = Vec::new();
        let _ = p.packetize_jpeg(&data, 0, &mut out);
        let real = read("testsrc-64x48-420.jpg");
        let _ = p.packetize_jpeg(&real[..cut.min(real.len())], 0, &mut out);
        let mut mangled = real.clone();
        for (i, b) in data.iter().enumerate().take(40) {
            let at = (usize::from(*b) * 7 + i * 13) % mangled.len();
            mangled[at] = *b;
        }
        let _ = p.packetize_jpeg(&mangled, 0, &mut out);
    }
}
