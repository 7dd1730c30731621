//! `RtspUrl`: parsing what users write, and keeping passwords out of request lines, logs and errors.

use proptest::prelude::*;
use sluice_rtsp::auth::Credentials;
use sluice_rtsp::url::{RtspUrl, UrlError, DEFAULT_PORT, DEFAULT_TLS_PORT};

fn parse(s: &str) -> RtspUrl {
    RtspUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn plain_url_with_default_port() {
    let url = parse("rtsp://192.0.2.10/Streaming/Channels/101");
    assert_eq!(url.scheme, "rtsp");
    assert_eq!(url.host, "192.0.2.10");
    assert_eq!(url.port, DEFAULT_PORT);
    assert_eq!(url.path, "/Streaming/Channels/101");
    assert_eq!(url.credentials, None);
    assert!(!url.is_tls());
    assert_eq!(
        url.to_request_uri(),
        "rtsp://192.0.2.10/Streaming/Channels/101"
    );
    assert_eq!(url.to_string(), "rtsp://192.0.2.10/Streaming/Channels/101");
}

#[test]
fn rtsps_defaults_to_port_322() {
    let url = parse("rtsps://cam.example/live");
    assert_eq!(url.port, DEFAULT_TLS_PORT);
    assert_eq!(url.default_port(), 322);
    assert!(url.is_tls());
    assert_eq!(url.to_request_uri(), "rtsps://cam.example/live");
}

#[test]
fn explicit_port_is_kept_even_when_default() {
    let url = parse("rtsp://cam:554/live");
    assert_eq!(url.port, 554);
    assert_eq!(url.to_request_uri(), "rtsp://cam:554/live");
    let url = parse("rtsp://cam:8554/live");
    assert_eq!(url.port, 8554);
    assert_eq!(url.to_request_uri(), "rtsp://cam:8554/live");
    // A port changed after parsing shows up.
    let mut url = parse("rtsp://cam/live");
    url.port = 10554;
    assert_eq!(url.to_request_uri(), "rtsp://cam:10554/live");
}

#[test]
fn scheme_case_and_whitespace_are_ignored() {
    let url = parse("  RTSP://Cam.Example:8554/a  ");
    assert_eq!(url.scheme, "rtsp");
    assert_eq!(url.host, "Cam.Example");
    assert_eq!(url.to_request_uri(), "rtsp://Cam.Example:8554/a");
}

#[test]
fn path_keeps_the_query() {
    let url = parse(
        "rtsp://192.168.5.111:554/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif",
    );
    assert_eq!(
        url.path,
        "/cam/realmonitor?channel=1&subtype=1&unicast=true&proto=Onvif"
    );
    // Bosch style: query on the root.
    assert_eq!(
        parse("rtsp://10.100.14.102:554/?inst=2&h26x=4").path,
        "/?inst=2&h26x=4"
    );
    // A query right after the authority.
    let url = parse("rtsp://cam?inst=1");
    assert_eq!((url.host.as_str(), url.path.as_str()), ("cam", "?inst=1"));
    assert_eq!(url.to_request_uri(), "rtsp://cam?inst=1");
    // No path at all.
    let url = parse("rtsp://cam:8554");
    assert_eq!(url.path, "");
    assert_eq!(url.to_request_uri(), "rtsp://cam:8554");
}

#[test]
fn ipv6_literals() {
    let url = parse("rtsp://[::1]:8554/x");
    assert_eq!(url.host, "::1");
    assert_eq!(url.port, 8554);
    assert_eq!(url.to_request_uri(), "rtsp://[::1]:8554/x");

    let url = parse("rtsp://admin:pw@[2001:db8::7]/live");
    assert_eq!(url.host, "2001:db8::7");
    assert_eq!(url.port, 554);
    assert_eq!(url.to_string(), "rtsp://admin:***@[2001:db8::7]/live");

    // RFC 6874 zone identifier.
    let url = parse("rtsp://[fe80::1%25eth0]:554/x");
    assert_eq!(url.host, "fe80::1%eth0");
    assert_eq!(url.to_request_uri(), "rtsp://[fe80::1%25eth0]:554/x");

    // Tolerance: a bare IPv6 address is the host, with the default port.
    let url = parse("rtsp://::ffff:192.168.1.123/onvif/profile.1/");
    assert_eq!(url.host, "::ffff:192.168.1.123");
    assert_eq!(url.port, 554);
    assert_eq!(
        url.to_request_uri(),
        "rtsp://[::ffff:192.168.1.123]/onvif/profile.1/"
    );

    assert!(matches!(
        RtspUrl::parse("rtsp://[::1/x"),
        Err(UrlError::InvalidHost { .. })
    ));
    assert!(matches!(
        RtspUrl::parse("rtsp://[not-v6]/x"),
        Err(UrlError::InvalidHost { .. })
    ));
    assert!(matches!(
        RtspUrl::parse("rtsp://[::1]x/x"),
        Err(UrlError::InvalidPort { .. })
    ));
}

#[test]
fn userinfo_is_percent_decoded() {
    let cases = [
        ("rtsp://admin:12345@cam/x", "admin", "12345"),
        (
            "rtsp://admin:p%40ss%3Aw%25rd%2F1@cam/x",
            "admin",
            "p@ss:w%rd/1",
        ),
        ("rtsp://us%3Aer:pw@cam/x", "us:er", "pw"),
        // Encoded space, '#', '?' and non-ASCII.
        (
            "rtsp://admin:a%20b%23c%3Fd%C3%A9@cam/x",
            "admin",
            "a b#c?dé",
        ),
        // Tolerances: raw '@', '#', '?' and ':' in the password.
        ("rtsp://admin:p@ss@cam/x", "admin", "p@ss"),
        ("rtsp://admin:Pass#1?@cam/x", "admin", "Pass#1?"),
        ("rtsp://admin:a:b@cam/x", "admin", "a:b"),
        // A '%' that starts no escape stays literal.
        ("rtsp://admin:50%off%zz%4@cam/x", "admin", "50%off%zz%4"),
        // No password.
        ("rtsp://admin@cam/x", "admin", ""),
        ("rtsp://admin:@cam/x", "admin", ""),
    ];
    for (input, username, password) in cases {
        let url = parse(input);
        assert_eq!(
            url.credentials,
            Some(Credentials::new(username, password)),
            "{input}"
        );
        assert_eq!(url.host, "cam", "{input}");
        assert_eq!(url.path, "/x", "{input}");
        assert_eq!(url.to_request_uri(), "rtsp://cam/x", "{input}");
    }
    assert_eq!(parse("rtsp://@cam/x").credentials, None);
}

#[test]
fn userinfo_that_is_not_utf8_is_refused() {
    assert_eq!(
        RtspUrl::parse("rtsp://admin:%FF%FE@cam/x"),
        Err(UrlError::InvalidUserinfo)
    );
}

#[test]
fn unencoded_slash_in_password_is_explained() {
    let err = RtspUrl::parse("rtsp://admin:pa/ss@cam/x").unwrap_err();
    assert!(matches!(err, UrlError::UnencodedSlash { .. }), "{err:?}");
    assert!(err.to_string().contains("%2F"));
    assert!(!err.to_string().contains("pa"));
}

#[test]
fn display_and_debug_hide_the_password() {
    let url = parse("rtsp://ad%40min:s3cr%2Ft@cam:8554/live?x=1");
    assert_eq!(url.to_string(), "rtsp://ad%40min:***@cam:8554/live?x=1");
    assert_eq!(url.to_request_uri(), "rtsp://cam:8554/live?x=1");
    let debug = format!("{url:?}");
    assert!(!debug.contains("s3cr"), "{debug}");
    assert!(debug.contains("***"), "{debug}");
    let debug = format!("{:?}", url.credentials);
    assert!(!debug.contains("s3cr"), "{debug}");
    // An empty password is hidden the same way.
    assert_eq!(
        parse("rtsp://admin@cam/x").to_string(),
        "rtsp://admin:***@cam/x"
    );
}

#[test]
fn errors_name_the_problem_without_quoting_the_input() {
    let cases: &[(&str, UrlError)] = &[
        ("", UrlError::Empty),
        ("   ", UrlError::Empty),
        ("cam/live", UrlError::MissingScheme),
        (
            "http://cam/live",
            UrlError::UnsupportedScheme {
                scheme: "http".to_owned(),
            },
        ),
        (
            "rtspu://cam/live",
            UrlError::UnsupportedScheme {
                scheme: "rtspu".to_owned(),
            },
        ),
        ("rtsp:///live", UrlError::InvalidHost { offset: 7 }),
        ("rtsp://secret@/live", UrlError::InvalidHost { offset: 14 }),
        (
            "rtsp://cam:99999/live",
            UrlError::InvalidPort { offset: 11 },
        ),
        ("rtsp://cam:0/live", UrlError::InvalidPort { offset: 11 }),
        ("rtsp://cam:12ab/live", UrlError::InvalidPort { offset: 11 }),
        ("rtsp://ca m/live", UrlError::InvalidHost { offset: 7 }),
        (
            "rtsp://cam/li\r\nve",
            UrlError::InvalidCharacter { offset: 13 },
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(RtspUrl::parse(input).as_ref(), Err(expected), "{input:?}");
    }
    let err = RtspUrl::parse("rtsp://admin:hunter2@cam:bad/x").unwrap_err();
    assert!(!err.to_string().contains("hunter2"));
    assert!(!format!("{err:?}").contains("hunter2"));
}

#[test]
fn empty_port_means_default() {
    let url = parse("rtsp://cam:/live");
    assert_eq!(url.port, 554);
    assert_eq!(url.to_request_uri(), "rtsp://cam/live");
}

#[test]
fn spaces_and_non_ascii_in_the_path_are_encoded() {
    let url = parse("rtsp://cam/my stream/caméra");
    assert_eq!(url.path, "/my%20stream/cam%C3%A9ra");
    assert_eq!(url.to_request_uri(), "rtsp://cam/my%20stream/cam%C3%A9ra");
}

#[test]
fn from_str_matches_parse() {
    let url: RtspUrl = "rtsp://a:b@cam/x".parse().expect("parses");
    assert_eq!(url, parse("rtsp://a:b@cam/x"));
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any user name and password survive percent-encoding, and none of the password reaches the
    /// request URI or the display form.
    #[test]
    fn credentials_round_trip_and_stay_hidden(
        username in "\\PC{0,12}",
        password in "\\PC{1,16}",
        port in 1u16..,
        path in "(/[a-zA-Z0-9=_.?&-]{0,8}){0,3}",
    ) {
        let input = format!("rtsp://{}:{}@cam.example:{port}{path}", encode(&username), encode(&password));
        let url = RtspUrl::parse(&input).unwrap();
        prop_assert_eq!(url.credentials.clone(), Some(Credentials::new(username.clone(), password.clone())));
        prop_assert_eq!(url.port, port);
        prop_assert_eq!(&url.path, &path);
        let request_uri = url.to_request_uri();
        prop_assert_eq!(request_uri, format!("rtsp://cam.example:{port}{path}"));
        // The display form is the user name, "***" and the request URI's authority and path.
        let shown = url.to_string();
        let shown_suffix = format!(":***@cam.example:{port}{path}");
        prop_assert!(shown.starts_with("rtsp://"));
        prop_assert!(shown.ends_with(&shown_suffix), "{}", shown);
        // The display form parses back to the same URL with "***" as the password.
        let again = RtspUrl::parse(&shown).unwrap();
        prop_assert_eq!(again.credentials, Some(Credentials::new(username, "***")));
    }

    /// Arbitrary input never panics.
    #[test]
    fn arbitrary_input_does_not_panic(s in "\\PC{0,64}", t in "(rtsps?://)?[\\[\\]@:/%?#a-z0-9.]{0,40}") {
        let _ = RtspUrl::parse(&s);
        if let Ok(url) = RtspUrl::parse(&t) {
            let _ = url.to_request_uri();
            let _ = url.to_string();
        }
    }
}
