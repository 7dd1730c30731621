//! H.264 and H.265 depacketizers against real camera traffic from `shared/corpus`: every
//! `rtp/*.pkts` file, the fmtp and SDP files, and the recorded Wowza session.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use sluice_media::{h264, h265, AccessUnit, CodecParams, Depacketizer, RtpIn};
use sluice_rtsp::sdp::SessionDescription;

use common::{hex, unhex, CORPUS};

/// A parsed `.pkts` file.
#[derive(Debug, Default)]
struct PacketFile {
    fmtp: Option<String>,
    packets: Vec<RtpIn>,
    /// NAL units (hex) of each expected access unit.
    expected: Vec<Vec<String>>,
}

fn parse_packet_file(path: &Path) -> PacketFile {
    let mut file = PacketFile::default();
    for line in std::fs::read_to_string(path).unwrap().lines() {
        if let Some(fmtp) = line.strip_prefix("# sdp-fmtp:") {
            file.fmtp = Some(fmtp.trim().to_owned());
        } else if let Some(fields) = line.strip_prefix("pkt ") {
            let field = |name: &str| {
                fields
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or_else(|| panic!("no {name} in {line}"))
            };
            file.packets.push(RtpIn {
                sequence_number: field("seq").parse().unwrap(),
                timestamp: field("ts").parse().unwrap(),
                marker: field("m") == "1",
                payload_type: field("pt").parse().unwrap(),
                ssrc: u32::from_str_radix(field("ssrc"), 16).unwrap(),
                payload: Bytes::from(unhex(field("payload"))),
            });
        } else if let Some(nals) = line.strip_prefix("expect-au") {
            file.expected
                .push(nals.split_whitespace().map(str::to_owned).collect());
        }
    }
    file
}

/// A depacketizer of either codec, with its end-of-stream flush.
enum Video {
    H264(h264::Depacketizer),
    H265(h265::Depacketizer),
}

impl Video {
    fn for_file(name: &str, fmtp: Option<&str>) -> Video {
        if name.contains("h265") {
            Video::H265(h265::Depacketizer::new(90_000, fmtp).unwrap())
        } else {
            Video::H264(h264::Depacketizer::new(90_000, fmtp).unwrap())
        }
    }

    fn depacketizer(&mut self) -> &mut dyn Depacketizer {
        match self {
            Video::H264(d) => d,
            Video::H265(d) => d,
        }
    }

    fn flush(&mut self) {
        match self {
            Video::H264(d) => d.flush(),
            Video::H265(d) => d.flush(),
        }
    }
}

/// Feeds all packets (none may fail), pulling after each, then ends the stream.
fn run(video: &mut Video, packets: &[RtpIn]) -> Vec<AccessUnit> {
    let mut out = Vec::new();
    for pkt in packets {
        let seq = pkt.sequence_number;
        video
            .depacketizer()
            .push(pkt.clone())
            .unwrap_or_else(|e| panic!("packet seq={seq}: {e}"));
        while let Some(au) = video.depacketizer().pull() {
            out.push(au);
        }
    }
    video.flush();
    while let Some(au) = video.depacketizer().pull() {
        out.push(au);
    }
    out
}

fn nal_lists(aus: &[AccessUnit]) -> Vec<Vec<String>> {
    aus.iter()
        .map(|au| au.data.iter().map(|nal| hex(nal)).collect())
        .collect()
}

/// Files whose comment states the expectation instead of `expect-au` lines.
fn stated_expectations() -> BTreeMap<&'static str, Vec<Vec<String>>> {
    let all_payloads = |name: &str| {
        let file = parse_packet_file(&Path::new(CORPUS).join("rtp").join(name));
        vec![file.packets.iter().map(|p| hex(&p.payload)).collect()]
    };
    BTreeMap::from([
        // The PT 50 packet repeating the sequence number is dropped; the marked SEI-like placeholder
        // is completed at the end of the stream.
        (
            "geovision-gv-ebd4701-pt50-duplicate-seq.pkts",
            vec![vec!["666f6f".to_owned()]],
        ),
        (
            "unknown-sps-extra-trailing-byte.pkts",
            all_payloads("unknown-sps-extra-trailing-byte.pkts"),
        ),
        (
            "vstarcam-bad-sprop-inband-params.pkts",
            all_payloads("vstarcam-bad-sprop-inband-params.pkts"),
        ),
    ])
}

