//! RTSP authentication: Basic (RFC 7617) and Digest (RFC 7616, RFC 2617 and the RFC 2069 form), for
//! both ends of a connection.
//!
//! RTSP 1.0 borrows HTTP's authentication framework (RFC 2326 §16.1 `Authorization`, §16.55
//! `WWW-Authenticate`); the rules are those of RFC 7235 with the schemes of RFC 7617 and RFC 7616.
//!
//! # Client side
//!
//! A 401 response carries one or more `WWW-Authenticate` values. [`Challenge::parse`] (or
//! [`Challenge::parse_all`] for every header value) turns them into [`Challenge`]s, [`choose`]
//! picks the strongest one the client supports, and an [`Authenticator`] then writes the
//! `Authorization` value for every following request, counting `nc` and echoing `opaque` and
//! `algorithm` as the challenge asked. The client nonce is an argument: this module owns no
//! random number generator.
//!
//! ```
//! use sluice_rtsp::auth::{choose, Authenticator, Challenge, Credentials};
//!
//! let challenges = Challenge::parse(
//!     r#"Digest realm="IP Camera(AB705)", nonce="fcc86deace979a488b2bfb89f4d0812c", algorithm="SHA-256", stale="FALSE""#,
//! )?;
//! let challenge = choose(&challenges).expect("a supported challenge").clone();
//! let mut auth = Authenticator::new(Credentials::new("admin", "secret"), challenge);
//! let value = auth.authorization("DESCRIBE", "rtsp://192.0.2.10/Streaming/Channels/101", "0a4f113b");
//! assert!(value.starts_with(r#"Digest username="admin", realm="IP Camera(AB705)""#));
//! assert!(value.contains("algorithm=SHA-256"));
//! # Ok::<(), sluice_rtsp::auth::AuthError>(())
//! ```
//!
//! # Server side
//!
//! [`Challenge`]'s `Display` writes a `WWW-Authenticate` value, and [`verify`] (or
//! [`Authorization::parse`] followed by [`Authorization::verify`]) checks what a client sent.
//! Keeping nonces fresh, refusing replayed `nc` values and matching the digest `uri` against the
//! request line are left to the caller, which owns the state and the clock; servers in the wild
//! disagree on the `uri` form (CAMERA-QUIRKS #27), so [`DigestResponse::uri`] is exposed as sent.
//!
//! # Tolerances
//!
//! Cameras format challenges loosely (CAMERA-QUIRKS #25, #26). The parser accepts, each seen in
//! `shared/corpus/headers/www-authenticate.txt` or `transcripts/longse-401-unauthorized.txt`:
//!
//! - **Quoted or bare values** for every parameter (`stale="FALSE"` from Hikvision,
//!   `stale=FALSE`, `algorithm="MD5"`, `algorithm=MD5`), with `\"` escapes inside quotes.
//! - **Any spacing**: no space after commas, several spaces before a parameter, whitespace around
//!   `=`; empty list elements (`, ,`) are skipped.
//! - **`stale` in any case** (`TRUE`, `true`, `"true"`); anything else means false.
//! - **Empty `opaque=""`** (Bosch) is kept and echoed as `opaque=""`.
//! - **No `qop` and no `algorithm`** (Longse): the RFC 2069 response form and MD5.
//! - **Decimal or very long nonces** (Longse's 8 digits, a 39-digit one) are opaque strings.
//! - **Realms with commas or parentheses inside the quotes** (`"IP Camera(AB705)"`, Bosch's
//!   `"Please log in with a valid username"`).
//! - **Several challenges** in one value (`Digest …, Basic realm="x"`) or in several header values
//!   (Hikvision sends a Digest and a Basic header, ExoPlayer#9800).
//! - **Unknown parameters** (`charset`, `domain`, vendor extensions) are ignored; unknown schemes
//!   (`Negotiate`, `Bearer`) and Digest challenges with an unsupported algorithm are skipped as long
//!   as another challenge in the value is usable.
//! - A Basic challenge without a realm, and a Digest challenge without a realm (an empty realm is
//!   hashed then), are accepted; a Digest challenge without a nonce is not.
//!
//! A challenge whose `qop` offers only `auth-int` is answered in the RFC 2069 form, since requests
//! are authorised without their bodies here.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

