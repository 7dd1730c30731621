//! `sluice`: the RTSP media server, camera proxy and client toolkit.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

mod probe;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sluice_server::config::{Config, DEFAULT_CONFIG};
use tracing_subscriber::EnvFilter;

/// Sluice: an RTSP media server and camera proxy. Publish or pull a stream once, read it many times.
///
/// Readers connect to rtsp://HOST:8554/PATH over TCP, UDP or multicast; publishers push to a path with
/// ANNOUNCE/RECORD (ffmpeg -f rtsp, GStreamer rtspclientsink); a path with `source = "rtsp://..."` pulls
/// an IP camera, always on or on demand, with one camera session whatever the number of readers. The
/// embedded default config serves a test stream on rtsp://HOST:8554/demo; `sluice default-config` shows
/// every key.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    ///
    /// Without --config the embedded default is used (print it with `sluice default-config`).
    /// RUST_LOG (e.g. RUST_LOG=debug) overrides the log level of the config.
    Serve {
        /// TOML configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Connect to a camera (or any RTSP server) the way a proxy path would and report what it sends.
    ///
    /// Reports the server, the tracks (codec, payload type, clock rate; resolution, profile and frame rate
    /// from the SPS; sample rate and channels from the audio config), the transport that worked, time to the
    /// first packet and the first keyframe, bitrate and loss over --seconds, and every camera quirk that had
    /// to be tolerated. Exit status: 0 ok, 2 credentials refused, 3 not found, 4 timeout, 5 no media, 1
    /// anything else.
    Probe {
        /// rtsp://[user:password@]host[:port]/path (percent-encode '@' ':' '/' in the password).
        url: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// How long to receive media.
        #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
        seconds: f64,
        /// auto (UDP, falling back to TCP), udp, tcp or multicast.
        #[arg(long, default_value = "auto")]
        transport: String,
    },
    /// Print the embedded default configuration, every key with its default and a comment.
    DefaultConfig,
    /// Check a configuration file and exit: status 0 if it loads.
    CheckConfig {
        /// TOML configuration file.
        file: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::DefaultConfig => {
            print!("{DEFAULT_CONFIG}");
            Ok(())
        }
        Command::Probe {
            url,
            json,
            seconds,
            transport,
        } => {
            let transport = transport
                .parse()
                .map_err(|e| anyhow::anyhow!("--transport: {e}"))?;
            if std::env::var_os("RUST_LOG").is_some() {
                tracing_subscriber::fmt()
                    .with_env_filter(EnvFilter::from_default_env())
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal())
                    .init();
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .context("cannot start the runtime")?;
            let code = rt.block_on(probe::run(probe::ProbeArgs {
                url,
                seconds,
                transport,
                json,
            }));
            std::process::exit(code);
        }
        Command::CheckConfig { file } => {
            let c = Config::load(&file)?;
            println!("{}: OK ({} paths)", file.display(), c.paths.len());
            Ok(())
        }
        Command::Serve { config } => {
            let config = match &config {
                Some(f) => Config::load(f)?,
                None => Config::embedded(),
            };
            let filter = EnvFilter::try_from_default_env()
                .or_else(|_| EnvFilter::try_new(&config.log.level))
                .context("log.level is not a valid level or filter")?;
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .init();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the runtime")?;
            rt.block_on(async {
                tokio::select! {
                    r = sluice_server::run(Arc::new(config)) => r.context("server failed"),
                    _ = tokio::signal::ctrl_c() => {
                        tracing::info!("interrupted, shutting down");
                        Ok(())
                    }
                }
            })
        }
    }
}
