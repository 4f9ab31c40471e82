//! `GET /v1/openapi.json`: the API's OpenAPI 3.1 document, public.
//!
//! The document is written by hand, one fragment per area in `shared/web/openapi/`:
//! `base.json` (info, security scheme, the `Problem` schema, shared parameters and responses)
//! and `{"paths": {...}, "components": {"schemas": {...}}}` per area. `build.rs` compiles in
//! every `*.json` of the directory, [`merge`] assembles them and refuses a path, component or
//! tag defined twice, a `$ref` that resolves to nothing, an operation without
//! `x-atelier-roles`, and an `operationId` used twice. Tests check the result against the routers
//! (tests/integration/openapi.rs), and schemathesis checks the running API against it
//! (`make api-fuzz`, docs/api.md).

use std::collections::{BTreeMap, BTreeSet};

use axum::{
    Router,
    body::Bytes,
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde_json::{Map, Value};

include!(concat!(env!("OUT_DIR"), "/openapi_fragments.rs"));

/// The fragment every other one is merged into.
pub const BASE: &str = "base.json";

/// The roles an operation's `x-atelier-roles` may name.
pub const ROLES: [&str; 3] = ["scientist", "admin", "finance"];

/// The HTTP methods an OpenAPI path item may have.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Why the fragments do not make a document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenApiError {
    /// One fragment is not JSON, not an object, or has a key or section of the wrong shape.
    #[error("openapi/{file}: {message}")]
    Fragment {
        /// The fragment's file name in `shared/web/openapi/` (`workspaces.json`).
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// Two fragments define the same thing.
    #[error("{what} {name:?} is defined in both openapi/{first} and openapi/{second}")]
    Duplicate {
        /// `path`, `component` or `tag`.
        what: &'static str,
        /// The path, component or tag name.
        name: String,
        /// The fragment merged first (file name).
        first: String,
        /// The fragment that defined it again.
        second: String,
    },
    /// The merged document breaks a rule across fragments: a `$ref` to nothing, an
    /// operation without responses or `x-atelier-roles`, an `operationId` used twice, no
    /// `base.json`.
    #[error("{0}")]
    Document(String),
}

fn fragment_error(file: &str, message: impl Into<String>) -> OpenApiError {
    OpenApiError::Fragment { file: file.to_owned(), message: message.into() }
}

/// The document assembled from the fragments compiled into this crate.
pub fn document() -> Result<Value, OpenApiError> {
    merge(FRAGMENTS)
}

/// Merges `(file name, JSON text)` fragments into one document: `base.json` first, then
/// every other fragment's `paths`, `components.<section>` entries and `tags`.
pub fn merge(fragments: &[(&str, &str)]) -> Result<Value, OpenApiError> {
    let parsed = fragments.iter().map(|(file, text)| parse(file, text)).collect::<Result<Vec<_>, _>>()?;
    let (_, base) = parsed
        .iter()
        .find(|(file, _)| file == BASE)
        .cloned()
        .ok_or_else(|| OpenApiError::Document(format!("no {BASE} among the fragments")))?;
    if !base.get("openapi").and_then(Value::as_str).is_some_and(|v| v.starts_with("3.1")) {
        return Err(fragment_error(BASE, "must declare \"openapi\": \"3.1.x\""));
    }
    let mut merger = Merger { document: base, owners: BTreeMap::new() };
    for (file, fragment) in &parsed {
        merger.add(file, fragment)?;
    }
    let document = Value::Object(merger.document);
    check(&document)?;
    Ok(document)
}

/// One fragment's JSON object.
fn parse(file: &str, text: &str) -> Result<(String, Map<String, Value>), OpenApiError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok((file.to_owned(), map)),
        Ok(_) => Err(fragment_error(file, "is not a JSON object")),
        Err(e) => Err(fragment_error(file, format!("is not JSON: {e}"))),
    }
}

/// The document being assembled, and who defined what (for the duplicate messages).
struct Merger {
    document: Map<String, Value>,
    owners: BTreeMap<(String, String), String>,
}

impl Merger {
    /// Adds `fragment`'s paths, components and tags (the base's own are already in: only
    /// claimed, so that another fragment cannot define them again).
    fn add(&mut self, file: &str, fragment: &Map<String, Value>) -> Result<(), OpenApiError> {
        let is_base = file == BASE;
        if !is_base && let Some(key) = fragment.keys().find(|k| !["paths", "components", "tags"].contains(&k.as_str()))
        {
            return Err(fragment_error(
                file,
                format!("unexpected top-level key {key:?} (allowed: paths, components, tags)"),
            ));
        }
        if let Some(paths) = fragment.get("paths") {
            self.add_paths(file, is_base, paths)?;
        }
        if let Some(components) = fragment.get("components") {
            self.add_components(file, is_base, components)?;
        }
        if let Some(tags) = fragment.get("tags") {
            self.add_tags(file, is_base, tags)?;
        }
        Ok(())
    }

