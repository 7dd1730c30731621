//! Proxy paths (`source = "rtsp://…"`) against real and scripted cameras over loopback:
//!
//! - GStreamer's rtsp-server plays the camera with no auth, Basic and Digest; ffmpeg (TCP, UDP) and
//!   GStreamer's `rtspsrc` read it through Sluice.
//! - Wrong credentials: the path never gets a stream, the log says why and never shows the password.
//! - The camera is killed and restarted under its readers: one ffmpeg process keeps decoding, and a
//!   TCP reader sees unbroken RTP sequence numbers.
//! - A camera whose UDP never arrives: `transport = "auto"` falls back to TCP after
//!   `udp_fallback_after`.
//! - On demand: no camera session before the first reader; it closes `on_demand_close_after` after
//!   the last one leaves. A dead camera is retried with backoff while a reader waits, the reader is
//!   answered 404 after `on_demand_start_timeout`, and DESCRIBEs in a row do not each connect.
//!
//! Every test is bounded in time; the figures (time to first frame, fallback time) are printed.

mod common;

use std::fmt::Write as _;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context as _, Result};
use sluice_media::demo::DemoClip;
use sluice_media::h264::{Packetizer, DEFAULT_MTU};
use sluice_rtsp::codec::InterleavedFrame;
use sluice_rtsp::message::Method;
use sluice_testkit::camera::{GstAuth, GstCamera};
use sluice_testkit::client::Watcher;
use sluice_testkit::peer::{self, Peer};
use sluice_testkit::{ffmpeg, gst, net, RtspClient, RtspTransport, Server};

use common::{server, BIN};

/// Frames each reader must decode.
const FRAMES: u64 = 50;

/// Longest a reader may take for [`FRAMES`] frames (2 s of video) on a loaded machine.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest an always-on proxy path may take to connect to its camera.
const LIVE_TIMEOUT: Duration = Duration::from_secs(15);

/// A password the cameras refuse; it contains '@' so the URL must percent-encode it.
const WRONG_PASSWORD: &str = "wr@ng-pw";

/// The GStreamer camera's frame size (`scripts/gst_camera.py`).
const CAMERA_SIZE: (u32, u32) = (320, 240);

/// A `[paths.NAME]` table pulling `source`, with extra `key = value` lines.
fn proxy_path(name: &str, source: &str, keys: &str) -> String {
    format!("[paths.{name}]\nsource = \"{source}\"\n{keys}\n\n")
}

/// `s` percent-encoded the way a URL's userinfo carries it.
fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Fails if `text` contains `password`, as it is or percent-encoded.
fn assert_no_password(what: &str, text: &str, password: &str) -> Result<()> {
    for form in [password.to_owned(), percent_encode(password)] {
        ensure!(
            !text.contains(&form),
            "{what} shows the password {form:?}:\n{text}"
        );
    }
    Ok(())
}

/// The status of a DESCRIBE of `url` on a fresh connection.
fn describe_status(url: &str) -> Result<u16> {
    let mut client = RtspClient::connect_url(url)?;
    let response = client.request(Method::Describe, url, &[("Accept", "application/sdp")], &[])?;
    Ok(response.status.0)
}

