//! State-sync: settles workspaces in transitional states from what Service Catalog and EC2
//! report, and keeps the settled ones where EC2 says their instance is (EC2 is the truth:
//! an instance stopped or started outside Atelier moves its workspace, stamped with the
//! instant EC2 reports). Idempotent: a run that finds nothing new changes nothing, and a
//! run interrupted half-way is completed by the next one.
//!
//! Two entries: [`StateSync::run`], the periodic full pass (the safety net), and
//! [`StateSync::on_instance_change`], one EC2 state-change notification, which looks at
//! the one workspace that owns the instance (one read when none does).

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use super::{
    Actor, EventAction, InstanceSeen, InstanceState, InstanceStatus, Observation, PowerSwitch, Progress,
    ProvisionRequest, Provisioned, Provisioner, State, TimeSource, Workspace, WorkspaceFilter, WorkspaceStore,
    record_provisioned, transition_seen,
};
use crate::catalog::Catalog;
use crate::kernel::{DomainError, MAX_PAGE_SIZE, PageRequest, UpstreamError};

/// How long a workspace stays in STARTING/STOPPING/HIBERNATING while EC2 reports the state
/// it was leaving, before state-sync concludes the command did not happen.
pub const RECONCILE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);

/// How long a workspace may stay in a transitional state before state-sync stops waiting
/// for AWS and moves it to `FAILED` with the reason (observation `TimedOut`), measured from
/// `updatedAt` (its last state change). Settings: `ATELIER_PROVISIONING_TIMEOUT_MINUTES`,
/// `ATELIER_POWER_TIMEOUT_MINUTES`, `ATELIER_TERMINATING_TIMEOUT_MINUTES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `PROVISIONING`: a Service Catalog product runs a CloudFormation stack (minutes).
    pub provisioning: SignedDuration,
    /// `STARTING`, `STOPPING`, `HIBERNATING`: EC2 takes seconds to a few minutes (writing
    /// the RAM of a large instance to its volume is the slowest).
    pub power: SignedDuration,
    /// `TERMINATING`: deleting a stack, or an instance.
    pub terminating: SignedDuration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            provisioning: SignedDuration::from_mins(60),
            power: SignedDuration::from_mins(30),
            terminating: SignedDuration::from_mins(60),
        }
    }
}

impl Timeouts {
    /// Checks that each timeout is positive and that the power timeout leaves the
    /// reconciliation grace period ([`RECONCILE_AFTER`]) room to act first.
    pub fn new(
        provisioning: SignedDuration,
        power: SignedDuration,
        terminating: SignedDuration,
    ) -> Result<Self, String> {
        if provisioning <= SignedDuration::ZERO || terminating <= SignedDuration::ZERO {
            return Err("timeouts must be positive".into());
        }
        if power <= RECONCILE_AFTER {
            return Err(format!(
                "the power timeout must be longer than the {}-minute reconciliation grace period",
                RECONCILE_AFTER.as_mins()
            ));
        }
        Ok(Self { provisioning, power, terminating })
    }

    /// The timeout of `state`, `None` for settled states.
    pub fn of(&self, state: State) -> Option<SignedDuration> {
        match state {
            State::Provisioning => Some(self.provisioning),
            State::Starting | State::Stopping | State::Hibernating => Some(self.power),
            State::Terminating => Some(self.terminating),
            _ => None,
        }
    }

    /// True when `ws` has been in its transitional state for its timeout or longer.
    pub fn expired(&self, ws: &Workspace, now: Timestamp) -> bool {
        self.of(ws.state).is_some_and(|timeout| now.duration_since(ws.updated_at) >= timeout)
    }
}

/// What one state-sync run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Workspaces looked at.
    pub examined: usize,
    /// Workspaces moved to another state.
    pub settled: usize,
    /// Of those, the ones moved to FAILED (the `FailedWorkspaces` metric, which raises an alarm).
    pub failed_workspaces: usize,
    /// FAILED workspaces the pass found still holding an instance or a provisioned product
    /// ([`Workspace::failed_with_resources`]): they cost money until someone terminates
    /// them, so they count in the `FailedWorkspaces` metric on every pass too.
    pub failed_with_resources: usize,
    /// Workspaces whose check failed, with why (they are retried on the next run).
    pub failed: Vec<(String, String)>,
}

