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
fn ssrc_change_with_running_timestamps_continues_the_timeline() {
    // Uniview cameras change SSRC at every GOP and keep their timestamps running: the timeline
    // carries on, as it does for audio, so the tracks stay in step.
    const NEW: u32 = 0x9999;
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, true, P1),
            pkt(2, 3000, true, P2),
            pkt(3, 6000, false, P3),
            with_ssrc(pkt(5000, 9000, true, IDR), NEW),
            with_ssrc(pkt(5001, 12_000, true, P1), NEW),
        ],
    );
    // The unfinished access unit of the old source is dropped; the new source's first one is
    // flagged.
    assert_eq!(
        out.iter().map(nals).collect::<Vec<_>>(),
        vec![
            vec![P1.to_vec()],
            vec![P2.to_vec()],
            vec![IDR.to_vec()],
            vec![P1.to_vec()]
        ]
    );
    assert_eq!(
        out.iter()
            .map(|au| (au.timestamp.ticks, au.discontinuity))
            .collect::<Vec<_>>(),
        vec![(0, false), (3000, false), (9000, true), (12_000, false)]
    );
    assert!(out[2].keyframe);
}

#[test]
fn ssrc_change_with_a_jumped_timestamp_restarts_after_the_last_frame() {
    use sluice_media::h264::MAX_TIMESTAMP_STEP_BACKWARD_SECS;
    const NEW: u32 = 0x9999;
    // A new source from a timestamp of its own, far ahead, and one far behind: the timeline
    // restarts one frame (3000 ticks) after the last packet.
    let far_back = 3000u32.wrapping_sub(MAX_TIMESTAMP_STEP_BACKWARD_SECS * 90_000 + 1);
    for first in [0x8000_0000u32, far_back] {
        let mut d = h264();
        let out = feed(
            &mut d,
            vec![
                pkt(1, 0, true, P1),
                pkt(2, 3000, true, P2),
                with_ssrc(pkt(77, first, true, IDR), NEW),
                with_ssrc(pkt(78, first.wrapping_add(3000), true, P1), NEW),
            ],
        );
        assert_eq!(
            out.iter()
                .map(|au| (au.timestamp.ticks, au.discontinuity))
                .collect::<Vec<_>>(),
            vec![(0, false), (3000, false), (6000, true), (9000, false)],
            "first timestamp {first}"
        );
    }

    // H.265 shares the rule; before any step between frames the restart is one tick on.
    let mut d = h265("");
    let out = feed(
        &mut d,
        vec![
            pkt(1, 500, true, H265_TRAIL),
            with_ssrc(pkt(9, 0x8000_0000, true, H265_TRAIL), NEW),
        ],
    );
    assert_eq!(
        out.iter()
            .map(|au| (au.timestamp.ticks, au.discontinuity))
            .collect::<Vec<_>>(),
        vec![(0, false), (1, true)]
    );
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
fn small_nal_units_do_not_keep_large_packets_alive() {
    use sluice_media::h264::MAX_RETAINED_PER_NAL_BYTE;
    // A 2-byte slice followed by size-0 STAP-A entries, and an Annex B stream padded with zeros:
    // the kept NAL units are tiny, the packets 60 KB.
    let mut stap = vec![0x78, 0, 2, 0x41, 0x9a];
    stap.resize(60_001, 0);
    let mut annexb = vec![0, 0, 0, 1, 0x41, 0x9a];
    annexb.resize(60_000, 0);
    // A NAL unit filling most of its packet stays a slice of it.
    let mut big = vec![0x78, 0xea, 0x60];
    big.extend([0x41; 60_000]);
    for (payload, sliced) in [(stap, false), (annexb, false), (big, true)] {
        let payload = Bytes::from(payload);
        let mut d = h264();
        let mut p = pkt(1, 0, true, &[]);
        p.payload = payload.clone();
        let out = feed(&mut d, vec![p]);
        let nal = &out[0].data[0];
        let range = payload.as_ptr() as usize..payload.as_ptr() as usize + payload.len();
        assert_eq!(range.contains(&(nal.as_ptr() as usize)), sliced);
        // The documented bound: the packets kept alive are at most this many times the NAL bytes.
        let retained = if sliced { payload.len() } else { nal.len() };
        assert!(retained <= MAX_RETAINED_PER_NAL_BYTE * nal.len());
    }
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

/// The Dahua camera's H.265 parameter sets (`transcripts/dahua-h265-pcma-describe.txt`), as
/// `(fmtp name, base64 value)` in the camera's order: SPS, PPS, then VPS.
const DAHUA_SPROPS: [(&str, &str); 3] = [
    (
        "sprop-sps",
        "QgEBAWAAAAMAsAAAAwAAAwBaoAWCAeFja5JFL83BQYFBAAADAAEAAAMADKE=",
    ),
    ("sprop-pps", "RAHA8saNA7NA"),
    (
        "sprop-vps",
        "QAEMAf//AWAAAAMAsAAAAwAAAwBarAwAAAMABAAAAwAyqA==",
    ),
];

fn b64(value: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap()
}

/// The Dahua VPS, SPS and PPS NAL units.
fn dahua_parameter_sets() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let [sps, pps, vps] = DAHUA_SPROPS.map(|(_, value)| b64(value));
    (vps, sps, pps)
}

/// `nal_unit_type` of each H.265 NAL unit.
fn h265_types(nals: &[bytes::Bytes]) -> Vec<u8> {
    nals.iter().map(|n| (n[0] >> 1) & 0x3f).collect()
}

#[test]
fn h265_sprops_in_any_order_give_vps_sps_pps() {
    // Dahua lists the VPS last; the fmtp as the camera sends it.
    let dahua = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/transcripts/dahua-h265-pcma-describe.txt"
    ))
    .unwrap();
    let fmtp = dahua
        .lines()
        .find_map(|line| line.strip_prefix("a=fmtp:98 "))
        .unwrap();
    let (vps, sps, pps) = dahua_parameter_sets();
    let expected: Vec<Vec<u8>> = vec![vps, sps, pps];
    let d = h265(fmtp);
    let config: Vec<Vec<u8>> = d.params().config.iter().map(|n| n.to_vec()).collect();
    assert_eq!(config, expected, "{fmtp}");
    assert_eq!(
        (d.params().width, d.params().height),
        (Some(704), Some(480))
    );

    // Every order of the three parameters, including those with the PPS ahead of its SPS: an SPS
    // starts a new parameter set and drops the PPSs seen before it, so the fmtp must be read in
    // VPS, SPS, PPS order whatever the order written.
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let fmtp = order
            .iter()
            .map(|&i| format!("{}={}", DAHUA_SPROPS[i].0, DAHUA_SPROPS[i].1))
            .collect::<Vec<_>>()
            .join(";");
        let d = h265(&format!("profile-id=1;{fmtp}"));
        let config: Vec<Vec<u8>> = d.params().config.iter().map(|n| n.to_vec()).collect();
        assert_eq!(config, expected, "{fmtp}");
        assert_eq!(d.params().width, Some(704), "{fmtp}");
    }
}

