//! The built-in demo path read by real players over every transport.

mod common;

use std::time::Duration;

use anyhow::{ensure, Result};
use sluice_testkit::{gst, net, RtspTransport};

use common::{ffmpeg_decodes, server};

#[test]
fn ffmpeg_reads_demo_over_tcp() -> Result<()> {
    let server = server("")?;
    let report = ffmpeg_decodes(&server, "demo", RtspTransport::Tcp, 100)?;
    ensure!(report.dimensions == Some((640, 360)), "{report}");
    server.finish()
}

#[test]
fn ffmpeg_reads_demo_over_udp() -> Result<()> {
    let server = server("")?;
    let report = ffmpeg_decodes(&server, "demo", RtspTransport::Udp, 100)?;
    ensure!(report.dimensions == Some((640, 360)), "{report}");
    server.finish()
}

#[test]
fn ffmpeg_reads_demo_over_multicast() -> Result<()> {
    // Multicast must stay on loopback: this fails (and says how to fix it) rather than send
    // traffic out of the machine.
    net::ensure_multicast_route()?;
    let server = server("")?;
    let report = ffmpeg_decodes(&server, "demo", RtspTransport::UdpMulticast, 100)?;
    ensure!(report.dimensions == Some((640, 360)), "{report}");
    server.finish()
}

#[test]
fn gstreamer_reads_demo_over_tcp() -> Result<()> {
    let server = server("")?;
    let report = gst::read_h264(
        &server.url("demo"),
        RtspTransport::Tcp,
        100,
        Duration::from_secs(25),
    )?;
    println!("{report}");
    ensure!(
        report.decoded(100),
        "GStreamer did not decode 100 buffers: {report}"
    );
    ensure!(
        report.errors.is_empty(),
        "GStreamer reported errors: {report}"
    );
    server.finish()
}
