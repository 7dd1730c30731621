//! Hostile and broken requests get the right error, and never disturb a reader that keeps playing.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use sluice_rtsp::message::Method;
use sluice_testkit::client::{raw_exchange, status_codes, Watcher};
use sluice_testkit::ffmpeg::PublishOptions;
use sluice_testkit::{RtspClient, Server};

use common::{publish, server};

/// One hostile exchange and its check.
type Case = fn(&Server) -> Result<()>;

/// How long the reader on the demo path plays while hostile traffic goes on.
const WITNESS: Duration = Duration::from_secs(5);

const SDP: &str = "v=0\r\n\
o=- 0 0 IN IP4 127.0.0.1\r\n\
s=second publisher\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=video 0 RTP/AVP 96\r\n\
a=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1\r\n\
a=control:trackID=0\r\n";

#[test]
fn hostile_input_gets_errors_and_never_disturbs_a_reader() -> Result<()> {
    let server = server("")?;
    let mut publisher = publish(&server, "lobby", &PublishOptions::default())?;
    let watcher = Watcher::start(&server.url("demo"), Duration::from_secs(3))?;
    let watched = Instant::now();

    let cases: [(&str, Case); 15] = [
        (
            "malformed request line: 400 with CSeq, connection kept",
            malformed_request_line,
        ),
        (
            "header block over 64 KiB in one line: 400 and close",
            huge_header_line,
        ),
        (
            "header block over 64 KiB in many lines: 400 and close",
            huge_header_block,
        ),
        ("200 header lines: 400 and close", too_many_headers),
        ("Content-Length of 2 MiB: 413 and close", huge_body),
        ("unknown method: 501", unknown_method),
        ("DESCRIBE of an unknown path: 404", describe_unknown_path),
        ("PLAY before SETUP: 455", play_before_setup),
        ("PLAY with a wrong session: 454", play_wrong_session),
        ("SETUP with RAW/RAW/UDP: 461", |s| {
            unsupported_transport(s, "RAW/RAW/UDP;unicast;client_port=5000-5001")
        }),
        ("SETUP with RTP/AVP/SCTP: 461", |s| {
            unsupported_transport(s, "RTP/AVP/SCTP;unicast")
        }),
        (
            "second ANNOUNCE+RECORD on a busy path: refused",
            second_publisher,
        ),
        (
            "Require of an unknown option: 551 with Unsupported",
            required_option,
        ),
        (
            "targeted malformed requests: error or close, never 2xx",
            targeted_nasties,
        ),
        ("200 random-garbage connections", random_garbage),
    ];
    let mut failures = Vec::new();
    for (name, case) in cases {
        let started = Instant::now();
        match case(&server) {
            Ok(()) => println!("ok   {name} ({:.1?})", started.elapsed()),
            Err(e) => {
                println!("FAIL {name}: {e:#}");
                failures.push(format!("{name}: {e:#}"));
            }
        }
        if let Err(e) = server.check_running() {
            failures.push(format!("after `{name}`: {e:#}"));
            break;
        }
    }

    // Keep the hostile traffic going until the reader has played for a while.
    let mut round = 1;
    while watched.elapsed() < WITNESS && failures.is_empty() {
        if let Err(e) = random_garbage_round(&server, round, 20) {
            failures.push(format!("garbage round {round}: {e:#}"));
        }
        round += 1;
        std::thread::sleep(Duration::from_millis(100));
    }

    // Still answering, and the reader never noticed.
    if let Err(e) = options_answers(&server) {
        failures.push(format!("OPTIONS after all cases: {e:#}"));
    }
    match watcher.finish() {
        Ok(tracker) => {
            println!(
                "reader: {} RTP packets, {} gaps",
                tracker.total_packets(),
                tracker.total_gaps()
            );
            if tracker.total_gaps() != 0 {
                failures.push(format!("reader on demo saw sequence gaps: {tracker:?}"));
            }
            // The demo clip is ~35 packets/s.
            if tracker.total_packets() < 100 {
                failures.push(format!(
                    "reader on demo got only {} packets in {:.1?}",
                    tracker.total_packets(),
                    watched.elapsed()
                ));
            }
        }
        Err(e) => failures.push(format!("reader on demo: {e:#}")),
    }
    if let Err(e) = publisher.check_running() {
        failures.push(format!("publisher on lobby: {e:#}"));
    }
    if let Err(e) = server.check_running() {
        failures.push(format!("{e:#}"));
    }
    ensure!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    server.finish()
}

