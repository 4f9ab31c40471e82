//! Writing a workspace's whole life at given instants, for the local stack's replays
//! (`POST /_local/history`, dev server only) and the hand-computed cost tests.
//!
//! Nothing here is a second description of the lifecycle: the workspace is made as a create
//! makes it ([`Workspaces::create`]'s own constructor: launch frozen, owner's cost centre,
//! default schedule), inserted with its creation event, and each later state is reached
//! through [`transition`], the one writer, with the trigger the lifecycle table names for
//! that move. The whole sequence is checked against the table before anything is written,
//! so a refused sequence writes nothing.

use jiff::Timestamp;

use super::lifecycle::TRANSITIONS;
use super::{
    Actor, Event, EventAction, Inserted, Provisioned, State, Trigger, Workspace, WorkspaceName, Workspaces,
    record_provisioned, transition,
};
use crate::kernel::{DomainError, ProductId};

/// One step of a replayed life: the workspace enters `state` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryStep {
    /// When (EC2's instant for observations).
    pub at: Timestamp,
    /// The state entered.
    pub state: State,
    /// The history's reason, when one is given (else the writer's default: none).
    pub reason: Option<String>,
}

/// A whole life to write: `steps[0]` is the creation (in `PROVISIONING`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRequest {
    /// The owner's username; the directory must know them.
    pub owner: String,
    /// A product of the catalog (any, published or not: history is not a launch).
    pub product_id: String,
    /// The workspace's name.
    pub name: String,
    /// The EC2 instance it ran on, recorded once provisioned.
    pub instance_id: Option<String>,
    /// The steps, in time order.
    pub steps: Vec<HistoryStep>,
}

/// The trigger the lifecycle table names for `from → to`: a person's command before an
/// observation when both exist (RUNNING → TERMINATING is a terminate, or a vanished
/// instance), else the first observation listed.
fn trigger_for(from: State, to: State) -> Option<Trigger> {
    let mut found: Vec<Trigger> =
        TRANSITIONS.iter().filter(|(f, _, t)| *f == from && *t == to).map(|(_, t, _)| *t).collect();
    found.sort_by_key(|t| !matches!(t, Trigger::Command(_)));
    found.first().copied()
}

impl Workspaces {
    /// Writes `request`'s life through the store and the lifecycle's writer; returns the
    /// workspace as last written. 422 naming the field (`owner`, `productId`, `name`,
    /// `events`, `events[i].state`, `events[i].at`) for anything a real life could not be.
    pub async fn write_history(&self, request: HistoryRequest) -> Result<Workspace, DomainError> {
        let name = WorkspaceName::parse(&request.name)?;
        let (first, rest) = request
            .steps
            .split_first()
            .ok_or_else(|| DomainError::unprocessable("events", "a history needs at least its creation"))?;
        if first.state != State::Provisioning {
            return Err(DomainError::unprocessable(
                "events[0].state",
                format!("a workspace is created PROVISIONING, not {}", first.state.as_str()),
            ));
        }
        // The whole sequence first: nothing is written for a refused one.
        let mut triggers = Vec::with_capacity(rest.len());
        let (mut state, mut at) = (first.state, first.at);
        for (i, step) in rest.iter().enumerate() {
            let index = i + 1;
            if step.at < at {
                return Err(DomainError::unprocessable(
                    format!("events[{index}].at"),
                    format!("{} is before the previous event ({at})", step.at),
                ));
            }
            let trigger = trigger_for(state, step.state).ok_or_else(|| {
                DomainError::unprocessable(
                    format!("events[{index}].state"),
                    format!(
                        "the lifecycle does not allow {} → {} (docs/adr/0003-lifecycle-and-state-sync.md)",
                        state.as_str(),
                        step.state.as_str()
                    ),
                )
            })?;
            triggers.push(trigger);
            (state, at) = (step.state, step.at);
        }
        let product_id = ProductId::parse(&request.product_id).map_err(|_| unknown_product(&request.product_id))?;
        let product = self.catalog.product(&product_id).await?.ok_or_else(|| unknown_product(&request.product_id))?;
        let profile = self.directory.profile(&request.owner).await.map_err(|err| {
            if err.retryable {
                DomainError::from(err)
            } else {
                DomainError::unprocessable("owner", format!("the directory has no user {}", request.owner))
            }
        })?;
        let sub = profile.sub.ok_or_else(|| {
            DomainError::unprocessable("owner", format!("the directory has no sub for {}", request.owner))
        })?;

        let mut workspace = self.new_workspace(&request.owner, &sub, name, &product, first.at).await?;
        let creation = Event {
            at: first.at,
            actor: Actor::user(&request.owner),
            action: EventAction::Create,
            from: None,
            to: State::Provisioning,
            reason: first.reason.clone().or_else(|| Some(format!("product {}", product.id))),
            connection: None,
            instance: None,
        };
        match self.store.insert(&workspace, &creation, None).await? {
            Inserted::Created => {}
            _ => return Err(DomainError::Concurrent),
        }
        if let Some(instance_id) = &request.instance_id {
            let provisioned = Provisioned { instance_id: Some(instance_id.clone()), ..workspace.provisioned.clone() };
            workspace = record_provisioned(self.store.as_ref(), workspace, provisioned).await?;
        }
        for (step, trigger) in rest.iter().zip(triggers) {
            let (actor, action) = match trigger {
                Trigger::Command(command) => (Actor::user(&request.owner), EventAction::from(command)),
                Trigger::Observation(_) => (Actor::state_sync(), EventAction::Sync),
            };
            workspace =
                transition(self.store.as_ref(), workspace, trigger, actor, action, step.reason.clone(), step.at)
                    .await?;
        }
        Ok(workspace)
    }
}

fn unknown_product(id: &str) -> DomainError {
    DomainError::unprocessable("productId", format!("the catalog has no product {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_move_of_the_table_has_its_trigger_and_others_have_none() {
        for (from, trigger, to) in TRANSITIONS {
            // Some moves have two triggers (RUNNING → TERMINATING: a terminate, or the
            // instance vanished): a person's command wins, else the first listed.
            let found = trigger_for(*from, *to).expect("a listed move");
            assert_eq!(crate::workspaces::lifecycle::next(*from, found), Ok(*to));
            if matches!(trigger, Trigger::Command(_)) {
                assert_eq!(found, *trigger);
            }
        }
        assert_eq!(trigger_for(State::Provisioning, State::Stopped), None);
        assert_eq!(trigger_for(State::Terminated, State::Running), None);
    }
}
