//! Property tests: hostile input, chunking independence and encode/decode round trips.

use std::fs;
use std::path::Path;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sluice_rtsp::codec::{DecodeError, Decoder, InterleavedFrame, Limits, Message};
use sluice_rtsp::message::{Headers, Method, Request, Response, StatusCode, Version};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

/// Small limits so that random input reaches them.
const SMALL: Limits = Limits {
    max_header_bytes: 300,
    max_headers: 8,
    max_body_bytes: 600,
};

/// Everything the decoder produced for a stream, up to and including the first fatal error.
type Outcome = Vec<Result<Message, DecodeError>>;

/// Feeds `input` in pieces cut at `cuts` (sorted, deduplicated offsets), checking after every
/// `Ok(None)` that the buffer holds no more than one message can legitimately occupy.
fn feed(limits: Limits, input: &[u8], cuts: &[usize]) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut start = 0;
    let ends = cuts
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < input.len())
        .chain(std::iter::once(input.len()));
    for end in ends {
        if end <= start {
            continue;
        }
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            let before = decoder.offset();
            match decoder.decode(&mut buf) {
                Ok(Some(m)) => {
                    assert!(decoder.offset() > before, "a message consumed nothing");
                    out.push(Ok(m));
                }
                Ok(None) => {
                    let bound = if buf.first() == Some(&b'$') {
                        4 + usize::from(u16::MAX)
                    } else {
                        limits.max_header_bytes + limits.max_body_bytes
                    };
                    assert!(
                        buf.len() <= bound,
                        "waiting with {} bytes buffered",
                        buf.len()
                    );
                    break;
                }
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

fn whole(limits: Limits, input: &[u8]) -> Outcome {
    feed(limits, input, &[])
}

fn byte_at_a_time(limits: Limits, input: &[u8]) -> Outcome {
    let cuts: Vec<usize> = (1..input.len()).collect();
    feed(limits, input, &cuts)
}

/// Pieces that make random input look enough like RTSP to reach the deeper code paths.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b": ".to_vec()),
        Just(b" ".to_vec()),
        Just(b"$".to_vec()),
        Just(b"RTSP/1.0 200 OK\r\n".to_vec()),
        Just(b"RTSP/1.0 ".to_vec()),
        Just(b"OPTIONS * RTSP/1.0\r\n".to_vec()),
        Just(b"SETUP rtsp://cam/track1 RTSP/1.0\n".to_vec()),
        Just(b"CSeq: 3\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"Content-length: 700\r\n".to_vec()),
        Just(b"$\x00\x00\x03".to_vec()),
        Just(b"\t continued\r\n".to_vec()),
    ]
}

fn rtspish() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(fragment(), 0..40).prop_map(|parts| parts.concat())
}

fn corpus_files() -> Vec<Vec<u8>> {
    let dir = Path::new(CORPUS).join("transcripts");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    let mut out: Vec<Vec<u8>> = files
        .iter()
        .map(|p| fs::read(p).expect("readable transcript"))
        .collect();
    let capture = fs::read(Path::new(CORPUS).join("captures/wowza-bunny-interleaved.rtsp"))
        .expect("readable capture");
    out.push(capture[..4096.min(capture.len())].to_vec());
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match *m {
            Mutation::Flip { at, bit } if len > 0 => bytes[at % len] ^= 1 << bit,
            Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), byte),
            Mutation::Delete { at } if len > 0 => {
                bytes.remove(at % len);
            }
            _ => {}
        }
    }
    bytes
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        prop::sample::select(vec![
            "OPTIONS",
            "DESCRIBE",
            "ANNOUNCE",
            "SETUP",
            "PLAY",
            "PAUSE",
            "RECORD",
            "TEARDOWN",
            "GET_PARAMETER",
            "SET_PARAMETER",
            "REDIRECT",
        ])
        .prop_map(Method::parse),
        "[A-Z][A-Z_]{0,11}".prop_map(|t| Method::parse(&t)),
    ]
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::Rtsp10), Just(Version::Rtsp20)]
}

fn headers() -> impl Strategy<Value = Headers> {
    prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "[ -~]{0,40}"), 0..8).prop_map(|fields| {
        let mut headers = Headers::new();
        for (name, value) in fields {
            if !name.eq_ignore_ascii_case("Content-Length") {
                headers.append(name, value);
            }
        }
        headers
    })
}

fn body() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..200).prop_map(Bytes::from)
}