/// Sends `raw` and reads one response; returns (status, CSeq header).
fn raw_request(client: &mut RtspClient, raw: &[u8]) -> Result<(u16, Option<String>)> {
    client.send_raw(raw)?;
    let response = client
        .read_response(Instant::now() + Duration::from_secs(5))?
        .context("connection closed without a response")?;
    Ok((
        response.status.0,
        response.headers.get("CSeq").map(|v| v.trim().to_owned()),
    ))
}

fn expect_status(got: u16, want: u16) -> Result<()> {
    ensure!(got == want, "status {got}, expected {want}");
    Ok(())
}

fn options_answers(server: &Server) -> Result<()> {
    let mut client = RtspClient::connect(server.addr())?;
    client.request_ok(Method::Options, &server.url(""), &[], &[])?;
    Ok(())
}

fn malformed_request_line(server: &Server) -> Result<()> {
    let mut client = RtspClient::connect(server.addr())?;
    let (status, cseq) = raw_request(&mut client, b"NONSENSE\r\nCSeq: 7\r\n\r\n")?;
    expect_status(status, 400)?;
    ensure!(
        cseq.as_deref() == Some("7"),
        "400 carried CSeq {cseq:?}, expected 7"
    );
    let url = server.url("");
    let (status, cseq) = raw_request(
        &mut client,
        format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 8\r\n\r\n").as_bytes(),
    )
    .context("OPTIONS on the same connection after the 400")?;
    expect_status(status, 200).context("OPTIONS on the same connection after the 400")?;
    ensure!(
        cseq.as_deref() == Some("8"),
        "OPTIONS answered with CSeq {cseq:?}"
    );
    Ok(())
}

/// Sends `request`, expects `want` as the first response and then the connection to close.
fn expect_status_and_close(addr: SocketAddr, request: Vec<u8>, want: u16) -> Result<()> {
    let reply = raw_exchange(addr, request, Duration::from_secs(5), None)?;
    let first = reply.statuses.first().copied();
    ensure!(
        first == Some(want),
        "first status {first:?}, expected {want}; got {:?}",
        reply.text.get(..reply.text.len().min(300))
    );
    ensure!(reply.closed, "connection still open 5 s after the {want}");
    Ok(())
}

fn huge_header_line(server: &Server) -> Result<()> {
    let mut request =
        format!("OPTIONS {} RTSP/1.0\r\nCSeq: 2\r\nX-Pad: ", server.url("")).into_bytes();
    request.extend(std::iter::repeat_n(b'a', 70 * 1024));
    request.extend_from_slice(b"\r\n\r\n");
    expect_status_and_close(server.addr(), request, 400)
}

