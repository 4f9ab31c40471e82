use proptest::prelude::*;

use super::*;

const NOW: i64 = 1_800_000_000;

fn pair() -> (GatewayKey, GatewayPublicKey) {
    let (private, public) = keygen();
    (GatewayKey::from_pem(&private).unwrap(), GatewayPublicKey::from_pem(&public).unwrap())
}

fn assertion(now: i64) -> Assertion {
    Assertion::new("ws-a", "jupyterlab", "sub-1", "alice", now)
}

/// A token signed by `key` with these claims, for claims the gateway's code never writes.
fn forged(key: &GatewayKey, claims: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    let signed = format!("{header}.{payload}");
    let signature = key.pair.sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

#[test]
fn a_signed_assertion_verifies_with_the_public_key() {
    let (key, public) = pair();
    let token = key.sign(&assertion(NOW));
    assert_eq!(public.verify(&token, "ws-a", "jupyterlab", NOW + 10).unwrap(), assertion(NOW));
    assert_eq!(assertion(NOW).expires_at, NOW + ASSERTION_SECONDS);
}

#[test]
fn the_token_is_a_jwt_with_the_designed_claims() {
    let (key, _) = pair();
    let token = key.sign(&assertion(NOW));
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        claims,
        serde_json::json!({"iss": "atelier-gateway", "aud": "ws-a", "app": "jupyterlab", "sub": "sub-1",
            "username": "alice", "iat": NOW, "exp": NOW + 60})
    );
}

