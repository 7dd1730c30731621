#!/usr/bin/env bash
# Installs the external programs the integration tests drive (ffmpeg, GStreamer, iproute2, ...).
# Debian 12; needs root (uses sudo when not root). Skips packages that are already installed.
set -euo pipefail

packages=(
  ffmpeg
  gstreamer1.0-tools
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
  gstreamer1.0-rtsp
  gir1.2-gst-rtsp-server-1.0
  python3-gi
  python3-gst-1.0
  iproute2 # `ip route` for the multicast route on loopback
  procps
)

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  # Not Debian: the tests only need the programs, however they were installed.
  for tool in ffmpeg ffprobe gst-launch-1.0 ip; do
    command -v "$tool" >/dev/null || { echo "install-test-deps: $tool is missing; install it with your package manager" >&2; exit 1; }
  done
  echo "install-test-deps: not a Debian system, but the needed programs are present"
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "install-test-deps: all test dependencies are installed"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "install-test-deps: need root (or sudo) to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
