//! `sluice probe URL`: text and JSON reports of Sluice's demo path, and the exit status for a
//! missing path (3), a closed port (1) and refused credentials (2).

mod common;

use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use serde_json::Value;
use sluice_testkit::camera::{GstAuth, GstCamera};
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
