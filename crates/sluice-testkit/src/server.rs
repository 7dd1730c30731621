//! The `sluice` binary run as a child process on free loopback ports.

use std::fmt::Write as _;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};

use crate::net;

/// How long the server may take to accept its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines of the server log shown when a test fails.
const LOG_TAIL_LINES: usize = 40;

/// Counter that gives each server of this process its own multicast /24.
static SERVERS: AtomicU32 = AtomicU32::new(0);

/// Extra configuration for [`Server::start_with`].
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Lines added to the `[rtsp]` table (for example `write_timeout = 3`).
    pub rtsp: String,
    /// TOML appended after the generated tables (`[hub]`, more `[paths.*]`).
    pub extra: String,
}

/// A running `sluice serve`, killed when dropped.
///
/// The generated config binds RTSP to 127.0.0.1 on a free port, the unicast and multicast RTP/RTCP
/// pairs to free even ports, allocates multicast groups from a /24 of its own inside
/// [`net::MULTICAST_PREFIX`], and declares `[paths.demo]` (the built-in clip) and `[paths.lobby]`
/// (a publisher path); `extra` must not declare those two again.
#[derive(Debug)]
pub struct Server {
    child: Mutex<Child>,
    pid: u32,
    addr: SocketAddr,
    rtp_port: u16,
    multicast_rtp_port: u16,
    log_path: PathBuf,
    config: String,
    // Holds the config and the log; removed on drop.
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts `bin serve` with the generated config plus `extra_toml` appended.
    ///
    /// `bin` is the path of the binary, `env!("CARGO_BIN_EXE_sluice")` in the test.
    pub fn start(bin: &str, extra_toml: &str) -> Result<Server> {
        Server::start_with(
            bin,
            ServerOptions {
                extra: extra_toml.to_owned(),
                ..ServerOptions::default()
            },
        )
    }

    /// Starts `bin serve` with options.
    ///
    /// The free ports it picks may be taken by another test before the server binds them (clients
    /// bind ephemeral UDP ports too); then it tries other ports, up to five times.
    pub fn start_with(bin: &str, options: ServerOptions) -> Result<Server> {
        let taken = |text: &str| text.contains("Address already in use");
        let mut last = None;
        for _ in 0..5 {
            match Server::try_start(bin, &options) {
                Ok(server) => {
                    // The UDP ports are bound right after the listener.
                    std::thread::sleep(Duration::from_millis(50));
                    match server.check_running() {
                        Ok(()) => return Ok(server),
                        Err(e) if taken(&server.log()) => last = Some(e),
                        Err(e) => return Err(e),
                    }
                }
                Err(e) if taken(&format!("{e:#}")) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("no free ports")))
    }

    fn try_start(bin: &str, options: &ServerOptions) -> Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("sluice-test-")
            .tempdir()
            .context("creating temp dir")?;
        let rtsp_port = net::free_tcp_port()?;
        let rtp_port = net::free_udp_pair()?;
        let multicast_rtp_port = net::free_udp_pair()?;
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let group_octet = (std::process::id().wrapping_add(n.wrapping_mul(7))) % 200 + 20;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, rtsp_port));

        let mut config = String::new();
        let level = std::env::var("SLUICE_TEST_LOG").unwrap_or_else(|_| "info".to_owned());
        let _ = write!(
            config,
            "[log]\nlevel = \"{level}\"\n\n\
             [rtsp]\n\
             listen = \"{addr}\"\n\
             rtp_port = {rtp_port}\n\
             rtcp_port = {rtcp_port}\n\
             multicast_range = \"239.255.{group_octet}.0/24\"\n\
             multicast_rtp_port = {multicast_rtp_port}\n\
             multicast_rtcp_port = {multicast_rtcp_port}\n\
             multicast_ttl = 1\n\
             {rtsp_extra}\n\n\
             [paths.demo]\nsource = \"demo\"\n\n\
             [paths.lobby]\nsource = \"publisher\"\n\n\
             {extra}\n",
            rtcp_port = rtp_port + 1,
            multicast_rtcp_port = multicast_rtp_port + 1,
            rtsp_extra = options.rtsp,
            extra = options.extra,
        );
        let config_path = dir.path().join("sluice.toml");
        std::fs::write(&config_path, &config).context("writing config")?;

        let log_path = dir.path().join("sluice.log");
        let log = File::create(&log_path).context("creating log file")?;
        let log2 = log.try_clone().context("cloning log file handle")?;
        crate::peer::require_tool(bin)?;
        let child = Command::new(bin)
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            // A log file, not a terminal: no colour codes.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .with_context(|| format!("spawning {bin}"))?;
        let pid = child.id();
        let server = Server {
            child: Mutex::new(child),
            pid,
            addr,
            rtp_port,
            multicast_rtp_port,
            log_path,
            config,
            _dir: dir,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        loop {
            self.check_running()?;
            if net::wait_for_tcp(self.addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                bail!(
                    "sluice did not accept connections on {} within {START_TIMEOUT:?}\n{}",
                    self.addr,
                    self.log_report()
                );
            }
        }
    }

    /// `rtsp://127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// The RTSP listen address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The process id (for `/proc/PID/status`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The configured unicast RTP port (RTCP is the next one).
    pub fn rtp_port(&self) -> u16 {
        self.rtp_port
    }

    /// The configured multicast RTP port (RTCP is the next one).
    pub fn multicast_rtp_port(&self) -> u16 {
        self.multicast_rtp_port
    }

    /// The generated config file's text.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// Everything the server has written to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines
            .get(lines.len().saturating_sub(n)..)
            .unwrap_or_default()
            .join("\n")
    }

    /// Fails if the server has exited (crashed) or logged a panic.
    pub fn check_running(&self) -> Result<()> {
        let status = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_wait()
            .context("waiting for sluice")?;
        if let Some(status) = status {
            bail!(
                "sluice exited unexpectedly ({status})\n{}",
                self.log_report()
            );
        }
        if self.log().contains("panicked at") {
            bail!("sluice logged a panic\n{}", self.log_report());
        }
        Ok(())
    }

    /// Checks the server is still healthy, then stops it.
    pub fn finish(self) -> Result<()> {
        self.check_running()
    }

    fn log_report(&self) -> String {
        format!(
            "--- sluice log (last {LOG_TAIL_LINES} lines) ---\n{}\n--- end of sluice log ---",
            self.log_tail(LOG_TAIL_LINES)
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        let exited = child.try_wait().ok().flatten();
        let _ = child.kill();
        let _ = child.wait();
        // The test harness shows this only when the test fails.
        if let Some(status) = exited {
            eprintln!("sluice had exited before the end of the test ({status})");
        }
        eprintln!("{}", self.log_report());
    }
}