#[test]
fn h265_marked_parameter_sets_join_the_idr() {
    // CAMERA-QUIRKS #41 ("RtspServer", H264DVR firmware): VPS, SPS, PPS and a prefix SEI each
    // sent with the marker bit, at the IDR's timestamp.
    let (vps, sps, pps) = dahua_parameter_sets();
    let sei = [0x4e, 0x01, 0x05, 0x01, 0x80];
    let mut d = h265("");
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, true, H265_TRAIL),
            pkt(2, 3000, true, &vps),
            pkt(3, 3000, true, &sps),
            pkt(4, 3000, true, &pps),
            pkt(5, 3000, true, &sei),
            pkt(6, 3000, true, H265_IDR),
            pkt(7, 6000, true, H265_TRAIL),
        ],
    );
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(h265_types(&out[0].data), vec![1]);
    assert_eq!(h265_types(&out[1].data), vec![32, 33, 34, 39, 19]);
    assert_eq!(
        nals(&out[1]),
        vec![vps, sps, pps, sei.to_vec(), H265_IDR.to_vec()]
    );
    assert_eq!(out[1].timestamp.ticks, 3000);
    assert!(out[1].keyframe && !out[0].keyframe && !out[2].keyframe);
    assert!(out.iter().all(|au| !au.discontinuity));
    assert_eq!(d.params().width, Some(704), "the in-band SPS was read");
}

