//! Parameter sets seen in band, and the SDP `a=fmtp` that announces them.
//!
//! A server that relays a camera describes the stream to its readers. The camera's own SDP is often
//! wrong about the parameter sets: missing (Hikvision sends an empty `sprop-parameter-sets`), stale
//! after a resolution change, or garbage (VStarcam, CAMERA-QUIRKS #48), while the stream itself
//! carries the right ones before every keyframe. The stream wins (RFC 6184 §8.4, RFC 7798 §7.2: in-band
//! parameter sets take precedence), so [`InBandParams`] keeps the last ones seen and rewrites the
//! fmtp with them.
//!
//! Only whole NAL units are looked at (single NAL unit packets and aggregation packets): parameter
//! sets are small, and cameras that fragment them also repeat them in the SDP.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use bytes::Bytes;

use crate::h264::aggregated_nals;

/// The codecs whose parameter sets are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    H264,
    H265,
}

/// The last VPS (H.265) and SPS seen in a stream's RTP packets, and the last PPS of each id.
#[derive(Debug, Clone)]
pub struct InBandParams {
    codec: Codec,
    vps: Option<Bytes>,
    sps: Option<Bytes>,
    /// By `pic_parameter_set_id` (H.264 §7.3.2.2, H.265 §7.3.2.3).
    pps: BTreeMap<u32, Bytes>,
}

/// Largest parameter set kept; bigger NAL units are not parameter sets a camera sends.
const MAX_PARAMETER_SET: usize = 4096;

/// Most PPS ids kept (H.264 allows 256, H.265 64; cameras use one or two).
const MAX_PPS_IDS: usize = 8;

impl InBandParams {
    /// A tracker for an `a=rtpmap` encoding name (`H264`, `H265`; any case), or `None` for codecs
    /// without parameter sets.
    pub fn for_encoding(encoding: &str) -> Option<InBandParams> {
        let codec = if encoding.eq_ignore_ascii_case("H264") {
            Codec::H264
        } else if encoding.eq_ignore_ascii_case("H265") {
            Codec::H265
        } else {
            return None;
        };
        Some(InBandParams {
            codec,
            vps: None,
            sps: None,
            pps: BTreeMap::new(),
        })
    }

    /// Looks at one RTP payload; returns whether a parameter set changed.
    pub fn observe(&mut self, rtp_payload: &[u8]) -> bool {
        let mut changed = false;
        match self.codec {
            Codec::H264 => match rtp_payload.first().map(|b| b & 0x1f) {
                // RFC 6184 §5.7.1: STAP-A, (16-bit size, NAL unit) repeated.
                Some(24) => {
                    for nal in aggregated_nals(rtp_payload.get(1..)) {
                        changed |= self.keep_h264(nal);
                    }
                }
                Some(_) => changed |= self.keep_h264(rtp_payload),
                None => {}
            },
            Codec::H265 => match rtp_payload.first().map(|b| (b >> 1) & 0x3f) {
                // RFC 7798 §4.4.2: AP, a 2-byte payload header, then (16-bit size, NAL unit).
                Some(48) => {
                    for nal in aggregated_nals(rtp_payload.get(2..)) {
                        changed |= self.keep_h265(nal);
                    }
                }
                Some(_) => changed |= self.keep_h265(rtp_payload),
                None => {}
            },
        }
        changed
    }

    fn keep_h264(&mut self, nal: &[u8]) -> bool {
        match nal.first().map(|b| b & 0x1f) {
            Some(7) => store(&mut self.sps, nal),
            Some(8) => self.keep_pps(nal, 1),
            _ => false,
        }
    }

    fn keep_h265(&mut self, nal: &[u8]) -> bool {
        match nal.first().map(|b| (b >> 1) & 0x3f) {
            Some(32) => store(&mut self.vps, nal),
            Some(33) => store(&mut self.sps, nal),
            Some(34) => self.keep_pps(nal, 2),
            _ => false,
        }
    }

    /// A PPS whose NAL header takes `header_len` bytes: kept under its id, which comes first.
    fn keep_pps(&mut self, nal: &[u8], header_len: usize) -> bool {
        let Some(id) = nal.get(header_len..).and_then(read_ue) else {
            return false;
        };
        if !self.pps.contains_key(&id) && self.pps.len() >= MAX_PPS_IDS {
            return false;
        }
        let mut slot = self.pps.get(&id).cloned();
        let changed = store(&mut slot, nal);
        if let Some(pps) = slot {
            self.pps.insert(id, pps);
        }
        changed
    }

