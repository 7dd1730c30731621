//! Size limits and error recovery of the decoder.

use bytes::BytesMut;
use sluice_rtsp::codec::{DecodeErrorKind, Decoder, Limits, Message};
use sluice_rtsp::message::{Method, StatusCode};

fn request_with_headers(n: usize) -> Vec<u8> {
    let mut out = b"OPTIONS rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\n".to_vec();
    for i in 1..n {
        out.extend_from_slice(format!("X-Header-{i}: {i}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[test]
fn header_block_over_64k_is_fatal_before_it_ends() {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&b"DESCRIBE rtsp://cam/ RTSP/1.0\r\nX-Long: "[..]);
    // Feed 1 KiB at a time and never end the header block: the decoder must give up by itself.
    let mut fed = buf.len();
    let err = loop {
        match decoder.decode(&mut buf) {
            Ok(None) => {}
            other => break other.expect_err("no message can come out"),
        }
        assert!(fed <= 64 * 1024 + 1024, "still waiting after {fed} bytes");
        buf.extend_from_slice(&[b'a'; 1024]);
        fed += 1024;
    };
    assert_eq!(
        err.kind,
        DecodeErrorKind::HeaderBlockTooLarge { limit: 65536 }
    );
    assert!(err.is_fatal());
    assert_eq!(err.offset, 0);
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert!(err.to_string().contains("offset 0"), "{err}");
}

#[test]
fn header_block_exactly_at_limit_is_accepted() {
    let mut head = b"OPTIONS * RTSP/1.0\r\nX-Pad: ".to_vec();
    let pad = 65536 - head.len() - 4;
    head.extend(std::iter::repeat_n(b'p', pad));
    head.extend_from_slice(b"\r\n\r\n");
    assert_eq!(head.len(), 65536);
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&head[..]);
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Message::Request(_)))
    ));

    // One byte more is too much.
    head.insert(30, b'p');
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&head[..]);
    let err = decoder.decode(&mut buf).expect_err("over the limit");
    assert_eq!(
        err.kind,
        DecodeErrorKind::HeaderBlockTooLarge { limit: 65536 }
    );
}

#[test]
fn header_count_limit() {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&request_with_headers(128)[..]);
    assert!(
        matches!(decoder.decode(&mut buf), Ok(Some(Message::Request(r))) if r.headers.len() == 128)
    );

    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&request_with_headers(129)[..]);
    let err = decoder.decode(&mut buf).expect_err("129 headers");
    assert_eq!(err.kind, DecodeErrorKind::TooManyHeaders { limit: 128 });
    assert!(err.is_fatal());
    assert_eq!(err.cseq, Some(1));
}

#[test]
fn body_of_2_mib_is_fatal_413_without_waiting_for_it() {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(
        &b"ANNOUNCE rtsp://cam/ RTSP/1.0\r\nCSeq: 4\r\nContent-Length: 2097152\r\n\r\nv=0\r\n"[..],
    );
    let err = decoder.decode(&mut buf).expect_err("2 MiB body");
    assert_eq!(
        err.kind,
        DecodeErrorKind::BodyTooLarge {
            len: 2 * 1024 * 1024,
            limit: 1024 * 1024
        }
    );
    assert!(err.is_fatal());
    assert_eq!(err.status(), StatusCode::REQUEST_ENTITY_TOO_LARGE);
    assert_eq!(err.cseq, Some(4));
    // Sticky: the stream cannot be framed any more.
    assert_eq!(decoder.decode(&mut buf), Err(err));
}

