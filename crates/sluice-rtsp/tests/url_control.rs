//! Control-URL resolution (RFC 2326 §C.1.1, CAMERA-QUIRKS section D) against the DESCRIBE answers
//! and SDPs of real cameras in `shared/corpus`.
//!
//! The transcripts hold responses only; each test names the request URL a client would have used
//! (with credentials, to check they never reach a track URL).

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use sluice_rtsp::codec::{Decoder, Limits, Message};
use sluice_rtsp::message::Response;
use sluice_rtsp::sdp::SessionDescription;
use sluice_rtsp::url::{join_control, resolve_base, resolve_control, BaseRepair, RtspUrl};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

fn describe(name: &str) -> (Response, SessionDescription) {
    let path = Path::new(CORPUS).join("transcripts").join(name);
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = BytesMut::from(&bytes[..]);
    let Ok(Some(Message::Response(response))) = Decoder::new(Limits::default()).decode(&mut buf)
    else {
        panic!("{name}: not one response");
    };
    let sdp = SessionDescription::parse(&response.body).unwrap_or_else(|e| panic!("{name}: {e}"));
    (response, sdp)
}

/// The aggregate (session) control URL and each media's control URL, as a client resolves them.
fn controls(request_url: &str, name: &str) -> (String, Vec<String>) {
    let (response, sdp) = describe(name);
    let base = response.headers.get("Content-Base");
    let location = response.headers.get("Content-Location");
    let aggregate = resolve_control(request_url, base, location, sdp.control());
    let tracks = sdp
        .media
        .iter()
        .map(|m| resolve_control(request_url, base, location, m.control()))
        .collect();
    (aggregate, tracks)
}