#[test]
fn every_packet_file_gives_the_expected_access_units() {
    let stated = stated_expectations();
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(CORPUS).join("rtp")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".pkts") {
            continue;
        }
        let file = parse_packet_file(&path);
        let expected = if file.expected.is_empty() {
            stated
                .get(name.as_str())
                .unwrap_or_else(|| panic!("{name}: no expect-au lines and no stated expectation"))
                .clone()
        } else {
            file.expected.clone()
        };
        let mut video = Video::for_file(&name, file.fmtp.as_deref());
        let aus = run(&mut video, &file.packets);
        assert_eq!(nal_lists(&aus), expected, "{name}");
        for au in &aus {
            assert!(!au.discontinuity, "{name}: no loss in the file");
            assert_eq!(au.timestamp.clock_rate, 90_000);
        }
        checked += 1;
    }
    assert_eq!(checked, 17, "all packet files of the corpus");
}

/// Runs one corpus file and returns its access units and the depacketizer's parameters.
fn run_file(name: &str) -> (Vec<AccessUnit>, CodecParams) {
    let file = parse_packet_file(&Path::new(CORPUS).join("rtp").join(name));
    let mut video = Video::for_file(name, file.fmtp.as_deref());
    let aus = run(&mut video, &file.packets);
    (aus, video.depacketizer().params().clone())
}

#[test]
fn access_unit_timestamps_and_keyframes() {
    // Reolink: SPS and PPS with the old timestamp join the IDR and take its timestamp.
    let (aus, _) = run_file("reolink-rlc822a-sps-old-timestamp-at-gop.pkts");
    assert_eq!(
        aus.iter()
            .map(|au| (au.timestamp.ticks, au.keyframe))
            .collect::<Vec<_>>(),
        vec![(0, false), (1, true)]
    );
    let (aus, _) = run_file("reolink-rlc822a-sps-marker-at-start.pkts");
    assert_eq!(aus[0].timestamp.ticks, 1);
    assert!(aus[0].keyframe);
    // H264DVR: marked SPS, PPS and SEI do not split the IDR's access unit.
    let (aus, _) = run_file("h264dvr-lv-ip22ir40dvbl-marked-sps-pps-sei.pkts");
    assert!(aus[0].keyframe);
    // FLIR: split on the timestamp; the second picture never ends.
    let (aus, _) = run_file("flir-m400-no-marker-bit.pkts");
    assert_eq!(aus.len(), 1);
    assert!(!aus[0].keyframe);
    // Amatek H.265: parameter sets only, no IRAP picture.
    let (aus, params) = run_file("amatek-ar-n3222f-h265-nals-inside-fu-1.pkts");
    assert!(!aus[0].keyframe);
    assert_eq!(
        params.config.len(),
        3,
        "VPS, SPS, PPS taken from the stream"
    );
    assert!(params.width.is_some());
}

#[test]
fn in_band_parameters_replace_the_sdp() {
    // No sprop at all; the SPS has a stray trailing byte.
    let (aus, params) = run_file("unknown-sps-extra-trailing-byte.pkts");
    assert!(aus[0].keyframe);
    assert_eq!((params.width, params.height), (Some(640), Some(480)));
    assert_eq!(params.profile.as_deref(), Some("High"));
    assert_eq!(params.level.as_deref(), Some("5.1"));
    assert_eq!(params.codec, "H264");
    assert_eq!(
        params.config.iter().map(|n| hex(n)).collect::<Vec<_>>(),
        vec![
            "67640033ac1514a0a03da1000004f6000063380404".to_owned(),
            "68ee3cb0".to_owned()
        ]
    );
    // Garbage sprop: nothing from the SDP, everything from the stream.
    let fmtp = std::fs::read_to_string(Path::new(CORPUS).join("fmtp/vstarcam-bad-sprop-h264.txt"))
        .unwrap();
    let before = h264::Depacketizer::new(90_000, Some(fmtp.trim())).unwrap();
    assert!(before.params().config.is_empty());
    assert_eq!(before.params().width, None);
    let (_, params) = run_file("vstarcam-bad-sprop-inband-params.pkts");
    assert_eq!((params.width, params.height), (Some(1920), Some(1080)));
    assert_eq!(params.config.len(), 2);
    // Longse: the SDP's SPS is replaced by nothing different; H264DVR: identical in-band copies.
    let (_, params) = run_file("h264dvr-lv-ip22ir40dvbl-marked-sps-pps-sei.pkts");
    assert_eq!(params.config.len(), 2);
    assert_eq!((params.width, params.height), (Some(1920), Some(1080)));
    assert_eq!(params.profile.as_deref(), Some("Main"));
    assert_eq!(params.level.as_deref(), Some("4.2"));
}

