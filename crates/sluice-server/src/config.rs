//! Configuration: a TOML file with an embedded default (`sluice serve` runs with no file at all).
//!
//! Every key is optional; a missing key takes the default shown in [`DEFAULT_CONFIG`]. Unknown keys are errors,
//! and every error names the file, the line and the key, so a typo is found at start and not in production.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// The configuration used when no file is given. It is also the reference: every key, with its default.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Logging.
    pub log: LogConfig,
    /// The RTSP server.
    pub rtsp: RtspConfig,
    /// The hub: fan-out queues and the GOP cache.
    pub hub: HubConfig,
    /// Paths by name. A name may contain `/`.
    pub paths: BTreeMap<String, PathConfig>,
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `level`: error, warn, info, debug or trace, or a full tracing filter. `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// `[rtsp]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtspConfig {
    /// `listen`: TCP address of the RTSP listener.
    pub listen: SocketAddr,
    /// `rtp_port`: UDP port for unicast RTP (even).
    pub rtp_port: u16,
    /// `rtcp_port`: UDP port for unicast RTCP (`rtp_port + 1`).
    pub rtcp_port: u16,
    /// `multicast_range`: IPv4 block the multicast groups (one per path) are taken from, as `a.b.c.d/n`.
    pub multicast_range: String,
    /// `multicast_rtp_port`: first UDP port of multicast RTP; track `n` uses `multicast_rtp_port + 2n`.
    pub multicast_rtp_port: u16,
    /// `multicast_rtcp_port`: first UDP port of multicast RTCP; track `n` uses `multicast_rtcp_port + 2n`.
    pub multicast_rtcp_port: u16,
    /// `multicast_ttl`: TTL of multicast packets.
    pub multicast_ttl: u8,
    /// `session_timeout`: seconds without a request or RTCP report before a UDP session is closed.
    pub session_timeout: u32,
    /// `max_header_bytes`: longest request line plus headers accepted.
    pub max_header_bytes: usize,
    /// `max_headers`: most header lines in one request.
    pub max_headers: usize,
    /// `max_body_bytes`: largest request body (an ANNOUNCE's SDP).
    pub max_body_bytes: usize,
    /// `max_sessions`: most RTSP connections at once; more are refused with 503.
    pub max_sessions: usize,
    /// `write_timeout`: seconds a reader's TCP socket may stay full before the reader is dropped.
    pub write_timeout: u32,
    /// `udp_catchup_mbps`: how fast the GOP cache goes out to a joining UDP or multicast reader, in
    /// Mbit/s, at least (1.5 times the stream's own rate when that is more, so the reader catches up).
    /// Sent at once, a large GOP overflows the reader's socket buffer and its keyframe is lost.
    pub udp_catchup_mbps: u32,
}

impl Default for RtspConfig {
    fn default() -> Self {
        RtspConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8554)),
            rtp_port: 8000,
            rtcp_port: 8001,
            multicast_range: "239.255.42.0/24".into(),
            multicast_rtp_port: 8002,
            multicast_rtcp_port: 8003,
            multicast_ttl: 16,
            session_timeout: 60,
            max_header_bytes: 64 * 1024,
            max_headers: 128,
            max_body_bytes: 1024 * 1024,
            max_sessions: 4096,
            write_timeout: 10,
            udp_catchup_mbps: 20,
        }
    }
}

impl RtspConfig {
    /// `session_timeout` as a duration.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.session_timeout))
    }

    /// `write_timeout` as a duration.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.write_timeout))
    }

    /// The multicast block as (first address, number of addresses).
    pub fn multicast_block(&self) -> Result<(Ipv4Addr, u32), String> {
        let (addr, bits) = self
            .multicast_range
            .split_once('/')
            .ok_or_else(|| format!("`{}` is not of the form a.b.c.d/n", self.multicast_range))?;
        let addr: Ipv4Addr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{addr}` is not an IPv4 address"))?;
        let bits: u32 = bits
            .trim()
            .parse()
            .ok()
            .filter(|b| (4..=32).contains(b))
            .ok_or_else(|| format!("`/{bits}` is not a prefix length from 4 to 32"))?;
        if !addr.is_multicast() {
            return Err(format!("{addr} is not a multicast address (224.0.0.0/4)"));
        }
        let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
        let first = Ipv4Addr::from(u32::from(addr) & mask);
        Ok((first, 1u32 << (32 - bits).min(31)))
    }
}

/// `[hub]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    /// `reader_queue`: packets of slack each stream keeps for its readers. A reader further behind than this
    /// loses packets up to the next keyframe.
    pub reader_queue: usize,
    /// `gop_cache_bytes`: most bytes kept since the last keyframe, for readers that join mid-stream.
    pub gop_cache_bytes: usize,
    /// `publish_any_path`: accept publishers on path names that are not listed under `[paths]`.
    pub publish_any_path: bool,
    /// `publisher_grace`: seconds a publisher that left may take to come back with the same tracks and
    /// continue its stream without its readers noticing. 0 ends the stream at once.
    pub publisher_grace: f64,
    /// `max_packet_bytes`: H.264/H.265 packets from a source that are bigger than this (RTP header
    /// included; cameras send whole slices over TCP) are split into fragmentation units, so that UDP
    /// readers can receive them. 0 leaves them as they are.
    pub max_packet_bytes: usize,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            reader_queue: 2048,
            gop_cache_bytes: 16 * 1024 * 1024,
            publish_any_path: true,
            publisher_grace: 5.0,
            max_packet_bytes: 1472,
        }
    }
}

