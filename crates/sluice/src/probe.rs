//! `sluice probe URL`: connect to a camera the way a proxy path would and report what it sends.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::Serialize;
use sluice_client::{ClientError, Playing, Session, SessionOptions, TransportPolicy};
use sluice_media::{codec::depacketizer_for, Depacketizer, RtpIn};
use sluice_rtsp::url::RtspUrl;

/// What the probe was asked.
pub struct ProbeArgs {
    pub url: String,
    pub seconds: f64,
    pub transport: TransportPolicy,
    pub json: bool,
}

/// The report, printed as text or as one JSON object.
#[derive(Serialize, Default)]
pub struct Report {
    pub url: String,
    pub ok: bool,
    pub error: Option<String>,
    pub server: Option<String>,
    /// The transport in use when the measurement ended.
    pub transport: Option<String>,
    /// The transport `PLAY` started with, when the session later fell back to another one (UDP that
    /// never arrived, then TCP).
    pub transport_fallback_from: Option<String>,
    pub tracks: Vec<TrackReport>,
    pub describe_ms: Option<f64>,
    pub first_packet_ms: Option<f64>,
    pub first_keyframe_ms: Option<f64>,
    pub seconds: f64,
    pub quirks: Vec<QuirkReport>,
}

#[derive(Serialize, Default)]
pub struct TrackReport {
    pub media: String,
    pub codec: String,
    pub payload_type: u8,
    pub clock_rate: u32,
    pub control: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub profile: Option<String>,
    pub level: Option<String>,
    pub frame_rate: Option<f64>,
    pub sample_rate: Option<u32>,
    pub channels: Option<u16>,
    pub packets: u64,
    pub bytes: u64,
    pub lost: u64,
    pub frames: u64,
    pub keyframes: u64,
    pub bitrate_kbps: f64,
    pub measured_fps: Option<f64>,
}

#[derive(Serialize)]
pub struct QuirkReport {
    pub name: String,
    pub detail: String,
}

/// Exit status for a failure: 2 auth refused, 3 not found, 4 timeout, 5 no media, 1 anything else.
fn exit_code(e: &ClientError) -> i32 {
    match e {
        ClientError::Unauthorized { .. } => 2,
        ClientError::NotFound { .. } => 3,
        ClientError::Timeout { .. } => 4,
        ClientError::NoMedia { .. } => 5,
        _ => 1,
    }
}

struct TrackState {
    depacketizer: Option<Box<dyn Depacketizer>>,
    last_seq: Option<u16>,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

/// Runs the probe; returns the process exit status.
pub async fn run(args: ProbeArgs) -> i32 {
    let mut report = Report {
        url: shown_url(&args.url),
        seconds: args.seconds,
        ..Report::default()
    };
    let code = match probe(&args, &mut report).await {
        Ok(()) => {
            report.ok = true;
            0
        }
        Err(e) => {
            report.error = Some(e.to_string());
            exit_code(&e)
        }
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report)
                .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
    } else {
        print!("{}", text(&report));
    }
    code
}

