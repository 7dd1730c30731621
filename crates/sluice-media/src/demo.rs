//! The built-in demo clip: a 10-second H.264 test pattern that the test-pattern source loops.
//!
//! The clip (`assets/demo.h264`, made with the ffmpeg command in `assets/README.md`) is 640x360 at
//! 25 frames per second, Main profile without B-frames, with an IDR picture every 50 frames and
//! SPS and PPS repeated before each. It is compiled into the binary and its NAL units are served
//! straight from the static bytes.

use std::sync::OnceLock;

use bytes::Bytes;
use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::nal::{Nal as _, RefNal};

use crate::h264::{self, NAL_AUD, NAL_IDR, NAL_PPS, NAL_SPS};
use crate::MediaError;

/// The committed demo clip, an Annex B H.264 elementary stream.
static BUILTIN: &[u8] = include_bytes!("../assets/demo.h264");

/// Frame rate of the committed demo clip.
const BUILTIN_FRAME_RATE: u32 = 25;

/// RTP clock rate of H.264 (RFC 6184 §8.2.1).
const CLOCK_RATE: u32 = 90_000;

/// An H.264 clip split into access units, ready to packetize.
#[derive(Debug, Clone)]
pub struct DemoClip {
    /// The sequence parameter set (NAL unit, header included) the clip starts with.
    pub sps: Bytes,
    /// The picture parameter set (NAL unit, header included) the clip starts with.
    pub pps: Bytes,
    /// The access units in decoding (and, with no B-frames, presentation) order.
    pub frames: Vec<DemoFrame>,
    /// Frames per second.
    pub frame_rate: u32,
    /// Picture width in pixels, after cropping.
    pub width: u16,
    /// Picture height in pixels, after cropping.
    pub height: u16,
}

/// One access unit of a [`DemoClip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoFrame {
    /// The NAL units of the access unit, without start codes and without access unit delimiters.
    /// Those of a keyframe begin with the SPS and PPS.
    pub nals: Vec<Bytes>,
    /// Whether this access unit is an IDR picture, where a decoder can start.
    pub keyframe: bool,
}

impl DemoClip {
    /// The demo clip compiled into the crate: 250 frames, 640x360 at 25 fps, a keyframe every 50.
    ///
    /// Parsed once; later calls clone it, which shares every NAL unit.
    pub fn builtin() -> DemoClip {
        static CLIP: OnceLock<DemoClip> = OnceLock::new();
        CLIP.get_or_init(|| {
            // The committed asset is checked by this crate's tests to parse; no input reaches here.
            DemoClip::parse_shared(Bytes::from_static(BUILTIN), BUILTIN_FRAME_RATE)
                .expect("the committed demo clip parses")
        })
        .clone()
    }

    /// Parses an Annex B H.264 elementary stream played at `frame_rate` frames per second.
    ///
    /// Access units are split at access unit delimiters, or where ITU-T H.264 §7.4.1.2.3 says a
    /// new one begins when there are none. The first access unit must be an IDR picture, and the
    /// stream must carry an SPS and a PPS; keyframes that lack them in band get them prepended.
    /// Access units without a coded picture are dropped.
    pub fn parse(annexb: &[u8], frame_rate: u32) -> Result<DemoClip, MediaError> {
        DemoClip::parse_shared(Bytes::copy_from_slice(annexb), frame_rate)
    }

    /// Duration of one frame in ticks of the 90 kHz RTP clock (3600 at 25 fps).
    pub fn frame_duration_90k(&self) -> u32 {
        CLOCK_RATE / self.frame_rate.max(1)
    }

    /// The SDP `a=fmtp` parameters for the clip packetized by [`h264::Packetizer`].
    pub fn fmtp(&self) -> String {
        h264::fmtp(&self.sps, &self.pps)
    }

