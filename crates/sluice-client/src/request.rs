//! Building requests: `CSeq`, `Session`, optional headers and authorization (sans-IO).

use sluice_rtsp::auth::{self, Authenticator, Challenge, Credentials};
use sluice_rtsp::message::{Method, Request, Response};

use crate::options::{RequestHeaderPolicy, SessionOptions};
use crate::quirk::{self, QuirkLog};

/// Numbers, decorates and authorizes the client's requests.
#[derive(Debug)]
pub(crate) struct Requester {
    next_cseq: u32,
    user_agent: Option<String>,
    /// The session id every request after the first `SETUP` carries.
    pub(crate) session_id: Option<String>,
    pub(crate) auth: AuthState,
}

impl Requester {
    pub(crate) fn new(options: &SessionOptions, credentials: Option<Credentials>) -> Self {
        let user_agent = match options.request_headers {
            RequestHeaderPolicy::Minimal => None,
            _ => Some(options.user_agent.clone()).filter(|ua| !ua.is_empty()),
        };
        Requester {
            // GStreamer starts at 1 because "some servers don't copy values <1 due to bugs".
            next_cseq: 1,
            user_agent,
            session_id: None,
            auth: AuthState::new(credentials),
        }
    }

    /// A request for `method` on `uri` with the standard headers; `cnonce` feeds Digest.
    pub(crate) fn build(&mut self, method: Method, uri: &str, cnonce: &str) -> Request {
        let cseq = self.next_cseq;
        self.next_cseq = self.next_cseq.wrapping_add(1).max(1);
        // go2rtc#7: some cameras need exactly `CSeq`.
        let mut request = Request::new(method.clone(), uri).with_header("CSeq", cseq.to_string());
        if let Some(ua) = &self.user_agent {
            request = request.with_header("User-Agent", ua.clone());
            if method == Method::Describe {
                request = request.with_header("Accept", "application/sdp");
            }
        }
        if let Some(id) = &self.session_id {
            if !matches!(method, Method::Describe) {
                request = request.with_header("Session", id.clone());
            }
        }
        // RFC 2617 §3.2.2 / CAMERA-QUIRKS #27: the digest uri is the exact Request-URI, no userinfo.
        if let Some(value) = self.auth.authorization(method.as_str(), uri, cnonce) {
            request = request.with_header("Authorization", value);
        }
        request
    }
}

/// What to do after a 401.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthDecision {
    /// Send the request again (with a new authorization).
    Retry,
    /// Report [`ClientError::Unauthorized`](crate::ClientError::Unauthorized).
    Fail,
}

/// Credentials from the URL and the challenge they answer.
pub(crate) struct AuthState {
    credentials: Option<Credentials>,
    authenticator: Option<Authenticator>,
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints credentials or the authenticator's state.
        f.debug_struct("AuthState")
            .field("has_credentials", &self.credentials.is_some())
            .field(
                "scheme",
                &self.authenticator.as_ref().map(|a| scheme(a.challenge())),
            )
            .finish()
    }
}

impl AuthState {
    pub(crate) fn new(credentials: Option<Credentials>) -> Self {
        AuthState {
            credentials,
            authenticator: None,
        }
    }

    pub(crate) fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    fn authorization(&mut self, method: &str, uri: &str, cnonce: &str) -> Option<String> {
        self.authenticator
            .as_mut()
            .map(|a| a.authorization(method, uri, cnonce))
    }

    /// Decides about a 401 (or 407) `response` to a request that carried an authorization or not.
    ///
    /// CAMERA-QUIRKS #28: a request that carried credentials is tried once more only when the new
    /// challenge is `stale=true` or brings a new nonce (Axis M5525 re-challenges keepalives after
    /// ~150 s); otherwise the credentials are wrong, and retrying would loop. The caller also caps
    /// the retries per request.
    pub(crate) fn on_unauthorized(
        &mut self,
        response: &Response,
        sent_authorization: bool,
        quirks: &mut QuirkLog,
    ) -> AuthDecision {
        let Some(credentials) = &self.credentials else {
            return AuthDecision::Fail;
        };
        // CAMERA-QUIRKS #25: every challenge of every header; unusable ones are skipped.
        let challenges = Challenge::parse_all(
            response
                .headers
                .get_all("WWW-Authenticate")
                .chain(response.headers.get_all("Proxy-Authenticate")),
        )
        .unwrap_or_default();
        if challenges.len() > 1 {
            let schemes: Vec<&str> = challenges.iter().map(scheme).collect();
            quirks.record(
                quirk::MULTIPLE_CHALLENGES,
                format!("offered {}", schemes.join(", ")),
            );
        }
        // Digest SHA-256 > Digest MD5 > Basic.
        let Some(chosen) = auth::choose(&challenges) else {
            return AuthDecision::Fail;
        };
        if let Challenge::Digest { qop, .. } = chosen {
            if qop.is_empty() {
                quirks.record(
                    quirk::DIGEST_WITHOUT_QOP,
                    "Digest challenge without qop (RFC 2069 mode)",
                );
            }
        }
        match &mut self.authenticator {
            Some(current) if sent_authorization => {
                if !current.is_stale_retry(chosen) {
                    return AuthDecision::Fail;
                }
                quirks.record(
                    quirk::REAUTHENTICATED,
                    "a 401 with a new or stale nonce after authenticating; answered once",
                );
                current.update(chosen.clone());
            }
            _ => {
                self.authenticator = Some(Authenticator::new(credentials.clone(), chosen.clone()));
            }
        }
        AuthDecision::Retry
    }
}

fn scheme(challenge: &Challenge) -> &'static str {
    match challenge {
        Challenge::Basic { .. } => "Basic",
        Challenge::Digest { .. } => "Digest",
        _ => "other",
    }
}
