//! The RTSP server: a TCP listener, one task per connection, the shared UDP sockets and multicast senders.

mod conn;
pub mod play;
mod sendmmsg;
pub mod udp;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::Config;
use crate::hub::{Hub, Stream};
use play::{Dest, Player, TrackOut};
use udp::{MulticastGroups, UdpPair};

/// Value of the `Server` header.
pub const SERVER_NAME: &str = concat!("Sluice/", env!("CARGO_PKG_VERSION"));

/// The RTSP server, bound and ready to run.
pub struct Server {
    state: Arc<ServerState>,
    listener: TcpListener,
}

pub(crate) struct ServerState {
    pub config: Arc<Config>,
    pub hub: Arc<Hub>,
    pub udp: Arc<UdpPair>,
    pub groups: MulticastGroups,
    multicast: Mutex<HashMap<String, std::sync::Weak<MulticastSender>>>,
    pub connections: AtomicUsize,
    next_conn: AtomicU64,
}

/// One multicast sender per path, shared by that path's multicast readers; it stops with the last one.
pub(crate) struct MulticastSender {
    stream: Arc<Stream>,
    task: JoinHandle<()>,
}

impl Drop for MulticastSender {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Binds the RTSP listener and the UDP sockets.
    pub async fn bind(config: Arc<Config>, hub: Arc<Hub>) -> io::Result<Server> {
        let r = &config.rtsp;
        let listener = TcpListener::bind(r.listen).await.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot listen on {} (rtsp.listen): {e}", r.listen),
            )
        })?;
        let udp = UdpPair::bind(r.listen.ip(), r.rtp_port, r.rtcp_port)
            .await
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot bind UDP {}/{} (rtsp.rtp_port/rtcp_port): {e}",
                        r.rtp_port, r.rtcp_port
                    ),
                )
            })?;
        let (first, size) = r
            .multicast_block()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        Ok(Server {
            state: Arc::new(ServerState {
                config: config.clone(),
                hub,
                udp,
                groups: MulticastGroups::new(first, size),
                multicast: Mutex::new(HashMap::new()),
                connections: AtomicUsize::new(0),
                next_conn: AtomicU64::new(1),
            }),
            listener,
        })
    }

    /// The address the RTSP listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until the task is dropped.
    pub async fn run(self) -> io::Result<()> {
        let (rtp, rtcp) = self.state.udp.ports();
        info!(
            "listening on rtsp://{} (RTP/RTCP on UDP {rtp}/{rtcp})",
            self.listener.local_addr()?
        );
        tokio::spawn(self.state.udp.clone().run());
        loop {
            let (tcp, peer) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let id = self.state.next_conn.fetch_add(1, Ordering::Relaxed);
            let state = self.state.clone();
            tokio::spawn(conn::serve(state, tcp, peer, id));
        }
    }
}

impl ServerState {
    /// The multicast sender of a stream, started on first use.
    pub(crate) fn multicast(
        &self,
        stream: &Arc<Stream>,
        group: Ipv4Addr,
    ) -> io::Result<Arc<MulticastSender>> {
        let mut map = self.multicast.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = map.get(stream.path()).and_then(|w| w.upgrade()) {
            if Arc::ptr_eq(&s.stream, stream) {
                return Ok(s);
            }
        }
        let r = &self.config.rtsp;
        let sock = Arc::new(udp::multicast_sender(r.multicast_ttl)?);
        let sub = stream
            .subscribe()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "stream ended"))?;
        let outs = (0..stream.tracks().len())
            .map(|i| {
                let port = |base: u16| base.wrapping_add(2 * i as u16);
                Some(TrackOut::new(
                    Dest::Addr(SocketAddr::V4(SocketAddrV4::new(
                        group,
                        port(r.multicast_rtp_port),
                    ))),
                    Dest::Addr(SocketAddr::V4(SocketAddrV4::new(
                        group,
                        port(r.multicast_rtcp_port),
                    ))),
                    stream.tracks()[i].clock_rate,
                ))
            })
            .collect();
        let progress = play::Progress::new(stream.tracks().len());
        let player = Player::new(sub, stream.video_track(), outs, progress);
        info!(path = stream.path(), %group, "multicast sender started");
        let task = tokio::spawn(conn::udp_play(
            player,
            sock.clone(),
            sock,
            None,
            play::catchup_mbps(r.udp_catchup_mbps, stream.mbps(now())),
        ));
        let s = Arc::new(MulticastSender {
            stream: stream.clone(),
            task,
        });
        map.insert(stream.path().to_string(), Arc::downgrade(&s));
        Ok(s)
    }
}

/// Something a connection's helpers tell it.
#[derive(Debug)]
pub(crate) enum Event {
    /// The stream being read has ended (the publisher left).
    StreamEnded,
    /// The writer stopped: the reason.
    WriterClosed(String),
}

pub(crate) type EventTx = mpsc::UnboundedSender<Event>;

/// Times are read here, in the IO shell, and passed down.
pub(crate) fn now() -> Instant {
    Instant::now()
}