    /// Parses the stream in `data`; every NAL unit in the result is a slice of `data`.
    fn parse_shared(data: Bytes, frame_rate: u32) -> Result<DemoClip, MediaError> {
        if frame_rate == 0 || frame_rate > CLOCK_RATE {
            return Err(MediaError::InvalidFrameRate { frame_rate });
        }
        let mut sps: Option<&[u8]> = None;
        let mut pps: Option<&[u8]> = None;
        let mut units: Vec<Vec<&[u8]>> = Vec::new();
        let mut current: Vec<&[u8]> = Vec::new();
        let mut current_has_picture = false;
        for nal in h264::split_annexb(&data) {
            let Some(nal_type) = h264::nal_type(nal) else {
                continue;
            };
            // ITU-T H.264 §7.4.1.2.3: an AUD always begins an access unit; after the last VCL NAL
            // unit of a picture, so do SEI, SPS, PPS, types 14..=18 and the first slice of the
            // next picture.
            let begins_unit = nal_type == NAL_AUD
                || (current_has_picture
                    && (matches!(nal_type, 6..=8 | 14..=18)
                        || (h264::is_vcl(nal_type) && h264::starts_picture(nal))));
            if begins_unit && !current.is_empty() {
                units.push(std::mem::take(&mut current));
                current_has_picture = false;
            }
            match nal_type {
                NAL_AUD => continue,
                NAL_SPS => {
                    sps.get_or_insert(nal);
                }
                NAL_PPS => {
                    pps.get_or_insert(nal);
                }
                t if h264::is_vcl(t) => current_has_picture = true,
                _ => {}
            }
            current.push(nal);
        }
        if !current.is_empty() {
            units.push(current);
        }

        let sps = sps.ok_or(MediaError::MissingParameterSet { kind: "SPS" })?;
        let pps = pps.ok_or(MediaError::MissingParameterSet { kind: "PPS" })?;
        let (width, height) = dimensions(sps).map_err(|detail| MediaError::InvalidSps {
            offset: offset_in(&data, sps),
            detail,
        })?;
        let sps = data.slice_ref(sps);
        let pps = data.slice_ref(pps);

        let mut frames = Vec::with_capacity(units.len());
        for unit in units {
            if !unit
                .iter()
                .any(|nal| h264::nal_type(nal).is_some_and(h264::is_vcl))
            {
                continue;
            }
            let keyframe = unit.iter().any(|nal| h264::nal_type(nal) == Some(NAL_IDR));
            if frames.is_empty() && !keyframe {
                let offset = unit.first().map_or(0, |nal| offset_in(&data, nal));
                return Err(MediaError::FirstFrameNotKeyframe { offset });
            }
            let has = |t: u8| unit.iter().any(|nal| h264::nal_type(nal) == Some(t));
            let mut nals = Vec::with_capacity(unit.len() + 2);
            if keyframe && !has(NAL_SPS) {
                nals.push(sps.clone());
            }
            if keyframe && !has(NAL_PPS) {
                nals.push(pps.clone());
            }
            nals.extend(unit.into_iter().map(|nal| data.slice_ref(nal)));
            frames.push(DemoFrame { nals, keyframe });
        }
        if frames.is_empty() {
            return Err(MediaError::NoPictures { len: data.len() });
        }
        Ok(DemoClip {
            sps,
            pps,
            frames,
            frame_rate,
            width,
            height,
        })
    }
}

/// Picture size after cropping, from an SPS NAL unit (header included).
fn dimensions(sps: &[u8]) -> Result<(u16, u16), String> {
    let nal = RefNal::new(sps, &[], true);
    let sps = SeqParameterSet::from_bits(nal.rbsp_bits()).map_err(|e| format!("{e:?}"))?;
    let (width, height) = sps.pixel_dimensions().map_err(|e| format!("{e:?}"))?;
    match (u16::try_from(width), u16::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(format!("picture size {width}x{height} out of range")),
    }
}

