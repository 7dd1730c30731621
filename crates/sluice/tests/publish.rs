//! ffmpeg publishing with ANNOUNCE/RECORD, read back by ffmpeg and by the test client.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use sluice_testkit::ffmpeg::{PublishOptions, PublishSource};
use sluice_testkit::{RtspClient, RtspTransport};

use common::{ffmpeg_decodes, publish, server};

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
