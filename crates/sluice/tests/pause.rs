//! PAUSE and PLAY again on a live path: nothing is sent while paused, and after the second PLAY the
//! reader's sequence numbers go on forward (the GOP cache is not sent a second time).

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Result};
use sluice_rtsp::message::Method;
use sluice_testkit::client::Received;
use sluice_testkit::rtp::{h264_keyframe_start, RtpHeader};
use sluice_testkit::RtspClient;

use common::server;

/// Reads RTP packets for `time`, or until `stop` says so; returns `(channel, seq)` in arrival order.
fn read_until(
    client: &mut RtspClient,
    time: Duration,
    mut stop: impl FnMut(u8, &[u8]) -> bool,
) -> Result<Vec<(u8, u16)>> {
    let deadline = Instant::now() + time;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(got);
        }
        match client.recv(left)? {
            Received::Packet(p) if p.channel % 2 == 0 => {
                let Some(h) = RtpHeader::parse(&p.data) else {
                    bail!("not RTP on channel {}", p.channel);
                };
                got.push((p.channel, h.sequence));
                if stop(p.channel, h.payload(&p.data)) {
                    return Ok(got);
                }
            }
            Received::Packet(_) => {}
            Received::TimedOut => return Ok(got),
            Received::Closed { reset } => bail!("connection closed (reset: {reset})"),
            other => bail!("unexpected {other:?}"),
        }
    }
}

fn read_for(client: &mut RtspClient, time: Duration) -> Result<Vec<(u8, u16)>> {
    read_until(client, time, |_, _| false)
}

#[test]
fn pause_then_play_goes_on_forward() -> Result<()> {
    let server = server("")?;
    let url = server.url("demo");
    let (mut client, description) = RtspClient::open(&url)?;
    // The GOP cache starts with a keyframe; wait for the next live one, then pause a little after it,
    // so that the pause ends well within the same GOP (2 s): a PLAY that sent the GOP cache again would
    // repeat packets the reader already has.
    let mut keyframes = 0;
    let mut before = read_until(&mut client, Duration::from_secs(6), |channel, payload| {
        keyframes += usize::from(channel == 0 && h264_keyframe_start(payload));
        keyframes == 2
    })?;
    ensure!(
        keyframes == 2,
        "no second keyframe in {} packets",
        before.len()
    );
    before.extend(read_for(&mut client, Duration::from_millis(300))?);

    client.request_ok(Method::Pause, &description.base, &[], &[])?;
    // What was in flight when PAUSE arrived, then silence.
    let in_flight = read_for(&mut client, Duration::from_millis(150))?;
    let silent = read_for(&mut client, Duration::from_millis(300))?;
    ensure!(
        silent.is_empty(),
        "{} packets arrived while paused",
        silent.len()
    );

    client.request_ok(
        Method::Play,
        &description.base,
        &[("Range", "npt=now-")],
        &[],
    )?;
    let after = read_for(&mut client, Duration::from_millis(2500))?;
    ensure!(after.len() > 20, "only {} packets after PLAY", after.len());

    let mut last: HashMap<u8, u16> = HashMap::new();
    for (i, &(channel, seq)) in before.iter().chain(&in_flight).chain(&after).enumerate() {
        if let Some(&prev) = last.get(&channel) {
            let step = seq.wrapping_sub(prev) as i16;
            ensure!(
                step > 0,
                "packet {i} on channel {channel}: seq {seq} after {prev} (sent again or out of order)"
            );
        }
        last.insert(channel, seq);
    }
    println!(
        "{} packets before PAUSE, {} in flight, {} after PLAY",
        before.len(),
        in_flight.len(),
        after.len()
    );
    server.finish()
}