/// Waits until `path` can be described (its camera is connected); returns how long that took.
fn wait_live(server: &Server, path: &str, timeout: Duration) -> Result<Duration> {
    let started = Instant::now();
    loop {
        server.check_running()?;
        if describe_status(&server.url(path)).ok() == Some(200) {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= timeout {
            bail!("path `{path}` not live after {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `done` every 20 ms until it holds or `timeout` passes; returns whether it held.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A line of `framemd5` output that describes a frame (not a `#` header).
fn is_frame_line(line: &str) -> bool {
    !line.starts_with('#') && line.split(',').count() >= 6
}

/// The pts column of a `framemd5` frame line.
fn frame_pts(line: &str) -> Option<i64> {
    line.split(',').nth(2)?.trim().parse().ok()
}

/// Runs `check` on a thread named `name`; the result carries the name.
fn reader(
    name: &'static str,
    check: impl FnOnce() -> Result<String> + Send + 'static,
) -> (&'static str, JoinHandle<Result<String>>) {
    (name, std::thread::spawn(check))
}

/// Reads `url` at once with ffmpeg over TCP, ffmpeg over UDP and GStreamer's `rtspsrc` over UDP;
/// each must decode [`FRAMES`] frames of the camera's size without an error.
fn read_through(url: &str) -> Result<()> {
    let ffmpeg_reader = |transport: RtspTransport| {
        let url = url.to_owned();
        move || -> Result<String> {
            let report = ffmpeg::read_frames(&url, transport, FRAMES, READ_TIMEOUT)?;
            ensure!(report.frames >= FRAMES, "too few frames: {report}");
            ensure!(report.errors.is_empty(), "decoding errors: {report}");
            ensure!(
                report.status.is_some_and(|s| s.success()),
                "ffmpeg failed: {report}"
            );
            ensure!(
                report.dimensions == Some(CAMERA_SIZE),
                "wrong size: {report}"
            );
            Ok(report.to_string())
        }
    };
    let gst_url = url.to_owned();
    let readers = [
        reader("ffmpeg/tcp", ffmpeg_reader(RtspTransport::Tcp)),
        reader("ffmpeg/udp", ffmpeg_reader(RtspTransport::Udp)),
        reader("gstreamer/udp", move || {
            let report = gst::read_h264(&gst_url, RtspTransport::Udp, FRAMES, READ_TIMEOUT)?;
            ensure!(report.decoded(FRAMES), "too few buffers: {report}");
            Ok(report.to_string())
        }),
    ];
    let mut failures = String::new();
    for (name, handle) in readers {
        match handle.join() {
            Ok(Ok(summary)) => println!("{name}: {summary}"),
            Ok(Err(e)) => {
                let _ = writeln!(failures, "{name}: {e:#}");
            }
            Err(_) => {
                let _ = writeln!(failures, "{name}: reader thread panicked");
            }
        }
    }
    ensure!(failures.is_empty(), "readers of {url} failed:\n{failures}");
    Ok(())
}

/// The GStreamer camera behind `auth`, proxied by an always-on path, read by three readers.
fn proxies_gstreamer_camera(auth: GstAuth) -> Result<()> {
    let camera = GstCamera::start(auth)?;
    let source = match auth {
        GstAuth::None => camera.url(),
        _ => camera.authorized_url(),
    };
    let server = server(&proxy_path("cam", &source, ""))?;
    let live = wait_live(&server, "cam", LIVE_TIMEOUT)
        .with_context(|| format!("camera log:\n{}", camera.log_tail()))?;
    println!("{auth:?}: proxy path live {live:.1?} after the server started");
    read_through(&server.url("cam"))?;
    let log = server.log();
    ensure!(
        log.contains("camera connected"),
        "no `camera connected` line in the log:\n{log}"
    );
    assert_no_password("the server log", &log, GstCamera::PASSWORD)?;
    server.finish()
}

#[test]
fn proxies_a_camera_without_auth() -> Result<()> {
    proxies_gstreamer_camera(GstAuth::None)
}

#[test]
fn proxies_a_camera_with_basic_auth() -> Result<()> {
    proxies_gstreamer_camera(GstAuth::Basic)
}

#[test]
fn proxies_a_camera_with_digest_auth() -> Result<()> {
    proxies_gstreamer_camera(GstAuth::Digest)
}

/// Lines of `log` that report refused credentials for the camera at `camera_url`.
fn refusals(log: &str, camera_url: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("credentials refused") && l.contains(camera_url))
        .count()
}

#[test]
fn wrong_password_never_streams_and_never_shows_in_the_log() -> Result<()> {
    let basic = GstCamera::start(GstAuth::Basic)?;
    let digest = GstCamera::start(GstAuth::Digest)?;
    let keys = "reconnect_min = 0.3\nreconnect_max = 0.6";
    let extra = proxy_path(
        "basic",
        &basic.url_with(GstCamera::USER, WRONG_PASSWORD),
        keys,
    ) + &proxy_path(
        "digest",
        &digest.url_with(GstCamera::USER, WRONG_PASSWORD),
        keys,
    );
    let server = server(&extra)?;
    // Each source is refused, backs off and is refused again.
    let refused = wait_until(Duration::from_secs(15), || {
        let log = server.log();
        refusals(&log, &basic.url()) >= 2 && refusals(&log, &digest.url()) >= 2
    });
    let log = server.log();
    ensure!(
        refused,
        "the log does not say (twice per camera) that the camera refused the credentials:\n{log}"
    );
    for path in ["basic", "digest"] {
        let status = describe_status(&server.url(path))?;
        ensure!(
            status == 503,
            "DESCRIBE of `{path}` answered {status}, expected 503 (camera not connected)"
        );
    }
    let log = server.log();
    ensure!(
        !log.contains("camera connected"),
        "a camera with a wrong password connected:\n{log}"
    );
    assert_no_password("the server log", &log, WRONG_PASSWORD)?;

    // `sluice probe` says the same, with exit status 2, at debug level without the password.
    let mut cmd = Command::new(BIN);
    cmd.env("RUST_LOG", "debug")
        .args(["probe", "--seconds", "1"])
        .arg(basic.url_with(GstCamera::USER, WRONG_PASSWORD));
    let probe = peer::run(cmd, Duration::from_secs(20))?;
    let output = probe
        .stdout
        .iter()
        .chain(&probe.stderr)
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    println!("sluice probe with a wrong password:\n{output}");
    ensure!(
        probe.status.and_then(|s| s.code()) == Some(2),
        "probe exit {:?}, expected 2:\n{output}",
        probe.status
    );
    ensure!(
        output.contains("credentials refused"),
        "probe does not say the credentials were refused:\n{output}"
    );
    assert_no_password("sluice probe's output", &output, WRONG_PASSWORD)?;
    server.finish()
}

/// The test kit's GStreamer camera on a fixed port, so it can be restarted where it was.
struct PinnedCamera {
    port: u16,
    peer: Peer,
}

impl PinnedCamera {
    fn start(port: u16) -> Result<PinnedCamera> {
        let script = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sluice-testkit/scripts/gst_camera.py"
        ));
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&script).args([
            "--port",
            &port.to_string(),
            "--path",
            "/cam",
            "--auth",
            "none",
        ]);
        let mut peer = Peer::spawn(cmd)?;
        let ready = wait_until(Duration::from_secs(15), || {
            peer.stdout_lines().iter().any(|l| l.text == "ready")
                || peer.try_status().ok().flatten().is_some()
        });
        if !ready || !peer.stdout_lines().iter().any(|l| l.text == "ready") {
            peer.kill();
            bail!(
                "gst_camera.py did not start on port {port}:\n{}",
                peer.stderr_tail(20)
            );
        }
        net::wait_for_tcp(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Duration::from_secs(5),
        )?;
        Ok(PinnedCamera { port, peer })
    }

    fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam", self.port)
    }
}

