//! Camera quirks (shared/CAMERA-QUIRKS.md sections A–G and J) reproduced by the fake camera, with
//! the real client code. Each test names the quirk number it covers.

mod common;

use std::time::Duration;

use common::*;
use sluice_client::{
    quirk, ClientError, CseqPolicy, InitialSequencePolicy, MetadataPolicy, RequestHeaderPolicy,
    Session, SessionIdPolicy, TeardownPolicy, Transport, TransportPolicy, UnassignedChannelPolicy,
};
use sluice_testkit::camera::{
    server_request, Check, Expect, FakeCamera, Reply, RtpStream, Script, Step,
};

fn has(quirks: &[sluice_client::Quirk], name: &str) -> bool {
    has_quirk(quirks, name)
}

// ---------------------------------------------------------------------------------------------
// A. Framing

/// #1 (Longse: `CSeq: 1 ` with a trailing space) and #26 (Digest without qop, decimal nonce).
#[tokio::test]
async fn a01_longse_padded_cseq_and_rfc2069_digest() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("DESCRIBE")
            .check(Check::Lacks("Authorization"))
            .reply(Reply::transcript("longse-401-unauthorized.txt"))
            .into(),
        Expect::new("DESCRIBE")
            .check(Check::Contains(
                "Authorization",
                "Digest username=\"admin\"".into(),
            ))
            .check(Check::Contains(
                "Authorization",
                "nonce=\"98481030\"".into(),
            ))
            .check(Check::NotContains("Authorization", "qop=".into()))
            .reply(Reply::status(200).body(SDP_VIDEO.as_bytes()))
            .into(),
        setup_tcp("0-1"),
        play(),
        Step::rtp(0, 10),
    ])])
    .unwrap();
    let url = camera
        .url("stream")
        .replace("rtsp://", "rtsp://admin:12345@");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        let mut playing = session.play(None).await.unwrap();
        let packets = collect(&mut playing, 10, 5).await.unwrap();
        assert_contiguous(&seqs(&packets));
        assert!(has(playing.quirks(), quirk::DIGEST_WITHOUT_QOP));
        assert!(
            !has(playing.quirks(), quirk::CSEQ_MISMATCH),
            "{:?}",
            playing.quirks()
        );
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #1: `CSeq: 0` (Foscam C1), no CSeq (Parrot Anafi), the previous request's CSeq (C520WS).
#[tokio::test]
async fn a01_cseq_zero_missing_and_stale_matched_by_order() {
    let options_cseq_zero = || -> Step {
        Expect::new("OPTIONS")
            .reply(Reply::raw("RTSP/1.0 200 OK\r\nCSeq: 0\r\n\r\n").keep_cseq())
            .into()
    };
    let script = || {
        Script::new(vec![
            options_cseq_zero(),
            Expect::new("DESCRIBE")
                .reply(Reply::raw("RTSP/1.0 200 OK\r\n\r\n").body(SDP_VIDEO.as_bytes()))
                .into(),
            Expect::new("SETUP")
                .reply(
                    Reply::raw(format!(
                        "RTSP/1.0 200 OK\r\nCSeq: 2\r\nSession: {SESSION}\r\n\
                         Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n"
                    ))
                    .keep_cseq(),
                )
                .into(),
            play(),
            Step::rtp(0, 5),
        ])
    };
    // With the strict policy the client gives up on the first answer, to OPTIONS.
    let strict_script = Script::new(vec![options_cseq_zero()]);
    let camera = FakeCamera::start(vec![script(), strict_script]).unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        let mut playing = session.play(None).await.unwrap();
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        assert!(has(playing.quirks(), quirk::CSEQ_MISMATCH));
        assert!(has(playing.quirks(), quirk::CSEQ_MISSING));
        playing.teardown().await;

        let mut strict = tcp();
        strict.cseq = CseqPolicy::Strict;
        let err = Session::describe(&url, strict).await.unwrap_err();
        assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
    })
    .await;
    let log = camera.finish().unwrap();
    assert_eq!(log.connections, 2);
    let strict: Vec<&str> = log
        .requests
        .iter()
        .filter(|r| r.connection == 1)
        .map(|r| r.method.as_str())
        .collect();
    assert_eq!(strict, ["OPTIONS"]);
}

/// #2: `Cseq` spelled differently (VStarcam); requests always say `CSeq`. Also #21 (no
/// Content-Base: the request URL is the base) and #39 (`m=audio 0 RTP/AVP 8<TAB><SP>`).
#[tokio::test]
async fn a02_vstarcam_header_case() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("DESCRIBE")
            .reply(Reply::transcript("vstarcam-describe.txt"))
            .into(),
        Step::Expect(
            Expect::new("SETUP").reply(
                Reply::status(200)
                    .session(SESSION)
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
            ),
        ),
        Step::Expect(
            Expect::new("SETUP").reply(
                Reply::status(200)
                    .session(SESSION)
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3"),
            ),
        ),
        play(),
        Step::rtp(0, 5),
        Step::rtp(1, 5),
    ])])
    .unwrap();
    let url = camera.url("live/ch0");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert_eq!(session.tracks().len(), 2);
        assert_eq!(session.tracks()[0].control, format!("{url}/track0"));
        assert_eq!(session.tracks()[1].encoding, "PCMA");
        let mut playing = session.play(None).await.unwrap();
        let packets = collect(&mut playing, 10, 5).await.unwrap();
        assert_eq!(packets.iter().filter(|p| p.track == 1).count(), 5);
        assert!(has(playing.quirks(), quirk::HEADER_NAME_CASE));
        assert!(has(playing.quirks(), quirk::NO_CONTENT_BASE));
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    let setups = log.requests_of("SETUP");
    assert_eq!(setups[0].uri, format!("{url}/track0"));
    assert_eq!(setups[1].uri, format!("{url}/track1"));
    for request in &log.requests {
        assert!(
            request.headers.iter().any(|(n, _)| n == "CSeq"),
            "{} without an exact `CSeq`",
            request.method
        );
    }
}

/// #3 (LF-only go2rtc test server), #13 (server answers `interleaved=4-5`), #22 (no `a=control`).
#[tokio::test]
async fn a03_bare_lf_no_control_and_server_channels() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("DESCRIBE")
            .reply(Reply::transcript(
                "go2rtc-testserver-describe-no-control.txt",
            ))
            .into(),
        Expect::new("SETUP")
            .check(Check::Contains("Transport", "interleaved=0-1".into()))
            .reply(Reply::transcript(
                "go2rtc-testserver-setup-interleaved-4-5.txt",
            ))
            .into(),
        Expect::new("PLAY")
            .reply(Reply::raw("RTSP/1.0 200 OK\nCseq: 0\nSession: 1\n\n"))
            .into(),
        Step::rtp(0, 8),
    ])])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert_eq!(session.tracks().len(), 3);
        assert!(session.tracks().iter().all(|t| t.control == url));
        assert_eq!(session.tracks()[2].encoding, "H264");
        assert_eq!(session.tracks()[1].clock_rate, 48_000);
        let mut playing = session.play(Some(&[2])).await.unwrap();
        let packets = collect(&mut playing, 8, 5).await.unwrap();
        assert!(packets.iter().all(|p| p.track == 2));
        assert_contiguous(&seqs(&packets));
        for name in [
            quirk::BARE_LF,
            quirk::INTERLEAVED_CHANGED,
            quirk::MEDIA_WITHOUT_CONTROL,
        ] {
            assert!(
                has(playing.quirks(), name),
                "{name}: {:?}",
                playing.quirks()
            );
        }
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    assert_eq!(log.requests_of("SETUP")[0].uri, url);
    assert_eq!(log.requests_of("PLAY")[0].uri, url);
}

