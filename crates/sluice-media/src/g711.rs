//! G.711 µ-law and A-law audio (PCMU and PCMA, RFC 3551 §4.5.14): one byte per sample per channel,
//! 8000 samples per second, and any run of whole samples makes a packet.

use crate::generic::{forward_depacketizer, forward_packetizer};
use crate::sample_audio::{self, SampleDepacketizer, SamplePacketizer};

/// RFC 3551 §4.5.14: G.711 samples at 8000 Hz.
pub const DEFAULT_CLOCK_RATE: u32 = 8000;

/// RFC 3551 §4.2: the default packetization interval of sample-based audio is 20 ms.
pub const DEFAULT_PTIME_MS: u32 = sample_audio::DEFAULT_PTIME_MS;

/// Bytes per sample of one channel.
const SAMPLE_BYTES: usize = 1;

/// Which of the two G.711 companding laws a stream uses.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Law {
    /// µ-law (`PCMU`, static payload type 0).
    Mu,
    /// A-law (`PCMA`, static payload type 8).
    A,
}

impl Law {
    /// The law an rtpmap encoding name denotes: A-law for `PCMA` (any case), µ-law otherwise.
    pub fn from_encoding(encoding: &str) -> Self {
        if encoding.trim().eq_ignore_ascii_case("PCMA") {
            Law::A
        } else {
            Law::Mu
        }
    }

    /// The rtpmap encoding name.
    pub fn encoding(self) -> &'static str {
        match self {
            Law::Mu => "PCMU",
            Law::A => "PCMA",
        }
    }
}

/// G.711 depacketizer: every packet is one access unit of samples.
#[derive(Debug)]
pub struct Depacketizer {
    inner: SampleDepacketizer,
}

impl Depacketizer {
    /// A µ-law depacketizer with an RTP clock of `clock_rate` Hz (0 means the standard 8000).
    /// G.711 has no format parameters.
    pub fn new(clock_rate: u32, _fmtp: Option<&str>) -> Self {
        let clock_rate = match clock_rate {
            0 => DEFAULT_CLOCK_RATE,
            rate => rate,
        };
        let encoding = Law::Mu.encoding();
        let inner =
            SampleDepacketizer::new("G.711", encoding, clock_rate, clock_rate, SAMPLE_BYTES);
        Self { inner }
    }

    /// Selects the companding law (reported as the codec name).
    pub fn with_law(mut self, law: Law) -> Self {
        self.inner.params_mut().codec = law.encoding().to_owned();
        self
    }

    /// Sets the channel count from the rtpmap encoding parameters (`None` means one).
    pub fn with_channels(mut self, channels: Option<u16>) -> Self {
        self.inner.set_channels(channels);
        self
    }
}

forward_depacketizer!(Depacketizer, inner);

/// G.711 packetizer: splits each access unit into packets of at most one packet time (20 ms by
/// default) and at most the MTU. The marker bit is never set.
#[derive(Debug)]
pub struct Packetizer {
    inner: SamplePacketizer,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`, packets at most `mtu` bytes long (RTP header included); 8000 Hz mono, 20 ms
    /// packets.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        Self {
            inner: SamplePacketizer::new(
                payload_type,
                ssrc,
                initial_seq,
                mtu,
                SAMPLE_BYTES,
                DEFAULT_CLOCK_RATE,
            ),
        }
    }

    /// Sets the RTP clock (and sampling) rate; 0 keeps the current one.
    pub fn with_clock_rate(mut self, clock_rate: u32) -> Self {
        if clock_rate != 0 {
            self.inner.set_clock_rate(clock_rate);
        }
        self
    }

    /// Sets the channel count (samples are interleaved, one byte each).
    pub fn with_channels(mut self, channels: u16) -> Self {
        self.inner.set_channels(channels);
        self
    }

    /// Sets the packet time in milliseconds (RFC 4566 `a=ptime`).
    pub fn with_ptime(mut self, ptime_ms: u32) -> Self {
        self.inner.set_ptime(ptime_ms);
        self
    }
}

forward_packetizer!(Packetizer, inner);