    /// Records that `file` defines `name` in `section`; refused when another file did.
    fn claim(&mut self, what: &'static str, section: &str, name: &str, file: &str) -> Result<(), OpenApiError> {
        match self.owners.insert((section.to_owned(), name.to_owned()), file.to_owned()) {
            Some(first) => Err(OpenApiError::Duplicate { what, name: name.to_owned(), first, second: file.to_owned() }),
            None => Ok(()),
        }
    }

    fn add_paths(&mut self, file: &str, is_base: bool, paths: &Value) -> Result<(), OpenApiError> {
        let paths = paths.as_object().ok_or_else(|| fragment_error(file, "paths must be an object"))?;
        for (path, item) in paths {
            self.claim("path", "paths", path, file)?;
            if !is_base {
                object_at(&mut self.document, "paths").insert(path.clone(), item.clone());
            }
        }
        Ok(())
    }

    fn add_components(&mut self, file: &str, is_base: bool, components: &Value) -> Result<(), OpenApiError> {
        let components = components.as_object().ok_or_else(|| fragment_error(file, "components must be an object"))?;
        for (section, entries) in components {
            let entries = entries
                .as_object()
                .ok_or_else(|| fragment_error(file, format!("components.{section} must be an object")))?;
            for (name, value) in entries {
                self.claim("component", section, name, file)?;
                if !is_base {
                    object_at(object_at(&mut self.document, "components"), section).insert(name.clone(), value.clone());
                }
            }
        }
        Ok(())
    }

    fn add_tags(&mut self, file: &str, is_base: bool, tags: &Value) -> Result<(), OpenApiError> {
        let tags = tags.as_array().ok_or_else(|| fragment_error(file, "tags must be an array"))?;
        for tag in tags {
            let name = tag
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| fragment_error(file, "every tag needs a name"))?;
            self.claim("tag", "tags", name, file)?;
            if !is_base {
                match self.document.entry("tags").or_insert_with(|| Value::Array(Vec::new())) {
                    Value::Array(all) => all.push(tag.clone()),
                    _ => return Err(fragment_error(BASE, "tags must be an array")),
                }
            }
        }
        Ok(())
    }
}

/// The object under `key`, created when missing (a non-object is replaced: the fragments'
/// shapes were checked before).
fn object_at<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let value = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("made an object above")
}

/// Every `$ref` resolves inside the document; every operation has a `responses` object and
/// `x-atelier-roles` naming known roles (empty for public operations, which must also say
/// `"security": []`); an `operationId`, when given, is unique.
fn check(document: &Value) -> Result<(), OpenApiError> {
    let mut dangling = Vec::new();
    collect_dangling(document, document, &mut dangling);
    if !dangling.is_empty() {
        return Err(OpenApiError::Document(format!("unresolved $ref: {}", dangling.join(", "))));
    }
    let mut ids = BTreeSet::new();
    for (path, method, operation) in operations(document) {
        let at = format!("{} {path}", method.to_uppercase());
        if let Some(id) = operation.get("operationId").and_then(Value::as_str)
            && !ids.insert(id.to_owned())
        {
            return Err(OpenApiError::Document(format!("{at}: operationId {id} is used twice")));
        }
        if !operation.get("responses").is_some_and(Value::is_object) {
            return Err(OpenApiError::Document(format!("{at}: no responses")));
        }
        let roles = operation
            .get("x-atelier-roles")
            .and_then(Value::as_array)
            .ok_or_else(|| OpenApiError::Document(format!("{at}: no x-atelier-roles list")))?;
        if let Some(unknown) = roles.iter().find(|r| !r.as_str().is_some_and(|r| ROLES.contains(&r))) {
            return Err(OpenApiError::Document(format!("{at}: unknown role {unknown} (known: {})", ROLES.join(", "))));
        }
        let public = operation.get("security").and_then(Value::as_array).is_some_and(Vec::is_empty);
        if roles.is_empty() != public {
            return Err(OpenApiError::Document(format!(
                "{at}: an operation is public (\"security\": []) exactly when its x-atelier-roles is empty"
            )));
        }
    }
    Ok(())
}

fn collect_dangling(document: &Value, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let found = reference.strip_prefix('#').is_some_and(|pointer| document.pointer(pointer).is_some());
                if !found {
                    out.push(reference.clone());
                }
            }
            map.values().for_each(|v| collect_dangling(document, v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_dangling(document, v, out)),
        _ => {}
    }
}

/// `(path, method, operation)` of every operation of `document`.
pub fn operations(document: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    out.push((path.clone(), method.to_owned(), operation));
                }
            }
        }
    }
    out
}

