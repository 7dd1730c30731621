//! The shared UDP sockets: unicast RTP/RTCP on `rtp_port`/`rtcp_port` for every session, and multicast senders.
//!
//! Publishers over UDP send to our RTP port; we know them by source address, registered at RECORD. Readers'
//! RTCP receiver reports arrive on the RTCP port, keep their sessions alive, and are summed for the log line
//! that ends the reader.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use sluice_rtsp::rtcp::{self, ReportBlock, RtcpPacket};

use crate::hub::Stream;

/// When a session last showed signs of life (a request, an RTCP report, a media packet), and what a
/// reader's RTCP receiver reports said.
#[derive(Debug)]
pub struct Activity {
    base: Instant,
    last_ms: AtomicU64,
    /// The last report block per reported SSRC (one per track), bounded by [`MAX_REPORTED_SSRCS`].
    reports: Mutex<HashMap<u32, ReportBlock>>,
}

/// Most SSRCs whose report blocks a session keeps (a reader reports one per track).
const MAX_REPORTED_SSRCS: usize = 16;

/// What a reader's receiver reports said, summed over its tracks (RFC 3550 §6.4.1).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReaderReport {
    /// Tracks reported on.
    pub tracks: usize,
    /// Cumulative packets lost, as the reader counts them.
    pub lost: i64,
    /// Largest interarrival jitter, in RTP timestamp units of its track.
    pub jitter: u32,
}

impl Activity {
    /// Alive now.
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
            reports: Mutex::new(HashMap::new()),
        })
    }

    /// An RTCP compound packet from the reader: keeps the report blocks of its RR and SR packets.
    /// Anything unparseable is ignored (it still counted as a sign of life).
    pub fn on_rtcp(&self, packet: &[u8]) {
        let mut reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        for p in rtcp::parse_compound(packet) {
            let blocks = match p {
                Ok(RtcpPacket::ReceiverReport(rr)) => rr.reports,
                Ok(RtcpPacket::SenderReport(sr)) => sr.reports,
                _ => continue,
            };
            for block in blocks {
                if reports.len() < MAX_REPORTED_SSRCS || reports.contains_key(&block.ssrc) {
                    reports.insert(block.ssrc, block);
                }
            }
        }
    }

    /// The receiver reports so far, summed over tracks.
    pub fn reader_report(&self) -> ReaderReport {
        let reports = self.reports.lock().unwrap_or_else(|e| e.into_inner());
        ReaderReport {
            tracks: reports.len(),
            lost: reports.values().map(|b| i64::from(b.cumulative_lost)).sum(),
            jitter: reports.values().map(|b| b.jitter).max().unwrap_or(0),
        }
    }

    /// Marks the session alive at `now`.
    pub fn touch(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.base).as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Time since the last sign of life.
    pub fn idle(&self, now: Instant) -> Duration {
        let last = self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        now.saturating_duration_since(last)
    }
}

#[derive(Clone)]
enum Route {
    Publish {
        stream: Arc<Stream>,
        track: usize,
        activity: Arc<Activity>,
    },
    Report {
        activity: Arc<Activity>,
    },
}

/// The unicast socket pair and who is sending to it.
pub struct UdpPair {
    /// RTP socket (`rtp_port`).
    pub rtp: Arc<UdpSocket>,
    /// RTCP socket (`rtcp_port`).
    pub rtcp: Arc<UdpSocket>,
    rtp_routes: RwLock<HashMap<SocketAddr, Route>>,
    rtcp_routes: RwLock<HashMap<SocketAddr, Route>>,
}

/// Removes its routes when dropped.
pub struct RouteGuard {
    pair: Arc<UdpPair>,
    rtp: Vec<SocketAddr>,
    rtcp: Vec<SocketAddr>,
}

impl Drop for RouteGuard {
    fn drop(&mut self) {
        let mut m = self
            .pair
            .rtp_routes
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for a in &self.rtp {
            m.remove(a);
        }
        drop(m);
        let mut m = self
            .pair
            .rtcp_routes
            .write()
            .unwrap_or_else(|e| e.into_inner());
        for a in &self.rtcp {
            m.remove(a);
        }
    }
}

impl UdpPair {
    /// Binds both sockets on the listener's IP.
    pub async fn bind(
        ip: std::net::IpAddr,
        rtp_port: u16,
        rtcp_port: u16,
    ) -> io::Result<Arc<UdpPair>> {
        let rtp = bind_udp(SocketAddr::new(ip, rtp_port))?;
        let rtcp = bind_udp(SocketAddr::new(ip, rtcp_port))?;
        Ok(Arc::new(UdpPair {
            rtp: Arc::new(rtp),
            rtcp: Arc::new(rtcp),
            rtp_routes: RwLock::new(HashMap::new()),
            rtcp_routes: RwLock::new(HashMap::new()),
        }))
    }

    /// The port pair as `(rtp, rtcp)`.
    pub fn ports(&self) -> (u16, u16) {
        let p = |s: &UdpSocket| s.local_addr().map(|a| a.port()).unwrap_or(0);
        (p(&self.rtp), p(&self.rtcp))
    }

    /// Routes a publisher's tracks: `addrs[i]` = (RTP source, RTCP source) of stream track `tracks[i]`.
    pub fn route_publisher(
        self: &Arc<Self>,
        stream: &Arc<Stream>,
        addrs: &[(usize, SocketAddr, SocketAddr)],
        activity: &Arc<Activity>,
    ) -> RouteGuard {
        let mut g = RouteGuard {
            pair: self.clone(),
            rtp: vec![],
            rtcp: vec![],
        };
        let mut rtp = self.rtp_routes.write().unwrap_or_else(|e| e.into_inner());
        let mut rtcp = self.rtcp_routes.write().unwrap_or_else(|e| e.into_inner());
        for &(track, a, b) in addrs {
            rtp.insert(
                a,
                Route::Publish {
                    stream: stream.clone(),
                    track,
                    activity: activity.clone(),
                },
            );
            rtcp.insert(
                b,
                Route::Report {
                    activity: activity.clone(),
                },
            );
            g.rtp.push(a);
            g.rtcp.push(b);
        }
        g
    }