/// Longest excerpt of a peer's text kept in an [`AuthError`].
const MAX_EXCERPT: usize = 64;

/// Whitespace skipped around elements and `=` (RFC 7230 §3.2.3 OWS, plus line breaks of a value
/// that was not unfolded).
const WHITESPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// A user name and password.
///
/// `Debug` prints the password as `***`, so credentials can sit inside structures that get logged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and a password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// A Digest hash algorithm (RFC 7616 §3.3, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// `MD5`, the default when a challenge names no algorithm.
    Md5,
    /// `MD5-sess`: A1 also covers the nonce and client nonce.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl DigestAlgorithm {
    /// Parses an `algorithm` value, case-insensitively (RFC 7616 §3.3).
    pub fn parse(value: &str) -> Option<DigestAlgorithm> {
        let value = value.trim();
        [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Md5Sess,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|algorithm| algorithm.name().eq_ignore_ascii_case(value))
    }

    /// The name as written in the `algorithm` parameter.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Whether this is a `-sess` variant (RFC 7616 §3.4.2).
    pub fn is_session(self) -> bool {
        matches!(self, DigestAlgorithm::Md5Sess | DigestAlgorithm::Sha256Sess)
    }

    /// Lower-case hex digest of `parts` joined with `:`.
    fn hash(self, parts: &[&str]) -> String {
        fn run<D: sha2::Digest>(mut hasher: D, parts: &[&str]) -> String {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    hasher.update(b":");
                }
                hasher.update(part.as_bytes());
            }
            hex::encode(hasher.finalize())
        }
        match self {
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => run(Md5::new(), parts),
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => run(Sha256::new(), parts),
        }
    }

    /// Preference among algorithms: stronger hashes first (CAMERA-QUIRKS #25).
    fn strength(self) -> u8 {
        match self {
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => 3,
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => 2,
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One challenge of a `WWW-Authenticate` value (RFC 7235 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Challenge {
    /// `Basic` (RFC 7617 §2).
    Basic {
        /// The protection space; empty when the server sent none.
        realm: String,
    },
    /// `Digest` (RFC 7616 §3.3).
    Digest {
        /// The protection space; empty when the server sent none.
        realm: String,
        /// The server nonce.
        nonce: String,
        /// Data the client echoes unchanged; `Some("")` when the server sent `opaque=""`.
        opaque: Option<String>,
        /// The hash algorithm (MD5 when the challenge names none).
        algorithm: DigestAlgorithm,
        /// The offered quality-of-protection tokens, e.g. `["auth", "auth-int"]`; empty for the
        /// RFC 2069 form.
        qop: Vec<String>,
        /// The previous request was refused only because its nonce had expired (RFC 7616 §3.3).
        stale: bool,
        /// The challenge named its algorithm, so the answer names it too.
        algorithm_named: bool,
        /// The server asks for a hashed user name (RFC 7616 §3.4.4).
        userhash: bool,
    },
}

impl Challenge {
    /// A Basic challenge for `realm`.
    pub fn basic(realm: impl Into<String>) -> Challenge {
        Challenge::Basic {
            realm: realm.into(),
        }
    }

    /// A Digest challenge with `qop="auth"` and the given algorithm (named in the challenge).
    pub fn digest(
        realm: impl Into<String>,
        nonce: impl Into<String>,
        algorithm: DigestAlgorithm,
    ) -> Challenge {
        Challenge::Digest {
            realm: realm.into(),
            nonce: nonce.into(),
            opaque: None,
            algorithm,
            qop: vec!["auth".to_owned()],
            stale: false,
            algorithm_named: true,
            userhash: false,
        }
    }

    /// Parses one `WWW-Authenticate` value, which may hold several challenges.
    ///
    /// Challenges this module cannot answer (unknown schemes, unsupported Digest algorithms,
    /// Digest without a nonce) are skipped; the error of the first one is returned only when no
    /// challenge in the value is usable.
    pub fn parse(value: &str) -> Result<Vec<Challenge>, AuthError> {
        Challenge::parse_all([value])
    }

    /// Parses every `WWW-Authenticate` value of a response, in order, skipping unusable
    /// challenges as [`Challenge::parse`] does. Error offsets count from the start of the value
    /// they were found in.
    pub fn parse_all<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Challenge>, AuthError> {
        let mut out = Vec::new();
        let mut first_error = None;
        for value in values {
            for raw in raw_challenges(value) {
                match Challenge::from_raw(&raw) {
                    Ok(challenge) => out.push(challenge),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        if out.is_empty() {
            Err(first_error.unwrap_or(AuthError::Empty))
        } else {
            Ok(out)
        }
    }

    /// The realm, empty when the server sent none.
    pub fn realm(&self) -> &str {
        match self {
            Challenge::Basic { realm } | Challenge::Digest { realm, .. } => realm,
        }
    }

    /// Whether this is a Digest challenge with `stale=true`.
    pub fn is_stale(&self) -> bool {
        matches!(self, Challenge::Digest { stale: true, .. })
    }

    fn from_raw(raw: &RawChallenge<'_>) -> Result<Challenge, AuthError> {
        if raw.scheme.eq_ignore_ascii_case("Basic") {
            // RFC 7617 §2: realm is required, but a bare `Basic` is answerable all the same.
            return Ok(Challenge::Basic {
                realm: raw.param("realm").unwrap_or_default().to_owned(),
            });
        }
        if !raw.scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::UnsupportedScheme {
                scheme: excerpt(raw.scheme),
                offset: raw.offset,
            });
        }
        // RFC 7616 §3.3: realm and nonce are required; algorithm defaults to MD5.
        let nonce = raw.param("nonce").ok_or(AuthError::Missing {
            param: "nonce",
            offset: raw.offset,
        })?;
        let (algorithm, algorithm_named) = match raw.param("algorithm") {
            None => (DigestAlgorithm::Md5, false),
            Some(name) => (
                DigestAlgorithm::parse(name).ok_or_else(|| AuthError::UnsupportedAlgorithm {
                    algorithm: excerpt(name),
                    offset: raw.offset,
                })?,
                true,
            ),
        };
        let qop = raw
            .param("qop")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|token| !token.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Challenge::Digest {
            realm: raw.param("realm").unwrap_or_default().to_owned(),
            nonce: nonce.to_owned(),
            opaque: raw.param("opaque").map(str::to_owned),
            algorithm,
            qop,
            stale: raw.param("stale").is_some_and(is_true),
            algorithm_named,
            userhash: raw.param("userhash").is_some_and(is_true),
        })
    }

    /// Preference for [`choose`]: Digest SHA-256 > Digest MD5 > Basic.
    fn strength(&self) -> u8 {
        match self {
            Challenge::Basic { .. } => 1,
            Challenge::Digest { algorithm, .. } => algorithm.strength(),
        }
    }
}

impl fmt::Display for Challenge {
    /// Writes the challenge as a `WWW-Authenticate` value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Challenge::Basic { realm } => {
                f.write_str("Basic realm=")?;
                write_quoted(f, realm)
            }
            Challenge::Digest {
                realm,
                nonce,
                opaque,
                algorithm,
                qop,
                stale,
                algorithm_named,
                userhash,
            } => {
                f.write_str("Digest realm=")?;
                write_quoted(f, realm)?;
                f.write_str(", nonce=")?;
                write_quoted(f, nonce)?;
                if let Some(opaque) = opaque {
                    f.write_str(", opaque=")?;
                    write_quoted(f, opaque)?;
                }
                if *algorithm_named || *algorithm != DigestAlgorithm::Md5 {
                    write!(f, ", algorithm={algorithm}")?;
                }
                if !qop.is_empty() {
                    f.write_str(", qop=")?;
                    write_quoted(f, &qop.join(","))?;
                }
                if *stale {
                    f.write_str(", stale=TRUE")?;
                }
                if *userhash {
                    f.write_str(", userhash=true")?;
                }
                Ok(())
            }
        }
    }
}

