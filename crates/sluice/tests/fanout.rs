//! Many readers on one stream, and readers that stop reading.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use sluice_testkit::client::{Received, Watcher};
use sluice_testkit::ffmpeg::PublishOptions;
use sluice_testkit::{vm_rss_kib, RtspClient, Server, ServerOptions};

use common::{publish, server, BIN};

#[test]
fn fifty_readers_get_every_packet() -> Result<()> {
    const READERS: usize = 50;
    const PACKETS: u64 = 200;
    let server = server("")?;
    let url = server.url("demo");
    let results: Vec<Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..READERS)
            .map(|n| {
                let url = &url;
                s.spawn(move || -> Result<u64> {
                    let (mut client, _) =
                        RtspClient::open(url).with_context(|| format!("reader {n}: opening"))?;
                    let tracker = client
                        .read_rtp_packets(PACKETS, Duration::from_secs(25))
                        .with_context(|| format!("reader {n}"))?;
                    ensure!(
                        tracker.total_gaps() == 0,
                        "reader {n} saw sequence gaps: {tracker:?}"
                    );
                    Ok(tracker.total_packets())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| bail!("reader thread panicked")))
            .collect()
    });
    let failures: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| format!("{e:#}")))
        .collect();
    ensure!(
        failures.is_empty(),
        "{} of {READERS} readers failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    server.finish()
}

#[test]
fn stalled_readers_do_not_hurt_others_or_grow_memory() -> Result<()> {
    const STALLED: usize = 4;
    const WATCH: Duration = Duration::from_secs(10);
    const MAX_GROWTH_KIB: u64 = 64 * 1024;
    // A reader blocked this long is dropped; well inside the watch, so the test sees it happen.
    let server = Server::start_with(
        BIN,
        ServerOptions {
            rtsp: "write_timeout = 3".to_owned(),
            ..ServerOptions::default()
        },
    )?;
    // Faster than real time, so the stalled readers' socket buffers fill within seconds.
    let mut publisher = publish(
        &server,
        "lobby",
        &PublishOptions {
            rate: 50.0,
            ..PublishOptions::default()
        },
    )?;
    let url = server.url("lobby");
    let baseline = vm_rss_kib(server.pid())?;
    let watcher = Watcher::start(&url, Duration::from_secs(3))?;
    let mut stalled = Vec::new();
    for n in 0..STALLED {
        let mut client = RtspClient::connect_with_recv_buffer(server.addr(), 4096)?;
        client
            .play_all(&url)
            .with_context(|| format!("stalled reader {n}: opening"))?;
        // Never read from it again.
        stalled.push(client);
    }
    let started = Instant::now();
    let mut peak = baseline;
    while started.elapsed() < WATCH {
        std::thread::sleep(Duration::from_millis(500));
        peak = peak.max(vm_rss_kib(server.pid())?);
        publisher.check_running()?;
        if !watcher.is_running() {
            let outcome = watcher.finish();
            bail!("the reading reader stopped early: {outcome:?}");
        }
    }
    let tracker = watcher.finish()?;
    let growth = peak.saturating_sub(baseline);
    println!(
        "reader got {} RTP packets in {WATCH:?} with {} gaps; RSS {baseline} KiB -> peak {peak} KiB (+{growth} KiB)",
        tracker.total_packets(),
        tracker.total_gaps()
    );
    ensure!(
        tracker.total_gaps() == 0,
        "the reading reader saw gaps: {tracker:?}"
    );
    // 50x real time of the demo clip is ~1800 packets a second.
    ensure!(
        tracker.total_packets() >= 5000,
        "the reading reader got only {} packets in {WATCH:?}",
        tracker.total_packets()
    );
    ensure!(
        growth < MAX_GROWTH_KIB,
        "server RSS grew by {growth} KiB (limit {MAX_GROWTH_KIB} KiB)"
    );
    // Each stalled reader was dropped after blocking for write_timeout: reading what is still
    // buffered ends in the connection closing.
    for (n, client) in stalled.iter_mut().enumerate() {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match client.recv(left)? {
                Received::Packet(_) => {}
                Received::Closed { .. } => break,
                other => bail!("stalled reader {n} was not disconnected: {other:?}"),
            }
        }
    }
    publisher.check_running()?;
    server.finish()
}
