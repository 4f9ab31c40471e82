//! Token verification: anything but a valid access token of this pool and app client is 401,
//! with nothing in the answer that says why.

use atelier_tests::spawn_app;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{Method, StatusCode};
use serde_json::json;

fn tamper_payload(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["cognito:groups"] = json!(["admins"]);
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

fn tamper_signature(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 0x01;
    format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn unsigned(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"dummy","typ":"JWT"}"#);
    format!("{header}.{}.", parts[1])
}

#[tokio::test]
async fn forged_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let good = app.token("alice").await;
    let other_pool = spawn_app().await;
    let foreign = other_pool.token("alice").await;

    // A second app client in the same pool: its tokens are not the portal's.
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&app.sdk);
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&app.seeded.user_pool_id)
        .client_name("other")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .send()
        .await
        .unwrap();
    let other_client = client.user_pool_client().unwrap().client_id().unwrap().to_owned();
    let other_client_token = cognito
        .initiate_auth()
        .client_id(&other_client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", &app.seeded.password)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap()
        .access_token
        .unwrap();

    let cases = [
        ("tampered claims", tamper_payload(&good)),
        ("tampered signature", tamper_signature(&good)),
        ("truncated signature", good[..good.len() - 10].to_owned()),
        ("alg none", unsigned(&good)),
        ("id token", app.id_token("alice").await),
        ("another user pool", foreign),
        ("another app client", other_client_token),
        ("garbage", "not.a.jwt".to_owned()),
        ("oversized", "a".repeat(10_000)),
    ];
    for (name, token) in cases {
        let response = app.call(Method::GET, "/v1/workspaces", Some(&token), None).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{name}: {}", response.body);
        assert_eq!(response.body["detail"], json!("a valid access token is required"), "{name} leaks nothing");
        assert_eq!(response.headers["www-authenticate"], "Bearer");
    }
    let ok = app.call(Method::GET, "/v1/workspaces", Some(&good), None).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[tokio::test]
async fn requests_without_a_bearer_token_are_refused() {
    let app = spawn_app().await;
    let none = app.call(Method::GET, "/v1/me", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let basic = app.call_with(Method::GET, "/v1/me", None, None, &[("authorization", "Basic YWxpY2U6cHc=")]).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic.str("type"), "/problems/unauthorized");
}

/// A token minted with the local server's Cognito signing key (see tests/mint_token.py).
pub(crate) fn mint(header: serde_json::Value, claims: serde_json::Value, mode: &str) -> String {
    use std::io::Write;
    let script = atelier_devstack::moto::repo_root().join("tests/mint_token.py");
    let mut child = std::process::Command::new(atelier_devstack::moto::venv_python())
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    let request = json!({ "header": header, "claims": claims, "mode": mode });
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "minting failed");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn tokens_signed_with_the_pool_key_but_wrong_claims_are_refused() {
    let app = spawn_app().await;
    let now = jiff::Timestamp::now().as_second();
    let issuer = format!("https://cognito-idp.eu-west-3.amazonaws.com/{}", app.seeded.user_pool_id);
    let me = app.get("alice", "/v1/me").await;
    let claims = |changes: serde_json::Value| {
        let mut claims = json!({
            "iss": issuer,
            "sub": me.str("sub"),
            "client_id": app.seeded.client_id,
            "token_use": "access",
            "username": "alice",
            "cognito:groups": ["scientists"],
            "iat": now,
            "exp": now + 3600,
        });
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    };
    let rs256 = json!({ "alg": "RS256", "kid": "dummy", "typ": "JWT" });

    // The control: the same minting with the right claims is accepted, so every refusal
    // below is about the claim it changes, not about the minting.
    let genuine = mint(rs256.clone(), claims(json!({})), "rs256");
    let ok = app.call(Method::GET, "/v1/workspaces", Some(&genuine), None).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    let cases = [
        ("expired", mint(rs256.clone(), claims(json!({ "exp": now - 120 })), "rs256")),
        ("not yet valid", mint(rs256.clone(), claims(json!({ "nbf": now + 600 })), "rs256")),
        ("no expiry", mint(rs256.clone(), claims(json!({ "exp": null })), "rs256")),
        (
            "another issuer",
            mint(
                rs256.clone(),
                claims(json!({ "iss": "https://cognito-idp.eu-west-3.amazonaws.com/eu-west-3_other" })),
                "rs256",
            ),
        ),
        ("another client", mint(rs256.clone(), claims(json!({ "client_id": "not-the-portal" })), "rs256")),
        (
            "an ID token",
            mint(rs256.clone(), claims(json!({ "token_use": "id", "aud": app.seeded.client_id })), "rs256"),
        ),
        (
            "unknown kid",
            mint(json!({ "alg": "RS256", "kid": "rotated-away", "typ": "JWT" }), claims(json!({})), "rs256"),
        ),
        ("no kid", mint(json!({ "alg": "RS256", "typ": "JWT" }), claims(json!({})), "rs256")),
        (
            "HS256 keyed with the public key",
            mint(json!({ "alg": "HS256", "kid": "dummy", "typ": "JWT" }), claims(json!({})), "hs256-public-key"),
        ),
    ];
    for (name, token) in cases {
        let response = app.call(Method::GET, "/v1/workspaces", Some(&token), None).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{name}: {}", response.body);
        assert_eq!(response.body["detail"], json!("a valid access token is required"), "{name} leaks nothing");
    }
}
