//! The working-window scheduler (docs/adr/0005-scheduler.md): on each tick, starts the
//! workspaces whose window opened and stops (or hibernates) those whose window closed
//! since the previous tick.
//!
//! It acts only on transitions, so a user who stopped early or started late is left alone;
//! it batches EC2 calls per action, retries a failed batch one instance at a time so one bad
//! instance never blocks the others, and is idempotent: a run for an instant already handled
//! changes nothing. The instant comes from the caller (the triggering event), never from the
//! wall clock, so any instant can be replayed.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Serialize, Serializer, ser::SerializeSeq};

use super::{Desired, OutsideAction, SchedulerRuns, desired, next_transition};
use crate::kernel::{DomainError, StoreError, UpstreamError, all_pages};
use crate::workspaces::{
    Actor, Command, Event, PowerSwitch, StartGate, State, Workspace, WorkspaceFilter, WorkspaceStore, transition,
    writer::append,
};

/// How far back the first run ever looks for transitions: twice the EventBridge rate, so
/// that a transition falling exactly on the previous (unrecorded) tick is not missed.
pub const FIRST_RUN_LOOKBACK: SignedDuration = SignedDuration::from_mins(10);

/// The states the scheduler may act on; every other one is left alone.
pub const SCHEDULED_STATES: [State; 3] = [State::Running, State::Stopped, State::Hibernated];

/// What one scheduler run did. Ids are workspace ids.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SchedulerReport {
    /// Workspaces started because a window opened.
    pub started: Vec<String>,
    /// Workspaces stopped because a window closed.
    pub stopped: Vec<String>,
    /// Workspaces hibernated because a window closed.
    pub hibernated: Vec<String>,
    /// Workspaces looked at and left alone.
    pub skipped: usize,
    /// Workspaces whose action failed, with why; serialized as `[{"id","reason"}]`.
    #[serde(serialize_with = "serialize_failed")]
    pub failed: Vec<(String, String)>,
    /// Workspaces whose window opened but whose start was refused (the owner's budget),
    /// with why, as their history records it; serialized as `[{"id","reason"}]`.
    #[serde(serialize_with = "serialize_failed")]
    pub refused: Vec<(String, String)>,
}

fn serialize_failed<S: Serializer>(failed: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Failure<'a> {
        id: &'a str,
        reason: &'a str,
    }
    let mut seq = serializer.serialize_seq(Some(failed.len()))?;
    for (id, reason) in failed {
        seq.serialize_element(&Failure { id, reason })?;
    }
    seq.end()
}

/// The ports the scheduler runs on.
pub struct Scheduler<'a> {
    /// The candidates, by state, and the claimed transitions.
    pub store: &'a dyn WorkspaceStore,
    /// Carries the claimed transitions out, one batched call per action.
    pub power: &'a dyn PowerSwitch,
    /// The instant the previous run covered up to, and this run's once it is done.
    pub runs: &'a dyn SchedulerRuns,
    /// Asked before each start, once per owner and run: a refused start is recorded in the
    /// workspace's history instead of made.
    pub gate: &'a dyn StartGate,
}

/// What the scheduler decided for one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Stop,
    Hibernate,
}

impl Action {
    const ALL: [Action; 3] = [Action::Start, Action::Stop, Action::Hibernate];

    fn command(self) -> Command {
        match self {
            Action::Start => Command::Start,
            Action::Stop => Command::Stop,
            Action::Hibernate => Command::Hibernate,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Action::Start => "window opened",
            Action::Stop | Action::Hibernate => "window closed",
        }
    }
}

impl SchedulerReport {
    /// Notes that the action on workspace `id` went through.
    fn done(&mut self, action: Action, id: String) {
        match action {
            Action::Start => self.started.push(id),
            Action::Stop => self.stopped.push(id),
            Action::Hibernate => self.hibernated.push(id),
        }
    }
}

