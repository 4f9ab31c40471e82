//! Dataset access as AWS enforces it (issue 16): each workspace's own IAM role, its data
//! policy read back from IAM, S3 reads evaluated by moto's IAM enforcement with the role's
//! assumed credentials, the data-access pass (revocation, repair, role deletion, mount
//! reports), and the guard that keeps an attach and a delete of one dataset from both
//! succeeding.

use atelier_adapters::iam::{DATA_POLICY, ROLE_PATH, decode_policy};
use atelier_devstack::{MotoServer, sdk_config};
use atelier_domain::datasets::policy::readable_object_arns;
use aws_credential_types::Credentials;
use aws_sdk_iam::Client as Iam;
use aws_sdk_s3::{Client as S3, primitives::ByteStream};
use http::StatusCode;
use serde_json::{Value, json};

use atelier_tests::{TestApp, spawn_app, spawn_app_on};

/// The machine of workspace `ws`, as its owner sees it.
async fn instance_of(app: &TestApp, owner: &str, ws: &str) -> String {
    app.get(owner, &format!("/v1/workspaces/{ws}")).await.body["instanceId"].as_str().expect("an instance").to_owned()
}

/// The data policy IAM holds for `ws`'s role (`None`: no role), decoded.
async fn data_policy(iam: &Iam, ws: &str) -> Option<Value> {
    let out = iam.get_role_policy().role_name(format!("atelier-{ws}")).policy_name(DATA_POLICY).send().await;
    let doc = match out {
        Ok(out) => out.policy_document,
        Err(e) if format!("{e:?}").contains("NoSuchEntity") => return None,
        Err(e) => panic!("GetRolePolicy: {e:?}"),
    };
    Some(serde_json::from_str(&decode_policy(&doc)).expect("a JSON policy"))
}

/// The object ARNs `ws`'s role may read, from IAM.
async fn readable(iam: &Iam, ws: &str) -> Vec<String> {
    data_policy(iam, ws).await.map(|doc| readable_object_arns(&doc)).unwrap_or_default()
}

fn s3_with(config: &aws_config::SdkConfig, credentials: Option<Credentials>) -> S3 {
    let mut builder = aws_sdk_s3::config::Builder::from(config).force_path_style(true);
    if let Some(credentials) = credentials {
        builder = builder.credentials_provider(credentials);
    }
    S3::from_conf(builder.build())
}

/// Whether `s3` may read `key` of `bucket`: `true` when served, `false` when refused
/// (403); anything else fails the test.
async fn can_read(s3: &S3, bucket: &str, key: &str) -> bool {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(_) => true,
        Err(e) => {
            let text = format!("{e:?}");
            assert!(text.contains("AccessDenied") || text.contains("403"), "{key}: not a refusal: {text}");
            false
        }
    }
}

/// The credentials a machine of workspace `ws` holds: its role, assumed.
async fn machine_credentials(config: &aws_config::SdkConfig, ws: &str) -> Credentials {
    let iam = Iam::new(config);
    let role = iam.get_role().role_name(format!("atelier-{ws}")).send().await.expect("the workspace role");
    let arn = role.role.expect("a role").arn;
    let sts = aws_sdk_sts::Client::new(config);
    let out = sts.assume_role().role_arn(arn).role_session_name("i-machine").send().await.expect("AssumeRole");
    let c = out.credentials.expect("credentials");
    Credentials::new(c.access_key_id, c.secret_access_key, Some(c.session_token), None, "workspace-role")
}

/// An IAM user allowed everything: the control plane's identity once moto enforces IAM.
async fn control_plane_user(config: &aws_config::SdkConfig) -> Credentials {
    let iam = Iam::new(config);
    iam.create_user().user_name("control-plane").send().await.expect("CreateUser");
    let admin = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    iam.put_user_policy()
        .user_name("control-plane")
        .policy_name("everything")
        .policy_document(admin.to_string())
        .send()
        .await
        .expect("PutUserPolicy");
    let key = iam.create_access_key().user_name("control-plane").send().await.expect("CreateAccessKey");
    let key = key.access_key.expect("a key");
    Credentials::new(key.access_key_id, key.secret_access_key, None, None, "control-plane")
}

/// Switches moto's IAM enforcement on: from now on every request is authenticated and
/// authorised against the IAM policies moto holds.
async fn enforce_iam(endpoint: &str) {
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/moto-api/reset-auth"))
        .header("content-type", "text/plain")
        .body("0")
        .send()
        .await
        .expect("reset-auth");
    assert!(response.status().is_success(), "reset-auth: {}", response.status());
}

