//! The workspace lifecycle as an explicit transition table (docs/adr/0003-lifecycle-and-state-sync.md).
//!
//! ```text
//! PROVISIONING → RUNNING ⇄ STOPPING → STOPPED → STARTING → RUNNING
//! RUNNING → HIBERNATING → HIBERNATED → STARTING
//! {RUNNING, STOPPED, HIBERNATED, FAILED} → TERMINATING → TERMINATED
//! PROVISIONING → FAILED
//! ```
//!
//! plus two reconciliation arrows for commands EC2 did not carry out (STARTING → STOPPED,
//! HIBERNATING → RUNNING), in the spirit of RUNNING ⇄ STOPPING, the drift arrows of
//! instances stopped or started outside Atelier (RUNNING → STOPPED, STOPPED/HIBERNATED →
//! RUNNING), FAILED's observations of its instance, which leave it FAILED, and a stop while
//! a machine starts (STARTING → STOPPING: the budget watch's `stop-at-100`).
//!
//! Arrows out of a settled state are [`Command`]s somebody asks for, or what EC2 shows
//! happened behind Atelier's back; arrows out of a transitional state are
//! [`Observation`]s state-sync makes of the real machine.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a workspace is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// Just created: the provisioner is building its resources; no instance runs yet.
    Provisioning,
    /// The instance runs and is billed by the hour.
    Running,
    /// A stop was asked; waiting for EC2 to report the instance stopped.
    Stopping,
    /// The instance is stopped; only its volume is billed.
    Stopped,
    /// A start was asked; waiting for EC2 to report the instance running.
    Starting,
    /// A hibernate was asked; waiting for EC2 to report the instance stopped.
    Hibernating,
    /// Stopped with its memory saved on the volume; a start resumes where it was.
    Hibernated,
    /// A terminate was asked; waiting for the provisioner to report everything gone.
    Terminating,
    /// Everything is gone; the record and its history stay.
    Terminated,
    /// Provisioning failed or a transitional state timed out; `Workspace::error` says why.
    /// Only `terminate` is offered.
    Failed,
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 10] = [
        State::Provisioning,
        State::Running,
        State::Stopping,
        State::Stopped,
        State::Starting,
        State::Hibernating,
        State::Hibernated,
        State::Terminating,
        State::Terminated,
        State::Failed,
    ];

    /// The wire name, e.g. `RUNNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Provisioning => "PROVISIONING",
            State::Running => "RUNNING",
            State::Stopping => "STOPPING",
            State::Stopped => "STOPPED",
            State::Starting => "STARTING",
            State::Hibernating => "HIBERNATING",
            State::Hibernated => "HIBERNATED",
            State::Terminating => "TERMINATING",
            State::Terminated => "TERMINATED",
            State::Failed => "FAILED",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// True for the two states a workspace's life has ended in: `TERMINATED`, which nothing
    /// leaves, and `FAILED`, which only a `terminate` leaves (to clean up). A workspace in
    /// one bills nothing more, counts against no cap and can have nothing attached.
    pub const fn is_ended(self) -> bool {
        matches!(self, State::Terminated | State::Failed)
    }

    /// True while Atelier waits for AWS to finish something; state-sync settles these.
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            State::Provisioning | State::Starting | State::Stopping | State::Hibernating | State::Terminating
        )
    }

    /// States state-sync looks at on every run.
    pub const TRANSITIONAL: [State; 5] =
        [State::Provisioning, State::Starting, State::Stopping, State::Hibernating, State::Terminating];
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a person (or the scheduler) asks of a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// Power a stopped or hibernated instance on.
    Start,
    /// Power a running instance off, keeping its volume.
    Stop,
    /// Stop a running instance with its memory saved to the volume (products with
    /// `hibernation` only).
    Hibernate,
    /// Delete the workspace's AWS resources, for good.
    Terminate,
}

impl Command {
    /// Every command.
    pub const ALL: [Command; 4] = [Command::Start, Command::Stop, Command::Hibernate, Command::Terminate];

    /// The verb as used in URLs and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Stop => "stop",
            Command::Hibernate => "hibernate",
            Command::Terminate => "terminate",
        }
    }
}

