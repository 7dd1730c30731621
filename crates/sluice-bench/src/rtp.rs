//! The little a reader needs from RTP packets: the sequence number, the payload, and whether an H.264
//! payload starts a keyframe. Everything is bounds-checked; a malformed packet is simply not counted.

/// The sequence number of an RTP packet (RFC 3550 §5.1), or `None` if it is not RTP version 2.
pub fn sequence(packet: &[u8]) -> Option<u16> {
    let b0 = *packet.first()?;
    if b0 >> 6 != 2 {
        return None;
    }
    let seq = packet.get(2..4)?;
    Some(u16::from_be_bytes([*seq.first()?, *seq.get(1)?]))
}

/// The timestamp of an RTP packet (RFC 3550 §5.1), or `None` if it is not RTP version 2.
pub fn timestamp(packet: &[u8]) -> Option<u32> {
    if packet.first()? >> 6 != 2 {
        return None;
    }
    let ts: [u8; 4] = packet.get(4..8)?.try_into().ok()?;
    Some(u32::from_be_bytes(ts))
}

/// The payload of an RTP packet, after the CSRC list and the header extension (RFC 3550 §5.1, §5.3.1).
pub fn payload(packet: &[u8]) -> Option<&[u8]> {
    let b0 = *packet.first()?;
    if b0 >> 6 != 2 {
        return None;
    }
    let csrc_count = usize::from(b0 & 0x0f);
    let mut offset = 12 + 4 * csrc_count;
    if b0 & 0x10 != 0 {
        // RFC 3550 §5.3.1: 16-bit profile-defined field, then the extension length in 32-bit words.
        let words = packet.get(offset + 2..offset + 4)?;
        let words = usize::from(u16::from_be_bytes([*words.first()?, *words.get(1)?]));
        offset += 4 + 4 * words;
    }
    packet.get(offset..)
}

/// H.264 NAL unit types that start a keyframe for a joining reader: IDR slice (5) and SPS (7).
fn is_keyframe_nal(header: u8) -> bool {
    matches!(header & 0x1f, 5 | 7)
}

/// Whether an H.264 RTP payload (RFC 6184) begins an IDR picture or carries an SPS: a decoder that has
/// seen nothing before can start here.
pub fn starts_h264_keyframe(payload: &[u8]) -> bool {
    let Some(&header) = payload.first() else {
        return false;
    };
    match header & 0x1f {
        // RFC 6184 §5.7.1: STAP-A, a series of (16-bit size, NAL unit).
        24 => {
            let mut rest = payload.get(1..).unwrap_or_default();
            while let (Some(&hi), Some(&lo)) = (rest.first(), rest.get(1)) {
                let size = usize::from(u16::from_be_bytes([hi, lo]));
                match rest.get(2) {
                    Some(&nal) if size > 0 && is_keyframe_nal(nal) => return true,
                    Some(_) => {}
                    None => return false,
                }
                rest = rest.get(2 + size..).unwrap_or_default();
            }
            false
        }
        // RFC 6184 §5.8: FU-A; the FU header's S bit marks the first fragment of the NAL unit.
        28 => payload
            .get(1)
            .is_some_and(|&fu| fu & 0x80 != 0 && is_keyframe_nal(fu)),
        // RFC 6184 §5.6: a single NAL unit packet.
        1..=23 => is_keyframe_nal(header),
        _ => false,
    }
}

/// Adds up how far an RTP clock advanced, across 32-bit wraps; backward steps add nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClockTracker {
    last: Option<u32>,
    ticks: u64,
}

impl ClockTracker {
    /// Records the timestamp of the next packet.
    pub fn push(&mut self, ts: u32) {
        if let Some(last) = self.last {
            let step = ts.wrapping_sub(last);
            if step >= 0x8000_0000 {
                return;
            }
            self.ticks += u64::from(step);
        }
        self.last = Some(ts);
    }

    /// Clock ticks advanced since the first packet.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }
}

/// Counts the packets missing from one RTP stream by the gaps in its sequence numbers.
///
/// Over TCP nothing is reordered, so a backwards step is a duplicate or a restart and counts nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct SeqTracker {
    last: Option<u16>,
}