/// Picks the challenge to answer: Digest SHA-256 over Digest MD5 over Basic (CAMERA-QUIRKS #25);
/// among equals, the first one the server listed.
pub fn choose(challenges: &[Challenge]) -> Option<&Challenge> {
    let mut best: Option<&Challenge> = None;
    for challenge in challenges {
        if best.is_none_or(|b| challenge.strength() > b.strength()) {
            best = Some(challenge);
        }
    }
    best
}

/// Writes `Authorization` values for a client, answering one challenge.
///
/// `Debug` does not print the password.
#[derive(Debug, Clone)]
pub struct Authenticator {
    credentials: Credentials,
    challenge: Challenge,
    /// Requests answered with the current nonce (the last `nc` sent).
    nonce_count: u32,
}

impl Authenticator {
    /// An authenticator answering `challenge` with `credentials`.
    pub fn new(credentials: Credentials, challenge: Challenge) -> Self {
        Authenticator {
            credentials,
            challenge,
            nonce_count: 0,
        }
    }

    /// The `Authorization` header value for this request. `cnonce` is supplied by the caller (no
    /// RNG in sans-IO code); `uri` is the request's Request-URI exactly as written on the request
    /// line (CAMERA-QUIRKS #27). Each call with a Digest challenge counts one `nc`.
    pub fn authorization(&mut self, method: &str, uri: &str, cnonce: &str) -> String {
        let Challenge::Digest {
            realm,
            nonce,
            opaque,
            algorithm,
            qop,
            algorithm_named,
            userhash,
            ..
        } = &self.challenge
        else {
            return basic_authorization(&self.credentials);
        };
        self.nonce_count = self.nonce_count.saturating_add(1);
        let algorithm = *algorithm;
        // RFC 7616 §3.4.2: only qop=auth is answered; auth-int would need the request body.
        let qop = qop
            .iter()
            .any(|q| q.eq_ignore_ascii_case("auth"))
            .then_some("auth");
        let nc = format!("{:08x}", self.nonce_count);
        let response = digest_response(&DigestInput {
            algorithm,
            username: &self.credentials.username,
            password: &self.credentials.password,
            realm,
            nonce,
            cnonce,
            nc: &nc,
            qop,
            method,
            uri,
        });
        // RFC 7616 §3.4.4: with userhash the user name is H(username ":" realm).
        let username = if *userhash {
            algorithm.hash(&[&self.credentials.username, realm])
        } else {
            self.credentials.username.clone()
        };

        // RFC 7616 §3.4 (parameter order as in the §3.9.1 example).
        let mut out = String::with_capacity(256);
        out.push_str("Digest username=");
        push_quoted(&mut out, &username);
        out.push_str(", realm=");
        push_quoted(&mut out, realm);
        out.push_str(", uri=");
        push_quoted(&mut out, uri);
        if *algorithm_named || algorithm != DigestAlgorithm::Md5 {
            out.push_str(", algorithm=");
            out.push_str(algorithm.name());
        }
        out.push_str(", nonce=");
        push_quoted(&mut out, nonce);
        if let Some(qop) = qop {
            out.push_str(", nc=");
            out.push_str(&nc);
            out.push_str(", cnonce=");
            push_quoted(&mut out, cnonce);
            out.push_str(", qop=");
            out.push_str(qop);
        } else if algorithm.is_session() {
            // RFC 2617 §3.2.2: a -sess A1 needs the client nonce even without qop.
            out.push_str(", cnonce=");
            push_quoted(&mut out, cnonce);
        }
        out.push_str(", response=");
        push_quoted(&mut out, &response);
        if let Some(opaque) = opaque {
            out.push_str(", opaque=");
            push_quoted(&mut out, opaque);
        }
        if *userhash {
            out.push_str(", userhash=true");
        }
        out
    }

