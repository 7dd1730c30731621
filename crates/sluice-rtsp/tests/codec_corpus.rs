//! The decoder against real camera traffic from `shared/corpus`.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use proptest::prelude::*;
use sluice_rtsp::codec::{DecodeError, Decoder, Limits, Message};
use sluice_rtsp::message::StatusCode;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn transcripts() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(CORPUS).join("transcripts");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .map(|path| {
            let bytes = fs::read(&path).expect("readable transcript");
            (path, bytes)
        })
        .collect();
    files.sort();
    files
}

fn capture() -> Vec<u8> {
    let path = Path::new(CORPUS).join("captures/wowza-bunny-interleaved.rtsp");
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Feeds `input` in pieces of the given sizes (cycled), decoding after each piece.
fn decode_chunked(input: &[u8], sizes: &[usize]) -> Vec<Result<Message, DecodeError>> {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = sizes.iter().copied().cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).clamp(1, rest.len());
        let (piece, tail) = rest.split_at(n);
        buf.extend_from_slice(piece);
        rest = tail;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(m)) => out.push(Ok(m)),
                Ok(None) => break,
                Err(e) => {
                    let fatal = e.is_fatal();
                    out.push(Err(e));
                    if fatal {
                        return out;
                    }
                }
            }
        }
    }
    out
}

fn decode_whole(input: &[u8]) -> Vec<Result<Message, DecodeError>> {
    decode_chunked(input, &[input.len().max(1)])
}

#[test]
fn every_transcript_is_one_response() {
    let files = transcripts();
    assert_eq!(files.len(), 41, "the corpus README lists 41 transcripts");
    // Every transcript's body is exactly as long as its Content-Length (checked below), so none of
    // them needs the "body shorter than Content-Length yields Ok(None)" allowance; that case is
    // covered by `truncated_body_waits` instead.
    for (path, bytes) in &files {
        let mut decoder = Decoder::new(Limits::default());
        let mut buf = BytesMut::from(&bytes[..]);
        let first = decoder.decode(&mut buf);
        let Ok(Some(Message::Response(response))) = first else {
            panic!("{}: {first:?}", path.display());
        };
        assert!(
            buf.is_empty(),
            "{}: {} bytes left over",
            path.display(),
            buf.len()
        );
        assert_eq!(decoder.decode(&mut buf), Ok(None), "{}", path.display());
        assert_eq!(decoder.offset(), bytes.len() as u64);
        let declared: usize = response
            .headers
            .get("Content-Length")
            .map_or(0, |v| v.parse().expect("numeric Content-Length"));
        assert_eq!(response.body.len(), declared, "{}", path.display());
    }
}

#[test]
fn transcript_details() {
    let files = transcripts();
    let response = |name: &str| {
        let (_, bytes) = files
            .iter()
            .find(|(p, _)| p.file_name().is_some_and(|n| n == name))
            .unwrap_or_else(|| panic!("missing {name}"));
        match decode_whole(bytes).pop() {
            Some(Ok(Message::Response(r))) => r,
            other => panic!("{name}: {other:?}"),
        }
    };

    // `CSeq: 1 ` with a trailing space.
    let longse = response("longse-401-unauthorized.txt");
    assert_eq!(longse.status, StatusCode::UNAUTHORIZED);
    assert_eq!(longse.reason, "Unauthorized");
    assert_eq!(longse.cseq(), Some(1));
    assert!(longse
        .headers
        .get("www-authenticate")
        .is_some_and(|v| v.starts_with("Digest realm=")));

    // LF-only, `Cseq`, Content-Length counting LF bytes.
    let go2rtc = response("go2rtc-testserver-describe-no-control.txt");
    assert_eq!(go2rtc.status, StatusCode::OK);
    assert_eq!(go2rtc.cseq(), Some(1));
    assert_eq!(go2rtc.body.len(), 495);
    assert!(go2rtc.body.starts_with(b"v=0\n"));

    let go2rtc_setup = response("go2rtc-testserver-setup-interleaved-4-5.txt");
    assert_eq!(go2rtc_setup.cseq(), Some(3));
    assert_eq!(go2rtc_setup.headers.get("session"), Some("1"));

    // Many spaces after the colon.
    let hikvision = response("hikvision-ipc-setup.txt");
    assert_eq!(hikvision.cseq(), Some(2));
    assert!(hikvision
        .headers
        .get("Session")
        .is_some_and(|v| v.starts_with("708345999")));

    // `Cseq` spelling and a body ending in an extra empty line counted in Content-Length.
    let vstarcam = response("vstarcam-describe.txt");
    assert_eq!(vstarcam.cseq(), Some(2));
    assert_eq!(vstarcam.body.len(), 403);
    assert!(vstarcam.body.ends_with(b"\r\n\r\n"));

    let h264dvr = response("h264dvr-describe.txt");
    assert_eq!(h264dvr.cseq(), Some(3));
    assert_eq!(h264dvr.headers.get("content-type"), Some("application/sdp"));
    assert_eq!(h264dvr.headers.get("Server"), Some("H264DVR 1.0"));

    // CSeq comes after a made-up `Notes:` header and a long RTP-Info.
    let omny = response("simulated-omny-m5s2a-play-negative-rtptime.txt");
    assert_eq!(omny.cseq(), Some(3));
    assert!(omny.body.is_empty());
}