impl Scheduler<'_> {
    /// One run for instant `at`: acts on the transitions in `(previous run, at]`.
    pub async fn run(&self, at: Timestamp) -> Result<SchedulerReport, DomainError> {
        let mut report = SchedulerReport::default();
        let previous = self.runs.last_run().await?.unwrap_or(at - FIRST_RUN_LOOKBACK);
        let workspaces = self.candidates().await?;
        if at <= previous {
            // This instant was handled already: nothing can have happened since.
            report.skipped = workspaces.len();
            return Ok(report);
        }
        let (claimed, unclaimed) = self.claim(workspaces, previous, at, &mut report).await;
        for action in Action::ALL {
            self.carry_out(action, &claimed, at, &mut report).await;
        }
        if unclaimed > 0 {
            // Not recorded: the next run covers the same interval again and retries these.
            // The workspaces claimed by this run are no longer candidates, so nothing is
            // done twice.
            tracing::warn!(unclaimed, "scheduler run left transitions unclaimed; the next run retries them");
            return Ok(report);
        }
        match self.runs.record_run(at).await {
            // A later run was recorded meanwhile: it covers this one.
            Ok(()) | Err(StoreError::Conflict) => Ok(report),
            Err(err) => Err(err.into()),
        }
    }

    /// Every workspace in a state the scheduler may act on, read before acting so that the
    /// writes do not move items under the pages being read.
    async fn candidates(&self) -> Result<Vec<Workspace>, DomainError> {
        let mut all = Vec::new();
        for state in SCHEDULED_STATES {
            let filter = &WorkspaceFilter::State(state);
            all.extend(all_pages(|page| async move { self.store.list(filter, &page).await }).await?);
        }
        Ok(all)
    }

    /// Claims the transition of every workspace whose window opened or closed in
    /// `(previous, at]` with the lifecycle's conditional write. Returns the claimed ones,
    /// and how many could not be claimed for another reason than someone acting first (the
    /// store was throttled or unreachable: this interval is not done with).
    async fn claim(
        &self,
        workspaces: Vec<Workspace>,
        previous: Timestamp,
        at: Timestamp,
        report: &mut SchedulerReport,
    ) -> (Vec<(Action, Workspace)>, usize) {
        let mut claimed = Vec::new();
        let mut unclaimed = 0;
        let mut refusals: HashMap<String, Option<String>> = HashMap::new();
        for workspace in workspaces {
            let Some(action) = decide(&workspace, previous, at) else {
                report.skipped += 1;
                continue;
            };
            let id = workspace.id.to_string();
            if action == Action::Start {
                let owner = workspace.owner.username.clone();
                let refusal = match refusals.get(&owner) {
                    Some(known) => known.clone(),
                    None => match self.gate.refusal(&owner, at).await {
                        Ok(answer) => refusals.entry(owner).or_insert(answer).clone(),
                        Err(err) => {
                            // Not known: this interval is not done with; the next run asks again.
                            unclaimed += 1;
                            report.failed.push((id, err.to_string()));
                            continue;
                        }
                    },
                };
                if let Some(why) = refusal {
                    self.record_refusal(&workspace, &why, at).await;
                    report.refused.push((id, why));
                    continue;
                }
            }
            let (command, reason) = (action.command(), Some(action.reason().to_owned()));
            match transition(self.store, workspace, command.into(), Actor::scheduler(), command.into(), reason, at)
                .await
            {
                Ok(workspace) => claimed.push((action, workspace)),
                // Someone acted on it meanwhile: theirs is the last word.
                Err(DomainError::Concurrent | DomainError::IllegalTransition(_)) => report.skipped += 1,
                Err(err) => {
                    unclaimed += 1;
                    report.failed.push((id, err.to_string()));
                }
            }
        }
        (claimed, unclaimed)
    }

    /// Asks EC2 to carry out `action` for the workspaces claimed for it, and reports each.
    async fn carry_out(
        &self,
        action: Action,
        claimed: &[(Action, Workspace)],
        at: Timestamp,
        report: &mut SchedulerReport,
    ) {
        let batch: Vec<&Workspace> = claimed
            .iter()
            .filter(|(a, w)| *a == action && w.provisioned.instance_id.is_some())
            .map(|(_, w)| w)
            .collect();
        if batch.is_empty() {
            return;
        }
        let failures = self.power_batch(action, &batch).await;
        for workspace in batch {
            let id = workspace.id.to_string();
            match failures.iter().find(|(failed, _)| *failed == id) {
                Some((_, reason)) => {
                    self.record_failure(workspace, action, reason, at).await;
                    report.failed.push((id, reason.clone()));
                }
                None => report.done(action, id),
            }
        }
    }

    /// One batched EC2 call for `batch`; when it fails, one call per instance. Returns the
    /// workspaces whose instance could not be switched, with why. Those stay transitional;
    /// state-sync reconciles them after its grace period.
    async fn power_batch(&self, action: Action, batch: &[&Workspace]) -> Vec<(String, String)> {
        let instances: Vec<String> = batch.iter().filter_map(|w| w.provisioned.instance_id.clone()).collect();
        if self.switch(action, &instances).await.is_ok() {
            return Vec::new();
        }
        let mut failed = Vec::new();
        for (workspace, instance) in batch.iter().zip(&instances) {
            if let Err(err) = self.switch(action, std::slice::from_ref(instance)).await {
                tracing::warn!(workspace = %workspace.id, instance = %instance, error = ?err, "scheduler power action failed");
                failed.push((workspace.id.to_string(), format!("{err}: {}", err.source)));
            }
        }
        failed
    }

    /// Appends to the workspace's history that EC2 refused the action (the state stays
    /// transitional; state-sync reconciles it after its grace period).
    async fn record_failure(&self, workspace: &Workspace, action: Action, reason: &str, at: Timestamp) {
        let command = action.command();
        let mut next = workspace.clone();
        next.version += 1;
        let event = Event {
            at,
            actor: Actor::scheduler(),
            action: command.into(),
            from: Some(workspace.state),
            to: workspace.state,
            reason: Some(format!("EC2 refused to {}: {reason}", command.as_str())),
            connection: None,
            instance: None,
        };
        if let Err(err) = append(self.store, &mut next, workspace.state, &event).await {
            tracing::warn!(workspace = %workspace.id, error = ?err, "could not record the scheduler failure");
        }
    }

    /// Appends to the workspace's history that its window opened but the start was refused,
    /// and why (the state does not change; a conditional write on its version). Someone
    /// acting on it meanwhile wins: nothing is recorded then.
    async fn record_refusal(&self, workspace: &Workspace, why: &str, at: Timestamp) {
        let mut next = workspace.clone();
        next.version += 1;
        let event = Event {
            at,
            actor: Actor::scheduler(),
            action: Command::Start.into(),
            from: Some(workspace.state),
            to: workspace.state,
            reason: Some(format!("window opened, start refused: {why}")),
            connection: None,
            instance: None,
        };
        if let Err(err) = append(self.store, &mut next, workspace.state, &event).await {
            tracing::warn!(workspace = %workspace.id, error = ?err, "could not record the refused start");
        }
    }

    async fn switch(&self, action: Action, instances: &[String]) -> Result<(), UpstreamError> {
        match action {
            Action::Start => self.power.start(instances).await,
            Action::Stop => self.power.stop(instances, false).await,
            Action::Hibernate => self.power.stop(instances, true).await,
        }
    }
}

/// What to do with `workspace` for a run covering `(previous, at]`; `None` to leave it.
fn decide(workspace: &Workspace, previous: Timestamp, at: Timestamp) -> Option<Action> {
    workspace.provisioned.instance_id.as_ref()?;
    let schedule = &workspace.schedule;
    let transition = next_transition(schedule, previous)?;
    if transition.at > at {
        return None;
    }
    match (desired(schedule, at)?, workspace.state) {
        (Desired::Running, State::Stopped | State::Hibernated) => Some(Action::Start),
        (Desired::Stopped, State::Running) => {
            if schedule.outside() == OutsideAction::Hibernate && workspace.hibernation {
                Some(Action::Hibernate)
            } else {
                Some(Action::Stop)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
