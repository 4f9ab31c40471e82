//! The catalog as an operator goes live with it: a product created in Service Catalog
//! (moto's), published by an admin through the API with its price and visibility, launched
//! by the people its groups name and nobody else, repriced from an instant on, and
//! unpublished without touching what runs. And `ec2-launch`, hardened: a workspace named
//! `l'étude 2` reaches RUNNING in the private subnet, without a public address, encrypted
//! with the workspace key.

use atelier_tests::{TestApp, spawn_app, unique};
use http::StatusCode;
use serde_json::json;

/// Creates a product in moto's Service Catalog, as the platform team's portfolio stack does.
async fn service_catalog_product(app: &TestApp, name: &str) -> String {
    let sc = aws_sdk_servicecatalog::Client::new(&app.sdk);
    let created = sc
        .create_product()
        .name(name)
        .owner("Platform team")
        .description("Oncology notebooks: JupyterLab and the oncology datasets.")
        .product_type(aws_sdk_servicecatalog::types::ProductType::CloudFormationTemplate)
        .idempotency_token(unique("token"))
        .send()
        .await
        .expect("CreateProduct");
    created
        .product_view_detail()
        .and_then(|d| d.product_view_summary())
        .and_then(|p| p.product_id())
        .unwrap()
        .to_owned()
}

/// The matrix's publish request, visible to `oncology` (alice's group, not bob's).
fn publish_body(id: &str, sc_id: &str) -> serde_json::Value {
    let mut body = crate::authorization::publish_body(id, sc_id);
    body["visibleTo"] = json!(["oncology"]);
    body
}

#[tokio::test]
async fn ada_publishes_from_service_catalog_alice_launches_bob_cannot_and_unpublishing_leaves_it_running() {
    let app = spawn_app().await;
    let name = unique("Oncology notebook");
    let sc_id = service_catalog_product(&app, &name).await;

    // Published: name and description from Service Catalog, vCPUs and memory from EC2.
    let published = app.post("ada", "/v1/products", Some(publish_body("onco-notebook", &sc_id))).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.body);
    let product = &published.body;
    assert_eq!(product["name"], name.as_str());
    assert_eq!(product["description"], "Oncology notebooks: JupyterLab and the oncology datasets.");
    assert_eq!((product["vcpus"].as_u64(), product["memoryGiB"].as_u64()), (Some(2), Some(8)), "EC2's t3.large");
    assert_eq!(product["serviceCatalog"]["productId"], sc_id.as_str());
    assert_eq!(product["hourlyPrice"], json!({ "amount": "0.09", "currency": "EUR" }));
    assert_eq!(product["version"], 1);

    // Seen by the groups it names: alice (oncology) yes, bob (scientists only) no.
    let listed = |user: &'static str| {
        let app = &app;
        async move {
            let page = app.get(user, "/v1/products").await;
            page.body["items"].as_array().unwrap().iter().any(|p| p["id"] == "onco-notebook")
        }
    };
    assert!(listed("alice").await);
    assert!(!listed("bob").await);
    assert_eq!(app.get("bob", "/v1/products/onco-notebook").await.status, StatusCode::NOT_FOUND);
    let bob = app.post("bob", "/v1/workspaces", Some(json!({ "productId": "onco-notebook", "name": "try" }))).await;
    assert_eq!(bob.status, StatusCode::NOT_FOUND, "{}", bob.body);
    assert!(app.get("alice", "/v1/products/onco-notebook").await.body.get("visibleTo").is_none(), "admin fields");

    // alice launches it; the workspace records what it launched with.
    let id = app.create_workspace("alice", "onco-notebook", "Onco 1").await;
    app.sync().await;
    assert_eq!(app.state("alice", &id).await, "RUNNING");
    let stored =
        app.app.root.workspace_store().get(&atelier_domain::WorkspaceId::parse(&id).unwrap()).await.unwrap().unwrap();
    let launch = stored.launch.expect("a launch record");
    assert_eq!((launch.product_version, launch.volume_gib), (1, 50));
    assert_eq!(launch.provisioned_volume_gib, Some(50), "DescribeVolumes on moto's instance");
    assert!(launch.price_version.is_some());

    // A price version from an instant on: refused in the past, taken in the future.
    let version = |from: jiff::Timestamp| json!({ "computePerHour": "0.12", "storagePerGbMonth": "0.0928", "currency": "EUR", "effectiveFrom": from.to_string() });
    let past = app
        .post(
            "ada",
            "/v1/products/onco-notebook/prices",
            Some(version(jiff::Timestamp::now() - jiff::SignedDuration::from_mins(1))),
        )
        .await;
    assert_eq!(
        (past.status, past.str("field").as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "effectiveFrom"),
        "{}",
        past.body
    );
    let from = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2);
    let priced = app.post("ada", "/v1/products/onco-notebook/prices", Some(version(from))).await;
    assert_eq!(priced.status, StatusCode::CREATED, "{}", priced.body);
    assert_eq!(priced.body["prices"].as_array().unwrap().len(), 2);
    assert_eq!(priced.body["hourlyPrice"]["amount"], "0.09", "not yet in force");
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    assert_eq!(app.get("alice", "/v1/products/onco-notebook").await.body["hourlyPrice"]["amount"], "0.12");

    // Unpublished: nobody launches it, alice's workspace runs on, and the history says it all.
    let gone = app.delete("ada", "/v1/products/onco-notebook").await;
    assert_eq!((gone.status, gone.body["published"].as_bool()), (StatusCode::OK, Some(false)), "{}", gone.body);
    assert!(!listed("alice").await);
    let again =
        app.post("alice", "/v1/workspaces", Some(json!({ "productId": "onco-notebook", "name": "again" }))).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    app.sync().await;
    assert_eq!(app.state("alice", &id).await, "RUNNING");
    let events = app.get("ada", "/v1/products/onco-notebook/events").await;
    let actions: Vec<&str> =
        events.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["unpublish", "price", "publish"], "newest first");
    assert!(events.body["items"].as_array().unwrap().iter().all(|e| e["actor"] == "ada"));
}