/// #4: a 20 KB SDP, an answer without Content-Length, and junk after a message.
#[tokio::test]
async fn a04_big_sdp_missing_length_and_junk() {
    let mut sdp = SDP_VIDEO.to_owned();
    sdp.push_str(&format!(
        "a=fmtp:96 packetization-mode=1;sprop-parameter-sets={}\r\n",
        "Z".repeat(20_000)
    ));
    let camera = FakeCamera::start(vec![Script::new(vec![
        Expect::new("OPTIONS")
            .reply(Reply::raw(
                "RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE\r\n\r\nthis is junk\r\nmore junk\r\n\r\n",
            ))
            .into(),
        describe(&sdp),
        setup_tcp("0-1"),
        play(),
        Step::rtp(0, 5),
    ])])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert!(session.tracks()[0].media.fmtp(96).unwrap().len() > 20_000);
        let mut playing = session.play(None).await.unwrap();
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        assert!(has(playing.quirks(), quirk::MESSAGE_SKIPPED));
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #5: RTP and an RTCP SR before the `PLAY` answer (Reolink, v4l2rtspserver) are kept.
#[tokio::test]
async fn a05_data_before_play_answer_is_kept() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        describe(SDP_VIDEO),
        setup_tcp("0-1"),
        Expect::new("PLAY")
            .reply(Reply::status(200).session(SESSION).data_before(4, true))
            .into(),
        Step::Rtp(RtpStream {
            first_seq: 1004,
            ..RtpStream::new(0, 6)
        }),
    ])])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        let mut playing = session.play(None).await.unwrap();
        let packets = collect(&mut playing, 10, 5).await.unwrap();
        assert_eq!(seqs(&packets).first(), Some(&1000));
        assert_contiguous(&seqs(&packets));
        assert!(has(playing.quirks(), quirk::DATA_BEFORE_PLAY));
        assert!(playing.last_sender_report(0).is_some());
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #6: data on a channel no SETUP assigned (Reolink with LIVE555 2013) is dropped. Also #17 (SSRC
/// only in RTP-Info) and #23 (RTP-Info names a stream that was not set up).
#[tokio::test]
async fn a06_unassigned_channel_reolink() {
    let script = || {
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::transcript("reolink-rlc-describe.txt"))
                .into(),
            Expect::new("SETUP")
                .check(Check::Uri(
                    "rtsp://192.168.5.206/h264Preview_01_main/trackID=1".into(),
                ))
                .reply(Reply::transcript("reolink-rlc-setup.txt"))
                .into(),
            Expect::new("PLAY")
                .check(Check::Uri(
                    "rtsp://192.168.5.206/h264Preview_01_main/".into(),
                ))
                .reply(Reply::transcript("reolink-rlc-play.txt"))
                .into(),
            Step::Rtp(RtpStream {
                channel: Some(6),
                ..RtpStream::new(0, 3)
            }),
            Step::Rtp(RtpStream {
                ssrc: 0xdcc4_a0d8,
                first_seq: 16852,
                ..RtpStream::new(0, 10)
            }),
        ])
    };
    let camera = FakeCamera::start(vec![script(), script()]).unwrap();
    let url = camera.url("h264Preview_01_main");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        let mut playing = session.play(Some(&[0])).await.unwrap();
        let packets = collect(&mut playing, 10, 5).await.unwrap();
        assert_eq!(seqs(&packets).first(), Some(&16852));
        assert!(ssrcs(&packets).iter().all(|&s| s == 0xdcc4_a0d8));
        let start = playing.rtp_info(0).unwrap();
        assert_eq!((start.seq, start.ssrc), (Some(16852), Some(0xdcc4_a0d8)));
        let unassigned = playing
            .quirks()
            .iter()
            .find(|q| q.name == quirk::UNASSIGNED_CHANNEL)
            .expect("unassigned channel quirk");
        assert!(
            unassigned
                .detail
                .contains("LIVE555 Streaming Media v2013.04.08"),
            "{unassigned}"
        );
        assert!(has(playing.quirks(), quirk::RTP_INFO_URL_MISMATCH));
        assert!(!has(playing.quirks(), quirk::SSRC_MISMATCH));
        assert_eq!(playing.dropped(), 3);
        playing.teardown().await;

        let mut strict = tcp();
        strict.unassigned_channel = UnassignedChannelPolicy::Error;
        let session = Session::describe(&url, strict).await.unwrap();
        let mut playing = session.play(Some(&[0])).await.unwrap();
        let err = collect(&mut playing, 10, 5).await.unwrap_err();
        assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
    })
    .await;
    camera.finish().unwrap();
}

/// #7: RTCP on the RTP channel is recognised by its packet type; an RTCP BYE on every track ends
/// the stream.
#[tokio::test]
async fn a07_rtcp_on_rtp_channel_and_bye() {
    let camera = FakeCamera::start(vec![Script::new(
        [
            happy_tcp(),
            vec![
                Step::rtp(0, 5),
                Step::sender_report(0, 0x5eed_0000, true),
                Step::bye(0, 0x5eed_0000),
            ],
        ]
        .concat(),
    )])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        let mut playing = session.play(None).await.unwrap();
        let packets = until_end(&mut playing, 5, 5).await.unwrap();
        assert_eq!(packets.len(), 5);
        let sr = playing.last_sender_report(0).expect("SR kept");
        assert_eq!(sr.rtp_timestamp, 90_000);
        assert!(has(playing.quirks(), quirk::RTCP_ON_RTP_CHANNEL));
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #8: requests from the server: OPTIONS answered 200 (with CSeq), others 501, before a response
/// and while streaming.
#[tokio::test]
async fn a08_server_requests_are_answered() {
    let sdp_reply = String::from_utf8(
        Reply::raw("RTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n")
            .body(SDP_VIDEO.as_bytes())
            .bytes,
    )
    .unwrap();
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("DESCRIBE").reply(Reply::none()).into(),
        server_request("OPTIONS", "*", 100, &[]),
        Step::ExpectResponse { status: 200 },
        server_request("SET_PARAMETER", "*", 101, &[]),
        Step::ExpectResponse { status: 501 },
        Step::send(&sdp_reply),
        setup_tcp("0-1"),
        play(),
        Step::rtp(0, 5),
        server_request("OPTIONS", "*", 102, &[("Session", SESSION)]),
        Step::rtp(0, 5),
        Step::ExpectResponse { status: 200 },
    ])])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        let mut playing = session.play(None).await.unwrap();
        // The fake camera reuses sequence numbers for the second burst.
        assert_eq!(collect(&mut playing, 10, 5).await.unwrap().len(), 10);
        assert!(has(playing.quirks(), quirk::SERVER_REQUEST));
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    assert_eq!(log.responses, vec![200, 501, 200]);
}

/// #9: the camera closes the connection after DESCRIBE; the client describes again on a new one.
#[tokio::test]
async fn a09_close_after_describe_reconnects() {
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::status(200).body(SDP_VIDEO.as_bytes()).then_close())
                .into(),
        ]),
        Script::new([happy_tcp(), vec![Step::rtp(0, 5)]].concat()),
    ])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        let mut playing = session.play(None).await.unwrap();
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        assert!(has(playing.quirks(), quirk::RECONNECTED));
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    assert_eq!(log.connections, 2);
    assert_eq!(log.requests_of("DESCRIBE").len(), 2);
}

// ---------------------------------------------------------------------------------------------
// B. Session header and timeouts

