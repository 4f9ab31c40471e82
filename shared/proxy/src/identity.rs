//! The gateway's identity assertion: who opened which app of which workspace, signed by the
//! gateway with its Ed25519 key and verified by the workspace guard with the public half.
//!
//! On the wire it is a JWT (header `{"alg":"EdDSA","typ":"JWT"}`) with the claims
//! `{"iss":"atelier-gateway","aud":"<workspace id>","app":"<app>","sub":"<cognito sub>",
//! "username":"<username>","iat":<unix s>,"exp":<iat + 60>}`, sent in [`IDENTITY_HEADER`].
//! It is short-lived and bound to one workspace and one app, so a copy taken from one
//! machine opens nothing else, and nothing for long.

use aws_lc_rs::{
    encoding::AsDer,
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

/// Header carrying the gateway's signed identity assertion to the workspace guard.
pub const IDENTITY_HEADER: &str = "x-atelier-identity";
/// Header the guard adds for the app's logs (the username), after verification.
pub const USER_HEADER: &str = "x-atelier-user";
/// How long an assertion is valid after it is issued: one request (or one WebSocket
/// upgrade), so a minute is plenty, and a stolen copy is soon worthless.
pub const ASSERTION_SECONDS: i64 = 60;
/// The `iss` claim of every assertion.
pub const ISSUER: &str = "atelier-gateway";
/// Clock skew tolerated between the gateway and the workstation, on `exp` and `iat`.
pub const LEEWAY_SECONDS: i64 = 30;
/// Longest lifetime (`exp − iat`) the guard accepts: a token that claims to live longer was
/// not minted by this gateway's code.
pub const MAX_LIFETIME_SECONDS: i64 = 120;
/// Longer tokens are refused before any parsing (a real one is about 400 bytes).
const MAX_TOKEN_BYTES: usize = 4096;

/// The DER prefix of an Ed25519 `SubjectPublicKeyInfo` (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// What the gateway asserts to one workspace's guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assertion {
    /// The workspace (claim `aud`): only its guard accepts the assertion.
    pub workspace_id: String,
    /// The app opened (`jupyterlab`, `rstudio`; claim `app`).
    pub app: String,
    /// The caller's Cognito `sub`.
    pub sub: String,
    /// The caller's username (passed to the app in [`USER_HEADER`]).
    pub username: String,
    /// Unix seconds (claim `iat`).
    pub issued_at: i64,
    /// Unix seconds (claim `exp`).
    pub expires_at: i64,
}

impl Assertion {
    /// An assertion issued at `now_unix`, valid for [`ASSERTION_SECONDS`].
    pub fn new(workspace_id: &str, app: &str, sub: &str, username: &str, now_unix: i64) -> Self {
        Self {
            workspace_id: workspace_id.to_owned(),
            app: app.to_owned(),
            sub: sub.to_owned(),
            username: username.to_owned(),
            issued_at: now_unix,
            expires_at: now_unix.saturating_add(ASSERTION_SECONDS),
        }
    }
}

/// The JWT claims, as on the wire.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    app: String,
    sub: String,
    username: String,
    iat: i64,
    exp: i64,
}

/// Why a key or an assertion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The PEM text is not a key of the expected kind.
    #[error("bad key: {0}")]
    BadKey(String),
    /// The token is not a JWT this code can read (structure, encoding, algorithm, claims).
    #[error("malformed assertion: {0}")]
    Malformed(String),
    /// The signature does not match the gateway's public key.
    #[error("bad signature")]
    BadSignature,
    /// `iss` is not `atelier-gateway`.
    #[error("wrong issuer {0:?}")]
    WrongIssuer(String),
    /// `aud` names another workspace.
    #[error("wrong workspace {found:?} (this is {expected:?})")]
    WrongWorkspace {
        /// The guard's workspace.
        expected: String,
        /// The assertion's.
        found: String,
    },
    /// `app` names another app than the path's.
    #[error("wrong app {found:?} (the path opens {expected:?})")]
    WrongApp {
        /// The path's app.
        expected: String,
        /// The assertion's.
        found: String,
    },
    /// `exp` has passed (beyond the leeway).
    #[error("expired at {expires_at} (now {now})")]
    Expired {
        /// The assertion's `exp`.
        expires_at: i64,
        /// The verifier's clock.
        now: i64,
    },
    /// `iat` is in the future (beyond the leeway), or `exp − iat` is longer than the gateway issues.
    #[error("bad lifetime: issued at {issued_at}, expires at {expires_at} (now {now})")]
    BadLifetime {
        /// The assertion's `iat`.
        issued_at: i64,
        /// The assertion's `exp`.
        expires_at: i64,
        /// The verifier's clock.
        now: i64,
    },
}

/// The gateway's private Ed25519 key, from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, v1 as
/// `openssl genpkey -algorithm ed25519` writes it, or v2 as [`keygen`] does). Never printed.
pub struct GatewayKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayKey").field("public", &self.public_pem()).finish_non_exhaustive()
    }
}

impl GatewayKey {
    /// The key in `pem`.
    pub fn from_pem(pem: &str) -> Result<Self, IdentityError> {
        let der = pem_body(pem, "PRIVATE KEY")?;
        let pair = Ed25519KeyPair::from_pkcs8(&der)
            .map_err(|e| IdentityError::BadKey(format!("not an Ed25519 PKCS#8 private key: {e}")))?;
        Ok(Self { pair })
    }

