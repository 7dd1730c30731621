//! Linear PCM audio (L16, RFC 3551 §4.5.11): 16-bit signed big-endian samples, channels
//! interleaved, the RTP clock equal to the sampling rate.

use crate::generic::{forward_depacketizer, forward_packetizer};
use crate::sample_audio::{SampleDepacketizer, SamplePacketizer};

/// Bytes per sample of one channel.
const SAMPLE_BYTES: usize = 2;

/// L16 depacketizer: every packet is one access unit of whole sample frames.
#[derive(Debug)]
pub struct Depacketizer {
    inner: SampleDepacketizer,
}

impl Depacketizer {
    /// A depacketizer for L16 sampled (and clocked) at `clock_rate` Hz, mono until
    /// [`Depacketizer::with_channels`] says otherwise. L16 has no format parameters.
    pub fn new(clock_rate: u32, _fmtp: Option<&str>) -> Self {
        Self {
            inner: SampleDepacketizer::new("L16", "L16", clock_rate, clock_rate, SAMPLE_BYTES),
        }
    }

    /// Sets the channel count from the rtpmap encoding parameters (RFC 3551 §4.5.11: `None` means
    /// one). Packets must then hold whole frames of `2 * channels` bytes.
    pub fn with_channels(mut self, channels: Option<u16>) -> Self {
        self.inner.set_channels(channels);
        self
    }
}

forward_depacketizer!(Depacketizer, inner);

/// L16 packetizer: packets of at most 20 ms and at most the MTU, split on sample frames. The marker
/// bit is never set.
#[derive(Debug)]
pub struct Packetizer {
    inner: SamplePacketizer,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`, packets at most `mtu` bytes long (RTP header included), for `channels`
    /// channels sampled at `clock_rate` Hz.
    pub fn new(
        payload_type: u8,
        ssrc: u32,
        initial_seq: u16,
        mtu: usize,
        clock_rate: u32,
        channels: u16,
    ) -> Self {
        let mut inner = SamplePacketizer::new(
            payload_type,
            ssrc,
            initial_seq,
            mtu,
            SAMPLE_BYTES,
            clock_rate,
        );
        inner.set_channels(channels);
        Self { inner }
    }
}

forward_packetizer!(Packetizer, inner);
