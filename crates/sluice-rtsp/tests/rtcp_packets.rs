//! RTCP compound parsing against camera captures, builders round-tripped through the parser.

use std::fs;
use std::path::Path;
use std::time::Duration;

use bytes::BytesMut;
use proptest::prelude::*;
use sluice_rtsp::rtcp::{
    self, Goodbye, NtpTimestamp, ReceiverReport, ReportBlock, RtcpError, RtcpPacket, SdesChunk,
    SdesItem, SenderReport,
};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/rtcp");

fn parse_all(buf: &[u8]) -> Vec<RtcpPacket<'_>> {
    rtcp::parse_compound(buf).collect::<Result<_, _>>().unwrap()
}

fn cname_chunk(ssrc: u32, cname: &[u8]) -> SdesChunk<'_> {
    SdesChunk {
        ssrc,
        items: vec![SdesItem {
            kind: SdesItem::CNAME,
            value: cname,
        }],
    }
}

fn block(ssrc: u32, cumulative_lost: i32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 25,
        cumulative_lost,
        highest_seq: 0x0001_fffe,
        jitter: 17,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 0x0001_8000,
    }
}

#[test]
fn every_corpus_rtcp_file_parses() {
    let mut count = 0;
    for entry in fs::read_dir(CORPUS).unwrap() {
        let path = entry.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        let packets: Result<Vec<_>, _> = rtcp::parse_compound(&bytes).collect();
        let packets = packets.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!packets.is_empty(), "{}", path.display());
        assert!(rtcp::looks_like_rtcp(&bytes));
        count += 1;
    }
    assert!(count >= 3);
}

#[test]
fn dahua_sender_report_and_sdes() {
    let bytes = fs::read(Path::new(CORPUS).join("dahua-sr-sdes-compound.bin")).unwrap();
    let packets = parse_all(&bytes);
    assert_eq!(
        packets,
        [
            RtcpPacket::SenderReport(SenderReport {
                ssrc: 0x6642_6ae1,
                ntp: NtpTimestamp(0xe436_2f99_cccc_cccc),
                rtp_timestamp: 0x852e_f807,
                packet_count: 0x002a_4333,
                octet_count: 0x2f4c_341d,
                reports: vec![],
            }),
            RtcpPacket::SourceDescription(vec![cname_chunk(0x6642_6ae1, b"(none)")]),
        ]
    );
    let RtcpPacket::SenderReport(sr) = &packets[0] else {
        unreachable!()
    };
    // 2021-04-30T07:26:17.8Z; the camera's clock has a coarse 0.8 s fraction.
    assert_eq!(
        sr.ntp.to_unix(),
        Some(Duration::new(1_619_767_577, 800_000_000))
    );
    assert_eq!(packets[1].packet_type(), RtcpPacket::SOURCE_DESCRIPTION);
}

#[test]
fn hanwha_sdes_without_terminating_null() {
    let bytes = fs::read(Path::new(CORPUS).join("hanwha-qnv-8080r-sdes-missing-end.bin")).unwrap();
    assert_eq!(
        parse_all(&bytes),
        [RtcpPacket::SourceDescription(vec![cname_chunk(
            0x1122_3344,
            b"camera"
        )])]
    );

    let bytes =
        fs::read(Path::new(CORPUS).join("hanwha-qnv-8080r-sr-plus-malformed-sdes.bin")).unwrap();
    let packets = parse_all(&bytes);
    assert_eq!(packets.len(), 2);
    let RtcpPacket::SenderReport(sr) = &packets[0] else {
        panic!("{packets:?}")
    };
    assert_eq!(
        (sr.ssrc, sr.ntp, sr.rtp_timestamp),
        (0x000b_7fd5, NtpTimestamp(0x1234_5678_90ab_cdef), 0xd450)
    );
    assert_eq!(
        (sr.packet_count, sr.octet_count, sr.reports.len()),
        (1, 4, 0)
    );
    assert_eq!(
        packets[1],
        RtcpPacket::SourceDescription(vec![cname_chunk(0x1122_3344, b"camera")])
    );
}

#[test]
fn sender_report_round_trip() {
    let sr = SenderReport {
        ssrc: 0xdead_beef,
        ntp: NtpTimestamp::from_unix(Duration::new(1_700_000_000, 250_000_000)),
        rtp_timestamp: 90_000,
        packet_count: 1000,
        octet_count: 1_200_000,
        reports: vec![
            block(1, 5),
            block(2, -3),
            block(3, -0x80_0000),
            block(4, 0x7f_ffff),
        ],
    };
    let mut buf = BytesMut::new();
    sr.write(&mut buf);
    assert_eq!(buf.len(), 28 + 4 * 24);
    assert_eq!(&buf[..4], [0x84, 200, 0, 30]);
    assert_eq!(parse_all(&buf), [RtcpPacket::SenderReport(sr.clone())]);
    assert_eq!(sr.ntp.seconds(), 1_700_000_000 + 2_208_988_800);
    assert_eq!(sr.ntp.fraction(), 1 << 30);
}