/// #10 (`Session:        708345999;timeout=60`), #18 (no `mode` sent; `mode="play"` answered),
/// #20 (query after the track path), #22 (aggregate control differs from Content-Base), #58
/// (metadata track not set up by default).
#[tokio::test]
async fn b10_hikvision_session_padding_and_metadata() {
    let script = |metadata: bool| {
        let mut steps = vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::transcript("hikvision-ipc-describe.txt"))
                .into(),
            Expect::new("SETUP")
                .check(Check::Uri(
                    "rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=1?transportmode=unicast&profile=Profile_1"
                        .into(),
                ))
                .check(Check::NotContains("Transport", "mode".into()))
                .reply(Reply::transcript("hikvision-ipc-setup.txt"))
                .into(),
        ];
        if metadata {
            steps.push(
                Expect::new("SETUP")
                    .check(Check::Contains("Session", "708345999".into()))
                    .reply(
                        Reply::status(200)
                            .session("708345999")
                            .header("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3"),
                    )
                    .into(),
            );
        }
        steps.push(
            Expect::new("PLAY")
                .check_session()
                .check(Check::Uri(
                    "rtsp://192.168.5.106:554/Streaming/Channels/101/?transportmode=unicast&profile=Profile_1"
                        .into(),
                ))
                .reply(Reply::transcript("hikvision-ipc-play.txt"))
                .into(),
        );
        steps.push(Step::Rtp(RtpStream {
            first_seq: 24104,
            ssrc: 0x4cac_c3d1,
            ..RtpStream::new(0, 5)
        }));
        Script::new(steps)
    };
    let camera = FakeCamera::start(vec![script(false), script(true)]).unwrap();
    let url = camera.url("Streaming/Channels/101");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert_eq!(session.tracks().len(), 2);
        assert!(session.tracks()[1].metadata);
        let mut playing = session.play(None).await.unwrap();
        assert_eq!(playing.selection(), &[0]);
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        assert_eq!(playing.rtp_info(0).unwrap().seq, Some(24104));
        assert!(has(playing.quirks(), quirk::METADATA_SKIPPED));
        playing.teardown().await;

        let mut options = tcp();
        options.metadata = MetadataPolicy::Include;
        let session = Session::describe(&url, options).await.unwrap();
        let playing = session.play(None).await.unwrap();
        assert_eq!(playing.selection(), &[0, 1]);
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #10: a Session header in the DESCRIBE answer (Wowza) is ignored until SETUP; #24: RTP-Info
/// `seq=1` ignored by default, kept with [`InitialSequencePolicy::Trust`]; #23: a relative
/// RTP-Info url.
#[tokio::test]
async fn b10_wowza_session_in_describe() {
    let script = || {
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::transcript("wowza-4.8-bunny-describe.txt"))
                .into(),
            Expect::new("SETUP")
                .check(Check::Lacks("Session"))
                .check(Check::Uri(
                    "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/trackID=1"
                        .into(),
                ))
                .reply(Reply::transcript("wowza-4.8-bunny-setup.txt"))
                .into(),
            Expect::new("PLAY")
                .check_session()
                .reply(Reply::transcript("wowza-4.8-bunny-play.txt"))
                .into(),
            Step::rtp(0, 3),
        ])
    };
    let camera = FakeCamera::start(vec![script(), script()]).unwrap();
    let url = camera.url("vod/mp4:BigBuckBunny_115k.mov");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert_eq!(
            session.server(),
            Some("Wowza Streaming Engine 4.8.10 build20210217143515")
        );
        assert_eq!(session.tracks()[0].clock_rate, 12_000);
        let mut playing = session.play(Some(&[0])).await.unwrap();
        assert_eq!(collect(&mut playing, 3, 5).await.unwrap().len(), 3);
        assert_eq!(playing.rtp_info(0).unwrap().seq, None);
        assert_eq!(playing.rtp_info(0).unwrap().rtptime, Some(0));
        assert!(has(playing.quirks(), quirk::SESSION_BEFORE_SETUP));
        assert!(has(playing.quirks(), quirk::RTP_INFO_SUSPICIOUS));
        // The PLAY answer names another session (stitched capture): the first id is kept.
        assert!(has(playing.quirks(), quirk::SESSION_ID_CHANGED));
        playing.teardown().await;

        let mut trust = tcp();
        trust.initial_sequence = InitialSequencePolicy::Trust;
        let playing = Session::describe(&url, trust)
            .await
            .unwrap()
            .play(Some(&[0]))
            .await
            .unwrap();
        assert_eq!(playing.rtp_info(0).unwrap().seq, Some(1));
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #11: the second SETUP answers another session id (H264DVR); the first is kept. Also #15
/// (`source=127.0.0.1`, media from another port than `server_port`), #19 (loopback base without a
/// trailing slash), #21, #23 (no RTP-Info) over UDP.
#[tokio::test]
async fn b11_h264dvr_session_id_changes() {
    let script = |finish: bool| {
        let mut steps = vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::transcript("h264dvr-describe.txt"))
                .into(),
            Expect::new("SETUP")
                .check(Check::Uri("rtsp://127.0.0.1:554/camera/trackID=3".into()))
                .check(Check::Contains(
                    "Transport",
                    "RTP/AVP;unicast;client_port=".into(),
                ))
                .reply(Reply::transcript("h264dvr-setup-video.txt"))
                .into(),
            Expect::new("SETUP")
                .check(Check::Uri("rtsp://127.0.0.1:554/camera/trackID=4".into()))
                .check(Check::Contains("Session", "231970".into()))
                .reply(Reply::transcript("h264dvr-setup-audio.txt"))
                .into(),
        ];
        if finish {
            steps.push(
                Expect::new("PLAY")
                    .check(Check::Contains("Session", "231970".into()))
                    .check(Check::Uri("rtsp://127.0.0.1:554/camera".into()))
                    .reply(Reply::transcript("h264dvr-play.txt"))
                    .into(),
            );
            steps.push(Step::Rtp(RtpStream {
                from_other_port: true,
                ..RtpStream::new(0, 10)
            }));
            steps.push(Step::rtp(1, 3));
        }
        Script::new(steps)
    };
    let camera = FakeCamera::start(vec![script(true), script(false)]).unwrap();
    let url = camera.url("camera");
    bounded(20, async {
        let session = Session::describe(&url, with(TransportPolicy::Udp))
            .await
            .unwrap();
        let mut playing = session.play(None).await.unwrap();
        assert_eq!(playing.transport(), Transport::Udp);
        let packets = collect(&mut playing, 13, 5).await.unwrap();
        assert_eq!(packets.iter().filter(|p| p.track == 0).count(), 10);
        for name in [
            quirk::SESSION_ID_CHANGED,
            quirk::UDP_SOURCE_PORT,
            quirk::RTP_INFO_MISSING,
            quirk::HEADER_NAME_CASE,
        ] {
            assert!(
                has(playing.quirks(), name),
                "{name}: {:?}",
                playing.quirks()
            );
        }
        playing.teardown().await;

        let mut strict = with(TransportPolicy::Udp);
        strict.session_id = SessionIdPolicy::RequireConsistent;
        let err = Session::describe(&url, strict)
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
    })
    .await;
    let log = camera.finish().unwrap();
    // #31 over UDP: receiver reports go to server_port + 1 (the camera's RTCP port).
    assert!(
        log.udp_rtcp
            .iter()
            .any(|(c, p)| *c == 0 && p.get(1) == Some(&201)),
        "no RR on the camera's RTCP port"
    );
}

/// #12: GW Security's PLAY says `timeout=120` after SETUP's 60 (the smaller is kept); #20 (base
/// with a query and no slash), #23 (RTP-Info url matching no track), #38 (`rtpmap:8 PCMU`).
#[tokio::test]
async fn b12_gw_security_timeout_changes() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("DESCRIBE")
            .reply(Reply::transcript("gwsecurity-gw4089ip-main-describe.txt"))
            .into(),
        Expect::new("SETUP")
            .check(Check::Uri(
                "rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif/video"
                    .into(),
            ))
            .reply(Reply::transcript(
                "gwsecurity-gw4089ip-main-setup-video.txt",
            ))
            .into(),
        Expect::new("SETUP")
            .check(Check::Uri(
                "rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif/audio"
                    .into(),
            ))
            .reply(Reply::transcript(
                "gwsecurity-gw4089ip-main-setup-audio.txt",
            ))
            .into(),
        Expect::new("PLAY")
            .check(Check::Contains("Session", "9a90de54".into()))
            .reply(Reply::transcript("gwsecurity-gw4089ip-main-play.txt"))
            .into(),
        Step::rtp(0, 4),
        Step::rtp(1, 4),
    ])])
    .unwrap();
    let url = camera.url("H264?channel=1&subtype=0&unicast=true&proto=Onvif");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert_eq!(session.tracks()[1].encoding, "PCMU");
        let mut playing = session.play(None).await.unwrap();
        assert_eq!(collect(&mut playing, 8, 5).await.unwrap().len(), 8);
        assert!(has(playing.quirks(), quirk::SESSION_TIMEOUT_CHANGED));
        assert!(has(playing.quirks(), quirk::RTP_INFO_URL_MISMATCH));
        assert!(playing.rtp_info(0).is_none());
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #12, #30, #31: `timeout=2` gives a keepalive every second, GET_PARAMETER because Public lists
/// it, sent to the aggregate URL with the session; receiver reports flow on the RTCP channel.
#[tokio::test]
async fn b12_short_timeout_keepalives_and_receiver_reports() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        describe(SDP_VIDEO),
        Expect::new("SETUP")
            .reply(
                Reply::status(200)
                    .session(&format!("{SESSION};timeout=2"))
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
            )
            .into(),
        play(),
        Step::Rtp(RtpStream {
            interval: Duration::from_millis(20),
            ..RtpStream::new(0, 125)
        }),
    ])])
    .unwrap();
    let url = camera.url("stream");
    let mut options = tcp();
    options.rtcp_interval = Duration::from_millis(500);
    bounded(20, async {
        let session = Session::describe(&url, options).await.unwrap();
        let mut playing = session.play(None).await.unwrap();
        let packets = collect(&mut playing, 125, 10).await.unwrap();
        assert_contiguous(&seqs(&packets));
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    let keepalives = log.requests_of("GET_PARAMETER");
    assert!(keepalives.len() >= 2, "{:?}", log.methods());
    for k in &keepalives {
        assert_eq!(k.uri, url, "keepalives go to the aggregate URL");
        assert_eq!(k.header("Session"), Some(SESSION));
    }
    let gaps: Vec<Duration> = keepalives.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps.iter()
            .all(|g| *g >= Duration::from_millis(700) && *g <= Duration::from_millis(1500)),
        "{gaps:?}"
    );
    // RTCP RR + SDES on channel 1, at least one per 500 ms, with a block about the camera's SSRC.
    let reports: Vec<&Vec<u8>> = log
        .frames
        .iter()
        .filter(|(_, ch, _)| *ch == 1)
        .map(|(_, _, p)| p)
        .collect();
    assert!(reports.len() >= 4, "{} reports", reports.len());
    let last = reports.last().unwrap();
    assert_eq!(last[1], 201, "an RR first");
    assert_eq!(last[0] & 0x1f, 1, "one report block");
    assert_eq!(
        u32::from_be_bytes([last[8], last[9], last[10], last[11]]),
        0x5eed_0000
    );
    assert!(log.rtcp_packet_types().contains(&202), "SDES CNAME");
}

