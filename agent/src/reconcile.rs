//! The agent's shape: a list of small [`Reconciler`]s, each bringing one part of the machine
//! to what the control plane asked, run one after the other on every pass by an [`Agent`].
//! A reconciler that fails is logged and the others still run; the next pass tries again.

use std::{future::Future, time::Duration};

use async_trait::async_trait;
use serde::Serialize;

/// One reconciler: reads what is wanted and what is, and acts on the difference.
#[async_trait]
pub trait Reconciler: Send {
    /// Its name in logs and summaries (`mounts`, …).
    fn name(&self) -> &'static str;

    /// One pass. `Err` when the pass could not run at all (its inputs were unreadable), in
    /// which case it changed nothing; a pass that ran returns what it did, failed steps
    /// included ([`Outcome::failed`]).
    async fn reconcile(&mut self) -> Result<Outcome, ReconcileError>;
}

/// A pass that could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ReconcileError(pub String);

impl ReconcileError {
    /// From any error's message.
    pub fn new(error: impl std::fmt::Display) -> Self {
        Self(error.to_string())
    }
}

/// What a pass did, step by step. Empty when nothing had to change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// In the order they were taken.
    pub actions: Vec<Action>,
}

impl Outcome {
    /// True when a step failed (skipped inputs are not failures: they are the input's fault,
    /// and retrying cannot fix them).
    pub fn failed(&self) -> bool {
        self.actions.iter().any(|a| a.error.is_some() && a.action != ActionKind::Skip)
    }
}

/// One step of a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// What was done.
    pub action: ActionKind,
    /// The dataset it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// The app it concerns (`jupyterlab`, `rstudio`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The path it concerns, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why it failed (or, for [`ActionKind::Skip`], why the input was skipped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The kinds of step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Mounted a dataset.
    Mount,
    /// Unmounted a dataset.
    Unmount,
    /// Wrote a report tag (`atelier:mounted:<id>`).
    Report,
    /// Removed a report tag.
    Unreport,
    /// Left an input alone because it is malformed.
    Skip,
    /// Reported an app ready (`atelier:app:<app>` = `ready`).
    Ready,
    /// Reported an app down (`atelier:app:<app>` = `down`).
    Down,
}

impl ActionKind {
    /// The name written in logs (as in the JSON summary).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mount => "mount",
            Self::Unmount => "unmount",
            Self::Report => "report",
            Self::Unreport => "unreport",
            Self::Skip => "skip",
            Self::Ready => "ready",
            Self::Down => "down",
        }
    }
}

/// What one reconciler did in one pass, as printed by `--once`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The reconciler's name.
    pub reconciler: &'static str,
    /// False when the pass could not run or a step failed.
    pub ok: bool,
    /// The steps, when the pass ran.
    pub actions: Vec<Action>,
    /// Why the pass could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A whole pass: one report per reconciler, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// One per reconciler.
    pub reconcilers: Vec<Report>,
}

impl Summary {
    /// True when every reconciler ran and no step failed.
    pub fn ok(&self) -> bool {
        self.reconcilers.iter().all(|r| r.ok)
    }
}

/// Runs its reconcilers one after the other, isolating their failures.
pub struct Agent {
    reconcilers: Vec<Box<dyn Reconciler>>,
}

impl Agent {
    /// An agent that runs `reconcilers` in this order.
    pub fn new(reconcilers: Vec<Box<dyn Reconciler>>) -> Self {
        Self { reconcilers }
    }

    /// One pass of every reconciler; each step and each failure is logged.
    pub async fn run_once(&mut self) -> Summary {
        let mut summary = Summary::default();
        for reconciler in &mut self.reconcilers {
            let name = reconciler.name();
            let report = match reconciler.reconcile().await {
                Ok(outcome) => {
                    outcome.actions.iter().for_each(|action| log_action(name, action));
                    Report { reconciler: name, ok: !outcome.failed(), actions: outcome.actions, error: None }
                }
                Err(error) => {
                    tracing::error!(reconciler = name, error = %error, "pass failed");
                    Report { reconciler: name, ok: false, actions: Vec::new(), error: Some(error.0) }
                }
            };
            summary.reconcilers.push(report);
        }
        summary
    }

