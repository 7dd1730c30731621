//! `sluice-bench`: one publisher, N TCP readers, and what serving them costs the server.
//!
//! The bench starts the release `sluice` binary on a free port, publishes a looping fixture to it with
//! ffmpeg (`-re -stream_loop -1 -c copy -f rtsp`), and for each reader count N runs N readers against each
//! server under test:
//!
//! 1. one warm-up reader connects and waits for its first keyframe (so a proxy's upstream is running);
//! 2. N readers join, evenly spread over `--join-seconds` (so they land at every point of the GOP), and
//!    each does OPTIONS, DESCRIBE, SETUP of every track over TCP (interleaved), PLAY;
//! 3. after `--settle-seconds` the window opens: the server's CPU time (utime + stime from
//!    `/proc/PID/stat`) and every reader's byte, packet and loss counters are read, and again after
//!    `--seconds`;
//! 4. all readers disconnect and the next run starts after a pause.
//!
//! Figures: delivered Mbit/s (bytes all readers received in the window), server CPU-seconds, CPU-seconds per
//! delivered Gbit, RTP packets lost (sequence gaps), and the median and 95th percentile time from PLAY to
//! the first packet of a keyframe. The comparison peer is GStreamer's rtsp-server (through
//! `bench/gst_rtsp_server.py`), which re-serves the same stream from Sluice; only its own process is
//! measured.

mod cpu;
mod procs;
mod reader;
mod report;
mod rtp;
mod sdp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use tokio::task::JoinHandle;

use crate::reader::{Phase, Snapshot, Stats};
use crate::report::Row;

/// Load bench: one publisher and N TCP readers against the release Sluice server and GStreamer's
/// rtsp-server; prints server CPU-seconds per delivered Gbit, packets lost and time to first keyframe.
///
/// Usually run through scripts/bench.sh, which builds the release binaries and makes the fixture.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    /// Media file to publish in a loop (H.264 video, ideally with an AAC track); see scripts/bench.sh.
    #[arg(long, value_name = "FILE")]
    fixture: PathBuf,

    /// Which servers to measure.
    #[arg(long, value_enum, default_value_t = Target::Both)]
    target: Target,

    /// Reader counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,100,500")]
    readers: Vec<usize>,

    /// Length of the measured window of each run, in seconds.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,

    /// Readers join evenly spread over this many seconds (the fixture's GOP is 2 s).
    #[arg(long, default_value_t = 2.0)]
    join_seconds: f64,

    /// Pause between the last join and the start of the window, in seconds.
    #[arg(long, default_value_t = 2.0)]
    settle_seconds: f64,

    /// The sluice binary.
    #[arg(long, value_name = "FILE", default_value = "target/release/sluice")]
    sluice: PathBuf,

    /// RTSP port of the Sluice server on 127.0.0.1 (0: any free port). Fix it when an external server
    /// re-serves Sluice's stream.
    #[arg(long, default_value_t = 0)]
    sluice_port: u16,

    /// ffmpeg, for publishing.
    #[arg(long, value_name = "FILE", default_value = "ffmpeg")]
    ffmpeg: PathBuf,

    /// Python with GStreamer's introspection bindings (python3-gi, gir1.2-gst-rtsp-server-1.0).
    #[arg(long, value_name = "FILE", default_value = "/usr/bin/python3")]
    python: PathBuf,

    /// The GStreamer server script.
    #[arg(long, value_name = "FILE", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/gst_rtsp_server.py"))]
    gst_script: PathBuf,

    /// GStreamer pipeline: `relay` forwards the upstream RTP as it is (cheapest), `repay` depayloads and
    /// payloads again.
    #[arg(long, default_value = "relay", value_parser = ["relay", "repay"])]
    gst_mode: String,

    /// Client threads of GStreamer's server (its default is 1; the machine's cores is fairer).
    #[arg(long, default_value_t = 2)]
    gst_threads: u32,

    /// Worker threads of the bench's own readers.
    #[arg(long, default_value_t = 2)]
    reader_threads: usize,

    /// Also measure an already running server: the URL readers play...
    #[arg(long, value_name = "URL", requires = "external_pid")]
    external_url: Option<String>,

    /// ...and the process id whose CPU time is measured.
    #[arg(long, value_name = "PID", requires = "external_url")]
    external_pid: Option<u32>,

    /// Name of the external server in the table.
    #[arg(long, default_value = "external")]
    external_name: String,

    /// Keep the work directory (server config and logs) after a successful run.
    #[arg(long)]
    keep_logs: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Sluice,
    Gst,
    Both,
}