/// Byte offset of `part` within `whole` (0 if it is not a subslice).
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    let offset = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    if offset <= whole.len() {
        offset
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    #[test]
    fn builtin_clip() {
        let clip = DemoClip::builtin();
        assert_eq!(clip.frames.len(), 250);
        assert_eq!((clip.width, clip.height), (640, 360));
        assert_eq!(clip.frame_rate, 25);
        assert_eq!(clip.frame_duration_90k(), 3600);
        let keyframes: Vec<usize> = (0..clip.frames.len())
            .filter(|&i| clip.frames[i].keyframe)
            .collect();
        assert_eq!(keyframes, vec![0, 50, 100, 150, 200]);
        assert_eq!(h264::nal_type(&clip.sps), Some(NAL_SPS));
        assert_eq!(h264::nal_type(&clip.pps), Some(NAL_PPS));
        assert_eq!(clip.sps[1], 77, "Main profile");

        for (i, frame) in clip.frames.iter().enumerate() {
            let types: Vec<u8> = frame
                .nals
                .iter()
                .filter_map(|n| h264::nal_type(n))
                .collect();
            assert!(!types.contains(&NAL_AUD), "frame {i}: {types:?}");
            let slices: Vec<u8> = types.iter().copied().filter(|&t| h264::is_vcl(t)).collect();
            if frame.keyframe {
                assert_eq!(&types[..2], &[NAL_SPS, NAL_PPS], "frame {i}");
                assert_eq!(frame.nals[0], clip.sps, "frame {i}: SPS repeated unchanged");
                assert_eq!(frame.nals[1], clip.pps, "frame {i}: PPS repeated unchanged");
                assert_eq!(slices, vec![NAL_IDR], "frame {i}");
            } else {
                assert_eq!(slices, vec![1], "frame {i}: one non-IDR slice");
            }
        }
    }

    #[test]
    fn builtin_clip_packetizes_with_keyframe_starts() {
        let clip = DemoClip::builtin();
        let mut packetizer = h264::Packetizer::new(96, 0xfeed_f00d, 65000, h264::DEFAULT_MTU);
        let mut packets = Vec::new();
        for (i, frame) in clip.frames.iter().enumerate() {
            let nals: Vec<&[u8]> = frame.nals.iter().map(|n| &n[..]).collect();
            packets.clear();
            let timestamp = (i as u32).wrapping_mul(clip.frame_duration_90k());
            packetizer.packetize(&nals, timestamp, &mut packets);
            assert!(!packets.is_empty());
            assert!(packets.iter().all(|p| p.len() <= h264::DEFAULT_MTU));
            assert_eq!(
                h264::is_keyframe_start(&packets[0][12..]),
                frame.keyframe,
                "frame {i}"
            );
            if !frame.keyframe {
                assert!(packets.iter().all(|p| !h264::is_keyframe_start(&p[12..])));
            }
            let last = packets.last().unwrap();
            assert_eq!(last[1] & 0x80, 0x80, "frame {i}: marker on the last packet");
        }
    }

    #[test]
    fn builtin_fmtp_round_trips() {
        let clip = DemoClip::builtin();
        let fmtp = clip.fmtp();
        let b64 = base64::engine::general_purpose::STANDARD;
        let params: Vec<(&str, &str)> = fmtp
            .split(';')
            .map(|p| p.split_once('=').unwrap())
            .collect();
        assert_eq!(params[0], ("packetization-mode", "1"));
        assert_eq!(params[1].0, "profile-level-id");
        let expected = format!("{:02X}{:02X}{:02X}", clip.sps[1], clip.sps[2], clip.sps[3]);
        assert_eq!(params[1].1, expected);
        assert!(expected.starts_with("4D"), "Main profile: {expected}");
        assert_eq!(params[2].0, "sprop-parameter-sets");
        let (sps, pps) = params[2].1.split_once(',').unwrap();
        assert_eq!(b64.decode(sps).unwrap(), clip.sps);
        assert_eq!(b64.decode(pps).unwrap(), clip.pps);
    }

    #[test]
    fn parse_copies_match_builtin() {
        let clip = DemoClip::parse(BUILTIN, 25).unwrap();
        let builtin = DemoClip::builtin();
        assert_eq!(clip.frames, builtin.frames);
        assert_eq!(clip.sps, builtin.sps);
    }

    /// The builtin clip with its AUDs removed, as a plain Annex B stream.
    fn without_auds(frames: &[DemoFrame]) -> Vec<u8> {
        let mut out = Vec::new();
        for nal in frames.iter().flat_map(|f| &f.nals) {
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(nal);
        }
        out
    }

    #[test]
    fn parse_splits_without_auds() {
        let builtin = DemoClip::builtin();
        let clip = DemoClip::parse(&without_auds(&builtin.frames[..60]), 30).unwrap();
        assert_eq!(clip.frames, builtin.frames[..60]);
        assert_eq!(clip.frame_duration_90k(), 3000);
    }

    #[test]
    fn parse_prepends_parameter_sets_to_keyframes() {
        let builtin = DemoClip::builtin();
        // Drop the in-band SPS and PPS from the second GOP.
        let mut frames = builtin.frames[..60].to_vec();
        frames[50].nals.drain(..2);
        let clip = DemoClip::parse(&without_auds(&frames), 25).unwrap();
        assert_eq!(clip.frames, builtin.frames[..60]);
    }

    #[test]
    fn parse_errors() {
        let builtin = DemoClip::builtin();
        assert_eq!(
            DemoClip::parse(BUILTIN, 0).unwrap_err(),
            MediaError::InvalidFrameRate { frame_rate: 0 }
        );
        assert_eq!(
            DemoClip::parse(&[0, 0, 1, 0x09, 0xf0], 25).unwrap_err(),
            MediaError::MissingParameterSet { kind: "SPS" }
        );
        let sps_only = [&[0, 0, 0, 1][..], &builtin.sps].concat();
        assert_eq!(
            DemoClip::parse(&sps_only, 25).unwrap_err(),
            MediaError::MissingParameterSet { kind: "PPS" }
        );
        let params = [&[0, 0, 0, 1][..], &builtin.sps, &[0, 0, 1], &builtin.pps].concat();
        assert_eq!(
            DemoClip::parse(&params, 25).unwrap_err(),
            MediaError::NoPictures { len: params.len() }
        );
        // Starting at a P frame, parameter sets only later.
        let p_first = [&without_auds(&builtin.frames[1..3])[..], &params].concat();
        assert_eq!(
            DemoClip::parse(&p_first, 25).unwrap_err(),
            MediaError::FirstFrameNotKeyframe { offset: 4 }
        );
        // A broken SPS.
        let bad = [
            &[0, 0, 1, 0x67, 0x4d, 0, 0x1e, 0xff, 0, 0, 1][..],
            &builtin.pps,
        ]
        .concat();
        assert!(matches!(
            DemoClip::parse(&bad, 25).unwrap_err(),
            MediaError::InvalidSps { offset: 3, .. }
        ));
    }
}
