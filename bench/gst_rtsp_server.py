#!/usr/bin/python3
"""GStreamer's rtsp-server re-serving an upstream RTSP stream: the peer `sluice-bench` compares Sluice with.

One shared media per mount pulls the upstream URL with rtspsrc (RTP over TCP) and serves it to any number of
readers. Two pipelines are offered:

  relay  (default) the upstream RTP packets are handed to the server as they are (no depayloading), which is
         the cheapest way GStreamer can re-serve a stream and the closest to what Sluice does;
  repay  H.264 and AAC are depayloaded and payloaded again (rtph264pay config-interval=-1), the usual
         GStreamer proxy recipe.

Prints `ready rtsp://HOST:PORT/MOUNT` on stdout once the server is listening; SIGTERM or SIGINT stops it.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def launch_line(upstream: str, mode: str) -> str:
    src = f"rtspsrc location={upstream} protocols=tcp latency=0 name=src"
    if mode == "relay":
        video = "src. ! application/x-rtp,media=video ! queue ! identity name=pay0"
        audio = "src. ! application/x-rtp,media=audio ! queue ! identity name=pay1"
    else:
        video = (
            "src. ! application/x-rtp,media=video ! rtph264depay ! "
            "rtph264pay name=pay0 pt=96 config-interval=-1"
        )
        audio = "src. ! application/x-rtp,media=audio ! rtpmp4gdepay ! rtpmp4gpay name=pay1 pt=97"
    return f"( {src} {video} {audio} )"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="RTSP URL to re-serve")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8654)
    ap.add_argument("--mount", default="/bench")
    ap.add_argument("--mode", choices=("relay", "repay"), default="relay")
    ap.add_argument(
        "--threads",
        type=int,
        default=2,
        help="client threads (GstRTSPThreadPool max-threads; GStreamer's default is 1)",
    )
    ap.add_argument("--backlog", type=int, default=1024, help="listen backlog (GStreamer's default is 5)")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    server.set_backlog(args.backlog)
    server.get_thread_pool().set_max_threads(args.threads)

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch_line(args.upstream, args.mode))
    factory.set_shared(True)
    factory.set_latency(0)
    server.get_mount_points().add_factory(args.mount, factory)

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr)
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)

    # Sessions of readers that vanished without TEARDOWN are reaped like in any long-running server.
    def cleanup() -> bool:
        server.get_session_pool().cleanup()
        return True

    GLib.timeout_add_seconds(2, cleanup)
    print(f"ready rtsp://{args.address}:{server.get_bound_port()}{args.mount}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
