//! SDP parsing against every camera SDP in `shared/corpus`, round trips, quirks and generation.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use sluice_rtsp::sdp::{
    parse_fmtp, Attribute, MediaDescription, Origin, RtpMap, SdpError, SessionDescription,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn corpus_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(Path::new(CORPUS).join(dir))
        .unwrap_or_else(|e| panic!("corpus dir {dir}: {e}"))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

fn sdp(name: &str) -> SessionDescription {
    let text = fs::read(Path::new(CORPUS).join("sdp").join(name)).unwrap();
    SessionDescription::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn rtpmap(encoding: &str, clock_rate: u32, channels: Option<u16>) -> RtpMap {
    RtpMap {
        encoding: encoding.to_owned(),
        clock_rate,
        channels,
    }
}

/// Writes `parsed`, checks the text is well-formed CRLF SDP, and that it parses back to the same
/// value.
fn assert_round_trip(name: &str, parsed: &SessionDescription) {
    let written = parsed.to_string();
    assert!(written.starts_with("v=0\r\n"), "{name}: {written:?}");
    assert!(written.ends_with("\r\n"), "{name}");
    for line in written.split_terminator("\r\n") {
        assert!(
            !line.contains(['\r', '\n']),
            "{name}: bare line break in {line:?}"
        );
        assert_eq!(line.as_bytes().get(1), Some(&b'='), "{name}: {line:?}");
    }
    let reparsed =
        SessionDescription::parse(written.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        &reparsed, parsed,
        "{name}: round trip changed the description:\n{written}"
    );
    assert_eq!(
        reparsed.to_string(),
        written,
        "{name}: writing is not stable"
    );
}

/// The body of an RTSP message: everything after the first empty line.
fn body(message: &[u8]) -> &[u8] {
    let crlf = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = message.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    let start = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).expect("message has no body"),
    };
    &message[start..]
}

#[test]
fn every_corpus_sdp_parses_and_round_trips() {
    let files = corpus_files("sdp");
    assert!(files.len() >= 72, "only {} SDP files", files.len());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        let text = fs::read(path).unwrap();
        let parsed = SessionDescription::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        // One media section per m= line (a few samples are session headers only).
        let m_lines = text
            .split(|&b| b == b'\n')
            .filter(|line| line.starts_with(b"m="))
            .count();
        assert_eq!(parsed.media.len(), m_lines, "{name}");
        if parsed.media.is_empty() {
            assert!(parsed.origin.is_some(), "{name}: neither media nor origin");
        }
        for media in &parsed.media {
            assert!(
                !media.media.is_empty() && !media.proto.is_empty(),
                "{name}: {media:?}"
            );
            for pt in media.payload_types() {
                // Every fmtp value splits without losing its parameter names.
                if let Some(fmtp) = media.fmtp(pt) {
                    for (key, _) in parse_fmtp(fmtp) {
                        assert!(fmtp.contains(&key), "{name}: {key}");
                    }
                }
            }
        }
        assert_round_trip(&name, &parsed);
    }
}

#[test]
fn every_transcript_describe_body_parses_and_round_trips() {
    let mut count = 0;
    for path in corpus_files("transcripts") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains("describe") {
            continue;
        }
        count += 1;
        let message = fs::read(&path).unwrap();
        let parsed =
            SessionDescription::parse(body(&message)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!parsed.media.is_empty(), "{name}: no media");
        assert_round_trip(&name, &parsed);
        // The sdp/ directory holds the same body on its own; both must read the same.
        let twin = Path::new(CORPUS)
            .join("sdp")
            .join(name.replace(".txt", "-body.sdp"));
        if twin.exists() {
            let twin_parsed = SessionDescription::parse(&fs::read(&twin).unwrap()).unwrap();
            assert_eq!(parsed, twin_parsed, "{name}");
        }
    }
    assert!(count >= 14, "only {count} DESCRIBE transcripts");
}

#[test]
fn sdp_without_session_section() {
    let parsed = sdp("unknown-no-session-section-1.sdp");
    assert_eq!(parsed.origin, None);
    assert_eq!(parsed.session_name, "");
    assert!(parsed.times.is_empty());
    assert_eq!(parsed.media.len(), 1);
    let video = &parsed.media[0];
    assert_eq!(
        (video.media.as_str(), video.port, video.proto.as_str()),
        ("video", 0, "RTP/AVP")
    );
    assert_eq!(video.control(), Some("trackID=0"));
    assert_eq!(video.rtpmap(96), Some(rtpmap("H264", 90000, None)));
    assert!(parsed
        .to_string()
        .starts_with("v=0\r\ns= \r\nm=video 0 RTP/AVP 96\r\n"));
}