#[test]
fn body_at_limit_is_accepted() {
    let limits = Limits {
        max_body_bytes: 10,
        ..Limits::default()
    };
    let mut decoder = Decoder::new(limits);
    let mut buf =
        BytesMut::from(&b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 10\r\n\r\n0123456789"[..]);
    assert!(
        matches!(decoder.decode(&mut buf), Ok(Some(Message::Response(r))) if r.body.len() == 10)
    );
}

#[test]
fn malformed_request_line_is_recoverable() {
    let input = b"PLAY rtsp://cam/ RTSP/1.0 extra\r\nCSeq: 7\r\nContent-Length: 4\r\n\r\nbody\
                  OPTIONS rtsp://cam/ RTSP/1.0\r\nCSeq: 8\r\n\r\n";
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&input[..]);

    let err = decoder.decode(&mut buf).expect_err("bad request line");
    assert!(
        matches!(err.kind, DecodeErrorKind::BadStartLine(_)),
        "{err:?}"
    );
    assert!(!err.is_fatal());
    assert_eq!(err.cseq, Some(7));
    assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    assert_eq!(err.offset, 0);

    let next = decoder.decode(&mut buf);
    let Ok(Some(Message::Request(request))) = next else {
        panic!("{next:?}");
    };
    assert_eq!(request.method, Method::Options);
    assert_eq!(request.cseq(), Some(8));
    assert!(buf.is_empty());
    assert_eq!(decoder.offset(), input.len() as u64);
}

#[test]
fn malformed_header_line_is_recoverable() {
    let input = b"SETUP rtsp://cam/ RTSP/1.0\r\nCSeq: 3\r\nTransport RTP/AVP\r\n\r\n\
                  TEARDOWN rtsp://cam/ RTSP/1.0\r\nCSeq: 4\r\n\r\n";
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&input[..]);
    let err = decoder.decode(&mut buf).expect_err("header without colon");
    assert_eq!(err.kind, DecodeErrorKind::BadHeaderLine);
    assert_eq!(err.cseq, Some(3));
    assert!(matches!(
        decoder.decode(&mut buf),
        Ok(Some(Message::Request(r))) if r.method == Method::Teardown
    ));
}

#[test]
fn binary_garbage_hits_a_limit_or_a_bad_start_line() {
    let limits = Limits {
        max_header_bytes: 256,
        ..Limits::default()
    };
    // No line end at all: the header limit.
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::from(&[0x80u8; 300][..]);
    let err = decoder.decode(&mut buf).expect_err("garbage");
    assert_eq!(
        err.kind,
        DecodeErrorKind::HeaderBlockTooLarge { limit: 256 }
    );

    // Line ends in it: a bad start line, then more of the same.
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::from(&b"\x80\x81\x00\n\n\xff\xfe\n\n"[..]);
    for _ in 0..2 {
        let err = decoder.decode(&mut buf).expect_err("garbage");
        assert!(
            matches!(err.kind, DecodeErrorKind::BadStartLine(_)),
            "{err:?}"
        );
    }
    assert_eq!(decoder.decode(&mut buf), Ok(None));
    assert!(buf.is_empty());
}

#[test]
fn stray_line_ends_do_not_accumulate() {
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::new();
    for _ in 0..10_000 {
        buf.extend_from_slice(b"\r\n");
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        assert!(buf.is_empty());
    }
    assert_eq!(decoder.offset(), 20_000);
}

#[test]
fn data_frames_interleave_with_messages() {
    let input = b"$\x01\x00\x02hiRTSP/1.0 200 OK\r\nCSeq: 2\r\n\r\n$\x00\x00\x00\r\n\
                  GET_PARAMETER rtsp://cam/ RTSP/1.0\r\nCSeq: 3\r\n\r\n";
    let mut decoder = Decoder::new(Limits::default());
    let mut buf = BytesMut::from(&input[..]);
    let mut kinds = Vec::new();
    while let Some(message) = decoder.decode(&mut buf).expect("valid stream") {
        kinds.push(match message {
            Message::Data(f) => format!("data{}:{}", f.channel, f.payload.len()),
            Message::Response(r) => format!("response{}", r.status.0),
            Message::Request(r) => format!("request {}", r.method),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        kinds,
        ["data1:2", "response200", "data0:0", "request GET_PARAMETER"]
    );
}
