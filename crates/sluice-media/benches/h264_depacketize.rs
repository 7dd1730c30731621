//! Replays the recorded Wowza session in `shared/corpus/captures/` through the H.264 depacketizer,
//! and through retina's on the same input in the same run, and reports MB/s of RTP packets.
//!
//! `cargo bench -p sluice-media --bench h264_depacketize`

use std::num::NonZeroU32;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sluice_media::{h264, Depacketizer as _, RtpIn};

const CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/corpus/captures/wowza-bunny-interleaved.rtsp"
);

/// The H.264 track's fmtp (shared/corpus/transcripts/wowza-4.8-bunny-describe.txt).
const FMTP: &str = "packetization-mode=1;profile-level-id=42C01E;\
                    sprop-parameter-sets=Z0LAHtkDxWhAAAADAEAAAAwDxYuS,aMuMsg==";

/// The RTP packets of interleaved channel 2 (H.264) of an RTSP-interleaved byte stream
/// (RFC 2326 §10.12: `$`, channel, 16-bit length, packet).
fn h264_packets(stream: &[u8]) -> Vec<Bytes> {
    let mut packets = Vec::new();
    let mut rest = stream;
    while let [b'$', channel, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let (packet, after) = tail.split_at(len.min(tail.len()));
        if *channel == 2 {
            packets.push(Bytes::copy_from_slice(packet));
        }
        rest = after;
    }
    packets
}

/// Depacketizes every packet; returns the number of access units.
fn ours(packets: &[Bytes]) -> usize {
    let mut depacketizer = h264::Depacketizer::new(90_000, Some(FMTP)).expect("valid fmtp");
    let mut access_units = 0;
    for packet in packets {
        let pkt = RtpIn::parse(packet).expect("valid RTP");
        depacketizer.push(pkt).expect("valid H.264");
        while let Some(au) = depacketizer.pull() {
            std::hint::black_box(&au);
            access_units += 1;
        }
    }
    access_units
}

/// The same with retina's depacketizer, fed through its (unstable, benchmark-only) raw packet
/// interface.
fn retina(packets: &[Bytes]) -> usize {
    let mut depacketizer =
        retina::codec::Depacketizer::new("video", "h264", 90_000, None, Some(FMTP))
            .expect("retina accepts the fmtp");
    let mut buf = retina::testutil::DepacketizeBuf::new(65536);
    let clock_rate = NonZeroU32::new(90_000).expect("non-zero");
    let mut access_units = 0;
    for packet in packets {
        let (header, range) = retina::rtp::PacketHeader::validate(&packet[..]).expect("valid RTP");
        let timestamp = retina::Timestamp::new(i64::from(header.timestamp()), clock_rate, 0)
            .expect("timestamp in range");
        let meta = retina::rtp::PacketMeta {
            ctx: retina::PacketContext::dummy(),
            stream_id: 0,
            timestamp,
            sequence_number: header.sequence_number(),
            ssrc: header.ssrc(),
            mark: header.mark(),
            loss: 0,
        };
        let payload = &packet[usize::from(range.start)..usize::from(range.end)];
        buf.push(&mut depacketizer, meta, payload)
            .expect("retina depacketizes");
        while let Some(item) = depacketizer.pull() {
            std::hint::black_box(&item.expect("retina frame"));
            access_units += 1;
        }
    }
    access_units
}

fn bench(c: &mut Criterion) {
    let stream = std::fs::read(CAPTURE).expect("capture present in shared/corpus");
    let packets = h264_packets(&stream);
    let bytes: usize = packets.iter().map(|p| p.len()).sum();
    assert_eq!(
        ours(&packets),
        retina(&packets),
        "same access units both ways"
    );

    let mut group = c.benchmark_group("h264_depacketize");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("sluice", |b| b.iter(|| ours(&packets)));
    group.bench_function("retina", |b| b.iter(|| retina(&packets)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