#[test]
fn readers_stay_attached_across_a_camera_restart() -> Result<()> {
    let port = net::free_tcp_port()?;
    let mut camera = PinnedCamera::start(port)?;
    let keys = "reconnect_min = 0.2\nreconnect_max = 1.0";
    let server = server(&proxy_path("cam", &camera.url(), keys))?;
    wait_live(&server, "cam", LIVE_TIMEOUT)?;
    let url = server.url("cam");

    // Packets may pause while the camera is away, never longer than this.
    let watcher = Watcher::start(&url, Duration::from_secs(8))?;
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-v", "error"])
        .args(["-rtsp_transport", "tcp", "-timeout", "10000000"])
        .args(["-i", &url])
        .args([
            "-map",
            "0:v:0",
            "-flush_packets",
            "1",
            "-f",
            "framemd5",
            "pipe:1",
        ]);
    let mut reader = Peer::spawn(cmd)?;
    let frames_after = |reader: &Peer, after: Duration| {
        reader
            .stdout_lines()
            .iter()
            .filter(|l| l.at > after && is_frame_line(&l.text))
            .count()
    };

    let before = wait_until(Duration::from_secs(15), || {
        frames_after(&reader, Duration::ZERO) >= 75
    });
    ensure!(
        before,
        "ffmpeg decoded {} frames before the restart:\n{}",
        frames_after(&reader, Duration::ZERO),
        reader.stderr_tail(20)
    );

    let killed_at = reader.started().elapsed();
    camera.peer.kill();
    std::thread::sleep(Duration::from_millis(300));
    camera = PinnedCamera::start(port)?;
    let restarted_at = reader.started().elapsed();
    println!(
        "camera killed at {killed_at:.2?} and listening again at {restarted_at:.2?} (ffmpeg's clock)"
    );

    // 4 s of video after the camera came back, from the same ffmpeg session.
    let after = wait_until(Duration::from_secs(20), || {
        frames_after(&reader, restarted_at) >= 100
    });
    let reader_exit = reader.try_status()?;
    reader.kill();
    let tracker = watcher.finish();

    let lines = reader.stdout_lines();
    let frames: Vec<_> = lines.iter().filter(|l| is_frame_line(&l.text)).collect();
    let longest_pause = frames
        .windows(2)
        .map(|w| w[1].at.saturating_sub(w[0].at))
        .max()
        .unwrap_or_default();
    println!(
        "ffmpeg: {} frames, {} after the restart, longest pause between frames {longest_pause:.2?}",
        frames.len(),
        frames_after(&reader, restarted_at)
    );
    ensure!(
        after,
        "ffmpeg decoded {} frames after the camera came back (exit {reader_exit:?}):\n{}",
        frames_after(&reader, restarted_at),
        reader.stderr_tail(20)
    );
    ensure!(
        reader_exit.is_none(),
        "ffmpeg exited ({reader_exit:?}) instead of reading on:\n{}",
        reader.stderr_tail(20)
    );
    let errors = reader.stderr_lines();
    ensure!(
        errors.is_empty(),
        "ffmpeg reported errors:\n{}",
        reader.stderr_tail(30)
    );
    // The timestamps continue: no frame goes back in time.
    let pts: Vec<i64> = frames.iter().filter_map(|l| frame_pts(&l.text)).collect();
    let backwards = pts.windows(2).filter(|w| w[1] <= w[0]).count();
    ensure!(
        backwards == 0,
        "{backwards} frames did not advance the pts (of {})",
        pts.len()
    );

    let tracker = tracker.context("the TCP reader through the restart")?;
    println!(
        "TCP reader: {} RTP packets, {} gaps, {} missing",
        tracker.total_packets(),
        tracker.total_gaps(),
        tracker.streams().map(|(_, s)| s.missing).sum::<u64>()
    );
    ensure!(tracker.total_packets() > 0, "the TCP reader got nothing");
    ensure!(
        tracker.total_gaps() == 0,
        "RTP sequence numbers broke across the restart: {:?}",
        tracker.streams().collect::<Vec<_>>()
    );
    let log = server.log();
    ensure!(
        log.contains("resumed"),
        "the log does not say the stream resumed:\n{log}"
    );
    drop(camera);
    server.finish()
}

