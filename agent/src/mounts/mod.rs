//! The first reconciler: what is mounted under the data root follows what is attached.
//!
//! Each pass reads the instance's tags once, then:
//!
//! 1. **wanted**: every `atelier:dataset:<id>` = `s3://<bucket>/<prefix>/` tag; a malformed
//!    one is reported (`skip`) and left alone: nothing is mounted for it, and a mount already
//!    there under that id is kept (a bad edit must not cut a scientist's open files);
//! 2. **mounts**: each wanted dataset that is not mounted is mounted read-only at
//!    `<root>/<id>`; each dataset mounted under the root that is no longer wanted is
//!    unmounted. One failure does not stop the others; the next pass retries it;
//! 3. **report**: the `atelier:mounted:<id>` tags are made exactly the set now mounted, each
//!    valued with the instant (RFC 3339, UTC, seconds) it was mounted: the instant of this
//!    process's own mount, else (a mount found at start) the instant its tag already holds,
//!    else now. Tags are written only when that set or a value differs from what was read,
//!    so a steady state makes no call besides reading the tags.

pub mod mount_s3;
pub mod mountinfo;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
};

use async_trait::async_trait;
use jiff::Timestamp;

use crate::{
    dataset::{DATASET_TAG_PREFIX, DatasetId, Location, MOUNTED_TAG_PREFIX},
    reconcile::{Action, ActionKind, Outcome, ReconcileError, Reconciler},
    tags::{TagSource, TagWriter, Tags},
};

/// Mounting and unmounting datasets, and listing what is mounted.
#[async_trait]
pub trait Mounter: Send + Sync {
    /// The mount points of the FUSE file systems currently mounted under the data root.
    async fn mounted(&self) -> Result<Vec<PathBuf>, MountError>;
    /// Mounts `location` read-only at `path` (`<root>/<dataset>`), creating the directory.
    async fn mount(&self, dataset: &DatasetId, location: &Location, path: &Path) -> Result<(), MountError>;
    /// Unmounts `path`, then removes its directory if it is empty.
    async fn unmount(&self, path: &Path) -> Result<(), MountError>;
}

/// A mount step that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    /// The path is not `<data root>/<dataset id>`: nothing was done.
    #[error("{} is not a dataset directory directly under {}: refused", path.display(), root.display())]
    Refused {
        /// The path asked for.
        path: PathBuf,
        /// The data root.
        root: PathBuf,
    },
    /// A file system operation failed.
    #[error("{}: {message}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The error.
        message: String,
    },
    /// The mount or unmount command failed.
    #[error("{command}: {message}")]
    Command {
        /// The command line.
        command: String,
        /// How it failed (exit status and standard error, or why it did not run).
        message: String,
    },
}

/// The instant a mount is reported with: RFC 3339, UTC, whole seconds.
pub fn report_value(at: Timestamp) -> String {
    Timestamp::from_second(at.as_second()).unwrap_or(at).to_string()
}

/// What the dataset tags ask for.
#[derive(Debug, Default)]
struct Wanted {
    datasets: BTreeMap<DatasetId, Location>,
    /// Ids whose tag is malformed: neither mounted nor unmounted.
    held: BTreeSet<DatasetId>,
    skipped: Vec<Action>,
}

impl Wanted {
    fn from_tags(tags: &Tags) -> Self {
        let mut wanted = Self::default();
        for (key, value) in tags {
            let Some(raw_id) = key.strip_prefix(DATASET_TAG_PREFIX) else { continue };
            let id = DatasetId::parse(raw_id);
            match (id, Location::parse(value)) {
                (Ok(id), Ok(location)) => {
                    wanted.datasets.insert(id, location);
                }
                (id, location) => {
                    let error = [id.as_ref().err(), location.as_ref().err()].into_iter().flatten().cloned();
                    let error = format!("tag {key}: {}", error.collect::<Vec<_>>().join("; "));
                    wanted.skipped.push(Action {
                        action: ActionKind::Skip,
                        dataset: Some(raw_id.to_owned()),
                        app: None,
                        path: None,
                        error: Some(error),
                    });
                    if let Ok(id) = id {
                        wanted.held.insert(id);
                    }
                }
            }
        }
        wanted
    }
}

/// Keeps the mounts under the data root equal to the instance's dataset tags, and reports
/// them in its `atelier:mounted:*` tags.
pub struct MountsReconciler {
    source: Box<dyn TagSource>,
    writer: Box<dyn TagWriter>,
    mounter: Box<dyn Mounter>,
    data_root: PathBuf,
    /// When each dataset mounted now was mounted, as this process knows it.
    mounted_at: BTreeMap<DatasetId, Timestamp>,
    clock: Box<dyn Fn() -> Timestamp + Send + Sync>,
}

impl MountsReconciler {
    /// Reads the tags from `source`, reports with `writer`, mounts with `mounter` under
    /// `data_root`.
    pub fn new(
        source: Box<dyn TagSource>,
        writer: Box<dyn TagWriter>,
        mounter: Box<dyn Mounter>,
        data_root: impl Into<PathBuf>,
    ) -> Self {
        Self {
            source,
            writer,
            mounter,
            data_root: data_root.into(),
            mounted_at: BTreeMap::new(),
            clock: Box::new(Timestamp::now),
        }
    }

