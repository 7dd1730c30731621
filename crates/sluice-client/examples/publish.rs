//! Publishes the built-in demo clip (H.264, 640x360, 25 fps) to an RTSP server with
//! ANNOUNCE/RECORD, looped in real time until Ctrl-C, then tears the session down.
//!
//! ```text
//! cargo run -p sluice-client --example publish -- rtsp://user:pass@127.0.0.1:8554/lobby [tcp|udp]
//! ```

use std::time::Duration;

use bytes::Bytes;
use sluice_client::{Publisher, Recording, SessionOptions, TransportPolicy};
use sluice_media::demo::DemoClip;
use sluice_media::h264::{Packetizer, DEFAULT_MTU};

const PAYLOAD_TYPE: u8 = 96;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: publish URL [tcp|udp]");
        std::process::exit(2);
    };
    let transport: TransportPolicy = args.next().as_deref().unwrap_or("tcp").parse()?;

    let clip = DemoClip::builtin();
    let sdp = format!(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Sluice demo clip\r\nt=0 0\r\na=control:*\r\n\
         m=video 0 RTP/AVP {PAYLOAD_TYPE}\r\na=rtpmap:{PAYLOAD_TYPE} H264/90000\r\n\
         a=fmtp:{PAYLOAD_TYPE} {}\r\na=control:trackID=0\r\n",
        clip.fmtp()
    );
    let options = SessionOptions::default().with_transport(transport);
    let publisher = Publisher::announce(&url, &sdp, options).await?;
    println!(
        "announced {} -> {}",
        publisher.url(),
        publisher.tracks()[0].control
    );
    let mut recording = publisher.record().await?;
    println!("recording over {:?}; Ctrl-C stops", recording.transport());

    let result = tokio::select! {
        result = play_clip(&mut recording, &clip) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    for quirk in recording.quirks() {
        println!("quirk {quirk}");
    }
    recording.teardown().await;
    Ok(result?)
}

/// Sends the clip's frames forever, one frame's packets per call, paced by the frame rate. RTP
/// timestamps and sequence numbers continue across loops, so the server sees one stream.
async fn play_clip(
    recording: &mut Recording,
    clip: &DemoClip,
) -> Result<(), sluice_client::ClientError> {
    let mut packetizer = Packetizer::new(PAYLOAD_TYPE, rand::random(), rand::random(), DEFAULT_MTU);
    let step = clip.frame_duration_90k();
    let mut tick =
        tokio::time::interval(Duration::from_micros(1_000_000 * u64::from(step) / 90_000));
    let mut timestamp = 0u32;
    let mut packets: Vec<Bytes> = Vec::new();
    let mut nals: Vec<&[u8]> = Vec::new();
    for round in 1u64.. {
        for frame in &clip.frames {
            tick.tick().await;
            nals.clear();
            nals.extend(frame.nals.iter().map(|n| n.as_ref()));
            packetizer.packetize(&nals, timestamp, &mut packets);
            recording.send_all(0, packets.drain(..)).await?;
            timestamp = timestamp.wrapping_add(step);
        }
        println!("sent the clip {round} times");
    }
    Ok(())
}