/// The ports state-sync runs on.
pub struct StateSync<'a> {
    /// Lists the workspaces by state and records each move.
    pub store: &'a dyn WorkspaceStore,
    /// The product, for a provisioning that never got under way.
    pub catalog: &'a dyn Catalog,
    /// Reports (and restarts) provisioning and termination.
    pub provisioner: &'a dyn Provisioner,
    /// Reports what EC2 says of the instances, one batched call per page.
    pub power: &'a dyn PowerSwitch,
    /// When to stop waiting for AWS.
    pub timeouts: Timeouts,
}

/// The order of one run: transitional states first, then the settled states that have an
/// instance (stopped, started or deleted outside Atelier), then `TERMINATING`, so that a
/// workspace moved there by this run is finished by the same run, and `FAILED` last, so
/// that a workspace that failed in this run has its instance looked at in the same run.
const RUN_ORDER: [State; 9] = [
    State::Provisioning,
    State::Starting,
    State::Stopping,
    State::Hibernating,
    State::Running,
    State::Stopped,
    State::Hibernated,
    State::Terminating,
    State::Failed,
];

/// The reason of a workspace moved because its instance was stopped behind Atelier's back.
pub const STOPPED_OUTSIDE: &str = "stopped outside Atelier";
/// The reason of a workspace moved because its instance was started behind Atelier's back.
pub const STARTED_OUTSIDE: &str = "started outside Atelier";

/// One EC2 instance state-change notification (the EventBridge rule's event): the one
/// instance state-sync looks at instead of a full pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceChange {
    /// The instance (`detail.instance-id`).
    pub instance_id: String,
    /// The state EC2 announced (`detail.state`); `None` for a state this code does not know.
    pub state: Option<InstanceState>,
    /// When EC2 says it happened (the event's `time`).
    pub at: Timestamp,
}

/// EventBridge's `detail-type` of EC2's instance state-change notifications.
pub const INSTANCE_CHANGE: &str = "EC2 Instance State-change Notification";

impl InstanceChange {
    /// The change an EventBridge event announces, `Ok(None)` for any other event (the
    /// scheduled tick); `Invalid` when it is a state-change notification without an
    /// instance id or a usable `time`.
    pub fn from_event(event: &serde_json::Value) -> Result<Option<Self>, DomainError> {
        if event.get("detail-type").and_then(serde_json::Value::as_str) != Some(INSTANCE_CHANGE) {
            return Ok(None);
        }
        let detail = event.get("detail");
        let field = |name: &str| detail.and_then(|d| d.get(name)).and_then(serde_json::Value::as_str);
        let instance_id = field("instance-id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| DomainError::invalid("detail.instance-id", "the state-change event names no instance"))?;
        let at = crate::kernel::event_instant(event.get("time").and_then(serde_json::Value::as_str))?;
        Ok(Some(Self { instance_id: instance_id.to_owned(), state: field("state").and_then(InstanceState::parse), at }))
    }
}

/// The instant in an EC2 `StateTransitionReason` such as `User initiated (2026-03-10
/// 14:02:11 GMT)` (moto writes `UTC`), `None` when it holds none.
pub fn transition_instant(reason: &str) -> Option<Timestamp> {
    let inner = reason.rsplit_once('(')?.1.split_once(')')?.0.trim();
    let civil = inner.strip_suffix(" GMT").or_else(|| inner.strip_suffix(" UTC"))?;
    let (date, time) = civil.split_once(' ')?;
    format!("{date}T{time}Z").parse().ok()
}

/// What state-sync was waiting for when it looked, for the timeout's reason.
enum Outcome {
    /// Moved to this state.
    Settled(State),
    /// A FAILED workspace's instance changed: recorded, the workspace stays FAILED.
    Recorded,
    /// Still waiting; what AWS shows, in words.
    Waiting(String),
}

/// How a FAILED workspace's instance is billed, from what EC2 shows: compute while it
/// runs, its storage while it exists, nothing once it is gone.
fn failed_billing(state: InstanceState) -> u8 {
    match state {
        InstanceState::Running => 2,
        s if s.exists() => 1,
        _ => 0,
    }
}

impl StateSync<'_> {
    /// One pass over every transitional workspace, over the settled ones whose instance may
    /// have been stopped, started or deleted outside Atelier, and over the FAILED ones that
    /// still hold resources.
    pub async fn run(&self, now: Timestamp) -> Result<SyncReport, DomainError> {
        let mut report = SyncReport::default();
        for state in RUN_ORDER {
            let mut page = PageRequest::first(MAX_PAGE_SIZE);
            loop {
                let batch = self.store.list(&WorkspaceFilter::State(state), &page).await?;
                report.examined += batch.items.len();
                self.settle_batch(state, batch.items, None, now, &mut report).await;
                match batch.next_token {
                    Some(token) => page.token = Some(token),
                    None => break,
                }
            }
        }
        Ok(report)
    }

