//! The data-access pass on the doubles: per-item isolation, IAM converging with the
//! attachments, ended workspaces losing their roles, mount reports recorded once.

use std::sync::Arc;

use jiff::Timestamp;

use super::{
    Classification, DataAccessPass, DataCredentials, Dataset, DatasetId, DatasetStore, Datasets, Location, Readers,
    policy,
};
use crate::kernel::{Caller, WorkspaceId};
use crate::testing::{FakeDirectory, FakeEc2, FakeIam, MemoryStore, WorkspaceBuilder};
use crate::workspaces::{State, Workspace};

struct World {
    store: Arc<MemoryStore>,
    directory: Arc<FakeDirectory>,
    ec2: Arc<FakeEc2>,
    iam: FakeIam,
    datasets: Datasets,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let directory = Arc::new(FakeDirectory::default());
    let (ec2, iam) = (Arc::new(FakeEc2::default()), FakeIam::default());
    let datasets = Datasets {
        store: store.clone(),
        workspaces: store.clone(),
        groups: directory.clone(),
        mounts: ec2.clone(),
        credentials: Arc::new(iam.clone()),
    };
    World { store, directory, ec2, iam, datasets }
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("an RFC 3339 instant")
}

fn caller(username: &str) -> Caller {
    Caller {
        sub: format!("sub-{username}"),
        username: username.into(),
        groups: vec!["scientists".into(), "oncology".into()],
    }
}

impl World {
    async fn dataset(&self, id: &str, groups: &[&str]) {
        let dataset = Dataset {
            id: DatasetId::parse(id).expect("an id"),
            name: id.into(),
            description: String::new(),
            location: Location::parse(&format!("s3://lake/{id}/")).expect("a location"),
            classification: Classification::Clinical,
            owner: "data-office".into(),
            readers: Readers { groups: groups.iter().map(|g| (*g).to_owned()).collect(), users: Default::default() },
            created_at: at("2026-11-01T00:00:00Z"),
            updated_at: at("2026-11-01T00:00:00Z"),
            version: 1,
        };
        self.store.insert_dataset(&dataset, &[]).await.expect("inserted");
    }

    /// A running workspace of `owner` on instance `instance`, with `datasets` attached
    /// through the use case (which applies its policy).
    async fn workspace(&self, owner: &str, instance: &str, datasets: &[&str]) -> Workspace {
        let workspace = WorkspaceBuilder::new().owner(owner).state(State::Running).instance(instance).build();
        self.store.put_workspace(workspace.clone());
        let now = at("2026-12-01T09:00:00Z");
        self.iam.put(&workspace.id, &policy::document(workspace.id.as_str(), &[]).to_string());
        for d in datasets {
            self.datasets.attach(&caller(owner), workspace.id.as_str(), d, now).await.expect("attached");
        }
        self.store.workspace(&workspace.id).expect("stored")
    }

    async fn pass(&self, now: &str) -> super::DataAccessReport {
        DataAccessPass { datasets: &self.datasets }.run(at(now)).await.expect("the pass runs")
    }

    fn readable(&self, id: &WorkspaceId) -> Vec<String> {
        let doc = self.iam.policy(id).expect("a role");
        policy::readable_object_arns(&serde_json::from_str(&doc).expect("JSON"))
    }
}

#[tokio::test]
async fn an_unreachable_owner_does_not_hold_back_the_other_revocations() {
    let w = world();
    w.dataset("onco", &["oncology"]).await;
    w.directory.set_groups("alice", &["oncology"]);
    w.directory.set_groups("bob", &["oncology"]);
    let alices = w.workspace("alice", "i-a", &["onco"]).await;
    let bobs = w.workspace("bob", "i-b", &["onco"]).await;
    assert_eq!(w.readable(&alices.id), ["arn:aws:s3:::lake/onco/*"], "the attach applied the policy");

    w.directory.set_groups("alice", &[]);
    w.directory.fail_groups("bob");
    let report = w.pass("2026-12-01T09:01:00Z").await;
    assert_eq!(report.detached, [(alices.id.to_string(), "onco".to_owned())]);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, "bob");
    assert_eq!(w.readable(&alices.id), Vec::<String>::new(), "IAM no longer allows it");
    assert_eq!(w.readable(&bobs.id), ["arn:aws:s3:::lake/onco/*"], "undecided: kept until the directory answers");
}

