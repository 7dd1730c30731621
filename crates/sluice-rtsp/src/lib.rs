//! Sans-IO RTSP 1.0 protocol core: messages and a streaming decoder, typed headers, SDP, RTP and RTCP.
//!
//! Nothing here touches a socket or a clock: callers feed bytes in and get values out, so the same code
//! serves the server, the client, the tests (byte for byte against `shared/corpus`) and the fuzzers.
#![warn(missing_docs)]

pub mod auth;
pub mod codec;
pub mod header;
pub mod message;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod url;