/// `Content-Length` as the encoder writes it, so that decoded values compare equal.
fn with_length(mut headers: Headers, body: &Bytes) -> Headers {
    if !body.is_empty() {
        headers.insert("Content-Length", body.len().to_string());
    }
    headers
}

fn request() -> impl Strategy<Value = Request> {
    (method(), "[!-~]{1,40}", version(), headers(), body()).prop_map(
        |(method, uri, version, headers, body)| Request {
            method,
            uri,
            version,
            headers: with_length(headers, &body),
            body,
        },
    )
}

fn response() -> impl Strategy<Value = Response> {
    (version(), 100u16..1000, "[ -~]{0,30}", headers(), body()).prop_map(
        |(version, code, reason, headers, body)| Response {
            version,
            status: StatusCode(code),
            reason: reason.trim().to_owned(),
            headers: with_length(headers, &body),
            body,
        },
    )
}

fn frame() -> impl Strategy<Value = InterleavedFrame> {
    (any::<u8>(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(channel, payload)| {
        InterleavedFrame {
            channel,
            payload: Bytes::from(payload),
        }
    })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        request().prop_map(Message::Request),
        response().prop_map(Message::Response),
        frame().prop_map(Message::Data),
    ]
}

fn encode(message: &Message, out: &mut BytesMut) {
    match message {
        Message::Request(r) => r.encode(out),
        Message::Response(r) => r.encode(out),
        Message::Data(f) => f.encode(out),
        other => panic!("unexpected {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic_and_stay_bounded(input in prop::collection::vec(any::<u8>(), 0..2000),
                                                 cuts in prop::collection::vec(0usize..2000, 0..20)) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let a = whole(SMALL, &input);
        prop_assert_eq!(&feed(SMALL, &input, &cuts), &a);
        let b = whole(Limits::default(), &input);
        prop_assert_eq!(&feed(Limits::default(), &input, &cuts), &b);
    }

    #[test]
    fn rtsp_like_bytes_decode_the_same_in_any_chunking(input in rtspish(),
                                                       cuts in prop::collection::vec(0usize..1500, 0..30)) {
        let mut cuts = cuts;
        cuts.sort_unstable();
        let a = whole(SMALL, &input);
        prop_assert_eq!(&feed(SMALL, &input, &cuts), &a);
        prop_assert_eq!(&byte_at_a_time(SMALL, &input), &a);
        let b = whole(Limits::default(), &input);
        prop_assert_eq!(&feed(Limits::default(), &input, &cuts), &b);
    }

    #[test]
    fn mutated_corpus_never_panics(file in any::<prop::sample::Index>(),
                                   mutations in prop::collection::vec(mutation(), 1..8),
                                   cuts in prop::collection::vec(0usize..5000, 0..20)) {
        let files = corpus_files();
        let original = file.get(&files).clone();
        let input = mutate(original, &mutations);
        let mut cuts = cuts;
        cuts.sort_unstable();
        for limits in [SMALL, Limits::default()] {
            let a = whole(limits, &input);
            prop_assert_eq!(&feed(limits, &input, &cuts), &a);
        }
    }

    #[test]
    fn encoded_messages_decode_to_equal_values(messages in prop::collection::vec(message(), 1..6),
                                               cuts in prop::collection::vec(0usize..3000, 0..10)) {
        let mut wire = BytesMut::new();
        for m in &messages {
            encode(m, &mut wire);
        }
        let expected: Outcome = messages.into_iter().map(Ok).collect();
        prop_assert_eq!(&whole(Limits::default(), &wire), &expected);
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(&feed(Limits::default(), &wire, &cuts), &expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn whole_corpus_byte_at_a_time(file in any::<prop::sample::Index>()) {
        let files = corpus_files();
        let input = file.get(&files);
        prop_assert_eq!(byte_at_a_time(Limits::default(), input), whole(Limits::default(), input));
    }
}

#[test]
fn round_trip_examples() {
    let request = Request::new(
        Method::Setup,
        "rtsp://192.0.2.1:554/Streaming/Channels/101/trackID=1",
    )
    .with_header("CSeq", "3")
    .with_header("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1");
    let response = Response::new(StatusCode::OK)
        .with_header("CSeq", "2")
        .with_header("Session", "12345678;timeout=60")
        .with_body(
            "application/sdp",
            &b"v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\n"[..],
        );
    for message in [Message::Request(request), Message::Response(response)] {
        let mut wire = BytesMut::new();
        encode(&message, &mut wire);
        assert_eq!(whole(Limits::default(), &wire), vec![Ok(message)]);
    }
}