    /// Reads the time from `clock` instead of the system's (tests).
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Where `dataset` is mounted.
    pub fn path_of(&self, dataset: &DatasetId) -> PathBuf {
        self.data_root.join(dataset.as_str())
    }

    /// The datasets mounted under the root now: mount points directly under it named by a
    /// dataset id. Anything else there (a nested mount, another name) is not the agent's and
    /// is left alone.
    async fn present(&self) -> Result<BTreeSet<DatasetId>, ReconcileError> {
        let points = self.mounter.mounted().await.map_err(ReconcileError::new)?;
        let mut present = BTreeSet::new();
        for point in points {
            let id = point.file_name().and_then(|n| n.to_str()).and_then(|n| DatasetId::parse(n).ok());
            match id {
                Some(id) if point.parent() == Some(self.data_root.as_path()) => {
                    present.insert(id);
                }
                _ => tracing::debug!(reconciler = "mounts", path = %point.display(), "not a dataset mount: left alone"),
            }
        }
        Ok(present)
    }

    /// Mounts what is wanted and absent, unmounts what is present and unwanted; returns what
    /// is mounted afterwards.
    async fn converge(
        &mut self,
        wanted: &Wanted,
        present: BTreeSet<DatasetId>,
        actions: &mut Vec<Action>,
    ) -> BTreeSet<DatasetId> {
        let mut mounted = present.clone();
        for (id, location) in wanted.datasets.iter().filter(|(id, _)| !present.contains(*id)) {
            let path = self.path_of(id);
            let result = self.mounter.mount(id, location, &path).await;
            if result.is_ok() {
                mounted.insert(id.clone());
                self.mounted_at.insert(id.clone(), (self.clock)());
            }
            actions.push(step(ActionKind::Mount, id.as_str(), Some(&path), result.err()));
        }
        let unwanted = present.iter().filter(|id| !wanted.datasets.contains_key(*id) && !wanted.held.contains(*id));
        for id in unwanted {
            let path = self.path_of(id);
            let result = self.mounter.unmount(&path).await;
            if result.is_ok() {
                mounted.remove(id);
            }
            actions.push(step(ActionKind::Unmount, id.as_str(), Some(&path), result.err()));
        }
        mounted
    }

    /// Makes the `atelier:mounted:*` tags (as read in `tags`) exactly `mounted`.
    async fn report(&mut self, tags: &Tags, mounted: &BTreeSet<DatasetId>, actions: &mut Vec<Action>) {
        let reported: BTreeMap<&str, &str> = tags
            .iter()
            .filter(|(key, _)| key.starts_with(MOUNTED_TAG_PREFIX))
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        self.mounted_at.retain(|id, _| mounted.contains(id));
        let mut desired = Tags::new();
        for id in mounted {
            let key = format!("{MOUNTED_TAG_PREFIX}{id}");
            let at = *self.mounted_at.entry(id.clone()).or_insert_with(|| {
                reported.get(key.as_str()).and_then(|v| v.parse::<Timestamp>().ok()).unwrap_or_else(|| (self.clock)())
            });
            desired.insert(key, report_value(at));
        }
        let to_put: Tags =
            desired.iter().filter(|(k, v)| reported.get(k.as_str()) != Some(&v.as_str())).map(clone_pair).collect();
        let to_delete: Vec<String> =
            reported.keys().filter(|k| !desired.contains_key(**k)).map(|k| (*k).to_owned()).collect();
        if !to_put.is_empty() {
            let error = self.writer.put(&to_put).await.err();
            actions.extend(to_put.keys().map(|k| report_step(ActionKind::Report, k, error.as_ref())));
        }
        if !to_delete.is_empty() {
            let error = self.writer.delete(&to_delete).await.err();
            actions.extend(to_delete.iter().map(|k| report_step(ActionKind::Unreport, k, error.as_ref())));
        }
    }
}

fn clone_pair((k, v): (&String, &String)) -> (String, String) {
    (k.clone(), v.clone())
}

fn step(action: ActionKind, dataset: &str, path: Option<&Path>, error: Option<MountError>) -> Action {
    Action {
        action,
        dataset: Some(dataset.to_owned()),
        app: None,
        path: path.map(|p| p.display().to_string()),
        error: error.map(|e| e.to_string()),
    }
}

fn report_step(action: ActionKind, key: &str, error: Option<&crate::tags::TagError>) -> Action {
    Action {
        action,
        dataset: Some(key.strip_prefix(MOUNTED_TAG_PREFIX).unwrap_or(key).to_owned()),
        app: None,
        path: None,
        error: error.map(ToString::to_string),
    }
}

#[async_trait]
impl Reconciler for MountsReconciler {
    fn name(&self) -> &'static str {
        "mounts"
    }

    async fn reconcile(&mut self) -> Result<Outcome, ReconcileError> {
        let tags = self.source.read().await.map_err(ReconcileError::new)?;
        let wanted = Wanted::from_tags(&tags);
        let present = self.present().await?;
        let mut actions = wanted.skipped.clone();
        let mounted = self.converge(&wanted, present, &mut actions).await;
        self.report(&tags, &mounted, &mut actions).await;
        Ok(Outcome { actions })
    }
}

#[cfg(test)]
mod tests;
