//! State-sync: settles workspaces in transitional states from what Service Catalog and EC2
//! report. Idempotent: a run that finds nothing new changes nothing, and a run interrupted
//! half-way is completed by the next one.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use super::{
    Actor, EventAction, InstanceState, Observation, PowerSwitch, Progress, ProvisionRequest, Provisioned, Provisioner,
    State, Workspace, WorkspaceFilter, WorkspaceStore, record_provisioned, transition,
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
/// instance (whose instance may have been deleted outside Atelier), then `TERMINATING`
/// last, so that a workspace moved there by this run is finished by the same run.
const RUN_ORDER: [State; 8] = [
    State::Provisioning,
    State::Starting,
    State::Stopping,
    State::Hibernating,
    State::Running,
    State::Stopped,
    State::Hibernated,
    State::Terminating,
];

/// What state-sync was waiting for when it looked, for the timeout's reason.
enum Outcome {
    /// Moved to this state.
    Settled(State),
    /// Still waiting; what AWS shows, in words.
    Waiting(String),
}

impl StateSync<'_> {
    /// One pass over every transitional workspace, and over the settled ones for instances
    /// deleted outside Atelier.
    pub async fn run(&self, now: Timestamp) -> Result<SyncReport, DomainError> {
        let mut report = SyncReport::default();
        for state in RUN_ORDER {
            let mut page = PageRequest::first(MAX_PAGE_SIZE);
            loop {
                let batch = self.store.list(&WorkspaceFilter::State(state), &page).await?;
                report.examined += batch.items.len();
                self.settle_batch(state, batch.items, now, &mut report).await;
                match batch.next_token {
                    Some(token) => page.token = Some(token),
                    None => break,
                }
            }
        }
        Ok(report)
    }

    async fn settle_batch(&self, state: State, workspaces: Vec<Workspace>, now: Timestamp, report: &mut SyncReport) {
        match state {
            State::Provisioning | State::Terminating => {
                for ws in workspaces {
                    let outcome = match state {
                        State::Provisioning => self.settle_provisioning(ws.clone(), now).await,
                        _ => self.settle_termination(ws.clone(), now).await,
                    };
                    let outcome = self.unless_timed_out(ws, outcome, now).await;
                    record(report, outcome);
                }
            }
            State::Starting
            | State::Stopping
            | State::Hibernating
            | State::Running
            | State::Stopped
            | State::Hibernated => {
                let ids: Vec<String> = workspaces.iter().filter_map(|w| w.provisioned.instance_id.clone()).collect();
                if ids.is_empty() {
                    return;
                }
                let observed = match self.power.observe(&ids).await {
                    Ok(observed) => observed,
                    Err(err) => {
                        for ws in workspaces {
                            let again = UpstreamError::new(err.service, err.operation, err.retryable, err.to_string());
                            let outcome = self.unless_timed_out(ws, Err(again.into()), now).await;
                            record(report, outcome);
                        }
                        return;
                    }
                };
                for ws in workspaces {
                    let outcome = self.settle_power(ws.clone(), &observed, now).await;
                    let outcome = self.unless_timed_out(ws, outcome, now).await;
                    record(report, outcome);
                }
            }
            State::Terminated | State::Failed => {}
        }
    }

    /// Passes `outcome` on, unless the workspace is still waiting (or failing) past its
    /// timeout: then it becomes FAILED, with what state-sync was waiting for as the reason.
    async fn unless_timed_out(
        &self,
        ws: Workspace,
        outcome: Result<Outcome, DomainError>,
        now: Timestamp,
    ) -> Result<Outcome, (String, DomainError)> {
        let id = ws.id.to_string();
        let detail = match &outcome {
            Ok(Outcome::Settled(_)) | Err(DomainError::Concurrent) => None,
            Ok(Outcome::Waiting(detail)) => Some(detail.clone()),
            Err(err) => Some(err.to_string()),
        };
        match detail {
            Some(detail) if self.timeouts.expired(&ws, now) => {
                self.give_up(ws, &detail, now).await.map_err(|e| (id, e))
            }
            _ => outcome.map_err(|e| (id, e)),
        }
    }

    /// Moves a workspace whose timeout has passed to FAILED. A provisioning that timed out
    /// has its resources released first (best effort: the reason says when that failed).
    async fn give_up(&self, ws: Workspace, detail: &str, now: Timestamp) -> Result<Outcome, DomainError> {
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
        self.observe(ws, Observation::TimedOut, Some(reason), now).await
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
        observed: &HashMap<String, InstanceState>,
        now: Timestamp,
    ) -> Result<Outcome, DomainError> {
        let Some(instance_id) = ws.provisioned.instance_id.clone() else {
            return Ok(Outcome::Waiting("the workspace has no instance".into()));
        };
        let seen = observed.get(&instance_id).copied().unwrap_or(InstanceState::Missing);
        // EC2 may briefly report the old state right after a Start/Stop call (or not know a
        // new instance yet); an observation that contradicts the command only counts once
        // the grace period has passed.
        let settled_for_long = now.duration_since(ws.updated_at) >= RECONCILE_AFTER;
        let (observation, reason) = match (ws.state, seen) {
            (_, InstanceState::Terminated | InstanceState::ShuttingDown) | (_, InstanceState::Missing)
                if settled_for_long || seen != InstanceState::Missing =>
            {
                let what = match seen {
                    InstanceState::Missing => "EC2 no longer knows it",
                    InstanceState::ShuttingDown => "EC2 shows it shutting down",
                    _ => "EC2 shows it terminated",
                };
                // The termination that follows must not mistake the provisioning record
                // for its own (as a terminate command does, see `Workspaces::command`).
                ws.provisioned.record_id = None;
                (
                    Observation::Vanished,
                    Some(format!(
                        "instance {instance_id} was deleted outside Atelier ({what}); finishing the termination"
                    )),
                )
            }
            (State::Running | State::Stopped | State::Hibernated, _) => return Ok(Outcome::Waiting(String::new())),
            (State::Starting | State::Stopping, InstanceState::Running)
                if ws.state == State::Starting || settled_for_long =>
            {
                (
                    Observation::Running,
                    (ws.state == State::Stopping)
                        .then(|| "the stop did not happen: the instance is running".to_owned()),
                )
            }
            (State::Stopping | State::Hibernating, InstanceState::Stopped) => (Observation::Stopped, None),
            (State::Starting, InstanceState::Stopped) if settled_for_long => {
                (Observation::Stopped, Some("the start did not happen: the instance is stopped".to_owned()))
            }
            (State::Hibernating, InstanceState::Running) if settled_for_long => {
                (Observation::Running, Some("the hibernation did not happen: the instance is running".to_owned()))
            }
            _ => return Ok(Outcome::Waiting(format!("EC2 shows instance {instance_id} {}", seen.as_str()))),
        };
        self.observe(ws, observation, reason, now).await
    }

    async fn observe(
        &self,
        ws: Workspace,
        observation: Observation,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Outcome, DomainError> {
        let moved =
            transition(self.store, ws, observation.into(), Actor::state_sync(), EventAction::Sync, reason, now).await?;
        Ok(Outcome::Settled(moved.state))
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
        Ok(Outcome::Waiting(_)) => {}
        // Someone else settled it first: nothing to do.
        Err((_, DomainError::Concurrent)) => {}
        Err((id, err)) => report.failed.push((id, err.to_string())),
    }
}

#[cfg(test)]
mod tests;