    /// One EC2 state-change notification: the workspace whose instance it is (one read of
    /// the instance index; nothing more when Atelier does not own the instance), handled
    /// as the full pass handles its state, with the event's `time` as the instant of what
    /// EC2 shows when EC2 still shows what the event announced.
    pub async fn on_instance_change(&self, change: &InstanceChange, now: Timestamp) -> Result<SyncReport, DomainError> {
        let mut report = SyncReport::default();
        let owner = self
            .store
            .list(&WorkspaceFilter::Instance(change.instance_id.clone()), &PageRequest::first(1))
            .await?
            .items
            .into_iter()
            .next();
        let Some(ws) = owner else { return Ok(report) };
        report.examined = 1;
        self.settle_batch(ws.state, vec![ws], Some(change), now, &mut report).await;
        Ok(report)
    }

    async fn settle_batch(
        &self,
        state: State,
        workspaces: Vec<Workspace>,
        change: Option<&InstanceChange>,
        now: Timestamp,
        report: &mut SyncReport,
    ) {
        match state {
            State::Provisioning | State::Terminating => {
                for ws in workspaces {
                    let outcome = match state {
                        State::Provisioning => self.settle_provisioning(ws.clone(), now).await,
                        _ => self.settle_termination(ws.clone(), now).await,
                    };
                    let outcome = self.unless_timed_out(ws, outcome, None, now).await;
                    record(report, outcome);
                }
            }
            State::Starting
            | State::Stopping
            | State::Hibernating
            | State::Running
            | State::Stopped
            | State::Hibernated
            | State::Failed => {
                let watched: Vec<&Workspace> = workspaces
                    .iter()
                    .filter(|w| state != State::Failed || w.instance_seen.is_none_or(InstanceState::exists))
                    .collect();
                let ids: Vec<String> = watched.iter().filter_map(|w| w.provisioned.instance_id.clone()).collect();
                let observed = if ids.is_empty() {
                    HashMap::new()
                } else {
                    match self.power.describe(&ids).await {
                        Ok(observed) => observed,
                        Err(err) => {
                            for ws in workspaces {
                                let again =
                                    UpstreamError::new(err.service, err.operation, err.retryable, err.to_string());
                                report.failed_with_resources += usize::from(ws.failed_with_resources());
                                let outcome = self.unless_timed_out(ws, Err(again.into()), None, now).await;
                                record(report, outcome);
                            }
                            return;
                        }
                    }
                };
                for ws in workspaces {
                    if state == State::Failed {
                        let (outcome, costly) = self.observe_failed(ws, &observed, change, now).await;
                        report.failed_with_resources += usize::from(costly);
                        record(report, outcome.map_err(|(id, e)| (id.to_string(), e)));
                        continue;
                    }
                    if ws.provisioned.instance_id.is_none() {
                        continue;
                    }
                    let seen = self.seen(&ws, &observed, change, now);
                    let outcome = self.settle_power(ws.clone(), &observed, change, now).await;
                    let outcome = self.unless_timed_out(ws, outcome, seen.map(|(seen, _)| seen), now).await;
                    record(report, outcome);
                }
            }
            State::Terminated => {}
        }
    }

