#!/usr/bin/env bash
# Time to the first packet and the first keyframe for a reader of a pulled camera path, always-on and
# on demand (camera not yet connected), measured with `sluice probe` through Sluice.
#
#   bench/proxy_first_frame.sh [RUNS]      (default 5 runs per path; prints each run and the medians)
#
# The camera is GStreamer's rtsp-server (crates/sluice-testkit/scripts/gst_camera.py: H.264 320x240,
# 25 fps, a keyframe every second). Needs /usr/bin/python3 with python3-gi and gir1.2-gst-rtsp-server-1.0.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
cargo build --release -q -p sluice
bin=target/release/sluice
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
free_udp_pair() {
    python3 -c '
import socket
while True:
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p % 2: continue
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try: b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError: pass'
}
cam_port=$(free_port)
rtsp_port=$(free_port)
rtp_port=$(free_udp_pair)
mc_port=$(free_udp_pair)

/usr/bin/python3 crates/sluice-testkit/scripts/gst_camera.py --port "$cam_port" --path /cam >"$work/camera.log" 2>&1 &
for _ in $(seq 50); do grep -q ready "$work/camera.log" && break; sleep 0.1; done

cat >"$work/sluice.toml" <<EOF
[log]
level = "warn"
[rtsp]
listen = "127.0.0.1:$rtsp_port"
rtp_port = $rtp_port
rtcp_port = $((rtp_port + 1))
multicast_rtp_port = $mc_port
multicast_rtcp_port = $((mc_port + 1))
[paths.always]
source = "rtsp://127.0.0.1:$cam_port/cam"
transport = "tcp"
[paths.ondemand]
source = "rtsp://127.0.0.1:$cam_port/cam"
transport = "tcp"
on_demand = true
on_demand_close_after = 1.0
EOF
"$bin" serve --config "$work/sluice.toml" 2>"$work/sluice.log" &
sleep 3 # the always-on path connects and fills its GOP cache

probe() {
    "$bin" probe --json --transport tcp --seconds 1 "rtsp://127.0.0.1:$rtsp_port/$1" |
        python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get("first_packet_ms"), r.get("first_keyframe_ms"))'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for path in always ondemand; do
    : >"$work/$path"
    for i in $(seq "$runs"); do
        read -r packet keyframe < <(probe "$path")
        echo "$path run $i: first packet ${packet} ms, first keyframe ${keyframe} ms"
        echo "$keyframe" >>"$work/$path"
        # Let the on-demand camera session close again (on_demand_close_after = 1 s).
        [ "$path" = ondemand ] && sleep 2.5
    done
    echo "$path: median time to first keyframe $(median <"$work/$path") ms over $runs runs"
done