// ---------------------------------------------------------------------------------------------
// C. Transport

/// #13: a TCP answer without `interleaved=` keeps the requested channels; a single channel `n`
/// means n, n+1.
#[tokio::test]
async fn c13_interleaved_missing_or_single() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        describe(SDP_AV),
        Expect::new("SETUP")
            .reply(
                Reply::status(200)
                    .session(SESSION)
                    .header("Transport", "RTP/AVP/TCP;unicast"),
            )
            .into(),
        Expect::new("SETUP")
            .check(Check::Contains("Transport", "interleaved=2-3".into()))
            .reply(
                Reply::status(200)
                    .session(SESSION)
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=6"),
            )
            .into(),
        play(),
        Step::rtp(0, 3),
        Step::rtp(1, 3),
    ])])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let packets = collect(&mut playing, 6, 5).await.unwrap();
        assert_eq!(packets.iter().filter(|p| p.track == 1).count(), 3);
        assert!(has(playing.quirks(), quirk::INTERLEAVED_MISSING));
        assert!(has(playing.quirks(), quirk::INTERLEAVED_CHANGED));
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #14: Luckfox rkipc answers without `unicast`, `ssrc` first, over TCP and UDP.
#[tokio::test]
async fn c14_luckfox_transport_order() {
    let script = |setup: &str, udp: bool| {
        let mut steps = vec![options(), describe(SDP_VIDEO)];
        steps.push(Expect::new("SETUP").reply(Reply::transcript(setup)).into());
        steps.push(play());
        steps.push(Step::Rtp(RtpStream {
            ssrc: if udp { 0x2234_5685 } else { 0x2234_5684 },
            ..RtpStream::new(0, 5)
        }));
        Script::new(steps)
    };
    let camera = FakeCamera::start(vec![
        script("luckfox-rkipc-setup-tcp.txt", false),
        script("luckfox-rkipc-setup-udp.txt", true),
    ])
    .unwrap();
    let url = camera.url("live/0");
    bounded(20, async {
        for policy in [TransportPolicy::Tcp, TransportPolicy::Udp] {
            let mut playing = Session::describe(&url, with(policy))
                .await
                .unwrap()
                .play(None)
                .await
                .unwrap();
            assert_eq!(
                collect(&mut playing, 5, 5).await.unwrap().len(),
                5,
                "{policy}"
            );
            assert!(!has(playing.quirks(), quirk::SSRC_MISMATCH));
            assert!(has(playing.quirks(), quirk::SESSION_TIMEOUT_MISSING));
            playing.teardown().await;
        }
    })
    .await;
    camera.finish().unwrap();
}

/// #14: 461 to UDP, then TCP on the same connection (auto); with UDP only, an error.
#[tokio::test]
async fn c14_461_then_tcp() {
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            Expect::new("SETUP")
                .check(Check::Contains("Transport", "client_port=".into()))
                .reply(Reply::status(461))
                .into(),
            setup_tcp("0-1"),
            play(),
            Step::rtp(0, 5),
        ]),
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            Expect::new("SETUP").reply(Reply::status(461)).into(),
        ]),
    ])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, with(TransportPolicy::Auto))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(playing.transport(), Transport::Tcp);
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        assert!(has(playing.quirks(), quirk::UNSUPPORTED_TRANSPORT));
        playing.teardown().await;

        let err = Session::describe(&url, with(TransportPolicy::Udp))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ClientError::Status { status, .. } if status.0 == 461),
            "{err}"
        );
    })
    .await;
    camera.finish().unwrap();
}

/// #14: Escam Q6 answers a TCP request with `RTP/AVP;…;interleaved=0-1`; a server that forces TCP
/// on a UDP request.
#[tokio::test]
async fn c14_profile_mismatch_and_forced_tcp() {
    let script = |transport: &str| {
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            Expect::new("SETUP")
                .reply(
                    Reply::status(200)
                        .session(SESSION)
                        .header("Transport", transport),
                )
                .into(),
            play(),
            Step::rtp(0, 5),
        ])
    };
    let camera = FakeCamera::start(vec![
        script("RTP/AVP;unicast;interleaved=0-1"),
        script("RTP/AVP/TCP;unicast;interleaved=0-1"),
    ])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        assert!(has(playing.quirks(), quirk::TRANSPORT_PROFILE_MISMATCH));
        playing.teardown().await;

        let mut playing = Session::describe(&url, with(TransportPolicy::Udp))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(playing.transport(), Transport::Tcp);
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        assert!(has(playing.quirks(), quirk::SERVER_FORCED_TCP));
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #15: no `server_port` (OpenIPC), a `source=` that is not the server, media from another port;
/// receiver reports then go to where the server's RTCP comes from.
#[tokio::test]
async fn c15_udp_without_server_port() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        describe(SDP_VIDEO),
        Expect::new("SETUP")
            .reply(
                Reply::status(200)
                    .session(SESSION)
                    .header("Transport", "RTP/AVP;unicast;source=192.0.2.7;ssrc=1234")
                    .keep_ports(),
            )
            .into(),
        play(),
        Step::sender_report(0, 0x5eed_0000, false),
        Step::Rtp(RtpStream {
            from_other_port: true,
            interval: Duration::from_millis(20),
            ..RtpStream::new(0, 60)
        }),
    ])])
    .unwrap();
    let url = camera.url("stream");
    let mut options = with(TransportPolicy::Udp);
    options.rtcp_interval = Duration::from_millis(300);
    bounded(20, async {
        let mut playing = Session::describe(&url, options)
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let packets = collect(&mut playing, 60, 5).await.unwrap();
        assert_contiguous(&seqs(&packets));
        for name in [
            quirk::SERVER_PORT_MISSING,
            quirk::UDP_SOURCE_IGNORED,
            quirk::SSRC_MISMATCH,
        ] {
            assert!(
                has(playing.quirks(), name),
                "{name}: {:?}",
                playing.quirks()
            );
        }
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    assert!(
        !log.udp_rtcp.is_empty(),
        "receiver reports reach the server's RTCP source"
    );
    assert_eq!(log.udp_rtcp[0].1[1], 201);
}

/// #16: a unicast request answered with multicast-style delivery (VLC): TCP with auto, an error
/// with UDP only.
#[tokio::test]
async fn c16_multicast_answer_to_unicast() {
    let vlc = || {
        Expect::new("SETUP")
            .check(Check::Contains("Transport", "unicast".into()))
            .reply(
                Reply::status(200)
                    .header(
                        "Transport",
                        "RTP/AVP;destination=127.0.0.1;port=1234-1235;ttl=1",
                    )
                    .keep_ports(),
            )
            .into()
    };
    let camera = FakeCamera::start(vec![
        // The camera counts tracks per successful SETUP: the TCP one is its track 1.
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            vlc(),
            setup_tcp("0-1"),
            play(),
            Step::rtp(1, 5),
        ]),
        Script::new(vec![options(), describe(SDP_VIDEO), vlc()]),
    ])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, with(TransportPolicy::Auto))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(playing.transport(), Transport::Tcp);
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        assert!(has(playing.quirks(), quirk::MULTICAST_ANSWER));
        playing.teardown().await;
        let err = Session::describe(&url, with(TransportPolicy::Udp))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Protocol { .. }), "{err}");
    })
    .await;
    camera.finish().unwrap();
}

/// #17: `ssrc= d6d6627` (Hikvision, leading space, 7 digits) and packets from another SSRC are
/// still delivered.
#[tokio::test]
async fn c17_ssrc_hint_only() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        describe(SDP_VIDEO),
        Expect::new("SETUP")
            .reply(Reply::transcript("hikvision-setup-ssrc-leading-space.txt"))
            .into(),
        play(),
        Step::Rtp(RtpStream {
            ssrc: 0x0d6d_6627,
            ..RtpStream::new(0, 3)
        }),
        Step::Rtp(RtpStream {
            ssrc: 0x1111_2222,
            first_seq: 1003,
            ..RtpStream::new(0, 3)
        }),
    ])])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let packets = collect(&mut playing, 6, 5).await.unwrap();
        assert_eq!(ssrcs(&packets)[..3], [0x0d6d_6627; 3]);
        assert!(has(playing.quirks(), quirk::SSRC_MISMATCH));
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

