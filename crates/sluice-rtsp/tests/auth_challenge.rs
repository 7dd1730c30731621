//! `WWW-Authenticate` parsing against the challenges of real cameras in `shared/corpus`, and the
//! tolerances of CAMERA-QUIRKS #25 and #26.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use proptest::prelude::*;
use sluice_rtsp::auth::{choose, AuthError, Authorization, Challenge, DigestAlgorithm};
use sluice_rtsp::codec::{Decoder, Limits, Message};

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");

/// The values of `headers/www-authenticate.txt`, each with its `#@` description.
fn corpus_values() -> Vec<(String, String)> {
    let path = PathBuf::from(CORPUS).join("headers/www-authenticate.txt");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut about = None;
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#@") {
            about = Some(rest.trim().to_owned());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let about = about
                .take()
                .unwrap_or_else(|| panic!("value without #@ line: {line}"));
            out.push((about, line.to_owned()));
        }
    }
    out
}

fn digest(
    realm: &str,
    nonce: &str,
    opaque: Option<&str>,
    algorithm: DigestAlgorithm,
    algorithm_named: bool,
    qop: &[&str],
    stale: bool,
) -> Challenge {
    Challenge::Digest {
        realm: realm.to_owned(),
        nonce: nonce.to_owned(),
        opaque: opaque.map(str::to_owned),
        algorithm,
        qop: qop.iter().map(|q| (*q).to_owned()).collect(),
        stale,
        algorithm_named,
        userhash: false,
    }
}

#[test]
fn every_corpus_challenge_parses_to_what_the_camera_meant() {
    use DigestAlgorithm::{Md5, Sha256};
    let hik_nonce = "8b84a3b789283a8bea8da7fa7d41f08b";
    let expected = [
        Challenge::basic("4419b63f5e51"),
        digest("4419b63f5e51", hik_nonce, None, Md5, false, &[], false),
        digest("4419b63f5e51", hik_nonce, None, Md5, false, &[], false),
        digest(
            "4419b63f5e51",
            "133767111917411116111311118211673010032",
            None,
            Md5,
            false,
            &[],
            false,
        ),
        digest(
            "Please log in with a valid username",
            "752a62306daf32b401a41004555c7663",
            Some(""),
            Md5,
            false,
            &[],
            false,
        ),
        digest("4419b63f5e51", hik_nonce, None, Md5, true, &[], false),
        digest(
            "IP Camera(AB705)",
            "fcc86deace979a488b2bfb89f4d0812c",
            None,
            Sha256,
            true,
            &[],
            false,
        ),
    ];
    let values = corpus_values();
    assert_eq!(values.len(), expected.len(), "the corpus file changed");
    for ((about, value), expected) in values.iter().zip(expected) {
        let parsed = Challenge::parse(value).unwrap_or_else(|e| panic!("{value} ({about}): {e}"));
        assert_eq!(parsed, vec![expected], "{value} ({about})");
    }
}

#[test]
fn every_corpus_challenge_round_trips_through_display() {
    for (about, value) in corpus_values() {
        let parsed = Challenge::parse(&value).expect("parses");
        for challenge in &parsed {
            let written = challenge.to_string();
            assert_eq!(
                Challenge::parse(&written),
                Ok(vec![challenge.clone()]),
                "{value} ({about}) -> {written}"
            );
        }
    }
}

#[test]
fn longse_challenge_without_qop_or_algorithm() {
    let path = Path::new(CORPUS).join("transcripts/longse-401-unauthorized.txt");
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = BytesMut::from(&bytes[..]);
    let Ok(Some(Message::Response(response))) = Decoder::new(Limits::default()).decode(&mut buf)
    else {
        panic!("not one response");
    };
    assert_eq!(response.status.0, 401);
    let challenges =
        Challenge::parse_all(response.headers.get_all("WWW-Authenticate")).expect("parses");
    assert_eq!(
        challenges,
        vec![digest(
            "Surveillance Server",
            "98481030",
            None,
            DigestAlgorithm::Md5,
            false,
            &[],
            false
        )]
    );
}

