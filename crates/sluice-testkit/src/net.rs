//! Loopback networking for tests: free ports and the multicast route.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

/// Ports handed out by this process, so tests running in parallel never get the same one.
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// The multicast prefix routed to loopback for tests; server configs allocate groups inside it.
pub const MULTICAST_PREFIX: &str = "239.255.0.0/16";

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_tcp_port() -> Result<u16> {
    for _ in 0..64 {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        if claim(&[port]) {
            return Ok(port);
        }
    }
    bail!("no free TCP port found")
}

/// An even UDP port `p` such that `p` and `p + 1` were both free a moment ago (an RTP/RTCP pair).
pub fn free_udp_pair() -> Result<u16> {
    for _ in 0..256 {
        let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).context("binding UDP 0.0.0.0:0")?;
        let port = probe.local_addr()?.port() & !1;
        drop(probe);
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if port < 1024 {
            continue;
        }
        let both_free = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok_and(|a| {
            let b = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, next));
            drop(a);
            b.is_ok()
        });
        if both_free && claim(&[port, next]) {
            return Ok(port);
        }
    }
    bail!("no free even UDP port pair found")
}

fn claim(ports: &[u16]) -> bool {
    let mut taken = TAKEN.lock().unwrap_or_else(PoisonError::into_inner);
    let taken = taken.get_or_insert_with(HashSet::new);
    if ports.iter().any(|p| taken.contains(p)) {
        return false;
    }
    taken.extend(ports);
    true
}

/// Waits until `addr` accepts a TCP connection, up to `timeout`.
pub fn wait_for_tcp(addr: SocketAddr, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{addr} did not accept TCP connections within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Makes sure multicast to [`MULTICAST_PREFIX`] stays on the loopback interface.
///
/// Without such a route, multicast follows the default route out of the machine; tests must never
/// send traffic there, so this fails (saying what to run) rather than letting the test go ahead.
/// As root it adds the route itself (`ip route add 239.255.0.0/16 dev lo`).
pub fn ensure_multicast_route() -> Result<()> {
    if multicast_on_loopback()? {
        return Ok(());
    }
    if is_root() {
        let out = Command::new("ip")
            .args(["route", "add", MULTICAST_PREFIX, "dev", "lo"])
            .output()
            .context("running `ip route add` (install iproute2)")?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && !stderr.contains("File exists") {
            bail!(
                "`ip route add {MULTICAST_PREFIX} dev lo` failed: {}",
                stderr.trim()
            );
        }
    }
    if !multicast_on_loopback()? {
        bail!(
            "multicast to {MULTICAST_PREFIX} is not routed to loopback, so the multicast test cannot run \
             without sending traffic off this machine; as root run: ip route add {MULTICAST_PREFIX} dev lo"
        );
    }
    Ok(())
}

fn multicast_on_loopback() -> Result<bool> {
    let out = Command::new("ip")
        .args(["route", "get", "239.255.42.1"])
        .output()
        .context("running `ip route get` (install iproute2)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(out.status.success()
        && text
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w == ["dev", "lo"]))
}

/// True when this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_pairs_are_even_and_distinct() {
        let a = free_udp_pair().unwrap();
        let b = free_udp_pair().unwrap();
        assert_eq!(a % 2, 0);
        assert_eq!(b % 2, 0);
        assert_ne!(a, b);
    }

    #[test]
    fn tcp_ports_are_distinct() {
        let a = free_tcp_port().unwrap();
        let b = free_tcp_port().unwrap();
        assert_ne!(a, b);
    }
}
