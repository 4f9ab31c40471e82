//! The workspace journey and the API's validation, through the router in-process.

use atelier_tests::spawn_app;
use http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_scientist_takes_a_workspace_through_its_whole_life() {
    let app = spawn_app().await;
    let created = app
        .post("alice", "/v1/workspaces", Some(json!({ "productId": "python-r-standard", "name": "Analyse 1" })))
        .await;
    assert_eq!(created.status, StatusCode::ACCEPTED, "{}", created.body);
    let id = created.str("id");
    assert!(id.starts_with("ws-") && id.len() == 29);
    assert_eq!(created.str("state"), "PROVISIONING");
    assert_eq!(created.str("owner"), "alice");
    assert_eq!(created.str("instanceType"), "m5.2xlarge");
    assert_eq!(created.body["error"], json!(null));

    assert_eq!(app.sync().await, 1);
    let running = app.get("alice", &format!("/v1/workspaces/{id}")).await;
    assert_eq!(running.str("state"), "RUNNING");
    assert!(running.str("instanceId").starts_with("i-"));
    assert_eq!(running.body["allowedActions"], json!(["stop", "hibernate", "terminate"]));

    let steps = [
        ("stop", "STOPPING", "STOPPED"),
        ("start", "STARTING", "RUNNING"),
        ("hibernate", "HIBERNATING", "HIBERNATED"),
        ("start", "STARTING", "RUNNING"),
    ];
    for (action, transitional, settled) in steps {
        let response = app.post("alice", &format!("/v1/workspaces/{id}/{action}"), None).await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{action}: {}", response.body);
        assert_eq!(response.str("state"), transitional);
        assert_eq!(app.sync().await, 1);
        assert_eq!(app.state("alice", &id).await, settled, "after {action}");
    }
    let terminating = app.delete("alice", &format!("/v1/workspaces/{id}")).await;
    assert_eq!(terminating.status, StatusCode::ACCEPTED);
    assert_eq!(terminating.str("state"), "TERMINATING");
    assert_eq!(app.sync().await, 1);
    assert_eq!(app.state("alice", &id).await, "TERMINATED");
    assert_eq!(app.sync().await, 0, "state-sync is idempotent");

    let events = app.get("alice", &format!("/v1/workspaces/{id}/events")).await;
    assert_eq!(events.status, StatusCode::OK);
    let items = events.body["items"].as_array().expect("items").clone();
    let summary: Vec<(String, String, String)> = items
        .iter()
        .rev()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("alice", "create", "PROVISIONING"),
        ("state-sync", "sync", "RUNNING"),
        ("alice", "stop", "STOPPING"),
        ("state-sync", "sync", "STOPPED"),
        ("alice", "start", "STARTING"),
        ("state-sync", "sync", "RUNNING"),
        ("alice", "hibernate", "HIBERNATING"),
        ("state-sync", "sync", "HIBERNATED"),
        ("alice", "start", "STARTING"),
        ("state-sync", "sync", "RUNNING"),
        ("alice", "terminate", "TERMINATING"),
        ("state-sync", "sync", "TERMINATED"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(summary, expected);
    // Newest first, each with its from-state and an RFC 3339 time.
    let times: Vec<jiff::Timestamp> = items.iter().map(|e| e["at"].as_str().unwrap().parse().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]));
    assert_eq!(items.last().unwrap()["from"], json!(null));
    assert_eq!(items[0]["from"], json!("TERMINATING"));
}

#[tokio::test]
async fn illegal_actions_answer_409_naming_the_state() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "small-t3-large").await;
    let response = app.post("alice", &format!("/v1/workspaces/{id}/start"), None).await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert_eq!(response.str("type"), "/problems/illegal-transition");
    assert!(response.str("detail").contains("RUNNING"), "{}", response.body);
    assert_eq!(response.headers["content-type"], "application/problem+json");

    app.post("alice", &format!("/v1/workspaces/{id}/stop"), None).await;
    let response = app.post("alice", &format!("/v1/workspaces/{id}/stop"), None).await;
    assert_eq!(response.status, StatusCode::CONFLICT);
    assert!(response.str("detail").contains("STOPPING"), "{}", response.body);
}

