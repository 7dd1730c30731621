//! H.264 and H.265 depacketizer behaviour on the camera quirks and malformed input the corpus does
//! not show packet by packet: SSRC changes, loss, duplicates, errors, DONL fields, limits.

use bytes::Bytes;
use sluice_media::{h264, h265, AccessUnit, Depacketizer, RtpIn};

fn pkt(seq: u16, ts: u32, marker: bool, payload: &[u8]) -> RtpIn {
    RtpIn {
        sequence_number: seq,
        timestamp: ts,
        marker,
        payload_type: 96,
        ssrc: 0x1234,
        payload: Bytes::copy_from_slice(payload),
    }
}

fn h264() -> h264::Depacketizer {
    h264::Depacketizer::new(90_000, Some("packetization-mode=1")).unwrap()
}

/// Pushes all packets (which must be accepted) and pulls everything.
fn feed(d: &mut dyn Depacketizer, packets: Vec<RtpIn>) -> Vec<AccessUnit> {
    let mut out = Vec::new();
    for p in packets {
        d.push(p).unwrap();
        while let Some(au) = d.pull() {
            out.push(au);
        }
    }
    out
}

fn nals(au: &AccessUnit) -> Vec<Vec<u8>> {
    au.data.iter().map(|n| n.to_vec()).collect()
}

// H.264 NAL units: an IDR slice and non-IDR slices that start a picture (first_mb_in_slice = 0).
const IDR: &[u8] = &[0x65, 0x88, 0x84, 0x21];
const P1: &[u8] = &[0x41, 0x9a, 0x01];
const P2: &[u8] = &[0x41, 0x9a, 0x02];
const P3: &[u8] = &[0x41, 0x9a, 0x03];

#[test]
fn ssrc_change_resets_and_flags() {
    let mut d = h264();
    let mut second_source = pkt(5000, 77, true, IDR);
    second_source.ssrc = 0x9999;
    let mut half_frame = pkt(2, 3000, false, P2);
    half_frame.ssrc = 0x1234;
    let out = feed(
        &mut d,
        vec![pkt(1, 0, true, P1), half_frame, second_source, {
            let mut p = pkt(5001, 3077, true, P3);
            p.ssrc = 0x9999;
            p
        }],
    );
    assert_eq!(out.len(), 3);
    assert_eq!(nals(&out[0]), vec![P1.to_vec()]);
    // The unfinished access unit of the old source is dropped; the new source starts flagged, its
    // timeline continuing from the last timestamp seen.
    assert_eq!(nals(&out[1]), vec![IDR.to_vec()]);
    assert!(out[1].discontinuity && out[1].keyframe);
    assert_eq!(out[1].timestamp.ticks, 3000);
    assert_eq!(out[2].timestamp.ticks, 6000);
    assert!(!out[2].discontinuity);
}

#[test]
fn loss_drops_the_partial_access_unit() {
    let mut d = h264();
    // Picture at ts 3000 is two slices, the first fragmented; the middle fragment is lost.
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, true, IDR),
            pkt(2, 3000, false, &[0x7c, 0x81, 0x9a, 1]),
            // seq 3 lost
            pkt(4, 3000, false, &[0x7c, 0x41, 3]),
            pkt(5, 3000, true, &[0x41, 0x1a, 0x05]),
            pkt(6, 6000, true, P3),
        ],
    );
    assert_eq!(out.len(), 2);
    assert_eq!(nals(&out[1]), vec![P3.to_vec()]);
    assert!(out[1].discontinuity);
    assert!(!out[0].discontinuity);

    // Loss right after a complete access unit: the next one, starting cleanly, is kept but flagged.
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, true, IDR),
            pkt(3, 6000, true, P1),
            pkt(4, 9000, true, P2),
        ],
    );
    assert_eq!(out.len(), 3);
    assert_eq!(
        out.iter().map(|au| au.discontinuity).collect::<Vec<_>>(),
        vec![false, true, false]
    );
}

