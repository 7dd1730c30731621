//! Publishing against real peers over loopback: the demo clip into Sluice (TCP and UDP) read back
//! and decoded by ffmpeg, into ffmpeg's own listening RTSP server, and against a scripted server
//! for authentication, `mode=record`, keepalives and RTCP. Every test is bounded in time.

mod common;

use std::process::Command;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::peers::Sluice;
use common::*;
use sluice_client::{ClientError, Publisher, Recording, Transport, TransportPolicy};
use sluice_media::demo::DemoClip;
use sluice_media::h264::{Packetizer, DEFAULT_MTU};
use sluice_rtsp::rtcp::{self, RtcpPacket};
use sluice_rtsp::rtp::RtpHeader;
use sluice_testkit::camera::{Check, Expect, FakeCamera, Reply, Script};
use sluice_testkit::peer::Peer;
use sluice_testkit::{ffmpeg, net, RtspTransport};

/// The demo clip's one H.264 track, described as Sluice's demo source does (no `a=control`: the
/// publisher adds one).
fn demo_sdp(clip: &DemoClip) -> String {
    sluice_server::source::demo::sdp(clip)
}

/// Publishes the demo clip on track 0 at `speed` times real time, looped, until sending fails.
async fn publish_clip(recording: &mut Recording, clip: &DemoClip, speed: f64) -> ClientError {
    let mut packetizer = Packetizer::new(96, 0x5eed_0001, 1000, DEFAULT_MTU);
    let step = clip.frame_duration_90k();
    let mut tick =
        tokio::time::interval(Duration::from_secs_f64(f64::from(step) / 90_000.0 / speed));
    let mut timestamp = 0u32;
    let mut packets: Vec<Bytes> = Vec::with_capacity(64);
    let mut nals: Vec<&[u8]> = Vec::with_capacity(8);
    loop {
        for frame in &clip.frames {
            tick.tick().await;
            nals.clear();
            nals.extend(frame.nals.iter().map(|n| n.as_ref()));
            packetizer.packetize(&nals, timestamp, &mut packets);
            if let Err(e) = recording.send_all(0, packets.drain(..)).await {
                return e;
            }
            timestamp = timestamp.wrapping_add(step);
        }
    }
}

/// The transport a publisher with this policy uses.
fn carried_by(transport: TransportPolicy) -> Transport {
    match transport {
        TransportPolicy::Udp => Transport::Udp,
        _ => Transport::Tcp,
    }
}

