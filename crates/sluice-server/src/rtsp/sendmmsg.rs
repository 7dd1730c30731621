//! Batched UDP sending: a run of datagrams, each to its own address, in one `sendmmsg(2)` call.
//!
//! A UDP reader's batch mixes destinations: each track's RTP goes to its own port, and a multicast sender
//! sends every track to its own port of the group. So every message carries its address. On Linux a batch
//! of up to [`BATCH`] datagrams goes out in one `sendmmsg(2)`; elsewhere each datagram is one `send_to`.
//!
//! The call goes through rustix's `sendmmsg`, which takes the messages as a slice and returns how many went
//! out, so this module has no unsafe code. nix's `sendmmsg` (0.32) was the first choice but does not fit:
//! it reports the sent count only through an iterator that decodes every message as if it had been received,
//! reading address slots that a send never fills; and its preallocated `MultiHeaders` holds raw pointers, so
//! it is not `Send` and cannot be kept in a reader's task.
//!
//! The message headers live on the stack of one synchronous call (about 17 KiB for [`BATCH`] messages), so
//! sending allocates nothing, and nothing that a header points to is held across an `.await`.
//!
//! How `sendmmsg(2)` reports (Linux): it returns how many messages went out, and an error only when the
//! first message fails. A short count therefore means "go on with the rest": either the socket buffer is
//! full (the next call then waits for writability through tokio's readiness), or the next message fails
//! and the next call says why. An error belongs to the first message of the call: that datagram is dropped
//! and reported, and the ones after it still go. One reader with an unreachable address thus never holds
//! back another reader's packets on a shared socket.

use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;

#[cfg(any(target_os = "linux", test))]
use super::play::BATCH;

/// Sends `items` as UDP datagrams on `sock`, in order. `datagram` gives an item's payload and destination,
/// or `None` for an item that is not sent. A datagram the kernel refuses (too big, no route, an address of
/// the wrong family) is passed to `failed` with the error, and the rest are still sent.
pub(crate) async fn send_batch<T>(
    sock: &UdpSocket,
    items: &[T],
    datagram: impl Fn(&T) -> Option<(&[u8], SocketAddr)>,
    failed: impl FnMut(&T, SocketAddr, io::Error),
) {
    #[cfg(target_os = "linux")]
    linux::send_batch(sock, items, datagram, failed).await;
    #[cfg(not(target_os = "linux"))]
    send_each(sock, items, datagram, failed).await;
}