#[test]
fn several_challenges_in_one_value() {
    let value = r#"Digest realm="IP Camera(C1214)", nonce="abc", qop="auth", Basic realm="IP Camera(C1214)""#;
    let parsed = Challenge::parse(value).expect("parses");
    assert_eq!(
        parsed,
        vec![
            digest(
                "IP Camera(C1214)",
                "abc",
                None,
                DigestAlgorithm::Md5,
                false,
                &["auth"],
                false
            ),
            Challenge::basic("IP Camera(C1214)"),
        ]
    );
    // Basic first, then two Digest challenges (RFC 7616 §3.7 offers SHA-256 and MD5 together).
    let value = "Basic realm=\"r\",Digest realm=\"r\",nonce=\"n\",algorithm=SHA-256,qop=\"auth,auth-int\", Digest realm=\"r\", nonce=\"n\", algorithm=MD5";
    let parsed = Challenge::parse(value).expect("parses");
    assert_eq!(parsed.len(), 3);
    assert_eq!(
        choose(&parsed),
        Some(&digest(
            "r",
            "n",
            None,
            DigestAlgorithm::Sha256,
            true,
            &["auth", "auth-int"],
            false
        ))
    );
}

#[test]
fn several_header_values() {
    // Hikvision (ExoPlayer#9800): a Digest and a Basic WWW-Authenticate header.
    let parsed = Challenge::parse_all([
        r#"Digest realm="IP Camera(C1214)", nonce="6f2ab1", stale="FALSE""#,
        r#"Basic realm="IP Camera(C1214)""#,
    ])
    .expect("parses");
    assert_eq!(parsed.len(), 2);
    assert!(matches!(choose(&parsed), Some(Challenge::Digest { .. })));
}

#[test]
fn choose_prefers_sha256_then_md5_then_basic() {
    let basic = Challenge::basic("r");
    let md5 = Challenge::digest("r", "n", DigestAlgorithm::Md5);
    let md5_sess = Challenge::digest("r", "n", DigestAlgorithm::Md5Sess);
    let sha = Challenge::digest("r", "n", DigestAlgorithm::Sha256);
    assert_eq!(choose(&[]), None);
    assert_eq!(choose(std::slice::from_ref(&basic)), Some(&basic));
    assert_eq!(choose(&[basic.clone(), md5.clone()]), Some(&md5));
    assert_eq!(choose(&[md5.clone(), basic.clone()]), Some(&md5));
    assert_eq!(
        choose(&[basic.clone(), md5.clone(), sha.clone()]),
        Some(&sha)
    );
    assert_eq!(choose(&[sha.clone(), md5.clone()]), Some(&sha));
    // Among equals, the first listed.
    assert_eq!(choose(&[md5_sess.clone(), md5.clone()]), Some(&md5_sess));
}

#[test]
fn stale_in_every_spelling() {
    for (value, stale) in [
        ("stale=TRUE", true),
        ("stale=true", true),
        ("stale=\"true\"", true),
        ("stale=\"TRUE\"", true),
        ("stale = True", true),
        ("stale=FALSE", false),
        ("stale=\"FALSE\"", false),
        ("stale=", false),
        ("stale=yes", false),
    ] {
        let parsed =
            Challenge::parse(&format!("Digest realm=\"r\", nonce=\"n\", {value}")).expect("parses");
        assert_eq!(
            parsed.first().map(Challenge::is_stale),
            Some(stale),
            "{value}"
        );
    }
}

#[test]
fn odd_spacing_and_bare_values() {
    let values = [
        "Digest realm=\"r\",nonce=\"n\",qop=auth",
        "Digest   realm = \"r\" ,   nonce=n ,qop=\"auth\"",
        "Digest\trealm=\"r\",\tnonce=\"n\", qop=\"auth\" ",
        "digest REALM=\"r\", Nonce=\"n\", QOP=\"auth\"",
        "Digest realm=\"r\", , nonce=\"n\",, qop=\"auth\",",
        // Unknown parameters (and a token68-looking one) are ignored.
        "Digest realm=\"r\", domain=\"/ rtsp://x/\", charset=UTF-8, nonce=\"n\", x-vendor=1, qop=\"auth\"",
    ];
    for value in values {
        assert_eq!(
            Challenge::parse(value),
            Ok(vec![digest(
                "r",
                "n",
                None,
                DigestAlgorithm::Md5,
                false,
                &["auth"],
                false
            )]),
            "{value}"
        );
    }
}

