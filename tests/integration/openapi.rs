//! The OpenAPI document (shared/web/openapi/*.json, served at /v1/openapi.json) against the
//! routers and the authorization matrix: every route is documented, every documented
//! operation is routed, and the roles it lists agree with who the matrix lets in.

use std::collections::BTreeSet;

use atelier_tests::spawn_app;
use http::{Method, StatusCode};

use crate::authorization::{ROLES, registered_routes, resource_rows, rows};

fn documented() -> BTreeSet<(String, String)> {
    let document = atelier_web::openapi::document().expect("the fragments merge");
    atelier_web::openapi::operations(&document)
        .into_iter()
        .map(|(path, method, _)| (method.to_uppercase(), path))
        .collect()
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let registered = registered_routes();
    let documented = documented();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(undocumented.is_empty(), "routes missing from shared/web/openapi/*.json: {undocumented:?}");
    let unrouted: Vec<_> = documented.difference(&registered).collect();
    assert!(unrouted.is_empty(), "documented operations no router registers: {unrouted:?}");
    println!("openapi: {} operations documented, {} routes registered", documented.len(), registered.len());
}

#[test]
fn exactly_the_limited_operations_document_429() {
    let document = atelier_web::openapi::document().expect("the fragments merge");
    let mut problems = Vec::new();
    let mut limited = 0;
    for (path, method, operation) in atelier_web::openapi::operations(&document) {
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let limit = atelier_web::limits::limit_for(&method, &path);
        limited += usize::from(limit.is_some());
        let documented = operation["responses"].get("429").is_some();
        if limit.is_some() != documented {
            problems.push(format!("{method} {path}: limited {}, 429 documented {documented}", limit.is_some()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert_eq!(limited, 4, "the four limited operations are all documented routes");
}

#[test]
fn documented_roles_agree_with_the_authorization_matrix() {
    let document = atelier_web::openapi::document().expect("the fragments merge");
    let role_of = |user: &str| match user {
        "alice" | "bob" => "scientist",
        "ada" => "admin",
        "fiona" => "finance",
        _ => "anonymous",
    };
    let mut problems = Vec::new();
    for row in rows() {
        let path = row.path.split('?').next().unwrap_or_default();
        let pointer =
            format!("/paths/{}/{}", path.replace('~', "~0").replace('/', "~1"), row.method.as_str().to_lowercase());
        let Some(operation) = document.pointer(&pointer) else {
            problems.push(format!("{} {path}: not documented", row.method));
            continue;
        };
        let roles: Vec<&str> =
            operation["x-atelier-roles"].as_array().unwrap().iter().filter_map(|r| r.as_str()).collect();
        for (user, expected) in ROLES.iter().zip(row.expected) {
            let role = role_of(user);
            // Public operations (no roles listed) are open to everyone.
            let listed = roles.is_empty() || roles.contains(&role);
            let success = (200..300).contains(&expected);
            // A role the matrix lets through must be listed; a role refused with 403 must not.
            // (404 and 409 say nothing: the role may call the route, not on this resource. A
            // row with a query, such as ?all=true, tries an admin-only option of a route.)
            if success && !listed {
                problems.push(format!(
                    "{} {} as {user}: {expected} in the matrix, {role} not in x-atelier-roles",
                    row.method, row.path
                ));
            }
            if !row.path.contains('?') && (expected == 403 || (role == "anonymous" && expected == 401)) && listed {
                problems.push(format!(
                    "{} {} as {user}: {expected} in the matrix, but {role} is documented",
                    row.method, row.path
                ));
            }
            let documented_statuses = operation["responses"].as_object().unwrap();
            if !documented_statuses.contains_key(&expected.to_string()) {
                problems.push(format!("{} {}: status {expected} is not documented", row.method, row.path));
            }
        }
    }
    // The workspace routes on the caller's own, someone else's and a missing workspace.
    for row in resource_rows() {
        let pointer = format!("/paths/{}/{}", row.path.replace('/', "~1"), row.method.as_str().to_lowercase());
        let operation = document.pointer(&pointer).expect("documented (checked above)");
        let roles: Vec<&str> =
            operation["x-atelier-roles"].as_array().unwrap().iter().filter_map(|r| r.as_str()).collect();
        for (i, user) in ROLES.iter().enumerate() {
            for expected in [row.own[i], row.others[i], row.missing[i]] {
                if (200..300).contains(&expected) && !roles.contains(&role_of(user)) {
                    problems
                        .push(format!("{} {} as {user}: {expected}, but not in x-atelier-roles", row.method, row.path));
                }
                if expected != 0 && !operation["responses"].as_object().unwrap().contains_key(&expected.to_string()) {
                    problems.push(format!("{} {}: status {expected} is not documented", row.method, row.path));
                }
            }
        }
    }
    assert!(problems.is_empty(), "the OpenAPI roles disagree with the matrix:\n{}", problems.join("\n"));
}

#[tokio::test]
async fn the_document_is_served_without_a_token() {
    let app = spawn_app().await;
    let response = app.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.headers["content-type"], "application/json");
    assert_eq!(response.body, atelier_web::openapi::document().expect("merges"));
    assert_eq!(response.body["openapi"], "3.1.0");
}
