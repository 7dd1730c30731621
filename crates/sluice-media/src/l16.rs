//! Linear PCM audio (L16, RFC 3551 §4.5.11): 16-bit signed big-endian samples, channels
//! interleaved, the RTP clock equal to the sampling rate.

use bytes::Bytes;

use crate::codec;
use crate::g711::DEFAULT_PTIME_MS;
use crate::generic::{self, SamplePacketizer};
use crate::{AccessUnit, CodecParams, DepacketizeError, RtpIn};

/// Bytes per sample of one channel.
const SAMPLE_BYTES: usize = 2;

/// L16 depacketizer: every packet is one access unit of whole sample frames.
#[derive(Debug)]
pub struct Depacketizer {
    inner: generic::Depacketizer,
}

impl Depacketizer {
    /// A depacketizer for L16 sampled (and clocked) at `clock_rate` Hz, mono until
    /// [`Depacketizer::with_channels`] says otherwise. L16 has no format parameters.
    pub fn new(clock_rate: u32, _fmtp: Option<&str>) -> Self {
        let params = CodecParams {
            sample_rate: Some(clock_rate),
            channels: Some(1),
            ..codec::base_params("L16", clock_rate)
        };
        Self {
            inner: generic::Depacketizer::passthrough("L16", params, SAMPLE_BYTES),
        }
    }

    /// Sets the channel count from the rtpmap encoding parameters (RFC 3551 §4.5.11: `None` means
    /// one). Packets must then hold whole frames of `2 * channels` bytes.
    pub fn with_channels(mut self, channels: Option<u16>) -> Self {
        let channels = channels.unwrap_or(1).max(1);
        self.inner.params_mut().channels = Some(channels);
        self.inner.set_unit(SAMPLE_BYTES * usize::from(channels));
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
        let unit = SAMPLE_BYTES * usize::from(channels.max(1));
        let ticks = u64::from(clock_rate) * u64::from(DEFAULT_PTIME_MS) / 1000;
        let ticks = u32::try_from(ticks).unwrap_or(u32::MAX);
        Self {
            inner: SamplePacketizer::new(payload_type, ssrc, initial_seq, mtu, unit, ticks),
        }
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