#[test]
fn fmtp_files() {
    /// Parameter sets in `config`, and picture size.
    type Expected = (usize, Option<(u32, u32)>);
    let expect: BTreeMap<&str, Expected> = BTreeMap::from([
        ("gwsecurity-gw4089ip-h264.txt", (2, Some((720, 480)))),
        ("hikvision-style-empty-sprop-h264.txt", (0, None)),
        ("tenda-cp3pro-h265.txt", (3, Some((640, 368)))),
        ("unknown-annexb-sprop-h264.txt", (2, Some((720, 480)))),
        ("unknown-annexb-sprop-h265.txt", (3, Some((720, 480)))),
        ("unknown-h265-params-under-h264.txt", (0, None)),
        ("unknown-sprop-three-nals-h264.txt", (3, Some((1920, 1080)))),
        ("vstarcam-bad-sprop-h264.txt", (0, None)),
        ("xiaomi-yi-pro-2k-hacked-h265.txt", (3, Some((2304, 1296)))),
    ]);
    let mut checked = 0;
    for entry in std::fs::read_dir(Path::new(CORPUS).join("fmtp")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let fmtp = std::fs::read_to_string(&path).unwrap();
        let mut video = Video::for_file(&name, Some(fmtp.trim()));
        let params = video.depacketizer().params().clone();
        let (config_len, size) = expect[name.as_str()];
        assert_eq!(params.config.len(), config_len, "{name}");
        assert_eq!(params.width.zip(params.height), size, "{name}: {params:?}");
        checked += 1;
    }
    assert_eq!(checked, expect.len());
}

#[test]
fn sdp_files_give_working_depacketizers() {
    let mut video_tracks = 0;
    for dir in ["sdp", "transcripts"] {
        for entry in std::fs::read_dir(Path::new(CORPUS).join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read(&path).unwrap();
            // Transcripts: the body after the blank line.
            let body = match text.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(at) if dir == "transcripts" => text[at + 4..].to_vec(),
                _ => text,
            };
            let Ok(sdp) = SessionDescription::parse(&body) else {
                continue;
            };
            for media in &sdp.media {
                for pt in media.payload_types() {
                    let Some(rtpmap) = media.rtpmap(pt) else {
                        continue;
                    };
                    let fmtp = media.fmtp(pt);
                    let params = match rtpmap.encoding.to_ascii_uppercase().as_str() {
                        "H264" => h264::Depacketizer::new(rtpmap.clock_rate, fmtp)
                            .unwrap()
                            .params()
                            .clone(),
                        "H265" => h265::Depacketizer::new(rtpmap.clock_rate, fmtp)
                            .unwrap()
                            .params()
                            .clone(),
                        _ => continue,
                    };
                    video_tracks += 1;
                    // Every SPS a camera announced parses.
                    if !params.config.is_empty() {
                        assert!(params.width.is_some(), "{}: {fmtp:?}", path.display());
                    }
                }
            }
        }
    }
    assert!(video_tracks > 40, "{video_tracks} video tracks");
}

/// The RTP packets of one channel of an RTSP-interleaved byte stream.
fn interleaved_packets(stream: &[u8], wanted: u8) -> Vec<RtpIn> {
    let mut packets = Vec::new();
    let mut rest = stream;
    while let [b'$', channel, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let (packet, after) = tail.split_at(len);
        if *channel == wanted {
            packets.push(RtpIn::parse(&Bytes::copy_from_slice(packet)).unwrap());
        }
        rest = after;
    }
    assert!(rest.is_empty());
    packets
}

