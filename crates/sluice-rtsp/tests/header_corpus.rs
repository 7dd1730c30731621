//! Every header value captured from real cameras and servers in `shared/corpus` parses, and parses
//! to what the sender meant.

use std::fs;
use std::path::{Path, PathBuf};

use sluice_rtsp::header::{
    parse_cseq, LowerTransport, NptTime, Profile, Range, RangeSpec, RtpInfo, RtpInfoEntry,
    SessionHeader, Transport, TransportMode, TransportSpec,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

/// One value of a `headers/*.txt` file with the `#@ origin | device | quirk` line before it.
struct Sample {
    about: String,
    value: String,
}

fn samples(path: &Path) -> Vec<Sample> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut about = None;
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#@") {
            about = Some(rest.trim().to_owned());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let about = about
                .take()
                .unwrap_or_else(|| panic!("{}: value without #@ line: {line}", path.display()));
            out.push(Sample {
                about,
                value: line.to_owned(),
            });
        }
    }
    out
}

fn headers_file(name: &str) -> Vec<Sample> {
    let samples = samples(&PathBuf::from(CORPUS).join("headers").join(name));
    assert!(!samples.is_empty(), "{name} has no values");
    samples
}

#[test]
fn every_header_file_parses() {
    let mut parsed = 0;
    let mut files = fs::read_dir(PathBuf::from(CORPUS).join("headers"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect::<Vec<_>>();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let parse: fn(&str) -> Result<String, String> = match name.as_str() {
            "transport.txt" => |v| {
                Transport::parse(v)
                    .map(|t| t.to_string())
                    .map_err(|e| e.to_string())
            },
            "session.txt" => |v| {
                SessionHeader::parse(v)
                    .map(|s| s.to_string())
                    .map_err(|e| e.to_string())
            },
            "rtp-info.txt" => |v| {
                RtpInfo::parse(v)
                    .map(|r| r.to_string())
                    .map_err(|e| e.to_string())
            },
            // Authentication headers are not handled by this module.
            _ => continue,
        };
        for sample in samples(&path) {
            let canonical = parse(&sample.value)
                .unwrap_or_else(|e| panic!("{name}: {:?} ({}): {e}", sample.value, sample.about));
            // The canonical text parses back to the same canonical text.
            assert_eq!(
                parse(&canonical).as_ref(),
                Ok(&canonical),
                "{name}: {:?}",
                sample.value
            );
            parsed += 1;
        }
    }
    assert!(parsed >= 23, "only {parsed} values parsed");
}

fn udp(f: impl FnOnce(&mut TransportSpec)) -> TransportSpec {
    let mut spec = TransportSpec::new(Profile::Avp, LowerTransport::Udp);
    f(&mut spec);
    spec
}

fn tcp(f: impl FnOnce(&mut TransportSpec)) -> TransportSpec {
    let mut spec = TransportSpec::new(Profile::Avp, LowerTransport::Tcp);
    f(&mut spec);
    spec
}

fn strings(a: &str) -> Option<String> {
    Some(a.to_owned())
}

#[test]
fn transport_values_mean_what_the_camera_meant() {
    let expected: Vec<(&str, TransportSpec)> = vec![
        (
            r#"RTP/AVP;unicast;client_port=3456-3457;mode="PLAY""#,
            udp(|s| {
                s.client_port = Some((3456, 3457));
                s.mode = Some(TransportMode::Play);
            }),
        ),
        (
            "RTP/AVP/UDP;unicast;server_port=8052;client_port=14186;ssrc=0B6020AD;mode=PLAY",
            udp(|s| {
                s.server_port = Some((8052, 8053));
                s.client_port = Some((14186, 14187));
                s.ssrc = Some(0x0B60_20AD);
                s.mode = Some(TransportMode::Play);
            }),
        ),
        (
            "RTP/AVP/UDP;unicast;mode=receive;source=127.0.0.1;client_port=14186-14187;server_port=5000-5001",
            udp(|s| {
                s.mode = Some(TransportMode::Record);
                s.source = strings("127.0.0.1");
                s.client_port = Some((14186, 14187));
                s.server_port = Some((5000, 5001));
            }),
        ),
        (
            r#"client_port=3456-3457;RTP/AVP;mode="PLAY";unicast"#,
            udp(|s| {
                s.client_port = Some((3456, 3457));
                s.mode = Some(TransportMode::Play);
            }),
        ),
        (
            "RTP/AVP/UDP;unicast;client_port=14186;server_port=8052;ssrc=4317f;mode=play",
            udp(|s| {
                s.client_port = Some((14186, 14187));
                s.server_port = Some((8052, 8053));
                s.ssrc = Some(0x4317f);
                s.mode = Some(TransportMode::Play);
            }),
        ),
        (
            "RTP/AVP/UDP;unicast;client_port=14186;server_port=8052;ssrc= 4317f;mode=play",
            udp(|s| {
                s.client_port = Some((14186, 14187));
                s.server_port = Some((8052, 8053));
                s.ssrc = Some(0x4317f);
                s.mode = Some(TransportMode::Play);
            }),
        ),
        (
            "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=     D93FF",
            tcp(|s| {
                s.interleaved = Some((0, 1));
                s.ssrc = Some(0xD93FF);
            }),
        ),
        (
            "RTP/AVP/UDP;unicast;source=;client_port=32560-32561;server_port=3046-3047;ssrc=45dcb578",
            udp(|s| {
                s.client_port = Some((32560, 32561));
                s.server_port = Some((3046, 3047));
                s.ssrc = Some(0x45dc_b578);
            }),
        ),
        (
            "RTP/AVP;unicast;client_port=14236;source=172.16.8.2;server_port=56002;ssrc=1449463210",
            udp(|s| {
                s.client_port = Some((14236, 14237));
                s.source = strings("172.16.8.2");
                s.server_port = Some((56002, 56003));
            }),
        ),
        (
            "RTP/AVP/UDP;unicast;client_port=49292-49293;server_port=43670-43671;ssrc=7CB694B4",
            udp(|s| {
                s.client_port = Some((49292, 49293));
                s.server_port = Some((43670, 43671));
                s.ssrc = Some(0x7CB6_94B4);
            }),
        ),
        (
            "RTP/AVP/UDP;unicast;client_port=59612-59613",
            udp(|s| s.client_port = Some((59612, 59613))),
        ),
        (
            "RTP/AVP/TCP;unicast;interleaved=10-11;ssrc=10117CB7",
            tcp(|s| {
                s.interleaved = Some((10, 11));
                s.ssrc = Some(0x1011_7CB7);
            }),
        ),
        (
            "RTP/AVP/TCP;unicast;destination=192.168.1.111;source=192.168.1.222;interleaved=0",
            tcp(|s| {
                s.destination = strings("192.168.1.111");
                s.source = strings("192.168.1.222");
                s.interleaved = Some((0, 1));
            }),
        ),
        (
            "RTP/AVP/TCP;ssrc=22345682;interleaved=0-1",
            tcp(|s| {
                s.ssrc = Some(0x2234_5682);
                s.interleaved = Some((0, 1));
            }),
        ),
        (
            "RTP/AVP;unicast;destination=192.168.1.111;source=192.168.1.222;interleaved=0-1",
            udp(|s| {
                s.destination = strings("192.168.1.111");
                s.source = strings("192.168.1.222");
                s.interleaved = Some((0, 1));
            }),
        ),
    ];
    let samples = headers_file("transport.txt");
    for (value, _) in &expected {
        assert!(
            samples.iter().any(|s| s.value == *value),
            "not in corpus: {value}"
        );
    }
    for sample in &samples {
        let transport = Transport::parse(&sample.value).unwrap();
        assert_eq!(transport.0.len(), 1, "{}", sample.value);
        let Some((_, spec)) = expected.iter().find(|(value, _)| *value == sample.value) else {
            continue;
        };
        assert_eq!(&transport.0[0], spec, "{} ({})", sample.value, sample.about);
    }
}

#[test]
fn escam_interleaved_without_tcp_is_tcp() {
    let samples = headers_file("transport.txt");
    let escam = samples
        .iter()
        .find(|s| s.about.contains("Escam Q6"))
        .unwrap();
    let spec = TransportSpec::parse(&escam.value).unwrap();
    assert_eq!(spec.lower, LowerTransport::Udp);
    assert_eq!(spec.effective_lower(), LowerTransport::Tcp);
}

#[test]
fn session_values() {
    let expected = [
        (
            "A3eqwsafq3rFASqew; timeout=47",
            "A3eqwsafq3rFASqew",
            Some(47),
        ),
        ("7116520596809429228", "7116520596809429228", None),
        ("216525287999;timeout=60", "216525287999", Some(60)),
    ];
    let samples = headers_file("session.txt");
    assert_eq!(samples.len(), expected.len());
    for (value, id, timeout) in expected {
        assert!(
            samples.iter().any(|s| s.value == value),
            "not in corpus: {value}"
        );
        let session = SessionHeader::parse(value).unwrap();
        assert_eq!(
            (session.id.as_str(), session.timeout),
            (id, timeout),
            "{value}"
        );
    }
}

fn entry(url: &str, seq: Option<u16>, rtptime: Option<u32>, ssrc: Option<u32>) -> RtpInfoEntry {
    RtpInfoEntry {
        url: url.to_owned(),
        seq,
        rtptime,
        ssrc,
    }
}

#[test]
fn rtp_info_values() {
    let expected = [
        (
            "url=rtsp://127.0.0.1/test.mkv/track1;seq=35243",
            vec![entry(
                "rtsp://127.0.0.1/test.mkv/track1",
                Some(35243),
                None,
                None,
            )],
        ),
        (
            "url=rtsp://127.0.0.1/test.mkv/track1;rtptime=717574556",
            vec![entry(
                "rtsp://127.0.0.1/test.mkv/track1",
                None,
                Some(717_574_556),
                None,
            )],
        ),
        (
            "url=trackID=0;seq=12447;rtptime=12447",
            vec![entry("trackID=0", Some(12447), Some(12447), None)],
        ),
        (
            "url=rtsp://10.13.146.53/axis-media/media.amp/trackID=1;seq=58477;rtptime=1020884293, \
             url=rtsp://10.13.146.53/axis-media/media.amp/trackID=2;seq=15727;rtptime=1171661503",
            vec![
                entry(
                    "rtsp://10.13.146.53/axis-media/media.amp/trackID=1",
                    Some(58477),
                    Some(1_020_884_293),
                    None,
                ),
                entry(
                    "rtsp://10.13.146.53/axis-media/media.amp/trackID=2",
                    Some(15727),
                    Some(1_171_661_503),
                    None,
                ),
            ],
        ),
        (
            "url=trackID=1;seq=55664;rtptime=254718369;ssrc=56597976,\
             url=trackID=2;seq=43807;rtptime=1702259566;ssrc=ee839a80",
            vec![
                entry(
                    "trackID=1",
                    Some(55664),
                    Some(254_718_369),
                    Some(0x5659_7976),
                ),
                entry(
                    "trackID=2",
                    Some(43807),
                    Some(1_702_259_566),
                    Some(0xee83_9a80),
                ),
            ],
        ),
    ];
    let samples = headers_file("rtp-info.txt");
    assert_eq!(samples.len(), expected.len());
    for (value, entries) in expected {
        assert!(
            samples.iter().any(|s| s.value == value),
            "not in corpus: {value}"
        );
        assert_eq!(RtpInfo::parse(value).unwrap().0, entries, "{value}");
    }
}

/// The header lines of one transcript (everything before the first empty line).
fn transcript_headers(path: &Path) -> Vec<(String, String)> {
    let bytes = fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.to_owned()))
        .collect()
}