// ---------------------------------------------------------------------------------------------
// D. URLs and control resolution

/// #19: relative controls appended with one `/` (no RFC 3986 resolution); #21: Anjvision's
/// Content-Base without a scheme is repaired.
#[tokio::test]
async fn d19_d21_control_joining_and_base_repair() {
    let base_sdp = SDP_VIDEO.replace("trackID=1", "/trackID=1");
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(
                    Reply::status(200)
                        .header("Content-Base", "rtsp://192.0.2.1:554/live/stream")
                        .body(base_sdp.as_bytes()),
                )
                .into(),
            Expect::new("SETUP")
                .check(Check::Uri(
                    "rtsp://192.0.2.1:554/live/stream/trackID=1".into(),
                ))
                .reply(
                    Reply::status(200)
                        .session(SESSION)
                        .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
                )
                .into(),
            Expect::new("PLAY")
                .check(Check::Uri("rtsp://192.0.2.1:554/live/stream".into()))
                .reply(Reply::status(200))
                .into(),
        ]),
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::transcript("anjvision-ipcam-describe.txt"))
                .into(),
            Expect::new("SETUP")
                .check(Check::Uri(
                    "rtsp://192.168.1.10:554/stream0/trackID=1".into(),
                ))
                .reply(
                    Reply::status(200)
                        .session(SESSION)
                        .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
                )
                .into(),
            Expect::new("PLAY")
                .check(Check::Uri("rtsp://192.168.1.10:554/stream0/".into()))
                .reply(Reply::status(200))
                .into(),
        ]),
    ])
    .unwrap();
    let url = camera.url("stream0");
    bounded(20, async {
        let playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        playing.teardown().await;
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert_eq!(session.tracks()[0].encoding, "H265");
        let playing = session.play(None).await.unwrap();
        assert!(has(playing.quirks(), quirk::CONTENT_BASE_REPAIRED));
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #20: Dahua's Content-Base with the query then `/`; metadata (trackID=4) skipped; #23:
/// relative RTP-Info urls for three streams matched to the two playing.
#[tokio::test]
async fn d20_dahua_query_base() {
    let base =
        "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/";
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("DESCRIBE")
            .reply(Reply::transcript("dahua-h264-aac-onvif-describe.txt"))
            .into(),
        Expect::new("SETUP")
            .check(Check::Uri(format!("{base}trackID=0")))
            .reply(Reply::transcript("dahua-setup.txt"))
            .into(),
        Expect::new("SETUP")
            .check(Check::Uri(format!("{base}trackID=1")))
            .reply(
                Reply::status(200)
                    .session("634214675641;timeout=60")
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=2-3"),
            )
            .into(),
        Expect::new("PLAY")
            .check(Check::Uri(base.into()))
            .reply(Reply::transcript("dahua-play.txt"))
            .into(),
        Step::rtp(0, 2),
        Step::rtp(1, 2),
    ])])
    .unwrap();
    let url = camera.url("cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif");
    bounded(20, async {
        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(playing.selection(), &[0, 1]);
        assert_eq!(collect(&mut playing, 4, 5).await.unwrap().len(), 4);
        assert_eq!(playing.rtp_info(0).unwrap().seq, Some(47121));
        assert_eq!(playing.rtp_info(1).unwrap().seq, Some(45186));
        assert!(
            has(playing.quirks(), quirk::RTP_INFO_URL_MISMATCH),
            "trackID=4 was not set up"
        );
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #23: Laureii's RTP-Info with a trailing `;`; #24: the simulated OMNY `rtptime=-1`.
#[tokio::test]
async fn d23_d24_rtp_info_oddities() {
    let script = |play: &str| {
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_tcp("0-1"),
            Expect::new("PLAY").reply(Reply::transcript(play)).into(),
            Step::rtp(0, 2),
        ])
    };
    let camera = FakeCamera::start(vec![
        script("laureii-play.txt"),
        script("simulated-omny-m5s2a-play-negative-rtptime.txt"),
    ])
    .unwrap();
    let url = camera.url("0/main");
    bounded(20, async {
        let mut options = tcp();
        options.initial_sequence = InitialSequencePolicy::Trust;
        let mut playing = Session::describe(&url, options.clone())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(collect(&mut playing, 2, 5).await.unwrap().len(), 2);
        let start = playing.rtp_info(0).unwrap();
        assert_eq!((start.seq, start.rtptime), (Some(0), Some(0)));
        playing.teardown().await;

        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(collect(&mut playing, 2, 5).await.unwrap().len(), 2);
        assert!(has(playing.quirks(), quirk::RTP_INFO_SUSPICIOUS));
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

// ---------------------------------------------------------------------------------------------
// E. Authentication

/// #25: every challenge of `headers/www-authenticate.txt` is answered with the scheme
/// `choose` prefers, echoing `opaque`; #27: the digest `uri` is the Request-URI.
#[tokio::test]
async fn e25_every_corpus_challenge_is_answered() {
    let text = std::fs::read_to_string(
        sluice_testkit::camera::corpus_dir().join("headers/www-authenticate.txt"),
    )
    .unwrap();
    let values: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(values.len() >= 5);
    bounded(60, async {
        for value in values {
            let challenges = sluice_rtsp::auth::Challenge::parse(value).unwrap_or_default();
            let Some(chosen) = sluice_rtsp::auth::choose(&challenges) else {
                continue;
            };
            let scheme = if matches!(chosen, sluice_rtsp::auth::Challenge::Basic { .. }) {
                "Basic "
            } else {
                "Digest "
            };
            let mut retry = Expect::new("DESCRIBE")
                .check(Check::Contains("Authorization", scheme.into()))
                .reply(Reply::status(200).body(SDP_VIDEO.as_bytes()));
            if scheme == "Digest " {
                retry = retry.check(Check::Contains(
                    "Authorization",
                    "uri=\"rtsp://127.0.0.1:".into(),
                ));
                if value.contains("opaque") {
                    retry = retry.check(Check::Contains("Authorization", "opaque=".into()));
                }
            }
            let camera = FakeCamera::start(vec![Script::new(vec![
                options(),
                Expect::new("DESCRIBE")
                    .reply(Reply::status(401).header("WWW-Authenticate", value))
                    .into(),
                retry.into(),
            ])])
            .unwrap();
            let url = camera.url("s").replace("rtsp://", "rtsp://user:pa%3Ass@");
            let session = Session::describe(&url, tcp()).await;
            assert!(session.is_ok(), "{value}: {:?}", session.err());
            drop(session);
            camera.finish().unwrap_or_else(|e| panic!("{value}: {e:#}"));
        }
    })
    .await;
}

/// #25: Hikvision's two WWW-Authenticate headers (Digest and Basic): Digest wins, SHA-256 over MD5.
#[tokio::test]
async fn e25_digest_preferred() {
    let two = Reply::status(401)
        .header("WWW-Authenticate", "Basic realm=\"cam\"")
        .header(
            "WWW-Authenticate",
            "Digest realm=\"cam\", nonce=\"aaa\", algorithm=MD5, qop=\"auth\"",
        )
        .header(
            "WWW-Authenticate",
            "Digest realm=\"IP Camera(AB705)\", nonce=\"bbb\", algorithm=\"SHA-256\", qop=\"auth\"",
        );
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("DESCRIBE").reply(two).into(),
        Expect::new("DESCRIBE")
            .check(Check::Contains("Authorization", "algorithm=SHA-256".into()))
            .check(Check::Contains("Authorization", "nonce=\"bbb\"".into()))
            .check(Check::Contains("Authorization", "qop=auth".into()))
            .reply(Reply::status(200).body(SDP_VIDEO.as_bytes()))
            .into(),
        Expect::new("SETUP")
            .check(Check::Contains("Authorization", "nc=00000002".into()))
            .check(Check::Contains(
                "Authorization",
                "uri=\"rtsp://127.0.0.1".into(),
            ))
            .reply(
                Reply::status(200)
                    .session(SESSION)
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
            )
            .into(),
        play(),
    ])])
    .unwrap();
    let url = camera.url("s").replace("rtsp://", "rtsp://admin:secret@");
    bounded(20, async {
        let playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert!(has(playing.quirks(), quirk::MULTIPLE_CHALLENGES));
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    let setup = log.requests_of("SETUP")[0];
    assert!(setup
        .header("Authorization")
        .unwrap()
        .contains(&format!("uri=\"{}\"", setup.uri)));
}

/// #28: a new nonce in a 401 to a keepalive (Axis M5525) is answered once; the stream goes on.
/// Refused credentials stop after one retry; no credentials at all is `Unauthorized` at once.
#[tokio::test]
async fn e28_rechallenge_mid_session_and_no_loops() {
    let challenge = |nonce: &str, stale: bool| {
        Reply::status(401).header(
            "WWW-Authenticate",
            &format!(
                "Digest realm=\"axis\", nonce=\"{nonce}\", qop=\"auth\", stale={}",
                if stale { "TRUE" } else { "FALSE" }
            ),
        )
    };
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE").reply(challenge("n1", false)).into(),
            Expect::new("DESCRIBE")
                .reply(Reply::status(200).body(SDP_VIDEO.as_bytes()))
                .into(),
            Expect::new("SETUP")
                .reply(
                    Reply::status(200)
                        .session(&format!("{SESSION};timeout=2"))
                        .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
                )
                .into(),
            play(),
            Step::rtp(0, 5),
            Expect::new("GET_PARAMETER")
                .reply(challenge("n2", false))
                .into(),
            Expect::new("GET_PARAMETER")
                .check(Check::Contains("Authorization", "nonce=\"n2\"".into()))
                .check(Check::Contains("Authorization", "nc=00000001".into()))
                .reply(Reply::status(200))
                .into(),
            Step::Rtp(RtpStream {
                first_seq: 1005,
                ..RtpStream::new(0, 5)
            }),
        ])
        .manual_keepalive(),
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE").reply(challenge("x1", false)).into(),
            Expect::new("DESCRIBE").reply(challenge("x1", false)).into(),
        ]),
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE").reply(challenge("y1", false)).into(),
            Expect::new("DESCRIBE").reply(challenge("y2", true)).into(),
            Expect::new("DESCRIBE").reply(challenge("y3", true)).into(),
        ]),
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE").reply(challenge("z", false)).into(),
        ]),
    ])
    .unwrap();
    let url = camera.url("axis-media/media.amp");
    let authed = url.replace("rtsp://", "rtsp://root:pass@");
    bounded(30, async {
        let mut playing = Session::describe(&authed, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let packets = collect(&mut playing, 10, 8).await.unwrap();
        assert_contiguous(&seqs(&packets));
        assert!(has(playing.quirks(), quirk::REAUTHENTICATED));
        playing.teardown().await;

        let err = Session::describe(&authed, tcp()).await.unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Unauthorized {
                    had_credentials: true,
                    ..
                }
            ),
            "{err}"
        );
        let err = Session::describe(&authed, tcp()).await.unwrap_err();
        assert!(matches!(err, ClientError::Unauthorized { .. }), "{err}");
        let err = Session::describe(&url, tcp()).await.unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::Unauthorized {
                    had_credentials: false,
                    ..
                }
            ),
            "{err}"
        );
        assert!(!err.to_string().contains("pass"));
    })
    .await;
    let log = camera.log().unwrap();
    let describes: Vec<usize> = (0..4)
        .map(|c| {
            log.requests
                .iter()
                .filter(|r| r.connection == c && r.method == "DESCRIBE")
                .count()
        })
        .collect();
    assert_eq!(describes, vec![2, 2, 3, 1]);
    assert!(log.failures.is_empty(), "{:?}", log.failures);
}