async fn probe(args: &ProbeArgs, report: &mut Report) -> Result<(), ClientError> {
    let options = SessionOptions {
        transport: args.transport,
        ..SessionOptions::default()
    };
    let start = Instant::now();
    let session = Session::describe(&args.url, options).await?;
    report.describe_ms = Some(ms(start.elapsed()));
    report.server = session.server().map(str::to_string);
    let mut states = Vec::new();
    for t in session.tracks() {
        let depacketizer = depacketizer_for(&t.media, t.payload_type).ok();
        let mut tr = TrackReport {
            media: t.media.media.clone(),
            codec: t.encoding.clone(),
            payload_type: t.payload_type,
            clock_rate: t.clock_rate,
            control: t.control.clone(),
            ..TrackReport::default()
        };
        if let Some(d) = &depacketizer {
            fill_params(&mut tr, d.as_ref());
        }
        report.tracks.push(tr);
        states.push(TrackState {
            depacketizer,
            last_seq: None,
            first_ts: None,
            last_ts: None,
        });
    }
    let play_start = Instant::now();
    let mut playing = session.play(None).await?;
    let started_with = playing.transport();
    report.transport = Some(format!("{started_with:?}"));
    let window = Duration::from_secs_f64(args.seconds.max(0.1));
    let received = receive(&mut playing, report, &mut states, window, play_start).await;
    // With `auto`, a UDP session that receives nothing switches to TCP inside `next`: report the
    // transport the measurement ended with.
    let ended_with = playing.transport();
    report.transport = Some(format!("{ended_with:?}"));
    if ended_with != started_with {
        report.transport_fallback_from = Some(format!("{started_with:?}"));
    }
    let mut seen = BTreeSet::new();
    for q in playing.quirks() {
        if seen.insert((q.name, q.detail.clone())) {
            report.quirks.push(QuirkReport {
                name: q.name.to_string(),
                detail: q.detail.clone(),
            });
        }
    }
    received?;
    for (tr, st) in report.tracks.iter_mut().zip(&states) {
        tr.bitrate_kbps =
            (tr.bytes as f64 * 8.0 / 1000.0 / window.as_secs_f64() * 10.0).round() / 10.0;
        if let (Some(a), Some(b)) = (st.first_ts, st.last_ts) {
            let span = (b - a) as f64 / f64::from(tr.clock_rate.max(1));
            if tr.media == "video" && span > 0.0 && tr.frames > 1 {
                tr.measured_fps = Some(((tr.frames - 1) as f64 / span * 100.0).round() / 100.0);
            }
        }
    }
    playing.teardown().await;
    if report.tracks.iter().all(|t| t.packets == 0) {
        return Err(ClientError::NoMedia {
            url: report.url.clone(),
            detail: format!("no RTP packet within {:.1}s", window.as_secs_f64()),
        });
    }
    Ok(())
}

/// Receives for `window`, counting packets, losses and frames per track.
async fn receive(
    playing: &mut Playing,
    report: &mut Report,
    states: &mut [TrackState],
    window: Duration,
    play_start: Instant,
) -> Result<(), ClientError> {
    let deadline = tokio::time::Instant::now() + window;
    loop {
        let next = match tokio::time::timeout_at(deadline, playing.next()).await {
            Err(_) => break,
            Ok(r) => r?,
        };
        let Some(p) = next else { break };
        let now = Instant::now();
        report.first_packet_ms.get_or_insert(ms(now - play_start));
        let (Some(tr), Some(st)) = (report.tracks.get_mut(p.track), states.get_mut(p.track)) else {
            continue;
        };
        tr.packets += 1;
        tr.bytes += p.data.len() as u64;
        let Ok(rtp) = RtpIn::parse(&p.data) else {
            continue;
        };
        if let Some(last) = st.last_seq {
            let gap = rtp.sequence_number.wrapping_sub(last.wrapping_add(1));
            if gap < 0x8000 {
                tr.lost += u64::from(gap);
            }
        }
        st.last_seq = Some(rtp.sequence_number);
        let Some(d) = st.depacketizer.as_mut() else {
            continue;
        };
        if d.push(rtp).is_err() {
            continue;
        }
        while let Some(au) = d.pull() {
            tr.frames += 1;
            st.first_ts.get_or_insert(au.timestamp.ticks);
            st.last_ts = Some(au.timestamp.ticks);
            if au.keyframe && tr.media == "video" {
                tr.keyframes += 1;
                report.first_keyframe_ms.get_or_insert(ms(now - play_start));
            }
        }
        fill_params(tr, d.as_ref());
    }
    Ok(())
}

/// The URL as reports show it: the password replaced by `***`. A URL that does not parse (a bad
/// port, a bad escape in the userinfo) loses its whole userinfo, since where the password ends is
/// then unknown: everything up to the last `@` goes, as a password may hold an unencoded `@`, `/`,
/// `?` or `#`.
fn shown_url(url: &str) -> String {
    if let Ok(parsed) = RtspUrl::parse(url) {
        return parsed.to_string();
    }
    let Some(at) = url.rfind('@') else {
        return url.to_owned();
    };
    let userinfo_from = url
        .find("://")
        .map(|i| i + "://".len())
        .filter(|&from| from <= at)
        .unwrap_or(0);
    format!(
        "{}***@{}",
        url.get(..userinfo_from).unwrap_or_default(),
        url.get(at + 1..).unwrap_or_default()
    )
}

