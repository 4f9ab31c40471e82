//! The composition root's wiring, as deployed: each API function's router (the one its
//! `main.rs` serves) answers every documented operation it owns, the two functions own
//! every operation between them and none twice, and the dev server's portal never answers
//! for the API.

use atelier_tests::{TestApp, call_router, spawn_app};
use axum::Router;
use http::{Method, StatusCode};

/// Whether `router` has a route for `method path` (a real path for the template): an
/// unknown route answers the `no such route` problem, a known one anything else (401
/// without a token, 200 for the public document).
async fn routes(router: &Router, method: &Method, path: &str) -> bool {
    let response = call_router(router, method.clone(), path, None, None, &[]).await;
    !(response.status == StatusCode::NOT_FOUND && response.body["detail"] == "no such route")
}

/// A path of the template with every `{parameter}` filled in.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| if segment.starts_with('{') { "ws-0123456789abcdefghjkmnpqrs" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn each_documented_operation_is_served_by_exactly_one_deployed_function() {
    let app: TestApp = spawn_app().await;
    let root = &app.app.root;
    let functions = [("workspaces-api", root.workspaces_api()), ("catalog-api", root.catalog_api())];
    let document = atelier_web::openapi::document().expect("the fragments merge");
    let mut served = std::collections::BTreeMap::new();
    for (path, method, _) in atelier_web::openapi::operations(&document) {
        let method: Method = method.to_uppercase().parse().expect("an HTTP method");
        let url = concrete(&path);
        if path == "/config.json" {
            // In AWS CloudFront serves it from the portal bucket (infra/write-config.sh); no
            // function does. Locally the dev server and the harness serve it.
            for (name, router) in &functions {
                assert!(!routes(router, &method, &url).await, "{name} serves {path}");
            }
            assert!(routes(&app.router, &method, &url).await, "the local router serves {path}");
            continue;
        }
        let mut owners = Vec::new();
        for (name, router) in &functions {
            if routes(router, &method, &url).await {
                owners.push(*name);
            }
        }
        assert_eq!(owners.len(), 1, "{method} {path} is served by {owners:?}");
        assert!(routes(&app.router, &method, &url).await, "{method} {path}: the merged API router serves it too");
        *served.entry(owners[0]).or_insert(0) += 1;
    }
    // /v1/products (list, publish), /v1/products/{id} (read, edit, unpublish), its prices
    // and its history.
    assert_eq!(served.get("catalog-api"), Some(&7), "catalog-api serves the catalog only: {served:?}");
    assert!(served.get("workspaces-api").is_some_and(|n| *n >= 30), "{served:?}");
    // Both deployed routers answer an unknown route with the problem document.
    for (name, router) in &functions {
        let response = call_router(router, Method::GET, "/v1/nonexistent", None, None, &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{name}");
        assert_eq!(response.headers["content-type"], "application/problem+json", "{name}");
    }
}

#[tokio::test]
async fn the_dev_servers_portal_never_answers_for_the_api() {
    let app = spawn_app().await;
    let dist = std::env::temp_dir().join(atelier_tests::unique("portal-dist"));
    std::fs::create_dir_all(dist.join("assets")).expect("a portal folder");
    std::fs::write(dist.join("index.html"), "<!doctype html><title>Atelier</title>").expect("index.html");
    std::fs::write(dist.join("assets/app.js"), "console.log('atelier')").expect("an asset");
    let router = app.app.router_with_portal(&dist);

    for path in ["/v1/nonexistent", "/v1", "/v1/workspaces/ws-0123456789abcdefghjkmnpqrs/nothing", "/_local/nothing"] {
        let response = call_router(&router, Method::GET, path, None, None, &[]).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers["content-type"], "application/problem+json", "{path}");
        assert_eq!(response.body["type"], "/problems/not-found", "{path}");
    }
    // Portal routes get the single-page app; assets come from their folder only.
    let (status, content_type) = text(&router, "/workspaces/ws-0123456789abcdefghjkmnpqrs").await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "text/html"));
    let (status, _) = text(&router, "/assets/app.js").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = text(&router, "/assets/missing.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a missing asset is not the portal");
    // The API and the portal configuration are still there.
    let config = call_router(&router, Method::GET, "/config.json", None, None, &[]).await;
    assert_eq!(config.status, StatusCode::OK);
    let products = call_router(&router, Method::GET, "/v1/products", None, None, &[]).await;
    assert_eq!(products.status, StatusCode::UNAUTHORIZED);
    std::fs::remove_dir_all(&dist).expect("clean up");
}

/// Status and content type of `GET path`.
async fn text(router: &Router, path: &str) -> (StatusCode, String) {
    use tower::ServiceExt;
    let request = http::Request::get(path).body(axum::body::Body::empty()).expect("a request");
    let response = router.clone().oneshot(request).await.expect("an answer");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    (response.status(), content_type)
}