#[test]
fn h265_parameter_sets_with_the_previous_timestamp_join_the_idr() {
    // CAMERA-QUIRKS #42, as Reolink RLC-822A does in H.264: at a GOP boundary the parameter sets
    // carry the previous picture's timestamp and only the IRAP picture the new one.
    let (vps, sps, pps) = dahua_parameter_sets();
    for marked in [false, true] {
        let mut d = h265("");
        let out = feed(
            &mut d,
            vec![
                pkt(1, 0, true, H265_TRAIL),
                pkt(2, 0, marked, &vps),
                pkt(3, 0, marked, &sps),
                pkt(4, 0, marked, &pps),
                // The IRAP picture in two fragments.
                pkt(5, 3000, false, &[0x62, 0x01, 0x93, 0xaf]),
                pkt(6, 3000, true, &[0x62, 0x01, 0x53, 0x09]),
                pkt(7, 6000, true, H265_TRAIL),
            ],
        );
        let got: Vec<(i64, Vec<u8>, bool)> = out
            .iter()
            .map(|au| (au.timestamp.ticks, h265_types(&au.data), au.keyframe))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, vec![1], false),
                (3000, vec![32, 33, 34, 19], true),
                (6000, vec![1], false),
            ],
            "marker bits on the parameter sets: {marked}"
        );
        assert_eq!(out[1].data[3].as_ref(), H265_IDR);
        assert!(out.iter().all(|au| !au.discontinuity));
    }
}

fn with_ssrc(mut p: RtpIn, ssrc: u32) -> RtpIn {
    p.ssrc = ssrc;
    p
}

#[test]
fn stale_ssrc_packets_between_the_new_sources_are_dropped() {
    // CAMERA-QUIRKS #44: the old session (SSRC 0x1234) keeps sending after the new one (0x9999)
    // started, and their packets interleave. Each old packet taken as another SSRC change would
    // drop the new source's access unit in progress.
    const NEW: u32 = 0x9999;
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, true, P1),
            with_ssrc(pkt(5000, 90_077, false, &[0x7c, 0x85, 0x88]), NEW),
            pkt(2, 3000, true, P2),
            with_ssrc(pkt(5001, 90_077, false, &[0x7c, 0x05, 0x84]), NEW),
            pkt(3, 6000, false, &[0x7c, 0x81, 0x9a]),
            with_ssrc(pkt(5002, 90_077, true, &[0x7c, 0x45, 0x21]), NEW),
            pkt(4, 6000, true, &[0x7c, 0x41, 0x03]),
            with_ssrc(pkt(5003, 93_077, true, P3), NEW),
        ],
    );
    assert_eq!(
        out.iter().map(nals).collect::<Vec<_>>(),
        vec![vec![P1.to_vec()], vec![IDR.to_vec()], vec![P3.to_vec()]]
    );
    // The new source's timestamps run on from the old one's, so the timeline keeps extending;
    // only its first access unit is flagged.
    assert_eq!(
        out.iter()
            .map(|au| (au.timestamp.ticks, au.discontinuity))
            .collect::<Vec<_>>(),
        vec![(0, false), (90_077, true), (93_077, false)]
    );
    assert_eq!(d.stale_ssrc_packets(), 3);
}

