//! Turns fuzzer bytes into a sequence of RTP packets of one track.
//!
//! Layout: one selector byte, then records of a control byte, a 16-bit big-endian length (taken
//! modulo 4096) and that many payload bytes (fewer at the end of the input). Control bits: 0x80
//! marker, 0x40 next timestamp (+3000), 0x20 skip a sequence number (loss), 0x10 repeat the
//! sequence number, 0x08 foreign payload type, 0x04 new SSRC.

use bytes::Bytes;
use sluice_media::RtpIn;

/// The selector byte and the packets.
pub fn packets(data: &[u8]) -> (u8, Vec<RtpIn>) {
    let Some((&selector, mut rest)) = data.split_first() else {
        return (0, Vec::new());
    };
    let input = Bytes::copy_from_slice(rest);
    let mut packets = Vec::new();
    let (mut seq, mut ts, mut ssrc) = (0xfff0u16, 0xffff_f000u32, 1u32);
    while let [control, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]) % 4096).min(tail.len());
        let start = input.len() - tail.len();
        if control & 0x40 != 0 {
            ts = ts.wrapping_add(3000);
        }
        if control & 0x10 == 0 {
            seq = seq.wrapping_add(if control & 0x20 != 0 { 2 } else { 1 });
        }
        if control & 0x04 != 0 {
            ssrc = ssrc.wrapping_add(1);
        }
        packets.push(RtpIn {
            sequence_number: seq,
            timestamp: ts,
            marker: control & 0x80 != 0,
            payload_type: if control & 0x08 != 0 { 50 } else { 96 },
            ssrc,
            payload: input.slice(start..start + len),
        });
        rest = &tail[len..];
    }
    (selector, packets)
}
