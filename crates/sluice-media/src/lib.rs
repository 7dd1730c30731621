//! Sans-IO media formats for Sluice: RTP packetization and keyframe detection per codec, and the
//! built-in demo clip.
//!
//! Nothing here touches a socket or a clock. A packetizer takes the NAL units of one access unit and
//! its RTP timestamp and appends whole RTP packets (12-byte header and payload, one `Bytes` each) to
//! the caller's vector; the caller decides when to send them. Keyframe detection looks at one RTP
//! payload at a time, so the stream hub can find where its GOP cache restarts without depacketizing.
//!
//! The test-pattern source plays [`demo::DemoClip::builtin`] in a loop: one access unit every
//! [`demo::DemoClip::frame_duration_90k`] ticks of the 90 kHz RTP clock.
//!
//! ```
//! use sluice_media::{demo::DemoClip, h264};
//!
//! let clip = DemoClip::builtin();
//! let mut packetizer = h264::Packetizer::new(96, 0x1234_5678, 0, h264::DEFAULT_MTU);
//! let mut packets = Vec::new();
//! let mut timestamp = 0u32;
//! for frame in &clip.frames {
//!     let nals: Vec<&[u8]> = frame.nals.iter().map(|nal| &nal[..]).collect();
//!     let first = packets.len();
//!     packetizer.packetize(&nals, timestamp, &mut packets);
//!     // The first packet of every keyframe access unit starts the GOP cache anew.
//!     assert_eq!(h264::is_keyframe_start(&packets[first][12..]), frame.keyframe);
//!     timestamp = timestamp.wrapping_add(clip.frame_duration_90k());
//! }
//! assert_eq!(packetizer.next_sequence_number() as usize, packets.len());
//! ```
#![warn(missing_docs)]

pub mod demo;
pub mod frame;
pub mod h264;
pub mod h265;
pub mod inband;
pub mod refragment;
mod rtp;

pub use frame::{
    AccessUnit, CodecParams, DepacketizeError, Depacketizer, Packetizer, RtpIn, Timestamp,
    TimestampExtender,
};

/// Errors from parsing media data.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The H.264 elementary stream holds no access unit with a coded picture.
    #[error("H.264 stream of {len} bytes holds no coded picture")]
    NoPictures {
        /// Length of the stream in bytes.
        len: usize,
    },
    /// A parameter set the stream needs never appears in it.
    #[error("H.264 stream has no {kind}")]
    MissingParameterSet {
        /// `"SPS"` or `"PPS"`.
        kind: &'static str,
    },
    /// The sequence parameter set could not be parsed or describes an unusable picture size.
    #[error("invalid H.264 SPS at byte offset {offset}: {detail}")]
    InvalidSps {
        /// Offset of the SPS NAL unit (its header byte) in the stream.
        offset: usize,
        /// What was wrong with it.
        detail: String,
    },
    /// The first access unit of a clip is not a keyframe, so a reader could not start decoding.
    #[error("first access unit (byte offset {offset}) is not an IDR picture")]
    FirstFrameNotKeyframe {
        /// Offset of the access unit's first NAL unit in the stream.
        offset: usize,
    },
    /// The frame rate is zero or faster than one frame per 90 kHz tick.
    #[error("frame rate {frame_rate} is outside 1..=90000 frames per second")]
    InvalidFrameRate {
        /// The rejected frame rate.
        frame_rate: u32,
    },
    /// An SDP `a=fmtp` line holds a parameter the codec cannot use.
    #[error("invalid {codec} format parameters: {detail}")]
    InvalidFormatParameters {
        /// Codec name as in the rtpmap.
        codec: &'static str,
        /// Which parameter and what was wrong with it.
        detail: String,
    },
    /// An MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) could not be parsed.
    #[error("invalid AudioSpecificConfig at bit {bit}: {detail}")]
    InvalidAudioSpecificConfig {
        /// Bit offset of the offending field.
        bit: usize,
        /// The field, or what was wrong.
        detail: String,
    },
    /// An LATM StreamMuxConfig (ISO/IEC 14496-3 §1.7.3) could not be parsed or is not supported.
    #[error("invalid StreamMuxConfig at bit {bit}: {detail}")]
    InvalidStreamMuxConfig {
        /// Bit offset of the offending field.
        bit: usize,
        /// The field, or what was wrong.
        detail: String,
    },
    /// A JPEG file is malformed or cannot be carried by RFC 2435.
    #[error("JPEG at byte offset {offset}: {detail}")]
    InvalidJpeg {
        /// Offset of the offending marker or field.
        offset: usize,
        /// What was wrong.
        detail: String,
    },
}

pub mod aac;
pub mod codec;
pub mod g711;
pub mod g722;
pub mod generic;
pub mod l16;
pub mod latm;
pub mod mjpeg;
pub mod opus;
mod sample_audio;