#[test]
fn a_source_that_really_comes_back_is_followed() {
    use sluice_media::codec::STALE_SSRC_RETURN_RUN;
    const NEW: u32 = 0x9999;
    let mut d = h264();
    let mut packets = vec![
        pkt(1, 0, true, P1),
        with_ssrc(pkt(100, 3000, true, P2), NEW),
        with_ssrc(pkt(101, 6000, true, P3), NEW),
    ];
    // The new source stops; the old one goes on alone.
    let run = STALE_SSRC_RETURN_RUN as u16;
    for i in 0..run + 2 {
        packets.push(pkt(2 + i, 3000 * u32::from(i + 3), true, P1));
    }
    let out = feed(&mut d, packets);
    assert_eq!(d.stale_ssrc_packets(), u64::from(run) - 1);
    // P1, P2, P3, then the old source again from the last packet of the run, flagged.
    let flags: Vec<bool> = out.iter().map(|au| au.discontinuity).collect();
    assert_eq!(flags, vec![false, true, false, true, false, false]);
}

#[test]
fn timestamp_jumps_flag_the_next_access_unit() {
    use sluice_media::h264::{MAX_TIMESTAMP_STEP_BACKWARD_SECS, MAX_TIMESTAMP_STEP_FORWARD_SECS};
    let max_forward = MAX_TIMESTAMP_STEP_FORWARD_SECS * 90_000;
    let max_backward = MAX_TIMESTAMP_STEP_BACKWARD_SECS * 90_000;
    let forward = max_forward + 90_000;
    let backward = max_backward + 90_000;
    let mut d = h264();
    let t = 1_000_000u32;
    let out = feed(
        &mut d,
        vec![
            pkt(1, t, true, P1),
            pkt(2, t + 3000, true, P2),
            // CAMERA-QUIRKS #43: a frame stamped far in the future (Intelbras DVR).
            pkt(3, t + 3000 + forward, true, P3),
            pkt(4, t + 6000 + forward, true, P1),
            // Back again, far into the past.
            pkt(5, t + 6000 + forward - backward, true, P2),
            pkt(6, t + 9000 + forward - backward, true, P3),
            // A small step back (B-frame order) is the stream running on.
            pkt(7, t + 6000 + forward - backward, true, P1),
            // Steps right at the bounds.
            pkt(8, t + 6000 + forward - backward + max_forward, true, P2),
            pkt(
                9,
                t + 6000 + forward - backward + max_forward - max_backward,
                true,
                P3,
            ),
        ],
    );
    let got: Vec<(i64, bool)> = out
        .iter()
        .map(|au| (au.timestamp.ticks, au.discontinuity))
        .collect();
    let (f, b) = (i64::from(forward), i64::from(backward));
    assert_eq!(
        got,
        vec![
            (0, false),
            (3000, false),
            (3000 + f, true),
            (6000 + f, false),
            (6000 + f - b, true),
            (9000 + f - b, false),
            (6000 + f - b, false),
            (6000 + f - b + i64::from(max_forward), false),
            (6000 + f - b + i64::from(max_forward - max_backward), false),
        ]
    );

    // Without marker bits (FLIR M400) the jump ends the previous access unit, which stays
    // unflagged; the one it starts is flagged.
    let mut d = h264();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, false, P1),
            pkt(2, 3000, false, P2),
            pkt(3, 3000 + forward, false, P3),
            pkt(4, 6000 + forward, false, P1),
        ],
    );
    assert_eq!(
        out.iter()
            .map(|au| (au.timestamp.ticks, au.discontinuity))
            .collect::<Vec<_>>(),
        vec![(0, false), (3000, false), (3000 + i64::from(forward), true)]
    );

    // Parameter sets with the previous picture's timestamp (Reolink RLC-822A) and an IDR far
    // ahead: the whole access unit is flagged.
    let mut d = h265("");
    let (vps, sps, pps) = dahua_parameter_sets();
    let out = feed(
        &mut d,
        vec![
            pkt(1, 0, true, H265_TRAIL),
            pkt(2, 0, false, &vps),
            pkt(3, 0, false, &sps),
            pkt(4, 0, false, &pps),
            pkt(5, forward, true, H265_IDR),
        ],
    );
    assert_eq!(out.len(), 2);
    assert!(!out[0].discontinuity);
    assert!(out[1].discontinuity && out[1].keyframe);
    assert_eq!(out[1].timestamp.ticks, i64::from(forward));
}
