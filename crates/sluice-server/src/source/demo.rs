//! The built-in test stream: a small H.264 clip, packetized and looped in real time with continuous RTP
//! timestamps and sequence numbers, so readers see one endless stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sluice_media::demo::DemoClip;
use sluice_media::h264::{Packetizer, DEFAULT_MTU};
use sluice_rtsp::sdp::SessionDescription;
use tracing::info;

use crate::hub::{Hub, Track};

const PAYLOAD_TYPE: u8 = 96;

/// The SDP describing the clip's one video track.
pub fn sdp(clip: &DemoClip) -> String {
    format!(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=Sluice demo\r\nt=0 0\r\nm=video 0 RTP/AVP {pt}\r\n\
         a=rtpmap:{pt} H264/90000\r\na=fmtp:{pt} {fmtp}\r\na=framerate:{fps}\r\na=x-dimensions:{w},{h}\r\n",
        pt = PAYLOAD_TYPE,
        fmtp = clip.fmtp(),
        fps = clip.frame_rate,
        w = clip.width,
        h = clip.height,
    )
}

/// Installs the clip's stream on `path` now (so readers find it as soon as the server listens) and returns
/// the task that plays it forever.
pub fn start(hub: &Arc<Hub>, path: &str) -> Result<impl std::future::Future<Output = ()>, String> {
    let clip = DemoClip::builtin();
    let desc = SessionDescription::parse(sdp(&clip).as_bytes())
        .map_err(|e| format!("demo source: bad SDP: {e}"))?;
    let tracks: Vec<Track> = desc.media.into_iter().map(Track::from_media).collect();
    let mut claim = hub
        .claim_source(path)
        .map_err(|e| format!("demo source cannot start: {e}"))?;
    let stream = claim.start(tracks);
    info!(
        path,
        frames = clip.frames.len(),
        fps = clip.frame_rate,
        "demo source started"
    );
    Ok(async move {
        // The claim lives as long as the task: dropping it would end the stream.
        let _claim = claim;
        let mut packetizer =
            Packetizer::new(PAYLOAD_TYPE, rand::random(), rand::random(), DEFAULT_MTU);
        let mut timestamp: u32 = rand::random();
        let step = clip.frame_duration_90k();
        let mut tick =
            tokio::time::interval(Duration::from_micros(1_000_000 * u64::from(step) / 90_000));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut out: Vec<Bytes> = Vec::with_capacity(64);
        let mut nals: Vec<&[u8]> = Vec::with_capacity(8);
        loop {
            for frame in &clip.frames {
                tick.tick().await;
                nals.clear();
                nals.extend(frame.nals.iter().map(|n| n.as_ref()));
                packetizer.packetize(&nals, timestamp, &mut out);
                for p in out.drain(..) {
                    stream.publish(0, p);
                }
                timestamp = timestamp.wrapping_add(step);
            }
        }
    })
}
