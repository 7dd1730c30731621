//! Client-side `Authorization` values against published vectors (RFC 7616 §3.9.1, RFC 2617 §3.5,
//! RFC 7617 §2 and §2.1) and the behaviour RTSP clients need (nc counting, stale retries).

use sluice_rtsp::auth::{
    Authenticator, Authorization, Challenge, Credentials, DigestAlgorithm, DigestResponse,
};

/// RFC 7616 §3.9.1: the challenge (one of the two; `algorithm` chooses which).
fn rfc7616_challenge(algorithm: &str) -> Challenge {
    let value = format!(
        r#"Digest
       realm="http-auth@example.org",
       qop="auth, auth-int",
       algorithm={algorithm},
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#
    )
    .replace('\n', "");
    let mut challenges = Challenge::parse(&value).expect("RFC 7616 challenge parses");
    assert_eq!(challenges.len(), 1);
    challenges.remove(0)
}

/// An `Authorization` header of an RFC, unfolded: the RFC breaks lines after each comma.
fn unfold(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

#[test]
fn rfc7616_md5_example_byte_for_byte() {
    let mut auth = Authenticator::new(
        Credentials::new("Mufasa", "Circle of Life"),
        rfc7616_challenge("MD5"),
    );
    let expected = unfold(
        r#"Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=MD5,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="8ca523f5e9506fed4657c9700eebdbec",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
    );
    assert_eq!(
        auth.authorization("GET", "/dir/index.html", RFC7616_CNONCE),
        expected
    );
}

#[test]
fn rfc7616_sha256_example_byte_for_byte() {
    let mut auth = Authenticator::new(
        Credentials::new("Mufasa", "Circle of Life"),
        rfc7616_challenge("SHA-256"),
    );
    let expected = unfold(
        r#"Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=SHA-256,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
    );
    assert_eq!(
        auth.authorization("GET", "/dir/index.html", RFC7616_CNONCE),
        expected
    );
}

#[test]
fn rfc2617_example() {
    let challenge = Challenge::parse(
        r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    )
    .expect("parses")
    .remove(0);
    let mut auth = Authenticator::new(Credentials::new("Mufasa", "Circle Of Life"), challenge);
    let value = auth.authorization("GET", "/dir/index.html", "0a4f113b");
    // RFC 2617 lists the same parameters in another order; the algorithm is not named.
    assert_eq!(
        value,
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", uri=\"/dir/index.html\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", nc=00000001, cnonce=\"0a4f113b\", qop=auth, \
         response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
    );
    // The RFC's own header (its parameter order) parses to the same values.
    let rfc = unfold(
        r#"Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    );
    assert_eq!(Authorization::parse(&rfc), Authorization::parse(&value));
}

#[test]
fn rfc2069_form_when_the_challenge_has_no_qop() {
    // The inputs of the RFC 2069 §2.4 example; the expected response was computed with an
    // independent MD5 implementation (Python's hashlib).
    let challenge = Challenge::parse(
        r#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    )
    .expect("parses")
    .remove(0);
    let mut auth = Authenticator::new(Credentials::new("Mufasa", "CircleOfLife"), challenge);
    assert_eq!(
        auth.authorization("GET", "/dir/index.html", "ignored"),
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", uri=\"/dir/index.html\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
         response=\"1949323746fe6a43ef61f9606e7febea\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
    );
}

#[test]
fn longse_challenge_gets_the_legacy_form() {
    // transcripts/longse-401-unauthorized.txt: no qop, no algorithm, decimal nonce. Response
    // computed with Python's hashlib.
    let challenge = Challenge::parse(r#"Digest realm="Surveillance Server", nonce="98481030""#)
        .expect("parses")
        .remove(0);
    let mut auth = Authenticator::new(Credentials::new("admin", "12345"), challenge);
    assert_eq!(
        auth.authorization("DESCRIBE", "rtsp://192.168.1.2:554/ch01.264", "c"),
        "Digest username=\"admin\", realm=\"Surveillance Server\", \
         uri=\"rtsp://192.168.1.2:554/ch01.264\", nonce=\"98481030\", \
         response=\"ead9aa9ba2010a2f963bff5fec0640de\""
    );
}

#[test]
fn sha256_without_qop_names_the_algorithm() {
    // The "IP Camera(AB705)" challenge from headers/www-authenticate.txt. Response computed with
    // Python's hashlib.
    let challenge = Challenge::parse(
        r#"Digest realm="IP Camera(AB705)", nonce="fcc86deace979a488b2bfb89f4d0812c", algorithm="SHA-256", stale="FALSE""#,
    )
    .expect("parses")
    .remove(0);
    let mut auth = Authenticator::new(Credentials::new("admin", "secret"), challenge);
    assert_eq!(
        auth.authorization("DESCRIBE", "rtsp://192.0.2.10/Streaming/Channels/101", "c"),
        "Digest username=\"admin\", realm=\"IP Camera(AB705)\", \
         uri=\"rtsp://192.0.2.10/Streaming/Channels/101\", algorithm=SHA-256, \
         nonce=\"fcc86deace979a488b2bfb89f4d0812c\", \
         response=\"2b2f3f483f9dd08c191ffdbc9f8d07a017d1c5fedfa99c4d458d5ac63188f66e\""
    );
}

#[test]
fn sess_variants() {
    // Responses computed with Python's hashlib for nc=00000002.
    for (algorithm, response) in [
        (DigestAlgorithm::Md5Sess, "9fb45bf874d9a6b9eb179d625e08df2d"),
        (
            DigestAlgorithm::Sha256Sess,
            "a3c70e8c55af3fea2fd70616a3968bd7f38fbf47a990f8eb7ae2bd22ba89835d",
        ),
    ] {
        let challenge = Challenge::digest(
            "IP Camera(AB705)",
            "fcc86deace979a488b2bfb89f4d0812c",
            algorithm,
        );
        let mut auth = Authenticator::new(Credentials::new("admin", "secret"), challenge);
        let uri = "rtsp://192.0.2.10/Streaming/Channels/101";
        let _first = auth.authorization("OPTIONS", uri, "0a4f113b");
        let second = auth.authorization("DESCRIBE", uri, "0a4f113b");
        assert_eq!(
            second,
            format!(
                "Digest username=\"admin\", realm=\"IP Camera(AB705)\", uri=\"{uri}\", \
                 algorithm={algorithm}, nonce=\"fcc86deace979a488b2bfb89f4d0812c\", nc=00000002, \
                 cnonce=\"0a4f113b\", qop=auth, response=\"{response}\""
            )
        );
    }
}

fn digest_params(value: &str) -> DigestResponse {
    match Authorization::parse(value) {
        Ok(Authorization::Digest(digest)) => digest,
        other => panic!("{value}: {other:?}"),
    }
}

#[test]
fn nc_counts_in_eight_hex_digits_and_restarts_with_a_new_nonce() {
    let mut auth = Authenticator::new(
        Credentials::new("u", "p"),
        Challenge::digest("r", "n1", DigestAlgorithm::Md5),
    );
    for expected in 1..=17u32 {
        let value = auth.authorization("OPTIONS", "rtsp://cam/x", "c");
        assert!(value.contains(&format!("nc={expected:08x},")), "{value}");
        assert_eq!(digest_params(&value).nc, Some(expected));
    }
    assert_eq!(auth.nonce_count(), 17);
    assert!(auth
        .authorization("OPTIONS", "rtsp://cam/x", "c")
        .contains("nc=00000012,"));

    // The same nonce again (a repeated challenge) keeps counting.
    auth.update(Challenge::digest("r", "n1", DigestAlgorithm::Md5));
    assert!(auth
        .authorization("PLAY", "rtsp://cam/x", "c")
        .contains("nc=00000013,"));

    // A new nonce restarts at 1.
    auth.update(Challenge::digest("r", "n2", DigestAlgorithm::Md5));
    let value = auth.authorization("PLAY", "rtsp://cam/x", "c");
    assert!(value.contains("nonce=\"n2\", nc=00000001,"), "{value}");
}

#[test]
fn opaque_is_echoed_even_when_empty() {
    // Bosch: opaque="".
    let challenge = Challenge::parse(
        r#"Digest realm="Please log in with a valid username",nonce="752a62306daf32b401a41004555c7663",opaque="",stale=FALSE"#,
    )
    .expect("parses")
    .remove(0);
    let mut auth = Authenticator::new(Credentials::new("service", "pw"), challenge);
    let value = auth.authorization("DESCRIBE", "rtsp://cam/", "c");
    assert!(value.ends_with(", opaque=\"\""), "{value}");
    assert!(!value.contains("algorithm"), "{value}");
}

#[test]
fn algorithm_is_echoed_only_when_named() {
    let named = Challenge::parse(r#"Digest realm="r", nonce="n", algorithm="MD5""#)
        .expect("parses")
        .remove(0);
    let unnamed = Challenge::parse(r#"Digest realm="r", nonce="n""#)
        .expect("parses")
        .remove(0);
    let creds = Credentials::new("u", "p");
    let with = Authenticator::new(creds.clone(), named).authorization("OPTIONS", "*", "c");
    let without = Authenticator::new(creds, unnamed).authorization("OPTIONS", "*", "c");
    assert!(with.contains(", algorithm=MD5, "), "{with}");
    assert!(!without.contains("algorithm"), "{without}");
    // Same response either way.
    assert_eq!(
        digest_params(&with).response,
        digest_params(&without).response
    );
}

#[test]
fn qop_auth_int_only_falls_back_to_the_rfc2069_form() {
    let challenge = Challenge::parse(r#"Digest realm="r", nonce="n", qop="auth-int""#)
        .expect("parses")
        .remove(0);
    let value =
        Authenticator::new(Credentials::new("u", "p"), challenge).authorization("GET", "/", "c");
    assert!(!value.contains("qop="), "{value}");
    assert!(!value.contains("nc="), "{value}");
}

#[test]
fn special_characters_are_escaped_in_quoted_strings() {
    let mut auth = Authenticator::new(
        Credentials::new("we\"ird\\user", "p"),
        Challenge::digest("r", "n", DigestAlgorithm::Md5),
    );
    let value = auth.authorization("OPTIONS", "rtsp://cam/x", "c");
    assert!(
        value.starts_with(r#"Digest username="we\"ird\\user", "#),
        "{value}"
    );
    assert_eq!(digest_params(&value).username, "we\"ird\\user");
}

#[test]
fn userhash_sends_the_hashed_user_name() {
    let challenge = Challenge::parse(
        r#"Digest realm="http-auth@example.org", nonce="n", algorithm=SHA-256, qop="auth", userhash=true"#,
    )
    .expect("parses")
    .remove(0);
    let value = Authenticator::new(Credentials::new("Mufasa", "Circle of Life"), challenge)
        .authorization("GET", "/", "c");
    // SHA-256("Mufasa:http-auth@example.org"), computed with Python's hashlib.
    assert!(
        value.starts_with(
            "Digest username=\"a947aad205e80e429958a387394944c6b496301e79f89d35a4cc23b6ee12b5b6\""
        ),
        "{value}"
    );
    assert!(value.ends_with(", userhash=true"), "{value}");
}

#[test]
fn basic_rfc7617_examples() {
    let mut auth = Authenticator::new(
        Credentials::new("Aladdin", "open sesame"),
        Challenge::basic("WallyWorld"),
    );
    // RFC 7617 §2.
    assert_eq!(
        auth.authorization("DESCRIBE", "rtsp://cam/x", "unused"),
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    );
    assert_eq!(auth.nonce_count(), 0);
    // RFC 7617 §2.1: UTF-8.
    let mut auth = Authenticator::new(
        Credentials::new("test", "123\u{a3}"),
        Challenge::basic("foo"),
    );
    assert_eq!(
        auth.authorization("DESCRIBE", "rtsp://cam/x", "unused"),
        "Basic dGVzdDoxMjPCow=="
    );
}

#[test]
fn stale_retry_decisions() {
    let auth = Authenticator::new(
        Credentials::new("u", "p"),
        Challenge::digest("r", "n1", DigestAlgorithm::Md5),
    );
    let parse = |value: &str| Challenge::parse(value).expect("parses").remove(0);
    // stale=true with a new nonce: retry.
    assert!(auth.is_stale_retry(&parse(r#"Digest realm="r", nonce="n2", stale=TRUE"#)));
    // stale=true even with the same nonce.
    assert!(auth.is_stale_retry(&parse(r#"Digest realm="r", nonce="n1", stale="true""#)));
    // Axis M5525 re-challenges a keepalive with a fresh nonce and no stale flag: retry.
    assert!(auth.is_stale_retry(&parse(r#"Digest realm="r", nonce="n3""#)));
    // The same nonce refused again: the credentials are wrong.
    assert!(!auth.is_stale_retry(&parse(r#"Digest realm="r", nonce="n1", stale=FALSE"#)));
    // Basic never means stale.
    assert!(!auth.is_stale_retry(&Challenge::basic("r")));
    let basic = Authenticator::new(Credentials::new("u", "p"), Challenge::basic("r"));
    assert!(!basic.is_stale_retry(&Challenge::basic("r")));
}

#[test]
fn debug_output_never_shows_the_password() {
    let credentials = Credentials::new("admin", "hunter2");
    assert_eq!(
        format!("{credentials:?}"),
        "Credentials { username: \"admin\", password: \"***\" }"
    );
    let auth = Authenticator::new(credentials.clone(), Challenge::basic("r"));
    assert!(!format!("{auth:?}").contains("hunter2"));
    let parsed = Authorization::parse("Basic YWRtaW46aHVudGVyMg==").expect("parses");
    assert_eq!(parsed, Authorization::Basic(credentials));
    assert!(!format!("{parsed:?}").contains("hunter2"));
}
