//! The RTSP stream decoder (`sluice_rtsp::codec::Decoder`) on arbitrary bytes: never panics, and
//! keeps the invariants of its module docs whatever the input and however it is cut up.
//!
//! Input: the byte stream itself, so that RTSP transcripts and interleaved captures (`shared/corpus`
//! `transcripts/` and `captures/`) are seeds as they are. It is decoded with small limits (so that
//! they are reached) and with the default ones, each time fed three ways: whole, in pieces cut at
//! arbitrary points (each piece is 1 to 97 bytes long, the length taken from the byte it starts
//! with), and, for inputs up to 4 KiB, one byte at a time. Checked:
//! - all three ways give the same messages and errors, up to and including the first fatal error;
//! - every byte is accounted for: bytes consumed (`offset`) plus bytes buffered equal bytes fed;
//! - a message consumes at least one byte;
//! - while waiting for more bytes the buffer holds at most one incomplete message.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sluice_rtsp::codec::{DecodeError, Decoder, Limits, Message};

/// Small limits, so that random input reaches them.
const SMALL: Limits = Limits {
    max_header_bytes: 300,
    max_headers: 8,
    max_body_bytes: 600,
};

/// Inputs up to this long are also fed one byte at a time.
const BYTEWISE_MAX: usize = 4096;

/// What a stream decoded to, up to and including the first fatal error.
type Outcome = Vec<Result<Message, DecodeError>>;

/// Feeds `input` in pieces ending at `ends` (increasing, the last one `input.len()`), decoding
/// until the decoder wants more bytes after each piece.
fn feed(limits: Limits, input: &[u8], ends: impl Iterator<Item = usize>) -> Outcome {
    let mut decoder = Decoder::new(limits);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for end in ends {
        buf.extend_from_slice(&input[fed..end]);
        fed = end;
        loop {
            let before = decoder.offset();
            let result = decoder.decode(&mut buf);
            assert_eq!(
                decoder.offset() + buf.len() as u64,
                fed as u64,
                "bytes consumed plus bytes buffered are the bytes fed"
            );
            match result {
                Ok(Some(message)) => {
                    assert!(decoder.offset() > before, "a message consumed nothing");
                    out.push(Ok(message));
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
                Err(e) if e.is_fatal() => {
                    assert_eq!(
                        decoder.decode(&mut buf),
                        Err(e.clone()),
                        "a fatal error is returned again"
                    );
                    out.push(Err(e));
                    return out;
                }
                Err(e) => out.push(Err(e)),
            }
        }
    }
    out
}

/// Piece ends for `input`: each piece is 1 to 97 bytes, its length taken from its first byte.
fn arbitrary_cuts(input: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let &first = input.get(at)?;
        at = (at + 1 + usize::from(first) % 97).min(input.len());
        Some(at)
    })
}

fuzz_target!(|data: &[u8]| {
    for limits in [SMALL, Limits::default()] {
        let whole = feed(limits, data, std::iter::once(data.len()));
        assert_eq!(feed(limits, data, arbitrary_cuts(data)), whole);
        if data.len() <= BYTEWISE_MAX {
            assert_eq!(feed(limits, data, 1..=data.len()), whole);
        }
    }
});