    /// Whether a new 401 challenge calls for one more attempt with the same credentials: it is a
    /// Digest challenge that says `stale=true` or carries a nonce other than the one answered so
    /// far (a mid-session re-challenge, CAMERA-QUIRKS #28). The caller retries at most once per
    /// request, after [`Authenticator::update`], so a server that keeps refusing cannot loop it.
    pub fn is_stale_retry(&self, new: &Challenge) -> bool {
        match (new, &self.challenge) {
            (Challenge::Digest { stale: true, .. }, _) => true,
            (Challenge::Digest { nonce: new, .. }, Challenge::Digest { nonce: old, .. }) => {
                new != old
            }
            _ => false,
        }
    }

    /// Answers `challenge` from now on. The nonce count restarts when the nonce changes.
    pub fn update(&mut self, challenge: Challenge) {
        let same_nonce = matches!(
            (&challenge, &self.challenge),
            (Challenge::Digest { nonce: new, .. }, Challenge::Digest { nonce: old, .. }) if new == old
        );
        if !same_nonce {
            self.nonce_count = 0;
        }
        self.challenge = challenge;
    }

    /// The challenge being answered.
    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    /// The last `nc` sent with the current nonce (0 before the first Digest request).
    pub fn nonce_count(&self) -> u32 {
        self.nonce_count
    }
}