/// Controls of a bare SDP file (no RTSP headers, so the request URL is the base).
fn sdp_controls(request_url: &str, name: &str) -> (String, Vec<String>) {
    let path = Path::new(CORPUS).join("sdp").join(name);
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let sdp = SessionDescription::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    let aggregate = resolve_control(request_url, None, None, sdp.control());
    let tracks = sdp
        .media
        .iter()
        .map(|m| resolve_control(request_url, None, None, m.control()))
        .collect();
    (aggregate, tracks)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// RFC 2326 §C.1.1 and the RFC's examples of aggregate and media control.

#[test]
fn rfc2326_base_precedence_content_base_then_location_then_request() {
    let request = "rtsp://example.com/movie";
    assert_eq!(
        resolve_control(
            request,
            Some("rtsp://base.example.com/a/"),
            Some("rtsp://location.example.com/b/"),
            Some("trackID=1")
        ),
        "rtsp://base.example.com/a/trackID=1"
    );
    assert_eq!(
        resolve_control(
            request,
            None,
            Some("rtsp://location.example.com/b/"),
            Some("trackID=1")
        ),
        "rtsp://location.example.com/b/trackID=1"
    );
    assert_eq!(
        resolve_control(request, None, None, Some("trackID=1")),
        "rtsp://example.com/movie/trackID=1"
    );
}

#[test]
fn rfc2326_star_and_absent_control_mean_the_base() {
    let base = Some("rtsp://example.com/movie/");
    for control in [Some("*"), Some(" * "), None, Some(""), Some("   ")] {
        assert_eq!(
            resolve_control("rtsp://example.com/movie", base, None, control),
            "rtsp://example.com/movie/",
            "{control:?}"
        );
    }
}

#[test]
fn rfc2326_absolute_control_is_used_as_it_is() {
    // RFC 2326 §C.1.1: "rtsp://example.com/movie/audio" style media URLs.
    assert_eq!(
        resolve_control(
            "rtsp://example.com/movie",
            Some("rtsp://example.com/movie/"),
            None,
            Some("rtsp://media.example.com:8554/movie/audio")
        ),
        "rtsp://media.example.com:8554/movie/audio"
    );
    // Scheme case and rtsps are absolute too.
    assert_eq!(
        join_control("rtsp://a/b/", Some("RTSPS://c/d")),
        "RTSPS://c/d"
    );
}

#[test]
fn blank_content_base_counts_as_absent() {
    assert_eq!(
        resolve_control("rtsp://cam/live", Some("  "), Some(""), Some("track1")),
        "rtsp://cam/live/track1"
    );
}

// CAMERA-QUIRKS #19: joining with exactly one '/'.

#[test]
fn relative_controls_join_with_exactly_one_slash() {
    let cases = [
        ("rtsp://h/stream", "trackID=1", "rtsp://h/stream/trackID=1"),
        ("rtsp://h/stream/", "trackID=1", "rtsp://h/stream/trackID=1"),
        // go2rtc#1236: a control with a leading slash does not double it.
        (
            "rtsp://h/stream/",
            "/trackID=1",
            "rtsp://h/stream/trackID=1",
        ),
        ("rtsp://h/stream", "/trackID=1", "rtsp://h/stream/trackID=1"),
        // A base without a path.
        ("rtsp://h:8554", "track1", "rtsp://h:8554/track1"),
        // A control that is only a query is appended as it is.
        (
            "rtsp://h/stream",
            "?ctype=video",
            "rtsp://h/stream?ctype=video",
        ),
    ];
    for (base, control, expected) in cases {
        assert_eq!(
            join_control(base, Some(control)),
            expected,
            "{base} + {control}"
        );
    }
}

// One test per transcript with a DESCRIBE answer.

#[test]
fn anjvision_content_base_without_scheme_is_repaired() {
    // moonfire-nvr#356: "Content-Base: 192.168.1.10:554/stream0/".
    let (aggregate, tracks) = controls(
        "rtsp://admin:secret@192.168.1.10:554/stream0",
        "anjvision-ipcam-describe.txt",
    );
    assert_eq!(aggregate, "rtsp://192.168.1.10:554/stream0/");
    assert_eq!(
        tracks,
        strings(&["rtsp://192.168.1.10:554/stream0/trackID=1"])
    );

    let base = resolve_base(
        "rtsps://192.168.1.10:322/stream0",
        Some("192.168.1.10:554/stream0/"),
        None,
    );
    assert_eq!(base.url, "rtsps://192.168.1.10:554/stream0/");
    assert_eq!(base.repairs, vec![BaseRepair::MissingScheme]);
}

#[test]
fn dahua_onvif_base_with_query_and_trailing_slash() {
    let (aggregate, tracks) = controls(
        "rtsp://admin:secret@192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif",
        "dahua-h264-aac-onvif-describe.txt",
    );
    let base =
        "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif/";
    assert_eq!(aggregate, base);
    assert_eq!(
        tracks,
        vec![
            format!("{base}trackID=0"),
            format!("{base}trackID=1"),
            format!("{base}trackID=4"),
        ]
    );
}

#[test]
fn dahua_h265_base_with_query_and_trailing_slash() {
    let (aggregate, tracks) = controls(
        "rtsp://cam-driveway/cam/realmonitor?channel=1&subtype=2",
        "dahua-h265-pcma-describe.txt",
    );
    assert_eq!(
        aggregate,
        "rtsp://cam-driveway/cam/realmonitor?channel=1&subtype=2/"
    );
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://cam-driveway/cam/realmonitor?channel=1&subtype=2/trackID=0",
            "rtsp://cam-driveway/cam/realmonitor?channel=1&subtype=2/trackID=1",
        ])
    );
}

#[test]
fn ffmpeg_lavf58_no_content_base_uses_the_request_url() {
    let (aggregate, tracks) = controls(
        "rtsp://user:pw@192.0.2.20:8554/live",
        "ffmpeg-lavf58-missing-content-type-describe.txt",
    );
    // No session-level control and no Content-Base: the request URL, credentials removed.
    assert_eq!(aggregate, "rtsp://192.0.2.20:8554/live");
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://192.0.2.20:8554/live/streamid=0",
            "rtsp://192.0.2.20:8554/live/streamid=1",
        ])
    );
}

#[test]
fn foscam_non_default_port() {
    let (aggregate, tracks) = controls(
        "rtsp://192.168.5.107:65534/videoMain",
        "foscam-describe.txt",
    );
    assert_eq!(aggregate, "rtsp://192.168.5.107:65534/videoMain/");
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://192.168.5.107:65534/videoMain/track1",
            "rtsp://192.168.5.107:65534/videoMain/track2",
        ])
    );
}

#[test]
fn go2rtc_testserver_media_without_control_use_the_base() {
    // go2rtc TestMissedControl: no a=control anywhere, no Content-Base.
    let request = "rtsp://127.0.0.1:8554/stream";
    let (aggregate, tracks) = controls(request, "go2rtc-testserver-describe-no-control.txt");
    assert_eq!(aggregate, request);
    assert_eq!(tracks, vec![request.to_owned(); 3]);
}