#[test]
fn malformed_origins() {
    let origin = |name| {
        sdp(name)
            .origin
            .unwrap_or_else(|| panic!("{name}: no origin"))
    };

    let amcrest = origin("amcrest-1.sdp");
    assert_eq!(amcrest.username, "RTSP Session");
    assert_eq!(
        (
            amcrest.session_id.as_str(),
            amcrest.session_version.as_str()
        ),
        ("1", "2")
    );
    assert_eq!(amcrest.address, "0.0.0.0");

    let rockchip = origin("rockchip-rbslive-invalid-origin-1.sdp");
    assert_eq!(rockchip.username, "JefferyZhang Inno Fuzhou");

    // "o=-0 0 IN IP4 127.0.0.1": the username is missing.
    let livereporter = origin("livereporter-app-1.sdp");
    assert_eq!(
        (
            livereporter.username.as_str(),
            livereporter.session_id.as_str(),
            livereporter.session_version.as_str()
        ),
        ("-", "-0", "0")
    );

    // Five fields: the ONVIF example omits the username.
    let onvif = origin("onvif-spec-backchannel-example.sdp");
    assert_eq!(
        (onvif.username.as_str(), onvif.session_id.as_str()),
        ("-", "2890842807")
    );
    assert_eq!(
        (
            onvif.net_type.as_str(),
            onvif.addr_type.as_str(),
            onvif.address.as_str()
        ),
        ("IN", "IP4", "192.168.0.1")
    );

    // Truncated to "o=- 1001 1 IN".
    let uniview = origin("uniview-vcp-ipc-backchannel-1.sdp");
    assert_eq!(
        uniview,
        Origin {
            username: "-".into(),
            session_id: "1001".into(),
            session_version: "1".into(),
            net_type: "IN".into(),
            addr_type: String::new(),
            address: String::new(),
        }
    );

    let empty_address = origin("hikvision-like-empty-origin-address-1.sdp");
    assert_eq!(
        (
            empty_address.addr_type.as_str(),
            empty_address.address.as_str()
        ),
        ("IP4", "")
    );

    assert_eq!(origin("verint-ewr-52b-1.sdp").net_type, "IP");
    assert_eq!(origin("vurix-nvr-1.sdp").addr_type, "IPV4");
    let ycam = origin("ycam-bullet-hd-1.sdp");
    assert_eq!(
        (ycam.session_id.as_str(), ycam.session_version.as_str()),
        ("-1962418793961427", "-1962418793961418")
    );
    assert_eq!(
        origin("unknown-hex-session-id-0X-2.sdp").session_id,
        "0XAC4EC96E"
    );
    let tplink = origin("tplink-h265-1.sdp");
    assert_eq!(
        (tplink.session_version.as_str(), tplink.address.as_str()),
        ("1", "192.168.4.226")
    );

    assert_eq!(sdp("hanwha-wisenet-nvr-dwc-mv94wiat-1.sdp").origin, None);
    assert_eq!(sdp("macrovideo-describe-body.sdp").origin, None);
}