impl SeqTracker {
    /// Records `seq` and returns how many packets are missing between the previous one and it.
    pub fn push(&mut self, seq: u16) -> u64 {
        let Some(last) = self.last else {
            self.last = Some(seq);
            return 0;
        };
        let step = seq.wrapping_sub(last);
        // RFC 3550 §A.1: a step of less than half the sequence space is forward.
        if step == 0 || step >= 0x8000 {
            return 0;
        }
        self.last = Some(seq);
        u64::from(step - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(seq: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 96];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 1, 0xde, 0xad, 0xbe, 0xef]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn payload_skips_csrcs_and_extension() {
        let mut p = vec![0x80 | 0x10 | 0x01, 96, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 1, 2, 3, 4]); // extension of one word
        p.extend_from_slice(&[0x65, 0x88]);
        assert_eq!(payload(&p), Some(&[0x65, 0x88][..]));
        assert_eq!(sequence(&p), Some(7));
        assert_eq!(timestamp(&p), Some(0));
        assert_eq!(timestamp(&rtp(1, &[])), Some(1));
        assert_eq!(timestamp(&p[..7]), None);
        // Truncated inside the extension.
        assert_eq!(payload(&p[..18]), None);
        assert_eq!(payload(&[]), None);
        assert_eq!(sequence(&[0x40, 0, 0, 1]), None, "version 1 is not RTP");
    }

    #[test]
    fn keyframe_single_nal_units() {
        assert!(starts_h264_keyframe(&[0x65, 0x88, 0x84])); // IDR
        assert!(starts_h264_keyframe(&[0x67, 0x42])); // SPS
        assert!(!starts_h264_keyframe(&[0x41, 0x9a])); // non-IDR slice
        assert!(!starts_h264_keyframe(&[0x68])); // PPS alone
        assert!(!starts_h264_keyframe(&[]));
    }

    #[test]
    fn keyframe_fu_a_only_on_first_fragment() {
        assert!(starts_h264_keyframe(&[0x7c, 0x85, 0xb8])); // S=1, IDR
        assert!(!starts_h264_keyframe(&[0x7c, 0x05, 0xb8])); // middle fragment of an IDR
        assert!(!starts_h264_keyframe(&[0x7c, 0x45, 0xb8])); // last fragment
        assert!(!starts_h264_keyframe(&[0x5c, 0x81, 0x9a])); // S=1, non-IDR
        assert!(!starts_h264_keyframe(&[0x7c])); // no FU header
    }

    #[test]
    fn keyframe_stap_a_looks_at_every_unit() {
        // SEI (6) then SPS (7).
        let stap = [0x78, 0, 2, 0x06, 0x05, 0, 3, 0x67, 0x42, 0x00];
        assert!(starts_h264_keyframe(&stap));
        // SEI then a non-IDR slice.
        assert!(!starts_h264_keyframe(&[
            0x78, 0, 2, 0x06, 0x05, 0, 2, 0x41, 0x9a
        ]));
        // A size running past the end stops the walk without a panic.
        assert!(!starts_h264_keyframe(&[0x78, 0xff, 0xff, 0x06]));
        assert!(!starts_h264_keyframe(&[0x78, 0x00]));
    }

    #[test]
    fn keyframe_in_a_whole_packet() {
        let p = rtp(1, &[0x7c, 0x85, 0x00]);
        assert!(payload(&p).is_some_and(starts_h264_keyframe));
    }

    #[test]
    fn seq_gaps_count_missing_packets() {
        let mut t = SeqTracker::default();
        assert_eq!(t.push(10), 0);
        assert_eq!(t.push(11), 0);
        assert_eq!(t.push(14), 2);
        assert_eq!(t.push(14), 0, "duplicate");
        assert_eq!(t.push(12), 0, "late packet");
        assert_eq!(t.push(15), 0);
    }

    #[test]
    fn clock_advance_across_wrap_ignores_backward_steps() {
        let mut c = ClockTracker::default();
        c.push(u32::MAX - 1000);
        c.push(u32::MAX - 1000); // same frame
        c.push(2599); // wrapped: 3600 ticks later
        c.push(0); // backwards (reordered or restarted)
        c.push(6199);
        assert_eq!(c.ticks(), 7200);
    }

    #[test]
    fn seq_gaps_across_wrap() {
        let mut t = SeqTracker::default();
        t.push(65534);
        assert_eq!(t.push(65535), 0);
        assert_eq!(t.push(1), 1);
    }
}