#[test]
fn loss_without_marker_bits_resyncs_on_the_timestamp() {
    // FLIR-style: no marker bits at all.
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, false, P1),
            pkt(2, 3000, false, P2),
            // seq 3 lost: the first slice of picture 6000
            pkt(4, 6000, false, &[0x41, 0x1a, 0x04]),
            pkt(5, 9000, false, P3),
            pkt(6, 12000, false, P1),
        ],
    );
    let got: Vec<(i64, bool)> = out
        .iter()
        .map(|au| (au.timestamp.ticks, au.discontinuity))
        .collect();
    // 3000 is dropped with the gap (its end is unknown), 6000 lacks its first slice, 9000 is whole.
    assert_eq!(got, vec![(0, false), (9000, true)]);
}

#[test]
fn duplicates_late_packets_and_foreign_payload_types_are_dropped() {
    let mut d = h264();
    let mut foreign = pkt(3, 3000, true, P3);
    foreign.payload_type = 50;
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, true, P1),
            pkt(1, 0, true, P1), // duplicate
            pkt(2, 3000, true, P2),
            pkt(1, 0, true, P1), // late
            foreign,
            pkt(3, 6000, true, P3),
        ],
    );
    assert_eq!(
        out.iter().map(nals).collect::<Vec<_>>(),
        vec![vec![P1.to_vec()], vec![P2.to_vec()], vec![P3.to_vec()]]
    );
    assert!(out.iter().all(|au| !au.discontinuity));
}

#[test]
fn a_stray_first_payload_type_gives_way() {
    let mut d = h264();
    let mut stray = pkt(1, 0, true, P1);
    stray.payload_type = 50;
    let mut packets = vec![stray];
    packets.extend((0..20).map(|i| pkt(100 + i, 3000 * u32::from(i), true, P2)));
    let out = feed(&mut d, packets);
    // The stray packet comes out; the first 15 packets of PT 96 are dropped as foreign, then
    // PT 96 is the track's.
    assert_eq!(out.len(), 6);
    assert_eq!(nals(&out[0]), vec![P1.to_vec()]);
    assert!(out[1].discontinuity);
    assert_eq!(out[1].timestamp.ticks, 45_000);
    assert!(out[2..].iter().all(|au| !au.discontinuity));
}

#[test]
fn interleaved_mode_packets_are_errors() {
    for (payload, name) in [
        (&[0x79u8, 0, 1, 0, 1, 0x65][..], "STAP-B"),
        (&[0x7a, 0, 1, 0, 1, 0, 0, 0x65][..], "MTAP16"),
        (&[0x7b, 0, 1, 0, 1, 0, 0, 0, 0x65][..], "MTAP24"),
        (&[0x7d, 0x85, 0, 1, 0x88][..], "FU-B"),
    ] {
        let mut d = h264();
        let err = d.push(pkt(7, 90, true, payload)).unwrap_err();
        assert_eq!((err.codec, err.seq, err.ts), ("H264", 7, 90));
        assert!(err.to_string().contains(name), "{err}");
        // The depacketizer carries on, flagging the next access unit.
        let out = feed(&mut d, vec![pkt(8, 180, true, IDR)]);
        assert!(out[0].discontinuity);
    }
    assert!(h264::Depacketizer::new(90_000, Some("packetization-mode=2")).is_err());
}

#[test]
fn malformed_packets_are_errors() {
    let bad: [&[u8]; 4] = [
        &[0x78, 0, 9, 0x67],    // STAP-A unit overruns the payload
        &[0x78, 0, 1, 0x67, 0], // STAP-A size cut short
        &[0x7c],                // FU-A without FU header
        &[0x7c, 0x05, 1, 2, 3], // FU-A continuation with no start, mid-stream
    ];
    for payload in bad {
        let mut d = h264();
        d.push(pkt(1, 0, true, P1)).unwrap();
        assert!(d.push(pkt(2, 9, true, payload)).is_err(), "{payload:02x?}");
    }
}

#[test]
fn joining_mid_fragment_is_quiet() {
    // The first packets continue a NAL unit whose start was before the stream was joined.
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, false, &[0x7c, 0x05, 1, 2]),
            pkt(2, 0, true, &[0x7c, 0x45, 3]),
            pkt(3, 3000, true, P1),
        ],
    );
    assert_eq!(
        out.iter().map(nals).collect::<Vec<_>>(),
        vec![vec![P1.to_vec()]]
    );
}

