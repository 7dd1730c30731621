//! ffmpeg as an RTSP reader (decoding every frame) and as a publisher (ANNOUNCE/RECORD).

use std::fmt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::client::RtspClient;
use crate::peer::{Line, Peer};
use crate::RtspTransport;

/// What an ffmpeg reader decoded.
#[derive(Clone, Debug)]
pub struct FrameReport {
    /// The URL read.
    pub url: String,
    /// The transport used.
    pub transport: RtspTransport,
    /// Video frames decoded (lines of `framemd5` output).
    pub frames: u64,
    /// Everything ffmpeg printed at `-v error`: decoder and protocol errors.
    pub errors: Vec<String>,
    /// Time from spawning ffmpeg to its first decoded frame.
    pub first_frame_after: Option<Duration>,
    /// Frame size from the `#dimensions` line.
    pub dimensions: Option<(u32, u32)>,
    /// Exit status; `None` when it was killed at the deadline.
    pub status: Option<ExitStatus>,
    /// How long it ran.
    pub elapsed: Duration,
}

impl fmt::Display for FrameReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ffmpeg read {} over {:?}: {} frames in {:.1?}, first after {:?}, dimensions {:?}, exit {}",
            self.url,
            self.transport,
            self.frames,
            self.elapsed,
            self.first_frame_after,
            self.dimensions,
            self.status
                .map_or_else(|| "killed at deadline".to_owned(), |s| s.to_string()),
        )?;
        if !self.errors.is_empty() {
            write!(f, "\nffmpeg errors:")?;
            for line in self.errors.iter().take(30) {
                write!(f, "\n  {line}")?;
            }
            if self.errors.len() > 30 {
                write!(f, "\n  ... {} more", self.errors.len() - 30)?;
            }
        }
        Ok(())
    }
}

/// Reads `frames` video frames from `url` with ffmpeg, decoding each (to `framemd5`), killed after
/// `timeout`.
pub fn read_frames(
    url: &str,
    transport: RtspTransport,
    frames: u64,
    timeout: Duration,
) -> Result<FrameReport> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-v", "error"])
        .args(["-rtsp_transport", transport.ffmpeg_name()])
        // Fail rather than hang when packets stop (microseconds).
        .args(["-timeout", "5000000"])
        .args(["-i", url])
        .args(["-map", "0:v:0", "-frames:v", &frames.to_string()])
        .args(["-flush_packets", "1", "-f", "framemd5", "pipe:1"]);
    let mut peer = Peer::spawn(cmd)?;
    let status = peer.wait_timeout(timeout)?;
    if status.is_none() {
        peer.kill();
    }
    let out = peer.stdout_lines();
    let frame_lines: Vec<&Line> = out.iter().filter(|l| is_frame_line(&l.text)).collect();
    Ok(FrameReport {
        url: url.to_owned(),
        transport,
        frames: frame_lines.len() as u64,
        errors: peer.stderr_lines().into_iter().map(|l| l.text).collect(),
        first_frame_after: frame_lines.first().map(|l| l.at),
        dimensions: out.iter().find_map(|l| parse_dimensions(&l.text)),
        status,
        elapsed: peer.started().elapsed(),
    })
}

fn is_frame_line(line: &str) -> bool {
    !line.starts_with('#') && line.split(',').count() >= 6
}

/// `#dimensions 0: 640x360` → `(640, 360)`.
fn parse_dimensions(line: &str) -> Option<(u32, u32)> {
    let rest = line.strip_prefix("#dimensions")?;
    let (_, size) = rest.split_once(':')?;
    let (w, h) = size.trim().split_once('x')?;
    Some((w.parse().ok()?, h.parse().ok()?))
}