    /// Passes every `interval` until `shutdown` completes. A pass under way when it does
    /// is finished first (a mount command is not cut in the middle); nothing is undone on
    /// the way out: mounts stay, and the next start adopts them.
    pub async fn run_until(&mut self, interval: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            self.run_once().await;
            tokio::select! {
                // A shutdown wins over a timer that is due at the same time.
                biased;
                () = &mut shutdown => break,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}

fn log_action(reconciler: &'static str, action: &Action) {
    let kind = action.action.as_str();
    let dataset = action.dataset.as_deref().unwrap_or_default();
    let app = action.app.as_deref().unwrap_or_default();
    let path = action.path.as_deref().unwrap_or_default();
    match (&action.error, action.action) {
        (None, _) => tracing::info!(reconciler, action = kind, dataset, app, path, "done"),
        (Some(error), ActionKind::Skip) => {
            tracing::warn!(reconciler, action = kind, dataset, app, path, error, "skipped")
        }
        (Some(error), _) => tracing::error!(reconciler, action = kind, dataset, app, path, error, "failed"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    struct Fixed {
        name: &'static str,
        result: Result<Outcome, ReconcileError>,
        runs: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl Reconciler for Fixed {
        fn name(&self) -> &'static str {
            self.name
        }
        async fn reconcile(&mut self) -> Result<Outcome, ReconcileError> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            self.result.clone()
        }
    }

    fn fixed(name: &'static str, result: Result<Outcome, ReconcileError>) -> (Box<dyn Reconciler>, Arc<AtomicUsize>) {
        let runs = Arc::new(AtomicUsize::new(0));
        (Box::new(Fixed { name, result, runs: runs.clone() }), runs)
    }

    #[tokio::test]
    async fn a_failing_reconciler_does_not_stop_the_others() {
        let (broken, _) = fixed("broken", Err(ReconcileError::new("tags unreadable")));
        let (fine, fine_runs) = fixed("fine", Ok(Outcome::default()));
        let mut agent = Agent::new(vec![broken, fine]);
        let summary = agent.run_once().await;
        assert!(!summary.ok());
        assert_eq!(fine_runs.load(Ordering::SeqCst), 1);
        assert_eq!(summary.reconcilers[0].error.as_deref(), Some("tags unreadable"));
        assert!(summary.reconcilers[1].ok);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["reconcilers"][0]["reconciler"], "broken");
        assert_eq!(json["reconcilers"][1]["actions"], serde_json::json!([]));
    }

    #[tokio::test]
    async fn a_failed_step_fails_the_pass_but_a_skipped_input_does_not() {
        let step = |action, error: Option<&str>| Action {
            action,
            dataset: Some("oncology".into()),
            app: None,
            path: None,
            error: error.map(str::to_owned),
        };
        let skipped = Outcome { actions: vec![step(ActionKind::Skip, Some("bad location"))] };
        let failed = Outcome { actions: vec![step(ActionKind::Mount, Some("mount-s3 exited 1"))] };
        assert!(!skipped.failed());
        assert!(failed.failed());
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(
            json["actions"][0],
            serde_json::json!({"action": "mount", "dataset": "oncology", "error": "mount-s3 exited 1"})
        );
    }

    /// Counts its passes and asks for shutdown at the `stop_at`-th.
    struct Stopping {
        runs: Arc<AtomicUsize>,
        stop_at: usize,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
    }

    #[async_trait]
    impl Reconciler for Stopping {
        fn name(&self) -> &'static str {
            "stopping"
        }
        async fn reconcile(&mut self) -> Result<Outcome, ReconcileError> {
            if self.runs.fetch_add(1, Ordering::SeqCst) + 1 == self.stop_at
                && let Some(stop) = self.stop.take()
            {
                let _ = stop.send(());
            }
            Ok(Outcome::default())
        }
    }

    /// How many passes the loop makes when shutdown is asked during the `stop_at`-th.
    async fn passes_until_shutdown(interval: Duration, stop_at: usize) -> usize {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let runs = Arc::new(AtomicUsize::new(0));
        let stopping = Stopping { runs: runs.clone(), stop_at, stop: Some(stop) };
        let mut agent = Agent::new(vec![Box::new(stopping)]);
        let shutdown = async {
            let _ = stopped.await;
        };
        agent.run_until(interval, shutdown).await;
        runs.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn the_loop_passes_every_interval_until_shutdown() {
        assert_eq!(passes_until_shutdown(Duration::from_millis(1), 3).await, 3);
    }

    #[tokio::test]
    async fn a_shutdown_does_not_wait_for_the_interval() {
        // An hour between passes: the test would hang if the wait were not cut short.
        assert_eq!(passes_until_shutdown(Duration::from_secs(3600), 1).await, 1);
    }
}
