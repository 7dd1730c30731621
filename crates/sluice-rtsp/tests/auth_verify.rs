//! Server-side checks of `Authorization` values, against our own client output and the RFC
//! examples.

use proptest::prelude::*;
use sluice_rtsp::auth::{
    verify, AuthError, Authenticator, Authorization, Challenge, Credentials, DigestAlgorithm,
};

const ALGORITHMS: [DigestAlgorithm; 4] = [
    DigestAlgorithm::Md5,
    DigestAlgorithm::Md5Sess,
    DigestAlgorithm::Sha256,
    DigestAlgorithm::Sha256Sess,
];

fn client_value(challenge: &Challenge, credentials: &Credentials, method: &str) -> String {
    Authenticator::new(credentials.clone(), challenge.clone()).authorization(
        method,
        "rtsp://127.0.0.1:8554/cam1",
        "0a4f113b",
    )
}

#[test]
fn basic_accepts_our_client_and_refuses_others() {
    let good = Credentials::new("admin", "pa:ss word");
    let value = client_value(&Challenge::basic("sluice"), &good, "DESCRIBE");
    assert!(verify(&value, "DESCRIBE", &good, "sluice", ""));
    assert!(!verify(
        &value,
        "DESCRIBE",
        &Credentials::new("admin", "pa:ss"),
        "sluice",
        ""
    ));
    assert!(!verify(
        &value,
        "DESCRIBE",
        &Credentials::new("root", "pa:ss word"),
        "sluice",
        ""
    ));
    // Case-insensitive scheme, surrounding whitespace.
    assert!(verify(
        " basic YWRtaW46cGE6c3Mgd29yZA== ",
        "DESCRIBE",
        &good,
        "sluice",
        ""
    ));
}

#[test]
fn digest_accepts_our_client_for_every_algorithm_and_qop() {
    let good = Credentials::new("admin", "s3cret");
    for algorithm in ALGORITHMS {
        for qop in [true, false] {
            let mut challenge = Challenge::digest("sluice", "abc123", algorithm);
            if let Challenge::Digest { qop: offered, .. } = &mut challenge {
                if !qop {
                    offered.clear();
                }
            }
            let value = client_value(&challenge, &good, "SETUP");
            let what = format!("{algorithm} qop={qop}: {value}");
            assert!(verify(&value, "SETUP", &good, "sluice", "abc123"), "{what}");
            // Each input matters.
            assert!(!verify(&value, "PLAY", &good, "sluice", "abc123"), "{what}");
            assert!(!verify(&value, "SETUP", &good, "other", "abc123"), "{what}");
            assert!(
                !verify(&value, "SETUP", &good, "sluice", "abc124"),
                "{what}"
            );
            assert!(
                !verify(
                    &value,
                    "SETUP",
                    &Credentials::new("admin", "s3cre"),
                    "sluice",
                    "abc123"
                ),
                "{what}"
            );
            assert!(
                !verify(
                    &value,
                    "SETUP",
                    &Credentials::new("admin2", "s3cret"),
                    "sluice",
                    "abc123"
                ),
                "{what}"
            );
        }
    }
}

#[test]
fn digest_with_userhash_verifies() {
    let good = Credentials::new("Mufasa", "Circle of Life");
    let challenge = Challenge::parse(
        r#"Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth", userhash=true"#,
    )
    .expect("parses")
    .remove(0);
    let value = client_value(&challenge, &good, "DESCRIBE");
    assert!(verify(&value, "DESCRIBE", &good, "r", "n"));
    assert!(!verify(
        &value,
        "DESCRIBE",
        &Credentials::new("Simba", "Circle of Life"),
        "r",
        "n"
    ));
}