#[test]
fn session_lines_out_of_place() {
    let repeated = sdp("rtspserver-multiple-s-lines-1.sdp");
    assert_eq!(repeated.session_name, "RtspServer");
    assert_eq!(repeated.information.as_deref(), Some("live"));
    assert_eq!(repeated.control(), Some("*"));
    let video = &repeated.media[0];
    assert_eq!(video.title.as_deref(), Some("live"));
    assert_eq!(video.control(), Some("track0"));
    assert_eq!(repeated.media[1].control(), Some("track1"));

    let flir = sdp("flir-ir-1.sdp");
    assert_eq!(flir.times, ["now-"]);
    assert_eq!(
        flir.media[0].payload_types().collect::<Vec<_>>(),
        [96, 97, 111, 112, 99]
    );
    assert_eq!(flir.media[0].rtpmap(99), Some(rtpmap("FCAM", 90000, None)));

    let hik = sdp("hikvision-hik-media-server-v3.1.3-1.sdp");
    assert_eq!(hik.connection.as_deref(), Some("IN c=IN IP4 0.0.0.0"));
    assert_eq!(hik.media[0].title.as_deref(), Some("Video Media"));

    let avigilon = sdp("avigilon-1.sdp");
    let speaker = &avigilon.media[1];
    assert_eq!(
        speaker.connection.as_deref(),
        Some("IN IP4 192.168.1.63"),
        "the first c= wins"
    );
    assert_eq!(speaker.payload_types().collect::<Vec<_>>(), [0, 97]);
    assert_eq!(speaker.rtpmap(0), Some(rtpmap("pcmu", 8000, None)));
    assert_eq!(speaker.rtpmap(97), Some(rtpmap("opus", 48000, Some(2))));
    assert_eq!(speaker.direction(), Some("sendonly"));

    let verint = sdp("verint-ewr-52b-1.sdp");
    assert!(verint
        .control()
        .unwrap()
        .starts_with("rtsp://192.168.1.1:554/"));
    assert_eq!(verint.times, ["0 0"]);

    let empty_address = sdp("hikvision-like-empty-origin-address-1.sdp");
    assert_eq!(
        empty_address.media[0].bandwidths,
        ["AS:5000"],
        "b= after a="
    );
    assert_eq!(empty_address.direction(), Some("recvonly"));
}

#[test]
fn nonstandard_media_lines() {
    let tplink = sdp("tplink-h265-1.sdp");
    let smart = &tplink.media[2];
    assert_eq!(smart.media, "application/TP-LINK");
    assert_eq!(smart.formats, ["smart/1/90000"]);
    assert_eq!(smart.payload_types().count(), 0);
    assert_eq!(
        smart.rtpmap(95),
        Some(rtpmap("TP-LINK", 90000, None)),
        "rtpmap for an undeclared PT"
    );

    let vana = sdp("live555-2014-vana-media-type-1.sdp");
    assert_eq!(vana.media[3].media, "vana");
    assert_eq!(
        vana.media[3].rtpmap(108),
        Some(rtpmap("video.analysis", 90000, Some(500)))
    );
    assert_eq!(
        vana.media[0].rtpmap(26),
        Some(rtpmap("JPEG", 90000, None)),
        "static PT 26"
    );
    assert_eq!(
        vana.media[1].rtpmap(0),
        Some(rtpmap("PCMU", 8000, None)),
        "static PT 0"
    );

    let meta = sdp("bzbgear-bg-vptz-10hsu3-meta-1.sdp");
    assert_eq!(meta.media[0].media, "meta");
    assert_eq!(
        meta.media[0].rtpmap(123),
        Some(rtpmap("META", 0, None)),
        "META /0"
    );

    let no_clock = sdp("unknown-metadata-rtpmap-no-clock-1.sdp");
    assert_eq!(no_clock.media[0].port, 42504);
    assert_eq!(
        no_clock.media[0].rtpmap(98),
        Some(rtpmap("MetaData", 0, None))
    );
    assert_eq!(no_clock.media[0].attribute("rtcp-mux"), Some(""));

    let wisenet = sdp("hanwha-wisenet-nvr-dwc-mv94wiat-1.sdp");
    assert_eq!(
        wisenet.media[1].rtpmap(14),
        Some(rtpmap("MPA", 90000, None)),
        "static PT 14, 90 kHz"
    );
    assert_eq!(wisenet.media[2].media, "text");
    assert_eq!(
        wisenet.media[2].rtpmap(103),
        Some(rtpmap("object-detection", 1000, None))
    );

    let mp2t = sdp("unknown-mp2t-multicast-1.sdp");
    assert_eq!(mp2t.media[0].proto, "MP2T/AVP");
}