fn huge_header_block(server: &Server) -> Result<()> {
    let mut request = format!("OPTIONS {} RTSP/1.0\r\nCSeq: 2\r\n", server.url("")).into_bytes();
    // 70 headers of 1 KiB: under the header count limit, over the byte limit.
    for n in 0..70 {
        request.extend_from_slice(format!("X-Pad-{n}: ").as_bytes());
        request.extend(std::iter::repeat_n(b'b', 1024));
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    expect_status_and_close(server.addr(), request, 400)
}

fn too_many_headers(server: &Server) -> Result<()> {
    let mut request = format!("OPTIONS {} RTSP/1.0\r\nCSeq: 2\r\n", server.url("")).into_bytes();
    // 200 short headers: far under the byte limit, over the count limit (rtsp.max_headers = 128).
    for n in 0..200 {
        request.extend_from_slice(format!("X-H{n}: v\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    expect_status_and_close(server.addr(), request, 400)
}

fn huge_body(server: &Server) -> Result<()> {
    let request = format!(
        "ANNOUNCE {} RTSP/1.0\r\nCSeq: 3\r\nContent-Type: application/sdp\r\nContent-Length: 2097152\r\n\r\n",
        server.url("big")
    );
    expect_status_and_close(server.addr(), request.into_bytes(), 413)
}

fn unknown_method(server: &Server) -> Result<()> {
    let mut client = RtspClient::connect(server.addr())?;
    let request = format!(
        "FROBNICATE {} RTSP/1.0\r\nCSeq: 4\r\n\r\n",
        server.url("demo")
    );
    let (status, cseq) = raw_request(&mut client, request.as_bytes())?;
    expect_status(status, 501)?;
    ensure!(cseq.as_deref() == Some("4"), "501 carried CSeq {cseq:?}");
    Ok(())
}

fn describe_unknown_path(server: &Server) -> Result<()> {
    let mut client = RtspClient::connect(server.addr())?;
    let response = client.request(Method::Describe, &server.url("no/such/path"), &[], &[])?;
    expect_status(response.status.0, 404)
}

fn play_before_setup(server: &Server) -> Result<()> {
    let mut client = RtspClient::connect(server.addr())?;
    let description = client.describe(&server.url("demo"))?;
    let response = client.request(Method::Play, &description.base, &[], &[])?;
    expect_status(response.status.0, 455)
}

fn play_wrong_session(server: &Server) -> Result<()> {
    let mut client = RtspClient::connect(server.addr())?;
    let description = client.describe(&server.url("demo"))?;
    let track = description.tracks.first().context("no track")?;
    client.setup_interleaved(&track.control, 0)?;
    let real = client.session().unwrap_or_default().to_owned();
    let wrong = format!("{real}x0");
    client.set_session(Some(wrong));
    let response = client.request(Method::Play, &description.base, &[], &[])?;
    expect_status(response.status.0, 454)
}

fn unsupported_transport(server: &Server, transport: &str) -> Result<()> {
    let mut client = RtspClient::connect(server.addr())?;
    let description = client.describe(&server.url("demo"))?;
    let track = description.tracks.first().context("no track")?;
    let response = client.request(
        Method::Setup,
        &track.control,
        &[("Transport", transport)],
        &[],
    )?;
    expect_status(response.status.0, 461)
}

fn second_publisher(server: &Server) -> Result<()> {
    let url = server.url("lobby");
    let mut client = RtspClient::connect(server.addr())?;
    let response = client.request(
        Method::Announce,
        &url,
        &[("Content-Type", "application/sdp")],
        SDP.as_bytes(),
    )?;
    // Refused at once, with a reason a user can act on.
    expect_status(response.status.0, 403)?;
    ensure!(
        response.reason.contains("another publisher"),
        "the refusal does not say why: `{}`",
        response.reason
    );
    Ok(())
}

fn required_option(server: &Server) -> Result<()> {
    let mut client = RtspClient::connect(server.addr())?;
    let response = client.request(
        Method::Options,
        &server.url("demo"),
        &[("Require", "implicit-play, com.example.frobnicate")],
        &[],
    )?;
    expect_status(response.status.0, 551)?;
    let unsupported = response.headers.get("Unsupported").unwrap_or_default();
    ensure!(
        unsupported.contains("implicit-play") && unsupported.contains("com.example.frobnicate"),
        "Unsupported: `{unsupported}`"
    );
    // The connection is still good.
    let response = client.request(Method::Options, &server.url("demo"), &[], &[])?;
    expect_status(response.status.0, 200)
}

/// Writes `bytes`, half-closes, and returns what came back before the server closed (or 2 s).
fn send_and_drain(addr: SocketAddr, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    // The server may close before reading everything: a failed write is not a test failure.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut received = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Some(left) = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())
    {
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
        if received.len() > 1 << 20 {
            bail!("server sent more than 1 MiB in reply to garbage");
        }
    }
    Ok(received)
}

fn targeted_nasties(server: &Server) -> Result<()> {
    let url = server.url("demo");
    let nasties: Vec<Vec<u8>> = vec![
        format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -1\r\n\r\n").into_bytes(),
        format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 18446744073709551616\r\n\r\n").into_bytes(),
        format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab").into_bytes(),
        format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nNoColonHere\r\n\r\n").into_bytes(),
        format!("OPTIONS {url} RTSP/7.5\r\nCSeq: 1\r\n\r\n").into_bytes(),
        format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\n\u{0}\u{0}\u{0}: \u{0}\r\n\r\n").into_bytes(),
        b"OPTIONS \xff\xfe\xfd RTSP/1.0\r\nCSeq: 1\r\n\r\n".to_vec(),
        format!("SETUP {url}/trackID=999 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n").into_bytes(),
        format!("SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP/TCP;unicast;interleaved=300-301\r\n\r\n").into_bytes(),
        format!("SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;client_port=70000-70001\r\n\r\n").into_bytes(),
        format!("SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: ;;;;;=;=\r\n\r\n").into_bytes(),
        format!("PLAY {url} RTSP/1.0\r\nCSeq: 1\r\nSession: \r\n\r\n").into_bytes(),
        format!("DESCRIBE rtsp://127.0.0.1:1/{} RTSP/1.0\r\nCSeq: 1\r\n\r\n", "a/".repeat(2000)).into_bytes(),
        b"DESCRIBE * RTSP/1.0\r\nCSeq: 1\r\n\r\n".to_vec(),
        b"DESCRIBE http://example.invalid/x RTSP/1.0\r\nCSeq: 1\r\n\r\n".to_vec(),
    ];
    let mut problems = Vec::new();
    for (n, nasty) in nasties.iter().enumerate() {
        let reply = send_and_drain(server.addr(), nasty)?;
        let success: Vec<u16> = status_codes(&reply)
            .into_iter()
            .filter(|s| *s < 300)
            .collect();
        if !success.is_empty() {
            problems.push(format!(
                "#{n} {:?} answered {success:?}",
                String::from_utf8_lossy(nasty.get(..nasty.len().min(120)).unwrap_or_default())
            ));
        }
    }
    // Odd but arguably valid: any answer will do, as long as the server survives.
    send_and_drain(
        server.addr(),
        format!("OPTIONS {url} RTSP/1.0\r\nCSeq: 99999999999999999999999\r\n\r\n").as_bytes(),
    )?;
    // Interleaved data before any session must be ignored or refused, not crash anything.
    let mut frame = vec![b'$', 0, 0, 200];
    frame.extend(std::iter::repeat_n(0x80, 200));
    send_and_drain(server.addr(), &frame)?;
    ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

/// A small deterministic generator, so a failing run can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn garbage(rng: &mut XorShift) -> Vec<u8> {
    const PREFIXES: [&[u8]; 6] = [
        b"",
        b"OPTIONS ",
        b"SETUP rtsp://127.0.0.1/demo/trackID=0 RTSP/1.0\r\n",
        b"$",
        b"RTSP/1.0 200 OK\r\n",
        b"GET / HTTP/1.1\r\n",
    ];
    const ALPHABET: &[u8] = b"\r\n:; =-$/\x00\xffRTSP0123456789abcdefCSeqContent-Length";
    let mut bytes = PREFIXES[rng.below(PREFIXES.len())].to_vec();
    let len = rng.below(4096) + 1;
    let textual = rng.next() % 2 == 0;
    for _ in 0..len {
        let b = if textual {
            ALPHABET[rng.below(ALPHABET.len())]
        } else {
            rng.next() as u8
        };
        bytes.push(b);
    }
    bytes
}

fn random_garbage(server: &Server) -> Result<()> {
    random_garbage_round(server, 0, 200)
}

/// `connections` connections of garbage from 4 threads; round `n` uses its own seed.
fn random_garbage_round(server: &Server, round: u64, connections: u64) -> Result<()> {
    const THREADS: u64 = 4;
    let base: u64 = std::env::var("SLUICE_GARBAGE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_cafe_f00d_0001);
    if round == 0 {
        println!("     garbage seed {base} (set SLUICE_GARBAGE_SEED to replay)");
    }
    let seed = base.wrapping_add(round.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let addr = server.addr();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || -> Result<()> {
                    let mut rng =
                        XorShift(seed.wrapping_add(t.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
                    for _ in 0..connections.div_ceil(THREADS) {
                        send_and_drain(addr, &garbage(&mut rng))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .unwrap_or_else(|_| bail!("garbage thread panicked"))?;
        }
        Ok(())
    })
}