/// A parsed `Authorization` value, as a server receives it (RFC 7235 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authorization {
    /// `Basic` with the decoded user name and password (RFC 7617 §2).
    Basic(Credentials),
    /// `Digest` (RFC 7616 §3.4).
    Digest(DigestResponse),
}

/// The parameters of a Digest `Authorization` value (RFC 7616 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DigestResponse {
    /// The user name, or its hash when [`DigestResponse::userhash`] is set.
    pub username: String,
    /// The realm the client answered.
    pub realm: String,
    /// The server nonce the client answered.
    pub nonce: String,
    /// The `uri` parameter, as the client wrote it.
    pub uri: String,
    /// The hex response digest.
    pub response: String,
    /// The algorithm (MD5 when absent).
    pub algorithm: DigestAlgorithm,
    /// The chosen quality of protection; `None` for the RFC 2069 form.
    pub qop: Option<String>,
    /// The nonce count, parsed from its eight hex digits.
    pub nc: Option<u32>,
    /// The client nonce.
    pub cnonce: Option<String>,
    /// The echoed opaque value.
    pub opaque: Option<String>,
    /// The user name is hashed (RFC 7616 §3.4.4).
    pub userhash: bool,
}

impl Authorization {
    /// Parses an `Authorization` value.
    pub fn parse(value: &str) -> Result<Authorization, AuthError> {
        let mut raws = raw_challenges(value).into_iter();
        let raw = raws.next().ok_or(AuthError::Empty)?;
        if raw.scheme.eq_ignore_ascii_case("Basic") {
            return parse_basic(&raw).map(Authorization::Basic);
        }
        if !raw.scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::UnsupportedScheme {
                scheme: excerpt(raw.scheme),
                offset: raw.offset,
            });
        }
        let required = |param: &'static str| {
            raw.param(param)
                .map(str::to_owned)
                .ok_or(AuthError::Missing {
                    param,
                    offset: raw.offset,
                })
        };
        let algorithm = match raw.param("algorithm") {
            None => DigestAlgorithm::Md5,
            Some(name) => {
                DigestAlgorithm::parse(name).ok_or_else(|| AuthError::UnsupportedAlgorithm {
                    algorithm: excerpt(name),
                    offset: raw.offset,
                })?
            }
        };
        let nc = match raw.param("nc") {
            None => None,
            Some(nc) => Some(parse_nc(nc).ok_or(AuthError::Invalid {
                param: "nc",
                offset: raw.offset,
            })?),
        };
        Ok(Authorization::Digest(DigestResponse {
            username: required("username")?,
            realm: raw.param("realm").unwrap_or_default().to_owned(),
            nonce: required("nonce")?,
            uri: required("uri")?,
            response: required("response")?,
            algorithm,
            qop: raw.param("qop").map(str::to_owned),
            nc,
            cnonce: raw.param("cnonce").map(str::to_owned),
            opaque: raw.param("opaque").map(str::to_owned),
            userhash: raw.param("userhash").is_some_and(is_true),
        }))
    }

    /// The user name the client claims (for a hashed Digest user name, the hash).
    pub fn username(&self) -> &str {
        match self {
            Authorization::Basic(credentials) => &credentials.username,
            Authorization::Digest(digest) => &digest.username,
        }
    }

    /// Whether this proves knowledge of `credentials` for `method`, `realm` and `nonce`.
    ///
    /// Basic compares the user name and password. Digest requires the realm and nonce the server
    /// issued, recomputes the response with the client's `uri`, `algorithm`, `qop`, `nc` and
    /// `cnonce`, and accepts `qop=auth` or the RFC 2069 form. Comparisons of secrets take time
    /// independent of where they differ.
    pub fn verify(
        &self,
        method: &str,
        credentials: &Credentials,
        realm: &str,
        nonce: &str,
    ) -> bool {
        match self {
            Authorization::Basic(sent) => {
                // Both comparisons always run, so the timing does not tell which one failed.
                let user =
                    constant_time_eq(sent.username.as_bytes(), credentials.username.as_bytes());
                let password =
                    constant_time_eq(sent.password.as_bytes(), credentials.password.as_bytes());
                user & password
            }
            Authorization::Digest(digest) => digest.verify(method, credentials, realm, nonce),
        }
    }
}