#[test]
fn many_report_blocks_spill_into_receiver_reports() {
    let reports: Vec<ReportBlock> = (0..40).map(|i| block(i, i as i32)).collect();
    let sr = SenderReport {
        ssrc: 9,
        reports: reports.clone(),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    sr.write(&mut buf);
    let packets = parse_all(&buf);
    assert_eq!(
        packets,
        [
            RtcpPacket::SenderReport(SenderReport {
                reports: reports[..31].to_vec(),
                ..sr.clone()
            }),
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 9,
                reports: reports[31..].to_vec()
            }),
        ]
    );

    let rr = ReceiverReport {
        ssrc: 9,
        reports: (0..70).map(|i| block(i, 0)).collect(),
    };
    let mut buf = BytesMut::new();
    rr.write(&mut buf);
    let counts: Vec<usize> = parse_all(&buf)
        .iter()
        .map(|p| match p {
            RtcpPacket::ReceiverReport(rr) => rr.reports.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(counts, [31, 31, 8]);
}

#[test]
fn receiver_report_round_trip() {
    for reports in [
        vec![],
        vec![block(0xffff_ffff, -1)],
        (0..31).map(|i| block(i, 0)).collect(),
    ] {
        let rr = ReceiverReport {
            ssrc: 0x0102_0304,
            reports,
        };
        let mut buf = BytesMut::new();
        rr.write(&mut buf);
        assert_eq!(buf.len(), 8 + 24 * rr.reports.len());
        assert_eq!(parse_all(&buf), [RtcpPacket::ReceiverReport(rr)]);
    }
}

#[test]
fn cumulative_lost_is_clamped_to_24_bits() {
    let rr = ReceiverReport {
        ssrc: 1,
        reports: vec![block(1, 10_000_000), block(2, -10_000_000)],
    };
    let mut buf = BytesMut::new();
    rr.write(&mut buf);
    let [RtcpPacket::ReceiverReport(parsed)] = &parse_all(&buf)[..] else {
        panic!()
    };
    assert_eq!(parsed.reports[0].cumulative_lost, 0x7f_ffff);
    assert_eq!(parsed.reports[1].cumulative_lost, -0x80_0000);
    assert_eq!(&buf[12..16], [25, 0x7f, 0xff, 0xff]);
}

#[test]
fn bye_round_trip() {
    type Case = (&'static [u32], Option<&'static str>, Option<&'static [u8]>);
    let cases: [Case; 4] = [
        (&[1], None, None),
        (
            &[1, 2, 3],
            Some("camera rebooting"),
            Some(b"camera rebooting"),
        ),
        (&[], Some("x"), Some(b"x")),
        (&[7], Some(""), None),
    ];
    for (ssrcs, reason, expected) in cases {
        let mut buf = BytesMut::new();
        rtcp::write_bye(ssrcs, reason, &mut buf);
        assert_eq!(buf.len() % 4, 0);
        assert_eq!(
            parse_all(&buf),
            [RtcpPacket::Goodbye(Goodbye {
                ssrcs: ssrcs.to_vec(),
                reason: expected
            })]
        );
    }

    let ssrcs: Vec<u32> = (0..40).collect();
    let mut buf = BytesMut::new();
    rtcp::write_bye(&ssrcs, Some("bye"), &mut buf);
    assert_eq!(
        parse_all(&buf),
        [
            RtcpPacket::Goodbye(Goodbye {
                ssrcs: ssrcs[..31].to_vec(),
                reason: None
            }),
            RtcpPacket::Goodbye(Goodbye {
                ssrcs: ssrcs[31..].to_vec(),
                reason: Some(b"bye")
            }),
        ]
    );

    // Reasons are cut to 255 bytes on a character boundary.
    let long = "é".repeat(200);
    let mut buf = BytesMut::new();
    rtcp::write_bye(&[1], Some(&long), &mut buf);
    let [RtcpPacket::Goodbye(bye)] = &parse_all(&buf)[..] else {
        panic!()
    };
    assert_eq!(bye.reason.map(<[u8]>::len), Some(254));
}

#[test]
fn sdes_cname_round_trip() {
    for cname in ["", "a", "ab", "abc", "sluice@192.0.2.1", &"x".repeat(300)] {
        let mut buf = BytesMut::new();
        rtcp::write_sdes_cname(0x5555_aaaa, cname, &mut buf);
        assert_eq!(buf.len() % 4, 0);
        let expected = &cname.as_bytes()[..cname.len().min(255)];
        assert_eq!(
            parse_all(&buf),
            [RtcpPacket::SourceDescription(vec![cname_chunk(
                0x5555_aaaa,
                expected
            )])]
        );
    }
}

#[test]
fn compound_of_every_builder() {
    let mut buf = BytesMut::new();
    ReceiverReport {
        ssrc: 5,
        reports: vec![block(6, 1)],
    }
    .write(&mut buf);
    rtcp::write_sdes_cname(5, "client", &mut buf);
    rtcp::write_bye(&[5], None, &mut buf);
    let types: Vec<u8> = parse_all(&buf)
        .iter()
        .map(RtcpPacket::packet_type)
        .collect();
    assert_eq!(
        types,
        [
            RtcpPacket::RECEIVER_REPORT,
            RtcpPacket::SOURCE_DESCRIPTION,
            RtcpPacket::GOODBYE
        ]
    );
    let RtcpPacket::SourceDescription(chunks) = &parse_all(&buf)[1] else {
        panic!()
    };
    assert_eq!(chunks[0].cname(), Some(&b"client"[..]));
}

#[test]
fn app_and_unknown_packets() {
    let app = [
        0x83, 204, 0, 3, 0, 0, 0, 9, b'T', b'E', b'S', b'T', 1, 2, 3, 4,
    ];
    let feedback = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    let buf = [&app[..], &feedback[..]].concat();
    assert_eq!(
        parse_all(&buf),
        [
            RtcpPacket::App {
                subtype: 3,
                ssrc: 9,
                name: *b"TEST",
                data: &[1, 2, 3, 4]
            },
            RtcpPacket::Other {
                packet_type: 206,
                count: 1,
                body: &[0, 0, 0, 1, 0, 0, 0, 2]
            },
        ]
    );
}

#[test]
fn padding_is_removed() {
    // An RR with RC=0 and 4 bytes of padding.
    let buf = [0xa0, 201, 0, 2, 0, 0, 0, 7, 0, 0, 0, 4];
    assert_eq!(
        parse_all(&buf),
        [RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 7,
            reports: vec![]
        })]
    );
    let bad = [0xa0, 201, 0, 2, 0, 0, 0, 7, 0, 0, 0, 9];
    assert_eq!(
        rtcp::parse_compound(&bad).next(),
        Some(Err(RtcpError::BadPadding {
            offset: 0,
            packet_type: 201,
            padding: 9
        }))
    );
}

