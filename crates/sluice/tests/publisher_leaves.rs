//! When a publisher goes away its readers get RTCP BYE and are disconnected.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use sluice_testkit::client::Received;
use sluice_testkit::ffmpeg::PublishOptions;
use sluice_testkit::rtp::{rtcp_packet_types, RTCP_BYE};
use sluice_testkit::RtspClient;

use common::{publish, server};

/// Reads until the connection closes; checks that every track got a BYE before that.
fn expect_bye_then_close(client: &mut RtspClient, tracks: usize, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    let mut bye_channels = BTreeSet::new();
    let mut rtp_after_bye = 0u32;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.recv(left)? {
            Received::Packet(p) if p.channel % 2 == 1 => {
                if rtcp_packet_types(&p.data).contains(&RTCP_BYE) {
                    bye_channels.insert(p.channel);
                }
            }
            Received::Packet(_) => {
                if !bye_channels.is_empty() {
                    rtp_after_bye += 1;
                }
            }
            Received::Closed { reset } => {
                println!(
                    "BYE on channels {bye_channels:?}, connection closed (reset: {reset}), \
                     {rtp_after_bye} RTP packets after the first BYE"
                );
                ensure!(
                    bye_channels.len() == tracks,
                    "connection closed after BYE on channels {bye_channels:?}, expected one per track ({tracks})"
                );
                return Ok(());
            }
            Received::TimedOut => bail!(
                "within {within:?} of the publisher leaving: BYE on channels {bye_channels:?}, connection still open"
            ),
            other => bail!("unexpected: {other:?}"),
        }
    }
}

#[test]
fn reader_gets_bye_when_publisher_tears_down() -> Result<()> {
    let server = server("")?;
    // ffmpeg stops after 4 s of media and sends TEARDOWN.
    let _publisher = publish(
        &server,
        "lobby",
        &PublishOptions {
            duration: Some(Duration::from_secs(4)),
            ..PublishOptions::default()
        },
    )?;
    let (mut client, description) = RtspClient::open(&server.url("lobby"))?;
    let tracker = client.read_rtp_packets(20, Duration::from_secs(5))?;
    ensure!(tracker.total_gaps() == 0, "{tracker:?}");
    expect_bye_then_close(
        &mut client,
        description.tracks.len(),
        Duration::from_secs(10),
    )?;
    server.finish()
}

#[test]
fn reader_gets_bye_when_publisher_is_killed() -> Result<()> {
    let server = server("")?;
    let mut publisher = publish(&server, "lobby", &PublishOptions::default())?;
    let (mut client, description) = RtspClient::open(&server.url("lobby"))?;
    let tracker = client.read_rtp_packets(20, Duration::from_secs(5))?;
    ensure!(tracker.total_gaps() == 0, "{tracker:?}");
    // SIGKILL: the TCP connection just drops, without TEARDOWN.
    publisher.peer().kill();
    expect_bye_then_close(
        &mut client,
        description.tracks.len(),
        Duration::from_secs(10),
    )?;
    server.finish()
}
