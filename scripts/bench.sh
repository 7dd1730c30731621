#!/usr/bin/env bash
# Load bench: one publisher and N TCP readers (N = 1, 100, 500) against the release Sluice server and
# GStreamer's rtsp-server; prints server CPU-seconds per delivered Gbit, packets lost and time to first
# keyframe. See bench/README.md.
#
#   scripts/bench.sh                 full run (N = 1,100,500; 20 s windows; both servers)
#   scripts/bench.sh --quick         smoke run (N = 1,10; 5 s windows)
#   scripts/bench.sh [--quick] -- ARGS   extra arguments for sluice-bench (e.g. -- --target sluice)
#
# The fixture (720p25 H.264 at ~4 Mbit/s, GOP 2 s, plus AAC) is made once with ffmpeg into
# $SLUICE_BENCH_CACHE (default target/bench), which is not committed.
set -euo pipefail

cd "$(dirname "$0")/.."

quick=0
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) extra+=("$1") ;;
    esac
    shift
done

for tool in ffmpeg cargo; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool not found" >&2; exit 1; }
done

cache="${SLUICE_BENCH_CACHE:-target/bench}"
fixture="$cache/fixture-720p25-4M.mkv"
mkdir -p "$cache"
if [ ! -s "$fixture" ]; then
    echo "# making $fixture" >&2
    # testsrc2 plus temporal noise keeps the bitrate up on every frame; no B-frames, a keyframe every
    # 50 frames (2 s), constant 4 Mbit/s, and a 48 kHz AAC track.
    ffmpeg -hide_banner -loglevel error -nostdin -y \
        -f lavfi -i "testsrc2=size=1280x720:rate=25,noise=alls=12:allf=t" \
        -f lavfi -i "sine=frequency=440:sample_rate=48000" \
        -t 25 -map 0:v -map 1:a \
        -c:v libx264 -preset ultrafast -tune zerolatency -bf 0 -g 50 -keyint_min 50 -sc_threshold 0 \
        -b:v 4M -maxrate 4M -bufsize 4M -pix_fmt yuv420p \
        -c:a aac -b:a 128k -ar 48000 -ac 2 \
        "$fixture.tmp.mkv"
    mv "$fixture.tmp.mkv" "$fixture"
fi

cargo build --release -p sluice -p sluice-bench

# Other builds on the machine would skew the CPU figures: a full run waits (up to 10 minutes) for a calm
# machine.
cores=$(nproc)
for _ in $(seq $((quick ? 0 : 60))); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    awk -v l="$load" -v c="$cores" 'BEGIN { exit !(l < c * 0.75) }' && break
    echo "# load average $load on $cores cores; waiting for the machine to calm down" >&2
    sleep 10
done

if [ "$quick" = 1 ]; then
    args=(--readers 1,10 --seconds 5 --join-seconds 1 --settle-seconds 1)
else
    args=(--readers 1,100,500 --seconds 20)
fi

exec target/release/sluice-bench --fixture "$fixture" --sluice target/release/sluice \
    --gst-script bench/gst_rtsp_server.py "${args[@]}" "${extra[@]}"
