//! Keyframe detection against real camera traffic from `shared/corpus`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use sluice_media::{h264, h265};

use common::{unhex, CORPUS};

/// The RTP payloads of the `pkt` lines of a `.pkts` file.
fn payloads(path: &Path) -> Vec<Vec<u8>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| line.starts_with("pkt "))
        .map(|line| {
            let payload = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix("payload="))
                .unwrap_or_else(|| panic!("no payload in {line}"));
            unhex(payload)
        })
        .collect()
}

#[test]
fn keyframe_starts_in_packet_files() {
    // Expected `is_keyframe_start` per packet, by file.
    let expected: BTreeMap<&str, &[bool]> = BTreeMap::from([
        (
            "amatek-ar-n3222f-h264-nals-inside-fua-1.pkts",
            &[true, false][..],
        ),
        (
            "amatek-ar-n3222f-h264-nals-inside-fua-2.pkts",
            &[true, false],
        ),
        (
            "amatek-ar-n3222f-h264-nals-inside-fua-3.pkts",
            &[true, false],
        ),
        (
            "amatek-ar-n3222f-h265-nals-inside-fu-1.pkts",
            &[true, false, false],
        ),
        (
            "amatek-ar-n3222f-h265-nals-inside-fu-2.pkts",
            &[true, false, false],
        ),
        (
            "amatek-ar-n3222f-h265-nals-inside-fu-3.pkts",
            &[true, false, false],
        ),
        ("costarhd-fua-start-and-end-bit.pkts", &[false]),
        ("flir-m400-no-marker-bit.pkts", &[false, false]),
        (
            "geovision-gv-ebd4701-pt50-duplicate-seq.pkts",
            &[false, false],
        ),
        (
            "h264dvr-lv-ip22ir40dvbl-marked-sps-pps-sei.pkts",
            &[true, false, false, true],
        ),
        (
            "longse-cmsekl800-fua-reserved-bit.pkts",
            &[false, false, false],
        ),
        (
            "reolink-rlc822a-sps-marker-at-start.pkts",
            &[true, false, true],
        ),
        (
            "reolink-rlc822a-sps-old-timestamp-at-gop.pkts",
            &[false, true, false, true],
        ),
        ("unknown-annexb-in-single-nal-packet.pkts", &[false]),
        ("unknown-annexb-single-nal.pkts", &[false]),
        ("unknown-sps-extra-trailing-byte.pkts", &[true, false, true]),
        (
            "vstarcam-bad-sprop-inband-params.pkts",
            &[true, false, true],
        ),
    ]);
    let mut checked = 0;
    for entry in std::fs::read_dir(format!("{CORPUS}/rtp")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".pkts") {
            continue;
        }
        let payloads = payloads(&path);
        // Whatever the codec, neither function may panic on any payload.
        let h264: Vec<bool> = payloads
            .iter()
            .map(|p| h264::is_keyframe_start(p))
            .collect();
        let h265: Vec<bool> = payloads
            .iter()
            .map(|p| h265::is_keyframe_start(p))
            .collect();
        let Some(want) = expected.get(name.as_str()) else {
            continue;
        };
        let got = if name.contains("h265") { h265 } else { h264 };
        assert_eq!(got, *want, "{name}");
        checked += 1;
    }
    assert_eq!(
        checked,
        expected.len(),
        "every listed file is in the corpus"
    );
}

/// NAL unit types carried by an H.264 RTP payload (RFC 6184 §5.6 to §5.8); for FU-A only the
/// first fragment names its type.
fn carried_types(payload: &[u8]) -> Vec<u8> {
    match payload[0] & 0x1f {
        24 => {
            let mut types = Vec::new();
            let mut rest = &payload[1..];
            while rest.len() > 2 {
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                types.push(rest[2] & 0x1f);
                rest = &rest[2 + len..];
            }
            types
        }
        28 if payload[1] & 0x80 != 0 => vec![payload[1] & 0x1f],
        28 => Vec::new(),
        t => vec![t],
    }
}

#[test]
fn keyframe_starts_in_wowza_capture() {
    let capture = std::fs::read(format!("{CORPUS}/captures/wowza-bunny-interleaved.rtsp")).unwrap();
    // Group the H.264 packets (interleaved channel 2) into access units by RTP timestamp.
    let mut units: Vec<(u32, Vec<Vec<u8>>)> = Vec::new();
    let mut rest = &capture[..];
    let mut video_packets = 0;
    while !rest.is_empty() {
        assert_eq!(rest[0], b'$');
        let channel = rest[1];
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let packet = &rest[4..4 + len];
        rest = &rest[4 + len..];
        if channel != 2 {
            continue;
        }
        video_packets += 1;
        let csrcs = usize::from(packet[0] & 0x0f);
        let mut start = 12 + 4 * csrcs;
        if packet[0] & 0x10 != 0 {
            let ext_words = usize::from(u16::from_be_bytes([packet[start + 2], packet[start + 3]]));
            start += 4 + 4 * ext_words;
        }
        let mut end = packet.len();
        if packet[0] & 0x20 != 0 {
            end -= usize::from(packet[end - 1]);
        }
        let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let payload = packet[start..end].to_vec();
        match units.last_mut() {
            Some((ts, payloads)) if *ts == timestamp => payloads.push(payload),
            _ => units.push((timestamp, vec![payload])),
        }
    }
    assert_eq!(video_packets, 269);

    let mut keyframes = 0;
    for (timestamp, payloads) in &units {
        let types: Vec<u8> = payloads.iter().flat_map(|p| carried_types(p)).collect();
        let flagged: Vec<bool> = payloads
            .iter()
            .map(|p| h264::is_keyframe_start(p))
            .collect();
        let is_keyframe = types.iter().any(|&t| t == 5 || t == 7);
        assert_eq!(
            flagged.iter().any(|&f| f),
            is_keyframe,
            "access unit at {timestamp}: types {types:?}"
        );
        if is_keyframe {
            keyframes += 1;
            // The first packet carrying an SPS or IDR is the first flagged one.
            let first = payloads
                .iter()
                .position(|p| carried_types(p).iter().any(|&t| t == 5 || t == 7));
            assert_eq!(flagged.iter().position(|&f| f), first, "at {timestamp}");
        }
        for p in payloads {
            let _ = h265::is_keyframe_start(p);
        }
    }
    assert!(keyframes >= 1, "the capture starts with a keyframe");
    assert!(
        h264::is_keyframe_start(&units[0].1[0]),
        "first packet starts a keyframe"
    );
}