#[test]
fn rfc_examples_verify() {
    // RFC 7616 §3.9.1 (SHA-256).
    let sha =
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
        algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
        cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
        response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", \
        opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let mufasa = Credentials::new("Mufasa", "Circle of Life");
    let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    assert!(verify(sha, "GET", &mufasa, "http-auth@example.org", nonce));
    // Upper-case hex is accepted too.
    let upper = sha.replace(
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        "753927FA0E85D155564E2E272A28D1802CA10DAF4496794697CF8DB5856CB6C1",
    );
    assert!(verify(
        &upper,
        "GET",
        &mufasa,
        "http-auth@example.org",
        nonce
    ));
    // A changed nc no longer matches the response.
    let replayed = sha.replace("nc=00000001", "nc=00000002");
    assert!(!verify(
        &replayed,
        "GET",
        &mufasa,
        "http-auth@example.org",
        nonce
    ));

    // RFC 2617 §3.5, folded over several lines as the RFC prints it.
    let rfc2617 = "Digest username=\"Mufasa\",\r\n                 realm=\"testrealm@host.com\",\
        \r\n nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
        nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
        opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    assert!(verify(
        rfc2617,
        "GET",
        &Credentials::new("Mufasa", "Circle Of Life"),
        "testrealm@host.com",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    ));
}

#[test]
fn parsed_authorization_exposes_what_the_server_checks() {
    let value = client_value(
        &Challenge::digest("sluice", "n", DigestAlgorithm::Sha256),
        &Credentials::new("viewer", "pw"),
        "DESCRIBE",
    );
    let Ok(Authorization::Digest(digest)) = Authorization::parse(&value) else {
        panic!("{value}");
    };
    assert_eq!(digest.username, "viewer");
    assert_eq!(digest.uri, "rtsp://127.0.0.1:8554/cam1");
    assert_eq!(digest.algorithm, DigestAlgorithm::Sha256);
    assert_eq!(digest.qop.as_deref(), Some("auth"));
    assert_eq!(digest.nc, Some(1));
    assert_eq!(digest.cnonce.as_deref(), Some("0a4f113b"));
    assert_eq!(
        Authorization::parse(&value).map(|a| a.username().to_owned()),
        Ok("viewer".to_owned())
    );
}

#[test]
fn malformed_authorization_is_refused() {
    let creds = Credentials::new("u", "p");
    for value in [
        "",
        "Basic",
        "Basic !!!notbase64",
        "Basic dXNlcg==", // "user" without a colon
        "Bearer abc",
        "Digest username=\"u\"",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\", nc=zz",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\", algorithm=SHA-512",
        // qop=auth without nc/cnonce, and qop=auth-int.
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\", qop=auth",
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\", qop=auth-int, nc=00000001, cnonce=\"c\"",
        // -sess without cnonce.
        "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", response=\"x\", algorithm=MD5-sess",
    ] {
        assert!(!verify(value, "OPTIONS", &creds, "r", "n"), "{value}");
    }
    assert_eq!(Authorization::parse(""), Err(AuthError::Empty));
    assert_eq!(
        Authorization::parse("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\""),
        Err(AuthError::Missing {
            param: "response",
            offset: 0
        })
    );
    assert_eq!(
        Authorization::parse("Basic dXNlcg=="),
        Err(AuthError::Invalid {
            param: "credentials",
            offset: 0
        })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the credentials, realm, nonce and request, the server accepts exactly what our
    /// client computed from the right password.
    #[test]
    fn client_and_server_agree(
        username in "[^:\\p{Cc}]{0,12}",
        password in "\\PC{0,16}",
        wrong in "\\PC{0,16}",
        realm in "[ -~]{0,16}",
        nonce in "[ -~&&[^\"\\\\]]{1,24}",
        uri in "rtsp://[a-z0-9.]{1,12}(/[ -~&&[^\"]]{0,12})?",
        cnonce in "[a-zA-Z0-9+/]{1,16}",
        algorithm_index in 0usize..4,
        basic: bool,
        requests in 1usize..4,
    ) {
        let credentials = Credentials::new(username, password.clone());
        let challenge = if basic {
            Challenge::basic(realm.clone())
        } else {
            Challenge::digest(realm.clone(), nonce.clone(), ALGORITHMS[algorithm_index])
        };
        let mut auth = Authenticator::new(credentials.clone(), challenge);
        for _ in 0..requests {
            let value = auth.authorization("DESCRIBE", &uri, &cnonce);
            prop_assert!(verify(&value, "DESCRIBE", &credentials, &realm, &nonce), "{}", value);
            let other = Credentials::new(credentials.username.clone(), wrong.clone());
            prop_assert_eq!(
                verify(&value, "DESCRIBE", &other, &realm, &nonce),
                wrong == password
            );
        }
    }
}
