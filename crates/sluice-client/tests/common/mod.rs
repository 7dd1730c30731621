//! Helpers shared by the client's integration tests.
#![allow(dead_code)]

pub mod peers;

use std::future::Future;
use std::time::{Duration, Instant};

use sluice_client::{ClientError, Packet, Playing, SessionOptions, TransportPolicy};
use sluice_testkit::camera::{Expect, Reply, Step};

/// Runs `test` with a deadline, so a hung client fails instead of hanging the suite.
pub async fn bounded<T>(secs: u64, test: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), test).await {
        Ok(value) => value,
        Err(_) => panic!("test did not finish within {secs} s"),
    }
}

/// Options for scripted cameras: TCP, short timeouts.
pub fn tcp() -> SessionOptions {
    let mut options = SessionOptions::default().with_transport(TransportPolicy::Tcp);
    options.connect_timeout = Duration::from_secs(2);
    options.request_timeout = Duration::from_secs(3);
    options.stall_timeout = Duration::from_secs(5);
    options.udp_fallback_after = Duration::from_millis(700);
    options
}

/// Like [`tcp`] with another transport policy.
pub fn with(transport: TransportPolicy) -> SessionOptions {
    tcp().with_transport(transport)
}

/// One H.264 track, aggregate control `*`, track control `trackID=1`, no Content-Base.
pub const SDP_VIDEO: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n";

/// Video and audio, controls `trackID=1` and `trackID=2`.
pub const SDP_AV: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n\
m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=control:trackID=2\r\n";

/// The session id of the scripted answers.
pub const SESSION: &str = "12345678";

/// `OPTIONS` answered with a `Public` that lists `GET_PARAMETER`.
pub fn options() -> Step {
    Expect::new("OPTIONS")
        .reply(Reply::status(200).header(
            "Public",
            "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER",
        ))
        .into()
}

/// `DESCRIBE` answered with `sdp`.
pub fn describe(sdp: &str) -> Step {
    Expect::new("DESCRIBE")
        .reply(Reply::status(200).body(sdp.as_bytes()))
        .into()
}

/// `SETUP` answered over TCP with the given channels.
pub fn setup_tcp(channels: &str) -> Step {
    Expect::new("SETUP")
        .check(sluice_testkit::camera::Check::Contains(
            "Transport",
            "RTP/AVP/TCP".into(),
        ))
        .reply(
            Reply::status(200)
                .session(&format!("{SESSION};timeout=60"))
                .header(
                    "Transport",
                    &format!("RTP/AVP/TCP;unicast;interleaved={channels}"),
                ),
        )
        .into()
}

/// `SETUP` answered over UDP (the camera fills in its ports).
pub fn setup_udp() -> Step {
    Expect::new("SETUP")
        .check(sluice_testkit::camera::Check::Contains(
            "Transport",
            "client_port=".into(),
        ))
        .reply(
            Reply::status(200)
                .session(&format!("{SESSION};timeout=60"))
                .header("Transport", "RTP/AVP;unicast;server_port=1-2"),
        )
        .into()
}

/// `PLAY` with the session id, answered 200.
pub fn play() -> Step {
    Expect::new("PLAY")
        .check_session()
        .reply(Reply::status(200).session(SESSION))
        .into()
}

/// The usual one-track TCP exchange up to `PLAY`.
pub fn happy_tcp() -> Vec<Step> {
    vec![options(), describe(SDP_VIDEO), setup_tcp("0-1"), play()]
}

/// Reads `n` packets within `secs`.
pub async fn collect(
    playing: &mut Playing,
    n: usize,
    secs: u64,
) -> Result<Vec<Packet>, ClientError> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, playing.next()).await {
            Err(_) => panic!("only {} of {n} packets within {secs} s", out.len()),
            Ok(Ok(Some(packet))) => out.push(packet),
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(e),
        }
    }
    Ok(out)
}

/// Reads until the stream ends, at most `max` packets within `secs`.
pub async fn until_end(
    playing: &mut Playing,
    max: usize,
    secs: u64,
) -> Result<Vec<Packet>, ClientError> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, playing.next()).await {
            Err(_) => panic!("stream did not end within {secs} s ({} packets)", out.len()),
            Ok(Ok(Some(packet))) => {
                out.push(packet);
                assert!(out.len() <= max, "more than {max} packets");
            }
            Ok(Ok(None)) => return Ok(out),
            Ok(Err(e)) => return Err(e),
        }
    }
}

/// The RTP sequence numbers of `packets`.
pub fn seqs(packets: &[Packet]) -> Vec<u16> {
    packets
        .iter()
        .map(|p| u16::from_be_bytes([p.data[2], p.data[3]]))
        .collect()
}

/// The RTP SSRCs of `packets`.
pub fn ssrcs(packets: &[Packet]) -> Vec<u32> {
    packets
        .iter()
        .map(|p| u32::from_be_bytes([p.data[8], p.data[9], p.data[10], p.data[11]]))
        .collect()
}

/// Asserts that sequence numbers go up by one (with wrap-around).
pub fn assert_contiguous(seqs: &[u16]) {
    for pair in seqs.windows(2) {
        assert_eq!(pair[1], pair[0].wrapping_add(1), "gap in {seqs:?}");
    }
}

/// Whether a quirk was recorded.
pub fn has_quirk(playing_quirks: &[sluice_client::Quirk], name: &str) -> bool {
    playing_quirks.iter().any(|q| q.name == name)
}