fn transcripts() -> Vec<(String, Vec<(String, String)>)> {
    let mut files = fs::read_dir(PathBuf::from(CORPUS).join("transcripts"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect::<Vec<_>>();
    files.sort();
    files
        .iter()
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                transcript_headers(path),
            )
        })
        .collect()
}

fn header<'a>(
    transcripts: &'a [(String, Vec<(String, String)>)],
    file: &str,
    name: &str,
) -> &'a str {
    let (_, headers) = transcripts
        .iter()
        .find(|(f, _)| f == file)
        .unwrap_or_else(|| panic!("no {file}"));
    let (_, value) = headers
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{file}: no {name}"));
    value
}

#[test]
fn every_transcript_header_parses() {
    let transcripts = transcripts();
    let mut counts = [0usize; 5];
    for (file, headers) in &transcripts {
        for (name, value) in headers {
            let (index, result) = match name.as_str() {
                "cseq" => (0, parse_cseq(value).map(|_| ())),
                "transport" => (1, Transport::parse(value).map(|_| ())),
                "session" => (2, SessionHeader::parse(value).map(|_| ())),
                "range" => (3, Range::parse(value).map(|_| ())),
                "rtp-info" => (4, RtpInfo::parse(value).map(|_| ())),
                _ => continue,
            };
            result.unwrap_or_else(|e| panic!("{file}: {name}: {value:?}: {e}"));
            counts[index] += 1;
        }
    }
    let [cseq, transport, session, range, rtp_info] = counts;
    assert!(cseq >= 40, "{counts:?}");
    assert!(transport >= 12, "{counts:?}");
    assert!(session >= 25, "{counts:?}");
    assert!(range >= 8, "{counts:?}");
    assert!(rtp_info >= 8, "{counts:?}");
}