#[test]
fn payload_type_abuse() {
    // An explicit rtpmap wins over the static table.
    let anpviz = sdp("anpviz-ipc-1.sdp");
    assert_eq!(
        anpviz.media[1].rtpmap(0),
        Some(rtpmap("MPEG4-GENERIC", 16000, Some(2)))
    );
    assert_eq!(anpviz.media[1].fmtp(0), Some("config=1408"));

    let gw = sdp("gwsecurity-gw4089ip-main-describe-body.sdp");
    let audio = gw.media.iter().find(|m| m.media == "audio").unwrap();
    assert_eq!(audio.rtpmap(8), Some(rtpmap("PCMU", 8000, Some(1))));
    assert_eq!(audio.fmtp(8), Some("vad=no"));

    let pcm = sdp("hikvision-pcm-on-pt11-1.sdp");
    let audio = pcm.media.iter().find(|m| m.media == "audio").unwrap();
    assert_eq!(
        audio.rtpmap(11).map(|m| (m.encoding, m.clock_rate)),
        Some(("PCM".to_owned(), 48000))
    );

    // Two rtpmaps for PT 0 in one section: the first one counts.
    let uniview = sdp("uniview-vcp-ipc-backchannel-1.sdp");
    assert_eq!(uniview.media[2].rtpmap(0), Some(rtpmap("PCMA", 8000, None)));
    assert_eq!(uniview.media[2].direction(), Some("sendonly"));
    assert_eq!(uniview.media[1].fmtp(0), Some("RTCP=0"));
    assert_eq!(uniview.media[1].connection.as_deref(), Some("IN"));

    // Lookups are scoped to their section: the video fmtp sits in the audio section here.
    let wrong_section = sdp("unknown-fmtp-in-wrong-section-1.sdp");
    assert_eq!(wrong_section.media[0].fmtp(96), None);
    assert!(wrong_section.media[1]
        .fmtp(96)
        .unwrap()
        .starts_with("packetization-mode=1"));
    assert_eq!(
        wrong_section.media[1].rtpmap(8),
        Some(rtpmap("PCMA", 8000, None)),
        "static PT 8"
    );
    assert_eq!(
        wrong_section.media[1].rtpmap(0),
        Some(rtpmap("pcma", 8000, Some(1)))
    );

    // The same dynamic PT in two sections, and an empty fmtp.
    let ubiquiti = sdp("ubiquiti-unifi-1.sdp");
    assert_eq!(ubiquiti.uri.as_deref(), Some("www.evostream.com"));
    assert_eq!(
        ubiquiti.media[0].rtpmap(96).unwrap().encoding,
        "mpeg4-generic"
    );
    assert_eq!(
        ubiquiti.media[1].rtpmap(96),
        Some(rtpmap("opus", 48000, Some(2)))
    );
    assert_eq!(ubiquiti.media[1].fmtp(96), Some(""));
    assert_eq!(
        ubiquiti.media[2].rtpmap(97),
        Some(rtpmap("H264", 90000, None))
    );
    assert_eq!(ubiquiti.media[2].fmtp(96), None);

    let bosch = sdp("bosch-live-view-1.sdp");
    let video = bosch.media.iter().find(|m| m.media == "video").unwrap();
    assert_eq!(video.payload_types().collect::<Vec<_>>(), [35]);
    assert_eq!(video.rtpmap(35).unwrap().encoding, "H264");
}

#[test]
fn whitespace_quirks() {
    let ipcam = sdp("ipcam-c9f0sez3n0pbl0-describe-body.sdp");
    assert_eq!(
        ipcam.media[0].rtpmap(96),
        Some(rtpmap("H264", 90000, None)),
        "trailing space"
    );

    let vstarcam = sdp("vstarcam-describe-body.sdp");
    let audio = &vstarcam.media[1];
    assert_eq!(
        audio.formats,
        ["8"],
        "trailing tab and space on the m= line"
    );
    assert_eq!(audio.rtpmap(8), Some(rtpmap("PCMA", 8000, Some(1))));
    assert_eq!(vstarcam.media[0].bandwidths, ["AS:1536"]);

    let ycam = sdp("ycam-bullet-hd-1.sdp");
    assert!(ycam
        .attribute("mpeg4-iod")
        .unwrap()
        .starts_with(" \"data:application/mpeg4-iod;"));

    let anjvision = sdp("anjvision-ipcam-describe-body.sdp");
    assert!(anjvision.media[0].attribute("x-dimensions").is_some());
}

#[test]
fn static_payload_types() {
    let table = [
        (0, "PCMU", 8000),
        (3, "GSM", 8000),
        (8, "PCMA", 8000),
        (9, "G722", 8000),
        (14, "MPA", 90000),
        (18, "G729", 8000),
        (26, "JPEG", 90000),
        (32, "MPV", 90000),
        (33, "MP2T", 90000),
        (34, "H263", 90000),
    ];
    for (pt, encoding, clock_rate) in table {
        let map = RtpMap::static_payload_type(pt).unwrap();
        assert_eq!(
            (map.encoding.as_str(), map.clock_rate),
            (encoding, clock_rate),
            "PT {pt}"
        );
    }
    assert_eq!(RtpMap::static_payload_type(10).unwrap().channels, Some(2));
    for pt in [1, 2, 19, 20, 24, 27, 35, 72, 96, 127] {
        assert_eq!(RtpMap::static_payload_type(pt), None, "PT {pt}");
    }
    let media = MediaDescription {
        formats: vec!["96".into()],
        ..Default::default()
    };
    assert_eq!(media.rtpmap(96), None);
}

