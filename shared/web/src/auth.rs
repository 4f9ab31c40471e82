//! Verification of Cognito access tokens, in the function itself (so a misconfigured API
//! Gateway authorizer never opens the API, and the local server runs the same path).
//!
//! Checks: RS256 only; a `kid` found in the pool's JWKS (fetched once, cached, refreshed
//! at most once a minute when an unknown `kid` shows up, one download at a time and never
//! under the lock that tokens with a known `kid` read the keys through); signature; `iss` equal to the
//! pool's issuer; `exp` (and `nbf` when present) with a small leeway; `token_use` =
//! `access`; `client_id` equal to the portal's app client.
//!
//! The expected issuer and the JWKS location are two settings because the local AWS
//! server signs tokens with an AWS-style issuer while serving the keys locally.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use atelier_domain::{
    Caller,
    kernel::limits::{Admission, admit},
};
use axum::{
    extract::{FromRef, FromRequestParts, MatchedPath},
    http::{header, request::Parts},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;

use crate::{ApiError, state::Gate};

/// Tokens longer than this are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;
/// An unknown `kid` triggers at most one JWKS download per this interval.
const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// After a failed JWKS download, the next attempt waits at least this long.
const JWKS_RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// Where the verifier gets its trust from.
#[derive(Debug, Clone)]
pub struct VerifierSettings {
    /// Expected `iss`: `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub issuer: String,
    /// Where the pool's public keys are: `<issuer>/.well-known/jwks.json` in AWS.
    pub jwks_url: String,
    /// The app client whose tokens are accepted.
    pub client_id: String,
}

impl VerifierSettings {
    /// Settings for `user_pool_id` in `region`, with the JWKS at `jwks_base` (the public
    /// Cognito endpoint in AWS, the local server's URL locally).
    pub fn for_pool(region: &str, user_pool_id: &str, client_id: &str, jwks_base: Option<&str>) -> Self {
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}");
        let jwks_url = match jwks_base {
            Some(base) => format!("{}/{user_pool_id}/.well-known/jwks.json", base.trim_end_matches('/')),
            None => format!("{issuer}/.well-known/jwks.json"),
        };
        Self { issuer, jwks_url, client_id: client_id.to_owned() }
    }
}

struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    /// When the JWKS was last downloaded successfully.
    fetched_at: Option<Instant>,
    /// When a download last failed: retried sooner than a successful one is refreshed, so a
    /// short outage of the JWKS endpoint does not lock valid tokens out for a whole minute.
    failed_at: Option<Instant>,
}

/// Verifies access tokens against one user pool and app client.
pub struct JwtVerifier {
    settings: VerifierSettings,
    /// Built on the first JWKS download: building it loads the platform's root
    /// certificates, which a Lambda function should not pay for before it polls for its
    /// first event (docs/benchmarks.md).
    http: std::sync::OnceLock<reqwest::Client>,
    /// Held only to read or swap the keys, never across a download.
    keys: RwLock<Keys>,
    /// Held across a download: one at a time, and the callers behind it find the new keys.
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Debug, Deserialize)]
struct AccessClaims {
    sub: String,
    username: String,
    token_use: String,
    client_id: String,
    #[serde(rename = "cognito:groups", default)]
    groups: Vec<String>,
}

impl JwtVerifier {
    /// A verifier that fetches keys on first use.
    pub fn new(settings: VerifierSettings) -> Self {
        let http = std::sync::OnceLock::new();
        let keys = RwLock::new(Keys { by_kid: HashMap::new(), fetched_at: None, failed_at: None });
        Self { settings, http, keys, refresh: tokio::sync::Mutex::new(()) }
    }

    fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("the HTTP client's TLS configuration is valid")
        })
    }

    /// The settings this verifier trusts.
    pub fn settings(&self) -> &VerifierSettings {
        &self.settings
    }

    /// The caller a bearer token stands for, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let reject = |why: &str| ApiError::Unauthorized(why.to_owned());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(reject("token too large"));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| reject("malformed token header"))?;
        if header.alg != Algorithm::RS256 {
            return Err(reject("algorithm not allowed"));
        }
        let kid = header.kid.ok_or_else(|| reject("token has no kid"))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Access tokens carry `client_id`, not `aud`; it is checked below.
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map_err(|e| ApiError::Unauthorized(format!("token rejected: {e}")))?;
        let claims = data.claims;
        if claims.token_use != "access" {
            return Err(reject("not an access token"));
        }
        if claims.client_id != self.settings.client_id {
            return Err(reject("token issued to another client"));
        }
        Ok(Caller { sub: claims.sub, username: claims.username, groups: claims.groups })
    }

    /// The keys, read or written; a panic elsewhere while they were held leaves them whole
    /// (each write is one assignment), so a poisoned lock is used as is.
    fn keys(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn keys_mut(&self) -> std::sync::RwLockWriteGuard<'_, Keys> {
        self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn key(&self, kid: &str) -> Result<DecodingKey, ApiError> {
        if let Some(key) = self.keys().by_kid.get(kid) {
            return Ok(key.clone());
        }
        // Unknown kid: one download at a time, and never more than one per interval, so
        // that a flood of forged kids cannot turn into a flood of JWKS downloads. Callers
        // with a known kid never wait here: they only read the keys, which are locked for
        // the instant of a swap, not for the download.
        let _one_download = self.refresh.lock().await;
        {
            let keys = self.keys();
            if let Some(key) = keys.by_kid.get(kid) {
                return Ok(key.clone());
            }
            let recently = |at: Option<Instant>, interval| at.is_some_and(|at: Instant| at.elapsed() < interval);
            if recently(keys.fetched_at, JWKS_REFRESH_INTERVAL) || recently(keys.failed_at, JWKS_RETRY_INTERVAL) {
                return Err(ApiError::Unauthorized("unknown kid".into()));
            }
        }
        let fetched = self.fetch().await;
        let mut keys = self.keys_mut();
        match fetched {
            Ok(fetched) => {
                keys.by_kid = fetched;
                keys.fetched_at = Some(Instant::now());
                keys.failed_at = None;
            }
            Err(err) => {
                keys.failed_at = Some(Instant::now());
                return Err(err);
            }
        }
        keys.by_kid.get(kid).cloned().ok_or_else(|| ApiError::Unauthorized("unknown kid".into()))
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, ApiError> {
        let unavailable = |e: &dyn std::fmt::Display| {
            ApiError::Domain(atelier_domain::DomainError::Upstream(atelier_domain::UpstreamError::new(
                "cognito-idp",
                "jwks",
                true,
                e.to_string(),
            )))
        };
        let response = self
            .http()
            .get(&self.settings.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| unavailable(&e))?;
        let set: JwkSet = response.json().await.map_err(|e| unavailable(&e))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
                keys.insert(kid, key);
            }
        }
        tracing::info!(url = %self.settings.jwks_url, keys = keys.len(), "fetched JWKS");
        Ok(keys)
    }
}

/// The verified caller of a request (from `Authorization: Bearer <access token>`), with the
/// rights the directory still grants them where [`crate::standing::needs_standing`] says so,
/// and counted against the route's per-caller limit if it has one ([`crate::limits`]).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl<S> FromRequestParts<S> for Authenticated
where
    Gate: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Unauthorized("no Authorization header".into()))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::Unauthorized("not a bearer token".into()))?;
        let gate = Gate::from_ref(state);
        let mut caller = gate.verifier.verify(token.trim()).await?;
        if crate::standing::needs_standing(&parts.method, &caller) {
            caller = gate.standing.current(caller).await?;
        }
        let route = parts.extensions.get::<MatchedPath>().map(MatchedPath::as_str);
        if let Some(limit) = route.and_then(|route| crate::limits::limit_for(&parts.method, route)) {
            let at = jiff::Timestamp::now();
            if let Admission::Refused { retry_after } = admit(gate.counter.as_ref(), &caller.sub, limit, at).await? {
                return Err(ApiError::TooManyRequests { limit: *limit, retry_after });
            }
        }
        Ok(Authenticated(caller))
    }
}

#[cfg(test)]
mod tests {
    //! Properties of the token check on hostile input: whatever the bytes, a forged header or
    //! an oversized token, the answer is a 401 (never a panic, never another status), decided
    //! before any signature work. The verifier below fetched its key set a moment ago, so an
    //! unknown `kid` cannot trigger a download: nothing leaves the test.

    use super::*;
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use proptest::prelude::*;