    /// Routes a reader's RTCP reports to its session.
    pub fn route_reader(
        self: &Arc<Self>,
        rtcp_sources: &[SocketAddr],
        activity: &Arc<Activity>,
    ) -> RouteGuard {
        let mut g = RouteGuard {
            pair: self.clone(),
            rtp: vec![],
            rtcp: vec![],
        };
        let mut rtcp = self.rtcp_routes.write().unwrap_or_else(|e| e.into_inner());
        for &a in rtcp_sources {
            rtcp.insert(
                a,
                Route::Report {
                    activity: activity.clone(),
                },
            );
            g.rtcp.push(a);
        }
        g
    }

    /// Receives on both sockets forever.
    pub async fn run(self: Arc<Self>) {
        let a = tokio::spawn(self.clone().recv_loop(true));
        let b = tokio::spawn(self.recv_loop(false));
        let _ = tokio::join!(a, b);
    }

    async fn recv_loop(self: Arc<Self>, is_rtp: bool) {
        const MAX_DATAGRAM: usize = 65_536;
        const CHUNK: usize = 512 * 1024;
        let socket = if is_rtp {
            self.rtp.clone()
        } else {
            self.rtcp.clone()
        };
        // Datagrams are received back to back into one large buffer and split off as `Bytes`, so a packet
        // costs no allocation of its own; a chunk is freed when the last packet in it is dropped.
        let mut buf = BytesMut::with_capacity(CHUNK);
        loop {
            if buf.capacity() - buf.len() < MAX_DATAGRAM {
                buf = BytesMut::with_capacity(CHUNK);
            }
            let (n, from) = match socket.recv_buf_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // ICMP errors from earlier sends surface here on some systems; they are not fatal.
                    debug!(error = %e, "udp receive error");
                    buf.clear();
                    continue;
                }
            };
            let data = buf.split_to(n).freeze();
            let routes = if is_rtp {
                &self.rtp_routes
            } else {
                &self.rtcp_routes
            };
            let route = routes
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&from)
                .cloned();
            let now = Instant::now();
            match route {
                Some(Route::Publish {
                    stream,
                    track,
                    activity,
                }) => {
                    activity.touch(now);
                    stream.publish(track, data);
                }
                Some(Route::Report { activity }) => {
                    activity.touch(now);
                    activity.on_rtcp(&data);
                }
                None => {}
            }
        }
    }
}

/// Binds a UDP socket with a large buffer, non-blocking, for tokio.
pub fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = s.set_recv_buffer_size(4 * 1024 * 1024);
    let _ = s.set_send_buffer_size(4 * 1024 * 1024);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

/// Multicast groups, one per path, taken from the configured block.
pub struct MulticastGroups {
    first: Ipv4Addr,
    size: u32,
    assigned: Mutex<HashMap<String, Ipv4Addr>>,
}

impl MulticastGroups {
    /// Groups from `first`, `size` addresses.
    pub fn new(first: Ipv4Addr, size: u32) -> MulticastGroups {
        MulticastGroups {
            first,
            size,
            assigned: Mutex::new(HashMap::new()),
        }
    }

    /// The group of a path, assigned on first use. `None` when the block is used up.
    pub fn group(&self, path: &str) -> Option<Ipv4Addr> {
        let mut m = self.assigned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = m.get(path) {
            return Some(*a);
        }
        // Skip the block's first address (often the network address) when the block is larger than one.
        let start = u32::from(self.size > 1);
        let n = m.len() as u32 + start;
        if n >= self.size {
            warn!(path, "multicast range exhausted");
            return None;
        }
        let a = Ipv4Addr::from(u32::from(self.first) + n);
        m.insert(path.to_string(), a);
        Some(a)
    }
}

/// A socket that sends to multicast groups.
pub fn multicast_sender(ttl: u8) -> io::Result<UdpSocket> {
    let s = bind_udp(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)))?;
    s.set_multicast_ttl_v4(u32::from(ttl))?;
    s.set_multicast_loop_v4(true)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use sluice_rtsp::rtcp::ReceiverReport;

    use super::*;

    fn rr(ssrc: u32, lost: i32, jitter: u32) -> BytesMut {
        let mut out = BytesMut::new();
        ReceiverReport {
            ssrc: 0xfeed,
            reports: vec![ReportBlock {
                ssrc,
                fraction_lost: 0,
                cumulative_lost: lost,
                highest_seq: 1000,
                jitter,
                last_sr: 0,
                delay_since_last_sr: 0,
            }],
        }
        .write(&mut out);
        out
    }

    #[test]
    fn receiver_reports_are_summed_over_tracks() {
        let a = Activity::new();
        assert_eq!(a.reader_report(), ReaderReport::default());
        a.on_rtcp(&rr(1, 3, 40));
        a.on_rtcp(&rr(2, 1, 900));
        a.on_rtcp(&rr(1, 5, 20)); // a newer report for track 1 replaces the old one
        a.on_rtcp(b"\x81\xc9\xff\xff junk");
        assert_eq!(
            a.reader_report(),
            ReaderReport {
                tracks: 2,
                lost: 6,
                jitter: 900
            }
        );
        // A flood of SSRCs is bounded.
        for ssrc in 10..1000 {
            a.on_rtcp(&rr(ssrc, 1, 0));
        }
        assert_eq!(a.reader_report().tracks, MAX_REPORTED_SSRCS);
    }
}