/// `[paths.NAME]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathConfig {
    /// `source`: `"publisher"` (the default: a client publishes with ANNOUNCE/RECORD), `"demo"` (the
    /// built-in test clip) or an `rtsp://` / `rtsps://` URL to pull (a camera).
    pub source: Source,
    /// `on_demand`: pull the camera only while someone reads (default false: always on).
    pub on_demand: bool,
    /// `on_demand_close_after`: seconds without readers before an on-demand camera is closed.
    pub on_demand_close_after: f64,
    /// `on_demand_start_timeout`: seconds a reader waits for an on-demand camera to deliver its stream.
    pub on_demand_start_timeout: f64,
    /// `transport`: how to pull the camera: `auto` (UDP, falling back to TCP), `udp`, `tcp` or `multicast`.
    pub transport: String,
    /// `udp_fallback_after`: with `auto`, seconds without a packet over UDP before switching to TCP.
    pub udp_fallback_after: f64,
    /// `reconnect_min`: seconds before the first reconnect attempt after the camera drops.
    pub reconnect_min: f64,
    /// `reconnect_max`: the longest wait between reconnect attempts (the wait doubles up to this, with jitter).
    pub reconnect_max: f64,
}

impl Default for PathConfig {
    fn default() -> Self {
        PathConfig {
            source: Source::Publisher,
            on_demand: false,
            on_demand_close_after: 10.0,
            on_demand_start_timeout: 10.0,
            transport: "auto".into(),
            udp_fallback_after: 3.0,
            reconnect_min: 1.0,
            reconnect_max: 30.0,
        }
    }
}

/// Where a path's stream comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// A client publishes with ANNOUNCE/RECORD.
    #[default]
    Publisher,
    /// The built-in H.264 test clip, looped.
    Demo,
    /// An RTSP URL to pull (a camera or another server).
    Rtsp(String),
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "publisher" => Ok(Source::Publisher),
            "demo" => Ok(Source::Demo),
            url if url.starts_with("rtsp://") || url.starts_with("rtsps://") => {
                Ok(Source::Rtsp(url.to_string()))
            }
            other => Err(serde::de::Error::custom(format!(
                "unknown source `{}`: expected \"publisher\", \"demo\" or an rtsp:// URL",
                other.chars().take(64).collect::<String>()
            ))),
        }
    }
}

