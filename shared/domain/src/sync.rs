//! State-sync: settles workspaces in transitional states from what Service Catalog and EC2
//! report. Idempotent: a run that finds nothing new changes nothing, and a run interrupted
//! half-way is completed by the next one.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::{
    Actor, DomainError, EventAction, Observation, State, Workspace,
    ports::{
        Catalog, InstanceState, MAX_PAGE_SIZE, PageRequest, PowerSwitch, Progress, ProvisionRequest, Provisioner,
        WorkspaceFilter, WorkspaceStore,
    },
    service::{record_provisioned, transition},
};

/// How long a workspace stays in STARTING/STOPPING/HIBERNATING while EC2 reports the state
/// it was leaving, before state-sync concludes the command did not happen.
pub const RECONCILE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);

/// What one state-sync run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Workspaces looked at.
    pub examined: usize,
    /// Workspaces moved to another state.
    pub settled: usize,
    /// Workspaces whose check failed, with why (they are retried on the next run).
    pub failed: Vec<(String, String)>,
}

/// The ports state-sync runs on.
pub struct StateSync<'a> {
    pub store: &'a dyn WorkspaceStore,
    pub catalog: &'a dyn Catalog,
    pub provisioner: &'a dyn Provisioner,
    pub power: &'a dyn PowerSwitch,
}

impl StateSync<'_> {
    /// One pass over every transitional workspace.
    pub async fn run(&self, now: Timestamp) -> Result<SyncReport, DomainError> {
        let mut report = SyncReport::default();
        for state in State::TRANSITIONAL {
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
            State::Provisioning => {
                for ws in workspaces {
                    let id = ws.id.to_string();
                    let outcome = self.settle_provisioning(ws, now).await;
                    record(report, id, outcome);
                }
            }
            State::Terminating => {
                for ws in workspaces {
                    let id = ws.id.to_string();
                    let outcome = self.settle_termination(ws, now).await;
                    record(report, id, outcome);
                }
            }
            State::Starting | State::Stopping | State::Hibernating => {
                let ids: Vec<String> = workspaces.iter().filter_map(|w| w.provisioned.instance_id.clone()).collect();
                let observed = match self.power.observe(&ids).await {
                    Ok(observed) => observed,
                    Err(err) => {
                        for ws in workspaces {
                            report.failed.push((ws.id.to_string(), err.to_string()));
                        }
                        return;
                    }
                };
                for ws in workspaces {
                    let id = ws.id.to_string();
                    let outcome = self.settle_power(ws, &observed, now).await;
                    record(report, id, outcome);
                }
            }
            _ => {}
        }
    }

    async fn settle_provisioning(&self, mut ws: Workspace, now: Timestamp) -> Result<bool, DomainError> {
        if ws.provisioned == Default::default() {
            // The API crashed (or AWS failed) between recording the workspace and starting
            // provisioning: start it now, with the same idempotency token.
            let product = self.catalog.product(&ws.product_id).await?;
            let Some(product) = product else {
                let reason = format!("product {} is no longer in the catalog", ws.product_id);
                self.observe(ws, Observation::ProvisionFailed, Some(reason), now).await?;
                return Ok(true);
            };
            let provisioned =
                self.provisioner.provision(ProvisionRequest { workspace: &ws, product: &product }).await?;
            ws = record_provisioned(self.store, ws, provisioned).await?;
        }
        match self.provisioner.provisioning_progress(&ws.provisioned).await? {
            Progress::InProgress | Progress::NotStarted => Ok(false),
            Progress::Succeeded { instance_id } => {
                if instance_id.is_some() {
                    ws.provisioned.instance_id = instance_id;
                }
                self.observe(ws, Observation::Provisioned, None, now).await?;
                Ok(true)
            }
            Progress::Failed { reason } => {
                self.observe(ws, Observation::ProvisionFailed, Some(reason), now).await?;
                Ok(true)
            }
        }
    }

    async fn settle_termination(&self, ws: Workspace, now: Timestamp) -> Result<bool, DomainError> {
        match self.provisioner.termination_progress(&ws.provisioned).await? {
            Progress::NotStarted => {
                // The API's terminate call failed (or it died first): ask again. The
                // provisioner's tokens make a repeated call harmless.
                let provisioned = self.provisioner.terminate(&ws).await?;
                record_provisioned(self.store, ws, provisioned).await?;
                Ok(false)
            }
            Progress::InProgress => Ok(false),
            Progress::Succeeded { .. } => {
                self.observe(ws, Observation::Terminated, None, now).await?;
                Ok(true)
            }
            Progress::Failed { reason } => Err(DomainError::unprocessable("terminate", reason)),
        }
    }

    async fn settle_power(
        &self,
        ws: Workspace,
        observed: &HashMap<String, InstanceState>,
        now: Timestamp,
    ) -> Result<bool, DomainError> {
        let Some(instance_id) = ws.provisioned.instance_id.as_deref() else {
            return Ok(false);
        };
        // EC2 may briefly report the old state right after a Start/Stop call; an observation
        // that contradicts the command only counts once the grace period has passed.
        let settled_for_long = now.duration_since(ws.updated_at) >= RECONCILE_AFTER;
        let (observation, reason) = match (ws.state, observed.get(instance_id)) {
            (State::Starting | State::Stopping, Some(InstanceState::Running))
                if ws.state == State::Starting || settled_for_long =>
            {
                (
                    Observation::Running,
                    (ws.state == State::Stopping)
                        .then(|| "the stop did not happen: the instance is running".to_owned()),
                )
            }
            (State::Stopping | State::Hibernating, Some(InstanceState::Stopped)) => (Observation::Stopped, None),
            (State::Starting, Some(InstanceState::Stopped)) if settled_for_long => {
                (Observation::Stopped, Some("the start did not happen: the instance is stopped".to_owned()))
            }
            (State::Hibernating, Some(InstanceState::Running)) if settled_for_long => {
                (Observation::Running, Some("the hibernation did not happen: the instance is running".to_owned()))
            }
            _ => return Ok(false),
        };
        self.observe(ws, observation, reason, now).await?;
        Ok(true)
    }

    async fn observe(
        &self,
        ws: Workspace,
        observation: Observation,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Workspace, DomainError> {
        transition(self.store, ws, observation.into(), Actor::state_sync(), EventAction::Sync, reason, now).await
    }
}

fn record(report: &mut SyncReport, id: String, outcome: Result<bool, DomainError>) {
    match outcome {
        Ok(true) => report.settled += 1,
        Ok(false) => {}
        // Someone else settled it first: nothing to do.
        Err(DomainError::Concurrent) => {}
        Err(err) => report.failed.push((id, err.to_string())),
    }
}