impl DigestResponse {
    fn verify(&self, method: &str, credentials: &Credentials, realm: &str, nonce: &str) -> bool {
        if self.realm != realm || self.nonce != nonce {
            return false;
        }
        let username_ok = if self.userhash {
            let expected = self.algorithm.hash(&[&credentials.username, realm]);
            constant_time_eq(
                self.username.to_ascii_lowercase().as_bytes(),
                expected.as_bytes(),
            )
        } else {
            self.username == credentials.username
        };
        let (qop, nc, cnonce) = match (&self.qop, self.nc, &self.cnonce) {
            (None, _, cnonce) => (None, String::new(), cnonce.as_deref().unwrap_or_default()),
            (Some(qop), Some(nc), Some(cnonce)) if qop.eq_ignore_ascii_case("auth") => {
                (Some("auth"), format!("{nc:08x}"), cnonce.as_str())
            }
            _ => return false,
        };
        if self.algorithm.is_session() && self.cnonce.is_none() {
            return false;
        }
        let expected = digest_response(&DigestInput {
            algorithm: self.algorithm,
            username: &credentials.username,
            password: &credentials.password,
            realm,
            nonce,
            cnonce,
            nc: &nc,
            qop,
            method,
            uri: &self.uri,
        });
        let response_ok = constant_time_eq(
            self.response.to_ascii_lowercase().as_bytes(),
            expected.as_bytes(),
        );
        username_ok & response_ok
    }
}

/// Server side: whether the `Authorization` value `authorization` proves knowledge of
/// `credentials` for a request with `method`, given the `realm` and `nonce` the server issued
/// (ignored for Basic). See [`Authorization::verify`]; an unparseable value is refused.
pub fn verify(
    authorization: &str,
    method: &str,
    credentials: &Credentials,
    realm: &str,
    nonce: &str,
) -> bool {
    Authorization::parse(authorization)
        .is_ok_and(|parsed| parsed.verify(method, credentials, realm, nonce))
}

/// A `WWW-Authenticate` or `Authorization` value that could not be used.
///
/// Offsets are byte offsets of the challenge (or credentials) within the header value. Passwords
/// and other secrets never appear in an error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The value is empty or holds no scheme.
    #[error("authentication header holds no scheme")]
    Empty,
    /// A scheme other than Basic and Digest.
    #[error("unsupported authentication scheme {scheme:?} at offset {offset}")]
    UnsupportedScheme {
        /// An excerpt of the scheme name.
        scheme: String,
        /// Where the challenge starts.
        offset: usize,
    },
    /// A Digest algorithm other than MD5, SHA-256 and their `-sess` variants.
    #[error("unsupported Digest algorithm {algorithm:?} at offset {offset}")]
    UnsupportedAlgorithm {
        /// An excerpt of the algorithm name.
        algorithm: String,
        /// Where the challenge starts.
        offset: usize,
    },
    /// A required parameter is absent.
    #[error("authentication parameters at offset {offset} lack {param}")]
    Missing {
        /// The parameter, e.g. `"nonce"`.
        param: &'static str,
        /// Where the challenge starts.
        offset: usize,
    },
    /// A parameter is malformed (e.g. Basic credentials that are not base64 of `user:password`).
    #[error("invalid {param} in the authentication value at offset {offset}")]
    Invalid {
        /// The parameter.
        param: &'static str,
        /// Where the challenge starts.
        offset: usize,
    },
}

