//! One continuous RTP stream per track across source sessions.
//!
//! When a camera drops and comes back, or a publisher reconnects within its grace period, the new session
//! starts with new sequence numbers, timestamps and SSRC. Readers must not notice: each track maps the new
//! session's numbering onto the old one, so the first packet after the gap carries the next sequence number,
//! a timestamp advanced by the length of the gap, and the SSRC and payload type readers already know.
//! Sans-IO: the gap comes in as clock ticks.

/// The header fields a packet goes out with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbering {
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub ts: u32,
    /// SSRC.
    pub ssrc: u32,
    /// Payload type.
    pub pt: u8,
}

#[derive(Debug, Clone, Copy)]
struct Offsets {
    seq: u16,
    ts: u32,
    /// `None`: the source's own SSRC and payload type pass through (no gap yet).
    ssrc_pt: Option<(u32, u8)>,
}

/// The numbering state of one track.
#[derive(Debug, Default, Clone)]
pub struct Continuity {
    last_out: Option<Numbering>,
    offsets: Option<Offsets>,
    resume_gap: Option<u32>,
    /// The highest input sequence number of this session, once a packet of it went out as several
    /// (see [`grow`](Self::grow)): older input would take a number already given out.
    split_mark: Option<u16>,
}

impl Continuity {
    /// A new source session begins `gap_ticks` (in this track's RTP clock) after the last packet.
    pub fn resume(&mut self, gap_ticks: u32) {
        self.offsets = None;
        self.resume_gap = Some(gap_ticks);
        self.split_mark = None;
    }

    /// The packet just mapped goes out as `1 + extra` packets, numbered on from its own: later
    /// packets move on by `extra`.
    pub fn grow(&mut self, extra: u16) {
        if let (Some(off), Some(last)) = (&mut self.offsets, &mut self.last_out) {
            let input = last.seq.wrapping_sub(off.seq);
            off.seq = off.seq.wrapping_add(extra);
            last.seq = last.seq.wrapping_add(extra);
            self.split_mark = Some(self.split_mark.map_or(input, |m| newest(m, input)));
        }
    }

    /// Whether a packet came too late to be numbered: after a packet of this session that was
    /// split, and from before it.
    pub fn is_late(&self, input_seq: u16) -> bool {
        self.split_mark
            .is_some_and(|mark| input_seq.wrapping_sub(mark) as i16 <= 0)
    }

    /// Whether [`resume`](Self::resume) was called and no packet has been mapped since.
    pub fn is_resuming(&self) -> bool {
        self.offsets.is_none() && self.resume_gap.is_some()
    }

    /// The numbering a packet goes out with.
    pub fn map(&mut self, input: Numbering) -> Numbering {
        let off =
            *self
                .offsets
                .get_or_insert_with(|| match (self.last_out, self.resume_gap.take()) {
                    (Some(last), Some(gap)) => Offsets {
                        seq: last.seq.wrapping_add(1).wrapping_sub(input.seq),
                        // At least one tick, so the first frame after the gap is never on the last one's timestamp.
                        ts: last.ts.wrapping_add(gap.max(1)).wrapping_sub(input.ts),
                        ssrc_pt: Some((last.ssrc, last.pt)),
                    },
                    _ => Offsets {
                        seq: 0,
                        ts: 0,
                        ssrc_pt: None,
                    },
                });
        let (ssrc, pt) = off.ssrc_pt.unwrap_or((input.ssrc, input.pt));
        let out = Numbering {
            seq: input.seq.wrapping_add(off.seq),
            ts: input.ts.wrapping_add(off.ts),
            ssrc,
            pt,
        };
        self.last_out = Some(out);
        if let Some(mark) = &mut self.split_mark {
            *mark = newest(*mark, input.seq);
        }
        out
    }
}

/// The later of two sequence numbers (modulo 2^16).
fn newest(a: u16, b: u16) -> u16 {
    if b.wrapping_sub(a) as i16 > 0 {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(seq: u16, ts: u32, ssrc: u32) -> Numbering {
        Numbering {
            seq,
            ts,
            ssrc,
            pt: 96,
        }
    }

    #[test]
    fn first_session_passes_through() {
        let mut c = Continuity::default();
        assert_eq!(c.map(n(10, 1000, 7)), n(10, 1000, 7));
        assert_eq!(c.map(n(11, 4600, 7)), n(11, 4600, 7));
        assert_eq!(c.map(n(12, 8200, 7)), n(12, 8200, 7));
    }

    #[test]
    fn resume_continues_numbering() {
        let mut c = Continuity::default();
        c.map(n(65534, u32::MAX - 100, 7));
        c.map(n(65535, u32::MAX, 7));
        // Two seconds at 90 kHz later, a new session with its own numbering.
        c.resume(180_000);
        let a = c.map(Numbering {
            seq: 500,
            ts: 123,
            ssrc: 99,
            pt: 97,
        });
        assert_eq!(a, n(0, 179_999, 7));
        let b = c.map(Numbering {
            seq: 501,
            ts: 123 + 3600,
            ssrc: 99,
            pt: 97,
        });
        assert_eq!(b, n(1, 179_999 + 3600, 7));
    }

    #[test]
    fn two_restarts() {
        let mut c = Continuity::default();
        c.map(n(1, 0, 1));
        c.resume(90);
        assert_eq!(c.map(n(1000, 5, 2)), n(2, 90, 1));
        c.resume(90);
        assert_eq!(c.map(n(7, 7, 3)), n(3, 180, 1));
        assert_eq!(c.map(n(8, 3607, 3)), n(4, 3780, 1));
    }

    #[test]
    fn resume_before_any_packet_is_identity() {
        let mut c = Continuity::default();
        c.resume(1000);
        assert_eq!(c.map(n(5, 5, 5)), n(5, 5, 5));
    }

    #[test]
    fn a_split_packet_moves_later_numbers_on_and_late_ones_are_refused() {
        let mut c = Continuity::default();
        assert_eq!(c.map(n(100, 0, 7)).seq, 100);
        c.grow(3); // 100 went out as 100..=103
        assert!(c.is_late(100));
        assert!(c.is_late(99));
        assert!(!c.is_late(101));
        assert_eq!(c.map(n(101, 0, 7)).seq, 104);
        // A restart continues after the last piece and forgets the mark.
        c.resume(90);
        assert!(!c.is_late(5));
        assert_eq!(c.map(n(5, 0, 8)).seq, 105);
    }
}
