//! Test harness for Sluice: the real server binary against real peers over loopback.
//!
//! - [`Server`] writes a config with free ports, runs `sluice serve`, waits until it accepts RTSP
//!   connections and kills it when dropped (printing the tail of its log, which the test harness shows
//!   when the test fails).
//! - [`peer`] runs external programs with a deadline; [`ffmpeg`] and [`gst`] wrap the usual
//!   reader and publisher command lines.
//! - [`client::RtspClient`] is a small blocking RTSP client over TCP interleaved, built on the
//!   `sluice-rtsp` codec, that hands the test every RTP/RTCP packet; [`rtp`] inspects those packets.
//!
//! Everything is blocking and bounded: every socket read and every child process has a timeout, and
//! every child is killed on drop, so a misbehaving server fails a test instead of hanging the suite.
//! A test that needs a program that is not installed fails and names `scripts/install-test-deps.sh`.
//!
//! Environment: `SLUICE_TEST_LOG` sets the server's log level (default `info`; `RUST_LOG` also
//! reaches the server).
//!
//! ```no_run
//! use std::time::Duration;
//! use sluice_testkit::{ffmpeg, RtspTransport, Server};
//!
//! # fn main() -> anyhow::Result<()> {
//! let server = Server::start("target/debug/sluice", "")?;
//! let report = ffmpeg::read_frames(&server.url("demo"), RtspTransport::Tcp, 100, Duration::from_secs(20))?;
//! assert!(report.frames >= 100, "{report}");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod client;
pub mod ffmpeg;
pub mod gst;
pub mod net;
pub mod peer;
pub mod rtp;
mod server;

use std::path::PathBuf;

pub use client::RtspClient;
pub use server::{Server, ServerOptions};

/// How an RTSP reader or publisher carries RTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtspTransport {
    /// Interleaved in the RTSP TCP connection (`RTP/AVP/TCP`).
    Tcp,
    /// Unicast UDP (`RTP/AVP;unicast;client_port=...`).
    Udp,
    /// Multicast UDP (`RTP/AVP;multicast`); readers only.
    UdpMulticast,
}

impl RtspTransport {
    /// The value of ffmpeg's `-rtsp_transport` option.
    pub fn ffmpeg_name(self) -> &'static str {
        match self {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
            RtspTransport::UdpMulticast => "udp_multicast",
        }
    }
}

/// The built-in demo clip: raw H.264 (Annex B), 640x360, 25 fps, 250 frames, GOP 50.
pub fn demo_clip() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sluice-media/assets/demo.h264"
    ))
}

/// Resident memory of a process in KiB (`VmRSS` in `/proc/PID/status`).
pub fn vm_rss_kib(pid: u32) -> anyhow::Result<u64> {
    use anyhow::Context as _;
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .with_context(|| format!("no VmRSS line in {path}"))?;
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("unreadable VmRSS line {line:?} in {path}"))
}
pub mod camera;
