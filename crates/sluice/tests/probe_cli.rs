//! `sluice probe URL`: text and JSON reports of Sluice's demo path, and the exit status for a
//! missing path (3), a closed port (1), refused credentials (2), a camera that never answers (4)
//! and one with no media (5); a URL that does not parse never shows its password; the transport
//! reported is the one in use at the end, after a UDP→TCP fallback.

mod common;

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use serde_json::Value;
use sluice_testkit::camera::{Check, Expect, FakeCamera, GstAuth, GstCamera, Reply, Script, Step};
use sluice_testkit::net;
use sluice_testkit::peer::{self, Finished};

use common::{server, BIN};

/// Longest a probe may run (it receives for `--seconds` after connecting).
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// What a probe printed and how it exited.
struct Probe {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Probe {
    fn output(&self) -> String {
        format!(
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn json(&self) -> Result<Value> {
        serde_json::from_str(&self.stdout)
            .with_context(|| format!("probe output is not JSON:\n{}", self.output()))
    }
}

/// Runs `sluice probe ARGS URL`, with `RUST_LOG` set to `log` when given.
fn probe(args: &[&str], url: &str, log: Option<&str>) -> Result<Probe> {
    let mut cmd = Command::new(BIN);
    cmd.arg("probe").args(args).arg(url);
    if let Some(level) = log {
        cmd.env("RUST_LOG", level);
    }
    let done: Finished = peer::run(cmd, PROBE_TIMEOUT)?;
    let join = |lines: &[peer::Line]| {
        lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let probe = Probe {
        code: done.status.and_then(|s| s.code()),
        stdout: join(&done.stdout),
        stderr: join(&done.stderr),
    };
    ensure!(
        done.status.is_some(),
        "probe of {url} still running after {PROBE_TIMEOUT:?}:\n{}",
        probe.output()
    );
    println!("sluice probe {} {url}\n{}", args.join(" "), probe.output());
    Ok(probe)
}

#[test]
fn probe_reports_the_demo_path_as_text() -> Result<()> {
    let server = server("")?;
    let p = probe(&["--seconds", "2"], &server.url("demo"), None)?;
    ensure!(p.code == Some(0), "probe failed:\n{}", p.output());
    for expected in ["H264", "640x360", " 0 lost", "Transport:"] {
        ensure!(
            p.stdout.contains(expected),
            "no {expected:?} in the report:\n{}",
            p.output()
        );
    }
    ensure!(!p.stdout.contains("FAILED"), "{}", p.output());
    server.finish()
}

#[test]
fn probe_reports_the_demo_path_as_json() -> Result<()> {
    let server = server("")?;
    let p = probe(&["--json", "--seconds", "2"], &server.url("demo"), None)?;
    ensure!(p.code == Some(0), "probe failed:\n{}", p.output());
    let report = p.json()?;
    ensure!(report["ok"] == Value::Bool(true), "{report:#}");
    ensure!(report["error"].is_null(), "{report:#}");
    let track = &report["tracks"][0];
    ensure!(track["media"] == "video", "{report:#}");
    ensure!(track["codec"] == "H264", "{report:#}");
    ensure!(
        track["width"] == 640 && track["height"] == 360,
        "{report:#}"
    );
    ensure!(
        track["frames"].as_u64().is_some_and(|f| f > 0),
        "no frames: {report:#}"
    );
    ensure!(
        track["packets"].as_u64().is_some_and(|f| f > 0),
        "no packets: {report:#}"
    );
    ensure!(track["lost"] == 0, "lost packets: {report:#}");
    ensure!(
        report["tracks"].as_array().map(Vec::len) == Some(1),
        "{report:#}"
    );
    ensure!(
        track["bitrate_kbps"].as_f64().is_some_and(|b| b > 0.0),
        "no bitrate: {report:#}"
    );
    ensure!(
        report["server"]
            .as_str()
            .is_some_and(|s| s.starts_with("Sluice/")),
        "no Server: {report:#}"
    );
    ensure!(
        report["transport"] == "Udp" || report["transport"] == "Tcp",
        "{report:#}"
    );
    // Times after PLAY, within the 2 s window; the first keyframe cannot precede the first packet.
    let after_play = |key: &str| report[key].as_f64().filter(|&t| (0.0..2000.0).contains(&t));
    let (Some(packet), Some(keyframe)) = (
        after_play("first_packet_ms"),
        after_play("first_keyframe_ms"),
    ) else {
        anyhow::bail!("first packet or keyframe time missing or out of the window: {report:#}");
    };
    ensure!(keyframe >= packet, "{report:#}");
    ensure!(
        report["describe_ms"].as_f64().is_some_and(|t| t >= 0.0),
        "{report:#}"
    );
    server.finish()
}

#[test]
fn probe_of_a_missing_path_exits_3() -> Result<()> {
    let server = server("")?;
    let url = server.url("no-such-path");
    let p = probe(&["--seconds", "1"], &url, None)?;
    ensure!(p.code == Some(3), "expected exit 3:\n{}", p.output());
    ensure!(
        p.stdout.contains("404"),
        "the report does not say 404:\n{}",
        p.output()
    );
    let p = probe(&["--json", "--seconds", "1"], &url, None)?;
    ensure!(p.code == Some(3), "expected exit 3:\n{}", p.output());
    let report = p.json()?;
    ensure!(report["ok"] == Value::Bool(false), "{report:#}");
    ensure!(
        report["error"].as_str().is_some_and(|e| e.contains("404")),
        "{report:#}"
    );
    server.finish()
}

#[test]
fn probe_of_a_closed_port_fails_clearly() -> Result<()> {
    // Nothing listens there.
    let port = net::free_tcp_port()?;
    let url = format!("rtsp://127.0.0.1:{port}/cam");
    let p = probe(&["--seconds", "1"], &url, None)?;
    ensure!(
        p.code == Some(1),
        "expected exit 1 (connection failed):\n{}",
        p.output()
    );
    ensure!(
        p.stdout.contains("cannot connect") && p.stdout.contains(&format!("127.0.0.1:{port}")),
        "the report does not say it could not connect to 127.0.0.1:{port}:\n{}",
        p.output()
    );
    Ok(())
}

#[test]
fn probe_of_a_digest_camera() -> Result<()> {
    let camera = GstCamera::start(GstAuth::Digest)?;

    let p = probe(
        &["--json", "--seconds", "2"],
        &camera.authorized_url(),
        None,
    )?;
    ensure!(
        p.code == Some(0),
        "probe with the right credentials failed:\n{}\ncamera log:\n{}",
        p.output(),
        camera.log_tail()
    );
    let report = p.json()?;
    let track = &report["tracks"][0];
    ensure!(track["codec"] == "H264", "{report:#}");
    ensure!(
        track["width"] == 320 && track["height"] == 240,
        "{report:#}"
    );
    ensure!(
        track["frames"].as_u64().is_some_and(|f| f > 0),
        "{report:#}"
    );
    ensure!(
        !p.output().contains(GstCamera::PASSWORD),
        "the password shows:\n{}",
        p.output()
    );

    let wrong = "n0t-the-p@ssword";
    let p = probe(
        &["--seconds", "1"],
        &camera.url_with(GstCamera::USER, wrong),
        Some("debug"),
    )?;
    ensure!(p.code == Some(2), "expected exit 2:\n{}", p.output());
    ensure!(
        p.stdout.contains("credentials refused"),
        "the report does not say the credentials were refused:\n{}",
        p.output()
    );
    for form in [wrong, "n0t-the-p%40ssword"] {
        ensure!(
            !p.output().contains(form),
            "the password shows as {form:?}:\n{}",
            p.output()
        );
    }
    Ok(())
}

/// One H.264 track, control `trackID=1`.
const SDP_VIDEO: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n";

/// Media the client cannot receive: SRTP (CAMERA-QUIRKS #60) and no numeric payload type (#37).
const SDP_UNUSABLE: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\n\
m=video 0 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n\
m=video 0 RTP/AVP smart/1/90000\r\na=control:trackID=2\r\n";

fn describe(sdp: &str) -> Step {
    Expect::new("DESCRIBE")
        .reply(Reply::status(200).body(sdp.as_bytes()))
        .into()
}

fn setup(transport: &str) -> Step {
    let (check, answer) = if transport == "tcp" {
        ("RTP/AVP/TCP", "RTP/AVP/TCP;unicast;interleaved=0-1")
    } else {
        ("client_port=", "RTP/AVP;unicast;server_port=1-2")
    };
    Expect::new("SETUP")
        .check(Check::Contains("Transport", check.into()))
        .reply(
            Reply::status(200)
                .session("4321;timeout=60")
                .header("Transport", answer),
        )
        .into()
}

fn play() -> Step {
    Expect::new("PLAY")
        .check_session()
        .reply(Reply::status(200).session("4321"))
        .into()
}

#[test]
fn probe_of_a_bad_url_never_shows_the_password() -> Result<()> {
    let secret = "Sup3rS3cret";
    for (what, url) in [
        (
            "a bad port",
            format!("rtsp://admin:{secret}@127.0.0.1:99999/cam"),
        ),
        (
            "a bad escape in the userinfo",
            format!("rtsp://admin:{secret}%FF@127.0.0.1:8554/cam"),
        ),
        (
            "an unencoded '/' in the password",
            format!("rtsp://admin:{secret}/x@127.0.0.1:8554/cam"),
        ),
    ] {
        for json in [false, true] {
            let args: &[&str] = if json {
                &["--json", "--seconds", "1"]
            } else {
                &["--seconds", "1"]
            };
            let p = probe(args, &url, Some("debug"))?;
            ensure!(
                p.code.is_some_and(|c| c != 0),
                "probe of a URL with {what} did not fail:\n{}",
                p.output()
            );
            for shown in [&p.stdout, &p.stderr] {
                ensure!(
                    !shown.contains("Sup3r") && !shown.contains("S3cret"),
                    "the password of a URL with {what} shows:\n{}",
                    p.output()
                );
            }
            ensure!(
                p.stdout.contains("invalid URL") && p.stdout.contains("***@127.0.0.1"),
                "the report of a URL with {what} does not say it is invalid, or hides the \
                 host:\n{}",
                p.output()
            );
            if json {
                let report = p.json()?;
                ensure!(report["ok"] == Value::Bool(false), "{report:#}");
            }
        }
    }
    Ok(())
}

#[test]
fn probe_of_a_camera_that_never_answers_exits_4() -> Result<()> {
    // The camera accepts the connection and reads, but answers nothing.
    let camera = FakeCamera::start(vec![Script::new(vec![Step::sleep_ms(15_000)])])?;
    let p = probe(&["--seconds", "1"], &camera.url("cam"), None)?;
    ensure!(
        p.code == Some(4),
        "expected exit 4 (timeout):\n{}",
        p.output()
    );
    ensure!(
        p.stdout.contains("OPTIONS") && p.stdout.contains("did not complete within"),
        "the report does not say which request timed out:\n{}",
        p.output()
    );
    let log = camera.finish()?;
    ensure!(log.methods() == ["OPTIONS"], "{:?}", log.methods());
    Ok(())
}

#[test]
fn probe_of_a_camera_without_usable_media_exits_5() -> Result<()> {
    let options = || Expect::new("OPTIONS").reply(Reply::status(200)).into();
    let camera = FakeCamera::start(vec![Script::new(vec![options(), describe(SDP_UNUSABLE)])])?;
    let p = probe(&["--json", "--seconds", "1"], &camera.url("cam"), None)?;
    ensure!(
        p.code == Some(5),
        "expected exit 5 (no media):\n{}",
        p.output()
    );
    let report = p.json()?;
    ensure!(report["ok"] == Value::Bool(false), "{report:#}");
    ensure!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("no usable media") && e.contains("SAVP")),
        "the report does not say why there is no media: {report:#}"
    );
    camera.finish()?;

    // A camera that sets up and plays but sends no RTP within the window.
    let camera = FakeCamera::start(vec![Script::new(vec![
        options(),
        describe(SDP_VIDEO),
        setup("tcp"),
        play(),
        Step::sleep_ms(4000),
    ])])?;
    let p = probe(
        &["--transport", "tcp", "--seconds", "1"],
        &camera.url("cam"),
        None,
    )?;
    ensure!(
        p.code == Some(5),
        "expected exit 5 (no media):\n{}",
        p.output()
    );
    ensure!(
        p.stdout.contains("no RTP packet within 1.0s") && p.stdout.contains("First packet:   none"),
        "the report does not say that no packet came:\n{}",
        p.output()
    );
    camera.finish()?;
    Ok(())
}

#[test]
fn probe_reports_the_transport_after_a_udp_fallback() -> Result<()> {
    let options = || Expect::new("OPTIONS").reply(Reply::status(200)).into();
    // UDP is set up but nothing comes; after the client's fallback delay (3 s) it reconnects over
    // TCP, where the camera streams.
    let camera = FakeCamera::start(vec![
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup("udp"),
            play(),
            Step::sleep_ms(5000),
        ]),
        Script::new(vec![
            options(),
            describe(SDP_VIDEO),
            setup("tcp"),
            play(),
            Step::rtp(0, 200),
        ]),
    ])?;
    let p = probe(&["--json", "--seconds", "5"], &camera.url("cam"), None)?;
    ensure!(p.code == Some(0), "probe failed:\n{}", p.output());
    let report = p.json()?;
    ensure!(
        report["transport"] == "Tcp" && report["transport_fallback_from"] == "Udp",
        "the report does not give the transport in use at the end: {report:#}"
    );
    ensure!(
        report["quirks"]
            .as_array()
            .is_some_and(|q| q.iter().any(|q| q["name"] == "udp-fallback-to-tcp")),
        "{report:#}"
    );
    ensure!(
        report["tracks"][0]["packets"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "no packets over TCP: {report:#}"
    );
    let log = camera.finish()?;
    ensure!(log.connections == 2, "{} connections", log.connections);
    Ok(())
}