/// What ffmpeg publishes.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PublishSource {
    /// The demo clip ([`looping_demo_clip`]), copied without re-encoding, looped forever.
    DemoClip,
    /// ffmpeg's `testsrc2` pattern encoded with libx264 (ultrafast, GOP 50, no B-frames).
    TestPattern {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

/// How ffmpeg publishes.
#[derive(Clone, Debug)]
pub struct PublishOptions {
    /// The video source.
    pub source: PublishSource,
    /// Transport for the RECORD session (TCP or UDP).
    pub transport: RtspTransport,
    /// Input read rate relative to real time: 1.0 is `-re`; higher pushes faster than real time.
    pub rate: f64,
    /// Add an AAC track (a 440 Hz sine, 48 kHz mono).
    pub audio: bool,
    /// Stop after this much media time (ffmpeg then sends TEARDOWN); `None` runs until killed.
    pub duration: Option<Duration>,
    /// Largest RTP packet ffmpeg sends (`-pkt_size`); `None` keeps its default (1472).
    pub packet_size: Option<usize>,
}

impl Default for PublishOptions {
    fn default() -> PublishOptions {
        PublishOptions {
            source: PublishSource::DemoClip,
            transport: RtspTransport::Tcp,
            rate: 1.0,
            audio: false,
            duration: None,
            packet_size: None,
        }
    }
}

/// An ffmpeg process publishing to an RTSP URL; killed on drop.
#[derive(Debug)]
pub struct Publisher {
    peer: Peer,
    url: String,
}

impl Publisher {
    /// Starts ffmpeg publishing to `url` (it ANNOUNCEs, SETUPs with `mode=record` and RECORDs).
    pub fn start(url: &str, options: &PublishOptions) -> Result<Publisher> {
        if options.transport == RtspTransport::UdpMulticast {
            bail!("ffmpeg cannot publish over multicast");
        }
        let rate = format!("{}", options.rate);
        let pace = |cmd: &mut Command| {
            if options.rate == 1.0 {
                cmd.arg("-re");
            } else {
                cmd.args(["-readrate", &rate]);
            }
        };
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-hide_banner", "-nostdin", "-v", "info", "-nostats"]);
        match &options.source {
            PublishSource::DemoClip => {
                let clip = looping_demo_clip()?;
                pace(&mut cmd);
                cmd.args(["-stream_loop", "-1", "-i"]).arg(clip);
            }
            PublishSource::TestPattern { width, height } => {
                pace(&mut cmd);
                cmd.args(["-f", "lavfi", "-i"])
                    .arg(format!("testsrc2=size={width}x{height}:rate=25"));
            }
        }
        if options.audio {
            pace(&mut cmd);
            cmd.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
        }
        cmd.args(["-map", "0:v:0"]);
        match &options.source {
            PublishSource::DemoClip => {
                cmd.args(["-c:v", "copy"]);
            }
            PublishSource::TestPattern { .. } => {
                cmd.args([
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-tune",
                    "zerolatency",
                ])
                .args(["-g", "50", "-bf", "0", "-pix_fmt", "yuv420p"]);
            }
        }
        if options.audio {
            cmd.args(["-map", "1:a:0", "-c:a", "aac", "-b:a", "64k", "-ac", "1"]);
        }
        if let Some(duration) = options.duration {
            cmd.args(["-t", &format!("{:.3}", duration.as_secs_f64())]);
        }
        if let Some(size) = options.packet_size {
            cmd.args(["-pkt_size", &size.to_string()]);
        }
        cmd.args([
            "-f",
            "rtsp",
            "-rtsp_transport",
            options.transport.ffmpeg_name(),
        ])
        .arg(url);
        Ok(Publisher {
            peer: Peer::spawn(cmd)?,
            url: url.to_owned(),
        })
    }

    /// Waits until a DESCRIBE of the URL succeeds (the stream exists), up to `timeout`; fails early
    /// if ffmpeg exits.
    pub fn wait_until_live(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.peer.try_status()? {
                bail!(
                    "ffmpeg publisher to {} exited ({status}):\n{}",
                    self.url,
                    self.peer.stderr_tail(30)
                );
            }
            let live = RtspClient::connect_url(&self.url)
                .and_then(|mut c| c.describe(&self.url))
                .is_ok();
            if live {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "publisher to {} not live after {timeout:?}; ffmpeg said:\n{}",
                    self.url,
                    self.peer.stderr_tail(30)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Fails if ffmpeg has exited (it should publish until stopped).
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.peer.try_status()? {
            bail!(
                "ffmpeg publisher to {} exited early ({status}):\n{}",
                self.url,
                self.peer.stderr_tail(30)
            );
        }
        Ok(())
    }

    /// The underlying process.
    pub fn peer(&mut self) -> &mut Peer {
        &mut self.peer
    }

    /// The tail of ffmpeg's log.
    pub fn log_tail(&self, n: usize) -> String {
        self.peer.stderr_tail(n)
    }
}

/// The demo clip remuxed into MP4 (made once per process), because ffmpeg cannot `-stream_loop` a
/// raw H.264 file (it cannot seek back to the start).
///
/// Kept next to the test binaries (`target/<profile>/sluice-testkit/`).
pub fn looping_demo_clip() -> Result<PathBuf> {
    static CLIP: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CLIP.get_or_init(|| remux_demo_clip().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!("preparing the looping demo clip: {e}"))
}

fn remux_demo_clip() -> Result<PathBuf> {
    let clip = crate::demo_clip();
    if !clip.is_file() {
        bail!("demo clip missing at {}", clip.display());
    }
    let exe = std::env::current_exe().context("locating the test binary")?;
    // target/<profile>/deps/<test binary> -> target/<profile>/sluice-testkit
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map_or_else(std::env::temp_dir, |profile| profile.to_path_buf())
        .join("sluice-testkit");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = dir.join("demo.mp4");
    let tmp = dir.join(format!("demo.{}.tmp.mp4", std::process::id()));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-v", "error", "-y"])
        .args(["-fflags", "+genpts", "-f", "h264", "-framerate", "25", "-i"])
        .arg(&clip)
        .args(["-c", "copy"])
        .arg(&tmp);
    let done = crate::peer::run(cmd, Duration::from_secs(30))?;
    if !done.success() {
        bail!(
            "remuxing {} failed:\n{}",
            clip.display(),
            done.stderr_tail(20)
        );
    }
    // Atomic, so test processes running at once never see a half-written file.
    std::fs::rename(&tmp, &out).with_context(|| format!("renaming to {}", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framemd5_lines() {
        assert!(is_frame_line(
            "0,          0,          0,        1,   345600, 8f2e"
        ));
        assert!(!is_frame_line("#tb 0: 1/25"));
        assert_eq!(parse_dimensions("#dimensions 0: 640x360"), Some((640, 360)));
        assert_eq!(parse_dimensions("#sar 0: 1/1"), None);
    }
}

/// One stream as ffprobe describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbedStream {
    /// `codec_type`: `video`, `audio`, ...
    pub codec_type: String,
    /// `codec_name`: `h264`, `aac`, ...
    pub codec_name: String,
    /// Picture size (video).
    pub width: Option<u32>,
    /// Picture size (video).
    pub height: Option<u32>,
}

/// Runs `ffprobe` on an RTSP URL and returns the streams it found; fails when ffprobe does.
pub fn ffprobe(
    url: &str,
    transport: RtspTransport,
    timeout: Duration,
) -> Result<Vec<ProbedStream>> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-rtsp_transport", transport.ffmpeg_name()])
        .args(["-show_entries", "stream=codec_type,codec_name,width,height"])
        .args(["-of", "default=noprint_wrappers=0"])
        .arg(url);
    let done = crate::peer::run(cmd, timeout)?;
    if !done.success() {
        bail!(
            "ffprobe {url} failed ({:?}):\n{}",
            done.status,
            done.stderr_tail(20)
        );
    }
    let mut streams = Vec::new();
    let mut current: Option<ProbedStream> = None;
    for line in &done.stdout {
        let text = line.text.trim();
        match text {
            "[STREAM]" => current = Some(ProbedStream::default()),
            "[/STREAM]" => streams.extend(current.take()),
            _ => {
                let (Some(s), Some((key, value))) = (current.as_mut(), text.split_once('=')) else {
                    continue;
                };
                match key {
                    "codec_type" => s.codec_type = value.to_owned(),
                    "codec_name" => s.codec_name = value.to_owned(),
                    "width" => s.width = value.parse().ok(),
                    "height" => s.height = value.parse().ok(),
                    _ => {}
                }
            }
        }
    }
    Ok(streams)
}
