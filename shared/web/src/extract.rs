//! Request extractors that answer with problem documents naming the offending field, and
//! reject unknown fields (via `#[serde(deny_unknown_fields)]` on the target types).

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Largest JSON body any route accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return Err(ApiError::UnsupportedMediaType("send the body as application/json".into()));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest { field: None, message: "the request body could not be read".into() }
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// For an optional body field whose schema has no `null`: absent is `None`, a value is
/// `Some`, and `null` is refused (400 naming the field), where `Option<T>` alone would read
/// `null` as absent. Use with `#[serde(default, deserialize_with = "not_null")]`.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Parses `bytes` as `T`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = strip_position(&inner.to_string());
        let field = field_from(&path, &message);
        ApiError::BadRequest { field, message: format!("invalid JSON body: {message}") }
    })
}

/// The query string, parsed.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(QueryParams)
    }
}

/// Parses a query string as `T`, naming the parameter at fault (`limit` for `?limit=many`).
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        ApiError::BadRequest { field: field_from(&path, &message), message: format!("invalid query: {message}") }
    })
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The field a serde error is about: the path when there is one, else the name quoted in
/// "unknown field `x`" / "missing field `x`".
fn field_from(path: &str, message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `").or_else(|| message.strip_prefix("missing field `")) {
        let name = rest.split('`').next().unwrap_or_default();
        return Some(match path {
            "" | "." => name.to_owned(),
            p if p == name || p.ends_with(&format!(".{name}")) => p.to_owned(),
            p => format!("{p}.{name}"),
        });
    }
    (path != "." && !path.is_empty()).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        product_id: String,
        name: String,
    }

    fn field_of(json: &str) -> Option<String> {
        match parse_json::<Body>(json.as_bytes()) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Query {
        limit: Option<u32>,
        next_token: Option<String>,
    }

    fn query_field_of(query: &str) -> Option<String> {
        match parse_query::<Query>(query) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn query_errors_name_the_parameter() {
        assert_eq!(query_field_of("limit=many").as_deref(), Some("limit"));
        assert_eq!(query_field_of("limit=-1").as_deref(), Some("limit"));
        assert_eq!(query_field_of("limit=1&other=2").as_deref(), Some("other"));
        assert!(parse_query::<Query>("limit=5&nextToken=abc").is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"productId":"a","name":"b","extra":1}"#).as_deref(), Some("extra"));
        assert_eq!(field_of(r#"{"productId":"a"}"#).as_deref(), Some("name"));
        assert_eq!(field_of(r#"{"productId":1,"name":"b"}"#).as_deref(), Some("productId"));
        assert_eq!(field_of("not json"), None);
    }
}
