//! When a publisher goes away its readers get RTCP BYE and are disconnected.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use sluice_testkit::client::Received;
use sluice_testkit::ffmpeg::{PublishOptions, Publisher};
use sluice_testkit::rtp::{rtcp_packet_types, SeqTracker, RTCP_BYE};
use sluice_testkit::RtspClient;

use common::{publish, server, LIVE_TIMEOUT};

/// How long after a publisher leaves its readers must have their BYE and be closed: the server's
/// default grace period for a returning publisher (5 s) plus slack.
const BYE_WITHIN: Duration = Duration::from_secs(15);

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
    expect_bye_then_close(&mut client, description.tracks.len(), BYE_WITHIN)?;
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
    expect_bye_then_close(&mut client, description.tracks.len(), BYE_WITHIN)?;
    server.finish()
}

/// Reads for `duration`, counting RTP and failing on a BYE or a closed connection.
fn read_without_bye(
    client: &mut RtspClient,
    tracker: &mut SeqTracker,
    duration: Duration,
) -> Result<()> {
    let end = Instant::now() + duration;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match client.recv(left)? {
            Received::Packet(p) if p.channel % 2 == 1 => {
                if rtcp_packet_types(&p.data).contains(&RTCP_BYE) {
                    bail!(
                        "BYE on channel {} after {} RTP packets",
                        p.channel,
                        tracker.total_packets()
                    );
                }
            }
            Received::Packet(p) => {
                tracker.record(p.channel, &p.data);
            }
            Received::TimedOut => break,
            other => bail!("after {} RTP packets: {other:?}", tracker.total_packets()),
        }
    }
    Ok(())
}

#[test]
fn publisher_returning_within_grace_keeps_its_readers() -> Result<()> {
    let server = server("")?;
    let url = server.url("lobby");
    let mut first = publish(&server, "lobby", &PublishOptions::default())?;
    let (mut client, _) = RtspClient::open(&url)?;
    let mut tracker = SeqTracker::new();
    read_without_bye(&mut client, &mut tracker, Duration::from_secs(2))?;
    let before = tracker.total_packets();
    ensure!(
        before >= 20,
        "only {before} packets from the first publisher"
    );
    // The publisher drops without TEARDOWN and comes straight back with the same tracks.
    first.peer().kill();
    let mut second = Publisher::start(&url, &PublishOptions::default())?;
    second.wait_until_live(LIVE_TIMEOUT)?;
    read_without_bye(&mut client, &mut tracker, Duration::from_secs(4))?;
    let after = tracker.total_packets() - before;
    println!("{before} packets before the switch, {after} after: {tracker:?}");
    ensure!(
        after >= 50,
        "only {after} packets after the publisher came back"
    );
    ensure!(
        tracker.total_gaps() == 0,
        "the reader saw sequence gaps across the switch: {tracker:?}"
    );
    second.check_running()?;
    server.finish()
}