/// #29: User-Agent by default, minimal headers on request.
#[tokio::test]
async fn e29_user_agent_or_minimal_headers() {
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .check(Check::Has("User-Agent"))
                .check(Check::Contains("Accept", "application/sdp".into()))
                .reply(Reply::status(200).body(SDP_VIDEO.as_bytes()))
                .into(),
        ]),
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .check(Check::Lacks("User-Agent"))
                .check(Check::Lacks("Accept"))
                .reply(Reply::status(200).body(SDP_VIDEO.as_bytes()))
                .into(),
        ]),
    ])
    .unwrap();
    let url = camera.url("s");
    bounded(20, async {
        drop(Session::describe(&url, tcp()).await.unwrap());
        let mut minimal = tcp();
        minimal.request_headers = RequestHeaderPolicy::Minimal;
        drop(Session::describe(&url, minimal).await.unwrap());
    })
    .await;
    camera.finish().unwrap();
}

// ---------------------------------------------------------------------------------------------
// F. Keepalive and stream death

/// #30: Dahua's OPTIONS lists GET_PARAMETER; a 501 to it switches keepalives to OPTIONS; a
/// keepalive without answer does not end the session; OPTIONS-only and disabled policies.
#[tokio::test]
async fn f30_keepalive_method_fallbacks() {
    let keepalive_setup = || {
        Expect::new("SETUP")
            .reply(
                Reply::status(200)
                    .session(&format!("{SESSION};timeout=1"))
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
            )
            .into()
    };
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            Expect::new("OPTIONS")
                .reply(Reply::transcript("dahua-options.txt"))
                .into(),
            describe(SDP_VIDEO),
            keepalive_setup(),
            play(),
            Expect::new("GET_PARAMETER")
                .reply(Reply::status(501))
                .into(),
            Expect::new("OPTIONS")
                .check_session()
                .reply(Reply::none())
                .into(),
            Step::Rtp(RtpStream {
                interval: Duration::from_millis(20),
                ..RtpStream::new(0, 60)
            }),
            Expect::new("OPTIONS").reply(Reply::status(200)).into(),
        ])
        .manual_keepalive(),
        Script::new(vec![
            Expect::new("OPTIONS")
                .reply(Reply::status(200).header("Public", "OPTIONS, DESCRIBE, SETUP, PLAY"))
                .into(),
            describe(SDP_VIDEO),
            keepalive_setup(),
            play(),
            Expect::new("OPTIONS").reply(Reply::status(200)).into(),
            Step::rtp(0, 5),
        ])
        .manual_keepalive(),
    ])
    .unwrap();
    let url = camera.url("cam/realmonitor");
    bounded(30, async {
        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let packets = collect(&mut playing, 60, 10).await.unwrap();
        assert_contiguous(&seqs(&packets));
        for name in [
            quirk::KEEPALIVE_FALLBACK,
            quirk::KEEPALIVE_UNANSWERED,
            quirk::SESSION_BEFORE_SETUP,
        ] {
            assert!(
                has(playing.quirks(), name),
                "{name}: {:?}",
                playing.quirks()
            );
        }
        playing.teardown().await;

        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(collect(&mut playing, 5, 5).await.unwrap().len(), 5);
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    assert!(log
        .requests
        .iter()
        .filter(|r| r.connection == 1)
        .all(|r| r.method != "GET_PARAMETER"));
}

/// #32: a silent stream stays up while keepalives are answered; a dead one times out.
#[tokio::test]
async fn f32_silence_with_and_without_keepalive_answers() {
    let setup = || {
        Expect::new("SETUP")
            .reply(
                Reply::status(200)
                    .session(&format!("{SESSION};timeout=1"))
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
            )
            .into()
    };
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup(),
            play(),
            Step::rtp(0, 3),
            Step::sleep_ms(2500),
            Step::Rtp(RtpStream {
                first_seq: 1003,
                ..RtpStream::new(0, 3)
            }),
        ]),
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup(),
            play(),
            Step::rtp(0, 3),
            Step::sleep_ms(6000),
        ])
        .manual_keepalive(),
    ])
    .unwrap();
    let url = camera.url("metadata");
    let mut options = tcp();
    options.stall_timeout = Duration::from_millis(500);
    options.request_timeout = Duration::from_secs(1);
    bounded(30, async {
        let mut playing = Session::describe(&url, options.clone())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let packets = collect(&mut playing, 6, 8).await.unwrap();
        assert_contiguous(&seqs(&packets));
        playing.teardown().await;

        let mut playing = Session::describe(&url, options)
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let err = collect(&mut playing, 10, 8).await.unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
    camera.finish().unwrap();
}

/// #33: UDP set up but nothing arrives: TEARDOWN, reconnect, DESCRIBE again, SETUP over TCP.
#[tokio::test]
async fn f33_no_udp_packets_falls_back_to_tcp() {
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_udp(),
            play(),
            Step::sleep_ms(3000),
        ]),
        Script::new([happy_tcp(), vec![Step::rtp(0, 10)]].concat()),
    ])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, with(TransportPolicy::Auto))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(playing.transport(), Transport::Udp);
        let packets = collect(&mut playing, 10, 8).await.unwrap();
        assert_contiguous(&seqs(&packets));
        assert_eq!(playing.transport(), Transport::Tcp);
        assert!(has(playing.quirks(), quirk::UDP_FALLBACK));
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    assert_eq!(log.connections, 2);
    assert_eq!(
        log.requests
            .iter()
            .filter(|r| r.connection == 0)
            .map(|r| r.method.as_str())
            .collect::<Vec<_>>(),
        ["OPTIONS", "DESCRIBE", "SETUP", "PLAY", "TEARDOWN"]
    );
}