#[test]
fn the_public_pem_of_a_key_is_the_one_keygen_printed() {
    let (private, public) = keygen();
    assert!(private.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{private}");
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{public}");
    assert_eq!(GatewayKey::from_pem(&private).unwrap().public_pem(), public);
    // As a template parameter or an environment variable might carry it.
    let crlf = format!("\n  {}  \n", public.replace('\n', "\r\n"));
    assert!(GatewayPublicKey::from_pem(&crlf).is_ok());
}

#[test]
fn an_openssl_pkcs8_v1_key_is_read() {
    // `openssl genpkey -algorithm ed25519` (RFC 8410's example key).
    let private = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
    let public = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    let key = GatewayKey::from_pem(private).unwrap();
    assert_eq!(key.public_pem(), public);
    let token = key.sign(&assertion(NOW));
    assert!(GatewayPublicKey::from_pem(public).unwrap().verify(&token, "ws-a", "jupyterlab", NOW).is_ok());
}

#[test]
fn bad_keys_are_refused_with_a_reason() {
    let (private, public) = keygen();
    for (pem, wanted) in [
        ("", "PEM block"),
        (public.as_str(), "PEM block"),
        ("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----", "base64"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "Ed25519"),
    ] {
        let error = GatewayKey::from_pem(pem).unwrap_err();
        assert!(matches!(&error, IdentityError::BadKey(m) if m.contains(wanted)), "{pem:?}: {error}");
    }
    assert!(matches!(GatewayPublicKey::from_pem(&private), Err(IdentityError::BadKey(_))));
    let rsa_like = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VxAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----";
    assert!(matches!(GatewayPublicKey::from_pem(rsa_like), Err(IdentityError::BadKey(_))));
}

#[test]
fn each_refusal_says_what_was_wrong() {
    let (key, public) = pair();
    let (other_key, _) = pair();
    let token = key.sign(&assertion(NOW));
    let verify = |token: &str, ws: &str, app: &str, now: i64| public.verify(token, ws, app, now).unwrap_err();
    assert!(matches!(verify(&token, "ws-b", "jupyterlab", NOW), IdentityError::WrongWorkspace { .. }));
    assert!(matches!(verify(&token, "ws-a", "rstudio", NOW), IdentityError::WrongApp { .. }));
    // exp = NOW + 60, leeway 30 s: valid up to NOW + 90.
    assert!(public.verify(&token, "ws-a", "jupyterlab", NOW + 90).is_ok());
    assert!(matches!(verify(&token, "ws-a", "jupyterlab", NOW + 91), IdentityError::Expired { .. }));
    assert!(matches!(verify(&other_key.sign(&assertion(NOW)), "ws-a", "jupyterlab", NOW), IdentityError::BadSignature));
    let claims = |iss: &str, iat: i64, exp: i64| serde_json::json!({"iss": iss, "aud": "ws-a", "app": "jupyterlab", "sub": "s", "username": "u", "iat": iat, "exp": exp});
    let wrong_issuer = forged(&key, &claims("someone", NOW, NOW + 60));
    assert!(matches!(verify(&wrong_issuer, "ws-a", "jupyterlab", NOW), IdentityError::WrongIssuer(_)));
    let long_lived = forged(&key, &claims(ISSUER, NOW, NOW + 121));
    assert!(matches!(verify(&long_lived, "ws-a", "jupyterlab", NOW), IdentityError::BadLifetime { .. }));
    assert!(public.verify(&forged(&key, &claims(ISSUER, NOW, NOW + 120)), "ws-a", "jupyterlab", NOW).is_ok());
    let from_the_future = forged(&key, &claims(ISSUER, NOW + 31, NOW + 60));
    assert!(matches!(verify(&from_the_future, "ws-a", "jupyterlab", NOW), IdentityError::BadLifetime { .. }));
    let missing_claim =
        forged(&key, &serde_json::json!({"iss": ISSUER, "aud": "ws-a", "app": "jupyterlab", "exp": NOW + 60}));
    assert!(matches!(verify(&missing_claim, "ws-a", "jupyterlab", NOW), IdentityError::Malformed(_)));
}

#[test]
fn only_eddsa_is_accepted() {
    let (key, public) = pair();
    let token = key.sign(&assertion(NOW));
    let (_, rest) = token.split_once('.').unwrap();
    for alg in ["none", "HS256", "RS256", "ES256"] {
        let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
        let error = public.verify(&format!("{header}.{rest}"), "ws-a", "jupyterlab", NOW).unwrap_err();
        assert!(matches!(error, IdentityError::Malformed(_)), "{alg}: {error}");
    }
    // An HMAC "signed" with the public key's bytes (the classic confusion attack).
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = rest.split_once('.').unwrap().0;
    let hmac = format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
    assert!(public.verify(&hmac, "ws-a", "jupyterlab", NOW).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_token_for_one_workspace_never_verifies_for_another(a in "[a-z0-9-]{1,24}", b in "[a-z0-9-]{1,24}") {
        prop_assume!(a != b);
        let (key, public) = pair();
        let token = key.sign(&Assertion::new(&a, "rstudio", "sub", "user", NOW));
        prop_assert!(public.verify(&token, &a, "rstudio", NOW).is_ok());
        let refused = matches!(public.verify(&token, &b, "rstudio", NOW), Err(IdentityError::WrongWorkspace { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn tampered_tokens_never_verify(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let (key, public) = pair();
        let token = key.sign(&assertion(NOW));
        let mut bytes = token.clone().into_bytes();
        let at = index.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        bytes[at] = byte;
        let tampered = String::from_utf8_lossy(&bytes).into_owned();
        // Base64 padding bits can change without changing the decoded bytes: only a token
        // that decodes to other bytes than the signed one must be refused.
        let same = tampered.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>()
            == token.split('.').map(|p| URL_SAFE_NO_PAD.decode(p).ok()).collect::<Vec<_>>();
        prop_assume!(!same);
        prop_assert!(public.verify(&tampered, "ws-a", "jupyterlab", NOW).is_err());
    }

    #[test]
    fn arbitrary_strings_never_verify_nor_panic(token in any::<String>(), dotted in "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,90}") {
        let (_, public) = pair();
        prop_assert!(public.verify(&token, "ws-a", "jupyterlab", NOW).is_err());
        prop_assert!(public.verify(&dotted, "ws-a", "jupyterlab", NOW).is_err());
    }
}