/// A server under test.
struct Server {
    name: String,
    url: String,
    pid: u32,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.readers.is_empty() || cli.readers.contains(&0) {
        bail!("--readers needs positive counts");
    }
    if !(cli.seconds > 0.0 && cli.join_seconds >= 0.0 && cli.settle_seconds >= 0.0) {
        bail!("--seconds must be positive, --join-seconds and --settle-seconds not negative");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.reader_threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(bench(cli))
}

async fn bench(cli: Cli) -> anyhow::Result<()> {
    if !cli.fixture.is_file() {
        bail!(
            "fixture {} not found (scripts/bench.sh makes one)",
            cli.fixture.display()
        );
    }
    if !cli.sluice.is_file() {
        bail!(
            "{} not found (cargo build --release -p sluice)",
            cli.sluice.display()
        );
    }
    let dir = std::env::temp_dir().join(format!("sluice-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let ticks = cpu::clock_ticks();
    println!("# sluice-bench: logs in {}", dir.display());
    println!(
        "# machine: {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );

    let (mut sluice, port) = procs::start_sluice(&cli.sluice, cli.sluice_port, &dir).await?;
    let sluice_url = format!("rtsp://127.0.0.1:{port}/bench");
    let mut publisher =
        procs::start_publisher(&cli.ffmpeg, &cli.fixture, &sluice_url, &dir).await?;
    println!("# publishing {} to {sluice_url}", cli.fixture.display());

    let mut servers = Vec::new();
    if matches!(cli.target, Target::Sluice | Target::Both) {
        servers.push(Server {
            name: "sluice".into(),
            url: sluice_url.clone(),
            pid: pid_of(&sluice)?,
        });
    }
    let mut gst = None;
    if matches!(cli.target, Target::Gst | Target::Both) {
        let opts = procs::GstOptions {
            python: &cli.python,
            script: &cli.gst_script,
            mode: &cli.gst_mode,
            threads: cli.gst_threads,
        };
        let (child, url) = procs::start_gst(&opts, &sluice_url, &dir).await?;
        println!(
            "# gstreamer rtsp-server ({} mode, {} client threads) at {url}",
            cli.gst_mode, cli.gst_threads
        );
        servers.push(Server {
            name: "gstreamer".into(),
            url,
            pid: pid_of(&child)?,
        });
        gst = Some(child);
    }
    if let (Some(url), Some(pid)) = (&cli.external_url, cli.external_pid) {
        servers.push(Server {
            name: cli.external_name.clone(),
            url: url.clone(),
            pid,
        });
    }

    // Rows go to stderr as they are measured; the summary table goes to stdout at the end.
    eprintln!("\n{}", report::header());
    let mut rows = Vec::new();
    for &n in &cli.readers {
        for server in &servers {
            sluice.check_alive()?;
            publisher.check_alive()?;
            if let Some(g) = gst.as_mut() {
                g.check_alive()?;
            }
            let row = measure(&cli, server, n, ticks).await?;
            eprintln!("{}", report::line(&row));
            rows.push(row);
        }
    }

    println!(
        "\n# {} readers per run, {} s window, fixture {}",
        cli.readers
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join("/"),
        cli.seconds,
        cli.fixture.display()
    );
    print!("{}", report::table(&rows));
    println!(
        "live555's proxy (live555ProxyServer) is not packaged in Debian 12, so it is not run here; start one \
         yourself and pass --external-url/--external-pid to add it to the table."
    );
    drop(gst);
    drop(publisher);
    drop(sluice);
    if !cli.keep_logs {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

fn pid_of(child: &procs::Child) -> anyhow::Result<u32> {
    child.pid().context("the server process has already exited")
}

/// One run: a warm-up reader, `n` readers joining, a measured window.
async fn measure(cli: &Cli, server: &Server, n: usize, ticks: f64) -> anyhow::Result<Row> {
    let warmup = Arc::new(Stats::default());
    let mut tasks: Vec<JoinHandle<()>> = vec![tokio::spawn(reader::run(
        server.url.clone(),
        warmup.clone(),
    ))];
    let started = Instant::now();
    while warmup.first_keyframe().is_none() {
        if warmup.phase() == Phase::Failed
            || warmup.phase() == Phase::Ended
            || started.elapsed() > Duration::from_secs(30)
        {
            abort_all(&tasks);
            bail!(
                "{}: the warm-up reader got no keyframe from {} ({})",
                server.name,
                server.url,
                warmup.error().unwrap_or_else(|| "timed out".into())
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let readers: Vec<Arc<Stats>> = (0..n).map(|_| Arc::new(Stats::default())).collect();
    let join = Duration::from_secs_f64(cli.join_seconds);
    for (i, stats) in readers.iter().enumerate() {
        let delay = join.mul_f64(i as f64 / n as f64);
        let (url, stats) = (server.url.clone(), stats.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            reader::run(url, stats).await;
        }));
    }
    tokio::time::sleep(join + Duration::from_secs_f64(cli.settle_seconds)).await;

    let all: Vec<&Arc<Stats>> = readers.iter().chain(std::iter::once(&warmup)).collect();
    let me = std::process::id();
    let (cpu0, bench0, start) = (
        cpu::seconds(server.pid, ticks)?,
        cpu::seconds(me, ticks)?,
        Instant::now(),
    );
    let before: Vec<Snapshot> = all.iter().map(|s| s.snapshot()).collect();
    let ended_before = readers.iter().filter(|s| s.phase() == Phase::Ended).count();
    tokio::time::sleep(Duration::from_secs_f64(cli.seconds)).await;
    let (cpu1, bench1, window) = (
        cpu::seconds(server.pid, ticks)?,
        cpu::seconds(me, ticks)?,
        start.elapsed(),
    );
    let after: Vec<Snapshot> = all.iter().map(|s| s.snapshot()).collect();
    let rss = cpu::resident_mib(server.pid);
    abort_all(&tasks);

    let mut row = Row {
        server: server.name.clone(),
        readers: n,
        window,
        server_cpu: cpu1 - cpu0,
        bench_cpu: bench1 - bench0,
        server_rss_mib: rss,
        ..Row::default()
    };
    for (b, a) in before.iter().zip(&after) {
        row.bytes += a.bytes.saturating_sub(b.bytes);
        row.packets += a.packets.saturating_sub(b.packets);
        row.lost += a.lost.saturating_sub(b.lost);
        row.lost_joining += b.lost;
    }
    let mut first_error = None;
    for ((s, b), a) in readers.iter().zip(&before).zip(&after) {
        if s.phase() == Phase::Playing && b.video_us > 0 {
            let media = a.video_us.saturating_sub(b.video_us) as f64 / 1e6;
            row.speeds.push(media / window.as_secs_f64());
        }
        match (s.phase(), s.first_keyframe()) {
            (Phase::Failed | Phase::Starting, _) => row.failed += 1,
            (Phase::Ended, _) => row.ended += 1,
            (Phase::Playing, None) => row.no_keyframe += 1,
            (Phase::Playing, Some(_)) => {}
        }
        if let Some(t) = s.first_keyframe() {
            row.first_keyframe.push(t);
        }
        if first_error.is_none() {
            first_error = s.error();
        }
    }
    if let Some(e) = first_error {
        eprintln!(
            "# {} N={n}: {} failed, {} ended ({} before the window); first error: {e}",
            server.name, row.failed, row.ended, ended_before
        );
    }
    // Let the server tear the sessions down before the next run's window.
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(row)
}

fn abort_all(tasks: &[JoinHandle<()>]) {
    for t in tasks {
        t.abort();
    }
}