/// #33 with `next` in a `select!` that a timer keeps cancelling (as the proxy's idle check does):
/// the fallback still completes instead of ending the stream.
#[tokio::test]
async fn f33_fallback_survives_a_cancelled_next() {
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_udp(),
            play(),
            Step::sleep_ms(8000),
        ]),
        Script::new([happy_tcp(), vec![Step::rtp(0, 10)]].concat()),
    ])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, with(TransportPolicy::Auto))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let mut tick = tokio::time::interval(Duration::from_millis(2));
        let started = std::time::Instant::now();
        let mut received = Vec::new();
        let mut cancelled = 0u32;
        while received.len() < 10 {
            tokio::select! {
                next = playing.next() => match next.unwrap() {
                    Some(p) => received.push(p),
                    None => panic!("stream ended after {} packets", received.len()),
                },
                _ = tick.tick() => cancelled += 1,
            }
        }
        assert!(
            cancelled > 10,
            "the timer never cancelled next ({cancelled})"
        );
        // The camera never answers the TEARDOWN: its 1 s bound holds across the cancelled calls
        // (the fallback is due after 1 s, then at most 1 s of TEARDOWN, then the TCP session).
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "the fallback took {:?}",
            started.elapsed()
        );
        assert_contiguous(&seqs(&received));
        assert_eq!(playing.transport(), Transport::Tcp);
        playing.teardown().await;
    })
    .await;
    assert_eq!(camera.finish().unwrap().connections, 2);
}

// ---------------------------------------------------------------------------------------------
// G. SDP

/// #34–#40: every SDP in the corpus describes through the real client; media it cannot receive
/// are skipped, never the session.
#[tokio::test]
async fn g34_every_corpus_sdp_describes() {
    let dir = sluice_testkit::camera::corpus_dir().join("sdp");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 70);
    let scripts = files
        .iter()
        .map(|f| {
            let sdp = std::fs::read(f).unwrap();
            Script::new(vec![
                options(),
                Expect::new("DESCRIBE")
                    .reply(Reply::status(200).body(&sdp))
                    .into(),
            ])
        })
        .collect();
    let camera = FakeCamera::start(scripts).unwrap();
    let url = camera.url("s");
    bounded(60, async {
        for file in &files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            match Session::describe(&url, tcp()).await {
                Ok(session) => {
                    assert!(!session.tracks().is_empty(), "{name}");
                    for track in session.tracks() {
                        assert!(track.clock_rate > 0, "{name}");
                        assert!(
                            track.control.starts_with("rtsp://"),
                            "{name}: {}",
                            track.control
                        );
                    }
                    if name == "macrovideo-describe-body.sdp" {
                        assert!(has(session.quirks(), quirk::SDP_INCOMPLETE));
                    }
                    if name.starts_with("tplink-application-only") {
                        assert!(has(session.quirks(), quirk::MEDIA_SKIPPED), "{name}");
                    }
                    if name == "unknown-fmtp-in-wrong-section-1.sdp" {
                        // #36: the video's fmtp, found in the audio section, is the video's again.
                        assert!(has(session.quirks(), quirk::FMTP_MISPLACED), "{name}");
                        let video = &session.tracks()[0];
                        assert!(
                            video
                                .media
                                .fmtp(96)
                                .is_some_and(|f| f.contains("sprop-parameter-sets")),
                            "{name}"
                        );
                    }
                }
                Err(ClientError::NoMedia { detail, .. }) => {
                    // Header-only samples (no m= line) and descriptions whose every section is
                    // unusable.
                    let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
                    let audio_or_video = text
                        .lines()
                        .any(|l| l.starts_with("m=video") || l.starts_with("m=audio"));
                    assert!(!audio_or_video, "{name}: {detail}");
                }
                Err(e) => panic!("{name}: {e}"),
            }
        }
    })
    .await;
    camera.finish().unwrap();
}

/// #37, #38, #60: TP-Link `smart/1/90000`, `META /0`, SRTP media are skipped; #60: 463 Key
/// Management Failure is reported as a status.
#[tokio::test]
async fn g37_unusable_media_skipped_and_srtp() {
    let sdp = "v=0\r\nm=application/TP-LINK 0 RTP/AVP smart/1/90000\r\na=rtpmap:95 smart/1/90000\r\na=control:track1\r\n\
m=meta 0 RTP/AVP 123\r\na=rtpmap:123 META /0\r\na=control:track2\r\n\
m=video 0 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track3\r\n\
m=audio 0 RTP/AVP 0\r\na=control:track4\r\n";
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        describe(sdp),
        Expect::new("SETUP")
            .reply(Reply::raw(
                "RTSP/1.0 463 Key Management Failure\r\nCSeq: 0\r\n\r\n",
            ))
            .into(),
    ])])
    .unwrap();
    let url = camera.url("s");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert_eq!(session.tracks().len(), 1);
        assert_eq!(session.tracks()[0].encoding, "PCMU");
        let skipped: Vec<_> = session
            .quirks()
            .iter()
            .filter(|q| q.name == quirk::MEDIA_SKIPPED)
            .collect();
        assert_eq!(skipped.len(), 1, "first reason kept: {skipped:?}");
        let err = session.play(None).await.unwrap_err();
        assert!(
            matches!(&err, ClientError::Status { status, .. } if status.0 == 463),
            "{err}"
        );
    })
    .await;
    camera.finish().unwrap();
}

// ---------------------------------------------------------------------------------------------
// J. Session lifecycle

/// #55: Reolink's TEARDOWN answer without Session; a 500 answer; no TEARDOWN with `Never`; a UDP
/// session whose connection closed is torn down on a new connection.
#[tokio::test]
async fn j55_teardown_policies() {
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_tcp("0-1"),
            play(),
            Expect::new("TEARDOWN")
                .check_session()
                .reply(Reply::transcript("reolink-rlc-teardown.txt"))
                .into(),
        ]),
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_tcp("0-1"),
            play(),
            Expect::new("TEARDOWN").reply(Reply::status(500)).into(),
        ]),
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_tcp("0-1"),
            play(),
        ]),
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_udp(),
            play(),
            Step::rtp(0, 3),
            Step::sleep_ms(300),
            Step::Close,
        ]),
        Script::new(vec![Expect::new("TEARDOWN")
            .check(Check::Contains("Session", SESSION.into()))
            .reply(Reply::status(200))
            .into()]),
    ])
    .unwrap();
    let url = camera.url("stream");
    bounded(30, async {
        Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap()
            .teardown()
            .await;
        Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap()
            .teardown()
            .await;
        let mut never = tcp();
        never.teardown = TeardownPolicy::Never;
        Session::describe(&url, never)
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap()
            .teardown()
            .await;

        let mut playing = Session::describe(&url, with(TransportPolicy::Udp))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let packets = until_end(&mut playing, 3, 5).await.unwrap();
        assert_eq!(packets.len(), 3);
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    let teardowns: Vec<usize> = log
        .requests_of("TEARDOWN")
        .iter()
        .map(|r| r.connection)
        .collect();
    assert_eq!(teardowns, vec![0, 1, 4]);
}

/// #55 / end of stream: a TEARDOWN request from the server is answered and ends the stream.
#[tokio::test]
async fn j55_server_teardown_ends_stream() {
    let camera = FakeCamera::start(vec![Script::new(
        [
            happy_tcp(),
            vec![
                Step::rtp(0, 4),
                server_request("TEARDOWN", "*", 50, &[("Session", SESSION)]),
                Step::ExpectResponse { status: 200 },
            ],
        ]
        .concat(),
    )])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(until_end(&mut playing, 4, 5).await.unwrap().len(), 4);
        assert!(playing.next().await.unwrap().is_none(), "stays ended");
        playing.teardown().await;
    })
    .await;
    camera.finish().unwrap();
}

