//! Session lifetime and RTCP: a UDP reader without signs of life is dropped after the announced
//! timeout while one that sends keepalives stays; TCP readers get RTCP sender reports.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use sluice_rtsp::message::Method;
use sluice_testkit::client::Received;
use sluice_testkit::rtp::rtcp_packet_types;
use sluice_testkit::{RtspClient, Server, ServerOptions};

use common::BIN;

/// A UDP reader of the demo path: its RTSP connection and its RTP socket.
struct UdpReader {
    rtsp: RtspClient,
    rtp: UdpSocket,
    _rtcp: UdpSocket,
    base: String,
    session_header: String,
}

impl UdpReader {
    fn start(server: &Server) -> Result<UdpReader> {
        let (rtp, rtcp) = udp_pair()?;
        let mut rtsp = RtspClient::connect(server.addr())?;
        let description = rtsp.describe(&server.url("demo"))?;
        let track = description.tracks.first().context("no track")?;
        let transport = format!(
            "RTP/AVP;unicast;client_port={}-{}",
            rtp.local_addr()?.port(),
            rtcp.local_addr()?.port()
        );
        let response = rtsp.request_ok(
            Method::Setup,
            &track.control,
            &[("Transport", &transport)],
            &[],
        )?;
        let session_header = response
            .headers
            .get("Session")
            .context("SETUP answered without Session")?
            .to_owned();
        let id = session_header.split(';').next().unwrap_or_default().trim();
        rtsp.set_session(Some(id.to_owned()));
        rtsp.request_ok(Method::Play, &description.base, &[], &[])?;
        rtp.set_nonblocking(true)?;
        Ok(UdpReader {
            rtsp,
            rtp,
            _rtcp: rtcp,
            base: description.base,
            session_header,
        })
    }

    /// Datagrams that arrived since the last call (without waiting).
    fn drain(&self) -> u64 {
        let mut buf = [0u8; 2048];
        let mut n = 0;
        while self.rtp.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    }
}

/// Two UDP sockets on consecutive ports of 127.0.0.1, the first even.
fn udp_pair() -> Result<(UdpSocket, UdpSocket)> {
    for _ in 0..100 {
        let rtp = UdpSocket::bind("127.0.0.1:0")?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind(("127.0.0.1", port + 1)) {
            return Ok((rtp, rtcp));
        }
    }
    bail!("no free UDP port pair")
}

#[test]
fn silent_udp_reader_times_out_and_keepalives_keep_one_alive() -> Result<()> {
    let server = Server::start_with(
        BIN,
        ServerOptions {
            rtsp: "session_timeout = 2".into(),
            ..ServerOptions::default()
        },
    )?;
    let mut silent = UdpReader::start(&server)?;
    let mut kept = UdpReader::start(&server)?;
    ensure!(
        silent.session_header.contains("timeout=2"),
        "the Session header does not announce the timeout: {}",
        silent.session_header
    );
    let started = Instant::now();
    let (mut silent_early, mut silent_late, mut kept_late) = (0, 0, 0);
    let mut next_keepalive = started;
    while started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(200));
        if Instant::now() >= next_keepalive {
            let base = kept.base.clone();
            kept.rtsp
                .request_ok(Method::GetParameter, &base, &[], &[])?;
            next_keepalive += Duration::from_secs(1);
        }
        let (s, k) = (silent.drain(), kept.drain());
        if started.elapsed() < Duration::from_secs(1) {
            silent_early += s;
        } else if started.elapsed() > Duration::from_millis(3500) {
            silent_late += s;
            kept_late += k;
        }
    }
    ensure!(silent_early > 0, "the silent reader never got a packet");
    ensure!(
        silent_late == 0,
        "the silent reader still got {silent_late} packets after its 2 s timeout"
    );
    ensure!(
        kept_late > 0,
        "the reader sending GET_PARAMETER lost its stream"
    );
    match silent.rtsp.recv(Duration::from_secs(1))? {
        Received::Closed { .. } => {}
        other => bail!("the timed-out session's connection is still open: {other:?}"),
    }
    ensure!(
        server.log().contains("timed out"),
        "no log line says why the session ended"
    );
    server.finish()
}

/// RFC 3550 §6.4.1: readers get sender reports (every 5 s) on the RTCP channel.
#[test]
fn tcp_reader_gets_sender_reports() -> Result<()> {
    let server = common::server("")?;
    let (mut client, _) = RtspClient::open(&server.url("demo"))?;
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut rtp = 0;
    while Instant::now() < deadline {
        match client.recv(Duration::from_secs(1))? {
            Received::Packet(p) if p.channel == 1 => {
                let types = rtcp_packet_types(&p.data);
                ensure!(types.contains(&200), "RTCP without SR: {types:?}");
                ensure!(rtp > 0, "a sender report before any RTP");
                return server.finish();
            }
            Received::Packet(p) if p.channel == 0 => rtp += 1,
            Received::Packet(_) | Received::TimedOut => {}
            other => bail!("connection: {other:?}"),
        }
    }
    bail!("no sender report in 12 s ({rtp} RTP packets)")
}
