//! Pulled cameras: `source = "rtsp://…"`. Exactly one camera session per path, whatever the number of
//! readers; always on, or on demand (connect on the first reader, close after an idle time). When the camera
//! drops, the path's stream stays and its readers stay attached; the source reconnects with exponential
//! backoff and jitter, and the hub continues the stream's numbering when the camera comes back with the same
//! tracks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_client::{ClientError, Session, SessionOptions, TransportPolicy};
use tracing::{info, warn};

use super::backoff::{Backoff, Waiting};
use crate::config::PathConfig;
use crate::hub::{Claim, Hub, SourceFailure, Track};

/// Why a camera session ended without an error.
enum Ended {
    /// The camera ended the stream.
    ByCamera,
    /// On demand, nobody was reading.
    Idle,
}

/// Pulls `url` into `path` forever.
///
/// On demand, a camera that fails before it delivers a stream is retried with the same backoff as an
/// always-on one for as long as readers wait for it (`on_demand_start_timeout`; they are then answered
/// that the path has no stream); after that the source waits for the next reader, and a reader that
/// comes during a backoff delay waits for its end, so a dead camera is not hammered by every DESCRIBE.
pub async fn run(hub: Arc<Hub>, path: String, url: String, cfg: PathConfig) {
    let mut claim = match hub.claim_source(&path) {
        Ok(c) => c,
        Err(e) => {
            warn!(path, error = %e, "camera source cannot start");
            return;
        }
    };
    let demand = cfg.on_demand.then(|| hub.on_demand(&path));
    let mut backoff = Backoff::new(secs(cfg.reconnect_min), secs(cfg.reconnect_max));
    let mut waiting = Waiting::new(secs(cfg.on_demand_start_timeout));
    // The URL may hold credentials: logs show it through the client's redacting parser only.
    let shown = sluice_rtsp::url::RtspUrl::parse(&url)
        .map_or_else(|_| "<invalid URL>".to_string(), |u| u.to_string());
    loop {
        if let Some(d) = &demand {
            if claim.stream().is_none() {
                if waiting.any(Instant::now()) {
                    info!(path, url = %shown, "readers still wait for the on-demand camera: retrying");
                } else {
                    d.wanted().await;
                    waiting.wanted(Instant::now());
                    info!(path, url = %shown, "a reader wants the on-demand camera: connecting");
                }
            }
        }
        let result = pull(&mut claim, &url, &cfg, &mut backoff).await;
        if claim.stream().is_some() {
            // The stream came up: whoever waited for it has it.
            waiting.served();
        }
        match result {
            Ok(Ended::Idle) => {
                info!(path, "on-demand camera closed: no readers");
                claim.stop();
                backoff.reset();
                continue;
            }
            Ok(Ended::ByCamera) => warn!(path, url = %shown, "the camera ended the stream"),
            Err(e) => {
                warn!(path, url = %shown, error = %e, "camera session failed");
                if let (Some(d), None) = (&demand, claim.stream()) {
                    d.failed(SourceFailure {
                        reason: reader_reason(&e).to_owned(),
                        fatal: e.is_final(),
                    });
                }
            }
        }
        let delay = backoff.next_delay(rand::random::<f64>());
        match &demand {
            Some(d) if claim.stream().is_none_or(|s| s.reader_count() == 0) => {
                // On demand and nobody reading: back off, noting readers that ask meanwhile; the top of
                // the loop retries if one still waits, or else waits for the next.
                claim.stop();
                info!(
                    path,
                    delay_ms = delay.as_millis() as u64,
                    "on-demand camera backing off"
                );
                let until = tokio::time::Instant::now() + delay;
                loop {
                    tokio::select! {
                        () = d.wanted() => waiting.wanted(Instant::now()),
                        () = tokio::time::sleep_until(until) => break,
                    }
                }
            }
            _ => {
                info!(
                    path,
                    delay_ms = delay.as_millis() as u64,
                    "reconnecting to the camera"
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// What a reader is told about a camera failure: the kind, not the camera's address (that stays in the
/// server's log).
fn reader_reason(e: &ClientError) -> &'static str {
    match e {
        ClientError::Unauthorized { .. } => "the camera refused the credentials",
        ClientError::NotFound { .. } => "the camera has no such stream",
        ClientError::NoMedia { .. } => "the camera offers no usable media",
        ClientError::Timeout { .. } => "the camera did not answer in time",
        ClientError::Connect { .. } => "the camera cannot be reached",
        ClientError::Status { .. } | ClientError::MethodNotSupported { .. } => {
            "the camera refused the session"
        }
        _ => "the camera session failed",
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

async fn pull(
    claim: &mut Claim,
    url: &str,
    cfg: &PathConfig,
    backoff: &mut Backoff,
) -> Result<Ended, sluice_client::ClientError> {
    let options = SessionOptions {
        transport: cfg.transport.parse().unwrap_or(TransportPolicy::Auto),
        udp_fallback_after: secs(cfg.udp_fallback_after),
        ..SessionOptions::default()
    };
    let session = Session::describe(url, options).await?;
    let mut playing = session.play(None).await?;
    // The stream's tracks are the ones the client set up (it may leave out an ONVIF metadata track, say);
    // `slot[i]` is the stream track of the session's track `i`.
    let selection = playing.selection().to_vec();
    let mut slot = vec![None; playing.tracks().len()];
    let mut tracks = Vec::with_capacity(selection.len());
    for (n, &i) in selection.iter().enumerate() {
        if let (Some(s), Some(t)) = (slot.get_mut(i), playing.tracks().get(i)) {
            *s = Some(n);
            tracks.push(Track::from_media(t.media.clone()));
        }
    }
    let desc: Vec<String> = tracks
        .iter()
        .map(|t| format!("{}/{}", t.encoding, t.clock_rate))
        .collect();
    let stream = claim.start(tracks);
    info!(
        path = claim.path(),
        tracks = %desc.join(", "),
        transport = ?playing.transport(),
        "camera connected"
    );
    let mut got_packet = false;
    let mut idle_since: Option<Instant> = None;
    let close_after = secs(cfg.on_demand_close_after);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            next = playing.next() => match next? {
                Some(p) => {
                    if !got_packet {
                        got_packet = true;
                        backoff.reset();
                    }
                    if let Some(&Some(track)) = slot.get(p.track) {
                        stream.publish(track, p.data);
                    }
                }
                None => return Ok(Ended::ByCamera),
            },
            _ = tick.tick(), if cfg.on_demand => {
                if stream.reader_count() > 0 {
                    idle_since = None;
                } else if idle_since.get_or_insert_with(Instant::now).elapsed() >= close_after {
                    playing.teardown().await;
                    return Ok(Ended::Idle);
                }
            }
        }
    }
}
