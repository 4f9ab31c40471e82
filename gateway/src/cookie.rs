//! The gateway's session cookie: who opened which workspace app, until when, signed by the
//! gateway (HMAC-SHA-256 with a key derived from its signing key, so every task of the
//! service accepts every other's cookies and nothing else needs distributing).
//!
//! `atelier_session=<base64url(claims JSON)>.<base64url(tag)>`, `Path=/w/<id>/<app>/`,
//! `HttpOnly`, `SameSite=Lax` (the portal opens the app with a top-level form post),
//! `Secure` behind HTTPS. The cookie never reaches the workspace: the gateway removes it
//! before forwarding.

use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The cookie's name.
pub const COOKIE: &str = "atelier_session";

/// How long a browser session lasts at most (a working day); the gateway re-checks it
/// against the directory and the workspace far more often than that.
pub const SESSION_SECONDS: i64 = 10 * 3600;

/// What a session cookie says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The session's id (in the history's `connect`/`disconnect` events and the logs).
    pub sid: String,
    /// The person's Cognito `sub`.
    pub sub: String,
    /// Their username.
    pub username: String,
    /// Their groups when the session opened (the directory is asked again on each check).
    pub groups: Vec<String>,
    /// The workspace it opens.
    pub ws: String,
    /// The app it opens.
    pub app: String,
    /// Opened at (Unix seconds).
    pub iat: i64,
    /// Ends at (Unix seconds).
    pub exp: i64,
}

/// Signs and checks session cookies.
pub struct CookieKey(hmac::Key);

impl CookieKey {
    /// The cookie key derived from the gateway's signing key (its PEM text).
    pub fn derive(signing_key_pem: &str) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"atelier-gateway-session\0");
        digest.update(signing_key_pem.trim().as_bytes());
        Self(hmac::Key::new(hmac::HMAC_SHA256, &digest.finalize()))
    }

    /// The cookie value for `claims`.
    pub fn seal(&self, claims: &SessionClaims) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let tag = URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, body.as_bytes()).as_ref());
        format!("{body}.{tag}")
    }

    /// The claims of `value` if the gateway signed it, it is for `workspace`/`app`, and it
    /// has not ended at `now` (Unix seconds).
    pub fn open(&self, value: &str, workspace: &str, app: &str, now: i64) -> Option<SessionClaims> {
        if value.len() > 4096 {
            return None;
        }
        let (body, tag) = value.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        hmac::verify(&self.0, body.as_bytes(), &tag).ok()?;
        let claims: SessionClaims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()?;
        (claims.ws == workspace && claims.app == app && now < claims.exp && claims.iat <= now + 60).then_some(claims)
    }
}

/// The `atelier_session` cookie of a `Cookie` header, if any (the last one wins, as the
/// most specific path comes first and a forged duplicate would fail its tag anyway).
pub fn find(header: &str) -> Option<&str> {
    header.split(';').filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('=')).next()
}

/// The `Cookie` header without the gateway's cookie (what the workspace may see), or
/// `None` when nothing else is left.
pub fn without_ours(header: &str) -> Option<String> {
    let rest: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.strip_prefix(COOKIE).is_some_and(|r| r.starts_with('=')))
        .collect();
    (!rest.is_empty()).then(|| rest.join("; "))
}

/// `Set-Cookie` for `value` on `path`, for `max_age` seconds (0: deletes it).
pub fn set_cookie(value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> SessionClaims {
        SessionClaims {
            sid: "s1".into(),
            sub: "sub-alice".into(),
            username: "alice".into(),
            groups: vec!["scientists".into()],
            ws: "ws-1".into(),
            app: "jupyterlab".into(),
            iat: 1000,
            exp: 2000,
        }
    }

    #[test]
    fn a_sealed_cookie_opens_only_for_its_workspace_app_and_time() {
        let key = CookieKey::derive("pem");
        let value = key.seal(&claims());
        assert_eq!(key.open(&value, "ws-1", "jupyterlab", 1500), Some(claims()));
        assert_eq!(key.open(&value, "ws-2", "jupyterlab", 1500), None);
        assert_eq!(key.open(&value, "ws-1", "rstudio", 1500), None);
        assert_eq!(key.open(&value, "ws-1", "jupyterlab", 2000), None, "expired");
        assert_eq!(CookieKey::derive("other pem").open(&value, "ws-1", "jupyterlab", 1500), None);
    }

    #[test]
    fn a_tampered_cookie_never_opens() {
        let key = CookieKey::derive("pem");
        let value = key.seal(&claims());
        for i in 0..value.len() {
            let mut bytes = value.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes).expect("ascii");
            if tampered != value {
                assert_eq!(key.open(&tampered, "ws-1", "jupyterlab", 1500), None, "byte {i}");
            }
        }
        let forged = format!("{}.", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).expect("json")));
        assert_eq!(key.open(&forged, "ws-1", "jupyterlab", 1500), None);
    }

    #[test]
    fn the_workspace_never_sees_the_gateway_cookie() {
        let header = "_xsrf=abc; atelier_session=xyz; other=1";
        assert_eq!(find(header), Some("xyz"));
        assert_eq!(without_ours(header).as_deref(), Some("_xsrf=abc; other=1"));
        assert_eq!(without_ours("atelier_session=xyz"), None);
        assert_eq!(without_ours("atelier_sessionx=1").as_deref(), Some("atelier_sessionx=1"));
    }
}
