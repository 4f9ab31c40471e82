//! [`FakeEc2`]: the machines' side of EC2, [`PowerSwitch`] and [`DataMounts`].

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::datasets::{DataMounts, DatasetId, Mount, MountReport};
use crate::kernel::UpstreamError;
use crate::workspaces::{InstanceState, InstanceStatus, PowerSwitch, Workspace};

/// What a [`PowerSwitch`] call asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    /// `StartInstances`.
    Start,
    /// `StopInstances`, hibernating or not.
    Stop {
        /// Whether the call asked to hibernate.
        hibernate: bool,
    },
}

/// One start or stop call, as asked (refused calls included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerCall {
    /// Start or stop.
    pub action: PowerAction,
    /// The instances the call named, in order.
    pub instances: Vec<String>,
    /// Whether EC2 accepted it.
    pub accepted: bool,
}

#[derive(Default)]
struct Ec2Data {
    states: HashMap<String, InstanceState>,
    refused: HashSet<String>,
    calls: Vec<PowerCall>,
    mounts: HashMap<String, Vec<Mount>>,
    /// What each machine's agent reports mounted.
    reported: HashMap<String, Vec<MountReport>>,
    /// What each machine's agent reports of its apps (`atelier:app:*`).
    apps: HashMap<String, std::collections::BTreeMap<String, bool>>,
    /// GiB attached to each instance ([`FakeEc2::set_volume`]).
    volumes: HashMap<String, u32>,
    /// Each instance's `StateTransitionReason` ([`FakeEc2::set_reason`]).
    reasons: HashMap<String, String>,
    /// How many `DescribeInstances` calls were made ([`FakeEc2::describes`]).
    describes: usize,
}

/// EC2 as each test sets it: instance states ([`FakeEc2::set`]; an instance never set is
/// unknown, [`InstanceState::Missing`]), instances whose every call is refused
/// ([`FakeEc2::refuse`]), the log of start and stop calls ([`FakeEc2::calls`]) and each
/// machine's published mount list ([`FakeEc2::mounts`]). An accepted start leaves its
/// instances `pending` and a stop `stopping`, as EC2 answers; [`FakeEc2::set`] settles them.
#[derive(Default)]
pub struct FakeEc2 {
    data: Mutex<Ec2Data>,
}

impl FakeEc2 {
    fn lock(&self) -> MutexGuard<'_, Ec2Data> {
        self.data.lock().expect("fake EC2 lock")
    }

    /// Makes EC2 show `gib` GiB of volumes attached to `instance`.
    pub fn set_volume(&self, instance: &str, gib: u32) {
        self.lock().volumes.insert(instance.to_owned(), gib);
    }

    /// Makes EC2 show `instance` in `state`.
    pub fn set(&self, instance: &str, state: InstanceState) {
        self.lock().states.insert(instance.to_owned(), state);
    }

    /// Makes EC2 give `reason` as `instance`'s `StateTransitionReason`
    /// (`User initiated (2026-03-10 14:02:11 GMT)`).
    pub fn set_reason(&self, instance: &str, reason: &str) {
        self.lock().reasons.insert(instance.to_owned(), reason.to_owned());
    }

    /// How many times instances were described (one batched `DescribeInstances` each).
    pub fn describes(&self) -> usize {
        self.lock().describes
    }

    /// Makes `instance`'s agent report `app` answering (`true`) or not.
    pub fn report_app(&self, instance: &str, app: &str, ready: bool) {
        self.lock().apps.entry(instance.to_owned()).or_default().insert(app.to_owned(), ready);
    }

    /// What EC2 shows of `instance`.
    pub fn state(&self, instance: &str) -> InstanceState {
        self.lock().states.get(instance).copied().unwrap_or(InstanceState::Missing)
    }

    /// Makes every start or stop call that names `instance` fail, definitively (as EC2
    /// refuses a malformed or foreign instance id): one bad instance in a batch fails the
    /// batch.
    pub fn refuse(&self, instance: &str) {
        self.lock().refused.insert(instance.to_owned());
    }

    /// Every start and stop call so far, refused ones included.
    pub fn calls(&self) -> Vec<PowerCall> {
        self.lock().calls.clone()
    }

    /// The instances of every accepted stop call, in order.
    pub fn stopped(&self) -> Vec<String> {
        self.accepted(|action| matches!(action, PowerAction::Stop { .. }))
    }

    /// The instances of every accepted start call, in order.
    pub fn started(&self) -> Vec<String> {
        self.accepted(|action| action == PowerAction::Start)
    }

    fn accepted(&self, of: impl Fn(PowerAction) -> bool) -> Vec<String> {
        let data = self.lock();
        data.calls.iter().filter(|c| c.accepted && of(c.action)).flat_map(|c| c.instances.clone()).collect()
    }

    /// The mount list last published to `instance`'s machine, if any was.
    pub fn mounts(&self, instance: &str) -> Option<Vec<Mount>> {
        self.lock().mounts.get(instance).cloned()
    }

    /// The machine `instance`'s agent reports `dataset` mounted since `at`.
    pub fn report_mounted(&self, instance: &str, dataset: &str, at: jiff::Timestamp) {
        let dataset_id = DatasetId::parse(dataset).expect("a valid dataset id");
        self.lock().reported.entry(instance.to_owned()).or_default().push(MountReport { dataset_id, mounted_at: at });
    }

    fn power(&self, action: PowerAction, instances: &[String]) -> Result<(), UpstreamError> {
        let mut data = self.lock();
        let accepted = !instances.iter().any(|i| data.refused.contains(i));
        data.calls.push(PowerCall { action, instances: instances.to_vec(), accepted });
        let operation = match action {
            PowerAction::Start => "StartInstances",
            PowerAction::Stop { .. } => "StopInstances",
        };
        if !accepted {
            return Err(UpstreamError::new("ec2", operation, false, "InvalidInstanceID.Malformed"));
        }
        let now = match action {
            PowerAction::Start => InstanceState::Pending,
            PowerAction::Stop { .. } => InstanceState::Stopping,
        };
        for instance in instances {
            data.states.insert(instance.clone(), now);
        }
        Ok(())
    }
}

