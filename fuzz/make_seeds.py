#!/usr/bin/env python3
"""Writes seed corpora for the fuzz targets from shared/corpus.

    python3 fuzz/make_seeds.py [SHARED_CORPUS] [OUT]

SHARED_CORPUS defaults to ../shared/corpus beside the repository, OUT to fuzz/corpus (where
`cargo fuzz run <target>` looks, one folder per target; ignored by git). Existing seeds are kept.

- rtsp_decode: every transcript and capture, as it is (the target's input is the byte stream).
- h264_depacketize, h265_depacketize: every rtp/*.pkts file of that codec, and for H.264 the video
  packets of the Wowza capture, in the record layout of fuzz_targets/rtp_input.rs.
- aac_depacketize: the AAC packets of the Wowza capture, in the layout of
  fuzz_targets/byte_records.rs.
"""

import hashlib
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent.parent / "shared" / "corpus"
OUT = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "corpus"


def write(target, data):
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def pkts_file(path):
    """The packets of a .pkts file as (seq, ts, marker, pt, ssrc, payload)."""
    packets = []
    for line in path.read_text().splitlines():
        if not line.startswith("pkt "):
            continue
        fields = dict(f.split("=", 1) for f in line.split()[1:])
        packets.append((int(fields["seq"]), int(fields["ts"]), fields["m"] == "1",
                        int(fields["pt"]), int(fields["ssrc"], 16), bytes.fromhex(fields["payload"])))
    return packets


def interleaved(stream, channel):
    """The RTP packets of one channel of an RTSP-interleaved capture, parsed as above."""
    packets, at = [], 0
    while at + 4 <= len(stream) and stream[at] == ord("$"):
        length = int.from_bytes(stream[at + 2:at + 4], "big")
        packet = stream[at + 4:at + 4 + length]
        at += 4 + length
        if stream[at - 4 - length + 1] != channel or len(packet) < 12:
            continue
        start = 12 + 4 * (packet[0] & 0x0F)
        if packet[0] & 0x10:
            start += 4 + 4 * int.from_bytes(packet[start + 2:start + 4], "big")
        end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
        packets.append((int.from_bytes(packet[2:4], "big"), int.from_bytes(packet[4:8], "big"),
                        bool(packet[1] & 0x80), packet[1] & 0x7F,
                        int.from_bytes(packet[8:12], "big"), packet[start:end]))
    return packets


def rtp_input(packets, selector=0):
    """fuzz_targets/rtp_input.rs: selector, then (control, 16-bit length, payload) records."""
    out = bytearray([selector])
    previous = None
    for seq, ts, marker, pt, ssrc, payload in packets:
        control = 0x80 if marker else 0
        if previous is not None:
            p_seq, p_ts, p_ssrc = previous
            control |= 0x40 if ts != p_ts else 0
            control |= 0x10 if seq == p_seq else (0x20 if (seq - p_seq) % 65536 > 1 else 0)
            control |= 0x04 if ssrc != p_ssrc else 0
        control |= 0x08 if pt != packets[0][3] else 0
        previous = (seq, ts, ssrc)
        payload = payload[:4095]
        out += bytes([control]) + len(payload).to_bytes(2, "big") + payload
    return bytes(out)


def byte_records(packets, selector=0):
    """fuzz_targets/byte_records.rs (aac_depacketize and the other older targets): selector, then
    (flags, length / 4, payload) records; flags bit 0 marker, 1 skip a sequence number, 2 new
    timestamp, 5-7 the length's low bits."""
    out = bytearray([selector])
    previous = None
    for seq, ts, marker, _pt, _ssrc, payload in packets:
        payload = payload[:255 * 4 + 3]
        flags = (1 if marker else 0) | (len(payload) % 4) << 5
        if previous is not None:
            flags |= 2 if (seq - previous[0]) % 65536 > 1 else 0
            flags |= 4 if ts != previous[1] else 0
        previous = (seq, ts)
        out += bytes([flags, len(payload) // 4]) + payload
    return bytes(out)


def main():
    for folder in ("transcripts", "captures"):
        for path in sorted((CORPUS / folder).iterdir()):
            write("rtsp_decode", path.read_bytes())
    for path in sorted((CORPUS / "rtp").glob("*.pkts")):
        target = "h265_depacketize" if "h265" in path.name else "h264_depacketize"
        write(target, rtp_input(pkts_file(path)))
    capture = (CORPUS / "captures" / "wowza-bunny-interleaved.rtsp").read_bytes()
    video = interleaved(capture, 2)
    # The whole capture is too long for one input; a few access units at a time.
    for start in range(0, len(video), 40):
        write("h264_depacketize", rtp_input(video[start:start + 40]))
    audio = interleaved(capture, 0)
    for start in range(0, len(audio), 20):
        write("aac_depacketize", byte_records(audio[start:start + 20]))
    print(f"seeds written under {OUT}")


if __name__ == "__main__":
    main()
