//! G.722 audio (RFC 3551 §4.5.2): 16 kHz wideband audio coded at 64 kbit/s, one byte per two
//! samples, carried with an 8000 Hz RTP clock "for historical reasons".

use bytes::Bytes;

use crate::codec;
use crate::g711::DEFAULT_PTIME_MS;
use crate::generic::{self, SamplePacketizer};
use crate::{AccessUnit, CodecParams, DepacketizeError, RtpIn};

/// RFC 3551 §4.5.2: the RTP clock rate of G.722 is 8000 Hz although it samples at 16 kHz.
pub const CLOCK_RATE: u32 = 8000;

/// RFC 3551 §4.5.2: G.722's actual sampling rate.
pub const SAMPLE_RATE: u32 = 16_000;

/// G.722 depacketizer: every packet is one access unit.
#[derive(Debug)]
pub struct Depacketizer {
    inner: generic::Depacketizer,
}

impl Depacketizer {
    /// A depacketizer with an RTP clock of `clock_rate` Hz as the SDP states it (0 means the
    /// standard 8000). The reported sample rate is always 16 kHz. G.722 has no format parameters.
    pub fn new(clock_rate: u32, _fmtp: Option<&str>) -> Self {
        let clock_rate = match clock_rate {
            0 => CLOCK_RATE,
            rate => rate,
        };
        let params = CodecParams {
            sample_rate: Some(SAMPLE_RATE),
            channels: Some(1),
            ..codec::base_params("G722", clock_rate)
        };
        Self {
            inner: generic::Depacketizer::passthrough("G.722", params, 1),
        }
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
        let ticks = CLOCK_RATE * DEFAULT_PTIME_MS / 1000;
        Self {
            inner: SamplePacketizer::new(payload_type, ssrc, initial_seq, mtu, 1, ticks),
        }
    }

    /// Sets the channel count (interleaved bytes).
    pub fn with_channels(mut self, channels: u16) -> Self {
        self.inner.set_unit(usize::from(channels.max(1)));
        self
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