#[test]
fn gwsecurity_main_base_with_query_and_no_trailing_slash() {
    let (aggregate, tracks) = controls(
        "rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif",
        "gwsecurity-gw4089ip-main-describe.txt",
    );
    let base = "rtsp://192.168.1.110:5050/H264?channel=1&subtype=0&unicast=true&proto=Onvif";
    assert_eq!(aggregate, base);
    assert_eq!(
        tracks,
        vec![format!("{base}/video"), format!("{base}/audio")]
    );
}

#[test]
fn gwsecurity_sub_base_with_query_and_no_trailing_slash() {
    let (_, tracks) = controls(
        "rtsp://192.168.1.110:5049/H264?channel=1&subtype=1&unicast=true&proto=Onvif",
        "gwsecurity-gw4089ip-sub-describe.txt",
    );
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://192.168.1.110:5049/H264?channel=1&subtype=1&unicast=true&proto=Onvif/video"
        ])
    );
}

#[test]
fn h264dvr_loopback_base_without_trailing_slash_is_kept() {
    // The camera answers with rtsp://127.0.0.1:554/camera whatever address it was reached on; the
    // base is kept (requests go over the open connection) and joined with one '/'.
    let (aggregate, tracks) = controls("rtsp://192.168.1.30:554/camera", "h264dvr-describe.txt");
    assert_eq!(aggregate, "rtsp://127.0.0.1:554/camera");
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://127.0.0.1:554/camera/trackID=3",
            "rtsp://127.0.0.1:554/camera/trackID=4",
        ])
    );
}

#[test]
fn hikvision_absolute_controls_with_query_after_the_track() {
    let (aggregate, tracks) = controls(
        "rtsp://admin:12345@192.168.5.106:554/Streaming/Channels/101",
        "hikvision-ipc-describe.txt",
    );
    // The aggregate control differs from Content-Base; both are used verbatim.
    assert_eq!(
        aggregate,
        "rtsp://192.168.5.106:554/Streaming/Channels/101/?transportmode=unicast&profile=Profile_1"
    );
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=1?transportmode=unicast&profile=Profile_1",
            "rtsp://192.168.5.106:554/Streaming/Channels/101/trackID=3?transportmode=unicast&profile=Profile_1",
        ])
    );
}

#[test]
fn hikvision_style_request_url_with_query_and_relative_control() {
    // A request URL such as ".../101?transportmode=unicast" without Content-Base: the query is
    // opaque and the control is appended after it, as Dahua expects of its own base.
    assert_eq!(
        resolve_control(
            "rtsp://192.0.2.10:554/Streaming/Channels/101?transportmode=unicast",
            None,
            None,
            Some("trackID=1")
        ),
        "rtsp://192.0.2.10:554/Streaming/Channels/101?transportmode=unicast/trackID=1"
    );
}

#[test]
fn ipcam_c9f0sez3n0pbl0_no_content_base() {
    let (aggregate, tracks) = controls(
        "rtsp://192.0.2.40:554/live/ch00_0",
        "ipcam-c9f0sez3n0pbl0-describe.txt",
    );
    assert_eq!(aggregate, "rtsp://192.0.2.40:554/live/ch00_0");
    assert_eq!(
        tracks,
        strings(&["rtsp://192.0.2.40:554/live/ch00_0/trackID=1"])
    );
}

#[test]
fn macrovideo_no_content_base() {
    let (_, tracks) = controls("rtsp://192.0.2.41/", "macrovideo-describe.txt");
    assert_eq!(tracks, strings(&["rtsp://192.0.2.41/track1"]));
}

#[test]
fn reolink_control_first_resolves_like_reolink() {
    // The same answer with a=control before a=tool: attribute order does not matter.
    let request = "rtsp://admin:pw@192.168.5.206/h264Preview_01_main";
    let plain = controls(request, "reolink-rlc-describe.txt");
    let control_first = controls(request, "reolink-rlc-describe-control-first.txt");
    assert_eq!(plain, control_first);
    assert_eq!(plain.0, "rtsp://192.168.5.206/h264Preview_01_main/");
    assert_eq!(
        plain.1,
        strings(&[
            "rtsp://192.168.5.206/h264Preview_01_main/trackID=1",
            "rtsp://192.168.5.206/h264Preview_01_main/trackID=2",
        ])
    );
}

