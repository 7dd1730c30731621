//! The fixed RTP header written by the packetizers.

use bytes::{BufMut, BytesMut};

/// Length of an RTP header without CSRCs or extension.
pub(crate) const HEADER_LEN: usize = 12;

/// Appends a 12-byte RTP header: version 2, no padding, no extension, no CSRCs.
// RFC 3550 §5.1: RTP fixed header fields.
pub(crate) fn put_header(
    buf: &mut BytesMut,
    payload_type: u8,
    marker: bool,
    sequence_number: u16,
    timestamp: u32,
    ssrc: u32,
) {
    buf.put_u8(0x80);
    buf.put_u8(u8::from(marker) << 7 | (payload_type & 0x7f));
    buf.put_u16(sequence_number);
    buf.put_u32(timestamp);
    buf.put_u32(ssrc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let mut buf = BytesMut::new();
        put_header(&mut buf, 96, true, 0xabcd, 0x0102_0304, 0xdead_beef);
        assert_eq!(
            &buf[..],
            &[0x80, 0xe0, 0xab, 0xcd, 1, 2, 3, 4, 0xde, 0xad, 0xbe, 0xef]
        );
        assert_eq!(buf.len(), HEADER_LEN);

        let mut buf = BytesMut::new();
        put_header(&mut buf, 0xff, false, 0, 0, 0);
        assert_eq!(buf[1], 0x7f, "payload type is masked to 7 bits");
    }
}