#[test]
fn tolerated_layouts() {
    let text = b"RTSP garbage before the SDP\n\
        v=0 \t\n\
        \n\
        x=unknown line type\n\
        this line has no equals sign\n\
        o=- 1 1 IN IP4 10.0.0.1\r\r\n\
        s=First\n\
        s=Second\n\
        t=0 0\n\
        r=7d 1h 0 25h\n\
        a=control:*\r\
        m=audio 0/2 RTP/AVP 0 8 dyn\n\
        a=recvonly\n\
        a=control: track1 \n\
        t=1 2\n\
        \0\0";
    let parsed = SessionDescription::parse(text).unwrap();
    assert_eq!(parsed.session_name, "First");
    assert_eq!(parsed.origin.as_ref().unwrap().address, "10.0.0.1");
    assert_eq!(parsed.times, ["0 0"]);
    assert_eq!(parsed.control(), Some("*"));
    let audio = &parsed.media[0];
    assert_eq!((audio.port, audio.num_ports), (0, Some(2)));
    assert_eq!(audio.formats, ["0", "8", "dyn"]);
    assert_eq!(audio.payload_types().collect::<Vec<_>>(), [0, 8]);
    assert_eq!(audio.control(), Some("track1"));
    assert_eq!(audio.attribute("control"), Some(" track1"));
    assert_eq!(audio.direction(), Some("recvonly"));
    assert_eq!(
        audio.attribute("CONTROL"),
        Some(" track1"),
        "names compare case-insensitively"
    );
    assert_eq!(audio.attribute("absent"), None);
    assert_round_trip("tolerated_layouts", &parsed);
}

#[test]
fn errors_carry_line_numbers() {
    assert_eq!(SessionDescription::parse(b""), Err(SdpError::Empty));
    assert_eq!(
        SessionDescription::parse(b"hello\r\ns=name\r\n"),
        Err(SdpError::Empty)
    );
    assert_eq!(
        SessionDescription::parse(b"v=zero\r\n"),
        Err(SdpError::InvalidVersion {
            line: 1,
            value: "zero".into()
        })
    );
    assert!(matches!(
        SessionDescription::parse(b"v=0\r\ns=x\r\n\r\nm=video\r\n"),
        Err(SdpError::InvalidMedia { line: 4, .. })
    ));
    assert!(matches!(
        SessionDescription::parse(b"v=0\nm=video 65536 RTP/AVP 96\n"),
        Err(SdpError::InvalidMedia { line: 2, .. })
    ));
    assert!(matches!(
        SessionDescription::parse(b"m=video 0/x RTP/AVP 96\n"),
        Err(SdpError::InvalidMedia { line: 1, .. })
    ));
    let message = SessionDescription::parse(b"v=0\nm=audio\n")
        .unwrap_err()
        .to_string();
    assert!(message.contains("line 2"), "{message}");
}

