//! G.722 audio (RFC 3551 §4.5.2): 16 kHz wideband audio coded at 64 kbit/s, one byte per two
//! samples, carried with an 8000 Hz RTP clock "for historical reasons".

use crate::generic::{forward_depacketizer, forward_packetizer};
use crate::sample_audio::{SampleDepacketizer, SamplePacketizer};

/// RFC 3551 §4.5.2: the RTP clock rate of G.722 is 8000 Hz although it samples at 16 kHz.
pub const CLOCK_RATE: u32 = 8000;

/// RFC 3551 §4.5.2: G.722's actual sampling rate.
pub const SAMPLE_RATE: u32 = 16_000;

/// Bytes per RTP clock tick of one channel: one byte codes two samples.
const TICK_BYTES: usize = 1;

/// G.722 depacketizer: every packet is one access unit.
#[derive(Debug)]
pub struct Depacketizer {
    inner: SampleDepacketizer,
}

impl Depacketizer {
    /// A depacketizer with an RTP clock of `clock_rate` Hz as the SDP states it (0 means the
    /// standard 8000). The reported sample rate is always 16 kHz. G.722 has no format parameters.
    pub fn new(clock_rate: u32, _fmtp: Option<&str>) -> Self {
        let clock_rate = match clock_rate {
            0 => CLOCK_RATE,
            rate => rate,
        };
        Self {
            inner: SampleDepacketizer::new("G.722", "G722", clock_rate, SAMPLE_RATE, TICK_BYTES),
        }
    }

    /// Sets the channel count from the rtpmap encoding parameters (`None` means one).
    pub fn with_channels(mut self, channels: Option<u16>) -> Self {
        self.inner.set_channels(channels);
        self
    }
}

forward_depacketizer!(Depacketizer, inner);

/// G.722 packetizer: packets of at most 20 ms and at most the MTU; one byte per clock tick per
/// channel. The marker bit is never set.
#[derive(Debug)]
pub struct Packetizer {
    inner: SamplePacketizer,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`, packets at most `mtu` bytes long (RTP header included); mono.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        Self {
            inner: SamplePacketizer::new(
                payload_type,
                ssrc,
                initial_seq,
                mtu,
                TICK_BYTES,
                CLOCK_RATE,
            ),
        }
    }

    /// Sets the channel count (interleaved bytes).
    pub fn with_channels(mut self, channels: u16) -> Self {
        self.inner.set_channels(channels);
        self
    }
}

forward_packetizer!(Packetizer, inner);
