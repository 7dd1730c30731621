//! GStreamer's `rtspsrc` as an RTSP reader.

use std::fmt;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use anyhow::Result;

use crate::peer;
use crate::RtspTransport;

/// What a `gst-launch-1.0` reader got.
#[derive(Clone, Debug)]
pub struct GstReport {
    /// The URL read.
    pub url: String,
    /// Decoded buffers that reached the sink.
    pub buffers: u64,
    /// Exit status; `None` when it was killed at the deadline.
    pub status: Option<ExitStatus>,
    /// Lines that report errors or warnings (`ERROR`, `WARNING`, `error:`).
    pub errors: Vec<String>,
    /// How long it ran.
    pub elapsed: Duration,
}

impl GstReport {
    /// True when it exited with 0 after at least `buffers` decoded buffers.
    pub fn decoded(&self, buffers: u64) -> bool {
        self.status.is_some_and(|s| s.success()) && self.buffers >= buffers
    }
}

impl fmt::Display for GstReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gst-launch read {}: {} buffers in {:.1?}, exit {}",
            self.url,
            self.buffers,
            self.elapsed,
            self.status
                .map_or_else(|| "killed at deadline".to_owned(), |s| s.to_string()),
        )?;
        for line in self.errors.iter().take(30) {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

/// Reads `url` with `rtspsrc ! rtph264depay ! h264parse ! avdec_h264 ! fakesink num-buffers=N`,
/// counting the buffers the sink saw; killed after `timeout`.
pub fn read_h264(
    url: &str,
    transport: RtspTransport,
    buffers: u64,
    timeout: Duration,
) -> Result<GstReport> {
    let protocols = match transport {
        RtspTransport::Tcp => "tcp",
        RtspTransport::Udp => "udp",
        RtspTransport::UdpMulticast => "udp-mcast",
    };
    let mut cmd = Command::new("gst-launch-1.0");
    // -v prints the sink's last-message for every buffer.
    cmd.arg("-v")
        .arg("rtspsrc")
        .arg(format!("location={url}"))
        .arg(format!("protocols={protocols}"))
        .arg("latency=0")
        .args([
            "!",
            "rtph264depay",
            "!",
            "h264parse",
            "!",
            "avdec_h264",
            "!",
        ])
        .arg("fakesink")
        .arg(format!("num-buffers={buffers}"))
        .arg("silent=false");
    let done = peer::run(cmd, timeout)?;
    let count = done
        .stdout
        .iter()
        .filter(|l| l.text.contains("last-message = chain"))
        .count() as u64;
    let errors = done
        .stdout
        .iter()
        .chain(done.stderr.iter())
        .filter(|l| {
            l.text.contains("ERROR") || l.text.contains("WARNING") || l.text.contains("error:")
        })
        .map(|l| l.text.clone())
        .collect();
    Ok(GstReport {
        url: url.to_owned(),
        buffers: count,
        status: done.status,
        errors,
        elapsed: done.elapsed,
    })
}

/// A `gst-launch-1.0` process publishing a live test pattern (`videotestsrc ! x264enc !
/// rtspclientsink`) with ANNOUNCE/RECORD; killed on drop.
#[derive(Debug)]
pub struct GstPublisher {
    peer: crate::peer::Peer,
    url: String,
}

impl GstPublisher {
    /// Starts publishing `width`x`height` at 25 fps, a keyframe every 25 frames, to `url` over
    /// `transport` (TCP or UDP).
    pub fn start(
        url: &str,
        transport: RtspTransport,
        width: u32,
        height: u32,
    ) -> Result<GstPublisher> {
        let protocols = match transport {
            RtspTransport::Tcp => "tcp",
            RtspTransport::Udp => "udp",
            RtspTransport::UdpMulticast => anyhow::bail!("rtspclientsink cannot publish multicast"),
        };
        let mut cmd = Command::new("gst-launch-1.0");
        cmd.args(["-q", "videotestsrc", "is-live=true", "pattern=ball", "!"])
            .arg(format!(
                "video/x-raw,width={width},height={height},framerate=25/1"
            ))
            .args([
                "!",
                "x264enc",
                "tune=zerolatency",
                "speed-preset=ultrafast",
                "key-int-max=25",
                "!",
                "rtspclientsink",
            ])
            .arg(format!("location={url}"))
            .arg(format!("protocols={protocols}"));
        Ok(GstPublisher {
            peer: crate::peer::Peer::spawn(cmd)?,
            url: url.to_owned(),
        })
    }

    /// Waits until a DESCRIBE of the URL succeeds, up to `timeout`; fails early if GStreamer exits.
    pub fn wait_until_live(&mut self, timeout: Duration) -> Result<()> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.peer.try_status()? {
                anyhow::bail!(
                    "GStreamer publisher to {} exited ({status}):\n{}",
                    self.url,
                    self.peer.stderr_tail(30)
                );
            }
            let live = crate::RtspClient::connect_url(&self.url)
                .and_then(|mut c| c.describe(&self.url))
                .is_ok();
            if live {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                anyhow::bail!(
                    "GStreamer publisher to {} not live after {timeout:?}:\n{}",
                    self.url,
                    self.peer.stderr_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Fails if GStreamer has exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.peer.try_status()? {
            anyhow::bail!(
                "GStreamer publisher to {} exited early ({status}):\n{}",
                self.url,
                self.peer.stderr_tail(30)
            );
        }
        Ok(())
    }
}