#[test]
fn generated_h264_sdp_is_exact() {
    let sdp = SessionDescription {
        version: 0,
        origin: Some(Origin {
            username: "-".into(),
            session_id: "1700000000".into(),
            session_version: "1".into(),
            net_type: "IN".into(),
            addr_type: "IP4".into(),
            address: "192.0.2.10".into(),
        }),
        session_name: "cam1".into(),
        connection: Some("IN IP4 0.0.0.0".into()),
        times: vec!["0 0".into()],
        attributes: vec![Attribute::new("tool", "sluice"), Attribute::new("control", "*")],
        media: vec![MediaDescription {
            media: "video".into(),
            port: 0,
            proto: "RTP/AVP".into(),
            formats: vec!["96".into()],
            attributes: vec![
                Attribute::new("rtpmap", format!("96 {}", rtpmap("H264", 90000, None))),
                Attribute::new(
                    "fmtp",
                    "96 packetization-mode=1;profile-level-id=64001F;sprop-parameter-sets=Z2QAH6zZQFAFuhAAAAMAEAAAAwPI8YMZYA==,aOvjyyLA",
                ),
                Attribute::new("control", "trackID=0"),
                Attribute::flag("recvonly"),
            ],
            ..Default::default()
        }],
        ..Default::default()
    };
    let expected = "v=0\r\n\
        o=- 1700000000 1 IN IP4 192.0.2.10\r\n\
        s=cam1\r\n\
        c=IN IP4 0.0.0.0\r\n\
        t=0 0\r\n\
        a=tool:sluice\r\n\
        a=control:*\r\n\
        m=video 0 RTP/AVP 96\r\n\
        a=rtpmap:96 H264/90000\r\n\
        a=fmtp:96 packetization-mode=1;profile-level-id=64001F;sprop-parameter-sets=Z2QAH6zZQFAFuhAAAAMAEAAAAwPI8YMZYA==,aOvjyyLA\r\n\
        a=control:trackID=0\r\n\
        a=recvonly\r\n";
    assert_eq!(sdp.to_string(), expected);
    let mut appended = String::from("prefix");
    sdp.write(&mut appended);
    assert_eq!(appended, format!("prefix{expected}"));
    assert_eq!(SessionDescription::parse(expected.as_bytes()).unwrap(), sdp);
    assert_eq!(sdp.media[0].rtpmap(96), Some(rtpmap("H264", 90000, None)));
}

#[test]
fn writer_neutralises_line_breaks() {
    let sdp = SessionDescription {
        session_name: "evil\r\nm=audio 0 RTP/AVP 0".into(),
        attributes: vec![Attribute::new("control", "x\ny")],
        ..Default::default()
    };
    let written = sdp.to_string();
    assert_eq!(
        written,
        "v=0\r\ns=evil  m=audio 0 RTP/AVP 0\r\na=control:x y\r\n"
    );
    assert!(SessionDescription::parse(written.as_bytes())
        .unwrap()
        .media
        .is_empty());
}

#[test]
fn every_corpus_fmtp_splits() {
    let files = corpus_files("fmtp");
    assert!(files.len() >= 9);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy();
        let text = fs::read_to_string(path).unwrap();
        let params = parse_fmtp(&text);
        assert!(params.len() >= 2, "{name}: {params:?}");
        for (key, value) in &params {
            assert!(
                !key.is_empty() && !key.contains([';', '=', ' ']),
                "{name}: {key:?}"
            );
            assert!(!value.contains([';', ' ', '\n']), "{name}: {value:?}");
            assert!(
                text.contains(&format!("{key}={value}")),
                "{name}: {key}={value}"
            );
        }
        // Every '=' that separates a name from its value was consumed by exactly one pair.
        let names = text.split(';').filter(|p| p.contains('=')).count();
        assert_eq!(params.len(), names, "{name}: {params:?}");
    }
}

#[test]
fn fmtp_pairs() {
    let pairs = |text| -> Vec<(String, String)> { parse_fmtp(text) };
    let owned = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let gw =
        fs::read_to_string(Path::new(CORPUS).join("fmtp/gwsecurity-gw4089ip-h264.txt")).unwrap();
    assert_eq!(
        pairs(&gw),
        owned(&[
            ("packetization-mode", "1"),
            ("profile-level-id", "5046302"),
            (
                "sprop-parameter-sets",
                "Z00AHpWoLQ9puAgICBAAAAAB,aO48gAAAAAE="
            ),
        ])
    );
    let hik =
        fs::read_to_string(Path::new(CORPUS).join("fmtp/hikvision-style-empty-sprop-h264.txt"))
            .unwrap();
    assert_eq!(
        pairs(&hik),
        owned(&[("packetization-mode", "1"), ("sprop-parameter-sets", "")])
    );
    assert_eq!(pairs("a=1; b=2;  "), owned(&[("a", "1"), ("b", "2")]));
    assert_eq!(
        pairs("DecoderTag=h3c-v3 RTCP=0"),
        owned(&[("DecoderTag", "h3c-v3"), ("RTCP", "0")])
    );
    assert_eq!(
        pairs("mode = AAC-hbr ;flag; config=1188;"),
        owned(&[("mode", "AAC-hbr"), ("flag", ""), ("config", "1188")])
    );
    assert_eq!(pairs(" ; ;; "), owned(&[]));
    assert_eq!(pairs("=x;=;y"), owned(&[("y", "")]));
    assert_eq!(pairs("config=AAA=="), owned(&[("config", "AAA==")]));
}