/// The `Authorization` value for Basic (RFC 7617 §2): base64 of `user-id ":" password`, UTF-8.
fn basic_authorization(credentials: &Credentials) -> String {
    let mut pair =
        String::with_capacity(credentials.username.len() + credentials.password.len() + 1);
    pair.push_str(&credentials.username);
    pair.push(':');
    pair.push_str(&credentials.password);
    let mut out = String::from("Basic ");
    BASE64.encode_string(pair.as_bytes(), &mut out);
    out
}

/// Decodes Basic credentials (RFC 7617 §2): the user-id ends at the first colon.
fn parse_basic(raw: &RawChallenge<'_>) -> Result<Credentials, AuthError> {
    let invalid = AuthError::Invalid {
        param: "credentials",
        offset: raw.offset,
    };
    let token = raw.token68.ok_or_else(|| invalid.clone())?;
    let decoded = BASE64.decode(token.trim()).map_err(|_| invalid.clone())?;
    let text = String::from_utf8(decoded).map_err(|_| invalid.clone())?;
    let (username, password) = text.split_once(':').ok_or(invalid)?;
    Ok(Credentials::new(username, password))
}

/// What the Digest response is computed from.
struct DigestInput<'a> {
    algorithm: DigestAlgorithm,
    username: &'a str,
    password: &'a str,
    realm: &'a str,
    nonce: &'a str,
    cnonce: &'a str,
    nc: &'a str,
    qop: Option<&'a str>,
    method: &'a str,
    uri: &'a str,
}

/// The Digest `response` value.
fn digest_response(input: &DigestInput<'_>) -> String {
    let h = |parts: &[&str]| input.algorithm.hash(parts);
    // RFC 7616 §3.4.2: A1 = username ":" realm ":" passwd, and for -sess
    // H(username ":" realm ":" passwd) ":" nonce ":" cnonce.
    let mut ha1 = h(&[input.username, input.realm, input.password]);
    if input.algorithm.is_session() {
        ha1 = h(&[&ha1, input.nonce, input.cnonce]);
    }
    // RFC 7616 §3.4.3: A2 = Method ":" request-uri (qop=auth or none).
    let ha2 = h(&[input.method, input.uri]);
    match input.qop {
        // RFC 7616 §3.4.1: KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)).
        Some(qop) => h(&[&ha1, input.nonce, input.nc, input.cnonce, qop, &ha2]),
        // RFC 2069 §2.1.2 (kept by RFC 2617 §3.2.2.1): KD(H(A1), nonce ":" H(A2)).
        None => h(&[&ha1, input.nonce, &ha2]),
    }
}

/// `nc` is exactly eight hex digits (RFC 7616 §3.4); fewer are tolerated.
fn parse_nc(value: &str) -> Option<u32> {
    if value.is_empty() || value.len() > 8 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(value, 16).ok()
}