    /// Whether every parameter set the codec needs has been seen.
    pub fn is_complete(&self) -> bool {
        self.sps.is_some()
            && !self.pps.is_empty()
            && (self.codec == Codec::H264 || self.vps.is_some())
    }

    /// The fmtp parameters (the part after the payload type) for `existing` with the parameter sets
    /// seen in band: `sprop-parameter-sets` and `profile-level-id` for H.264, `sprop-vps`,
    /// `sprop-sps` and `sprop-pps` for H.265, replaced or added; every other parameter kept in its
    /// place. `None` until [`is_complete`](Self::is_complete).
    pub fn fmtp(&self, existing: Option<&str>) -> Option<String> {
        let sps = self.sps.as_ref()?;
        if self.pps.is_empty() {
            return None;
        }
        let b64 = base64::engine::general_purpose::STANDARD;
        let pps = self
            .pps
            .values()
            .map(|p| b64.encode(p))
            .collect::<Vec<_>>()
            .join(",");
        let mut ours: Vec<(&str, String)> = Vec::new();
        match self.codec {
            Codec::H264 => {
                if let Some(id) = crate::h264::profile_level_id(sps) {
                    ours.push(("profile-level-id", id));
                }
                ours.push(("sprop-parameter-sets", format!("{},{pps}", b64.encode(sps))));
            }
            Codec::H265 => {
                ours.push(("sprop-vps", b64.encode(self.vps.as_ref()?)));
                ours.push(("sprop-sps", b64.encode(sps)));
                ours.push(("sprop-pps", pps));
            }
        }
        let mut out = String::new();
        let mut put = |name: &str, value: &str| {
            if !out.is_empty() {
                out.push(';');
            }
            out.push_str(name);
            if !value.is_empty() {
                let _ = write!(out, "={value}");
            }
        };
        for (name, value) in sluice_rtsp::sdp::parse_fmtp(existing.unwrap_or_default()) {
            match ours.iter().position(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                Some(i) => {
                    let (n, v) = ours.remove(i);
                    put(n, &v);
                }
                None => put(&name, &value),
            }
        }
        for (name, value) in ours {
            put(name, &value);
        }
        Some(out)
    }
}

/// An unsigned Exp-Golomb value (H.264 §9.1) at the start of `data`; `None` when it is cut short or
/// longer than 32 bits.
fn read_ue(data: &[u8]) -> Option<u32> {
    let bit = |i: usize| data.get(i / 8).map(|b| (b >> (7 - i % 8)) & 1);
    let mut zeros = 0;
    while bit(zeros)? == 0 {
        zeros += 1;
        if zeros > 31 {
            return None;
        }
    }
    let mut value: u32 = 0;
    for i in 0..zeros {
        value = (value << 1) | u32::from(bit(zeros + 1 + i)?);
    }
    Some((1u32 << zeros) - 1 + value)
}

