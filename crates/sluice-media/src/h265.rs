//! H.265: keyframe detection on RTP payloads (RFC 7798).

use crate::h264::{after_start_code, split_annexb};

// ITU-T H.265 Table 7-1 and RFC 7798 §4.4: NAL unit types used here.
const IRAP_FIRST: u8 = 16; // BLA_W_LP
const IRAP_LAST: u8 = 21; // CRA_NUT
const VPS: u8 = 32;
const SPS: u8 = 33;
const PPS: u8 = 34;
const AP: u8 = 48;
const FU: u8 = 49;

/// Length of the H.265 NAL unit header and of the RTP payload header that mirrors it.
const NAL_HEADER_LEN: usize = 2;

/// The `nal_unit_type` in the first byte of an H.265 NAL unit header (or RTP payload header).
fn nal_type(first_byte: u8) -> u8 {
    // ITU-T H.265 §7.3.1.2: forbidden_zero_bit, nal_unit_type (6 bits), nuh_layer_id, ...
    (first_byte >> 1) & 0x3f
}

/// Whether a NAL unit of this type starts a keyframe access unit: an IRAP picture (BLA, IDR, CRA)
/// or a parameter set that precedes one.
fn starts_keyframe_type(nal_type: u8) -> bool {
    (IRAP_FIRST..=IRAP_LAST).contains(&nal_type) || matches!(nal_type, VPS | SPS | PPS)
}

fn starts_keyframe(nal: &[u8]) -> bool {
    nal.first()
        .is_some_and(|&b| starts_keyframe_type(nal_type(b)))
}

/// True when this RTP payload begins a keyframe access unit: it starts an IRAP picture (types
/// 16..=21) or a VPS, SPS or PPS.
///
/// Recognized: a single NAL unit packet of such a type (RFC 7798 §4.4.1); an aggregation packet
/// holding such a NAL unit anywhere in it (§4.4.2); the first fragment (S bit) of such a NAL unit
/// (§4.4.3). Streams using DONL fields (`sprop-max-don-diff` > 0) are read as if they had none.
/// Tolerated: a payload, or the first FU fragment, that is itself an Annex B byte stream (start
/// code first; seen from Amatek AR-N3222F recorders) is looked into.
///
/// An access unit of several such NAL units has several packets for which this is true; a GOP
/// cache restarts only at the first of them.
pub fn is_keyframe_start(rtp_payload: &[u8]) -> bool {
    let Some(&first) = rtp_payload.first() else {
        return false;
    };
    if rtp_payload.len() < NAL_HEADER_LEN {
        return false;
    }
    match nal_type(first) {
        t if starts_keyframe_type(t) => true,
        // RFC 7798 §4.4.2: payload header, then (16-bit size, NAL unit) repeated.
        AP => {
            let mut rest = rtp_payload.get(NAL_HEADER_LEN..).unwrap_or_default();
            while let Some((len, tail)) = rest.split_first_chunk::<2>() {
                let len = usize::from(u16::from_be_bytes(*len));
                let Some(nal) = tail.get(..len) else {
                    break;
                };
                if starts_keyframe(nal) {
                    return true;
                }
                rest = tail.get(len..).unwrap_or_default();
            }
            false
        }
        // RFC 7798 §4.4.3: payload header, FU header (S, E, FuType), data.
        FU => {
            let Some(&fu_header) = rtp_payload.get(NAL_HEADER_LEN) else {
                return false;
            };
            if fu_header & 0x80 == 0 {
                return false;
            }
            match fu_header & 0x3f {
                // TRAIL_N, or (tolerated) an Annex B stream, whose first start code may begin in
                // the NAL header a depacketizer rebuilds: F and layer id, type 0, then TID.
                0 => {
                    let second = rtp_payload.get(1).copied().unwrap_or_default();
                    let rebuilt = [first & 0x81, second];
                    let data = rtp_payload.get(NAL_HEADER_LEN + 1..).unwrap_or_default();
                    annexb_starts_keyframe(&rebuilt, data)
                }
                t => starts_keyframe_type(t),
            }
        }
        // A NAL unit header of two zero bytes is invalid (nuh_temporal_id_plus1 is 0): Annex B.
        0 => annexb_starts_keyframe(&[], rtp_payload),
        _ => false,
    }
}