/// `true` in any case, quoted or not (the quotes are already gone here).
fn is_true(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

/// Compares two byte strings in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// At most [`MAX_EXCERPT`] bytes of `value`, cut at a character boundary.
fn excerpt(value: &str) -> String {
    let mut end = value.len().min(MAX_EXCERPT);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value.get(..end).unwrap_or_default().to_owned()
}

/// Writes `value` as a quoted-string (RFC 7230 §3.2.6), escaping `"` and `\`.
fn write_quoted(f: &mut impl fmt::Write, value: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

fn push_quoted(out: &mut String, value: &str) {
    // Writing to a String cannot fail.
    let _ = write_quoted(out, value);
}

/// One challenge (or credentials) as found in a header value: the scheme and its parameters.
struct RawChallenge<'a> {
    scheme: &'a str,
    offset: usize,
    /// A token68 right after the scheme (Basic credentials).
    token68: Option<&'a str>,
    params: Vec<(&'a str, String)>,
}

impl RawChallenge<'_> {
    /// The first value of the parameter `name` (case-insensitive).
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One comma-separated element of an authentication header.
enum Item<'a> {
    /// `scheme`, optionally followed by whitespace and its first parameter or a token68.
    Scheme(&'a str, Option<Param<'a>>),
    /// `name = value`, the value unquoted.
    Param(&'a str, String),
    /// Anything else (junk).
    Other,
}

/// What follows a scheme name in the same element.
enum Param<'a> {
    /// `name = value`.
    Named(&'a str, String),
    /// A token68 (RFC 7235 §2.1), e.g. Basic credentials.
    Token68(&'a str),
}

/// Splits a header value into challenges (RFC 7235 §4.1, §2.1): a comma-separated list in which
/// an element starting with `token SP` opens a new challenge and `token = value` elements are the
/// parameters of the current one. Elements before the first scheme are ignored.
fn raw_challenges(value: &str) -> Vec<RawChallenge<'_>> {
    let mut out: Vec<RawChallenge<'_>> = Vec::new();
    for (offset, element) in split_elements(value) {
        match parse_item(element) {
            Item::Scheme(scheme, first) => {
                let mut raw = RawChallenge {
                    scheme,
                    offset,
                    token68: None,
                    params: Vec::new(),
                };
                match first {
                    Some(Param::Named(name, value)) => raw.params.push((name, value)),
                    Some(Param::Token68(token)) => raw.token68 = Some(token),
                    None => {}
                }
                out.push(raw);
            }
            Item::Param(name, value) => {
                if let Some(current) = out.last_mut() {
                    current.params.push((name, value));
                }
            }
            Item::Other => {}
        }
    }
    out
}

/// Splits at commas outside quoted strings, trimming each element and dropping empty ones.
/// Yields each element with its byte offset in `value`.
fn split_elements(value: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    fn push<'a>(value: &'a str, from: usize, to: usize, out: &mut Vec<(usize, &'a str)>) {
        let raw = value.get(from..to).unwrap_or_default();
        let trimmed = raw.trim_start_matches(WHITESPACE);
        let offset = from + (raw.len() - trimmed.len());
        let trimmed = trimmed.trim_end_matches(WHITESPACE);
        if !trimmed.is_empty() {
            out.push((offset, trimmed));
        }
    }
    for (i, b) in value.bytes().enumerate() {
        if in_quotes {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quotes = false;
            }
        } else if b == b'"' {
            in_quotes = true;
        } else if b == b',' {
            push(value, start, i, &mut out);
            start = i + 1;
        }
    }
    push(value, start, value.len(), &mut out);
    out
}

/// Classifies one element (already trimmed).
fn parse_item(element: &str) -> Item<'_> {
    let (token, rest) = split_token(element);
    if token.is_empty() {
        return Item::Other;
    }
    let after = rest.trim_start_matches(WHITESPACE);
    if let Some(value) = after.strip_prefix('=') {
        // RFC 7235 §2.1: auth-param = token BWS "=" BWS ( token / quoted-string ).
        return Item::Param(token, unquote(value));
    }
    if after.is_empty() {
        return Item::Scheme(token, None);
    }
    if after.len() == rest.len() {
        return Item::Other;
    }
    // `scheme SP ...`: the rest is a token68 or the first parameter.
    if is_token68(after) {
        return Item::Scheme(token, Some(Param::Token68(after)));
    }
    let (name, rest) = split_token(after);
    let first = rest
        .trim_start_matches(WHITESPACE)
        .strip_prefix('=')
        .filter(|_| !name.is_empty())
        .map(|value| Param::Named(name, unquote(value)));
    Item::Scheme(token, first)
}

/// The leading token of `text` and what follows it.
fn split_token(text: &str) -> (&str, &str) {
    let len = text.bytes().take_while(|&b| is_tchar(b)).count();
    text.split_at_checked(len).unwrap_or(("", text))
}

/// RFC 7235 §2.1: token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
fn is_token68(text: &str) -> bool {
    let body = text.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// A parameter value: a quoted-string with its escapes removed (an unterminated one runs to the
/// end; text after the closing quote is ignored), or a bare value trimmed of whitespace.
fn unquote(value: &str) -> String {
    let value = value.trim_matches(WHITESPACE);
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// RFC 7230 §3.2.6 tchar.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