/// Keeps `nal` in `slot`; returns whether it differs from what was there.
fn store(slot: &mut Option<Bytes>, nal: &[u8]) -> bool {
    if nal.len() > MAX_PARAMETER_SET || slot.as_deref() == Some(nal) {
        return false;
    }
    *slot = Some(Bytes::copy_from_slice(nal));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9];
    const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb];

    #[test]
    fn h264_replaces_the_camera_sprops_and_keeps_the_rest() {
        let mut p = InBandParams::for_encoding("h264").unwrap();
        assert_eq!(p.fmtp(Some("packetization-mode=1")), None);
        assert!(p.observe(SPS));
        assert!(!p.is_complete());
        // STAP-A with the PPS.
        let mut stap = vec![24, 0, PPS.len() as u8];
        stap.extend_from_slice(PPS);
        assert!(p.observe(&stap));
        assert!(!p.observe(&stap), "the same PPS again is no change");
        assert!(p.is_complete());
        let camera = "packetization-mode=1;profile-level-id=420029;sprop-parameter-sets=Z0IAKeKQFAe2AtwEBAaQeJEV,aM48gA==;x-dummy";
        assert_eq!(
            p.fmtp(Some(camera)).unwrap(),
            "packetization-mode=1;profile-level-id=64001F;sprop-parameter-sets=Z2QAH6zZ,aOvjyw==;x-dummy"
        );
        // An empty camera fmtp (Hikvision) gets them too.
        assert_eq!(
            p.fmtp(None).unwrap(),
            "profile-level-id=64001F;sprop-parameter-sets=Z2QAH6zZ,aOvjyw=="
        );
    }

    #[test]
    fn every_pps_id_is_announced() {
        let mut p = InBandParams::for_encoding("H264").unwrap();
        assert!(p.observe(SPS));
        // pic_parameter_set_id 0 (ue "1") and 1 (ue "010").
        assert!(p.observe(&[0x68, 0xce, 0x3c, 0x80]));
        assert!(p.observe(&[0x68, 0x53, 0x0f, 0x20]));
        // The same id again, new contents: replaced, not added.
        assert!(p.observe(&[0x68, 0xce, 0x38, 0x80]));
        assert!(
            !p.observe(&[0x68, 0x53, 0x0f, 0x20]),
            "alternating ids are no change"
        );
        let fmtp = p.fmtp(None).unwrap();
        assert!(
            fmtp.ends_with("sprop-parameter-sets=Z2QAH6zZ,aM44gA==,aFMPIA=="),
            "{fmtp}"
        );
        // Ids beyond the bound are not kept.
        assert_eq!(p.pps.len(), 2);
        for b in 0..64u8 {
            p.observe(&[0x68, 0x02, b, 0xff]);
        }
        assert_eq!(p.pps.len(), MAX_PPS_IDS);
    }

    #[test]
    fn exp_golomb() {
        assert_eq!(read_ue(&[0b1000_0000]), Some(0));
        assert_eq!(read_ue(&[0b0100_0000]), Some(1));
        assert_eq!(read_ue(&[0b0110_0000]), Some(2));
        assert_eq!(read_ue(&[0b0001_0001]), Some(7));
        assert_eq!(read_ue(&[0b0000_1000, 0b1000_0000]), Some(16));
        assert_eq!(read_ue(&[0, 0, 0, 0, 0xff]), None, "longer than 32 bits");
        assert_eq!(read_ue(&[0b0000_0001]), None, "cut short");
        assert_eq!(read_ue(&[]), None);
    }

    #[test]
    fn h265_needs_all_three() {
        let mut p = InBandParams::for_encoding("H265").unwrap();
        let vps = [0x40, 0x01, 0x0c];
        let sps = [0x42, 0x01, 0x01];
        let pps = [0x44, 0x01, 0xc1];
        // AP holding SPS and PPS.
        let mut ap = vec![0x60, 0x01];
        for nal in [&sps[..], &pps[..]] {
            ap.extend_from_slice(&(nal.len() as u16).to_be_bytes());
            ap.extend_from_slice(nal);
        }
        assert!(p.observe(&ap));
        assert_eq!(p.fmtp(None), None);
        assert!(p.observe(&vps));
        assert_eq!(
            p.fmtp(Some("sprop-pps=AAAA;sprop-sps=BBBB;sprop-vps=CCCC"))
                .unwrap(),
            "sprop-pps=RAHB;sprop-sps=QgEB;sprop-vps=QAEM"
        );
    }

    #[test]
    fn other_codecs_and_junk() {
        assert!(InBandParams::for_encoding("MPEG4-GENERIC").is_none());
        let mut p = InBandParams::for_encoding("H264").unwrap();
        assert!(!p.observe(&[]));
        assert!(!p.observe(&[24, 0xff, 0xff, 0x67]), "truncated STAP-A");
        assert!(!p.observe(&[0x65, 0x88]), "a slice is not a parameter set");
    }

    proptest::proptest! {
        /// Any payload, then any camera fmtp: no panic, and a complete set always yields an fmtp
        /// that names the parameter sets.
        #[test]
        fn hostile_payloads_and_fmtp(
            codec in proptest::sample::select(vec!["H264", "H265"]),
            payloads in proptest::collection::vec(
                proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..20),
            existing in ".{0,80}",
        ) {
            let mut p = InBandParams::for_encoding(codec).unwrap();
            for payload in &payloads {
                p.observe(payload);
            }
            match p.fmtp(Some(&existing)) {
                Some(f) => {
                    proptest::prop_assert!(p.is_complete());
                    proptest::prop_assert!(f.contains("sprop-"));
                }
                None => proptest::prop_assert!(!p.is_complete()),
            }
        }
    }
}
