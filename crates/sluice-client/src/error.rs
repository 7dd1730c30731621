//! The client's errors. Each says which request and which URL (never with the password).

use std::time::Duration;

use sluice_rtsp::message::StatusCode;

/// Why a session could not be opened or went on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL could not be parsed, or uses a scheme the client does not support.
    #[error("invalid URL {url}: {detail}")]
    InvalidUrl {
        /// The URL, without password.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The TCP connection could not be opened.
    #[error("cannot connect to {addr} for {url}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The URL, without password.
        url: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Something did not happen in time.
    #[error("{what} for {url} did not complete within {after:?}")]
    Timeout {
        /// What was awaited: a request method (`DESCRIBE`) or `connect`, `media`.
        what: String,
        /// The URL, without password.
        url: String,
        /// The time allowed.
        after: Duration,
    },
    /// The server refused the credentials, or there were none to give (401, 403, 407).
    #[error("{method} {url}: {status} (unauthorized{})", if *.had_credentials { "; credentials refused" } else { "; no credentials in the URL" })]
    Unauthorized {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The status the server answered.
        status: StatusCode,
        /// Whether credentials were sent.
        had_credentials: bool,
    },
    /// The server does not know the stream (404).
    #[error("{method} {url}: 404 Not Found")]
    NotFound {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
    },
    /// Any other error status.
    #[error("{method} {url}: {status} {reason}")]
    Status {
        /// The status.
        status: StatusCode,
        /// Its reason phrase as sent.
        reason: String,
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
    },
    /// The server answered a method with 405, 406, 501 or 551 (CAMERA-QUIRKS #56); the session goes
    /// on and the method is not sent again.
    #[error("{method} {url}: not supported by the server{}", .status.map(|s| format!(" ({s})")).unwrap_or_default())]
    MethodNotSupported {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The status that said so (none when the method was already known to be unsupported).
        status: Option<StatusCode>,
    },
    /// The server broke the protocol in a way the client cannot work around.
    #[error("protocol error on {url}{}: {detail}", .method.as_deref().map(|m| format!(" ({m})")).unwrap_or_default())]
    Protocol {
        /// The request being answered, if any.
        method: Option<String>,
        /// The URL, without password.
        url: String,
        /// What went wrong, with the stream offset where it applies.
        detail: String,
    },
    /// The description has no track the client can receive.
    #[error("{url}: no usable media ({detail})")]
    NoMedia {
        /// The URL described.
        url: String,
        /// Why each media section was left out.
        detail: String,
    },
    /// The connection closed while a response was awaited.
    #[error("{url}: connection closed by the server while waiting for the {method} response")]
    Closed {
        /// The request method.
        method: String,
        /// The URL, without password.
        url: String,
    },
    /// An I/O error on the connection or a media socket.
    #[error("{url}: {source}")]
    Io {
        /// The URL, without password.
        url: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl ClientError {
    /// Whether the error came from an answer of the server that a retry with the same request cannot
    /// change (a status, refused credentials, no media), rather than from the network.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            ClientError::InvalidUrl { .. }
                | ClientError::Unauthorized { .. }
                | ClientError::NotFound { .. }
                | ClientError::Status { .. }
                | ClientError::NoMedia { .. }
        )
    }
}