#[test]
fn vstarcam_no_content_base_non_default_port() {
    let (aggregate, tracks) = controls(
        "rtsp://admin:888888@192.0.2.50:10554/tcp/av0_0",
        "vstarcam-describe.txt",
    );
    assert_eq!(aggregate, "rtsp://192.0.2.50:10554/tcp/av0_0");
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://192.0.2.50:10554/tcp/av0_0/track0",
            "rtsp://192.0.2.50:10554/tcp/av0_0/track1",
        ])
    );
}

#[test]
fn wowza_base_with_colon_in_the_path() {
    let (_, tracks) = controls(
        "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov",
        "wowza-4.8-bunny-describe.txt",
    );
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/trackID=1",
            "rtsp://wowzaec2demo.streamlock.net/vod/mp4:BigBuckBunny_115k.mov/trackID=2",
        ])
    );
}

/// Every DESCRIBE answer in the corpus resolves to track URLs that parse as RTSP URLs and carry no
/// credentials.
#[test]
fn every_describe_transcript_resolves_to_valid_urls() {
    let dir = PathBuf::from(CORPUS).join("transcripts");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.contains("-describe"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 16,
        "only {} DESCRIBE transcripts",
        names.len()
    );
    for name in names {
        let (aggregate, tracks) = controls("rtsp://user:p%40ss@198.51.100.1:554/path?x=1", &name);
        for url in std::iter::once(&aggregate).chain(&tracks) {
            let parsed = RtspUrl::parse(url).unwrap_or_else(|e| panic!("{name}: {url}: {e}"));
            assert_eq!(parsed.credentials, None, "{name}: {url}");
            assert!(!url.contains("p%40ss"), "{name}: {url}");
        }
    }
}

// SDP files whose controls exercise CAMERA-QUIRKS #20 and #22 (no RTSP headers: the request URL is
// the base).

#[test]
fn bosch_query_only_absolute_controls() {
    let (aggregate, tracks) = sdp_controls("rtsp://10.100.14.102/", "bosch-live-view-1.sdp");
    assert_eq!(aggregate, "rtsp://10.100.14.102:554/?inst=2&h26x=4");
    assert_eq!(
        tracks,
        strings(&["rtsp://10.100.14.102:554/?inst=2&h26x=4&stream=video"])
    );
}

#[test]
fn avigilon_absolute_controls_with_query() {
    let (_, tracks) = sdp_controls("rtsp://192.168.1.63/defaultPrimary", "avigilon-1.sdp");
    assert_eq!(
        tracks.first().map(String::as_str),
        Some("rtsp://192.168.1.63/defaultPrimary/micCfg0/trackID=9?mtu=1440&streamType=u")
    );
}

#[test]
fn samsung_hanwha_absolute_control_on_another_host() {
    // The controls name 10.0.100.50 although the camera was reached elsewhere: used verbatim.
    let (aggregate, tracks) = sdp_controls(
        "rtsp://192.0.2.77:554/profile5/media.smp",
        "samsung-hanwha-profile5-absolute-1.sdp",
    );
    assert_eq!(aggregate, "rtsp://10.0.100.50/profile5/media.smp");
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://10.0.100.50/profile5/media.smp/trackID=v",
            "rtsp://10.0.100.50/profile5/media.smp/trackID=a",
            // The metadata media has no control: the base.
            "rtsp://192.0.2.77:554/profile5/media.smp",
        ])
    );
}

#[test]
fn altasec_numeric_controls() {
    let (aggregate, tracks) = sdp_controls("rtsp://192.0.2.80:554/ch1", "altasec-nvr-1.sdp");
    assert_eq!(aggregate, "rtsp://192.0.2.80:554/ch1");
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://192.0.2.80:554/ch1/0",
            "rtsp://192.0.2.80:554/ch1/1",
            "rtsp://192.0.2.80:554/ch1/2",
        ])
    );
}