/// The portable way: one `send_to` per datagram.
#[cfg(any(not(target_os = "linux"), test))]
async fn send_each<T>(
    sock: &UdpSocket,
    items: &[T],
    datagram: impl Fn(&T) -> Option<(&[u8], SocketAddr)>,
    mut failed: impl FnMut(&T, SocketAddr, io::Error),
) {
    for item in items {
        if let Some((data, to)) = datagram(item) {
            if let Err(e) = sock.send_to(data, to).await {
                failed(item, to, e);
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::array;
    use std::io::{self, IoSlice};
    use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

    use rustix::net::{sendmmsg, MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny};
    use tokio::io::Interest;
    use tokio::net::UdpSocket;

    use super::BATCH;

    pub(super) async fn send_batch<T>(
        sock: &UdpSocket,
        items: &[T],
        datagram: impl Fn(&T) -> Option<(&[u8], SocketAddr)>,
        mut failed: impl FnMut(&T, SocketAddr, io::Error),
    ) {
        let mut rest = items;
        while let Some((first, tail)) = rest.split_first() {
            // Each call starts with a datagram, so that an error can only be this one's.
            let Some((_, to)) = datagram(first) else {
                rest = tail;
                continue;
            };
            // `async_io` retries the call once the socket is writable again when it fails with `EAGAIN`.
            match sock
                .async_io(Interest::WRITABLE, || send_run(sock, rest, &datagram))
                .await
            {
                Ok(sent) => rest = rest.get(sent..).unwrap_or_default(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed(first, to, e);
                    rest = tail;
                }
            }
        }
    }

    /// One `sendmmsg(2)` of the leading run of `items` that have a destination, at most [`BATCH`] of them.
    /// Returns how many went out, at least one.
    fn send_run<T>(
        sock: &UdpSocket,
        items: &[T],
        datagram: &impl Fn(&T) -> Option<(&[u8], SocketAddr)>,
    ) -> io::Result<usize> {
        const UNSET: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        let mut bufs = [[IoSlice::new(&[])]; BATCH];
        let mut dests = [UNSET; BATCH];
        let mut n = 0;
        for item in items.iter().take(BATCH) {
            let Some((data, to)) = datagram(item) else {
                break;
            };
            bufs[n] = [IoSlice::new(data)];
            dests[n] = to;
            n += 1;
        }
        let addrs = dests.map(SocketAddrAny::from);
        // Each message needs a control buffer of its own; none of them holds anything.
        let mut controls: [SendAncillaryBuffer<'_, '_, '_>; BATCH] =
            array::from_fn(|_| SendAncillaryBuffer::default());
        let mut i = 0;
        let mut msgs = controls.each_mut().map(|control| {
            let msg = MMsgHdr::new_with_addr(&addrs[i], &bufs[i][..], control);
            i += 1;
            msg
        });
        match sendmmsg(sock, &mut msgs[..n], SendFlags::empty())? {
            // Only when asked to send nothing, which the caller never does; an error rather than a loop.
            0 => Err(io::ErrorKind::WriteZero.into()),
            sent => Ok(sent.min(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

    use super::*;

    type Item = (Vec<u8>, Option<SocketAddr>);

    fn datagram(item: &Item) -> Option<(&[u8], SocketAddr)> {
        Some((&item.0[..], item.1?))
    }

    /// A datagram of `len` bytes that says which one it is.
    fn payload(index: usize, len: usize) -> Vec<u8> {
        let mut v: Vec<u8> = (0..len).map(|i| (i * 7 + index) as u8).collect();
        v[..2].copy_from_slice(&(index as u16).to_be_bytes());
        v
    }

    async fn receiver() -> (UdpSocket, SocketAddr) {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = sock.local_addr().unwrap();
        (sock, addr)
    }

    /// Everything `sock` has received, in order, until it stays quiet.
    async fn drain(sock: &UdpSocket) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok(Ok(n)) =
            tokio::time::timeout(std::time::Duration::from_millis(300), sock.recv(&mut buf)).await
        {
            got.push(buf[..n].to_vec());
        }
        got
    }

    /// More datagrams than one call takes, of many sizes, interleaved irregularly between two destinations,
    /// with an item that has no destination and two that the kernel refuses in the middle: each destination
    /// gets its datagrams intact and in order, and the refused ones are reported.
    async fn two_destinations(each: bool) {
        let sender = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let (a, a_addr) = receiver().await;
        let (b, b_addr) = receiver().await;
        // Too big for a UDP datagram, and an IPv6 address from an IPv4 socket.
        let too_big = 70_000;
        let wrong_family = SocketAddr::from((Ipv6Addr::LOCALHOST, a_addr.port()));
        let mut items: Vec<Item> = Vec::new();
        let (mut want_a, mut want_b) = (Vec::new(), Vec::new());
        for i in 0..100 {
            let len = 2 + (i * 131) % 1400;
            let data = payload(i, len);
            let to = match i {
                30 => None,
                41 => {
                    items.push((payload(i, too_big), Some(b_addr)));
                    continue;
                }
                77 => Some(wrong_family),
                _ if (i / 3) % 2 == 0 || i % 5 == 0 => {
                    want_a.push(data.clone());
                    Some(a_addr)
                }
                _ => {
                    want_b.push(data.clone());
                    Some(b_addr)
                }
            };
            items.push((data, to));
        }
        let mut refused = Vec::new();
        let failed = |item: &Item, to, e: io::Error| {
            refused.push((u16::from_be_bytes([item.0[0], item.0[1]]), to, e.kind()))
        };
        if each {
            send_each(&sender, &items, datagram, failed).await;
        } else {
            send_batch(&sender, &items, datagram, failed).await;
        }
        assert!(items.len() > BATCH);
        assert_eq!(drain(&a).await, want_a);
        assert_eq!(drain(&b).await, want_b);
        let refused: Vec<_> = refused.iter().map(|&(i, to, _)| (i, to)).collect();
        assert_eq!(refused, [(41, b_addr), (77, wrong_family)]);
    }

    #[tokio::test]
    async fn batch_reaches_each_destination_in_order() {
        two_destinations(false).await;
    }

    #[tokio::test]
    async fn portable_path_does_the_same() {
        two_destinations(true).await;
    }
}
