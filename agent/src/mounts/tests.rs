//! The mounts reconciler with an in-memory tag store and mounter.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicI64, Ordering},
};

use super::*;
use crate::tags::memory::MemoryTags;

/// Mounts in memory: a set of mount points, the calls made, and ids whose mount fails.
#[derive(Clone, Default)]
struct MemoryMounter {
    points: Arc<Mutex<BTreeSet<PathBuf>>>,
    calls: Arc<Mutex<Vec<String>>>,
    failing: Arc<Mutex<BTreeSet<String>>>,
}

impl MemoryMounter {
    fn with(points: &[&str]) -> Self {
        let mounter = Self::default();
        mounter.points.lock().unwrap().extend(points.iter().map(PathBuf::from));
        mounter
    }
    fn fail(&self, id: &str) {
        self.failing.lock().unwrap().insert(id.to_owned());
    }
    fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }
    fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
    fn points(&self) -> Vec<String> {
        self.points.lock().unwrap().iter().map(|p| p.display().to_string()).collect()
    }
}

#[async_trait]
impl Mounter for MemoryMounter {
    async fn mounted(&self) -> Result<Vec<PathBuf>, MountError> {
        Ok(self.points.lock().unwrap().iter().cloned().collect())
    }
    async fn mount(&self, dataset: &DatasetId, location: &Location, path: &Path) -> Result<(), MountError> {
        self.calls.lock().unwrap().push(format!("mount {location} {}", path.display()));
        if self.failing.lock().unwrap().contains(dataset.as_str()) {
            return Err(MountError::Command { command: "mount-s3".into(), message: "exit status: 1: denied".into() });
        }
        self.points.lock().unwrap().insert(path.to_owned());
        Ok(())
    }
    async fn unmount(&self, path: &Path) -> Result<(), MountError> {
        self.calls.lock().unwrap().push(format!("unmount {}", path.display()));
        let id = path.file_name().unwrap().to_str().unwrap();
        if self.failing.lock().unwrap().contains(id) {
            return Err(MountError::Command { command: "umount".into(), message: "target is busy".into() });
        }
        self.points.lock().unwrap().remove(path);
        Ok(())
    }
}

/// A clock the test moves by hand, in seconds since the epoch.
#[derive(Clone)]
struct Clock(Arc<AtomicI64>);