/// A configuration that could not be loaded: names the file, the line and the key.
#[derive(Debug)]
pub struct ConfigError {
    /// The file, or `<embedded default>`.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key, as a dotted path, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Loads a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: None,
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        Config::parse(&text, &file)
    }

    /// The embedded default.
    pub fn embedded() -> Config {
        // The embedded default is checked by a unit test, so this cannot fail in a release.
        Config::parse(DEFAULT_CONFIG, "<embedded default>").unwrap_or_default()
    }

    /// Parses TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let key = line.and_then(|l| key_on_line(text, l));
            ConfigError {
                file: file.to_string(),
                line,
                key,
                message: e.message().trim().to_string(),
            }
        })?;
        config.validate(text, file)?;
        Ok(config)
    }

    fn validate(&self, text: &str, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, message: String| {
            let short = key.rsplit('.').next().unwrap_or(key);
            ConfigError {
                file: file.to_string(),
                line: find_key_line(text, short),
                key: Some(key.to_string()),
                message,
            }
        };
        let r = &self.rtsp;
        if r.rtp_port % 2 != 0 {
            return Err(err(
                "rtsp.rtp_port",
                format!("{} is odd; RTP ports are even", r.rtp_port),
            ));
        }
        if r.rtcp_port != r.rtp_port.wrapping_add(1) {
            return Err(err(
                "rtsp.rtcp_port",
                format!("must be rtp_port + 1 ({})", r.rtp_port.wrapping_add(1)),
            ));
        }
        if r.multicast_rtp_port % 2 != 0
            || r.multicast_rtcp_port != r.multicast_rtp_port.wrapping_add(1)
        {
            return Err(err(
                "rtsp.multicast_rtcp_port",
                "multicast_rtp_port must be even and multicast_rtcp_port = multicast_rtp_port + 1"
                    .into(),
            ));
        }
        if let Err(m) = r.multicast_block() {
            return Err(err("rtsp.multicast_range", m));
        }
        if r.session_timeout == 0 {
            return Err(err(
                "rtsp.session_timeout",
                "must be at least 1 second".into(),
            ));
        }
        if r.udp_catchup_mbps == 0 {
            return Err(err("rtsp.udp_catchup_mbps", "must be at least 1".into()));
        }
        if r.max_header_bytes < 256 {
            return Err(err("rtsp.max_header_bytes", "must be at least 256".into()));
        }
        if self.hub.reader_queue < 16 {
            return Err(err(
                "hub.reader_queue",
                "must be at least 16 packets".into(),
            ));
        }
        if self.hub.max_packet_bytes != 0 && !(100..=65535).contains(&self.hub.max_packet_bytes) {
            return Err(err(
                "hub.max_packet_bytes",
                "must be 0 (off) or from 100 to 65535".into(),
            ));
        }
        if !(0.0..=3600.0).contains(&self.hub.publisher_grace) {
            return Err(err(
                "hub.publisher_grace",
                "must be from 0 to 3600 seconds".into(),
            ));
        }
        for (name, p) in &self.paths {
            if !valid_path_name(name) {
                return Err(err(
                    &format!("paths.{name}"),
                    "a path name is one or more of A-Z a-z 0-9 _ - . ~ separated by single '/'"
                        .into(),
                ));
            }
            if !matches!(p.transport.as_str(), "auto" | "udp" | "tcp" | "multicast") {
                return Err(err(
                    &format!("paths.{name}.transport"),
                    format!("`{}`: expected auto, udp, tcp or multicast", p.transport),
                ));
            }
            for (key, v) in [
                ("on_demand_close_after", p.on_demand_close_after),
                ("on_demand_start_timeout", p.on_demand_start_timeout),
                ("udp_fallback_after", p.udp_fallback_after),
                ("reconnect_min", p.reconnect_min),
                ("reconnect_max", p.reconnect_max),
            ] {
                if !(0.01..=86_400.0).contains(&v) {
                    return Err(err(
                        &format!("paths.{name}.{key}"),
                        format!("{v}: must be from 0.01 to 86400 seconds"),
                    ));
                }
            }
            if p.reconnect_max < p.reconnect_min {
                return Err(err(
                    &format!("paths.{name}.reconnect_max"),
                    "must not be less than reconnect_min".into(),
                ));
            }
            if p.on_demand && !matches!(p.source, Source::Rtsp(_)) {
                return Err(err(
                    &format!("paths.{name}.on_demand"),
                    "only a path with an rtsp:// source can be on demand".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Whether a path name is acceptable: segments of unreserved URL characters joined by single `/`.
pub fn valid_path_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 1024
        && name.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.~".contains(&b))
        })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = l.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
}

fn find_key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key).is_some_and(|rest| {
                rest.trim_start().starts_with('=') || rest.trim_start().starts_with(']')
            }) || l.starts_with(&format!("[paths.{key}]"))
                || l.starts_with(&format!("[paths.\"{key}\"]"))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_parses() {
        let c = Config::parse(DEFAULT_CONFIG, "default").unwrap();
        assert_eq!(c.rtsp.listen.port(), 8554);
        assert_eq!(c.rtsp.rtp_port, 8000);
        assert_eq!(c.paths.get("demo").map(|p| &p.source), Some(&Source::Demo));
        assert!(c.hub.publish_any_path);
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let c = Config::parse("", "x.toml").unwrap();
        assert_eq!(c.rtsp.session_timeout, 60);
        assert!(c.paths.is_empty());
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = Config::parse(
            "[rtsp]\nlisten = \"0.0.0.0:1\"\nrtp_prot = 9000\n",
            "a.toml",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.key.as_deref(), Some("rtp_prot"));
        assert!(e.to_string().starts_with("a.toml:3: key `rtp_prot`"), "{e}");
    }

    #[test]
    fn bad_type_names_line() {
        let e = Config::parse("[rtsp]\n\nrtp_port = \"x\"\n", "b.toml").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert_eq!(e.key.as_deref(), Some("rtp_port"));
    }

    #[test]
    fn semantic_error_names_key() {
        let e = Config::parse("[rtsp]\nrtp_port = 8001\nrtcp_port = 8002\n", "c.toml").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("rtsp.rtp_port"));
        assert_eq!(e.line, Some(2));
        let e = Config::parse("[paths.\"a//b\"]\n", "d.toml").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("paths.a//b"));
        let e = Config::parse("[paths.x]\nsource = \"camera\"\n", "e.toml").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
    }

    #[test]
    fn path_names() {
        assert!(valid_path_name("cam1"));
        assert!(valid_path_name("site/a/cam-1.main"));
        assert!(!valid_path_name("a//b"));
        assert!(!valid_path_name("../x"));
        assert!(!valid_path_name("a b"));
        assert!(!valid_path_name(""));
    }

    #[test]
    fn multicast_block() {
        let r = RtspConfig::default();
        assert_eq!(
            r.multicast_block().unwrap(),
            (Ipv4Addr::new(239, 255, 42, 0), 256)
        );
    }

    /// The README's configuration reference is the embedded default, word for word.
    #[test]
    fn readme_shows_the_default_config() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("## Configuration reference")
            .and_then(|at| readme[at..].find("```toml\n").map(|i| at + i + 8))
            .expect("a toml block under `## Configuration reference`");
        let end = readme[start..].find("```").expect("the block ends") + start;
        assert_eq!(
            &readme[start..end],
            DEFAULT_CONFIG,
            "README.md's configuration reference differs from crates/sluice-server/src/default.toml"
        );
    }
}