    /// The public half, SPKI PEM (`-----BEGIN PUBLIC KEY-----`), for the guards.
    pub fn public_pem(&self) -> String {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(self.pair.public_key().as_ref());
        pem("PUBLIC KEY", &der)
    }

    /// The assertion as a signed JWT (compact form). Signed here with the parsed key rather
    /// than through jsonwebtoken's encoder, which parses the PKCS#8 document again on every
    /// call; the guard verifies with jsonwebtoken, and the tests check both agree.
    pub fn sign(&self, assertion: &Assertion) -> String {
        let claims = Claims {
            iss: ISSUER.to_owned(),
            aud: assertion.workspace_id.clone(),
            app: assertion.app.clone(),
            sub: assertion.sub.clone(),
            username: assertion.username.clone(),
            iat: assertion.issued_at,
            exp: assertion.expires_at,
        };
        // Strings and integers only: serialising cannot fail.
        let payload = serde_json::to_vec(&claims).expect("claims of strings and integers serialise");
        let mut token = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.pair.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.as_ref()));
        token
    }
}

/// The gateway's public Ed25519 key, from SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
#[derive(Clone)]
pub struct GatewayPublicKey {
    key: DecodingKey,
}

impl std::fmt::Debug for GatewayPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayPublicKey").finish_non_exhaustive()
    }
}

impl GatewayPublicKey {
    /// The key in `pem`.
    pub fn from_pem(pem: &str) -> Result<Self, IdentityError> {
        let der = pem_body(pem, "PUBLIC KEY")?;
        let raw = der
            .strip_prefix(&ED25519_SPKI_PREFIX[..])
            .filter(|raw| raw.len() == 32)
            .ok_or_else(|| IdentityError::BadKey("not an Ed25519 public key (SPKI, RFC 8410)".to_owned()))?;
        Ok(Self { key: DecodingKey::from_ed_der(raw) })
    }

    /// The assertion in `token` if it is signed by this key, issued by the gateway, for
    /// `workspace_id` and `app`, and live at `now_unix` (30 s leeway on `exp` and `iat`,
    /// lifetime at most 120 s). Only EdDSA is accepted, whatever the token's header says.
    pub fn verify(
        &self,
        token: &str,
        workspace_id: &str,
        app: &str,
        now_unix: i64,
    ) -> Result<Assertion, IdentityError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(IdentityError::Malformed(format!("longer than {MAX_TOKEN_BYTES} bytes")));
        }
        // The signature and algorithm are checked by jsonwebtoken; the claims below, against
        // the caller's clock, so that each refusal says what was wrong.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => IdentityError::BadSignature,
                _ => IdentityError::Malformed(e.to_string()),
            })?
            .claims;
        check_claims(claims, workspace_id, app, now_unix)
    }
}

fn check_claims(claims: Claims, workspace_id: &str, app: &str, now: i64) -> Result<Assertion, IdentityError> {
    if claims.iss != ISSUER {
        return Err(IdentityError::WrongIssuer(claims.iss));
    }
    if claims.aud != workspace_id {
        return Err(IdentityError::WrongWorkspace { expected: workspace_id.to_owned(), found: claims.aud });
    }
    if claims.app != app {
        return Err(IdentityError::WrongApp { expected: app.to_owned(), found: claims.app });
    }
    if claims.exp.saturating_add(LEEWAY_SECONDS) < now {
        return Err(IdentityError::Expired { expires_at: claims.exp, now });
    }
    let lifetime = claims.exp.saturating_sub(claims.iat);
    if !(0..=MAX_LIFETIME_SECONDS).contains(&lifetime) || claims.iat > now.saturating_add(LEEWAY_SECONDS) {
        return Err(IdentityError::BadLifetime { issued_at: claims.iat, expires_at: claims.exp, now });
    }
    Ok(Assertion {
        workspace_id: claims.aud,
        app: claims.app,
        sub: claims.sub,
        username: claims.username,
        issued_at: claims.iat,
        expires_at: claims.exp,
    })
}

/// A new key pair: (private PKCS#8 PEM, public SPKI PEM).
pub fn keygen() -> (String, String) {
    // aws-lc-rs draws from the system's generator and fails only if it is broken, in which
    // case no key can be made at all.
    let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("the system random generator works");
    let private = pem("PRIVATE KEY", document.as_ref());
    let pair = Ed25519KeyPair::from_pkcs8(document.as_ref()).expect("a freshly generated PKCS#8 document parses");
    let public = pair
        .public_key()
        .as_der()
        .map(|der| pem("PUBLIC KEY", der.as_ref()))
        .expect("an Ed25519 public key encodes as SPKI");
    (private, public)
}

fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    // 64-character lines (RFC 7468); base64 is ASCII, so byte chunks are whole characters.
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside a PEM block labelled `label`. Tolerates surrounding whitespace and `\r\n`
/// (the key may come from a template parameter or an environment variable).
fn pem_body(pem: &str, label: &str) -> Result<Vec<u8>, IdentityError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let inner = pem
        .trim()
        .strip_prefix(&begin)
        .and_then(|rest| rest.strip_suffix(&end))
        .ok_or_else(|| IdentityError::BadKey(format!("expected a PEM block {begin} … {end}")))?;
    let base64: String = inner.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(base64).map_err(|e| IdentityError::BadKey(format!("bad base64 in the PEM block: {e}")))
}

#[cfg(test)]
mod tests;