#[test]
fn malformed_tail_stops_the_iteration() {
    let mut buf = BytesMut::new();
    ReceiverReport {
        ssrc: 1,
        reports: vec![],
    }
    .write(&mut buf);
    buf.extend_from_slice(&[0x80, 200, 0, 9, 1, 2]);
    let mut iter = rtcp::parse_compound(&buf);
    assert!(matches!(
        iter.next(),
        Some(Ok(RtcpPacket::ReceiverReport(_)))
    ));
    assert_eq!(
        iter.next(),
        Some(Err(RtcpError::LengthOverrun {
            offset: 8,
            packet_type: 200,
            length: 40,
            available: 6
        }))
    );
    assert_eq!(iter.next(), None);
    assert_eq!(iter.next(), None);

    let errors = [
        (
            &[0x80, 200, 0][..],
            RtcpError::TooShort { offset: 0, len: 3 },
        ),
        (
            &[0x40, 200, 0, 0][..],
            RtcpError::BadVersion {
                offset: 0,
                version: 1,
            },
        ),
        // RC=1 but no room for the block.
        (
            &[0x81, 201, 0, 1, 0, 0, 0, 1][..],
            RtcpError::Malformed {
                offset: 0,
                packet_type: 201,
                reason: "report blocks overrun the packet",
            },
        ),
        (
            &[0x80, 200, 0, 1, 0, 0, 0, 1][..],
            RtcpError::Malformed {
                offset: 0,
                packet_type: 200,
                reason: "sender info truncated",
            },
        ),
        (
            &[0x81, 203, 0, 2, 0, 0, 0, 1, 9, b'a', b'b', 0][..],
            RtcpError::Malformed {
                offset: 0,
                packet_type: 203,
                reason: "BYE reason overruns the packet",
            },
        ),
        (
            &[0x82, 202, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0][..],
            RtcpError::Malformed {
                offset: 0,
                packet_type: 202,
                reason: "SDES chunk overruns the packet",
            },
        ),
        (
            &[0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, b'a', b'b'][..],
            RtcpError::Malformed {
                offset: 0,
                packet_type: 202,
                reason: "SDES item overruns the packet",
            },
        ),
    ];
    for (bytes, expected) in errors {
        let results: Vec<_> = rtcp::parse_compound(bytes).collect();
        assert_eq!(results, [Err(expected)], "{bytes:?}");
    }
    assert_eq!(rtcp::parse_compound(&[]).count(), 0);
}

