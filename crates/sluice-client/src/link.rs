//! One RTSP connection with its protocol state: requests and their answers, interleaved data that
//! arrives meanwhile, and requests from the server.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use sluice_rtsp::auth::Credentials;
use sluice_rtsp::codec::{InterleavedFrame, Message};
use sluice_rtsp::message::{Method, Request, Response, StatusCode};
use sluice_rtsp::rtcp::looks_like_rtcp;

use crate::conn::Conn;
use crate::error::ClientError;
use crate::options::{SessionOptions, UnassignedChannelPolicy};
use crate::quirk::{self, QuirkLog};
use crate::request::{AuthDecision, Requester};
use crate::response::{match_cseq, note_header_spelling, CseqMatch};

/// Most packets kept while a response is awaited; beyond that they are dropped and counted.
const QUEUE_LIMIT: usize = 4096;

/// Most keepalive CSeqs remembered as given up on.
const ABANDONED_LIMIT: usize = 32;

/// Most times one request is re-sent after a 401 (credentials first, then one new nonce:
/// CAMERA-QUIRKS #28).
const MAX_AUTH_RETRIES: u32 = 2;

/// Where an interleaved channel's data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    /// The index of the playing stream.
    pub(crate) slot: usize,
    pub(crate) rtcp: bool,
}

/// A packet that arrived, not yet handed to the caller.
#[derive(Debug, Clone)]
pub(crate) struct Incoming {
    pub(crate) slot: usize,
    pub(crate) rtcp: bool,
    pub(crate) data: Bytes,
    pub(crate) at: Instant,
}

/// An RTSP connection and what the client knows about it.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) conn: Conn,
    pub(crate) requester: Requester,
    pub(crate) options: SessionOptions,
    pub(crate) quirks: QuirkLog,
    abandoned: VecDeque<u32>,
    channels: Vec<Option<Route>>,
    pub(crate) queue: VecDeque<Incoming>,
    /// Drop interleaved data instead of queueing it (while tearing down).
    pub(crate) discard_data: bool,
    /// Waiting for the `PLAY` answer: data now is CAMERA-QUIRKS #5.
    pub(crate) awaiting_play: bool,
    /// The SDP's `a=tool`, to name an old LIVE555 in quirk details.
    pub(crate) tool: Option<String>,
    /// A `REDIRECT` the server sent, with its `Location`.
    pub(crate) redirect: Option<String>,
    /// The server sent `TEARDOWN`.
    pub(crate) server_teardown: bool,
    /// Packets dropped: queue full, unassigned channels, foreign sources.
    pub(crate) dropped: u64,
}

impl Link {
    pub(crate) fn new(
        conn: Conn,
        options: &SessionOptions,
        credentials: Option<Credentials>,
        quirks: QuirkLog,
    ) -> Self {
        Link {
            conn,
            requester: Requester::new(options, credentials),
            options: options.clone(),
            quirks,
            abandoned: VecDeque::new(),
            channels: vec![None; 256],
            queue: VecDeque::new(),
            discard_data: false,
            awaiting_play: false,
            tool: None,
            redirect: None,
            server_teardown: false,
            dropped: 0,
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.conn.url
    }

    /// Assigns an interleaved channel.
    pub(crate) fn route(&mut self, channel: u8, route: Route) {
        if let Some(slot) = self.channels.get_mut(usize::from(channel)) {
            *slot = Some(route);
        }
    }

    /// The channels assigned so far.
    pub(crate) fn used_channels(&self) -> Vec<u8> {
        (0..=u8::MAX)
            .filter(|&c| {
                self.channels
                    .get(usize::from(c))
                    .is_some_and(Option::is_some)
            })
            .collect()
    }

    /// Remembers a keepalive CSeq whose answer no longer matters, so a late answer is skipped.
    pub(crate) fn abandon(&mut self, cseq: u32) {
        if self.abandoned.len() == ABANDONED_LIMIT {
            self.abandoned.pop_front();
        }
        self.abandoned.push_back(cseq);
    }

    /// Builds a request and queues it for writing; returns its CSeq and whether it carried
    /// credentials.
    pub(crate) fn queue(
        &mut self,
        method: Method,
        uri: &str,
        extra: &[(&str, String)],
    ) -> (u32, bool) {
        self.queue_with_body(method, uri, extra, None)
    }

    /// Like [`queue`](Self::queue), with a body (content type and bytes).
    fn queue_with_body(
        &mut self,
        method: Method,
        uri: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &Bytes)>,
    ) -> (u32, bool) {
        let cnonce = format!("{:016x}", rand::random::<u64>());
        let mut request = self.requester.build(method, uri, &cnonce);
        for (name, value) in extra {
            request.headers.append(*name, value.clone());
        }
        if let Some((content_type, body)) = body {
            request = request.with_body(content_type, body.clone());
        }
        let cseq = request.cseq().unwrap_or_default();
        let sent_auth = request.headers.get("Authorization").is_some();
        self.conn.writer.queue_request(&request);
        (cseq, sent_auth)
    }