    fn verifier() -> JwtVerifier {
        let verifier = JwtVerifier::new(VerifierSettings::for_pool(
            "eu-west-3",
            "eu-west-3_Test",
            "portal-client",
            Some("http://127.0.0.1:9"),
        ));
        verifier.keys_mut().fetched_at = Some(Instant::now());
        verifier
    }

    /// A JWKS endpoint that takes connections and never answers: a download from it lasts
    /// until the client's timeout. Resolves `accepted` once the verifier's request is in.
    fn silent_jwks() -> (String, tokio::sync::oneshot::Receiver<()>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let (accepted, in_flight) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let (connection, _) = listener.accept().expect("the verifier connects");
            let _ = accepted.send(());
            std::thread::sleep(Duration::from_secs(10));
            drop(connection);
        });
        (base, in_flight)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_known_kid_is_not_held_up_by_a_download_for_an_unknown_one() {
        let (base, in_flight) = silent_jwks();
        let verifier = JwtVerifier::new(VerifierSettings::for_pool("eu-west-3", "eu-west-3_Test", "c", Some(&base)));
        let known = DecodingKey::from_rsa_components("sXch", "AQAB").expect("a key");
        verifier.keys_mut().by_kid.insert("known".into(), known);
        let download = verifier.key("forged");
        let lookup = async {
            in_flight.await.expect("the download started");
            // The download holds the refresh lock until its 5-second timeout; the known kid
            // is found at once.
            tokio::time::timeout(Duration::from_secs(2), verifier.key("known")).await
        };
        let (download, lookup) = tokio::join!(download, lookup);
        assert!(lookup.expect("the known kid did not wait for the download").is_ok());
        assert!(matches!(download, Err(ApiError::Domain(_))), "the silent endpoint times out: {download:?}");
        assert!(verifier.keys().failed_at.is_some(), "and the failure is remembered");
    }

    /// One verifier and one runtime for every case (building a verifier loads TLS roots).
    fn verify(token: &str) -> Result<Caller, ApiError> {
        static SHARED: std::sync::OnceLock<(tokio::runtime::Runtime, JwtVerifier)> = std::sync::OnceLock::new();
        let (runtime, verifier) = SHARED.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            (runtime, verifier())
        });
        runtime.block_on(verifier.verify(token))
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn is_unauthorized(result: &Result<Caller, ApiError>) -> bool {
        matches!(result, Err(ApiError::Unauthorized(_)))
    }

    #[test]
    fn an_oversized_token_is_refused_before_parsing() {
        let header = b64(br#"{"alg":"RS256","kid":"k"}"#);
        let token = format!("{header}.{}.sig", "A".repeat(MAX_TOKEN_BYTES));
        assert!(matches!(verify(&token), Err(ApiError::Unauthorized(why)) if why == "token too large"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..1024)) {
            let token = String::from_utf8_lossy(&bytes);
            prop_assert!(is_unauthorized(&verify(&token)));
        }

        #[test]
        fn arbitrary_dotted_parts_are_refused(parts in prop::collection::vec("[A-Za-z0-9_=+/-]{0,64}", 0..5)) {
            prop_assert!(is_unauthorized(&verify(&parts.join("."))));
        }

        #[test]
        fn forged_headers_are_refused(
            alg in prop::sample::select(vec!["none", "None", "HS256", "HS512", "RS256", "RS384", "ES256", "PS256", "EdDSA", "rs256", ""]),
            kid in prop::option::of("\\PC{0,24}"),
            typ in prop::option::of(prop::sample::select(vec!["JWT", "at+jwt", "x"])),
            junk_field in prop::option::of(("[a-z]{1,8}", any::<i64>())),
            payload in "\\PC{0,200}",
            signature in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut header = serde_json::json!({ "alg": alg });
            if let Some(kid) = kid {
                header["kid"] = serde_json::json!(kid);
            }
            if let Some(typ) = typ {
                header["typ"] = serde_json::json!(typ);
            }
            if let Some((name, value)) = junk_field {
                header[name] = serde_json::json!(value);
            }
            let token = format!(
                "{}.{}.{}",
                b64(header.to_string().as_bytes()),
                b64(payload.as_bytes()),
                b64(&signature)
            );
            prop_assert!(is_unauthorized(&verify(&token)), "{}", header);
        }
    }
}