#[test]
fn realm_with_commas_quotes_and_escapes() {
    let parsed = Challenge::parse(
        r#"Digest realm="Camera, Inc. \"Lobby\" \\ 2", nonce="a,b", opaque="", algorithm=md5-SESS"#,
    )
    .expect("parses");
    assert_eq!(
        parsed,
        vec![digest(
            "Camera, Inc. \"Lobby\" \\ 2",
            "a,b",
            Some(""),
            DigestAlgorithm::Md5Sess,
            true,
            &[],
            false
        )]
    );
    // Display escapes them again.
    let written = parsed.first().expect("one").to_string();
    assert!(
        written.contains(r#"realm="Camera, Inc. \"Lobby\" \\ 2""#),
        "{written}"
    );
    assert!(written.contains(r#"opaque="""#), "{written}");
    assert!(written.contains("algorithm=MD5-sess"), "{written}");
}

#[test]
fn unusable_challenges_are_skipped_when_another_is_usable() {
    let parsed = Challenge::parse(
        "Negotiate abcDEF==, Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256, Bearer realm=\"x\", Basic realm=\"r\"",
    )
    .expect("parses");
    assert_eq!(parsed, vec![Challenge::basic("r")]);
}

#[test]
fn errors_when_nothing_is_usable() {
    assert_eq!(Challenge::parse(""), Err(AuthError::Empty));
    assert_eq!(Challenge::parse(" , ,"), Err(AuthError::Empty));
    assert_eq!(Challenge::parse("=\"x\""), Err(AuthError::Empty));
    assert_eq!(
        Challenge::parse("Negotiate"),
        Err(AuthError::UnsupportedScheme {
            scheme: "Negotiate".to_owned(),
            offset: 0
        })
    );
    assert_eq!(
        Challenge::parse("  Digest realm=\"r\""),
        Err(AuthError::Missing {
            param: "nonce",
            offset: 2
        })
    );
    assert_eq!(
        Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"),
        Err(AuthError::UnsupportedAlgorithm {
            algorithm: "SHA-512-256".to_owned(),
            offset: 0
        })
    );
}

#[test]
fn lenient_minimal_challenges() {
    // A bare "Basic" and a Digest without realm.
    assert_eq!(Challenge::parse("Basic"), Ok(vec![Challenge::basic("")]));
    assert_eq!(
        Challenge::parse("Digest nonce=\"n\""),
        Ok(vec![digest(
            "",
            "n",
            None,
            DigestAlgorithm::Md5,
            false,
            &[],
            false
        )])
    );
    // An unterminated quote runs to the end of the value.
    assert_eq!(
        Challenge::parse("Digest nonce=\"n\", realm=\"open"),
        Ok(vec![digest(
            "open",
            "n",
            None,
            DigestAlgorithm::Md5,
            false,
            &[],
            false
        )])
    );
}

#[test]
fn userhash_is_recognised() {
    let parsed =
        Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-256, userhash=true")
            .expect("parses");
    assert!(matches!(
        parsed.first(),
        Some(Challenge::Digest { userhash: true, .. })
    ));
    assert!(parsed
        .first()
        .expect("one")
        .to_string()
        .ends_with(", userhash=true"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Hostile header values never panic.
    #[test]
    fn arbitrary_values_do_not_panic(s in "\\PC{0,96}", t in "[A-Za-z\"=, \\\\]{0,64}") {
        let _ = Challenge::parse(&s);
        let _ = Challenge::parse(&t);
        let _ = Authorization::parse(&s);
        let _ = Authorization::parse(&t);
    }

    /// Generated Digest challenges parse back to themselves.
    #[test]
    fn generated_challenges_round_trip(
        realm in "[ -~]{0,24}",
        nonce in "[ -~]{1,40}",
        opaque in proptest::option::of("[ -~]{0,16}"),
        algorithm in prop_oneof![
            Just(DigestAlgorithm::Md5),
            Just(DigestAlgorithm::Md5Sess),
            Just(DigestAlgorithm::Sha256),
            Just(DigestAlgorithm::Sha256Sess),
        ],
        qop in proptest::collection::vec(prop_oneof![Just("auth"), Just("auth-int")], 0..3),
        stale: bool,
        userhash: bool,
    ) {
        let challenge = Challenge::Digest {
            realm,
            nonce,
            opaque,
            algorithm,
            qop: qop.into_iter().map(str::to_owned).collect(),
            stale,
            algorithm_named: true,
            userhash,
        };
        prop_assert_eq!(Challenge::parse(&challenge.to_string()), Ok(vec![challenge]));
    }
}