#[tokio::test]
async fn hibernating_a_product_without_hibernation_is_unprocessable() {
    let app = spawn_app().await;
    let id = app.running_workspace("alice", "memory-r5-8xlarge").await;
    let running = app.get("alice", &format!("/v1/workspaces/{id}")).await;
    assert_eq!(running.body["allowedActions"], json!(["stop", "terminate"]));
    let response = app.post("alice", &format!("/v1/workspaces/{id}/hibernate"), None).await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", response.body);
    assert_eq!(response.str("type"), "/problems/unprocessable");
    assert_eq!(app.state("alice", &id).await, "RUNNING", "nothing changed");
}

#[tokio::test]
async fn bad_requests_name_the_field_and_write_nothing() {
    let app = spawn_app().await;
    let cases = [
        (json!({ "productId": "python-r-standard", "name": "ok", "size": "huge" }), StatusCode::BAD_REQUEST, "size"),
        (json!({ "productId": "python-r-standard" }), StatusCode::BAD_REQUEST, "name"),
        (json!({ "productId": "python-r-standard", "name": "" }), StatusCode::BAD_REQUEST, "name"),
        (json!({ "productId": "python-r-standard", "name": "<script>" }), StatusCode::BAD_REQUEST, "name"),
        (json!({ "productId": "python-r-standard", "name": "x".repeat(65) }), StatusCode::BAD_REQUEST, "name"),
        (json!({ "productId": 7, "name": "ok" }), StatusCode::BAD_REQUEST, "productId"),
        (json!({ "productId": "Not A Slug", "name": "ok" }), StatusCode::BAD_REQUEST, "productId"),
    ];
    for (body, status, field) in cases {
        let response = app.post("alice", "/v1/workspaces", Some(body.clone())).await;
        assert_eq!(response.status, status, "{body}: {}", response.body);
        assert_eq!(response.str("field"), field, "{body}: {}", response.body);
        assert_eq!(response.headers["content-type"], "application/problem+json");
    }
    // A product nobody has, and one alice may not launch, answer alike: nothing to learn.
    for product in ["no-such-product", "memory-r5-8xlarge-hidden"] {
        let response = app.post("alice", "/v1/workspaces", Some(json!({ "productId": product, "name": "ok" }))).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{product}: {}", response.body);
        assert_eq!(response.str("detail"), "product not found");
    }
    let token = app.token("alice").await;
    let not_json =
        app.call_with(Method::POST, "/v1/workspaces", Some(&token), None, &[("content-type", "text/plain")]).await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let listed = app.get("alice", "/v1/workspaces").await;
    assert_eq!(listed.body["items"], json!([]), "nothing was written");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let body = json!({ "productId": "python-r-standard", "name": "a".repeat(100 * 1024) });
    let response = app.post("alice", "/v1/workspaces", Some(body)).await;
    assert_eq!(response.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", response.body);
    assert_eq!(response.str("type"), "/problems/payload-too-large");
    assert_eq!(response.headers["content-type"], "application/problem+json");
}

#[tokio::test]
async fn a_wrong_method_is_a_problem_document() {
    let app = spawn_app().await;
    let token = app.token("alice").await;
    let response = app.call(Method::PUT, "/v1/workspaces", Some(&token), None).await;
    assert_eq!(response.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.str("type"), "/problems/method-not-allowed");
}

#[tokio::test]
async fn an_idempotency_key_creates_one_workspace() {
    let app = spawn_app().await;
    let token = app.token("alice").await;
    let body = json!({ "productId": "python-r-standard", "name": "Once" });
    let key = [("idempotency-key", "5f0c2a7e-retry-1")];
    let first = app.call_with(Method::POST, "/v1/workspaces", Some(&token), Some(body.clone()), &key).await;
    let second = app.call_with(Method::POST, "/v1/workspaces", Some(&token), Some(body), &key).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(second.status, StatusCode::ACCEPTED);
    assert_eq!(first.str("id"), second.str("id"));
    let other = json!({ "productId": "small-t3-large", "name": "Once" });
    let conflict = app.call_with(Method::POST, "/v1/workspaces", Some(&token), Some(other), &key).await;
    assert_eq!(conflict.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", conflict.body);
    assert_eq!(conflict.str("field"), "Idempotency-Key");
    let listed = app.get("alice", "/v1/workspaces").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    // The same key from another user is another request.
    let bob = app.token("bob").await;
    let bobs = app
        .call_with(
            Method::POST,
            "/v1/workspaces",
            Some(&bob),
            Some(json!({ "productId": "small-t3-large", "name": "Once" })),
            &key,
        )
        .await;
    assert_eq!(bobs.status, StatusCode::ACCEPTED);
    assert_ne!(bobs.str("id"), first.str("id"));
}

#[tokio::test]
async fn lists_are_paged_and_tokens_stay_in_their_list() {
    let app = spawn_app().await;
    for name in ["one", "two", "three"] {
        app.create_workspace("alice", "small-t3-large", name).await;
    }
    let first = app.get("alice", "/v1/workspaces?limit=2").await;
    assert_eq!(first.status, StatusCode::OK);
    let names: Vec<&str> =
        first.body["items"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["three", "two"], "newest first");
    let token = first.str("nextToken");
    let second = app.get("alice", &format!("/v1/workspaces?limit=2&nextToken={token}")).await;
    let names: Vec<&str> =
        second.body["items"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["one"]);
    // Alice's token cannot page through bob's list.
    let stolen = app.get("bob", &format!("/v1/workspaces?limit=2&nextToken={token}")).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST);
    assert_eq!(stolen.str("field"), "nextToken");
    for bad in ["limit=0", "limit=101", "limit=x", "colour=blue", "nextToken=%%%"] {
        let response = app.get("alice", &format!("/v1/workspaces?{bad}")).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}: {}", response.body);
    }
}

