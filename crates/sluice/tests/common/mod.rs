//! Shared by the integration tests (each test file is its own binary and uses part of this).
#![allow(dead_code)]

use std::time::Duration;

use anyhow::{ensure, Result};
use sluice_testkit::ffmpeg::{self, FrameReport, PublishOptions, Publisher};
use sluice_testkit::{RtspTransport, Server};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_sluice");

/// Longest a publisher may take to become readable.
pub const LIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the server with the generated config plus `extra`.
pub fn server(extra: &str) -> Result<Server> {
    Server::start(BIN, extra)
}

/// Starts ffmpeg publishing to `path` and waits until the path can be described.
pub fn publish(server: &Server, path: &str, options: &PublishOptions) -> Result<Publisher> {
    let mut publisher = Publisher::start(&server.url(path), options)?;
    publisher.wait_until_live(LIVE_TIMEOUT)?;
    Ok(publisher)
}

/// Reads `frames` frames of `path` with ffmpeg and checks all decoded without an error line.
pub fn ffmpeg_decodes(
    server: &Server,
    path: &str,
    transport: RtspTransport,
    frames: u64,
) -> Result<FrameReport> {
    // 100 frames at 25 fps take 4 s; the rest is slack for a loaded machine.
    let timeout = Duration::from_secs(10) + Duration::from_millis(40 * frames) * 2;
    let report = ffmpeg::read_frames(&server.url(path), transport, frames, timeout)?;
    println!("{report}");
    ensure!(report.frames >= frames, "too few frames decoded: {report}");
    ensure!(report.errors.is_empty(), "ffmpeg reported errors: {report}");
    ensure!(
        report.status.is_some_and(|s| s.success()),
        "ffmpeg failed: {report}"
    );
    Ok(report)
}
