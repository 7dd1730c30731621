//! Interpreting responses: matching them to requests and classifying their status (sans-IO).

use sluice_rtsp::header::parse_cseq;
use sluice_rtsp::message::{Response, StatusCode};

use crate::error::ClientError;
use crate::options::CseqPolicy;
use crate::quirk::{self, QuirkLog};

/// How a response relates to the outstanding request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CseqMatch {
    /// It answers the request.
    Answer,
    /// It answers an earlier request that was given up on: skip it.
    Late,
    /// It cannot be the answer (strict policy).
    Reject(String),
}

/// Matches `response` against the outstanding request `expected`.
///
/// `abandoned` lists CSeqs of keepalives the client stopped waiting for. RFC 2326 §12.17 says the
/// response carries the request's CSeq; CAMERA-QUIRKS #1 lists cameras that don't (see
/// [`CseqPolicy`]).
pub(crate) fn match_cseq(
    response: &Response,
    expected: u32,
    abandoned: &[u32],
    policy: CseqPolicy,
    quirks: &mut QuirkLog,
) -> CseqMatch {
    let raw = response.headers.get("CSeq");
    match raw.map(parse_cseq) {
        Some(Ok(cseq)) if cseq == expected => CseqMatch::Answer,
        Some(Ok(cseq)) if abandoned.contains(&cseq) => CseqMatch::Late,
        other => {
            let detail = match &other {
                None => format!("response without CSeq to request CSeq {expected}"),
                Some(_) => format!(
                    "response CSeq {:?} to request CSeq {expected}",
                    raw.unwrap_or_default()
                ),
            };
            if policy == CseqPolicy::Strict {
                return CseqMatch::Reject(detail);
            }
            let name = if other.is_none() {
                quirk::CSEQ_MISSING
            } else {
                quirk::CSEQ_MISMATCH
            };
            quirks.record(name, detail);
            CseqMatch::Answer
        }
    }
}

/// What a final response means for the request it answers.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// 2xx.
    Success,
    /// 3xx with a `Location`.
    Redirect(String),
    /// 401 or 407: see [`crate::request::AuthState::on_unauthorized`].
    Unauthorized,
    /// 405, 406, 501 or 551: the method is not supported (CAMERA-QUIRKS #56).
    NotSupported,
    /// 461: the transport is not supported (CAMERA-QUIRKS #14).
    UnsupportedTransport,
    /// Anything else: fail with this error.
    Error(ClientError),
}

/// Classifies `response` to `method` on `url`.
pub(crate) fn classify(method: &str, url: &str, response: &Response) -> Verdict {
    let status = response.status;
    match status.0 {
        200..=299 => Verdict::Success,
        // RFC 2326 §11.3: 3xx redirects carry the new location in `Location`.
        300..=399 => match response.headers.get("Location").filter(|l| !l.is_empty()) {
            Some(location) => Verdict::Redirect(location.to_owned()),
            None => Verdict::Error(status_error(method, url, response)),
        },
        401 | 407 => Verdict::Unauthorized,
        403 => Verdict::Error(ClientError::Unauthorized {
            method: method.to_owned(),
            url: url.to_owned(),
            status,
            had_credentials: false,
        }),
        404 => Verdict::Error(ClientError::NotFound {
            method: method.to_owned(),
            url: url.to_owned(),
        }),
        405 | 406 | 501 | 551 => Verdict::NotSupported,
        461 => Verdict::UnsupportedTransport,
        _ => Verdict::Error(status_error(method, url, response)),
    }
}

pub(crate) fn status_error(method: &str, url: &str, response: &Response) -> ClientError {
    ClientError::Status {
        status: response.status,
        reason: response.reason.clone(),
        method: method.to_owned(),
        url: url.to_owned(),
    }
}

/// Records header names spelled other than canonically (CAMERA-QUIRKS #2).
pub(crate) fn note_header_spelling(response: &Response, quirks: &mut QuirkLog) {
    const CANONICAL: [&str; 6] = [
        "CSeq",
        "Content-Length",
        "Content-Type",
        "Content-Base",
        "Session",
        "Transport",
    ];
    for (name, _) in response.headers.iter() {
        if let Some(canonical) = CANONICAL
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name) && **c != name)
        {
            quirks.record(
                quirk::HEADER_NAME_CASE,
                format!("header `{name}` instead of `{canonical}`"),
            );
        }
    }
}

/// Whether `status` means the session is already gone, for `TEARDOWN` (CAMERA-QUIRKS #55).
pub(crate) fn teardown_gone(status: StatusCode) -> bool {
    status.is_success() || matches!(status.0, 454 | 500)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(cseq: Option<&str>) -> Response {
        let mut r = Response::new(StatusCode::OK);
        if let Some(c) = cseq {
            r.headers.append("CSeq", c);
        }
        r
    }

    #[test]
    fn cseq_matching() {
        let mut q = QuirkLog::default();
        let lenient = CseqPolicy::Lenient;
        assert_eq!(
            match_cseq(&response(Some("3")), 3, &[], lenient, &mut q),
            CseqMatch::Answer
        );
        assert!(q.as_slice().is_empty());
        // Longse: trailing whitespace is not a mismatch.
        assert_eq!(
            match_cseq(&response(Some("3 ")), 3, &[], lenient, &mut q),
            CseqMatch::Answer
        );
        assert!(q.as_slice().is_empty());
        assert_eq!(
            match_cseq(&response(Some("2")), 3, &[2], lenient, &mut q),
            CseqMatch::Late
        );
        // Foscam C1 answers CSeq 0.
        assert_eq!(
            match_cseq(&response(Some("0")), 1, &[], lenient, &mut q),
            CseqMatch::Answer
        );
        assert!(q.has(quirk::CSEQ_MISMATCH));
        assert_eq!(
            match_cseq(&response(None), 1, &[], lenient, &mut q),
            CseqMatch::Answer
        );
        assert!(q.has(quirk::CSEQ_MISSING));
        assert!(matches!(
            match_cseq(&response(None), 1, &[], CseqPolicy::Strict, &mut q),
            CseqMatch::Reject(_)
        ));
    }

    #[test]
    fn classification() {
        let url = "rtsp://h/p";
        let mut redirect = Response::new(StatusCode::FOUND);
        redirect.headers.append("Location", "rtsp://other/p");
        assert!(
            matches!(classify("DESCRIBE", url, &redirect), Verdict::Redirect(l) if l == "rtsp://other/p")
        );
        let bare_redirect = Response::new(StatusCode::MOVED_PERMANENTLY);
        assert!(matches!(
            classify("DESCRIBE", url, &bare_redirect),
            Verdict::Error(ClientError::Status { .. })
        ));
        assert!(matches!(
            classify("DESCRIBE", url, &Response::new(StatusCode::NOT_FOUND)),
            Verdict::Error(ClientError::NotFound { .. })
        ));
        assert!(matches!(
            classify(
                "PAUSE",
                url,
                &Response::new(StatusCode::OPTION_NOT_SUPPORTED)
            ),
            Verdict::NotSupported
        ));
        assert!(matches!(
            classify(
                "SETUP",
                url,
                &Response::new(StatusCode::UNSUPPORTED_TRANSPORT)
            ),
            Verdict::UnsupportedTransport
        ));
        assert!(matches!(
            classify("SETUP", url, &Response::new(StatusCode::UNAUTHORIZED)),
            Verdict::Unauthorized
        ));
        assert!(teardown_gone(StatusCode::SESSION_NOT_FOUND));
        assert!(teardown_gone(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!teardown_gone(StatusCode::BAD_REQUEST));
    }
}
