//! The RTSP TCP connection: bytes in and out, framing by [`Decoder`]. No protocol decisions here.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf as _, BytesMut};
use sluice_rtsp::codec::{Decoder, Limits, Message};
use sluice_rtsp::message::{Request, Response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::error::ClientError;
use crate::quirk::{self, QuirkLog};

/// Largest bodies and header blocks accepted: far above the 4 KB that broke clients on 4K cameras
/// with huge `sprop` sets (CAMERA-QUIRKS #4).
const LIMITS: Limits = Limits {
    max_header_bytes: 64 * 1024,
    max_headers: 128,
    max_body_bytes: 1024 * 1024,
};

/// Size of the chunks the connection is read into.
const READ_CHUNK: usize = 128 * 1024;

/// A new chunk starts when less than this is left in the current one.
const MIN_READ_ROOM: usize = 8 * 1024;

/// Most bytes waiting to be written before the connection counts as stuck (a server that stopped
/// reading).
const MAX_PENDING_OUTPUT: usize = 1024 * 1024;

/// An open RTSP connection, split so that reading and writing can be awaited at the same time.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) reader: Reader,
    pub(crate) writer: Writer,
    /// The URL this connection serves, without userinfo, for errors.
    pub(crate) url: String,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
}

/// The receiving half: framing by [`Decoder`].
#[derive(Debug)]
pub(crate) struct Reader {
    half: OwnedReadHalf,
    decoder: Decoder,
    buf: BytesMut,
    url: String,
    eof: bool,
}

/// The sending half: everything goes through an output buffer, so that a write interrupted by
/// cancellation resumes where it stopped instead of leaving half a message on the wire.
#[derive(Debug)]
pub(crate) struct Writer {
    half: OwnedWriteHalf,
    out: BytesMut,
    url: String,
}

impl Conn {
    /// Connects to `host:port` within `timeout`.
    pub(crate) async fn connect(
        host: &str,
        port: u16,
        url: &str,
        timeout: Duration,
    ) -> Result<Conn, ClientError> {
        let addr = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let connect = TcpStream::connect((host, port));
        let stream = match tokio::time::timeout(timeout, connect).await {
            Err(_) => {
                return Err(ClientError::Timeout {
                    what: format!("connecting to {addr}"),
                    url: url.to_owned(),
                    after: timeout,
                })
            }
            Ok(Err(source)) => {
                return Err(ClientError::Connect {
                    addr,
                    url: url.to_owned(),
                    source,
                })
            }
            Ok(Ok(stream)) => stream,
        };
        let io = |source| ClientError::Io {
            url: url.to_owned(),
            source,
        };
        stream.set_nodelay(true).map_err(io)?;
        let peer = stream.peer_addr().map_err(io)?;
        let local = stream.local_addr().map_err(io)?;
        tracing::debug!(%peer, %url, "connected");
        let (read, write) = stream.into_split();
        Ok(Conn {
            reader: Reader {
                half: read,
                decoder: Decoder::new(LIMITS),
                buf: BytesMut::with_capacity(READ_CHUNK),
                url: url.to_owned(),
                eof: false,
            },
            writer: Writer {
                half: write,
                out: BytesMut::new(),
                url: url.to_owned(),
            },
            url: url.to_owned(),
            peer,
            local,
        })
    }

    /// Whether the server closed its side.
    pub(crate) fn is_closed(&self) -> bool {
        self.reader.eof
    }

    /// Closes the connection (best effort, after trying to write what is pending).
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.writer.flush(Duration::from_millis(200)).await;
        let _ = tokio::time::timeout(Duration::from_millis(200), self.writer.half.shutdown()).await;
    }
}

impl Writer {
    pub(crate) fn queue_request(&mut self, request: &Request) {
        // Logged without headers: Authorization must never reach a log.
        tracing::debug!(method = %request.method, uri = %request.uri, cseq = ?request.cseq(), "request");
        request.encode(&mut self.out);
    }

    pub(crate) fn queue_response(&mut self, response: &Response) {
        response.encode(&mut self.out);
    }

    pub(crate) fn queue_bytes(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub(crate) fn has_pending(&self) -> bool {
        !self.out.is_empty()
    }

    /// Writes some of the pending bytes. Cancel-safe: what was written is removed from the buffer
    /// in the same poll that wrote it.
    pub(crate) async fn write_some(&mut self) -> Result<(), ClientError> {
        if self.out.len() > MAX_PENDING_OUTPUT {
            return Err(ClientError::Protocol {
                method: None,
                url: self.url.clone(),
                detail: format!(
                    "the server stopped reading ({} bytes unsent)",
                    self.out.len()
                ),
            });
        }
        let n = self
            .half
            .write(&self.out)
            .await
            .map_err(|source| ClientError::Io {
                url: self.url.clone(),
                source,
            })?;
        self.out.advance(n);
        Ok(())
    }

    /// Writes everything pending within `timeout`.
    pub(crate) async fn flush(&mut self, timeout: Duration) -> Result<(), ClientError> {
        let all = async {
            while self.has_pending() {
                self.write_some().await?;
            }
            Ok(())
        };
        match tokio::time::timeout(timeout, all).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                what: "writing to the connection".to_owned(),
                url: self.url.clone(),
                after: timeout,
            }),
        }
    }
}

impl Reader {
    /// The next message, or `None` at end of stream.
    ///
    /// Cancel-safe: bytes already read stay in the buffer. Non-fatal decode errors (a malformed
    /// message after a wrong `Content-Length`, CAMERA-QUIRKS #4) are skipped and recorded; fatal
    /// ones end the connection with [`ClientError::Protocol`].
    pub(crate) async fn read_message(
        &mut self,
        quirks: &mut QuirkLog,
    ) -> Result<Option<Message>, ClientError> {
        loop {
            if self.buf.first().is_some_and(|&b| b != b'$') {
                note_line_ending(&self.buf, quirks);
            }
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(message)) => return Ok(Some(message)),
                Ok(None) => {}
                Err(e) if e.is_fatal() => {
                    return Err(ClientError::Protocol {
                        method: None,
                        url: self.url.clone(),
                        detail: e.to_string(),
                    })
                }
                Err(e) => {
                    quirks.record(quirk::MESSAGE_SKIPPED, e.to_string());
                    continue;
                }
            }
            if self.eof {
                return Ok(None);
            }
            // Reads go back to back into one chunk, from which decoded packets are split off as
            // `Bytes`: a chunk is freed once every packet cut from it is gone. Reserving on every
            // read would start a new chunk per read, each pinned by the packets in it.
            if self.buf.capacity() - self.buf.len() < MIN_READ_ROOM {
                self.buf.reserve(READ_CHUNK);
            }
            let n = self
                .half
                .read_buf(&mut self.buf)
                .await
                .map_err(|source| ClientError::Io {
                    url: self.url.clone(),
                    source,
                })?;
            if n == 0 {
                self.eof = true;
                if !self.buf.is_empty() {
                    tracing::debug!(bytes = self.buf.len(), "connection closed inside a message");
                }
                return Ok(None);
            }
        }
    }
}

/// Records LF-only line endings when the buffer starts with a text message (CAMERA-QUIRKS #3).
fn note_line_ending(buf: &[u8], quirks: &mut QuirkLog) {
    if quirks.has(quirk::BARE_LF) {
        return;
    }
    if let Some(lf) = buf.iter().position(|&b| b == b'\n') {
        if lf == 0 || buf.get(lf - 1) != Some(&b'\r') {
            quirks.record(quirk::BARE_LF, "RTSP lines end in LF only");
        }
    }
}