#[test]
fn ntp_timestamps() {
    assert_eq!(
        NtpTimestamp::from_unix(Duration::ZERO),
        NtpTimestamp(2_208_988_800 << 32)
    );
    assert_eq!(
        NtpTimestamp::from_unix(Duration::ZERO).to_unix(),
        Some(Duration::ZERO)
    );
    let half = NtpTimestamp::from_unix(Duration::from_millis(1500));
    assert_eq!(
        (half.seconds(), half.fraction()),
        (2_208_988_801, 0x8000_0000)
    );
    assert_eq!(half.middle_32(), (2_208_988_801 & 0xffff) << 16 | 0x8000);
    // Before 1970 (still in era 0) there is no Unix time.
    assert_eq!(NtpTimestamp(0x8000_0000 << 32).to_unix(), None);
    // Seconds wrap in February 2036; era 1 is read back correctly.
    let after_wrap = Duration::new((1 << 32) - 2_208_988_800 + 5, 0);
    let ntp = NtpTimestamp::from_unix(after_wrap);
    assert_eq!(ntp.seconds(), 5);
    assert_eq!(ntp.to_unix(), Some(after_wrap));
}

#[test]
fn rtcp_is_told_from_rtp() {
    assert!(rtcp::looks_like_rtcp(&[0x80, 200]));
    assert!(rtcp::looks_like_rtcp(&[0x81, 201, 0, 7]));
    assert!(!rtcp::looks_like_rtcp(&[0x80, 96]));
    assert!(!rtcp::looks_like_rtcp(&[0x80, 0xe0]));
    assert!(!rtcp::looks_like_rtcp(&[0x40, 200]));
    assert!(!rtcp::looks_like_rtcp(&[0x80]));
}

fn any_block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000i32..=0x7f_ffff,
        any::<[u32; 4]>(),
    )
        .prop_map(
            |(
                ssrc,
                fraction_lost,
                cumulative_lost,
                [highest_seq, jitter, last_sr, delay_since_last_sr],
            )| ReportBlock {
                ssrc,
                fraction_lost,
                cumulative_lost,
                highest_seq,
                jitter,
                last_sr,
                delay_since_last_sr,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut total = 0;
        for result in rtcp::parse_compound(&bytes) {
            total += 1;
            prop_assert!(total <= bytes.len() / 4 + 1);
            if let Ok(packet) = result {
                let _ = packet.packet_type();
            }
        }
    }

    #[test]
    fn reports_round_trip(
        ssrc: u32, ntp: u64, rtp_timestamp: u32, packet_count: u32, octet_count: u32,
        reports in prop::collection::vec(any_block(), 0..31),
    ) {
        let sr = SenderReport { ssrc, ntp: NtpTimestamp(ntp), rtp_timestamp, packet_count, octet_count, reports };
        let rr = ReceiverReport { ssrc, reports: sr.reports.clone() };
        let mut buf = BytesMut::new();
        sr.write(&mut buf);
        rr.write(&mut buf);
        rtcp::write_bye(&[ssrc], Some("done"), &mut buf);
        prop_assert_eq!(
            parse_all(&buf),
            [
                RtcpPacket::SenderReport(sr.clone()),
                RtcpPacket::ReceiverReport(rr),
                RtcpPacket::Goodbye(Goodbye { ssrcs: vec![ssrc], reason: Some(b"done") }),
            ]
        );
    }

    #[test]
    fn bye_round_trips(ssrcs in prop::collection::vec(any::<u32>(), 0..31), reason in "[ -~]{0,300}") {
        let mut buf = BytesMut::new();
        rtcp::write_bye(&ssrcs, Some(&reason), &mut buf);
        let cut = &reason.as_bytes()[..reason.len().min(255)];
        let expected = if cut.is_empty() { None } else { Some(cut) };
        prop_assert_eq!(parse_all(&buf), [RtcpPacket::Goodbye(Goodbye { ssrcs, reason: expected })]);
    }

    #[test]
    fn ntp_unix_round_trips(secs in 0u64..(1 << 33), nanos in 0u32..1_000_000_000) {
        let time = Duration::new(secs, nanos);
        let ntp = NtpTimestamp::from_unix(time);
        // Representable without ambiguity: 1970 up to the end of NTP era 1 (2104).
        if secs + 2_208_988_800 < (1 << 32) + 0x8000_0000 {
            prop_assert_eq!(ntp.to_unix(), Some(time));
        }
    }
}