    /// What EC2 shows of `ws`'s instance, and the instant to stamp it with: the event's
    /// `time` when EC2 still shows what the event announced; for a stop, the date EC2 gives
    /// in its `StateTransitionReason`; otherwise `now`. An instant before the workspace's
    /// last change, or after `now`, is not believed (a stale reason, a skewed clock).
    fn seen(
        &self,
        ws: &Workspace,
        observed: &HashMap<String, InstanceStatus>,
        change: Option<&InstanceChange>,
        now: Timestamp,
    ) -> Option<(InstanceSeen, Timestamp)> {
        let id = ws.provisioned.instance_id.clone()?;
        let status = observed.get(&id).cloned().unwrap_or_else(|| InstanceState::Missing.into());
        let stopped_side = matches!(status.state, InstanceState::Stopping | InstanceState::Stopped);
        let announced = change.filter(|c| {
            c.instance_id == id
                && (c.state == Some(status.state) || (c.state == Some(InstanceState::Stopping) && stopped_side))
        });
        let candidate = announced.map(|c| (c.at, TimeSource::Ec2Event)).or_else(|| {
            status
                .transition_reason
                .as_deref()
                .filter(|_| stopped_side)
                .and_then(transition_instant)
                .map(|t| (t, TimeSource::Ec2Reason))
        });
        let (at, time_source) = match candidate {
            Some((t, source)) if ws.updated_at <= t && t <= now => (t, source),
            _ => (now, TimeSource::Observed),
        };
        Some((InstanceSeen { id, state: status.state, transition_reason: status.transition_reason, time_source }, at))
    }

    /// A FAILED workspace: records what EC2 shows of its instance when it bills otherwise
    /// than recorded (running, existing, gone), as an event that leaves it FAILED. Returns
    /// the outcome and whether it still holds resources afterwards.
    async fn observe_failed(
        &self,
        ws: Workspace,
        observed: &HashMap<String, InstanceStatus>,
        change: Option<&InstanceChange>,
        now: Timestamp,
    ) -> (Result<Outcome, (crate::kernel::WorkspaceId, DomainError)>, bool) {
        let costly = ws.failed_with_resources();
        let (ws, learnt) = match self.instance_of_product(ws).await {
            Ok(found) => found,
            Err((id, err)) => return (Err((id, err)), costly),
        };
        let observed = learnt.as_ref().unwrap_or(observed);
        let watched = ws.instance_seen.is_none_or(InstanceState::exists);
        let Some((seen, at)) = self.seen(&ws, observed, change, now).filter(|_| watched) else {
            return (Ok(Outcome::Waiting(String::new())), costly);
        };
        if ws.instance_seen.map(failed_billing) == Some(failed_billing(seen.state)) {
            return (Ok(Outcome::Waiting(String::new())), costly);
        }
        // EC2's reads lag behind: an instance it does not know is taken for deleted only
        // once the workspace's last change is old enough.
        if seen.state == InstanceState::Missing && now.duration_since(ws.updated_at) < RECONCILE_AFTER {
            return (Ok(Outcome::Waiting(String::new())), costly);
        }
        let (observation, billed) = match seen.state {
            InstanceState::Running => (Observation::Running, "compute and storage are billed"),
            s if s.exists() => (Observation::Stopped, "its storage is billed"),
            _ => (Observation::Vanished, "nothing more is billed"),
        };
        let reason = format!(
            "EC2 shows instance {} {}{}: {billed} until the workspace is terminated",
            seen.id,
            seen.state.as_str(),
            seen.transition_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default(),
        );
        let id = ws.id.clone();
        let still = ws.provisioned.provisioned_product_id.is_some() || seen.state.exists();
        match self.observe_seen(ws, observation, Some(reason), Some(seen), at).await {
            Ok(outcome) => (Ok(outcome), still),
            Err(err) => (Err((id, err)), costly),
        }
    }