/// The `GET /v1/openapi.json` route. When the fragments do not merge (a test catches that
/// long before a deployment does), the route answers 500.
pub fn router() -> Router {
    // Merged and serialised on the first request, not at init: doing it at start-up was the
    // largest share of workspaces-api's cold start (about 2 ms of 4.5, docs/benchmarks.md),
    // paid by every invocation environment for a route few callers use. The fragments are
    // compiled in and the `openapi` tests prove they merge, so the error arm is a build defect.
    static BODY: std::sync::OnceLock<Result<Bytes, String>> = std::sync::OnceLock::new();
    let serve = || async {
        let body = BODY.get_or_init(|| {
            let document = document().map_err(|e| e.to_string())?;
            serde_json::to_vec(&document).map(Bytes::from).map_err(|e| e.to_string())
        });
        match body {
            Ok(body) => {
                let mut response = body.clone().into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            Err(reason) => {
                tracing::error!(%reason, "the OpenAPI fragments do not merge");
                let problem = serde_json::json!({
                    "type": "about:blank",
                    "title": "Internal Server Error",
                    "status": 500,
                    "detail": "the API description is unavailable",
                });
                let mut response = (StatusCode::INTERNAL_SERVER_ERROR, problem.to_string()).into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
                response
            }
        }
    };
    Router::new().route("/v1/openapi.json", get(serve))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE_JSON: &str = r##"{"openapi":"3.1.0","info":{"title":"t","version":"1"},
        "components":{"schemas":{"Problem":{"type":"object"}}}}"##;

    fn op(id: &str) -> String {
        format!(
            r##"{{"operationId":"{id}","x-atelier-roles":["admin"],
            "responses":{{"200":{{"description":"ok","content":{{"application/json":{{"schema":{{"$ref":"#/components/schemas/Problem"}}}}}}}}}}}}"##
        )
    }

    #[test]
    fn the_shipped_fragments_merge() {
        let document = document().expect("the fragments in shared/web/openapi merge");
        assert!(FRAGMENTS.iter().any(|(name, _)| *name == "workspaces.json"), "build.rs listed the directory");
        assert_eq!(document["openapi"], "3.1.0");
        assert!(operations(&document).len() >= 20);
    }

    #[test]
    fn areas_are_merged_into_the_base() {
        let a = format!(r#"{{"paths":{{"/a":{{"get":{}}}}},"components":{{"schemas":{{"A":{{}}}}}}}}"#, op("a"));
        let b = format!(r#"{{"paths":{{"/b":{{"post":{}}}}},"tags":[{{"name":"b"}}]}}"#, op("b"));
        let document = merge(&[("a.json", &a), ("base.json", BASE_JSON), ("b.json", &b)]).expect("merges");
        assert!(document.pointer("/paths/~1a/get").is_some());
        assert!(document.pointer("/paths/~1b/post").is_some());
        assert!(document.pointer("/components/schemas/A").is_some());
        assert!(document.pointer("/components/schemas/Problem").is_some());
        assert_eq!(document["tags"][0]["name"], "b");
    }

    #[test]
    fn duplicates_are_refused_naming_both_files() {
        let a = format!(r#"{{"paths":{{"/a":{{"get":{}}}}}}}"#, op("a"));
        let again = format!(r#"{{"paths":{{"/a":{{"post":{}}}}}}}"#, op("a2"));
        let error = merge(&[("base.json", BASE_JSON), ("a.json", &a), ("z.json", &again)]).expect_err("duplicate path");
        assert_eq!(
            error,
            OpenApiError::Duplicate {
                what: "path",
                name: "/a".into(),
                first: "a.json".into(),
                second: "z.json".into()
            }
        );
        let schema = r#"{"components":{"schemas":{"Problem":{}}}}"#;
        let error = merge(&[("base.json", BASE_JSON), ("x.json", schema)]).expect_err("duplicate schema");
        assert!(matches!(error, OpenApiError::Duplicate { what: "component", .. }), "{error}");
    }

    #[test]
    fn broken_fragments_are_refused() {
        let cases = [
            ("not json", "is not JSON"),
            (r#"{"info":{}}"#, "unexpected top-level key"),
            (r##"{"components":{"schemas":{"B":{"$ref":"#/components/schemas/Nope"}}}}"##, "unresolved $ref"),
            (r#"{"paths":{"/c":{"get":{"operationId":"c","responses":{}}}}}"#, "no x-atelier-roles"),
            (r#"{"paths":{"/c":{"get":{"x-atelier-roles":["admin"]}}}}"#, "no responses"),
            (
                r#"{"paths":{"/c":{"get":{"operationId":"a","x-atelier-roles":["admin"],"responses":{}},
                "put":{"operationId":"a","x-atelier-roles":["admin"],"responses":{}}}}}"#,
                "used twice",
            ),
            (
                r#"{"paths":{"/c":{"get":{"operationId":"c","x-atelier-roles":["root"],"responses":{}}}}}"#,
                "unknown role",
            ),
            (r#"{"paths":{"/c":{"get":{"operationId":"c","x-atelier-roles":[],"responses":{}}}}}"#, "public"),
        ];
        for (fragment, expected) in cases {
            let error = merge(&[("base.json", BASE_JSON), ("x.json", fragment)]).expect_err(fragment).to_string();
            assert!(error.contains(expected), "{fragment}: {error}");
        }
        assert!(merge(&[("x.json", "{}")]).is_err(), "no base");
    }
}