impl Clock {
    fn at(rfc3339: &str) -> Self {
        Self(Arc::new(AtomicI64::new(rfc3339.parse::<Timestamp>().unwrap().as_second())))
    }
    fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

fn reconciler(tags: &MemoryTags, mounter: &MemoryMounter, clock: &Clock) -> MountsReconciler {
    let clock = clock.clone();
    MountsReconciler::new(Box::new(tags.clone()), Box::new(tags.clone()), Box::new(mounter.clone()), "/data")
        .with_clock(move || Timestamp::from_second(clock.0.load(Ordering::SeqCst)).unwrap())
}

fn kinds(outcome: &Outcome) -> Vec<String> {
    outcome.actions.iter().map(|a| format!("{} {}", a.action.as_str(), a.dataset.as_deref().unwrap_or(""))).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

const T0: &str = "2025-03-01T09:00:00Z";

#[tokio::test]
async fn new_datasets_are_mounted_and_reported() {
    let tags = MemoryTags::with(&[
        ("atelier:dataset:oncology", "s3://lake-a/oncology/"),
        ("atelier:dataset:cardio", "s3://lake-b/cardio/2024/"),
        ("atelier:owner", "alice"),
    ]);
    let mounter = MemoryMounter::default();
    let mut agent = reconciler(&tags, &mounter, &Clock::at(T0));
    let outcome = agent.reconcile().await.unwrap();
    assert!(!outcome.failed());
    assert_eq!(
        mounter.take_calls(),
        ["mount s3://lake-b/cardio/2024/ /data/cardio", "mount s3://lake-a/oncology/ /data/oncology"]
    );
    assert_eq!(kinds(&outcome), ["mount cardio", "mount oncology", "report cardio", "report oncology"]);
    assert_eq!(outcome.actions[0].path.as_deref(), Some("/data/cardio"));
    assert_eq!(
        tags.prefixed(MOUNTED_TAG_PREFIX),
        pairs(&[("atelier:mounted:cardio", T0), ("atelier:mounted:oncology", T0)])
    );
    assert_eq!(tags.take_writes(), ["put atelier:mounted:cardio,atelier:mounted:oncology"], "one CreateTags");
}

#[tokio::test]
async fn a_detached_dataset_is_unmounted_and_its_report_removed() {
    let tags = MemoryTags::with(&[
        ("atelier:dataset:oncology", "s3://lake-a/oncology/"),
        ("atelier:dataset:cardio", "s3://lake-b/cardio/"),
    ]);
    let mounter = MemoryMounter::default();
    let mut agent = reconciler(&tags, &mounter, &Clock::at(T0));
    agent.reconcile().await.unwrap();
    mounter.take_calls();
    tags.take_writes();

    tags.remove("atelier:dataset:cardio");
    let outcome = agent.reconcile().await.unwrap();
    assert_eq!(mounter.take_calls(), ["unmount /data/cardio"]);
    assert_eq!(kinds(&outcome), ["unmount cardio", "unreport cardio"]);
    assert_eq!(mounter.points(), ["/data/oncology"]);
    assert_eq!(tags.prefixed(MOUNTED_TAG_PREFIX), pairs(&[("atelier:mounted:oncology", T0)]));
    assert_eq!(tags.take_writes(), ["delete atelier:mounted:cardio"], "one DeleteTags, no CreateTags");
}

#[tokio::test]
async fn a_steady_state_changes_nothing_and_writes_no_tag() {
    let tags = MemoryTags::with(&[("atelier:dataset:oncology", "s3://lake-a/oncology/")]);
    let mounter = MemoryMounter::default();
    let clock = Clock::at(T0);
    let mut agent = reconciler(&tags, &mounter, &clock);
    agent.reconcile().await.unwrap();
    mounter.take_calls();
    tags.take_writes();
    for _ in 0..3 {
        clock.advance(30);
        let outcome = agent.reconcile().await.unwrap();
        assert_eq!(outcome, Outcome::default());
    }
    assert!(mounter.take_calls().is_empty());
    assert!(tags.take_writes().is_empty());
    assert_eq!(
        tags.prefixed(MOUNTED_TAG_PREFIX),
        pairs(&[("atelier:mounted:oncology", T0)]),
        "the first instant is kept"
    );
}

#[tokio::test]
async fn a_failing_mount_does_not_stop_the_others_and_is_retried() {
    let tags = MemoryTags::with(&[
        ("atelier:dataset:broken", "s3://lake-a/broken/"),
        ("atelier:dataset:oncology", "s3://lake-a/oncology/"),
    ]);
    let mounter = MemoryMounter::default();
    mounter.fail("broken");
    let clock = Clock::at(T0);
    let mut agent = reconciler(&tags, &mounter, &clock);
    let outcome = agent.reconcile().await.unwrap();
    assert!(outcome.failed());
    assert_eq!(kinds(&outcome), ["mount broken", "mount oncology", "report oncology"]);
    assert!(outcome.actions[0].error.as_deref().unwrap().contains("denied"));
    assert_eq!(outcome.actions[1].error, None);
    assert_eq!(
        tags.prefixed(MOUNTED_TAG_PREFIX),
        pairs(&[("atelier:mounted:oncology", T0)]),
        "no report for what failed"
    );

    mounter.heal();
    clock.advance(30);
    let outcome = agent.reconcile().await.unwrap();
    assert_eq!(kinds(&outcome), ["mount broken", "report broken"]);
    assert_eq!(
        tags.prefixed(MOUNTED_TAG_PREFIX),
        pairs(&[("atelier:mounted:broken", "2025-03-01T09:00:30Z"), ("atelier:mounted:oncology", T0)])
    );
}

#[tokio::test]
async fn malformed_tags_are_reported_and_skipped() {
    let tags = MemoryTags::with(&[
        ("atelier:dataset:Bad_Id", "s3://lake-a/x/"),
        ("atelier:dataset:..", "s3://lake-a/x/"),
        ("atelier:dataset:whole-bucket", "s3://lake-a/"),
        ("atelier:dataset:escape", "s3://lake-a/../etc/"),
        ("atelier:dataset:kept", "not a location"),
        ("atelier:dataset:oncology", "s3://lake-a/oncology/"),
    ]);
    // `kept` was mounted before its tag went bad: its mount stays.
    let mounter = MemoryMounter::with(&["/data/kept"]);
    let mut agent = reconciler(&tags, &mounter, &Clock::at(T0));
    let outcome = agent.reconcile().await.unwrap();
    assert!(!outcome.failed(), "a bad input is not the agent's failure");
    assert_eq!(
        kinds(&outcome),
        [
            "skip ..",
            "skip Bad_Id",
            "skip escape",
            "skip kept",
            "skip whole-bucket",
            "mount oncology",
            "report kept",
            "report oncology"
        ]
    );
    let skip = &outcome.actions[1];
    assert!(skip.error.as_deref().unwrap().contains("tag atelier:dataset:Bad_Id"), "{skip:?}");
    assert_eq!(mounter.take_calls(), ["mount s3://lake-a/oncology/ /data/oncology"]);
    assert_eq!(mounter.points(), ["/data/kept", "/data/oncology"]);
}

#[tokio::test]
async fn mounts_found_at_start_keep_their_reported_instant() {
    let earlier = "2025-02-28T17:45:12Z";
    let tags = MemoryTags::with(&[
        ("atelier:dataset:oncology", "s3://lake-a/oncology/"),
        ("atelier:dataset:cardio", "s3://lake-a/cardio/"),
        ("atelier:dataset:genomics", "s3://lake-a/genomics/"),
        ("atelier:mounted:oncology", earlier),
        ("atelier:mounted:genomics", "yesterday"),
        ("atelier:mounted:gone", earlier),
    ]);
    // A restart: all three already mounted; oncology has a report, cardio none, genomics a
    // malformed one; `gone` is reported but not mounted.
    let mounter = MemoryMounter::with(&["/data/oncology", "/data/cardio", "/data/genomics"]);
    let mut agent = reconciler(&tags, &mounter, &Clock::at(T0));
    let outcome = agent.reconcile().await.unwrap();
    assert!(mounter.take_calls().is_empty(), "nothing remounted");
    assert_eq!(kinds(&outcome), ["report cardio", "report genomics", "unreport gone"]);
    assert_eq!(
        tags.prefixed(MOUNTED_TAG_PREFIX),
        pairs(&[
            ("atelier:mounted:cardio", T0),
            ("atelier:mounted:genomics", T0),
            ("atelier:mounted:oncology", earlier)
        ])
    );
}

#[tokio::test]
async fn a_report_changed_by_hand_is_put_back() {
    let tags = MemoryTags::with(&[("atelier:dataset:oncology", "s3://lake-a/oncology/")]);
    let mounter = MemoryMounter::default();
    let clock = Clock::at(T0);
    let mut agent = reconciler(&tags, &mounter, &clock);
    agent.reconcile().await.unwrap();
    tags.take_writes();
    tags.set("atelier:mounted:oncology", "2030-01-01T00:00:00Z");
    tags.set("atelier:mounted:invented", T0);
    clock.advance(60);
    let outcome = agent.reconcile().await.unwrap();
    assert_eq!(kinds(&outcome), ["report oncology", "unreport invented"]);
    assert_eq!(
        tags.prefixed(MOUNTED_TAG_PREFIX),
        pairs(&[("atelier:mounted:oncology", T0)]),
        "this process's own instant"
    );
}

#[tokio::test]
async fn a_busy_mount_stays_reported_until_it_is_unmounted() {
    let tags = MemoryTags::with(&[("atelier:dataset:oncology", "s3://lake-a/oncology/")]);
    let mounter = MemoryMounter::default();
    let mut agent = reconciler(&tags, &mounter, &Clock::at(T0));
    agent.reconcile().await.unwrap();
    tags.take_writes();
    tags.remove("atelier:dataset:oncology");
    mounter.fail("oncology");
    let outcome = agent.reconcile().await.unwrap();
    assert!(outcome.failed());
    assert_eq!(kinds(&outcome), ["unmount oncology"]);
    assert!(outcome.actions[0].error.as_deref().unwrap().contains("busy"));
    assert_eq!(tags.prefixed(MOUNTED_TAG_PREFIX), pairs(&[("atelier:mounted:oncology", T0)]));
    assert!(tags.take_writes().is_empty());
    mounter.heal();
    let outcome = agent.reconcile().await.unwrap();
    assert_eq!(kinds(&outcome), ["unmount oncology", "unreport oncology"]);
}

#[tokio::test]
async fn unreadable_tags_change_nothing() {
    let tags = MemoryTags::with(&[("atelier:dataset:oncology", "s3://lake-a/oncology/")]);
    *tags.unreadable.lock().unwrap() = true;
    let mounter = MemoryMounter::with(&["/data/cardio"]);
    let mut agent = reconciler(&tags, &mounter, &Clock::at(T0));
    let error = agent.reconcile().await.unwrap_err();
    assert_eq!(error.to_string(), "ec2:DescribeTags: throttled");
    assert!(mounter.take_calls().is_empty(), "no unmount on a failed read");
}

#[tokio::test]
async fn a_failed_report_is_a_failed_step_and_is_retried() {
    let tags = MemoryTags::with(&[("atelier:dataset:oncology", "s3://lake-a/oncology/")]);
    *tags.unwritable.lock().unwrap() = true;
    let mounter = MemoryMounter::default();
    let clock = Clock::at(T0);
    let mut agent = reconciler(&tags, &mounter, &clock);
    let outcome = agent.reconcile().await.unwrap();
    assert!(outcome.failed());
    assert_eq!(kinds(&outcome), ["mount oncology", "report oncology"]);
    assert!(outcome.actions[1].error.as_deref().unwrap().contains("UnauthorizedOperation"));
    *tags.unwritable.lock().unwrap() = false;
    clock.advance(30);
    let outcome = agent.reconcile().await.unwrap();
    assert_eq!(kinds(&outcome), ["report oncology"]);
    assert_eq!(
        tags.prefixed(MOUNTED_TAG_PREFIX),
        pairs(&[("atelier:mounted:oncology", T0)]),
        "the mount's instant, not the retry's"
    );
}

#[tokio::test]
async fn mounts_that_are_not_datasets_are_left_alone() {
    let tags = MemoryTags::default();
    let mounter = MemoryMounter::with(&["/data/oncology/nested", "/data/Scratch", "/data/oncology"]);
    let mut agent = reconciler(&tags, &mounter, &Clock::at(T0));
    let outcome = agent.reconcile().await.unwrap();
    assert_eq!(kinds(&outcome), ["unmount oncology"]);
    assert_eq!(mounter.points(), ["/data/Scratch", "/data/oncology/nested"]);
}

#[test]
fn reports_are_utc_seconds() {
    let at: Timestamp = "2025-03-01T10:00:00.987654+01:00".parse().unwrap();
    assert_eq!(report_value(at), "2025-03-01T09:00:00Z");
}