    /// A FAILED workspace that holds a Service Catalog product but no known instance (its
    /// provisioning failed after the record had created one, or before Atelier read it):
    /// asks the record for the instance, records it when there is one, and describes it, so
    /// that the instance is observed and billed like any FAILED workspace's from now on.
    /// Returns the workspace (with the instance when found) and, when it described one,
    /// what EC2 showed of it.
    async fn instance_of_product(
        &self,
        ws: Workspace,
    ) -> Result<(Workspace, Option<HashMap<String, InstanceStatus>>), (crate::kernel::WorkspaceId, DomainError)> {
        if ws.provisioned.instance_id.is_some() || ws.provisioned.provisioned_product_id.is_none() {
            return Ok((ws, None));
        }
        let id = ws.id.clone();
        let fail = |err: DomainError| (id.clone(), err);
        let progress = self.provisioner.provisioning_progress(&ws.provisioned).await.map_err(|e| fail(e.into()))?;
        let Progress::Succeeded { instance_id: Some(instance) } = progress else { return Ok((ws, None)) };
        let provisioned = Provisioned { instance_id: Some(instance.clone()), ..ws.provisioned.clone() };
        let ws = record_provisioned(self.store, ws, provisioned).await.map_err(fail)?;
        let observed = self.power.describe(&[instance]).await.map_err(|e| fail(e.into()))?;
        Ok((ws, Some(observed)))
    }

    /// Passes `outcome` on, unless the workspace is still waiting (or failing) past its
    /// timeout: then it becomes FAILED, with what state-sync was waiting for as the reason.
    async fn unless_timed_out(
        &self,
        ws: Workspace,
        outcome: Result<Outcome, DomainError>,
        seen: Option<InstanceSeen>,
        now: Timestamp,
    ) -> Result<Outcome, (String, DomainError)> {
        let id = ws.id.to_string();
        let detail = match &outcome {
            Ok(Outcome::Settled(_) | Outcome::Recorded) | Err(DomainError::Concurrent) => None,
            Ok(Outcome::Waiting(detail)) => Some(detail.clone()),
            Err(err) => Some(err.to_string()),
        };
        match detail {
            Some(detail) if self.timeouts.expired(&ws, now) => {
                self.give_up(ws, &detail, seen, now).await.map_err(|e| (id, e))
            }
            _ => outcome.map_err(|e| (id, e)),
        }
    }

    /// Moves a workspace whose timeout has passed to FAILED. A provisioning that timed out
    /// has its resources released first (best effort: the reason says when that failed).
    /// What EC2 showed of the instance (`seen`) goes into the event: the FAILED workspace
    /// is billed by it from then on.
    async fn give_up(
        &self,
        ws: Workspace,
        detail: &str,
        seen: Option<InstanceSeen>,
        now: Timestamp,
    ) -> Result<Outcome, DomainError> {
        // Re-read: the attempt that just failed or waited may have saved a new handle.
        let Some(mut ws) = self.store.get(&ws.id).await? else { return Ok(Outcome::Waiting("gone".into())) };
        let Some(timeout) = self.timeouts.of(ws.state) else { return Ok(Outcome::Waiting("settled meanwhile".into())) };
        let what = match ws.state {
            State::Provisioning => "provisioning",
            State::Starting => "the start",
            State::Stopping => "the stop",
            State::Hibernating => "the hibernation",
            _ => "the termination",
        };
        let mut reason = format!("{what} did not finish within {} minutes ({detail})", timeout.as_mins());
        match ws.state {
            State::Provisioning => {
                let (provisioned, cleanup) = self.release(&ws).await;
                ws.provisioned = provisioned;
                reason.push_str(&cleanup);
            }
            State::Terminating => {
                reason.push_str("; fix the cause, then terminate the workspace again");
            }
            _ => reason.push_str("; an operator must check the instance in EC2"),
        }
        tracing::warn!(workspace = %ws.id, state = %ws.state, reason, "transitional state timed out");
        let seen = seen.map(|seen| InstanceSeen { time_source: TimeSource::Observed, ..seen });
        self.observe_seen(ws, Observation::TimedOut, Some(reason), seen, now).await
    }