#[tokio::test]
async fn roles_converge_with_the_attachments_and_ended_workspaces_lose_theirs() {
    let w = world();
    w.dataset("onco", &["oncology"]).await;
    w.directory.set_groups("alice", &["oncology"]);
    let live = w.workspace("alice", "i-a", &["onco"]).await;
    let ended = WorkspaceBuilder::new().owner("alice").state(State::Terminated).build();
    w.store.put_workspace(ended.clone());
    let unknown = WorkspaceId::generate();
    for id in [&ended.id, &unknown] {
        w.iam.put(id, r#"{"Version":"2012-10-17","Statement":[]}"#);
    }
    // Widened by hand.
    w.iam.put(&live.id, r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#);

    let report = w.pass("2026-12-01T09:01:00Z").await;
    assert_eq!(report.policies_applied, [live.id.to_string()]);
    let mut removed = report.roles_removed.clone();
    removed.sort();
    let mut expected = vec![ended.id.to_string(), unknown.to_string()];
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(w.readable(&live.id), ["arn:aws:s3:::lake/onco/*"]);
    let writes = w.iam.writes();
    let again = w.pass("2026-12-01T09:02:00Z").await;
    assert!(again.policies_applied.is_empty() && again.roles_removed.is_empty(), "{again:?}");
    assert_eq!(w.iam.writes(), writes, "a steady pass writes nothing to IAM");
}

#[tokio::test]
async fn a_role_iam_refuses_is_reported_and_the_others_converge() {
    let w = world();
    w.dataset("onco", &["oncology"]).await;
    w.directory.set_groups("alice", &["oncology"]);
    let first = w.workspace("alice", "i-a", &["onco"]).await;
    let second = w.workspace("alice", "i-b", &["onco"]).await;
    for id in [&first.id, &second.id] {
        w.iam.put(id, r#"{"Version":"2012-10-17","Statement":[]}"#);
    }
    w.iam.refuse(&first.id);
    let report = w.pass("2026-12-01T09:01:00Z").await;
    assert_eq!(report.policies_applied, [second.id.to_string()]);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, first.id.to_string());
}

#[tokio::test]
async fn a_workspace_with_datasets_but_no_role_is_reported() {
    let w = world();
    w.dataset("onco", &["oncology"]).await;
    w.directory.set_groups("alice", &["oncology"]);
    let ws = w.workspace("alice", "i-a", &["onco"]).await;
    w.iam.remove(&ws.id).await.expect("removed");
    let report = w.pass("2026-12-01T09:01:00Z").await;
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, ws.id.to_string());
    assert!(report.failed[0].1.contains("no role"), "{report:?}");
}

#[tokio::test]
async fn a_mount_report_is_recorded_once_and_a_stale_one_never() {
    let w = world();
    w.dataset("onco", &["oncology"]).await;
    w.directory.set_groups("alice", &["oncology"]);
    let ws = w.workspace("alice", "i-a", &["onco"]).await;
    w.ec2.report_mounted("i-a", "onco", at("2026-12-01T09:00:20Z"));
    let report = w.pass("2026-12-01T09:01:00Z").await;
    assert_eq!(report.mounts_recorded, [(ws.id.to_string(), "onco".to_owned())]);
    assert!(w.pass("2026-12-01T09:02:00Z").await.mounts_recorded.is_empty(), "recorded once");
    let (intervals, _) = w.datasets.my_access(&caller("alice")).await.expect("the trace");
    assert_eq!(intervals[0].mounted_at, Some(at("2026-12-01T09:00:20Z")));

    // A report from long before the attach is an earlier attachment's.
    let other = w.workspace("alice", "i-b", &["onco"]).await;
    w.ec2.report_mounted("i-b", "onco", at("2026-11-30T09:00:00Z"));
    let report = w.pass("2026-12-01T09:03:00Z").await;
    assert!(report.mounts_recorded.is_empty(), "{report:?}");
    assert!(w.store.workspace(&other.id).is_some());
}