/// #56: PAUSE answered 551 (Hikvision DS-2CD2732F-IS): reported, the session goes on, not sent
/// again; a working PAUSE and resume.
#[tokio::test]
async fn j56_pause_not_supported() {
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_tcp("0-1"),
            play(),
            Step::rtp(0, 3),
            Expect::new("PAUSE")
                .reply(Reply::raw(
                    "RTSP/1.0 551 Option not supported\r\nCSeq: 0\r\n\r\n",
                ))
                .into(),
            Step::Rtp(RtpStream {
                first_seq: 1003,
                ..RtpStream::new(0, 3)
            }),
        ]),
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup_tcp("0-1"),
            play(),
            Step::rtp(0, 3),
            Expect::new("PAUSE")
                .check_session()
                .reply(Reply::status(200))
                .into(),
            Expect::new("PLAY")
                .check(Check::Lacks("Range"))
                .reply(Reply::status(200))
                .into(),
            Step::Rtp(RtpStream {
                first_seq: 1003,
                ..RtpStream::new(0, 3)
            }),
        ]),
    ])
    .unwrap();
    let url = camera.url("stream");
    bounded(20, async {
        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(collect(&mut playing, 3, 5).await.unwrap().len(), 3);
        let err = playing.pause().await.unwrap_err();
        assert!(
            matches!(
                err,
                ClientError::MethodNotSupported {
                    status: Some(_),
                    ..
                }
            ),
            "{err}"
        );
        let err = playing.pause().await.unwrap_err();
        assert!(
            matches!(err, ClientError::MethodNotSupported { status: None, .. }),
            "{err}"
        );
        assert_eq!(collect(&mut playing, 3, 5).await.unwrap().len(), 3);
        assert!(has(playing.quirks(), quirk::METHOD_NOT_SUPPORTED));
        playing.teardown().await;

        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(collect(&mut playing, 3, 5).await.unwrap().len(), 3);
        playing.pause().await.unwrap();
        playing.resume().await.unwrap();
        assert_eq!(collect(&mut playing, 3, 5).await.unwrap().len(), 3);
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    assert_eq!(log.requests_of("PAUSE").len(), 2);
}

/// #57: a 302 on DESCRIBE is followed (credentials kept on the same host), a REDIRECT request from
/// the server moves the session, and a redirect loop ends.
#[tokio::test]
async fn j57_redirects() {
    let second = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::status(401).header("WWW-Authenticate", "Basic realm=\"r\""))
                .into(),
            Expect::new("DESCRIBE")
                .check(Check::Contains("Authorization", "Basic dTpw".into()))
                .reply(Reply::status(200).body(SDP_VIDEO.as_bytes()))
                .into(),
        ]),
        Script::new(
            [
                happy_tcp(),
                vec![Step::Rtp(RtpStream {
                    first_seq: 2000,
                    ..RtpStream::new(0, 5)
                })],
            ]
            .concat(),
        ),
    ])
    .unwrap();
    let target = second.url("moved");
    let loop_camera = FakeCamera::start(
        (0..3)
            .map(|_| {
                Script::new(vec![
                    options(),
                    Expect::new("DESCRIBE")
                        .reply(Reply::raw(
                            "RTSP/1.0 301 Moved\r\nCSeq: 0\r\nLocation: /again\r\n\r\n",
                        ))
                        .into(),
                ])
            })
            .collect(),
    )
    .unwrap();
    let first = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::raw(format!(
                    "RTSP/1.0 302 Found\r\nCSeq: 0\r\nLocation: {target}\r\n\r\n"
                )))
                .into(),
        ]),
        Script::new(
            [
                happy_tcp(),
                vec![
                    Step::rtp(0, 5),
                    server_request(
                        "REDIRECT",
                        "*",
                        9,
                        &[("Location", &target), ("Session", SESSION)],
                    ),
                    Step::ExpectResponse { status: 200 },
                ],
            ]
            .concat(),
        ),
    ])
    .unwrap();
    let url = first.url("cam");
    let authed = url.replace("rtsp://", "rtsp://u:p@");
    bounded(30, async {
        let session = Session::describe(&authed, tcp()).await.unwrap();
        assert_eq!(session.url(), target);
        assert!(has(session.quirks(), quirk::REDIRECTED));
        drop(session);

        let mut playing = Session::describe(&url, tcp())
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let packets = collect(&mut playing, 10, 8).await.unwrap();
        assert_eq!(seqs(&packets)[5..], [2000, 2001, 2002, 2003, 2004]);
        assert!(has(playing.quirks(), quirk::SERVER_REDIRECT));
        playing.teardown().await;

        let mut options = tcp();
        options.max_redirects = 2;
        let err = Session::describe(&loop_camera.url("x"), options)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ClientError::Status { status, .. } if status.0 == 301),
            "{err}"
        );
    })
    .await;
    first.finish().unwrap();
    second.finish().unwrap();
    assert_eq!(loop_camera.finish().unwrap().connections, 3);
}

/// #59: an ONVIF backchannel (`sendonly` next to `recvonly` media) is not set up; when every
/// sendonly section is video (D-Link DCS-2630L) it is an ordinary track.
#[tokio::test]
async fn j59_backchannels() {
    let read = |name: &str| {
        std::fs::read(sluice_testkit::camera::corpus_dir().join("sdp").join(name)).unwrap()
    };
    let aces = read("aces-ssdrtspserver-backchannel-1.sdp");
    let dlink = read("dlink-dcs-2630l-cv-rtsphandler-1.sdp");
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::status(200).body(&aces))
                .into(),
        ]),
        Script::new(vec![
            options(),
            Expect::new("DESCRIBE")
                .reply(Reply::status(200).body(&dlink))
                .into(),
        ]),
    ])
    .unwrap();
    let url = camera.url("s");
    bounded(20, async {
        let session = Session::describe(&url, tcp()).await.unwrap();
        let backchannels: Vec<bool> = session.tracks().iter().map(|t| t.backchannel).collect();
        assert_eq!(
            backchannels.iter().filter(|b| **b).count(),
            1,
            "{backchannels:?}"
        );
        drop(session);
        let session = Session::describe(&url, tcp()).await.unwrap();
        assert!(session.tracks().iter().all(|t| !t.backchannel));
        assert!(has(session.quirks(), quirk::SENDONLY_MEDIA));
    })
    .await;
    camera.finish().unwrap();
}

/// Errors never show the password, and the URL's userinfo is percent-decoded.
#[tokio::test]
async fn credentials_are_decoded_and_never_shown() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("DESCRIBE")
            .reply(Reply::status(401).header("WWW-Authenticate", "Basic realm=\"x\""))
            .into(),
        Expect::new("DESCRIBE")
            // "us er:p@ss:w0rd" in Basic.
            .check(Check::Contains(
                "Authorization",
                "Basic dXMgZXI6cEBzczp3MHJk".into(),
            ))
            .reply(Reply::status(404))
            .into(),
    ])])
    .unwrap();
    let url = camera
        .url("nope")
        .replace("rtsp://", "rtsp://us%20er:p%40ss%3Aw0rd@");
    bounded(20, async {
        let err = Session::describe(&url, tcp()).await.unwrap_err();
        assert!(matches!(err, ClientError::NotFound { .. }), "{err}");
        let text = format!("{err} {err:?}");
        assert!(
            !text.contains("w0rd") && !text.contains("us%20er"),
            "{text}"
        );
    })
    .await;
    camera.finish().unwrap();
}

/// `Playing::next` inside `tokio::select!` with a timer that keeps cancelling it (as a proxy source
/// does): keepalives and receiver reports still reach the camera whole, and no packet is lost.
#[tokio::test]
async fn next_is_cancel_safe() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        describe(SDP_VIDEO),
        Expect::new("SETUP")
            .reply(
                Reply::status(200)
                    .session(&format!("{SESSION};timeout=1"))
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1"),
            )
            .into(),
        play(),
        Step::Rtp(RtpStream {
            payload_len: 1400,
            ..RtpStream::new(0, 200)
        }),
    ])])
    .unwrap();
    let url = camera.url("stream");
    let mut options = tcp();
    options.rtcp_interval = Duration::from_millis(20);
    bounded(20, async {
        let mut playing = Session::describe(&url, options)
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        let mut packets = Vec::new();
        let mut ticks = 0u32;
        while packets.len() < 200 {
            tokio::select! {
                next = playing.next() => packets.push(next.unwrap().unwrap()),
                () = tokio::time::sleep(Duration::from_micros(300)) => ticks += 1,
            }
        }
        assert!(ticks > 10, "the timer fired {ticks} times");
        assert_contiguous(&seqs(&packets));
        playing.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    assert!(log.requests_of("GET_PARAMETER").len() >= 2);
    assert!(log.frames.iter().filter(|(_, ch, _)| *ch == 1).count() >= 20);
}