#[async_trait]
impl PowerSwitch for FakeEc2 {
    async fn start(&self, instance_ids: &[String]) -> Result<(), UpstreamError> {
        self.power(PowerAction::Start, instance_ids)
    }

    async fn stop(&self, instance_ids: &[String], hibernate: bool) -> Result<(), UpstreamError> {
        self.power(PowerAction::Stop { hibernate }, instance_ids)
    }

    async fn observe(&self, instance_ids: &[String]) -> Result<HashMap<String, InstanceState>, UpstreamError> {
        Ok(self.describe(instance_ids).await?.into_iter().map(|(id, status)| (id, status.state)).collect())
    }

    async fn describe(&self, instance_ids: &[String]) -> Result<HashMap<String, InstanceStatus>, UpstreamError> {
        let mut data = self.lock();
        data.describes += 1;
        Ok(instance_ids
            .iter()
            .map(|id| {
                let state = data.states.get(id).copied().unwrap_or(InstanceState::Missing);
                (id.clone(), InstanceStatus { state, transition_reason: data.reasons.get(id).cloned() })
            })
            .collect())
    }

    async fn attached_volume_gib(&self, instance_id: &str) -> Result<Option<u32>, UpstreamError> {
        Ok(self.lock().volumes.get(instance_id).copied())
    }
}

#[async_trait]
impl DataMounts for FakeEc2 {
    /// Replaces the machine's list and answers its agent's reports; nothing when the
    /// workspace has no machine yet.
    async fn publish(&self, workspace: &Workspace, mounts: &[Mount]) -> Result<Vec<MountReport>, UpstreamError> {
        let Some(instance) = &workspace.provisioned.instance_id else { return Ok(Vec::new()) };
        let mut data = self.lock();
        data.mounts.insert(instance.clone(), mounts.to_vec());
        Ok(data.reported.get(instance).cloned().unwrap_or_default())
    }
}

/// A running instance's guard is at `<instance id>:8443` (the fake's stand-in for its
/// private address); any other state has no endpoint.
#[async_trait]
impl crate::apps::AppEndpoints for FakeEc2 {
    async fn endpoint(&self, instance_id: &str) -> Result<Option<crate::apps::Endpoint>, UpstreamError> {
        let data = self.lock();
        if data.states.get(instance_id) != Some(&InstanceState::Running) {
            return Ok(None);
        }
        let ready = data.apps.get(instance_id).cloned().unwrap_or_default();
        Ok(Some(crate::apps::Endpoint { upstream: format!("{instance_id}:8443"), ready }))
    }
}