    /// Asks the provisioner to tear down what a failed provisioning left behind (a Service
    /// Catalog product in error, an instance still pending). Returns the handle to save and
    /// how it went, as the end of the workspace's `error`.
    async fn release(&self, ws: &Workspace) -> (Provisioned, String) {
        if ws.provisioned == Default::default() {
            return (ws.provisioned.clone(), String::new());
        }
        match self.provisioner.terminate(ws).await {
            Ok(provisioned) => (provisioned, "; its resources are being released".into()),
            Err(err) => {
                tracing::warn!(workspace = %ws.id, error = ?err, "could not release a failed provisioning");
                (ws.provisioned.clone(), format!("; releasing its resources failed ({err}): terminate the workspace"))
            }
        }
    }

    async fn settle_provisioning(&self, mut ws: Workspace, now: Timestamp) -> Result<Outcome, DomainError> {
        if ws.provisioned == Default::default() {
            // The API crashed (or AWS failed) between recording the workspace and starting
            // provisioning: start it now, with the same idempotency token.
            let product = self.catalog.product(&ws.product_id).await?;
            let Some(product) = product else {
                let reason = format!("product {} is no longer in the catalog", ws.product_id);
                return self.observe(ws, Observation::ProvisionFailed, Some(reason), now).await;
            };
            let provisioned =
                self.provisioner.provision(ProvisionRequest { workspace: &ws, product: &product }).await?;
            ws = record_provisioned(self.store, ws, provisioned).await?;
        }
        match self.provisioner.provisioning_progress(&ws.provisioned).await? {
            Progress::InProgress | Progress::NotStarted => {
                Ok(Outcome::Waiting("AWS still reports it in progress".into()))
            }
            Progress::Succeeded { instance_id } => {
                if instance_id.is_some() {
                    ws.provisioned.instance_id = instance_id;
                }
                // Costs bill the volume EC2 actually attached, not the catalog's figure.
                if let (Some(id), Some(launch)) = (ws.provisioned.instance_id.clone(), ws.launch.as_mut()) {
                    launch.provisioned_volume_gib = self.power.attached_volume_gib(&id).await?;
                }
                self.observe(ws, Observation::Provisioned, None, now).await
            }
            Progress::Failed { reason } => {
                // A failed record leaves a provisioned product in error (and maybe parts of
                // its stack): release them in the same write that records the failure.
                let (provisioned, cleanup) = self.release(&ws).await;
                ws.provisioned = provisioned;
                self.observe(ws, Observation::ProvisionFailed, Some(format!("{reason}{cleanup}")), now).await
            }
        }
    }

    async fn settle_termination(&self, ws: Workspace, now: Timestamp) -> Result<Outcome, DomainError> {
        match self.provisioner.termination_progress(&ws.provisioned).await? {
            Progress::NotStarted => {
                // The API's terminate call failed (or it died first): ask again. The
                // provisioner's tokens make a repeated call harmless.
                let provisioned = self.provisioner.terminate(&ws).await?;
                record_provisioned(self.store, ws, provisioned).await?;
                Ok(Outcome::Waiting("the terminate request was sent again".into()))
            }
            Progress::InProgress => Ok(Outcome::Waiting("AWS still reports it in progress".into())),
            Progress::Succeeded { .. } => self.observe(ws, Observation::Terminated, None, now).await,
            Progress::Failed { reason } => Err(DomainError::unprocessable("terminate", reason)),
        }
    }

