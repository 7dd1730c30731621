//! The client against real peers over loopback: GStreamer's rtsp-server playing a camera (no auth,
//! Basic, Digest), Sluice's own server (TCP, UDP, auto, multicast), and ffmpeg publishing through
//! Sluice. Every test is bounded in time.

mod common;

use std::time::{Duration, Instant};

use common::peers::Sluice;
use common::*;
use sluice_client::{ClientError, Packet, Session, SessionOptions, Transport, TransportPolicy};
use sluice_testkit::camera::{GstAuth, GstCamera};
use sluice_testkit::ffmpeg::{PublishOptions, Publisher};

/// Options for real peers: generous timeouts, the given transport.
fn options(transport: TransportPolicy) -> SessionOptions {
    let mut options = SessionOptions::default().with_transport(transport);
    options.request_timeout = Duration::from_secs(10);
    options.udp_fallback_after = Duration::from_secs(3);
    options
}

/// Plays `url` and checks: the first video packet within `first_within`, `count` packets of the
/// first track with contiguous sequence numbers. Returns the transport used.
async fn read(
    url: &str,
    transport: TransportPolicy,
    count: usize,
    first_within: Duration,
) -> Transport {
    let session = Session::describe(url, options(transport))
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let video = session
        .tracks()
        .iter()
        .position(|t| t.media.media == "video")
        .expect("a video track");
    let started = Instant::now();
    let mut playing = session
        .play(Some(&[video]))
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut packets: Vec<Packet> = Vec::new();
    let deadline = started + first_within + Duration::from_secs(20);
    while packets.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, playing.next()).await {
            Ok(Ok(Some(packet))) => {
                if packets.is_empty() {
                    let after = packet.received - started;
                    assert!(after <= first_within, "first packet after {after:?}");
                }
                assert_eq!(packet.track, video);
                packets.push(packet);
            }
            Ok(Ok(None)) => panic!("{url}: stream ended after {} packets", packets.len()),
            Ok(Err(e)) => panic!("{url}: {e}"),
            Err(_) => panic!("{url}: {} of {count} packets in time", packets.len()),
        }
    }
    assert_contiguous(&seqs(&packets));
    let used = playing.transport();
    playing.teardown().await;
    used
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gstreamer_camera_without_auth_over_tcp_udp_and_auto() {
    let camera = GstCamera::start(GstAuth::None).unwrap();
    bounded(90, async {
        let url = camera.url();
        assert_eq!(
            read(&url, TransportPolicy::Tcp, 100, Duration::from_secs(5)).await,
            Transport::Tcp
        );
        assert_eq!(
            read(&url, TransportPolicy::Udp, 100, Duration::from_secs(5)).await,
            Transport::Udp
        );
        assert_eq!(
            read(&url, TransportPolicy::Auto, 100, Duration::from_secs(5)).await,
            Transport::Udp
        );
        let err = Session::describe(&url.replace("/cam", "/nope"), options(TransportPolicy::Tcp))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::NotFound { .. }), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gstreamer_camera_with_basic_auth() {
    let camera = GstCamera::start(GstAuth::Basic).unwrap();
    bounded(60, async {
        read(
            &camera.authorized_url(),
            TransportPolicy::Tcp,
            50,
            Duration::from_secs(5),
        )
        .await;
        for url in [camera.url(), camera.url_with(GstCamera::USER, "wrong")] {
            let err = Session::describe(&url, options(TransportPolicy::Tcp))
                .await
                .unwrap_err();
            assert!(matches!(err, ClientError::Unauthorized { .. }), "{err}");
            assert!(!err.to_string().contains("wrong"));
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gstreamer_camera_with_digest_auth() {
    let camera = GstCamera::start(GstAuth::Digest).unwrap();
    bounded(60, async {
        read(
            &camera.authorized_url(),
            TransportPolicy::Tcp,
            50,
            Duration::from_secs(5),
        )
        .await;
        read(
            &camera.authorized_url(),
            TransportPolicy::Udp,
            50,
            Duration::from_secs(5),
        )
        .await;
        let err = Session::describe(
            &camera.url_with(GstCamera::USER, "wrong"),
            options(TransportPolicy::Tcp),
        )
        .await
        .unwrap_err();
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_demo_over_tcp_udp_auto_and_multicast() {
    let server = Sluice::start().await;
    let url = server.url("demo");
    bounded(90, async {
        assert_eq!(
            read(&url, TransportPolicy::Tcp, 150, Duration::from_secs(3)).await,
            Transport::Tcp
        );
        assert_eq!(
            read(&url, TransportPolicy::Udp, 150, Duration::from_secs(3)).await,
            Transport::Udp
        );
        assert_eq!(
            read(&url, TransportPolicy::Auto, 150, Duration::from_secs(3)).await,
            Transport::Udp
        );
        if let Err(e) = sluice_testkit::net::ensure_multicast_route() {
            panic!("{e:#}");
        }
        assert_eq!(
            read(
                &url,
                TransportPolicy::Multicast,
                150,
                Duration::from_secs(3)
            )
            .await,
            Transport::Multicast
        );
        let err = Session::describe(&server.url("nope"), options(TransportPolicy::Tcp))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::NotFound { .. }), "{err}");
    })
    .await;
}

/// Receiver reports and keepalives keep a Sluice UDP session alive past its timeout would be slow
/// to test here; this checks the session survives a pause/resume and a teardown is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_pause_and_resume() {
    let server = Sluice::start().await;
    let url = server.url("demo");
    bounded(60, async {
        let mut playing = Session::describe(&url, options(TransportPolicy::Tcp))
            .await
            .unwrap()
            .play(None)
            .await
            .unwrap();
        assert_eq!(collect(&mut playing, 20, 10).await.unwrap().len(), 20);
        match playing.pause().await {
            Ok(()) => playing.resume().await.unwrap(),
            Err(ClientError::MethodNotSupported { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        assert_eq!(collect(&mut playing, 20, 10).await.unwrap().len(), 20);
        playing.teardown().await;
    })
    .await;
}

/// ffmpeg's RTSP muxer only publishes (its `listen` flag is for receiving a publisher), so ffmpeg
/// takes part as the camera behind Sluice: it ANNOUNCEs/RECORDs, the client reads what it sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_published_stream_through_sluice() {
    let server = Sluice::start().await;
    let url = server.url("lobby");
    let mut publisher = Publisher::start(&url, &PublishOptions::default()).unwrap();
    let mut publisher = tokio::task::spawn_blocking(move || {
        publisher.wait_until_live(Duration::from_secs(20))?;
        Ok::<_, anyhow::Error>(publisher)
    })
    .await
    .unwrap()
    .unwrap();
    bounded(60, async {
        read(&url, TransportPolicy::Tcp, 100, Duration::from_secs(3)).await;
        read(&url, TransportPolicy::Udp, 100, Duration::from_secs(3)).await;
    })
    .await;
    publisher.check_running().unwrap();
}