/// What the scripted camera saw and did, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CameraEvent {
    Connected,
    Setup { tcp: bool },
    Play { tcp: bool },
    FirstTcpPacket,
    Teardown,
    Closed,
}

type Events = Arc<Mutex<Vec<(Instant, CameraEvent)>>>;

/// A camera that accepts `SETUP` over UDP and then never sends a packet there, and over TCP
/// interleaved streams the demo clip in real time (looped).
struct UdpSilentCamera {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    events: Events,
    thread: Option<JoinHandle<()>>,
}

impl UdpSilentCamera {
    fn start() -> Result<UdpSilentCamera> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let events: Events = Arc::default();
        let (stop2, events2) = (Arc::clone(&stop), Arc::clone(&events));
        let thread = std::thread::spawn(move || {
            let mut connections = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (stop, events) = (Arc::clone(&stop2), Arc::clone(&events2));
                        connections.push(std::thread::spawn(move || {
                            record(&events, CameraEvent::Connected);
                            // A connection the client breaks ends here; the test reads the events.
                            let _ = serve_camera_connection(stream, addr, &stop, &events);
                            record(&events, CameraEvent::Closed);
                        }));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
            for c in connections {
                let _ = c.join();
            }
        });
        Ok(UdpSilentCamera {
            addr,
            stop,
            events,
            thread: Some(thread),
        })
    }

    fn url(&self) -> String {
        format!("rtsp://{}/cam", self.addr)
    }

    fn events(&self) -> Vec<(Instant, CameraEvent)> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// When `event` first happened.
    fn first(&self, event: CameraEvent) -> Option<Instant> {
        self.events()
            .into_iter()
            .find(|(_, e)| *e == event)
            .map(|(at, _)| at)
    }
}

impl Drop for UdpSilentCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn record(events: &Events, event: CameraEvent) {
    events
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((Instant::now(), event));
}

/// A request from the client: method, URI and headers.
struct CameraRequest {
    method: String,
    headers: Vec<(String, String)>,
}

impl CameraRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Takes the next whole request off `buf`, skipping interleaved frames (the client's RTCP).
fn take_request(buf: &mut Vec<u8>) -> Option<CameraRequest> {
    loop {
        if buf.first() == Some(&b'$') {
            let len = usize::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]));
            if buf.len() < 4 + len {
                return None;
            }
            buf.drain(..4 + len);
            continue;
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(buf.get(..end)?).into_owned();
        let mut lines = head.split("\r\n");
        let method = lines.next()?.split_whitespace().next()?.to_owned();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let request = CameraRequest { method, headers };
        let body = request
            .header("Content-Length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() < end + 4 + body {
            return None;
        }
        buf.drain(..end + 4 + body);
        return Some(request);
    }
}