/// What state-sync sees of the real machine or provisioning record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Observation {
    /// The provisioning record succeeded and the instance exists.
    Provisioned,
    /// The provisioning record failed.
    ProvisionFailed,
    /// EC2 reports the instance running.
    Running,
    /// EC2 reports the instance stopped (after a stop or a hibernate).
    Stopped,
    /// The product (and its instance) is gone.
    Terminated,
    /// The instance is gone (terminated or unknown to EC2) although Atelier never asked for
    /// it: someone deleted it outside Atelier. State-sync then finishes the termination.
    Vanished,
    /// The workspace has been in its transitional state longer than the configured timeout
    /// ([`super::Timeouts`]) and AWS shows nothing state-sync can settle it on.
    TimedOut,
}

impl Observation {
    /// Every observation.
    pub const ALL: [Observation; 7] = [
        Observation::Provisioned,
        Observation::ProvisionFailed,
        Observation::Running,
        Observation::Stopped,
        Observation::Terminated,
        Observation::Vanished,
        Observation::TimedOut,
    ];
}

/// Anything that can move a workspace from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Asked by a person or the scheduler, out of a settled state.
    Command(Command),
    /// What AWS shows, mostly through state-sync: it settles a transitional state, or
    /// (`Vanished`) ends a settled one whose instance is gone.
    Observation(Observation),
}

impl From<Command> for Trigger {
    fn from(c: Command) -> Self {
        Trigger::Command(c)
    }
}

impl From<Observation> for Trigger {
    fn from(o: Observation) -> Self {
        Trigger::Observation(o)
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::Command(c) => f.write_str(c.as_str()),
            Trigger::Observation(o) => write!(f, "observation {o:?}"),
        }
    }
}

use Command as C;
use Observation as O;
use State as S;

/// The whole lifecycle: `(from, trigger, to)`. Anything not listed is illegal.
pub const TRANSITIONS: &[(State, Trigger, State)] = &[
    (S::Provisioning, Trigger::Observation(O::Provisioned), S::Running),
    (S::Provisioning, Trigger::Observation(O::ProvisionFailed), S::Failed),
    (S::Running, Trigger::Command(C::Stop), S::Stopping),
    (S::Running, Trigger::Command(C::Hibernate), S::Hibernating),
    (S::Running, Trigger::Command(C::Terminate), S::Terminating),
    (S::Stopping, Trigger::Observation(O::Stopped), S::Stopped),
    // The ⇄ of RUNNING ⇄ STOPPING: a stop EC2 did not carry out (the instance is seen running again).
    (S::Stopping, Trigger::Observation(O::Running), S::Running),
    (S::Stopped, Trigger::Command(C::Start), S::Starting),
    (S::Stopped, Trigger::Command(C::Terminate), S::Terminating),
    (S::Starting, Trigger::Observation(O::Running), S::Running),
    // A machine on its way up can be stopped (EC2 stops a `pending` instance that has run
    // before): the budget watch stops STARTING workspaces too, and so may their owner.
    (S::Starting, Trigger::Command(C::Stop), S::Stopping),
    // Reconciliation: EC2 did not carry out the start (or the hibernate) and the instance is
    // still where it was. State-sync applies these only after a grace period, so a workspace
    // never stays transitional forever and is left in a state its owner can act on.
    (S::Starting, Trigger::Observation(O::Stopped), S::Stopped),
    (S::Hibernating, Trigger::Observation(O::Running), S::Running),
    (S::Hibernating, Trigger::Observation(O::Stopped), S::Hibernated),
    (S::Hibernated, Trigger::Command(C::Start), S::Starting),
    (S::Hibernated, Trigger::Command(C::Terminate), S::Terminating),
    (S::Failed, Trigger::Command(C::Terminate), S::Terminating),
    (S::Terminating, Trigger::Observation(O::Terminated), S::Terminated),
    // An instance deleted outside Atelier: the workspace goes through TERMINATING so that
    // state-sync's termination (with its retries and timeout) removes whatever is left,
    // such as the Service Catalog product around the instance.
    (S::Running, Trigger::Observation(O::Vanished), S::Terminating),
    (S::Stopped, Trigger::Observation(O::Vanished), S::Terminating),
    (S::Hibernated, Trigger::Observation(O::Vanished), S::Terminating),
    (S::Starting, Trigger::Observation(O::Vanished), S::Terminating),
    (S::Stopping, Trigger::Observation(O::Vanished), S::Terminating),
    (S::Hibernating, Trigger::Observation(O::Vanished), S::Terminating),
    // No transitional state lasts forever: past its timeout, FAILED with the reason. FAILED
    // offers `terminate`, and the reason tells an operator what to look at.
    (S::Provisioning, Trigger::Observation(O::TimedOut), S::Failed),
    (S::Starting, Trigger::Observation(O::TimedOut), S::Failed),
    (S::Stopping, Trigger::Observation(O::TimedOut), S::Failed),
    (S::Hibernating, Trigger::Observation(O::TimedOut), S::Failed),
    (S::Terminating, Trigger::Observation(O::TimedOut), S::Failed),
    // EC2 is the truth: an instance stopped or started outside Atelier (from inside the
    // machine, by EC2 maintenance, in the console) moves its settled workspace where EC2
    // says it is, so that costs follow what AWS bills.
    (S::Running, Trigger::Observation(O::Stopped), S::Stopped),
    (S::Stopped, Trigger::Observation(O::Running), S::Running),
    (S::Hibernated, Trigger::Observation(O::Running), S::Running),
    // A FAILED workspace's instance keeps being observed (it is billed by what EC2 shows):
    // each change is recorded as an event that leaves the workspace FAILED. `Vanished`:
    // EC2 no longer has the instance, nothing more to bill.
    (S::Failed, Trigger::Observation(O::Running), S::Failed),
    (S::Failed, Trigger::Observation(O::Stopped), S::Failed),
    (S::Failed, Trigger::Observation(O::Vanished), S::Failed),
];

