//! Sluice's own server, started in-process on free loopback ports.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_server::config::Config;
use sluice_testkit::net;
use tokio::task::JoinHandle;

/// Gives each server of this process its own multicast /24.
static SERVERS: AtomicU32 = AtomicU32::new(0);

/// A Sluice server running in this process; stopped when dropped.
pub struct Sluice {
    addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl Sluice {
    /// Starts the server with `[paths.demo]` (the built-in clip) and `[paths.lobby]` (a publisher
    /// path), and waits until it accepts connections. The free ports it picks may be taken by another
    /// test before the server binds them (clients bind ephemeral UDP ports too): then it tries others.
    pub async fn start() -> Sluice {
        for _ in 0..5 {
            if let Some(server) = Self::try_start().await {
                return server;
            }
        }
        panic!("Sluice found no free ports in 5 tries");
    }

    /// One try: `None` when a port was taken meanwhile.
    async fn try_start() -> Option<Sluice> {
        let rtsp = net::free_tcp_port().unwrap();
        let rtp = net::free_udp_pair().unwrap();
        let multicast = net::free_udp_pair().unwrap();
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let group = (std::process::id().wrapping_add(n.wrapping_mul(13))) % 200 + 30;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, rtsp));
        let toml = format!(
            "[rtsp]\nlisten = \"{addr}\"\nrtp_port = {rtp}\nrtcp_port = {}\n\
             multicast_range = \"239.255.{group}.0/24\"\nmulticast_rtp_port = {multicast}\n\
             multicast_rtcp_port = {}\nmulticast_ttl = 1\n\n\
             [paths.demo]\nsource = \"demo\"\n\n[paths.lobby]\nsource = \"publisher\"\n",
            rtp + 1,
            multicast + 1,
        );
        let config = Config::parse(&toml, "client-test.toml").unwrap_or_else(|e| panic!("{e}"));
        let task = tokio::spawn(sluice_server::run(Arc::new(config)));
        let mut listening = false;
        for _ in 0..200 {
            if task.is_finished() {
                match task.await {
                    Ok(Err(e)) if e.kind() == std::io::ErrorKind::AddrInUse => return None,
                    other => panic!("the server stopped: {other:?}"),
                }
            }
            if listening {
                // The UDP ports are bound right after the listener: still running now, they were.
                return Some(Sluice { addr, task });
            }
            listening = tokio::net::TcpStream::connect(addr).await.is_ok();
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("Sluice did not listen on {addr}");
    }

    /// `rtsp://127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{path}", self.addr)
    }
}

impl Drop for Sluice {
    fn drop(&mut self) {
        self.task.abort();
    }
}