/// The proof: with moto evaluating IAM, a workspace's own credentials read its
/// attached prefix, not another prefix of the same bucket, not after the revocation; the
/// other scientist's workspace never could.
#[tokio::test]
async fn aws_lets_a_machine_read_exactly_its_attached_prefix_until_revoked() {
    let moto = MotoServer::start(None).expect("a moto server of this test's own");
    let endpoint = moto.endpoint();
    let unchecked = sdk_config(&endpoint).await;
    let control_plane = control_plane_user(&unchecked).await;
    let lake = "atelier-lake";
    let s3 = s3_with(&unchecked, None);
    let region = unchecked.region().expect("a region").to_string();
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region.as_str()))
        .build();
    s3.create_bucket().bucket(lake).create_bucket_configuration(location).send().await.expect("CreateBucket");
    for key in ["onco-2026/patients.csv", "cardio-2026/patients.csv"] {
        let body = ByteStream::from_static(b"id,age\n1,54\n");
        s3.put_object().bucket(lake).key(key).body(body).send().await.expect("PutObject");
    }

    let app = spawn_app_on(&endpoint, Some(control_plane.clone()), 5).await;
    app.register_dataset("onco-2026", &[], &["alice"]).await;
    let launch = json!({ "productId": "small-t3-large", "name": "l'étude 2", "datasets": ["onco-2026"] });
    let alices = app.post("alice", "/v1/workspaces", Some(launch)).await;
    assert_eq!(alices.status, StatusCode::ACCEPTED, "{}", alices.body);
    let alices = alices.str("id");
    let bobs = app.create_workspace("bob", "small-t3-large", "Bob's").await;
    app.sync().await;
    // Every token the test needs, before requests must be signed by IAM principals.
    app.token("ada").await;
    // What EC2 does for a machine (the role trusts ec2.amazonaws.com only, which IAM,
    // and moto once enforcing, refuse to anyone else): assume the role, for each machine.
    let alice_keys = machine_credentials(&unchecked, &alices).await;
    let bob_keys = machine_credentials(&unchecked, &bobs).await;

    enforce_iam(&endpoint).await;
    let checked = unchecked
        .to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(control_plane))
        .build();
    let unknown = s3_with(&unchecked, None);
    assert!(!can_read(&unknown, lake, "onco-2026/patients.csv").await, "moto enforces IAM: unknown keys are refused");

    let alice_machine = s3_with(&checked, Some(alice_keys));
    let bob_machine = s3_with(&checked, Some(bob_keys));
    assert!(can_read(&alice_machine, lake, "onco-2026/patients.csv").await, "the attached prefix");
    assert!(!can_read(&alice_machine, lake, "cardio-2026/patients.csv").await, "another prefix of the same bucket");
    assert!(!can_read(&bob_machine, lake, "onco-2026/patients.csv").await, "bob's workspace never could");

    // ada removes alice from the readers; the next data-access pass detaches, and IAM
    // refuses the very same credentials.
    app.set_readers("onco-2026", &[], &[]).await;
    let report = app.app.data_access_once().await.expect("the data-access pass");
    assert_eq!(report.detached, [(alices.clone(), "onco-2026".to_owned())], "{report:?}");
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(!can_read(&alice_machine, lake, "onco-2026/patients.csv").await, "revoked at AWS, same session");
}