#[test]
fn geovision_absolute_media_controls_without_session_control() {
    let (aggregate, tracks) =
        sdp_controls("rtsp://192.168.5.237/media/video1", "geovision-gv-1.sdp");
    assert_eq!(aggregate, "rtsp://192.168.5.237/media/video1");
    assert_eq!(
        tracks,
        strings(&[
            "rtsp://192.168.5.237/media/video1/video",
            "rtsp://192.168.5.237/media/video1/metadata",
        ])
    );
}

#[test]
fn flir_control_selecting_the_format() {
    let (_, tracks) = sdp_controls("rtsp://172.16.2.20/", "flir-ir-1.sdp");
    assert_eq!(tracks, strings(&["rtsp://172.16.2.20/sid=96&overlay=on"]));
}

// CAMERA-QUIRKS #21: broken Content-Base values reported by go2rtc users.

#[test]
fn go2rtc_1852_base_without_scheme_and_with_port() {
    let base = resolve_base(
        "rtsp://192.168.253.220:1935/live",
        Some("192.168.253.220:1935/"),
        None,
    );
    assert_eq!(base.url, "rtsp://192.168.253.220:1935/");
    assert_eq!(base.repairs, vec![BaseRepair::MissingScheme]);
    assert_eq!(
        join_control(&base.url, Some("trackID=0")),
        "rtsp://192.168.253.220:1935/trackID=0"
    );
}

#[test]
fn go2rtc_830_doubled_scheme() {
    let base = resolve_base(
        "rtsp://turret2-cam.lan:554/stream1",
        Some("rtsp://rtsp://turret2-cam.lan:554/stream1/"),
        None,
    );
    assert_eq!(base.url, "rtsp://turret2-cam.lan:554/stream1/");
    assert_eq!(base.repairs, vec![BaseRepair::DoubledScheme]);
}

#[test]
fn go2rtc_bare_ipv4_mapped_ipv6_host_gets_brackets() {
    let base = resolve_base(
        "rtsp://[::ffff:192.168.1.123]/onvif/profile.1",
        Some("rtsp://::ffff:192.168.1.123/onvif/profile.1/"),
        None,
    );
    assert_eq!(base.url, "rtsp://[::ffff:192.168.1.123]/onvif/profile.1/");
    assert_eq!(base.repairs, vec![BaseRepair::UnbracketedIpv6]);
    let track = join_control(&base.url, Some("track1"));
    let parsed = RtspUrl::parse(&track).expect("parses");
    assert_eq!(parsed.host, "::ffff:192.168.1.123");
    assert_eq!(parsed.path, "/onvif/profile.1/track1");
}

#[test]
fn path_only_and_relative_bases() {
    let base = resolve_base("rtsps://user:pw@cam:8322/live?a=1", Some("/other/"), None);
    assert_eq!(base.url, "rtsps://cam:8322/other/");
    assert_eq!(
        base.repairs,
        vec![BaseRepair::PathOnly, BaseRepair::UserinfoRemoved]
    );

    let base = resolve_base("rtsp://cam/live", None, Some("stream0/"));
    assert_eq!(base.url, "rtsp://cam/live/stream0/");
    assert_eq!(base.repairs, vec![BaseRepair::Relative]);
}

#[test]
fn userinfo_never_survives_in_a_base() {
    let base = resolve_base("rtsp://admin:p%40ss@cam/live", None, None);
    assert_eq!(base.url, "rtsp://cam/live");
    assert_eq!(base.repairs, vec![BaseRepair::UserinfoRemoved]);
    // A camera echoing credentials in Content-Base (unencoded '@' in the password).
    let base = resolve_base("rtsp://cam/live", Some("rtsp://admin:p@ss@cam/live/"), None);
    assert_eq!(base.url, "rtsp://cam/live/");
    assert_eq!(
        BaseRepair::UserinfoRemoved.to_string(),
        "base-userinfo-removed"
    );
}

#[test]
fn hostile_inputs_do_not_panic() {
    let inputs = [
        "",
        "rtsp://",
        "://",
        "rtsp://[",
        "rtsp://@",
        "rtsp://:::::",
        "é://x",
        "rtsp://é@é/é",
        "rtsp://rtsp://rtsp://",
        "/",
        "?",
        "*",
        "rtsp://[::1",
        "\u{0}",
    ];
    for request in inputs {
        for base in inputs {
            for control in inputs {
                let _ = resolve_control(request, Some(base), Some(base), Some(control));
                let _ = resolve_control(request, None, Some(base), Some(control));
            }
        }
    }
}