/// `a-b` in `key=a-b` of a Transport header.
fn port_pair(transport: &str, key: &str) -> Option<(u16, u16)> {
    let value = transport
        .split(';')
        .find_map(|p| p.trim().strip_prefix(key)?.strip_prefix('='))?;
    let (a, b) = value.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn serve_camera_connection(
    mut stream: TcpStream,
    addr: SocketAddr,
    stop: &AtomicBool,
    events: &Events,
) -> Result<()> {
    stream.set_read_timeout(Some(Duration::from_millis(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    stream.set_nodelay(true)?;
    let clip = DemoClip::builtin();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=UDP-silent camera\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
         a=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 {}\r\n\
         a=control:trackID=0\r\n",
        clip.fmtp()
    );
    // The UDP ports announced in `server_port`; nothing is ever sent from them.
    let udp_rtp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let udp_rtcp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    let server_ports = (udp_rtp.local_addr()?.port(), udp_rtcp.local_addr()?.port());

    let mut buf = Vec::new();
    let mut channel: Option<u8> = None;
    let mut streaming = false;
    let mut packetizer = Packetizer::new(96, 0x5eed_cafe, 4000, DEFAULT_MTU);
    let mut frame = 0usize;
    let mut timestamp = 0u32;
    let mut next_frame = Instant::now();
    let mut sent_any = false;
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(e.into()),
        }
        while let Some(request) = take_request(&mut buf) {
            let cseq = request.header("CSeq").unwrap_or("0").to_owned();
            let mut headers = vec![("CSeq".to_owned(), cseq)];
            let mut body = String::new();
            let mut status = "200 OK";
            match request.method.as_str() {
                "OPTIONS" => headers.push((
                    "Public".into(),
                    "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER".into(),
                )),
                "DESCRIBE" => {
                    headers.push(("Content-Base".into(), format!("rtsp://{addr}/cam/")));
                    headers.push(("Content-Type".into(), "application/sdp".into()));
                    body = sdp.clone();
                }
                "SETUP" => {
                    let asked = request.header("Transport").unwrap_or_default().to_owned();
                    let tcp = asked.contains("/TCP") || asked.contains("interleaved=");
                    record(events, CameraEvent::Setup { tcp });
                    let transport = if tcp {
                        let (a, b) = port_pair(&asked, "interleaved").unwrap_or((0, 1));
                        channel = u8::try_from(a).ok();
                        format!("RTP/AVP/TCP;unicast;interleaved={a}-{b}")
                    } else {
                        match port_pair(&asked, "client_port") {
                            Some((a, b)) => format!(
                                "RTP/AVP;unicast;client_port={a}-{b};server_port={}-{}",
                                server_ports.0, server_ports.1
                            ),
                            None => {
                                status = "461 Unsupported Transport";
                                String::new()
                            }
                        }
                    };
                    if !transport.is_empty() {
                        headers.push(("Transport".into(), transport));
                    }
                    headers.push(("Session".into(), "5eedcafe;timeout=60".into()));
                }
                "PLAY" => {
                    let tcp = channel.is_some();
                    record(events, CameraEvent::Play { tcp });
                    headers.push(("Session".into(), "5eedcafe".into()));
                    streaming = tcp;
                    next_frame = Instant::now();
                }
                "TEARDOWN" => {
                    record(events, CameraEvent::Teardown);
                    streaming = false;
                }
                "GET_PARAMETER" | "SET_PARAMETER" => {}
                _ => status = "501 Not Implemented",
            }
            let mut text = format!("RTSP/1.0 {status}\r\n");
            for (name, value) in &headers {
                let _ = write!(text, "{name}: {value}\r\n");
            }
            if !body.is_empty() {
                let _ = write!(text, "Content-Length: {}\r\n", body.len());
            }
            text.push_str("\r\n");
            text.push_str(&body);
            stream.write_all(text.as_bytes())?;
        }
        if let (true, Some(channel)) = (streaming, channel) {
            while Instant::now() >= next_frame {
                let unit = clip
                    .frames
                    .get(frame % clip.frames.len().max(1))
                    .ok_or_else(|| anyhow!("the demo clip has no frames"))?;
                let nals: Vec<&[u8]> = unit.nals.iter().map(|n| n.as_ref()).collect();
                packetizer.packetize(&nals, timestamp, &mut out);
                for packet in out.drain(..) {
                    let len = u16::try_from(packet.len())?;
                    stream.write_all(&InterleavedFrame::header(channel, len))?;
                    stream.write_all(&packet)?;
                }
                if !sent_any {
                    sent_any = true;
                    record(events, CameraEvent::FirstTcpPacket);
                }
                frame += 1;
                timestamp = timestamp.wrapping_add(clip.frame_duration_90k());
                next_frame += Duration::from_micros(1_000_000 / u64::from(clip.frame_rate.max(1)));
            }
        }
    }
    Ok(())
}

#[test]
fn silent_udp_falls_back_to_tcp() -> Result<()> {
    const FALLBACK_AFTER: f64 = 1.0;
    let camera = UdpSilentCamera::start()?;
    let keys =
        format!("on_demand = true\ntransport = \"auto\"\nudp_fallback_after = {FALLBACK_AFTER}");
    let server = server(&proxy_path("cam", &camera.url(), &keys))?;
    // On demand: the reader's wait includes the whole UDP attempt and the fallback.
    let report = ffmpeg::read_frames(
        &server.url("cam"),
        RtspTransport::Tcp,
        25,
        Duration::from_secs(20),
    )?;
    println!("{report}");
    let events = camera.events();
    let udp_play = camera.first(CameraEvent::Play { tcp: false });
    let tcp_setup = camera.first(CameraEvent::Setup { tcp: true });
    let tcp_media = camera.first(CameraEvent::FirstTcpPacket);
    let (Some(udp_play), Some(tcp_setup), Some(tcp_media)) = (udp_play, tcp_setup, tcp_media)
    else {
        bail!("expected a UDP PLAY, then a TCP SETUP and TCP media; the camera saw {events:?}");
    };
    ensure!(
        camera.first(CameraEvent::Setup { tcp: false }) < Some(tcp_setup),
        "the first SETUP was not over UDP: {events:?}"
    );
    let fallback = tcp_setup.saturating_duration_since(udp_play);
    let to_media = tcp_media.saturating_duration_since(udp_play);
    println!(
        "udp_fallback_after = {FALLBACK_AFTER} s: TCP SETUP {fallback:.2?} after the UDP PLAY, \
         TCP media after {to_media:.2?}; reader's first frame {:.2?} after it started",
        report.first_frame_after.unwrap_or_default()
    );
    ensure!(
        report.frames >= 25 && report.status.is_some_and(|s| s.success()),
        "the reader did not get its frames: {report}"
    );
    let limit = Duration::from_secs_f64(FALLBACK_AFTER);
    ensure!(
        fallback >= limit.mul_f64(0.9) && fallback <= limit + Duration::from_millis(1500),
        "fell back {fallback:?} after the UDP PLAY, expected about {limit:?}"
    );
    let first = report
        .first_frame_after
        .ok_or_else(|| anyhow!("no frame: {report}"))?;
    ensure!(
        first <= limit + Duration::from_millis(2500),
        "first frame {first:?} after the reader started, expected {limit:?} plus a margin"
    );
    server.finish()
}

/// What a [`Relay`] saw.
#[derive(Default)]
struct RelayStats {
    accepted: AtomicUsize,
    open: AtomicUsize,
    teardowns: Mutex<Vec<Instant>>,
    closed: Mutex<Vec<Instant>>,
}

/// A TCP relay in front of a camera that counts the connections made to it, notes when they close
/// and spots `TEARDOWN` requests in the client's bytes.
struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stats: Arc<RelayStats>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    fn start(upstream: SocketAddr) -> Result<Relay> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(RelayStats::default());
        let (stop2, stats2) = (Arc::clone(&stop), Arc::clone(&stats));
        let thread = std::thread::spawn(move || {
            let mut pipes = Vec::new();
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        stats2.accepted.fetch_add(1, Ordering::Relaxed);
                        stats2.open.fetch_add(1, Ordering::Relaxed);
                        let (stop, stats) = (Arc::clone(&stop2), Arc::clone(&stats2));
                        pipes.push(std::thread::spawn(move || {
                            let _ = relay_connection(client, upstream, &stop, &stats);
                            stats.open.fetch_sub(1, Ordering::Relaxed);
                            stats
                                .closed
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(Instant::now());
                        }));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
            for p in pipes {
                let _ = p.join();
            }
        });
        Ok(Relay {
            addr,
            stop,
            stats,
            thread: Some(thread),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("rtsp://{}/{path}", self.addr)
    }

    fn accepted(&self) -> usize {
        self.stats.accepted.load(Ordering::Relaxed)
    }

    fn open(&self) -> usize {
        self.stats.open.load(Ordering::Relaxed)
    }

    fn last_teardown(&self) -> Option<Instant> {
        self.stats
            .teardowns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .copied()
    }

    fn last_close(&self) -> Option<Instant> {
        self.stats
            .closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .copied()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Copies both ways until either side closes; notes `TEARDOWN`s sent to the camera.
fn relay_connection(
    client: TcpStream,
    upstream: SocketAddr,
    stop: &AtomicBool,
    stats: &RelayStats,
) -> Result<()> {
    let camera = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    let done = Arc::new(AtomicBool::new(false));
    let back = {
        let (mut from, mut to) = (camera.try_clone()?, client.try_clone()?);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
            let mut chunk = [0u8; 16 * 1024];
            while !done.load(Ordering::Relaxed) {
                match from.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => {
                        if to.write_all(chunk.get(..n).unwrap_or_default()).is_err() {
                            break;
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    let (mut from, mut to) = (client.try_clone()?, camera.try_clone()?);
    from.set_read_timeout(Some(Duration::from_millis(50)))?;
    let mut chunk = [0u8; 16 * 1024];
    // The end of the previous chunk, so a request line split across reads is still seen.
    let mut tail: Vec<u8> = Vec::new();
    while !done.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
        match from.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let data = chunk.get(..n).unwrap_or_default();
                tail.extend_from_slice(data);
                if tail.windows(9).any(|w| w == b"TEARDOWN ") {
                    stats
                        .teardowns
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(Instant::now());
                    tail.clear();
                }
                let keep = tail.len().saturating_sub(8);
                tail.drain(..keep);
                if to.write_all(data).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = client.shutdown(Shutdown::Both);
    let _ = camera.shutdown(Shutdown::Both);
    let _ = back.join();
    Ok(())
}

#[test]
fn on_demand_connects_for_the_first_reader_and_closes_when_idle() -> Result<()> {
    const CLOSE_AFTER: f64 = 1.0;
    let camera = GstCamera::start(GstAuth::None)?;
    let camera_addr = sluice_testkit::client::url_addr(&camera.url())?;
    let relay = Relay::start(camera_addr)?;
    let extra = proxy_path(
        "ondemand",
        &relay.url("cam"),
        &format!("on_demand = true\non_demand_close_after = {CLOSE_AFTER}\ntransport = \"tcp\""),
    ) + &proxy_path("always", &camera.url(), "transport = \"tcp\"");
    let server = server(&extra)?;
    let started = Instant::now();
    wait_live(&server, "always", LIVE_TIMEOUT)?;
    // Long enough for an always-on source to have connected, and for the always-on path to hold a
    // whole GOP (the camera sends a keyframe every second).
    std::thread::sleep(Duration::from_secs(2).saturating_sub(started.elapsed()));
    std::thread::sleep(Duration::from_millis(1200));
    ensure!(
        relay.accepted() == 0,
        "the on-demand camera was connected before any reader ({} connections)",
        relay.accepted()
    );

    let always = ffmpeg::read_frames(
        &server.url("always"),
        RtspTransport::Tcp,
        25,
        Duration::from_secs(20),
    )?;
    println!("always-on: {always}");
    let on_demand = ffmpeg::read_frames(
        &server.url("ondemand"),
        RtspTransport::Tcp,
        25,
        Duration::from_secs(20),
    )?;
    let reader_left = Instant::now();
    println!("on demand: {on_demand}");
    for report in [&always, &on_demand] {
        ensure!(
            report.frames >= 25 && report.status.is_some_and(|s| s.success()),
            "a reader failed: {report}"
        );
    }
    let (Some(always_first), Some(on_demand_first)) =
        (always.first_frame_after, on_demand.first_frame_after)
    else {
        bail!("no first frame time");
    };
    println!(
        "time to first decoded frame (ffmpeg, from spawn): always-on {always_first:.2?}, \
         on demand {on_demand_first:.2?}"
    );
    ensure!(
        relay.accepted() == 1,
        "the on-demand camera saw {} connections for one reader",
        relay.accepted()
    );

    // The reader has left: after on_demand_close_after the camera session ends.
    let closed = wait_until(Duration::from_secs(8), || relay.open() == 0);
    let close = relay.last_close();
    let teardown = relay.last_teardown();
    ensure!(
        closed,
        "the on-demand camera session was still open 8 s after the last reader left\n{}",
        server.log_tail(20)
    );
    let close_after = close
        .map(|c| c.saturating_duration_since(reader_left))
        .unwrap_or_default();
    println!(
        "on-demand camera session closed {close_after:.2?} after the reader left \
         (on_demand_close_after = {CLOSE_AFTER} s; TEARDOWN sent: {})",
        teardown.is_some()
    );
    ensure!(
        close_after >= Duration::from_secs_f64(CLOSE_AFTER * 0.8),
        "the camera session closed {close_after:?} after the reader left, before \
         on_demand_close_after"
    );

    // The next reader wakes the camera again.
    let again = ffmpeg::read_frames(
        &server.url("ondemand"),
        RtspTransport::Tcp,
        10,
        Duration::from_secs(20),
    )?;
    println!("on demand, second reader: {again}");
    ensure!(
        again.frames >= 10 && again.status.is_some_and(|s| s.success()),
        "the second reader failed: {again}"
    );
    ensure!(
        relay.accepted() == 2,
        "expected a second camera connection, saw {}",
        relay.accepted()
    );
    server.finish()
}

/// Lines of `log` saying that the camera session of `path` failed.
fn failed_sessions(log: &str, path: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("camera session failed") && l.contains(&format!("path=\"{path}\"")))
        .count()
}

/// On demand, a camera that is not there (a closed loopback port): while a reader waits the source
/// retries with backoff, the reader is answered 404 after `on_demand_start_timeout`, then the source
/// waits for the next reader; DESCRIBEs in quick succession do not each connect to the dead camera.
#[test]
fn on_demand_dead_camera_backs_off_while_readers_wait() -> Result<()> {
    const START_TIMEOUT: f64 = 2.5;
    let port = net::free_tcp_port()?;
    let dead = format!("rtsp://127.0.0.1:{port}/cam");
    let extra = proxy_path(
        "waited",
        &dead,
        &format!(
            "on_demand = true\non_demand_start_timeout = {START_TIMEOUT}\n\
             reconnect_min = 0.4\nreconnect_max = 0.8\ntransport = \"tcp\""
        ),
    ) + &proxy_path(
        "hammered",
        &dead,
        "on_demand = true\non_demand_start_timeout = 0.2\n\
         reconnect_min = 2.0\nreconnect_max = 2.0\ntransport = \"tcp\"",
    );
    let server = server(&extra)?;
    std::thread::sleep(Duration::from_millis(500));
    ensure!(
        failed_sessions(&server.log(), "waited") == 0,
        "the on-demand camera was tried before any reader:\n{}",
        server.log()
    );

    // One reader: the source retries (0 s, then after 0.2–0.4 s, 0.4–0.8 s, …) while it waits.
    let asked = Instant::now();
    let status = describe_status(&server.url("waited"))?;
    let waited = asked.elapsed();
    let tries = failed_sessions(&server.log(), "waited");
    println!("DESCRIBE of a dead on-demand camera: {status} after {waited:.2?}, {tries} attempts");
    ensure!(
        status == 503,
        "DESCRIBE answered {status}, expected 503 (the source failed)"
    );
    ensure!(
        waited >= Duration::from_secs_f64(START_TIMEOUT * 0.8)
            && waited < Duration::from_secs_f64(START_TIMEOUT + 5.0),
        "the reader was answered after {waited:?}, not after on_demand_start_timeout \
         ({START_TIMEOUT} s)"
    );
    ensure!(
        tries >= 3,
        "only {tries} connection attempts while a reader waited {waited:?}:\n{}",
        server.log_tail(30)
    );

    // Nobody waits any more: after the last backoff delay the source stops trying.
    std::thread::sleep(Duration::from_millis(1500));
    let settled = failed_sessions(&server.log(), "waited");
    std::thread::sleep(Duration::from_millis(1500));
    let later = failed_sessions(&server.log(), "waited");
    ensure!(
        later == settled,
        "the source went on connecting with no reader ({settled} then {later} attempts):\n{}",
        server.log_tail(30)
    );

    // Eight readers in a row, each giving up after 0.2 s: one attempt, then one per backoff delay
    // (1–2 s), not one per DESCRIBE.
    let started = Instant::now();
    for _ in 0..8 {
        let status = describe_status(&server.url("hammered"))?;
        ensure!(status == 503, "DESCRIBE answered {status}, expected 503");
    }
    let spent = started.elapsed();
    let tries = failed_sessions(&server.log(), "hammered");
    println!("8 DESCRIBEs in {spent:.2?}: {tries} attempts");
    let allowed = 2 + (spent.as_secs_f64() / 1.0) as usize;
    ensure!(
        (1..=allowed.min(7)).contains(&tries),
        "{tries} connection attempts for 8 DESCRIBEs in {spent:?} (backoff 1–2 s):\n{}",
        server.log_tail(30)
    );
    let log = server.log();
    ensure!(
        log.contains("backing off"),
        "the log does not say the source backs off:\n{log}"
    );
    server.finish()
}

/// An on-demand camera that refuses the credentials: the reader is told at once (503 with the
/// reason), not after on_demand_start_timeout, and the password is never in the answer.
#[test]
fn on_demand_camera_refusing_credentials_answers_the_reader_at_once() -> Result<()> {
    let camera = GstCamera::start(GstAuth::Digest)?;
    let extra = proxy_path(
        "locked",
        &camera.url_with(GstCamera::USER, WRONG_PASSWORD),
        "on_demand = true\non_demand_start_timeout = 20\ntransport = \"tcp\"",
    );
    let server = server(&extra)?;
    let url = server.url("locked");
    let asked = Instant::now();
    let mut client = RtspClient::connect_url(&url)?;
    let response = client.request(
        Method::Describe,
        &url,
        &[("Accept", "application/sdp")],
        &[],
    )?;
    let waited = asked.elapsed();
    println!(
        "DESCRIBE of an on-demand camera refusing the credentials: {} {:?} after {waited:.2?}",
        response.status.0, response.reason
    );
    ensure!(response.status.0 == 503, "answered {}", response.status.0);
    ensure!(
        waited < Duration::from_secs(10),
        "the reader waited {waited:?} for a camera that refused the credentials"
    );
    ensure!(
        response.reason.contains("refused the credentials"),
        "the answer does not say why: {:?}",
        response.reason
    );
    // The reader learns the kind of failure, not the camera's address or credentials.
    let camera_port = sluice_testkit::client::url_addr(&camera.url())?
        .port()
        .to_string();
    ensure!(
        !response.reason.contains(&camera_port),
        "the answer shows the camera's address: {:?}",
        response.reason
    );
    assert_no_password("the answer", &response.reason, WRONG_PASSWORD)?;
    server.finish()
}
