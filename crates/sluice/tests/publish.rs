//! ffmpeg publishing with ANNOUNCE/RECORD, read back by ffmpeg and by the test client.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use sluice_client::{Session, SessionOptions, TransportPolicy};
use sluice_testkit::ffmpeg::{ffprobe, PublishOptions, PublishSource};
use sluice_testkit::gst::GstPublisher;
use sluice_testkit::{RtspClient, RtspTransport};

use common::{ffmpeg_decodes, publish, server, LIVE_TIMEOUT};

fn publish_and_read(transport: RtspTransport) -> Result<()> {
    let server = server("")?;
    let mut publisher = publish(
        &server,
        "lobby",
        &PublishOptions {
            transport,
            ..PublishOptions::default()
        },
    )?;
    let report = ffmpeg_decodes(&server, "lobby", RtspTransport::Tcp, 100)?;
    ensure!(report.dimensions == Some((640, 360)), "{report}");
    publisher.check_running()?;
    server.finish()
}

#[test]
fn ffmpeg_publishes_over_tcp() -> Result<()> {
    publish_and_read(RtspTransport::Tcp)
}

#[test]
fn ffmpeg_publishes_over_udp() -> Result<()> {
    publish_and_read(RtspTransport::Udp)
}

#[test]
fn published_audio_and_video_reach_a_reader() -> Result<()> {
    let server = server("")?;
    let mut publisher = publish(
        &server,
        "lobby",
        &PublishOptions {
            audio: true,
            ..PublishOptions::default()
        },
    )?;
    let (mut client, description) = RtspClient::open(&server.url("lobby"))?;
    let media: Vec<&str> = description
        .tracks
        .iter()
        .map(|t| t.media.as_str())
        .collect();
    ensure!(
        media == ["video", "audio"],
        "expected a video and an audio track, got {media:?}\n{}",
        description.sdp
    );
    // Video is 25+ packets/s; ffmpeg puts several AAC frames (47/s) in one packet, ~6 packets/s.
    let tracker = client.read_rtp_for(Duration::from_secs(5), Duration::from_secs(2))?;
    let video = tracker.stream(0);
    let audio = tracker.stream(2);
    println!("video {video:?}, audio {audio:?}");
    ensure!(video.packets >= 100 && video.gaps == 0, "video: {video:?}");
    ensure!(audio.packets >= 20 && audio.gaps == 0, "audio: {audio:?}");
    let report = ffmpeg_decodes(&server, "lobby", RtspTransport::Tcp, 100)?;
    ensure!(report.dimensions == Some((640, 360)), "{report}");
    publisher.check_running()?;
    server.finish()
}

#[test]
fn two_paths_at_once_stay_apart() -> Result<()> {
    let server = server("")?;
    let mut first = publish(&server, "lobby", &PublishOptions::default())?;
    let mut second = publish(
        &server,
        "cams/second",
        &PublishOptions {
            source: PublishSource::TestPattern {
                width: 320,
                height: 240,
            },
            ..PublishOptions::default()
        },
    )?;
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| ffmpeg_decodes(&server, "lobby", RtspTransport::Tcp, 100));
        let b = s.spawn(|| ffmpeg_decodes(&server, "cams/second", RtspTransport::Tcp, 100));
        (a.join(), b.join())
    });
    let a = a.ok().context("reader thread panicked")??;
    let b = b.ok().context("reader thread panicked")??;
    ensure!(a.dimensions == Some((640, 360)), "lobby: {a}");
    ensure!(b.dimensions == Some((320, 240)), "cams/second: {b}");
    first.check_running()?;
    second.check_running()?;
    server.finish()
}

/// The largest of 300 RTP packets our client receives over UDP from `url`.
fn biggest_udp_packet(url: &str) -> Result<usize> {
    tokio::runtime::Runtime::new()?.block_on(async {
        let options = SessionOptions::default().with_transport(TransportPolicy::Udp);
        let session = Session::describe(url, options).await?;
        let mut playing = session.play(None).await?;
        let mut biggest = 0;
        for _ in 0..300 {
            let next = tokio::time::timeout(Duration::from_secs(5), playing.next()).await;
            match next.context("no packet within 5 s")?? {
                Some(p) => biggest = biggest.max(p.data.len()),
                None => anyhow::bail!("the stream ended"),
            }
        }
        playing.teardown().await;
        Ok(biggest)
    })
}

/// A publisher sending RTP packets of up to 60 kB over TCP (as cameras do with whole slices): UDP
/// readers get them split to fit a datagram (`hub.max_packet_bytes`, 1472), and the split stream
/// decodes cleanly.
#[test]
fn big_packets_reach_udp_readers_split() -> Result<()> {
    let big = PublishOptions {
        source: PublishSource::TestPattern {
            width: 1280,
            height: 720,
        },
        packet_size: Some(60_000),
        ..PublishOptions::default()
    };
    // With splitting off, the packets reach a UDP reader as sent.
    let unsplit = {
        let server = server("[hub]\nmax_packet_bytes = 0\n")?;
        let _publisher = publish(&server, "big", &big)?;
        let biggest = biggest_udp_packet(&server.url("big"))?;
        server.finish()?;
        biggest
    };
    ensure!(
        unsplit > 8000,
        "the publisher sent no big packet ({unsplit} bytes at most)"
    );

    let server = server("")?;
    let _publisher = publish(&server, "big", &big)?;
    let split = biggest_udp_packet(&server.url("big"))?;
    ensure!(
        split <= 1472,
        "a {split}-byte datagram reached a UDP reader"
    );
    // The split packets make the same pictures (read over TCP: a burst of a few hundred datagrams per
    // keyframe may overflow a UDP reader's socket buffer on a loaded machine, which says nothing
    // about the splitting).
    let report = ffmpeg_decodes(&server, "big", RtspTransport::Tcp, 50)?;
    ensure!(report.dimensions == Some((1280, 720)), "{report}");
    println!("largest datagram: {unsplit} bytes as sent, {split} split");
    server.finish()
}

/// GStreamer's `rtspclientsink` publishes over TCP and over UDP; ffprobe describes what it sees and
/// ffmpeg decodes it.
#[test]
fn gstreamer_publishes_over_tcp_and_udp() -> Result<()> {
    let server = server("")?;
    let mut publishers = Vec::new();
    for (path, transport) in [
        ("gst/tcp", RtspTransport::Tcp),
        ("gst/udp", RtspTransport::Udp),
    ] {
        let mut p = GstPublisher::start(&server.url(path), transport, 320, 240)?;
        p.wait_until_live(LIVE_TIMEOUT)?;
        publishers.push(p);
    }
    for path in ["gst/tcp", "gst/udp"] {
        let streams = ffprobe(
            &server.url(path),
            RtspTransport::Tcp,
            Duration::from_secs(20),
        )?;
        ensure!(
            streams.len() == 1
                && streams[0].codec_name == "h264"
                && (streams[0].width, streams[0].height) == (Some(320), Some(240)),
            "{path}: ffprobe saw {streams:?}"
        );
        let report = ffmpeg_decodes(&server, path, RtspTransport::Tcp, 50)?;
        ensure!(report.dimensions == Some((320, 240)), "{path}: {report}");
    }
    for p in &mut publishers {
        p.check_running()?;
    }
    server.finish()
}