/// SDP-like text: lines of common types with printable values, LF or CRLF.
fn sdp_like() -> impl Strategy<Value = String> {
    let line = (
        prop::sample::select(vec![
            "v", "o", "s", "i", "u", "c", "b", "t", "a", "m", "e", "x",
        ]),
        prop::sample::select(vec![
            "0",
            "",
            " ",
            "- 1 1 IN IP4 1.2.3.4",
            "IN IP4",
            "IN",
            "video 0 RTP/AVP 96",
            "audio 0/2 RTP/AVP 0 8",
            "rtpmap:96 H264/90000",
            "fmtp:96 a=b;c",
            "control:*",
            "recvonly",
        ]),
        "[ -~]{0,24}",
        prop::bool::ANY,
    )
        .prop_map(|(kind, common, random, crlf)| {
            let value = if random.len() % 3 == 0 {
                random
            } else {
                common.to_owned()
            };
            format!("{kind}={value}{}", if crlf { "\r\n" } else { "\n" })
        });
    prop::collection::vec(line, 0..24).prop_map(|lines| lines.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(parsed) = SessionDescription::parse(&bytes) {
            let _ = parsed.to_string();
            for media in &parsed.media {
                for pt in 0..128 {
                    let _ = (media.rtpmap(pt), media.fmtp(pt).map(parse_fmtp));
                }
            }
        }
    }

    #[test]
    fn sdp_like_text_round_trips(text in sdp_like()) {
        if let Ok(parsed) = SessionDescription::parse(text.as_bytes()) {
            let written = parsed.to_string();
            prop_assert_eq!(SessionDescription::parse(written.as_bytes()), Ok(parsed), "{}", written);
        }
    }

    #[test]
    fn fmtp_never_panics(text in "[ -~]{0,64}") {
        for (key, value) in parse_fmtp(&text) {
            prop_assert!(!key.is_empty());
            prop_assert!(text.contains(&key) && text.contains(&value));
        }
    }
}

/// CAMERA-QUIRKS #36: the video's fmtp at the end of the audio section goes back to the video.
#[test]
fn misplaced_fmtp_is_adopted_by_its_section() {
    let mut misplaced = sdp("unknown-fmtp-in-wrong-section-1.sdp");
    assert_eq!(misplaced.media[0].fmtp(96), None);
    assert_eq!(misplaced.adopt_misplaced_fmtp(), 1);
    assert!(misplaced.media[0]
        .fmtp(96)
        .is_some_and(|f| f.contains("sprop-parameter-sets=Z0IAH5WoFAFuQA==")));
    assert!(misplaced.media[1]
        .attributes
        .iter()
        .all(|a| a.name != "fmtp"));
    assert_eq!(misplaced.adopt_misplaced_fmtp(), 0);
    // Nothing moves in any other corpus SDP.
    let moved: Vec<String> = corpus_files("sdp")
        .iter()
        .filter_map(|path| {
            let mut sdp = SessionDescription::parse(&fs::read(path).ok()?).ok()?;
            (sdp.adopt_misplaced_fmtp() > 0)
                .then(|| path.file_name().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(moved, ["unknown-fmtp-in-wrong-section-1.sdp"]);
}

/// Only one fmtp moves per payload type, and only to a single section that lists it; a second
/// stray stays put, and an ambiguous owner gets nothing.
#[test]
fn misplaced_fmtp_moves_only_when_unambiguous() {
    let text = "v=0\r\ns=x\r\nt=0 0\r\n\
                m=video 0 RTP/AVP 96\r\n\
                m=audio 0 RTP/AVP 8\r\na=fmtp:96 first\r\na=fmtp:96 second\r\na=fmtp:97 nobody\r\n\
                m=video 0 RTP/AVP 98\r\nm=video 0 RTP/AVP 98\r\n\
                m=audio 0 RTP/AVP 0\r\na=fmtp:98 two owners\r\n";
    let mut sdp = SessionDescription::parse(text.as_bytes()).unwrap();
    assert_eq!(sdp.adopt_misplaced_fmtp(), 1);
    assert_eq!(sdp.media[0].fmtp(96), Some("first"));
    let left: Vec<_> = sdp.media[1]
        .attributes
        .iter()
        .filter_map(|a| a.value.as_deref())
        .collect();
    assert_eq!(left, ["96 second", "97 nobody"]);
    assert_eq!(sdp.media[4].attributes.len(), 1);
}