#[tokio::test]
async fn what_service_catalog_and_ec2_do_not_know_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let sc_id = service_catalog_product(&app, &unique("Refusals")).await;
    let cases = [
        (json!({ "serviceCatalogProductId": "prod-unknown" }), "serviceCatalogProductId"),
        (json!({ "instanceType": "m9.huge" }), "instanceType"),
        (json!({ "instanceType": "r5.8xlarge", "volumeGiB": 400 }), "hibernation"),
        (json!({ "instanceType": "m5.2xlarge", "volumeGiB": 40 }), "volumeGiB"),
        (json!({ "launchPathId": "lpv2-abc" }), "launchPathId"),
        (json!({ "visibleTo": [] }), "visibleTo"),
        (
            json!({ "price": { "computePerHour": "-1", "storagePerGbMonth": "0", "currency": "EUR" } }),
            "price.computePerHour",
        ),
        (json!({ "id": "small-t3-large" }), "id"),
    ];
    for (change, field) in cases {
        let mut body = publish_body(&unique("refused"), &sc_id);
        for (key, value) in change.as_object().unwrap() {
            body[key] = value.clone();
        }
        let response = app.post("ada", "/v1/products", Some(body.clone())).await;
        assert!(response.status.is_client_error(), "{body}: {}", response.body);
        assert_eq!(response.str("field"), field, "{body}: {}", response.body);
    }
}

#[tokio::test]
async fn a_workspace_named_l_etude_2_reaches_running_through_the_hardened_ec2_launch() {
    let app = spawn_app().await;
    let id = app.create_workspace("alice", "python-r-standard", "l'étude 2").await;
    app.sync().await;
    assert_eq!(app.state("alice", &id).await, "RUNNING");
    let workspace = app.get("alice", &format!("/v1/workspaces/{id}")).await;
    assert_eq!(workspace.body["name"], "l'étude 2");

    let ec2 = aws_sdk_ec2::Client::new(&app.sdk);
    let instance_id = app
        .app
        .root
        .workspace_store()
        .get(&atelier_domain::WorkspaceId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap()
        .provisioned
        .instance_id
        .unwrap();
    let described = ec2.describe_instances().instance_ids(&instance_id).send().await.unwrap();
    let instance = described.reservations()[0].instances()[0].clone();
    let network = &app.seeded.ec2_launch;
    assert_eq!(instance.subnet_id(), Some(network.subnet_id.as_str()), "the private workspace subnet");
    assert_eq!(instance.public_ip_address(), None, "no public address");
    // The primary interface's groups (moto leaves the instance-level list empty when the
    // groups come with the interface; EC2 shows the same groups in both).
    let interface = &instance.network_interfaces()[0];
    let groups: Vec<&str> = interface.groups().iter().filter_map(|g| g.group_id()).collect();
    assert_eq!(groups, [network.security_group_id.as_str()], "the workspace group only");
    assert_eq!(interface.association().and_then(|a| a.public_ip()), None, "no public address on the interface");
    let tag =
        |key: &str| instance.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value()).map(str::to_owned);
    assert_eq!(tag("Name").as_deref(), Some("l'étude 2"), "EC2 tag values take any name the API accepts");
    assert_eq!(tag("atelier:workspace").as_deref(), Some(id.as_str()));
    let options = instance.metadata_options().unwrap();
    assert_eq!(options.http_tokens().map(|t| t.as_str()), Some("required"));
    let volumes = ec2
        .describe_volumes()
        .filters(aws_sdk_ec2::types::Filter::builder().name("attachment.instance-id").values(&instance_id).build())
        .send()
        .await
        .unwrap();
    let volume = &volumes.volumes()[0];
    assert_eq!((volume.size(), volume.encrypted()), (Some(100), Some(true)));
    assert_eq!(volume.kms_key_id(), Some(network.kms_key_id.as_str()), "the workspace key, not the account default");
}

#[tokio::test]
async fn an_idempotency_key_binds_the_whole_body_datasets_included() {
    let app = spawn_app().await;
    let dataset = unique("idem");
    app.register_dataset(&dataset, &["oncology"], &[]).await;
    let token = app.token("alice").await;
    let key = unique("key");
    let body =
        |datasets: serde_json::Value| json!({ "productId": "small-t3-large", "name": "Keyed", "datasets": datasets });
    let first = app
        .call_with(
            http::Method::POST,
            "/v1/workspaces",
            Some(&token),
            Some(body(json!([]))),
            &[("idempotency-key", key.as_str())],
        )
        .await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let replay = app
        .call_with(
            http::Method::POST,
            "/v1/workspaces",
            Some(&token),
            Some(body(json!([]))),
            &[("idempotency-key", key.as_str())],
        )
        .await;
    assert_eq!(replay.str("id"), first.str("id"), "same key, same body: the same workspace");
    let other = app
        .call_with(
            http::Method::POST,
            "/v1/workspaces",
            Some(&token),
            Some(body(json!([dataset]))),
            &[("idempotency-key", key.as_str())],
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY, "another body under the same key: {}", other.body);
}
