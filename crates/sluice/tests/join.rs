//! A reader joining a stream in the middle of a GOP starts at a keyframe, at once.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use sluice_testkit::client::{Received, Watcher};
use sluice_testkit::rtp::{h264_access_unit_start, h264_nal_types, RtpHeader};
use sluice_testkit::{ffmpeg, RtspClient, RtspTransport};

use common::server;

/// The demo clip's keyframe interval.
const GOP: Duration = Duration::from_secs(2);

/// Longest a joining reader may wait after PLAY for its first video packet. Without a GOP cache it
/// would wait for the next keyframe: half a GOP on average.
const FIRST_PACKET_WITHIN: Duration = Duration::from_millis(400);

/// Joins `url` and checks that the first video access unit received is a whole keyframe (the first
/// packet begins an access unit, and the packets with its timestamp include an IDR slice) and that
/// it comes at once.
fn first_access_unit_is_keyframe(url: &str) -> Result<()> {
    let (mut client, description) = RtspClient::open(url)?;
    let played = Instant::now();
    let video = description
        .tracks
        .iter()
        .position(|t| t.media == "video")
        .ok_or_else(|| anyhow::anyhow!("no video track in\n{}", description.sdp))?;
    let channel = u8::try_from(2 * video)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut first_timestamp: Option<u32> = None;
    let mut nal_types = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let packet = match client.recv(left)? {
            Received::Packet(p) if p.channel == channel => p,
            Received::Packet(_) => continue,
            other => bail!("waiting for video: {other:?}"),
        };
        let Some(header) = RtpHeader::parse(&packet.data) else {
            bail!(
                "not an RTP packet on channel {channel}: {:02x?}",
                packet.data.get(..16)
            );
        };
        let payload = header.payload(&packet.data);
        match first_timestamp {
            None => {
                let after = packet.at.saturating_duration_since(played);
                ensure!(
                    after <= FIRST_PACKET_WITHIN,
                    "first video packet {after:?} after PLAY (GOP {GOP:?})"
                );
                ensure!(
                    h264_access_unit_start(payload),
                    "first video packet does not begin an access unit: NAL types {:?}, payload starts {:02x?}",
                    h264_nal_types(payload),
                    payload.get(..8)
                );
                first_timestamp = Some(header.timestamp);
            }
            Some(ts) if ts != header.timestamp => break,
            Some(_) => {}
        }
        nal_types.extend(h264_nal_types(payload));
        if header.marker {
            break;
        }
    }
    ensure!(
        nal_types.contains(&5),
        "first access unit has no IDR slice: NAL types {nal_types:?}"
    );
    println!("first access unit: NAL types {nal_types:?}");
    Ok(())
}

#[test]
fn mid_gop_join_starts_with_a_keyframe() -> Result<()> {
    let server = server("")?;
    let url = server.url("demo");
    // Keeps the stream running whether or not the demo source runs on demand.
    let watcher = Watcher::start(&url, Duration::from_secs(3))?;
    let started = Instant::now();
    // Join at different phases of the 2 s GOP.
    for at in [2.5, 3.3, 4.1, 5.7] {
        let when = Duration::from_secs_f64(at);
        std::thread::sleep(when.saturating_sub(started.elapsed()));
        first_access_unit_is_keyframe(&url)
            .map_err(|e| e.context(format!("reader joining {at} s after the first")))?;
    }
    watcher.finish()?;
    server.finish()
}

#[test]
fn ffmpeg_shows_first_frame_at_once_mid_gop() -> Result<()> {
    let server = server("")?;
    let url = server.url("demo");
    let watcher = Watcher::start(&url, Duration::from_secs(3))?;
    // Well inside a GOP (1.3 s after a keyframe if the clip starts with the first reader).
    std::thread::sleep(GOP + Duration::from_millis(1300));
    let report = ffmpeg::read_frames(&url, RtspTransport::Tcp, 25, Duration::from_secs(15))?;
    println!(
        "ffmpeg's first frame {:?} after spawn (GOP {GOP:?})",
        report.first_frame_after
    );
    println!("{report}");
    ensure!(report.frames >= 25, "{report}");
    ensure!(report.errors.is_empty(), "ffmpeg reported errors: {report}");
    let first = report
        .first_frame_after
        .ok_or_else(|| anyhow::anyhow!("no frame: {report}"))?;
    ensure!(
        first < Duration::from_millis(1500),
        "first frame took {first:?} (GOP {GOP:?}): {report}"
    );
    watcher.finish()?;
    server.finish()
}
