//! Pulls an RTSP stream and prints, per track, the size of every frame (RTP packets grouped by
//! timestamp) as it completes, then a summary.
//!
//! ```text
//! cargo run -p sluice-client --example pull -- rtsp://user:pass@192.0.2.10/stream1 [tcp|udp|auto|multicast] [seconds]
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sluice_client::{Session, SessionOptions, TransportPolicy};

/// A frame being assembled on one track.
#[derive(Default)]
struct Track {
    timestamp: Option<u32>,
    frame_bytes: usize,
    frame_packets: usize,
    frames: u64,
    packets: u64,
    bytes: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: pull URL [tcp|udp|auto|multicast] [seconds]");
        std::process::exit(2);
    };
    let transport: TransportPolicy = args.next().as_deref().unwrap_or("auto").parse()?;
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);

    let session =
        Session::describe(&url, SessionOptions::default().with_transport(transport)).await?;
    println!("server: {}", session.server().unwrap_or("(not given)"));
    for (i, track) in session.tracks().iter().enumerate() {
        println!(
            "track {i}: {} {} pt {} {} Hz -> {}",
            track.media.media, track.encoding, track.payload_type, track.clock_rate, track.control
        );
    }
    let mut playing = session.play(None).await?;
    println!("playing over {:?}", playing.transport());

    let mut tracks: BTreeMap<usize, Track> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let packet = match tokio::time::timeout(left, playing.next()).await {
            Err(_) => break,
            Ok(Ok(Some(packet))) => packet,
            Ok(Ok(None)) => {
                println!("the server ended the stream");
                break;
            }
            Ok(Err(e)) => return Err(e.into()),
        };
        let Some(header) = packet.data.get(..12) else {
            continue;
        };
        let timestamp = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let marker = header[1] & 0x80 != 0;
        let track = tracks.entry(packet.track).or_default();
        if track.timestamp.is_some_and(|t| t != timestamp) && track.frame_packets > 0 {
            finish_frame(packet.track, track);
        }
        track.timestamp = Some(timestamp);
        track.frame_bytes += packet.data.len() - 12;
        track.frame_packets += 1;
        track.packets += 1;
        track.bytes += packet.data.len() as u64;
        if marker {
            finish_frame(packet.track, track);
        }
    }
    for (i, track) in &tracks {
        println!(
            "track {i}: {} frames, {} packets, {} bytes",
            track.frames, track.packets, track.bytes
        );
    }
    for quirk in playing.quirks() {
        println!("quirk {quirk}");
    }
    playing.teardown().await;
    Ok(())
}

fn finish_frame(index: usize, track: &mut Track) {
    println!(
        "track {index}: frame ts {} {} bytes in {} packets",
        track.timestamp.unwrap_or_default(),
        track.frame_bytes,
        track.frame_packets
    );
    track.frames += 1;
    track.frame_bytes = 0;
    track.frame_packets = 0;
    track.timestamp = None;
}