/// An action the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {trigger} a workspace that is {state}{hint}", hint = hint(*state))]
pub struct IllegalTransition {
    /// The workspace's state when the action was asked.
    pub state: State,
    /// What was asked or observed.
    pub trigger: Trigger,
}

fn hint(state: State) -> &'static str {
    if state.is_transitional() { "; wait until it settles and try again" } else { "" }
}

/// The state `trigger` leads to from `state`, or why it cannot happen.
pub fn next(state: State, trigger: impl Into<Trigger>) -> Result<State, IllegalTransition> {
    let trigger = trigger.into();
    TRANSITIONS
        .iter()
        .find(|(from, t, _)| *from == state && *t == trigger)
        .map(|(_, _, to)| *to)
        .ok_or(IllegalTransition { state, trigger })
}

/// The commands a person may ask in `state` (what the portal offers as buttons).
pub fn allowed_commands(state: State) -> Vec<Command> {
    Command::ALL.into_iter().filter(|c| next(state, *c).is_ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn terminated_and_failed_are_the_ended_states_and_the_rest_are_live() {
        let ended: Vec<State> = State::ALL.into_iter().filter(|s| s.is_ended()).collect();
        assert_eq!(ended, [State::Terminated, State::Failed]);
        let live: Vec<State> = State::ALL.into_iter().filter(|s| !s.is_ended()).collect();
        assert_eq!(live, crate::costs::ledger::LIVE_STATES);
    }

    /// The expected outcome of every command in every state, written out in full so a
    /// change to the table shows up here as a deliberate edit.
    #[test]
    fn every_state_times_every_command() {
        use State::*;
        let expected: &[(State, [Option<State>; 4])] = &[
            //               start           stop            hibernate          terminate
            (Provisioning, [None, None, None, None]),
            (Running, [None, Some(Stopping), Some(Hibernating), Some(Terminating)]),
            (Stopping, [None, None, None, None]),
            (Stopped, [Some(Starting), None, None, Some(Terminating)]),
            (Starting, [None, Some(Stopping), None, None]),
            (Hibernating, [None, None, None, None]),
            (Hibernated, [Some(Starting), None, None, Some(Terminating)]),
            (Terminating, [None, None, None, None]),
            (Terminated, [None, None, None, None]),
            (Failed, [None, None, None, Some(Terminating)]),
        ];
        assert_eq!(expected.len(), State::ALL.len());
        for (state, outcomes) in expected {
            for (command, outcome) in Command::ALL.into_iter().zip(outcomes) {
                assert_eq!(next(*state, command).ok(), *outcome, "{state} × {command:?}");
            }
        }
    }

    #[test]
    fn every_state_times_every_observation() {
        use State::*;
        let expected: &[(State, [Option<State>; 7])] = &[
            //   provisioned  provisionFailed  running  stopped  terminated  vanished  timedOut
            (Provisioning, [Some(Running), Some(Failed), None, None, None, None, Some(Failed)]),
            (Running, [None, None, None, Some(Stopped), None, Some(Terminating), None]),
            (Stopping, [None, None, Some(Running), Some(Stopped), None, Some(Terminating), Some(Failed)]),
            (Stopped, [None, None, Some(Running), None, None, Some(Terminating), None]),
            (Starting, [None, None, Some(Running), Some(Stopped), None, Some(Terminating), Some(Failed)]),
            (Hibernating, [None, None, Some(Running), Some(Hibernated), None, Some(Terminating), Some(Failed)]),
            (Hibernated, [None, None, Some(Running), None, None, Some(Terminating), None]),
            (Terminating, [None, None, None, None, Some(Terminated), None, Some(Failed)]),
            (Terminated, [None, None, None, None, None, None, None]),
            (Failed, [None, None, Some(Failed), Some(Failed), None, Some(Failed), None]),
        ];
        assert_eq!(expected.len(), State::ALL.len());
        for (state, outcomes) in expected {
            for (observation, outcome) in Observation::ALL.into_iter().zip(outcomes) {
                assert_eq!(next(*state, observation).ok(), *outcome, "{state} × {observation:?}");
            }
        }
    }

    #[test]
    fn every_transitional_state_has_a_way_out_when_aws_shows_nothing_new() {
        for state in State::TRANSITIONAL {
            let to = next(state, Observation::TimedOut).expect("a timeout row");
            assert!(!to.is_transitional(), "{state} times out into {to}, which must be settled");
            assert!(!allowed_commands(to).is_empty(), "{state} times out into {to}, where nothing can be done");
        }
    }

    #[test]
    fn drift_rows_lead_where_ec2_is_and_failed_only_observes() {
        // Settled states follow EC2 both ways; the stopped side of HIBERNATED is HIBERNATED
        // already, so EC2's `stopped` leaves it alone.
        assert_eq!(next(State::Running, Observation::Stopped), Ok(State::Stopped));
        assert_eq!(next(State::Stopped, Observation::Running), Ok(State::Running));
        assert_eq!(next(State::Hibernated, Observation::Running), Ok(State::Running));
        assert!(next(State::Hibernated, Observation::Stopped).is_err());
        // The only self-loops of the table are FAILED's observations: every other row moves.
        for (from, trigger, to) in TRANSITIONS {
            if from == to {
                assert_eq!(*from, State::Failed, "{from} × {trigger}");
                assert!(matches!(trigger, Trigger::Observation(_)), "{trigger}");
            }
        }
        assert_eq!(allowed_commands(State::Failed), [Command::Terminate], "FAILED still offers only terminate");
    }

    #[test]
    fn table_is_deterministic() {
        let mut seen = HashSet::new();
        for (from, trigger, _) in TRANSITIONS {
            assert!(seen.insert((*from, *trigger)), "duplicate row for {from} × {trigger}");
        }
    }

    #[test]
    fn terminated_is_final_and_every_other_state_can_reach_it() {
        assert!(State::ALL.iter().all(|s| *s == State::Terminated || reachable(*s).contains(&State::Terminated)));
        assert!(TRANSITIONS.iter().all(|(from, _, _)| *from != State::Terminated));
    }

    fn reachable(from: State) -> HashSet<State> {
        let mut seen = HashSet::from([from]);
        let mut stack = vec![from];
        while let Some(s) = stack.pop() {
            for (f, _, to) in TRANSITIONS {
                if *f == s && seen.insert(*to) {
                    stack.push(*to);
                }
            }
        }
        seen
    }

    #[test]
    fn illegal_transition_names_the_state() {
        let err = next(State::Stopped, Command::Stop).unwrap_err();
        assert_eq!(err.to_string(), "cannot stop a workspace that is STOPPED");
        let err = next(State::Starting, Command::Hibernate).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot hibernate a workspace that is STARTING; wait until it settles and try again"
        );
    }

    #[test]
    fn wire_names_round_trip() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        assert_eq!(State::parse("running"), None);
    }

    #[test]
    fn allowed_commands_follow_the_table() {
        assert_eq!(allowed_commands(State::Running), vec![Command::Stop, Command::Hibernate, Command::Terminate]);
        assert!(allowed_commands(State::Terminated).is_empty());
    }
}
