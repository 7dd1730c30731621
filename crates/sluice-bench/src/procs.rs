//! The processes a bench run starts: the Sluice server, the ffmpeg publisher and GStreamer's rtsp-server.
//! Each writes its log to a file in the run's work directory and is killed when dropped.

use std::fs::File;
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::reader;

/// A started process.
pub struct Child {
    name: &'static str,
    child: tokio::process::Child,
    log: PathBuf,
}

impl Child {
    fn spawn(
        name: &'static str,
        mut cmd: Command,
        dir: &Path,
        stdout: bool,
    ) -> anyhow::Result<Child> {
        let log = dir.join(format!("{name}.log"));
        let file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(if stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(file)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", cmd.as_std().get_program()))?;
        Ok(Child { name, child, log })
    }

    /// The process id (`None` once it was reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Fails, pointing at the log, if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => bail!(
                "{} exited ({status}); see {}",
                self.name,
                self.log.display()
            ),
        }
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_tcp_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free TCP port")?;
    Ok(l.local_addr()?.port())
}

/// An even UDP port such that it and the `count - 1` ports after it were free a moment ago.
fn free_udp_ports(count: u16) -> anyhow::Result<u16> {
    for _ in 0..100 {
        let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        let base = probe.local_addr()?.port() & !1;
        drop(probe);
        if base < 1024 || base > u16::MAX - count {
            continue;
        }
        if (base..base + count).all(|p| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, p)).is_ok()) {
            return Ok(base);
        }
    }
    bail!("no {count} consecutive free UDP ports found")
}

/// Waits until `ok` succeeds, checking that `child` is still alive, for at most `limit`.
async fn wait_for<F, Fut, T>(
    child: &mut Child,
    limit: Duration,
    what: &str,
    mut ok: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let start = Instant::now();
    loop {
        child.check_alive()?;
        match ok().await {
            Ok(v) => return Ok(v),
            Err(e) if start.elapsed() >= limit => {
                return Err(e.context(format!(
                    "{what} not ready after {limit:?}; see {}",
                    child.log.display()
                )))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Starts `sluice serve` on `port` of 127.0.0.1 (0: a free one); returns it with its RTSP port.
pub async fn start_sluice(bin: &Path, port: u16, dir: &Path) -> anyhow::Result<(Child, u16)> {
    let port = if port == 0 { free_tcp_port()? } else { port };
    let udp = free_udp_ports(4)?;
    let config = format!(
        "[log]\nlevel = \"warn\"\n\n[rtsp]\nlisten = \"127.0.0.1:{port}\"\nrtp_port = {}\nrtcp_port = {}\n\
         multicast_rtp_port = {}\nmulticast_rtcp_port = {}\n\n[hub]\npublish_any_path = true\n",
        udp,
        udp + 1,
        udp + 2,
        udp + 3
    );
    let path = dir.join("sluice.toml");
    std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve").arg("--config").arg(&path);
    let mut child = Child::spawn("sluice", cmd, dir, false)?;
    wait_for(&mut child, Duration::from_secs(10), "sluice", || async {
        tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        Ok(())
    })
    .await?;
    Ok((child, port))
}

/// Starts ffmpeg publishing `fixture` in a loop, in real time, to `url` over TCP, and waits until the
/// stream can be described.
pub async fn start_publisher(
    ffmpeg: &Path,
    fixture: &Path,
    url: &str,
    dir: &Path,
) -> anyhow::Result<Child> {
    let mut cmd = Command::new(ffmpeg);
    cmd.args([
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "warning",
        "-re",
        "-stream_loop",
        "-1",
        "-i",
    ])
    .arg(fixture)
    .args([
        "-map",
        "0",
        "-c",
        "copy",
        "-f",
        "rtsp",
        "-rtsp_transport",
        "tcp",
        url,
    ]);
    let mut child = Child::spawn("ffmpeg", cmd, dir, false)?;
    wait_for(
        &mut child,
        Duration::from_secs(20),
        "the published stream",
        || async {
            let d = reader::describe(url).await?;
            if d.media.iter().any(|m| m.is_h264()) {
                Ok(())
            } else {
                Err(anyhow!("{url} has no H.264 track"))
            }
        },
    )
    .await?;
    Ok(child)
}

/// How GStreamer's rtsp-server is set up.
pub struct GstOptions<'a> {
    /// The Python interpreter that has GStreamer's introspection bindings.
    pub python: &'a Path,
    /// `bench/gst_rtsp_server.py`.
    pub script: &'a Path,
    /// `relay` or `repay`.
    pub mode: &'a str,
    /// Client threads of the server.
    pub threads: u32,
}

/// Starts GStreamer's rtsp-server re-serving `upstream`; returns it with the URL it serves.
pub async fn start_gst(
    opts: &GstOptions<'_>,
    upstream: &str,
    dir: &Path,
) -> anyhow::Result<(Child, String)> {
    let port = free_tcp_port()?;
    let mut cmd = Command::new(opts.python);
    cmd.arg(opts.script)
        .args([
            "--upstream",
            upstream,
            "--port",
            &port.to_string(),
            "--mode",
            opts.mode,
        ])
        .args(["--threads", &opts.threads.to_string()]);
    let mut child = Child::spawn("gstreamer", cmd, dir, true)?;
    let stdout = child
        .child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("no stdout from the GStreamer server"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .map_err(|_| {
            anyhow!(
                "GStreamer server not ready after 20 s; see {}",
                child.log.display()
            )
        })??;
    let url = line
        .as_deref()
        .and_then(|l| l.strip_prefix("ready "))
        .ok_or_else(|| {
            anyhow!(
                "GStreamer server did not start; see {}",
                child.log.display()
            )
        })?
        .trim()
        .to_owned();
    // Nothing else is printed on stdout; keep the pipe drained anyway.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, url))
}