#[tokio::test]
async fn me_and_products_describe_the_caller_and_the_catalog() {
    let app = spawn_app().await;
    let me = app.get("alice", "/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.str("username"), "alice");
    assert_eq!(me.str("email"), "alice@atelier.test");
    assert_eq!(me.str("costCentre"), "CC-ONCOLOGY");
    // Role groups and data groups alike (the seed puts alice in `oncology`, see datasets).
    let mut groups: Vec<&str> = me.body["groups"].as_array().unwrap().iter().filter_map(|g| g.as_str()).collect();
    groups.sort_unstable();
    assert_eq!(groups, ["oncology", "scientists"]);
    assert!(!me.str("sub").is_empty());

    let products = app.get("bob", "/v1/products").await;
    assert_eq!(products.status, StatusCode::OK);
    let items = products.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let standard = items.iter().find(|p| p["id"] == "python-r-standard").expect("the standard product");
    assert_eq!(standard["hourlyPrice"], json!({ "amount": "0.35", "currency": "EUR" }));
    assert_eq!(standard["vcpus"], json!(8));
    assert_eq!(standard["memoryGiB"], json!(32));
    assert_eq!(standard["hibernation"], json!(true));
    assert_eq!(products.body["nextToken"], json!(null));

    let config = app.call(Method::GET, "/config.json", None, None).await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.str("userPoolId"), app.seeded.user_pool_id);
    assert_eq!(config.str("userPoolClientId"), app.seeded.client_id);
    assert_eq!(config.str("region"), "eu-west-3");
}

#[tokio::test]
async fn unknown_routes_are_problem_documents() {
    let app = spawn_app().await;
    let response = app.get("alice", "/v1/nothing-here").await;
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(response.str("type"), "/problems/not-found");
}
