//! Turns fuzzer bytes into a sequence of RTP packets of one track, in the layout of the older
//! depacketizer targets (written by `byte_records` in `make_seeds.py`).
//!
//! Layout: records of a flags byte, a length byte (times 4) and the payload (fewer bytes at the
//! end of the input). Flag bits: 0 marker, 1 skip a sequence number (loss), 2 next timestamp
//! (+1024), 3 other SSRC, 4 other payload type, 5-7 the length's low bits.

use bytes::Bytes;
use sluice_media::RtpIn;

/// The packets of `data`.
pub fn packets(mut data: &[u8]) -> Vec<RtpIn> {
    let (mut seq, mut ts) = (0u16, 0u32);
    let mut out = Vec::new();
    while let [flags, len, rest @ ..] = data {
        let len = (usize::from(*len) * 4 + usize::from(flags >> 5)).min(rest.len());
        let (payload, after) = rest.split_at(len);
        data = after;
        seq = seq.wrapping_add(1 + u16::from(flags >> 1 & 1));
        ts = ts.wrapping_add(u32::from(flags >> 2 & 1) * 1024);
        out.push(RtpIn {
            sequence_number: seq,
            timestamp: ts,
            marker: flags & 1 == 1,
            payload_type: if flags & 0x10 == 0 { 96 } else { 50 },
            ssrc: u32::from(flags >> 3 & 1),
            payload: Bytes::copy_from_slice(payload),
        });
    }
    out
}