#[test]
fn transcripts_back_to_back_and_chunked() {
    // All transcripts in one stream, separated by stray line ends, fed in odd-sized pieces.
    let files = transcripts();
    let mut stream = Vec::new();
    for (i, (_, bytes)) in files.iter().enumerate() {
        stream.extend_from_slice(bytes);
        if i % 3 == 0 {
            stream.extend_from_slice(b"\r\n");
        }
    }
    let whole = decode_whole(&stream);
    assert_eq!(whole.len(), files.len());
    assert!(whole.iter().all(|m| matches!(m, Ok(Message::Response(_)))));
    for sizes in [&[1][..], &[2, 3, 5, 7], &[13, 1, 64], &[1000]] {
        assert_eq!(decode_chunked(&stream, sizes), whole, "sizes {sizes:?}");
    }
}

#[test]
fn truncated_body_waits() {
    let files = transcripts();
    let (_, bytes) = files
        .iter()
        .find(|(p, _)| p.ends_with("wowza-4.8-bunny-describe.txt"))
        .expect("wowza describe transcript");
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&bytes[..bytes.len() - 10]);
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert_eq!(buf.len(), bytes.len() - 10, "partial input stays in place");
    buf.extend_from_slice(&bytes[bytes.len() - 10..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Message::Response(r))) if r.body.len() == 589
    ));
}

fn check_bunny_frames(messages: &[Result<Message, DecodeError>]) {
    assert_eq!(messages.len(), 371);
    let mut per_channel = [0usize; 256];
    for message in messages {
        match message {
            Ok(Message::Data(frame)) => {
                per_channel[usize::from(frame.channel)] += 1;
                // RTP version 2 in every payload.
                assert_eq!(frame.payload.first().map(|b| b >> 6), Some(2));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(per_channel[0], 102);
    assert_eq!(per_channel[2], 269);
    assert_eq!(per_channel.iter().sum::<usize>(), 371);
}

#[test]
fn bunny_capture_whole() {
    let bytes = capture();
    let messages = decode_whole(&bytes);
    check_bunny_frames(&messages);
}

#[test]
fn bunny_payloads_are_not_copied() {
    let bytes = capture();
    let mut buf = BytesMut::from(&bytes[..]);
    let base = buf.as_ptr() as usize;
    let mut decoder = Decoder::new(Limits::default());
    let Ok(Some(Message::Data(frame))) = decoder.decode(&mut buf) else {
        panic!("first message is a frame");
    };
    // The payload points into the original allocation, just after the 4-byte header.
    assert_eq!(frame.payload.as_ptr() as usize, base + 4);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn bunny_capture_chunked(sizes in prop::collection::vec(1usize..5000, 1..32)) {
        let bytes = capture();
        let messages = decode_chunked(&bytes, &sizes);
        check_bunny_frames(&messages);
        prop_assert_eq!(messages, decode_whole(&bytes));
    }
}
