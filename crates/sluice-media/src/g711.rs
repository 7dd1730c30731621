//! G.711 µ-law and A-law audio (PCMU and PCMA, RFC 3551 §4.5.14): one byte per sample per channel,
//! 8000 samples per second, and any run of whole samples makes a packet.

use bytes::Bytes;

use crate::codec;
use crate::generic::{self, SamplePacketizer};
use crate::{AccessUnit, CodecParams, DepacketizeError, RtpIn};

/// RFC 3551 §4.5.14: G.711 samples at 8000 Hz.
pub const DEFAULT_CLOCK_RATE: u32 = 8000;

/// RFC 3551 §4.2: the default packetization interval of sample-based audio is 20 ms.
pub const DEFAULT_PTIME_MS: u32 = 20;

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
    inner: generic::Depacketizer,
}

impl Depacketizer {
    /// A µ-law depacketizer with an RTP clock of `clock_rate` Hz (0 means the standard 8000).
    /// G.711 has no format parameters.
    pub fn new(clock_rate: u32, _fmtp: Option<&str>) -> Self {
        let clock_rate = match clock_rate {
            0 => DEFAULT_CLOCK_RATE,
            rate => rate,
        };
        let params = CodecParams {
            sample_rate: Some(clock_rate),
            channels: Some(1),
            ..codec::base_params(Law::Mu.encoding(), clock_rate)
        };
        Self {
            inner: generic::Depacketizer::passthrough("G.711", params, 1),
        }
    }

    /// Selects the companding law (reported as the codec name).
    pub fn with_law(mut self, law: Law) -> Self {
        self.inner.params_mut().codec = law.encoding().to_owned();
        self
    }

    /// Sets the channel count from the rtpmap encoding parameters (`None` means one).
    pub fn with_channels(mut self, channels: Option<u16>) -> Self {
        let channels = channels.unwrap_or(1).max(1);
        self.inner.params_mut().channels = Some(channels);
        self.inner.set_unit(usize::from(channels));
        self
    }
}

impl crate::Depacketizer for Depacketizer {
    fn push(&mut self, pkt: RtpIn) -> Result<(), DepacketizeError> {
        self.inner.push(pkt)
    }

    fn pull(&mut self) -> Option<AccessUnit> {
        self.inner.pull()
    }

    fn params(&self) -> &CodecParams {
        self.inner.params()
    }

    fn stale_ssrc_packets(&self) -> u64 {
        self.inner.stale_ssrc_packets()
    }
}

/// G.711 packetizer: splits each access unit into packets of at most one packet time (20 ms by
/// default) and at most the MTU. The marker bit is never set.
#[derive(Debug)]
pub struct Packetizer {
    inner: SamplePacketizer,
    clock_rate: u32,
    channels: u16,
    ptime_ms: u32,
}

impl Packetizer {
    /// A packetizer writing payload type `payload_type` with SSRC `ssrc`, numbering packets from
    /// `initial_seq`, packets at most `mtu` bytes long (RTP header included); 8000 Hz mono, 20 ms
    /// packets.
    pub fn new(payload_type: u8, ssrc: u32, initial_seq: u16, mtu: usize) -> Self {
        let mut p = Self {
            inner: SamplePacketizer::new(payload_type, ssrc, initial_seq, mtu, 1, 1),
            clock_rate: DEFAULT_CLOCK_RATE,
            channels: 1,
            ptime_ms: DEFAULT_PTIME_MS,
        };
        p.update();
        p
    }

    /// Sets the RTP clock (and sampling) rate; 0 keeps the current one.
    pub fn with_clock_rate(mut self, clock_rate: u32) -> Self {
        if clock_rate != 0 {
            self.clock_rate = clock_rate;
        }
        self.update();
        self
    }

    /// Sets the channel count (samples are interleaved, one byte each).
    pub fn with_channels(mut self, channels: u16) -> Self {
        self.channels = channels.max(1);
        self.update();
        self
    }

    /// Sets the packet time in milliseconds (RFC 4566 `a=ptime`).
    pub fn with_ptime(mut self, ptime_ms: u32) -> Self {
        self.ptime_ms = ptime_ms.max(1);
        self.update();
        self
    }

    fn update(&mut self) {
        self.inner.set_unit(usize::from(self.channels));
        let ticks = u64::from(self.clock_rate) * u64::from(self.ptime_ms) / 1000;
        self.inner
            .set_ticks_per_packet(u32::try_from(ticks).unwrap_or(u32::MAX));
    }
}

impl crate::Packetizer for Packetizer {
    fn packetize(&mut self, au: &AccessUnit, timestamp: u32, out: &mut Vec<Bytes>) {
        self.inner.packetize(au, timestamp, out);
    }

    fn next_sequence_number(&self) -> u16 {
        self.inner.next_sequence_number()
    }
}