#[test]
fn transcript_transports() {
    let t = transcripts();
    let spec = |file| TransportSpec::parse(header(&t, file, "transport")).unwrap();

    let hik = spec("hikvision-ipc-setup.txt");
    assert_eq!(
        (hik.lower, hik.interleaved),
        (LowerTransport::Tcp, Some((0, 1)))
    );
    assert_eq!(
        (hik.ssrc, hik.mode),
        (Some(0x4cac_c3d1), Some(TransportMode::Play))
    );

    assert_eq!(
        spec("hikvision-setup-ssrc-leading-space.txt").ssrc,
        Some(0x0d6d_6627)
    );
    assert_eq!(
        spec("go2rtc-testserver-setup-interleaved-4-5.txt").interleaved,
        Some((4, 5))
    );

    let dvr = spec("h264dvr-setup-video.txt");
    assert_eq!(dvr.source.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        (dvr.client_port, dvr.server_port),
        (Some((18714, 18715)), Some((40004, 40005)))
    );
    assert_eq!((dvr.ssrc, dvr.mode), (Some(0), Some(TransportMode::Play)));

    let luckfox = spec("luckfox-rkipc-setup-udp.txt");
    assert!(!luckfox.multicast);
    assert_eq!(luckfox.ssrc, Some(0x2234_5685));
    assert_eq!(luckfox.server_port, Some((49152, 49153)));

    let gw = spec("gwsecurity-gw4089ip-main-setup-audio.txt");
    assert_eq!(gw.destination.as_deref(), Some("192.168.1.210"));
    assert_eq!(gw.interleaved, Some((2, 3)));
}