    async fn settle_power(
        &self,
        mut ws: Workspace,
        observed: &HashMap<String, InstanceStatus>,
        change: Option<&InstanceChange>,
        now: Timestamp,
    ) -> Result<Outcome, DomainError> {
        let Some((seen, at)) = self.seen(&ws, observed, change, now) else {
            return Ok(Outcome::Waiting("the workspace has no instance".into()));
        };
        let instance_id = seen.id.clone();
        let state = seen.state;
        // EC2 may briefly report the old state right after a Start/Stop call (or not know a
        // new instance yet); an observation that contradicts the command only counts once
        // the grace period has passed.
        let settled_for_long = now.duration_since(ws.updated_at) >= RECONCILE_AFTER;
        // `refused`: a command EC2 did not carry out changed nothing at EC2, so no instant of
        // EC2's dates it (a stop's reason would name the stop before the command): the
        // observation's instant stamps it.
        let (observation, reason, refused) = match (ws.state, state) {
            (_, InstanceState::Terminated | InstanceState::ShuttingDown) | (_, InstanceState::Missing)
                if settled_for_long || state != InstanceState::Missing =>
            {
                let what = match state {
                    InstanceState::Missing => "EC2 no longer knows it",
                    InstanceState::ShuttingDown => "EC2 shows it shutting down",
                    _ => "EC2 shows it terminated",
                };
                // The termination that follows must not mistake the provisioning record
                // for its own (as a terminate command does, see `Workspaces::command`).
                ws.provisioned.record_id = None;
                let reason =
                    format!("instance {instance_id} was deleted outside Atelier ({what}); finishing the termination");
                return self.observe_seen(ws, Observation::Vanished, Some(reason), None, now).await;
            }
            // EC2 is the truth: a settled workspace follows an instance stopped or started
            // behind Atelier's back (Atelier claims its own commands' states first).
            (State::Running, InstanceState::Stopping | InstanceState::Stopped) => {
                (Observation::Stopped, Some(STOPPED_OUTSIDE.to_owned()), false)
            }
            (State::Stopped | State::Hibernated, InstanceState::Running) => {
                (Observation::Running, Some(STARTED_OUTSIDE.to_owned()), false)
            }
            (State::Running | State::Stopped | State::Hibernated, _) => return Ok(Outcome::Waiting(String::new())),
            (State::Starting | State::Stopping, InstanceState::Running)
                if ws.state == State::Starting || settled_for_long =>
            {
                let refused = ws.state == State::Stopping;
                (
                    Observation::Running,
                    refused.then(|| "the stop did not happen: the instance is running".to_owned()),
                    refused,
                )
            }
            (State::Stopping | State::Hibernating, InstanceState::Stopped) => (Observation::Stopped, None, false),
            (State::Starting, InstanceState::Stopped) if settled_for_long => {
                (Observation::Stopped, Some("the start did not happen: the instance is stopped".to_owned()), true)
            }
            (State::Hibernating, InstanceState::Running) if settled_for_long => {
                (Observation::Running, Some("the hibernation did not happen: the instance is running".to_owned()), true)
            }
            _ => return Ok(Outcome::Waiting(format!("EC2 shows instance {instance_id} {}", state.as_str()))),
        };
        let (seen, at) =
            if refused { (InstanceSeen { time_source: TimeSource::Observed, ..seen }, now) } else { (seen, at) };
        self.observe_seen(ws, observation, reason, Some(seen), at).await
    }

    async fn observe(
        &self,
        ws: Workspace,
        observation: Observation,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Outcome, DomainError> {
        self.observe_seen(ws, observation, reason, None, now).await
    }

    /// Applies `observation` at `at`, with what EC2 showed of the instance in the event.
    async fn observe_seen(
        &self,
        ws: Workspace,
        observation: Observation,
        reason: Option<String>,
        seen: Option<InstanceSeen>,
        at: Timestamp,
    ) -> Result<Outcome, DomainError> {
        let from = ws.state;
        let trigger = observation.into();
        let moved =
            transition_seen(self.store, ws, trigger, Actor::state_sync(), EventAction::Sync, reason, seen, at).await?;
        Ok(if moved.state == from { Outcome::Recorded } else { Outcome::Settled(moved.state) })
    }
}

fn record(report: &mut SyncReport, outcome: Result<Outcome, (String, DomainError)>) {
    match outcome {
        Ok(Outcome::Settled(state)) => {
            report.settled += 1;
            if state == State::Failed {
                report.failed_workspaces += 1;
            }
        }
        Ok(Outcome::Waiting(_) | Outcome::Recorded) => {}
        // Someone else settled it first: nothing to do.
        Err((_, DomainError::Concurrent)) => {}
        Err((id, err)) => report.failed.push((id, err.to_string())),
    }
}

#[cfg(test)]
mod tests;