/// Whether `prefix` and `data` form an Annex B stream (start code first) holding a
/// keyframe-starting NAL unit.
fn annexb_starts_keyframe(prefix: &[u8], data: &[u8]) -> bool {
    after_start_code(prefix, data).is_some_and(|rest| split_annexb(rest).any(starts_keyframe))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2-byte NAL unit header of type `t`, layer 0, temporal id 1.
    fn hdr(t: u8) -> [u8; 2] {
        [t << 1, 0x01]
    }

    #[test]
    fn single_nal_units() {
        assert!(!is_keyframe_start(&[]));
        assert!(!is_keyframe_start(&[0x26]), "header cut short");
        for t in 16..=21 {
            assert!(is_keyframe_start(&[hdr(t)[0], 1, 0xaf]), "IRAP type {t}");
        }
        assert!(is_keyframe_start(&[0x40, 0x01, 0x0c]), "VPS");
        assert!(is_keyframe_start(&[0x42, 0x01, 0x01]), "SPS");
        assert!(is_keyframe_start(&[0x44, 0x01, 0xc1]), "PPS");
        assert!(!is_keyframe_start(&[0x02, 0x01, 0xd0]), "TRAIL_R");
        assert!(!is_keyframe_start(&hdr(22)), "reserved IRAP 22");
        assert!(!is_keyframe_start(&[0x4e, 0x01, 0x05]), "prefix SEI");
        assert!(!is_keyframe_start(&[0x46, 0x01, 0x50]), "AUD");
    }

    #[test]
    fn aggregation_packets() {
        let ap = hdr(AP);
        // [VPS, SPS]
        assert!(is_keyframe_start(&[
            ap[0], ap[1], 0, 3, 0x40, 0x01, 0x0c, 0, 3, 0x42, 0x01, 0x01
        ]));
        // [SEI, IDR_W_RADL]
        assert!(is_keyframe_start(&[
            ap[0], ap[1], 0, 2, 0x4e, 0x01, 0, 3, 0x26, 0x01, 0xaf
        ]));
        // [TRAIL_R, TRAIL_R]
        assert!(!is_keyframe_start(&[
            ap[0], ap[1], 0, 2, 0x02, 0x01, 0, 2, 0x02, 0x01
        ]));
        // Truncated size or unit.
        assert!(!is_keyframe_start(&[ap[0], ap[1], 0]));
        assert!(!is_keyframe_start(&[ap[0], ap[1], 0, 9, 0x40, 0x01]));
    }

    #[test]
    fn fragmentation_units() {
        let fu = hdr(FU);
        assert!(
            is_keyframe_start(&[fu[0], fu[1], 0x80 | 19, 0xaf]),
            "start of IDR"
        );
        assert!(
            is_keyframe_start(&[fu[0], fu[1], 0x80 | 21, 0xaf]),
            "start of CRA"
        );
        assert!(
            is_keyframe_start(&[fu[0], fu[1], 0x80 | 32, 0x0c]),
            "start of VPS"
        );
        assert!(
            !is_keyframe_start(&[fu[0], fu[1], 19, 0xaf]),
            "middle of IDR"
        );
        assert!(
            !is_keyframe_start(&[fu[0], fu[1], 0x40 | 19, 0xaf]),
            "end of IDR"
        );
        assert!(
            !is_keyframe_start(&[fu[0], fu[1], 0x80 | 1, 0xaf]),
            "start of TRAIL_R"
        );
        assert!(!is_keyframe_start(&[fu[0], fu[1]]), "no FU header");
        // FuType 0 with an Annex B stream inside.
        assert!(is_keyframe_start(&[
            fu[0], 0x00, 0x80, 0, 0, 1, 0x40, 0x01, 0x0c
        ]));
        assert!(!is_keyframe_start(&[
            fu[0], 0x00, 0x80, 0, 0, 1, 0x02, 0x01
        ]));
        // The rebuilt two-byte NAL header (all zero) begins the start code.
        assert!(is_keyframe_start(&[
            fu[0], 0x00, 0x80, 0, 1, 0x40, 0x01, 0x0c
        ]));
        assert!(is_keyframe_start(&[fu[0], 0x00, 0x80, 1, 0x42, 0x01, 0x01]));
        assert!(!is_keyframe_start(&[
            fu[0], 0x01, 0x80, 0, 1, 0x40, 0x01, 0x0c
        ]));
    }

    #[test]
    fn annexb_payload() {
        assert!(is_keyframe_start(&[0, 0, 0, 1, 0x40, 0x01, 0x0c]));
        assert!(!is_keyframe_start(&[0, 0, 0, 1, 0x02, 0x01, 0xd0]));
        assert!(
            !is_keyframe_start(&[0x01, 0x01]),
            "TRAIL_N with layer bit is not Annex B"
        );
        assert!(!is_keyframe_start(&[0x00, 0x01, 0x20, 0x00]), "TRAIL_N");
        // A TRAIL_N fragment whose data merely looks like a keyframe NAL header.
        let fu = hdr(FU);
        assert!(!is_keyframe_start(&[fu[0], fu[1], 0x80, 0x26, 0x01]));
    }
}