#[test]
fn transcript_sessions() {
    let t = transcripts();
    let session = |file| SessionHeader::parse(header(&t, file, "session")).unwrap();
    assert_eq!(
        session("gwsecurity-gw4089ip-main-setup-video.txt"),
        SessionHeader {
            id: "9a90de54".into(),
            timeout: Some(60)
        }
    );
    assert_eq!(
        session("gwsecurity-gw4089ip-main-play.txt").timeout,
        Some(120)
    );
    assert_eq!(
        session("hikvision-ipc-setup.txt"),
        SessionHeader {
            id: "708345999".into(),
            timeout: Some(60)
        }
    );
    assert_eq!(
        session("hikvision-ipc-play.txt"),
        SessionHeader::new("708345999")
    );
    assert_eq!(
        session("go2rtc-testserver-setup-interleaved-4-5.txt"),
        SessionHeader::new("1")
    );
    assert_eq!(
        session("ffmpeg-lavf58-missing-content-type-describe.txt").id,
        "l0TtlUFSR"
    );
    assert_eq!(session("dahua-options.txt").timeout_or_default(), 60);
}

#[test]
fn transcript_ranges_and_rtp_info() {
    let t = transcripts();
    let range = |file| Range::parse(header(&t, file, "range")).unwrap();
    let millis = |ms| Some(NptTime::Position(std::time::Duration::from_millis(ms)));
    assert_eq!(
        range("wowza-4.8-bunny-play.txt"),
        Range::npt(millis(0), millis(596_480))
    );
    assert_eq!(
        range("h264dvr-play.txt").spec,
        RangeSpec::Npt {
            start: Some(NptTime::Now),
            end: None
        }
    );
    assert_eq!(range("dahua-play.txt").to_string(), "npt=0-");

    let info = |file| RtpInfo::parse(header(&t, file, "rtp-info")).unwrap().0;
    let omny = info("simulated-omny-m5s2a-play-negative-rtptime.txt");
    assert_eq!(omny.len(), 2);
    assert!(omny.iter().all(|e| e.seq == Some(1) && e.rtptime.is_none()));
    assert_eq!(
        omny[1].url,
        "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/trackID=2"
    );

    assert_eq!(
        info("laureii-play.txt"),
        [entry(
            "rtsp://192.168.1.19:554/0/main/trackID=0",
            Some(0),
            Some(0),
            None
        )]
    );
    let hik = info("hikvision-ipc-play.txt");
    assert_eq!(
        hik[0].url,
        "rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=1?transportmode=unicast&profile=Profile_1"
    );
    assert_eq!(
        (hik[0].seq, hik[0].rtptime),
        (Some(24104), Some(1_270_711_678))
    );
    let reolink = info("reolink-rlc-play.txt");
    assert_eq!(
        reolink[1],
        entry(
            "trackID=2",
            Some(39409),
            Some(3_075_976_528),
            Some(0x9fc9_fff8)
        )
    );
    assert_eq!(info("dahua-play.txt").len(), 3);
}