#[test]
fn wowza_capture() {
    let stream =
        std::fs::read(Path::new(CORPUS).join("captures/wowza-bunny-interleaved.rtsp")).unwrap();
    let packets = interleaved_packets(&stream, 2);
    assert_eq!(packets.len(), 269);
    assert!(packets.iter().all(|p| p.payload_type == 97));
    let fmtp = "packetization-mode=1;profile-level-id=42C01E;\
                sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==";
    let mut video = Video::H264(h264::Depacketizer::new(90_000, Some(fmtp)).unwrap());
    let aus = run(&mut video, &packets);
    // One access unit per marker bit / timestamp; IDRs in two STAP-As and four FU-As.
    assert_eq!(aus.len(), 245);
    assert!(aus[0].keyframe);
    assert_eq!(aus.iter().filter(|au| au.keyframe).count(), 6);
    assert!(aus.iter().all(|au| !au.discontinuity));
    assert!(aus
        .windows(2)
        .all(|w| w[0].timestamp.ticks < w[1].timestamp.ticks));
    assert_eq!(aus[1].timestamp.ticks, 3780);
    // The first access unit is the STAP-A: SPS, PPS, SEI, IDR.
    assert_eq!(
        aus[0].data.iter().map(|n| n[0] & 0x1f).collect::<Vec<_>>(),
        vec![7, 8, 6, 5]
    );
    let params = video.depacketizer().params();
    assert_eq!((params.width, params.height), (Some(240), Some(160)));
    assert_eq!(params.profile.as_deref(), Some("Constrained Baseline"));
    assert_eq!(params.level.as_deref(), Some("3"));
}

#[test]
fn in_band_parameter_sets_win_when_they_disagree_with_the_sdp() {
    let vstarcam = "vstarcam-bad-sprop-inband-params.pkts";
    let file = parse_packet_file(&Path::new(CORPUS).join("rtp").join(vstarcam));
    let in_band: Vec<String> = file.packets[..2].iter().map(|p| hex(&p.payload)).collect();
    assert_eq!(
        (&in_band[0][..2], &in_band[1][..2]),
        ("67", "68"),
        "the file starts with SPS and PPS"
    );

    // The SDP describes another stream: a valid SPS and PPS for 720x480 (GW Security's), where
    // the camera sends 1920x1080 ones in-band.
    let fmtp = std::fs::read_to_string(Path::new(CORPUS).join("fmtp/gwsecurity-gw4089ip-h264.txt"))
        .unwrap();
    let mut video = Video::H264(h264::Depacketizer::new(90_000, Some(fmtp.trim())).unwrap());
    let from_sdp = video.depacketizer().params().clone();
    assert_eq!(
        (from_sdp.width, from_sdp.height),
        (Some(720), Some(480)),
        "{from_sdp:?}"
    );
    assert_eq!(from_sdp.config.len(), 2);
    assert!(from_sdp
        .config
        .iter()
        .all(|nal| !in_band.contains(&hex(nal))));

    let aus = run(&mut video, &file.packets);
    let params = video.depacketizer().params();
    assert_eq!((params.width, params.height), (Some(1920), Some(1080)));
    assert_eq!(params.profile.as_deref(), Some("Main"));
    assert_eq!(params.level.as_deref(), Some("4"));
    assert_eq!(
        params.config.iter().map(|n| hex(n)).collect::<Vec<_>>(),
        in_band,
        "the stream's SPS and PPS replace the SDP's"
    );
    // The access unit carries the stream's parameter sets, never the SDP's.
    assert_eq!(aus.len(), 1);
    assert!(aus[0].keyframe);
    assert_eq!(nal_lists(&aus)[0][..2], in_band[..]);

    // With the camera's own garbage sprop-parameter-sets: nothing from the SDP, the same result.
    let fmtp = std::fs::read_to_string(Path::new(CORPUS).join("fmtp/vstarcam-bad-sprop-h264.txt"))
        .unwrap();
    let mut video = Video::H264(h264::Depacketizer::new(90_000, Some(fmtp.trim())).unwrap());
    let aus = run(&mut video, &file.packets);
    let params = video.depacketizer().params();
    assert_eq!((params.width, params.height), (Some(1920), Some(1080)));
    assert_eq!(
        params.config.iter().map(|n| hex(n)).collect::<Vec<_>>(),
        in_band
    );
    assert_eq!(nal_lists(&aus)[0][..2], in_band[..]);
}