/// Against the dev stack: the role's policy in IAM follows attach, revocation and a change
/// made by hand; the agent's mount report reaches the trace; terminating deletes the role.
#[tokio::test]
async fn the_data_access_pass_keeps_iam_and_the_trace_in_step() {
    let app = spawn_app().await;
    let iam = Iam::new(&app.sdk);
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    let ws = app.running_workspace("alice", "small-t3-large").await;
    let bobs = app.running_workspace("bob", "small-t3-large").await;
    let role = iam.get_role().role_name(format!("atelier-{ws}")).send().await.expect("alice's workspace role");
    let role = role.role.expect("a role");
    assert_eq!(role.path, format!("{ROLE_PATH}{}/", app.seeded.table), "the deployment's own folder");
    let tag = |key: &str| role.tags().iter().find(|t| t.key == key).map(|t| t.value.clone());
    assert_eq!((tag("atelier:workspace"), tag("atelier:owner")), (Some(ws.clone()), Some("alice".into())));
    let profile = iam.get_instance_profile().instance_profile_name(format!("atelier-{ws}")).send().await;
    let profile = profile.expect("alice's instance profile").instance_profile.expect("a profile");
    assert_eq!(profile.roles().iter().map(|r| r.role_name.as_str()).collect::<Vec<_>>(), [format!("atelier-{ws}")]);
    assert_eq!(readable(&iam, &ws).await, Vec::<String>::new(), "a new role reads nothing");

    let attached = app.post("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    assert_eq!(attached.status, StatusCode::OK, "{}", attached.body);
    assert_eq!(readable(&iam, &ws).await, ["arn:aws:s3:::atelier-lake/onco-2026/*"], "IAM, not Atelier's records");
    assert_eq!(readable(&iam, &bobs).await, Vec::<String>::new());

    // Someone widens the role by hand: the next pass puts it back.
    let wide = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::atelier-lake/*"}]});
    let put = iam
        .put_role_policy()
        .role_name(format!("atelier-{ws}"))
        .policy_name(DATA_POLICY)
        .policy_document(wide.to_string());
    put.send().await.expect("PutRolePolicy by hand");
    // The agent reports the mount on the machine's tags.
    let instance = instance_of(&app, "alice", &ws).await;
    // Whole seconds, truncated, as the agent writes them (rounding could land in the future).
    let whole_seconds = jiff::TimestampRound::new().smallest(jiff::Unit::Second).mode(jiff::RoundMode::Trunc);
    let mounted_at = jiff::Timestamp::now().round(whole_seconds).expect("rounded");
    let ec2 = aws_sdk_ec2::Client::new(&app.sdk);
    let report_tag =
        aws_sdk_ec2::types::Tag::builder().key("atelier:mounted:onco-2026").value(mounted_at.to_string()).build();
    ec2.create_tags().resources(&instance).tags(report_tag).send().await.expect("CreateTags as the agent");

    let report = app.app.data_access_once().await.expect("the data-access pass");
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(report.policies_applied.contains(&ws), "the role changed by hand is put back: {report:?}");
    assert_eq!(report.mounts_recorded, [(ws.clone(), "onco-2026".to_owned())]);
    assert_eq!(readable(&iam, &ws).await, ["arn:aws:s3:::atelier-lake/onco-2026/*"]);
    let again = app.app.data_access_once().await.expect("a second pass");
    assert!(again.policies_applied.is_empty() && again.mounts_recorded.is_empty(), "steady: {again:?}");
    let access = app.get("ada", "/v1/datasets/onco-2026/access").await.body;
    let mount = access["events"].as_array().expect("events").iter().find(|e| e["action"] == "mount").cloned();
    let mount = mount.expect("a mount event");
    assert_eq!(mount["actor"], "workspace-agent");
    // The agent's instant, never before the attach (whole seconds, the machine's clock).
    assert_eq!(access["intervals"][0]["mountedAt"], mount["at"], "{access}");
    let recorded: jiff::Timestamp = mount["at"].as_str().expect("an instant").parse().expect("RFC 3339");
    let from: jiff::Timestamp = access["intervals"][0]["from"].as_str().expect("an instant").parse().expect("RFC 3339");
    assert!(recorded >= from && recorded >= mounted_at, "{access}");

    // Terminated: the next pass detaches and deletes the role and its profile.
    let terminated = app.delete("alice", &format!("/v1/workspaces/{ws}")).await;
    assert_eq!(terminated.status, StatusCode::ACCEPTED, "{}", terminated.body);
    app.sync().await;
    app.sync().await;
    assert_eq!(app.state("alice", &ws).await, "TERMINATED");
    // (`sync` runs the data-access pass after state-sync, as the dev server does.)
    assert!(iam.get_role().role_name(format!("atelier-{ws}")).send().await.is_err(), "the role is gone");
    assert!(iam.get_instance_profile().instance_profile_name(format!("atelier-{ws}")).send().await.is_err());
    assert!(data_policy(&iam, &bobs).await.is_some(), "bob's running workspace keeps its role");
}

/// An attach and a delete of the same dataset cannot both succeed, whichever commits
/// first (the dataset's guard item), on the real table.
#[tokio::test]
async fn an_attach_and_a_delete_of_one_dataset_cannot_both_succeed() {
    let app = spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    let ws = app.running_workspace("alice", "small-t3-large").await;
    let attached = app.post("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    assert_eq!(attached.status, StatusCode::OK, "{}", attached.body);

    // A delete decided before the attach (it saw no attachment) loses at the table.
    use atelier_domain::datasets::{DatasetId, DatasetStore};
    let table = app.app.table();
    let id = DatasetId::parse("onco-2026").expect("an id");
    let dataset = table.dataset(&id).await.expect("read").expect("registered");
    let stale_delete = table.delete_dataset(&dataset, &[]).await;
    assert!(matches!(stale_delete, Err(atelier_domain::kernel::StoreError::Conflict)), "{stale_delete:?}");
    // Through the API, the delete re-reads and names the reason.
    let refused = app.delete("ada", "/v1/datasets/onco-2026").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);

    // Detached, the guard is empty again and the delete goes through; an attach decided
    // before it then loses.
    let detached = app.delete("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026")).await;
    assert_eq!(detached.status, StatusCode::OK, "{}", detached.body);
    let deleted = app.delete("ada", "/v1/datasets/onco-2026").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    let late = app.post("alice", &format!("/v1/workspaces/{ws}/datasets/onco-2026"), None).await;
    assert_eq!(late.status, StatusCode::NOT_FOUND, "{}", late.body);
}
