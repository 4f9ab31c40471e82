//! The workspace agent (agent/) against the local EC2: an instance launched in moto, its
//! `atelier:dataset:*` tags written with the EC2 API, the agent's tags read with
//! `DescribeTags` and its report written with `CreateTags`/`DeleteTags`. Only the mount
//! command is a double (a recorder behind the `Mounter` trait, or a script as the command).

use std::{
    collections::{BTreeMap, BTreeSet},
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use atelier_agent::{
    config::Config,
    dataset::{DatasetId, Location},
    mounts::{MountError, Mounter, MountsReconciler},
    reconcile::{ActionKind, Reconciler},
    tags::Ec2Tags,
};
use atelier_devstack::sdk_config;
use atelier_tests::{AwsCalls, counted, moto, unique};
use aws_sdk_ec2::types::Tag;
use jiff::Timestamp;

/// Mounts in memory, with every call recorded.
#[derive(Clone, Default)]
struct RecordingMounter {
    points: Arc<Mutex<BTreeSet<PathBuf>>>,
    calls: Arc<Mutex<Vec<String>>>,
}

impl RecordingMounter {
    fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

#[async_trait]
impl Mounter for RecordingMounter {
    async fn mounted(&self) -> Result<Vec<PathBuf>, MountError> {
        Ok(self.points.lock().unwrap().iter().cloned().collect())
    }
    async fn mount(&self, dataset: &DatasetId, location: &Location, path: &Path) -> Result<(), MountError> {
        self.calls.lock().unwrap().push(format!("mount {dataset} {location} {}", path.display()));
        self.points.lock().unwrap().insert(path.to_owned());
        Ok(())
    }
    async fn unmount(&self, path: &Path) -> Result<(), MountError> {
        self.calls.lock().unwrap().push(format!("unmount {}", path.display()));
        self.points.lock().unwrap().remove(path);
        Ok(())
    }
}

/// The harness's own EC2 client (not counted), the agent's SDK configuration (counted), and
/// a new instance in moto.
struct Workstation {
    ec2: aws_sdk_ec2::Client,
    agent_sdk: aws_config::SdkConfig,
    calls: AwsCalls,
    instance_id: String,
}

impl Workstation {
    async fn launch() -> Self {
        let sdk = sdk_config(&moto().endpoint()).await;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let images = ec2.describe_images().owners("amazon").send().await.unwrap();
        let image = images.images().iter().filter_map(|i| i.image_id()).min().unwrap().to_owned();
        let run = ec2
            .run_instances()
            .image_id(image)
            .instance_type("t3.large".into())
            .min_count(1)
            .max_count(1)
            .client_token(unique("agent"))
            .send()
            .await
            .unwrap();
        let instance_id = run.instances()[0].instance_id().unwrap().to_owned();
        let (agent_sdk, calls) = counted(&sdk);
        Self { ec2, agent_sdk, calls, instance_id }
    }

    fn reconciler(&self, mounter: &RecordingMounter) -> MountsReconciler {
        let tags = Ec2Tags::new(aws_sdk_ec2::Client::new(&self.agent_sdk), &self.instance_id);
        MountsReconciler::new(Box::new(tags.clone()), Box::new(tags), Box::new(mounter.clone()), "/data")
    }

    async fn tag(&self, tags: &[(&str, &str)]) {
        let tags = tags.iter().map(|(k, v)| Tag::builder().key(*k).value(*v).build()).collect();
        self.ec2.create_tags().resources(&self.instance_id).set_tags(Some(tags)).send().await.unwrap();
    }

    async fn untag(&self, key: &str) {
        self.ec2.delete_tags().resources(&self.instance_id).tags(Tag::builder().key(key).build()).send().await.unwrap();
    }

    /// The instance's `atelier:mounted:*` tags, as moto holds them.
    async fn mounted_tags(&self) -> BTreeMap<String, String> {
        let described = self.ec2.describe_instances().instance_ids(&self.instance_id).send().await.unwrap();
        let instance = &described.reservations()[0].instances()[0];
        instance
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .filter(|(k, _)| k.starts_with("atelier:mounted:"))
            .collect()
    }

    /// The agent's AWS calls since the last look, by operation.
    fn take_counts(&self) -> BTreeMap<String, usize> {
        let counts = self.calls.counts();
        self.calls.reset();
        counts
    }
}

fn counts(items: &[(&str, usize)]) -> BTreeMap<String, usize> {
    items.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
}

#[tokio::test]
async fn mounts_follow_the_dataset_tags_and_are_reported_on_the_instance() {
    let workstation = Workstation::launch().await;
    workstation
        .tag(&[
            ("atelier:owner", "alice"),
            ("atelier:dataset:oncology", "s3://lake-a/oncology/"),
            ("atelier:dataset:cardio", "s3://lake-b/cardio/2024/"),
        ])
        .await;
    let mounter = RecordingMounter::default();
    let mut agent = workstation.reconciler(&mounter);

    let before = Timestamp::from_second(Timestamp::now().as_second()).unwrap();
    let outcome = agent.reconcile().await.unwrap();
    let after = Timestamp::now();
    assert!(!outcome.failed(), "{outcome:?}");
    assert_eq!(
        mounter.take_calls(),
        ["mount cardio s3://lake-b/cardio/2024/ /data/cardio", "mount oncology s3://lake-a/oncology/ /data/oncology"]
    );
    let reported = workstation.mounted_tags().await;
    assert_eq!(reported.keys().collect::<Vec<_>>(), ["atelier:mounted:cardio", "atelier:mounted:oncology"]);
    for value in reported.values() {
        let at: Timestamp = value.parse().unwrap();
        assert!(before <= at && at <= after, "{value} between {before} and {after}");
        assert!(value.ends_with('Z') && !value.contains('.'), "RFC 3339 UTC seconds: {value}");
    }
    assert_eq!(workstation.take_counts(), counts(&[("EC2.CreateTags", 1), ("EC2.DescribeTags", 1)]));

    // Detach cardio: the control plane removes its tag.
    workstation.untag("atelier:dataset:cardio").await;
    let outcome = agent.reconcile().await.unwrap();
    assert_eq!(mounter.take_calls(), ["unmount /data/cardio"]);
    let kinds: Vec<ActionKind> = outcome.actions.iter().map(|a| a.action).collect();
    assert_eq!(kinds, [ActionKind::Unmount, ActionKind::Unreport]);
    let now_reported = workstation.mounted_tags().await;
    assert_eq!(now_reported.len(), 1);
    assert_eq!(now_reported["atelier:mounted:oncology"], reported["atelier:mounted:oncology"], "instant kept");
    assert_eq!(workstation.take_counts(), counts(&[("EC2.DeleteTags", 1), ("EC2.DescribeTags", 1)]));

    // Steady state: the tags are read, nothing is written.
    let outcome = agent.reconcile().await.unwrap();
    assert!(outcome.actions.is_empty(), "{outcome:?}");
    assert!(mounter.take_calls().is_empty());
    assert_eq!(workstation.take_counts(), counts(&[("EC2.DescribeTags", 1)]));
}

#[tokio::test]
async fn a_restarted_agent_adopts_the_mounts_and_keeps_their_instants() {
    let workstation = Workstation::launch().await;
    let earlier = "2025-02-28T17:45:12Z";
    workstation
        .tag(&[
            ("atelier:dataset:oncology", "s3://lake-a/oncology/"),
            ("atelier:dataset:cardio", "s3://lake-b/cardio/"),
            ("atelier:mounted:oncology", earlier),
        ])
        .await;
    // Both still mounted from before the restart; only oncology had been reported.
    let mounter = RecordingMounter::default();
    mounter.points.lock().unwrap().extend([PathBuf::from("/data/oncology"), PathBuf::from("/data/cardio")]);
    let mut agent = workstation.reconciler(&mounter);
    let outcome = agent.reconcile().await.unwrap();
    assert!(mounter.take_calls().is_empty(), "nothing remounted");
    let kinds: Vec<ActionKind> = outcome.actions.iter().map(|a| a.action).collect();
    assert_eq!(kinds, [ActionKind::Report]);
    let reported = workstation.mounted_tags().await;
    assert_eq!(reported["atelier:mounted:oncology"], earlier);
    assert!(reported["atelier:mounted:cardio"].parse::<Timestamp>().unwrap() > earlier.parse().unwrap());
    assert_eq!(workstation.take_counts(), counts(&[("EC2.CreateTags", 1), ("EC2.DescribeTags", 1)]));
}

#[tokio::test]
async fn the_agent_built_from_its_environment_runs_the_mount_command() {
    let workstation = Workstation::launch().await;
    workstation.tag(&[("atelier:dataset:oncology", "s3://lake-a/oncology/")]).await;
    let scratch = std::env::temp_dir().join(unique("atelier-agent-it"));
    std::fs::create_dir_all(&scratch).unwrap();
    let command = scratch.join("mount-s3");
    let calls = scratch.join("calls");
    std::fs::write(&command, format!("#!/bin/sh\necho \"$*\" >> '{}'\n", calls.display())).unwrap();
    std::fs::set_permissions(&command, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_root = scratch.join("data");
    let vars = BTreeMap::from([
        ("ATELIER_AGENT_TAGS_FROM", "ec2".to_owned()),
        ("ATELIER_AGENT_INSTANCE_ID", workstation.instance_id.clone()),
        ("ATELIER_AGENT_DATA_ROOT", data_root.display().to_string()),
        ("ATELIER_AGENT_MOUNT_COMMAND", command.display().to_string()),
    ]);
    let config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
    let mut agent = atelier_agent::setup::agent(&config, &workstation.agent_sdk).await.unwrap();

    let summary = agent.run_once().await;
    assert!(summary.ok(), "{summary:?}");
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["reconcilers"][0]["reconciler"], "mounts");
    assert_eq!(json["reconcilers"][0]["actions"][0]["action"], "mount");
    let mount_point = data_root.join("oncology");
    assert_eq!(
        std::fs::read_to_string(&calls).unwrap(),
        format!("lake-a {} --prefix=oncology/ --read-only --allow-other\n", mount_point.display())
    );
    assert!(mount_point.is_dir());
    assert!(workstation.mounted_tags().await.contains_key("atelier:mounted:oncology"));
    std::fs::remove_dir_all(&scratch).unwrap();
}

/// The "done when", control plane and agent together on the dev stack: alice's
/// attach reaches the machine, the agent mounts and its report reaches the trace; ada's
/// revocation narrows IAM, clears the tag, and the agent unmounts.
#[tokio::test]
async fn the_agent_follows_an_attach_and_a_revocation_made_through_the_api() {
    use atelier_adapters::iam::{DATA_POLICY, decode_policy};
    use atelier_domain::datasets::policy::readable_object_arns;
    use http::StatusCode;
    use serde_json::json;

    let app = atelier_tests::spawn_app().await;
    app.register_dataset("onco-2026", &["oncology"], &[]).await;
    let launch = json!({ "productId": "small-t3-large", "name": "l'étude 2", "datasets": ["onco-2026"] });
    let launched = app.post("alice", "/v1/workspaces", Some(launch)).await;
    assert_eq!(launched.status, StatusCode::ACCEPTED, "{}", launched.body);
    let ws = launched.str("id");
    app.sync().await;
    let instance_id = app.get("alice", &format!("/v1/workspaces/{ws}")).await.str("instanceId");
    let (agent_sdk, _) = counted(&app.sdk);
    let tags = Ec2Tags::new(aws_sdk_ec2::Client::new(&agent_sdk), &instance_id);
    let mounter = RecordingMounter::default();
    let mut agent = MountsReconciler::new(Box::new(tags.clone()), Box::new(tags), Box::new(mounter.clone()), "/data");
    let iam = aws_sdk_iam::Client::new(&app.sdk);
    let readable = || async {
        let out = iam.get_role_policy().role_name(format!("atelier-{ws}")).policy_name(DATA_POLICY).send().await;
        let doc = out.expect("the role's data policy").policy_document;
        readable_object_arns(&serde_json::from_str(&decode_policy(&doc)).expect("JSON"))
    };

    agent.reconcile().await.expect("the agent's pass");
    assert_eq!(mounter.take_calls(), ["mount onco-2026 s3://atelier-lake/onco-2026/ /data/onco-2026"]);
    assert_eq!(readable().await, ["arn:aws:s3:::atelier-lake/onco-2026/*"], "IAM allows exactly the prefix");
    app.sync().await;
    let access = app.get("ada", "/v1/datasets/onco-2026/access").await.body;
    assert!(access["intervals"][0]["mountedAt"].is_string(), "the trace says mounted: {access}");

    // ada removes the group; the next pass detaches, IAM denies, the agent unmounts.
    app.set_readers("onco-2026", &[], &[]).await;
    app.sync().await;
    assert_eq!(readable().await, Vec::<String>::new(), "IAM no longer allows it");
    agent.reconcile().await.expect("the agent's pass");
    assert_eq!(mounter.take_calls(), ["unmount /data/onco-2026"]);
}