    /// Builds and sends a request; returns its CSeq and whether it carried credentials.
    async fn send(
        &mut self,
        method: Method,
        uri: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &Bytes)>,
    ) -> Result<(u32, bool), ClientError> {
        let sent = self.queue_with_body(method, uri, extra, body);
        self.conn.writer.flush(self.options.request_timeout).await?;
        Ok(sent)
    }

    /// Sends a request and waits for its answer, answering 401s with the URL's credentials.
    ///
    /// The answer is returned whatever its status, except that a 401 which cannot be answered
    /// becomes [`ClientError::Unauthorized`].
    pub(crate) async fn request(
        &mut self,
        method: Method,
        uri: &str,
        extra: &[(&str, String)],
    ) -> Result<Response, ClientError> {
        self.request_with_body(method, uri, extra, None).await
    }

    /// Like [`request`](Self::request), with a body (content type and bytes) that every attempt
    /// carries (`ANNOUNCE`).
    pub(crate) async fn request_with_body(
        &mut self,
        method: Method,
        uri: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &Bytes)>,
    ) -> Result<Response, ClientError> {
        let mut retries = 0;
        loop {
            let (cseq, sent_auth) = self.send(method.clone(), uri, extra, body).await?;
            let response = self.await_response(cseq, method.as_str(), uri).await?;
            if !matches!(response.status.0, 401 | 407) {
                return Ok(response);
            }
            let decision = if retries < MAX_AUTH_RETRIES {
                self.requester
                    .auth
                    .on_unauthorized(&response, sent_auth, &mut self.quirks)
            } else {
                AuthDecision::Fail
            };
            if decision == AuthDecision::Fail {
                return Err(ClientError::Unauthorized {
                    method: method.as_str().to_owned(),
                    url: uri.to_owned(),
                    status: response.status,
                    had_credentials: self.requester.auth.has_credentials(),
                });
            }
            retries += 1;
        }
    }

    /// Reads until the answer to `cseq` arrives, within the request timeout.
    async fn await_response(
        &mut self,
        cseq: u32,
        method: &str,
        uri: &str,
    ) -> Result<Response, ClientError> {
        let timeout = self.options.request_timeout;
        let wait = async {
            loop {
                let message = self.conn.reader.read_message(&mut self.quirks).await?;
                let Some(message) = message else {
                    return Err(ClientError::Closed {
                        method: method.to_owned(),
                        url: uri.to_owned(),
                    });
                };
                match message {
                    Message::Response(response) => {
                        note_header_spelling(&response, &mut self.quirks);
                        let abandoned: Vec<u32> = self.abandoned.iter().copied().collect();
                        match match_cseq(
                            &response,
                            cseq,
                            &abandoned,
                            self.options.cseq,
                            &mut self.quirks,
                        ) {
                            CseqMatch::Answer => return Ok(response),
                            CseqMatch::Late => continue,
                            CseqMatch::Reject(detail) => {
                                return Err(ClientError::Protocol {
                                    method: Some(method.to_owned()),
                                    url: uri.to_owned(),
                                    detail,
                                })
                            }
                        }
                    }
                    Message::Request(request) => {
                        self.answer_server_request(request);
                        self.conn.writer.flush(self.options.request_timeout).await?;
                    }
                    Message::Data(frame) => self.on_frame(frame, Instant::now())?,
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                what: method.to_owned(),
                url: uri.to_owned(),
                after: timeout,
            }),
        }
    }

    /// Queues an interleaved frame for its stream, or drops it per [`UnassignedChannelPolicy`].
    pub(crate) fn on_frame(
        &mut self,
        frame: InterleavedFrame,
        at: Instant,
    ) -> Result<(), ClientError> {
        let Some(route) = self
            .channels
            .get(usize::from(frame.channel))
            .copied()
            .flatten()
        else {
            if self.options.unassigned_channel == UnassignedChannelPolicy::Error {
                return Err(ClientError::Protocol {
                    method: None,
                    url: self.conn.url.clone(),
                    detail: format!("data on unassigned interleaved channel {}", frame.channel),
                });
            }
            self.dropped += 1;
            let tool = self
                .tool
                .as_deref()
                .map(|t| format!(" (a=tool:{t})"))
                .unwrap_or_default();
            self.quirks.record(
                quirk::UNASSIGNED_CHANNEL,
                format!("data on unassigned channel {}{tool} dropped", frame.channel),
            );
            return Ok(());
        };
        // CAMERA-QUIRKS #7: RTCP on the RTP channel; classify by packet type (RFC 5761 §4).
        let rtcp = route.rtcp || looks_like_rtcp(&frame.payload);
        if rtcp && !route.rtcp {
            self.quirks.record(
                quirk::RTCP_ON_RTP_CHANNEL,
                format!("RTCP on RTP channel {}", frame.channel),
            );
        }
        if self.discard_data {
            return Ok(());
        }
        if self.awaiting_play && !rtcp {
            self.quirks.record(
                quirk::DATA_BEFORE_PLAY,
                "RTP before the PLAY response (kept)",
            );
        }
        self.push(Incoming {
            slot: route.slot,
            rtcp,
            data: frame.payload,
            at,
        });
        Ok(())
    }

    pub(crate) fn push(&mut self, incoming: Incoming) {
        if self.queue.len() >= QUEUE_LIMIT {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(incoming);
    }

    /// Queues the answer to a request the server sent (CAMERA-QUIRKS #8): `OPTIONS` and
    /// `GET_PARAMETER` with 200, `TEARDOWN` and `REDIRECT` with 200 (and remembers them), anything
    /// else with 501.
    pub(crate) fn answer_server_request(&mut self, request: Request) {
        self.quirks.record(
            quirk::SERVER_REQUEST,
            format!("server sent {}", request.method),
        );
        let status = match &request.method {
            Method::Options | Method::GetParameter => StatusCode::OK,
            // RFC 2326 §10.10: the client must tear down and set up at the new location.
            Method::Redirect => {
                if let Some(location) = request.headers.get("Location").filter(|l| !l.is_empty()) {
                    self.redirect = Some(location.to_owned());
                }
                StatusCode::OK
            }
            Method::Teardown => {
                self.server_teardown = true;
                StatusCode::OK
            }
            _ => StatusCode::NOT_IMPLEMENTED,
        };
        let mut response = Response::new(status);
        if let Some(cseq) = request.headers.get("CSeq") {
            response.headers.append("CSeq", cseq);
        }
        if let Some(session) = request
            .headers
            .get("Session")
            .map(str::to_owned)
            .or_else(|| self.requester.session_id.clone())
        {
            response.headers.append("Session", session);
        }
        if request.method == Method::Options {
            response
                .headers
                .append("Public", "OPTIONS, GET_PARAMETER, TEARDOWN, REDIRECT");
        }
        self.conn.writer.queue_response(&response);
    }
}