#[test]
fn fragments_missing_their_end_bit_end_at_the_next_unit() {
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, false, &[0x7c, 0x87, 0x42, 0x00]),
            // New NAL unit: the SPS above is complete.
            pkt(2, 0, false, &[0x68, 0xce]),
            pkt(3, 0, false, &[0x7c, 0x85, 0x88]),
            pkt(4, 0, true, &[0x7c, 0x05, 0x84]),
        ],
    );
    assert_eq!(
        nals(&out[0]),
        vec![
            vec![0x67, 0x42, 0x00],
            vec![0x68, 0xce],
            vec![0x65, 0x88, 0x84]
        ]
    );
}

#[test]
fn stap_a_is_split_without_copying() {
    let payload = Bytes::from_static(&[0x78, 0, 2, 0x67, 0x42, 0, 0, 0, 3, 0x65, 0x88, 0x84]);
    let mut d = h264();
    let mut p = pkt(1, 0, true, &[]);
    p.payload = payload.clone();
    let out = feed(&mut d, vec![p]);
    // An empty unit is skipped.
    assert_eq!(
        nals(&out[0]),
        vec![vec![0x67, 0x42], vec![0x65, 0x88, 0x84]]
    );
    let idr = &out[0].data[1];
    let range = payload.as_ptr() as usize..payload.as_ptr() as usize + payload.len();
    assert!(
        range.contains(&(idr.as_ptr() as usize)),
        "a slice of the packet"
    );
}

#[test]
fn packetization_mode_0() {
    // Every NAL unit in its own packet, whatever its size (Anjvision, HIK Media Server).
    let big: Vec<u8> = [&[0x65u8, 0x88][..], &[0x11; 9000]].concat();
    let mut d = h264::Depacketizer::new(90_000, Some("packetization-mode=0")).unwrap();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, false, &[0x67, 0x42]),
            pkt(2, 0, false, &[0x68, 0xce]),
            pkt(3, 0, true, &big),
        ],
    );
    assert_eq!(out[0].data.len(), 3);
    assert_eq!(out[0].data[2].len(), 9002);
    assert!(out[0].keyframe);
}

#[test]
fn empty_payloads_and_reserved_types_are_ignored() {
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, false, &[]),
            pkt(2, 0, false, &[0x1e, 1, 2]), // type 30
            pkt(3, 0, false, &[0x00, 1, 2]), // type 0, not Annex B
            pkt(4, 0, true, P1),
        ],
    );
    assert_eq!(
        out.iter().map(nals).collect::<Vec<_>>(),
        vec![vec![P1.to_vec()]]
    );
}

#[test]
fn flush_completes_only_marked_access_units() {
    let mut d = h264();
    // Parameter sets with the marker bit (Amatek), held for the picture that never comes.
    d.push(pkt(1, 0, true, &[0x67, 0x42])).unwrap();
    assert_eq!(d.pull(), None);
    d.flush();
    assert_eq!(d.pull().map(|au| nals(&au)), Some(vec![vec![0x67, 0x42]]));

    // A picture whose end is unknown is not completed.
    let mut d = h264();
    d.push(pkt(1, 0, false, P1)).unwrap();
    d.flush();
    assert_eq!(d.pull(), None);
}

#[test]
fn oversized_access_units_are_dropped() {
    let mut d = h264();
    let chunk = [&[0x7c, 0x05][..], &[0x11; 60_000]].concat();
    d.push(pkt(0, 0, false, &[0x7c, 0x85, 0x88])).unwrap();
    let mut seq = 1;
    let err = loop {
        if let Err(e) = d.push(pkt(seq, 0, false, &chunk)) {
            break e;
        }
        seq += 1;
        assert!(seq < 1000, "no limit");
    };
    assert!(err.to_string().contains("exceeds"), "{err}");
    let out = feed(&mut d, vec![pkt(seq + 1, 3000, true, IDR)]);
    assert_eq!(out.len(), 1);
    assert!(out[0].discontinuity);
}

#[test]
fn timestamps_extend_across_wraps() {
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, u32::MAX - 1000, true, P1),
            pkt(2, 2000, true, P2),
            pkt(3, 5000, true, P3),
        ],
    );
    assert_eq!(
        out.iter().map(|au| au.timestamp.ticks).collect::<Vec<_>>(),
        vec![0, 3001, 6001]
    );
}

// H.265 NAL units: IDR_W_RADL and TRAIL_R slices starting a picture.
const H265_IDR: &[u8] = &[0x26, 0x01, 0xaf, 0x09];
const H265_TRAIL: &[u8] = &[0x02, 0x01, 0xd0, 0x09];