fn fill_params(tr: &mut TrackReport, d: &dyn Depacketizer) {
    let p = d.params();
    tr.width = p.width.or(tr.width);
    tr.height = p.height.or(tr.height);
    tr.profile = p.profile.clone().or(tr.profile.take());
    tr.level = p.level.clone().or(tr.level.take());
    tr.frame_rate = p.frame_rate.or(tr.frame_rate);
    tr.sample_rate = p.sample_rate.or(tr.sample_rate);
    tr.channels = p.channels.or(tr.channels);
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "URL:        {}", r.url);
    if let Some(v) = &r.server {
        let _ = writeln!(s, "Server:     {v}");
    }
    match (&r.transport, &r.transport_fallback_from) {
        (Some(v), Some(from)) => {
            let _ = writeln!(s, "Transport:  {v} (fell back from {from})");
        }
        (Some(v), None) => {
            let _ = writeln!(s, "Transport:  {v}");
        }
        _ => {}
    }
    for (i, t) in r.tracks.iter().enumerate() {
        let _ = write!(
            s,
            "Track {i}:    {} {} (payload type {}, clock {} Hz)",
            t.media, t.codec, t.payload_type, t.clock_rate
        );
        if let (Some(w), Some(h)) = (t.width, t.height) {
            let _ = write!(s, ", {w}x{h}");
        }
        if let Some(p) = &t.profile {
            let _ = write!(s, ", profile {p}");
        }
        if let Some(l) = &t.level {
            let _ = write!(s, ", level {l}");
        }
        if let Some(f) = t.frame_rate.or(t.measured_fps) {
            let _ = write!(s, ", {f} fps");
        }
        if let Some(sr) = t.sample_rate {
            let _ = write!(s, ", {sr} Hz");
        }
        if let Some(c) = t.channels {
            let _ = write!(s, ", {c} ch");
        }
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "            {} packets, {} lost, {} frames ({} keyframes), {} kbit/s",
            t.packets, t.lost, t.frames, t.keyframes, t.bitrate_kbps
        );
    }
    if let Some(v) = r.describe_ms {
        let _ = writeln!(s, "DESCRIBE:   {v} ms");
    }
    match r.first_packet_ms {
        Some(v) => {
            let _ = writeln!(s, "First packet:   {v} ms after PLAY");
        }
        None => {
            let _ = writeln!(s, "First packet:   none");
        }
    }
    if let Some(v) = r.first_keyframe_ms {
        let _ = writeln!(s, "First keyframe: {v} ms after PLAY");
    }
    if r.quirks.is_empty() {
        let _ = writeln!(s, "Quirks:     none");
    } else {
        let _ = writeln!(s, "Quirks tolerated:");
        for q in &r.quirks {
            let _ = writeln!(s, "  - {}: {}", q.name, q.detail);
        }
    }
    if let Some(e) = &r.error {
        let _ = writeln!(s, "FAILED:     {e}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_never_hold_the_password() {
        let cases = [
            // Parsed: the user name stays, the password is starred.
            ("rtsp://admin:pw@cam/x", "rtsp://admin:***@cam/x"),
            // Not parsed: the whole userinfo goes, up to the last '@'.
            ("rtsp://admin:pw@cam:99999/x", "rtsp://***@cam:99999/x"),
            ("rtsp://admin:p@w%FF@cam/x", "rtsp://***@cam/x"),
            ("rtsp://admin:p/w@cam:0/x", "rtsp://***@cam:0/x"),
            ("admin:pw@cam/x", "***@cam/x"),
            // Nothing to hide.
            ("rtsp://cam:99999/x", "rtsp://cam:99999/x"),
            ("", ""),
        ];
        for (url, shown) in cases {
            assert_eq!(shown_url(url), shown, "{url}");
        }
    }
}
