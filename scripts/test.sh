#!/usr/bin/env bash
# The whole test suite: installs the external tools, then runs every test of the workspace
# (unit, integration against the real binary with ffmpeg/GStreamer peers, doc tests).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh

# Integration tests start their own server on free loopback ports and bound every child process,
# so the default parallelism (one test thread per core) is safe. --no-fail-fast: report every
# failing test binary, not just the first; the script still fails if any did.
status=0
cargo test --workspace --all-targets --no-fail-fast || status=1
cargo test --workspace --doc --no-fail-fast || status=1
exit "$status"