fn h265(fmtp: &str) -> h265::Depacketizer {
    h265::Depacketizer::new(90_000, Some(fmtp)).unwrap()
}

#[test]
fn h265_aggregation_and_fragments() {
    let mut d = h265("");
    let out = feed(
        &mut d,
        vec![
            // AP: VPS-like, SEI.
            pkt(
                1,
                0,
                false,
                &[0x60, 0x01, 0, 3, 0x40, 0x01, 0x0c, 0, 3, 0x4e, 0x01, 0x05],
            ),
            // FU of an IDR: S, then E.
            pkt(2, 0, false, &[0x62, 0x01, 0x93, 0xaf]),
            pkt(3, 0, true, &[0x62, 0x01, 0x53, 0x09]),
            // FU with S and E (OpenIPC).
            pkt(4, 3000, true, &[0x62, 0x01, 0xc1, 0xd0, 0x09]),
        ],
    );
    assert_eq!(
        out.iter().map(nals).collect::<Vec<_>>(),
        vec![
            vec![
                vec![0x40, 0x01, 0x0c],
                vec![0x4e, 0x01, 0x05],
                H265_IDR.to_vec()
            ],
            vec![H265_TRAIL.to_vec()],
        ]
    );
    assert!(out[0].keyframe && !out[1].keyframe);
}

#[test]
fn h265_donl_fields() {
    let mut d = h265("sprop-max-don-diff=2");
    let out = feed(
        &mut d,
        vec![
            // AP: DONL, size, NAL, DOND, size, NAL.
            pkt(
                1,
                0,
                false,
                &[
                    0x60, 0x01, 0, 7, 0, 3, 0x40, 0x01, 0x0c, 1, 0, 3, 0x4e, 0x01, 0x05,
                ],
            ),
            // FU start with DONL, then an end without.
            pkt(2, 0, false, &[0x62, 0x01, 0x93, 0, 8, 0xaf]),
            pkt(3, 0, true, &[0x62, 0x01, 0x53, 0x09]),
            // Single NAL unit with DONL.
            pkt(4, 3000, true, &[0x02, 0x01, 0, 9, 0xd0, 0x09]),
        ],
    );
    assert_eq!(
        out.iter().map(nals).collect::<Vec<_>>(),
        vec![
            vec![
                vec![0x40, 0x01, 0x0c],
                vec![0x4e, 0x01, 0x05],
                H265_IDR.to_vec()
            ],
            vec![H265_TRAIL.to_vec()],
        ]
    );
}

#[test]
fn h265_errors() {
    let mut d = h265("");
    for (seq, payload) in [
        &[0x64u8, 0x01, 0, 0][..],     // PACI
        &[0x02][..],                   // shorter than the payload header
        &[0x62, 0x01][..],             // FU without FU header
        &[0x60, 0x01, 0, 9, 0x40][..], // AP unit overruns
    ]
    .into_iter()
    .enumerate()
    {
        let err = d.push(pkt(seq as u16, 0, true, payload)).unwrap_err();
        assert_eq!(err.codec, "H265");
    }
}

#[test]
fn h265_annexb_sprops_and_in_band_parameters() {
    let fmtp = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/fmtp/unknown-annexb-sprop-h265.txt"
    ))
    .unwrap();
    let mut d = h265(fmtp.trim());
    assert_eq!(d.params().config.len(), 3);
    assert_eq!(d.params().codec, "H265");
    assert_eq!(
        (d.params().width, d.params().height),
        (Some(720), Some(480))
    );
    // A different SPS in the stream wins (Tenda CP3 Pro's: 640x368).
    let tenda_sps = [
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x3f, 0xa0, 0x05, 0x02, 0x01, 0x71, 0x65, 0x2e, 0x49, 0x32, 0x4b, 0xb2,
    ];
    feed(
        &mut d,
        vec![pkt(1, 0, false, &tenda_sps), pkt(2, 0, true, H265_IDR)],
    );
    assert_eq!(
        (d.params().width, d.params().height),
        (Some(640), Some(368))
    );
    assert_eq!(d.params().config[1].as_ref(), &tenda_sps[..]);
    assert_eq!(
        d.params().config.len(),
        2,
        "the old PPS went with the old SPS"
    );
}