/// Publishes into Sluice's `lobby` path and has ffmpeg read and decode 60 frames from it.
async fn publish_into_sluice(transport: TransportPolicy) {
    let sluice = Sluice::start().await;
    let clip = DemoClip::builtin();
    let url = sluice.url("lobby");
    let publisher = Publisher::announce(&url, &demo_sdp(&clip), with(transport))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(publisher.tracks().len(), 1);
    assert!(publisher.tracks()[0].control.ends_with("/lobby/trackID=0"));
    let mut recording = publisher.record().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recording.transport(), carried_by(transport));
    let reader = url.clone();
    let mut reading = tokio::task::spawn_blocking(move || {
        ffmpeg::read_frames(&reader, RtspTransport::Tcp, 60, Duration::from_secs(30))
    });
    let report = tokio::select! {
        joined = &mut reading => joined.unwrap().unwrap(),
        e = publish_clip(&mut recording, &clip, 1.0) => panic!("publishing to {url} stopped: {e}"),
    };
    recording.teardown().await;
    assert!(
        report.frames >= 50
            && report.errors.is_empty()
            && report.status.is_some_and(|s| s.success()),
        "{report}"
    );
    assert_eq!(report.dimensions, Some((640, 360)), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_relays_what_we_publish_over_tcp_to_ffmpeg() {
    bounded(60, publish_into_sluice(TransportPolicy::Tcp)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_relays_what_we_publish_over_udp_to_ffmpeg() {
    bounded(60, publish_into_sluice(TransportPolicy::Udp)).await;
}

/// ffmpeg as the server (`-rtsp_flags listen`) decodes 50 frames and exits 0. It accepts one
/// connection, so the publisher retries only while the port refuses connections.
async fn publish_into_ffmpeg(transport: TransportPolicy) {
    let port = net::free_tcp_port().unwrap();
    let url = format!("rtsp://127.0.0.1:{port}/live");
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-v", "error"])
        .args(["-rtsp_flags", "listen", "-i", &url])
        .args(["-frames:v", "50", "-f", "framecrc", "-"]);
    let mut peer = Peer::spawn(cmd).unwrap();
    let clip = DemoClip::builtin();
    let (mut peer, status, publish_error) = bounded(60, async {
        let mut attempts = 0;
        let publisher = loop {
            match Publisher::announce(&url, &demo_sdp(&clip), with(transport)).await {
                Ok(p) => break p,
                Err(ClientError::Connect { .. }) if attempts < 200 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("{e}\nffmpeg said:\n{}", peer.stderr_tail(20)),
            }
        };
        let mut recording = publisher.record().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(recording.transport(), carried_by(transport));
        let mut waiting = tokio::task::spawn_blocking(move || {
            let status = peer.wait_timeout(Duration::from_secs(40));
            (peer, status)
        });
        // ffmpeg exits after 50 frames; the publisher then fails on the closed connection.
        let (joined, publish_error) = tokio::select! {
            joined = &mut waiting => (joined, None),
            e = publish_clip(&mut recording, &clip, 1.0) => (waiting.await, Some(e)),
        };
        recording.teardown().await;
        let (peer, status) = joined.unwrap();
        (peer, status.unwrap(), publish_error)
    })
    .await;
    let frames = peer
        .stdout_lines()
        .iter()
        .filter(|l| !l.text.starts_with('#'))
        .count();
    let ok = status.is_some_and(|s| s.success());
    if !ok {
        peer.kill();
    }
    assert!(
        ok && frames >= 50,
        "ffmpeg exit {status:?}, {frames} frames; publisher: {publish_error:?}\nffmpeg said:\n{}",
        peer.stderr_tail(30)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_listening_server_decodes_what_we_publish_over_tcp() {
    publish_into_ffmpeg(TransportPolicy::Tcp).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_listening_server_decodes_what_we_publish_over_udp() {
    publish_into_ffmpeg(TransportPolicy::Udp).await;
}

/// A Digest challenge for the scripted server.
const CHALLENGE: &str = "Digest realm=\"sluice-test\", nonce=\"5e8f0c1d\", qop=\"auth\"";

/// Sluice has no authentication yet: a scripted server refuses the credentials twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_unauthorized() {
    let refuse = || Reply::status(401).header("WWW-Authenticate", CHALLENGE);
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("ANNOUNCE")
            .check(Check::Lacks("Authorization"))
            .reply(refuse())
            .into(),
        Expect::new("ANNOUNCE")
            .check(Check::Contains("Authorization", "Digest ".into()))
            .reply(refuse())
            .into(),
    ])])
    .unwrap();
    let url = format!("rtsp://admin:n0t-it@{}/lobby", camera.addr());
    let err = bounded(20, Publisher::announce(&url, SDP_VIDEO, tcp()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Unauthorized {
                had_credentials: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("n0t-it"), "{err:?}");
    let log = camera.finish().unwrap();
    assert_eq!(log.methods(), ["OPTIONS", "ANNOUNCE", "ANNOUNCE"]);
}

/// The whole exchange against a scripted server: Digest on `ANNOUNCE`, `mode=record` on the
/// track's control URL, `RECORD` with the session, RTP on the assigned channel, keepalives at half
/// the 2 s timeout, sender reports, BYE and `TEARDOWN`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_server_sees_a_complete_record_session() {
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        Expect::new("ANNOUNCE")
            .check(Check::Contains("Content-Type", "application/sdp".into()))
            .reply(Reply::status(401).header("WWW-Authenticate", CHALLENGE))
            .into(),
        Expect::new("ANNOUNCE")
            .check(Check::Contains(
                "Authorization",
                "username=\"admin\"".into(),
            ))
            .check(Check::Contains("Content-Type", "application/sdp".into()))
            .into(),
        Expect::new("SETUP")
            .check(Check::Contains("Transport", "RTP/AVP/TCP".into()))
            .check(Check::Contains("Transport", "mode=record".into()))
            .reply(
                Reply::status(200)
                    .session(&format!("{SESSION};timeout=2"))
                    .header("Transport", "RTP/AVP/TCP;unicast;interleaved=4-5"),
            )
            .into(),
        Expect::new("RECORD")
            .check_session()
            .reply(Reply::status(200).session(SESSION))
            .into(),
    ])])
    .unwrap();
    let base = format!("rtsp://127.0.0.1:{}/lobby", camera.addr().port());
    let url = format!(
        "rtsp://admin:s3cret@127.0.0.1:{}/lobby",
        camera.addr().port()
    );
    let mut options = tcp();
    options.rtcp_interval = Duration::from_millis(300);
    const SSRC: u32 = 0x0bad_cafe;
    const PACKETS: u16 = 70;
    bounded(20, async {
        let publisher = Publisher::announce(&url, SDP_VIDEO, options).await.unwrap();
        assert_eq!(publisher.url(), base);
        let mut recording = publisher.record().await.unwrap();
        for seq in 0..PACKETS {
            let mut packet = BytesMut::new();
            RtpHeader {
                marker: true,
                payload_type: 96,
                sequence_number: seq,
                timestamp: u32::from(seq) * 3600,
                ssrc: SSRC,
            }
            .write(&mut packet);
            packet.extend_from_slice(&[0x65; 200]);
            recording.send(0, packet.freeze()).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        recording.teardown().await;
    })
    .await;
    let log = camera.finish().unwrap();
    let methods = log.methods();
    assert_eq!(
        methods.get(..5),
        Some(&["OPTIONS", "ANNOUNCE", "ANNOUNCE", "SETUP", "RECORD"][..])
    );
    assert_eq!(methods.last(), Some(&"TEARDOWN"));
    // 70 packets 20 ms apart take over 1.4 s: at least one keepalive at the 1 s mark.
    let keepalives = log.requests_of("GET_PARAMETER");
    assert!(!keepalives.is_empty(), "{methods:?}");
    for request in keepalives.iter().chain(&log.requests_of("TEARDOWN")) {
        assert_eq!(request.uri, base);
        assert_eq!(request.header("Session"), Some(SESSION));
    }
    assert_eq!(log.requests_of("SETUP")[0].uri, format!("{base}/trackID=1"));
    for request in &log.requests {
        for (_, value) in &request.headers {
            assert!(!value.contains("s3cret"), "{value}");
        }
    }
    let rtp: Vec<&Vec<u8>> = log
        .frames
        .iter()
        .filter(|(_, channel, _)| *channel == 4)
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(rtp.len(), usize::from(PACKETS));
    assert!(rtp.iter().all(|p| p.len() == 212));
    let mut reports = Vec::new();
    let mut byes = 0;
    for (_, channel, payload) in &log.frames {
        assert!(matches!(channel, 4 | 5), "data on channel {channel}");
        if *channel != 5 {
            continue;
        }
        for packet in rtcp::parse_compound(payload) {
            match packet.unwrap() {
                RtcpPacket::SenderReport(sr) => reports.push(sr),
                RtcpPacket::Goodbye(bye) => {
                    assert_eq!(bye.ssrcs, [SSRC]);
                    byes += 1;
                }
                _ => {}
            }
        }
    }
    // One every 300 ms while sending, and a last one with the BYE.
    assert!(reports.len() >= 4, "{} sender reports", reports.len());
    assert_eq!(byes, 1);
    let last = reports.last().unwrap();
    assert_eq!(last.ssrc, SSRC);
    assert_eq!(
        (last.packet_count, last.octet_count),
        (u32::from(PACKETS), 200 * u32::from(PACKETS))
    );
    // The last packet's timestamp plus the ~20 ms since it went out, at 90 kHz.
    let newest = u32::from(PACKETS - 1) * 3600;
    assert!(
        (newest..newest + 9000).contains(&last.rtp_timestamp),
        "{} vs {newest}",
        last.rtp_timestamp
    );
}
