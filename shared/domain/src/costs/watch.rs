//! The budget watch (docs/adr/0006-costs.md, "Budgets that hold"): compares users' month
//! estimates with their budgets, records each threshold crossed once per (user, month,
//! budget revision, threshold) with the notifications it causes (the user and the admins:
//! in the API and by e-mail), and under `stop-at-100` stops the user's `RUNNING` and
//! `STARTING` workspaces through the normal conditional transition with actor `budget`.
//!
//! Two kinds of pass, so that the budget holds without reading every history every tick:
//!
//! - the **full pass** ([`BudgetWatch::run`], once per `ATELIER_BUDGET_EVERY_MINUTES`)
//!   totals everybody, and stores who is **within reach**: at or above [`REACH_PERCENT`]
//!   of their budget, or projected to reach 100 % before the next full pass at the rate of
//!   their running workspaces;
//! - every other tick ([`BudgetWatch::tick`]) totals only those, from their own few
//!   histories.
//!
//! Both seal the month index and close the month before ([`super::ledger`]), give the
//! month before its **final evaluation** once it is over (its totals up to its very end,
//! so its last hour counts; crossings recorded under that month, nobody stopped in the new
//! one), and send the e-mails still pending ([`crate::notifications::deliver`]).
//!
//! Like the scheduler, the instant comes from the caller, so a run can be replayed; a
//! second run at the same instant records nothing new (the crossings' conditional writes)
//! and finds nothing running to stop.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::Serialize;

use super::budget::{BudgetBook, Crossing, Policy, REACH_PERCENT, Reach, Rule};
use super::gate::owner_total;
use super::ledger::{Ledger, LineSink, Scope, close_month, index_month};
use super::month::Month;
use super::ports::{BudgetStore, CostCentreStore, MonthIndex};
use super::price::PriceBook;
use super::report::WorkspaceCost;
use super::use_cases::{DEFAULT_CURRENCY, MONTH_BOUNDARY};
use crate::catalog::Catalog;
use crate::kernel::{DomainError, ProductId, StoreError, UserDirectory, all_pages};
use crate::notifications::{
    Delivery, DeliveryReport, Mailer, Notification, NotificationKind, NotificationStore, Recipients, deliver,
    notification_id,
};
use crate::workspaces::{
    Actor, Command, EventAction, PowerSwitch, State, Workspace, WorkspaceFilter, WorkspaceStore, record_event,
    transition,
};

/// The actor of everything the budget watch records.
pub const BUDGET_ACTOR: &str = "budget";

/// The states whose workspaces the watch stops under `stop-at-100`, and whose rate it
/// projects: the machine is billed in both.
pub const STOPPED_BY_BUDGET: [State; 2] = [State::Running, State::Starting];

/// How long after a month ends its final evaluation still notifies: a watch that did not
/// run for longer (a first deployment, a long outage) marks the month evaluated without
/// telling people about a month long gone.
pub const FINAL_EVALUATION_WITHIN: SignedDuration = SignedDuration::from_hours(24);

/// The ports the budget watch runs on.
pub struct BudgetWatch<'a> {
    /// The histories the totals come from, and the stops' conditional transitions.
    pub store: &'a dyn WorkspaceStore,
    /// The products' prices.
    pub catalog: &'a dyn Catalog,
    /// The month index the watch seals and closes.
    pub index: &'a dyn MonthIndex,
    /// Budgets in force; crossings (with their notifications) and the within-reach list
    /// are recorded here.
    pub budgets: &'a dyn BudgetStore,
    /// Stops the workspaces claimed under `stop-at-100`, one batched call per user.
    pub power: &'a dyn PowerSwitch,
    /// The cost centres a closed month's lines are stored with.
    pub cost_centres: &'a dyn CostCentreStore,
    /// The notifications whose e-mail is pending.
    pub notifications: &'a dyn NotificationStore,
    /// Sends the e-mails (Amazon SES).
    pub mailer: &'a dyn Mailer,
    /// Recipients' e-mail addresses.
    pub directory: &'a dyn UserDirectory,
    /// The admins, told of every crossing.
    pub recipients: &'a dyn Recipients,
    /// The longest a user's total may wait for the next full pass (the full pass's
    /// cadence plus one tick): what "projected to cross before the next full pass" projects over.
    pub horizon: SignedDuration,
}

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WatchReport {
    /// The month of the run's instant (`YYYY-MM`), the one totalled.
    pub month: String,
    /// True for a full pass (everybody totalled), false for a tick (those within reach).
    pub full: bool,
    /// Users totalled on a tick; on a full pass, those it found within reach.
    pub within_reach: Vec<String>,
    /// Workspaces carried into the month index when this run sealed it.
    pub indexed: Option<usize>,
    /// Lines stored when this run closed the previous month ([`close_month`]).
    pub closed: Option<usize>,
    /// The month before (`YYYY-MM`) when this run gave it its final evaluation.
    pub evaluated: Option<String>,
    /// Crossings newly recorded, as `user@threshold` (`user@threshold@YYYY-MM` for the
    /// month before's).
    pub crossed: Vec<String>,
    /// Workspaces stopped under `stop-at-100`.
    pub stopped: Vec<String>,
    /// Workspaces (or users) that could not be handled, with why.
    pub failed: Vec<(String, String)>,
    /// What the e-mail pass did.
    pub notifications: DeliveryReport,
}

/// One running total per user.
#[derive(Default)]
struct Totals(BTreeMap<String, (Decimal, String)>);

#[async_trait]
impl LineSink for Totals {
    async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError> {
        let entry = self.0.entry(line.info.owner.clone()).or_insert((Decimal::ZERO, line.currency.clone()));
        entry.0 += line.total;
        Ok(())
    }
}

/// True when a tick at `at` is the first of its `every`-long slot (slots counted from the
/// Unix epoch, so whole hours start on the hour), ticks coming `tick` apart. Totalling a
/// month reads every workspace's history (about 11,000 DynamoDB queries at 1,000 users),
/// so the scheduler function does it once per slot rather than on every tick; the other
/// ticks total only the users within reach ([`BudgetWatch::tick`]).
pub fn budgets_due(at: Timestamp, every: SignedDuration, tick: SignedDuration) -> bool {
    let (every, tick) = (every.as_secs().max(1), tick.as_secs().max(1));
    every <= tick || at.as_second().rem_euclid(every) < tick
}

/// True when `spent` is within reach of `amount`: at or above [`REACH_PERCENT`], or
/// reaching it before `horizon` passes at `rate_per_hour`.
pub fn within_reach(spent: Decimal, amount: Decimal, rate_per_hour: Decimal, horizon: SignedDuration) -> bool {
    let hours = Decimal::from(horizon.as_secs().max(0)) / Decimal::from(3600);
    spent * Decimal::from(100) >= amount * Decimal::from(REACH_PERCENT) || spent + rate_per_hour * hours >= amount
}

/// The admins, read once per run and only when a crossing needs them.
#[derive(Default)]
struct Admins(Option<Vec<String>>);

impl BudgetWatch<'_> {
    /// The ledger that closes months: its stored lines keep their cost centre.
    fn ledger(&self) -> Ledger<'_> {
        Ledger::new(self.store, self.catalog, self.index, Some(self.cost_centres))
    }

    /// The ledger of the totals: they add up amounts per user, so no cost-centre change is
    /// read (one `Query` of everybody's saved per pass and tick).
    fn totals_ledger(&self) -> Ledger<'_> {
        Ledger::new(self.store, self.catalog, self.index, None)
    }

    /// The month index's upkeep for instant `at`: seals the month `at` falls in when it is
    /// not yet, and closes the month before once it is over ([`close_month`]). Cheap when
    /// there is nothing to do (two `GetItem`).
    pub async fn maintain(&self, at: Timestamp) -> Result<WatchReport, DomainError> {
        let month = Month::containing(at, &MONTH_BOUNDARY);
        let ledger = self.ledger();
        let mut report = WatchReport { month: month.to_string(), ..WatchReport::default() };
        if !self.index.sealed(month).await? {
            report.indexed = Some(index_month(&ledger, month, at).await?);
        }
        if let Some(previous) = month.previous() {
            report.closed = close_month(&ledger, previous, at).await?;
        }
        Ok(report)
    }

    /// The full pass for instant `at`: [`Self::maintain`], the month before's final
    /// evaluation when due, then every user's month total against their budget (crossings
    /// recorded and notified, `stop-at-100` enforced), the within-reach list for the ticks
    /// until the next full pass, and the pending e-mails.
    pub async fn run(&self, at: Timestamp) -> Result<WatchReport, DomainError> {
        let month = Month::containing(at, &MONTH_BOUNDARY);
        let mut report = self.maintain(at).await?;
        report.full = true;
        let book = BudgetBook::load(self.budgets).await?;
        let mut admins = Admins::default();
        if !book.is_empty() {
            self.final_evaluation(month, at, &book, &mut admins, &mut report).await?;
            let mut totals = Totals::default();
            self.totals_ledger().each_line(&Scope::All, month, at, &mut totals).await?;
            for (user, (spent, currency)) in &totals.0 {
                let rule = book.rule(user);
                self.evaluate(user, &rule, *spent, currency, month, at, true, &mut admins, &mut report).await?;
            }
            let reach = self.reach(&book, &totals, at).await?;
            report.within_reach.clone_from(&reach.users);
            match self.budgets.put_reach(month, &reach).await {
                // A later pass stored its own list: it knows better.
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(err) => return Err(err.into()),
            }
        }
        self.deliver(at, &mut report).await;
        Ok(report)
    }

    /// A tick between full passes for instant `at`: [`Self::maintain`], the month before's
    /// final evaluation when due, the month totals of the users the last full pass found
    /// within reach (each from their own histories), and the pending e-mails.
    pub async fn tick(&self, at: Timestamp) -> Result<WatchReport, DomainError> {
        let month = Month::containing(at, &MONTH_BOUNDARY);
        let mut report = self.maintain(at).await?;
        let book = BudgetBook::load(self.budgets).await?;
        if !book.is_empty() {
            let mut admins = Admins::default();
            self.final_evaluation(month, at, &book, &mut admins, &mut report).await?;
            let reach = self.budgets.reach(month).await?.unwrap_or_default();
            for user in &reach.users {
                let total = owner_total(&self.totals_ledger(), user, month, at).await?;
                let currency = total.currency.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned());
                let rule = book.rule(user);
                self.evaluate(user, &rule, total.spent, &currency, month, at, true, &mut admins, &mut report).await?;
            }
            report.within_reach = reach.users;
        }
        self.deliver(at, &mut report).await;
        Ok(report)
    }

    /// Once the month before `month` is over: its totals up to its end, crossings recorded
    /// under it and notified (so its last hour counts), nobody stopped (the new month has
    /// its own budget). Marked done, so once a month.
    async fn final_evaluation(
        &self,
        month: Month,
        at: Timestamp,
        book: &BudgetBook,
        admins: &mut Admins,
        report: &mut WatchReport,
    ) -> Result<(), DomainError> {
        let Some(previous) = month.previous() else { return Ok(()) };
        if self.budgets.evaluated(previous).await? {
            return Ok(());
        }
        let end = month.start(&MONTH_BOUNDARY).unwrap_or(at);
        if at < end + FINAL_EVALUATION_WITHIN {
            let mut totals = Totals::default();
            self.totals_ledger().each_line(&Scope::All, previous, at, &mut totals).await?;
            for (user, (spent, currency)) in &totals.0 {
                let rule = book.rule(user);
                self.evaluate(user, &rule, *spent, currency, previous, at, false, admins, report).await?;
            }
        }
        self.budgets.mark_evaluated(previous, at).await?;
        report.evaluated = Some(previous.to_string());
        Ok(())
    }

    /// One user's total against their rule: each threshold reached recorded once with its
    /// notifications; under `stop-at-100` at 100 %, when `stop`, their machines stopped.
    #[allow(clippy::too_many_arguments)]
    async fn evaluate(
        &self,
        user: &str,
        rule: &Rule,
        spent: Decimal,
        currency: &str,
        month: Month,
        at: Timestamp,
        stop: bool,
        admins: &mut Admins,
        report: &mut WatchReport,
    ) -> Result<(), DomainError> {
        let Some(amount) = rule.budget.amount else { return Ok(()) };
        for threshold in rule.budget.crossed(spent) {
            // Already recorded (a user within reach stays so all month): one read, no admins
            // list, no write that would fail its condition.
            if self.budgets.crossed(month, user, &rule.revision, threshold).await? {
                continue;
            }
            let crossing = Crossing {
                user: user.to_owned(),
                month: month.to_string(),
                threshold,
                at,
                actor: BUDGET_ACTOR.to_owned(),
                spent,
                budget: amount,
                currency: currency.to_owned(),
                revision: rule.revision.clone(),
            };
            let recipients = match self.recipients_of(user, admins).await {
                Ok(recipients) => recipients,
                Err(err) => {
                    // Not recorded: the next pass records it with everybody's notification.
                    tracing::warn!(user, error = ?err, "no admins list; the crossing waits for the next pass");
                    report.failed.push((user.to_owned(), format!("admins unknown: {err}")));
                    break;
                }
            };
            let notifications = notifications_of(&crossing, rule.budget.policy, &recipients);
            if self.budgets.record_crossing(&crossing, &notifications).await? {
                tracing::info!(user, threshold, %spent, %amount, %month, "budget threshold crossed");
                // `stop` is false only for the month before's final evaluation.
                let label = if stop { format!("{user}@{threshold}") } else { format!("{user}@{threshold}@{month}") };
                report.crossed.push(label);
            }
        }
        if stop && rule.budget.policy == Policy::StopAt100 && rule.budget.exhausted(spent) {
            let reason = format!(
                "monthly budget of {amount} {currency} reached ({} {currency} spent in {month})",
                spent.round_dp(2)
            );
            self.stop_running(user, &reason, at, report).await?;
        }
        Ok(())
    }

    /// The user and every admin, once each.
    async fn recipients_of(&self, user: &str, admins: &mut Admins) -> Result<Vec<String>, DomainError> {
        if admins.0.is_none() {
            let listed = self.recipients.admins().await?;
            admins.0 = Some(listed.into_iter().map(|r| r.username).collect());
        }
        let mut all = vec![user.to_owned()];
        for admin in admins.0.iter().flatten() {
            if !all.contains(admin) {
                all.push(admin.clone());
            }
        }
        Ok(all)
    }

    /// Who the full pass finds within reach: users with an amount, at or above
    /// [`REACH_PERCENT`] or projected past 100 % within [`Self::horizon`] at the compute
    /// rate of their `RUNNING` and `STARTING` workspaces now, and of their FAILED ones
    /// whose instance EC2 last showed running (one `by-state` read of each state, one
    /// product read per product).
    async fn reach(&self, book: &BudgetBook, totals: &Totals, at: Timestamp) -> Result<Reach, DomainError> {
        let mut rates: HashMap<String, Decimal> = HashMap::new();
        let mut prices: HashMap<ProductId, Decimal> = HashMap::new();
        for state in STOPPED_BY_BUDGET.into_iter().chain([State::Failed]) {
            let filter = &WorkspaceFilter::State(state);
            let billed = all_pages(|page| async move { self.store.list(filter, &page).await }).await?;
            for workspace in billed.into_iter().filter(|w| w.state != State::Failed || w.failed_and_running()) {
                let hourly = match prices.get(&workspace.product_id) {
                    Some(hourly) => *hourly,
                    None => {
                        let hourly = match self.catalog.product(&workspace.product_id).await? {
                            Some(product) => {
                                PriceBook::for_product(&product)?.at(at).map_or(Decimal::ZERO, |v| v.compute_per_hour)
                            }
                            None => Decimal::ZERO,
                        };
                        prices.insert(workspace.product_id.clone(), hourly);
                        hourly
                    }
                };
                *rates.entry(workspace.owner.username.clone()).or_default() += hourly;
            }
        }
        let users: BTreeSet<&String> = totals.0.keys().chain(rates.keys()).collect();
        let within = users
            .into_iter()
            .filter(|user| {
                let Some(amount) = book.of(user).amount else { return false };
                let spent = totals.0.get(*user).map_or(Decimal::ZERO, |(s, _)| *s);
                within_reach(spent, amount, rates.get(*user).copied().unwrap_or_default(), self.horizon)
            })
            .cloned()
            .collect();
        Ok(Reach { pass_at: at, users: within })
    }

    /// Sends the pending e-mails; a failure to read or record them is reported, never
    /// fatal (the crossings are recorded; the next pass tries again).
    async fn deliver(&self, at: Timestamp, report: &mut WatchReport) {
        match deliver(self.notifications, self.mailer, self.directory, at).await {
            Ok(delivered) => report.notifications = delivered,
            Err(err) => {
                tracing::warn!(error = ?err, "notification delivery pass failed");
                report.failed.push(("notifications".to_owned(), err.to_string()));
            }
        }
    }

    /// Stops `user`'s RUNNING and STARTING workspaces, and the instances of their FAILED
    /// workspaces that EC2 last showed running: the conditional write first (actor
    /// `budget`), then one batched EC2 call for those it claimed.
    async fn stop_running(
        &self,
        user: &str,
        reason: &str,
        at: Timestamp,
        report: &mut WatchReport,
    ) -> Result<(), DomainError> {
        let filter = &WorkspaceFilter::Owner(user.to_owned());
        let (running, failed): (Vec<Workspace>, Vec<Workspace>) =
            all_pages(|page| async move { self.store.list(filter, &page).await })
                .await?
                .into_iter()
                .filter(|w| STOPPED_BY_BUDGET.contains(&w.state) || w.failed_and_running())
                .partition(|w| STOPPED_BY_BUDGET.contains(&w.state));
        let mut claimed = Vec::new();
        // FAILED has no transition to claim: the stop is recorded as an event that leaves
        // it FAILED (conditional on its version), then its instance is stopped with the
        // others; state-sync records the stopped instance when EC2 shows it.
        for workspace in failed {
            let id = workspace.id.to_string();
            let instance = workspace.provisioned.instance_id.clone().unwrap_or_default();
            let why =
                format!("{reason}: its instance {instance} is stopped; the workspace stays FAILED until terminated");
            match record_event(self.store, workspace, Actor::budget(), EventAction::Stop, why, at).await {
                Ok(workspace) => claimed.push(workspace),
                Err(DomainError::Concurrent) => {}
                Err(err) => report.failed.push((id, err.to_string())),
            }
        }
        for workspace in running {
            let id = workspace.id.to_string();
            match transition(
                self.store,
                workspace,
                Command::Stop.into(),
                Actor::budget(),
                EventAction::Stop,
                Some(reason.to_owned()),
                at,
            )
            .await
            {
                Ok(workspace) => claimed.push(workspace),
                // Someone acted on it meanwhile: theirs is the last word until the next run.
                Err(DomainError::Concurrent | DomainError::IllegalTransition(_)) => {}
                Err(err) => report.failed.push((id, err.to_string())),
            }
        }
        let instances: Vec<String> = claimed.iter().filter_map(|w| w.provisioned.instance_id.clone()).collect();
        if !instances.is_empty()
            && let Err(err) = self.power.stop(&instances, false).await
        {
            // The workspaces stay STOPPING; state-sync reconciles them with what EC2 says.
            tracing::warn!(user, error = ?err, "budget stop failed");
            for w in &claimed {
                report.failed.push((w.id.to_string(), format!("{err}: {}", err.source)));
            }
            return Ok(());
        }
        report.stopped.extend(claimed.iter().map(|w| w.id.to_string()));
        Ok(())
    }
}

/// The notifications of `crossing`: one per recipient, delivery pending, with an id
/// derived from the crossing and the recipient.
fn notifications_of(crossing: &Crossing, policy: Policy, recipients: &[String]) -> Vec<Notification> {
    let threshold = crossing.threshold.to_string();
    recipients
        .iter()
        .map(|recipient| Notification {
            id: notification_id(&[
                "budget-crossing",
                &crossing.user,
                &crossing.month,
                &crossing.revision,
                &threshold,
                recipient,
            ]),
            recipient: recipient.clone(),
            at: crossing.at,
            kind: NotificationKind::BudgetCrossing {
                user: crossing.user.clone(),
                month: crossing.month.clone(),
                threshold: crossing.threshold,
                amount: crossing.spent.round_dp(2),
                budget: crossing.budget,
                currency: crossing.currency.clone(),
                policy: policy.as_str().to_owned(),
            },
            delivery: Delivery::pending(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    use crate::costs::budget::Budget;
    use crate::kernel::{PageRequest, Profile};
    use crate::notifications::{DeliveryStatus, NotificationStore};
    use crate::testing::{
        FakeDirectory, FakeEc2, FakeMailer, MemoryStore, ProductBuilder, WorkspaceBuilder, write_history,
    };
    use crate::{Product, WorkspaceId};

    /// The watch's doubles: alice and bob with addresses, ada an admin.
    struct World {
        store: MemoryStore,
        ec2: FakeEc2,
        mailer: FakeMailer,
        directory: FakeDirectory,
    }

    impl World {
        fn new() -> Self {
            let store = MemoryStore::default();
            store.put_product(product());
            let email =
                |user: &str| Profile { email: Some(format!("{user}@atelier.test")), cost_centre: None, sub: None };
            let directory = FakeDirectory::default()
                .with_user("alice", email("alice"))
                .with_user("bob", email("bob"))
                .with_user("ada", email("ada"));
            directory.set_groups("ada", &["admins"]);
            World { store, ec2: FakeEc2::default(), mailer: FakeMailer::default(), directory }
        }

        fn watch(&self) -> BudgetWatch<'_> {
            BudgetWatch {
                store: &self.store,
                catalog: &self.store,
                index: &self.store,
                budgets: &self.store,
                power: &self.ec2,
                cost_centres: &self.store,
                notifications: &self.store,
                mailer: &self.mailer,
                directory: &self.directory,
                recipients: &self.directory,
                horizon: SignedDuration::from_mins(65),
            }
        }

        async fn budget(&self, user: &str, amount: &str, thresholds: &[u16], policy: Policy) {
            let budget =
                Budget { amount: Some(Decimal::from_str(amount).expect("d")), thresholds: thresholds.to_vec(), policy };
            let current = self.store.user_budget(user).await.expect("read").map(|v| v.version);
            self.store.put_user_budget(user, &budget, current).await.expect("budget");
        }

        fn state(&self, id: &WorkspaceId) -> State {
            self.store.workspace(id).expect("stored").state
        }
    }

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn product() -> Product {
        ProductBuilder::new("gpu")
            .name("GPU")
            .instance_type("g5.xlarge", 4, 16)
            .hourly("10.00")
            .no_storage_price()
            .hibernation(false)
            .build()
    }

    /// A workspace of `owner` RUNNING since `since` (then, when given, each further step).
    async fn running(store: &MemoryStore, owner: &str, since: &str, then: &[(&str, State)]) -> WorkspaceId {
        let workspace = WorkspaceBuilder::new()
            .owner(owner)
            .product(product().id.as_str(), "g5.xlarge")
            .hibernation(false)
            .instance(&format!("i-{owner}"))
            .build();
        let mut steps = vec![(t(since), State::Provisioning), (t(since), State::Running)];
        steps.extend(then.iter().map(|(at, state)| (t(at), *state)));
        write_history(store, workspace, &steps).await.expect("written").id
    }

    #[tokio::test]
    async fn crossings_are_recorded_once_and_stop_at_100_stops_only_its_users() {
        let world = World::new();
        let store = &world.store;
        let alices = running(store, "alice", "2026-03-01T00:00:00Z", &[]).await;
        let bobs = running(store, "bob", "2026-03-01T00:00:00Z", &[]).await;
        let budget = |amount: &str, policy| Budget {
            amount: Some(Decimal::from_str(amount).expect("d")),
            thresholds: vec![50, 80, 100],
            policy,
        };
        store.put_user_budget("alice", &budget("100", Policy::StopAt100), None).await.expect("alice's");
        store.put_org_budget(&budget("100", Policy::Notify), None).await.expect("default");
        let watch = world.watch();

        // 9 h at 10.00 = 90.00: 50 % and 80 % for both, nothing stopped.
        let report = watch.run(t("2026-03-01T09:00:00Z")).await.expect("run");
        assert_eq!(report.crossed, ["alice@50", "alice@80", "bob@50", "bob@80"]);
        assert!(report.stopped.is_empty());
        assert_eq!(report.indexed, Some(2), "the first run of the month seals its index");
        let again = watch.run(t("2026-03-01T09:05:00Z")).await.expect("run");
        assert!(again.crossed.is_empty(), "a crossing is recorded once");
        assert_eq!(again.indexed, None);

        // 10 h: 100 % for both; only alice's policy stops.
        let report = watch.run(t("2026-03-01T10:00:00Z")).await.expect("run");
        assert_eq!(report.crossed, ["alice@100", "bob@100"]);
        assert_eq!(report.stopped, [alices.to_string()]);
        assert_eq!(world.ec2.stopped(), ["i-alice"]);
        let alice = store.get(&alices).await.expect("get").expect("alice's");
        assert_eq!(alice.state, State::Stopping);
        assert_eq!(store.get(&bobs).await.expect("get").expect("bob's").state, State::Running);
        let history = store.events(&alices, &PageRequest::first(10)).await.expect("events");
        assert_eq!(history.items[0].actor, Actor(BUDGET_ACTOR.into()));
        assert_eq!(history.items[0].action, EventAction::Stop);
        assert!(history.items[0].reason.as_deref().unwrap_or_default().contains("monthly budget of 100 EUR reached"));

        let crossings = crate::costs::budget::crossings_of(store, Month::new(2026, 3).expect("m"), Some("alice"))
            .await
            .expect("read");
        assert_eq!(crossings.iter().map(|c| c.threshold).collect::<Vec<_>>(), [50, 80, 100]);
        assert!(crossings.iter().all(|c| c.actor == BUDGET_ACTOR));
    }

    #[test]
    fn budgets_are_totalled_on_the_first_tick_of_each_slot() {
        let (hour, five) = (SignedDuration::from_hours(1), SignedDuration::from_mins(5));
        let due = |at: &str| budgets_due(t(at), hour, five);
        assert!(due("2026-03-02T09:00:00Z"));
        assert!(due("2026-03-02T09:04:59Z"), "a tick a little late still counts");
        assert!(!due("2026-03-02T09:05:00Z"));
        assert!(!due("2026-03-02T09:55:00Z"));
        assert!(due("2026-03-02T10:00:00Z"));
        // Twelve five-minute ticks an hour: exactly one is due.
        let start = t("2026-03-02T09:00:00Z");
        let ticks = (0..12).filter(|i| budgets_due(start + five * *i, hour, five)).count();
        assert_eq!(ticks, 1);
        assert!(budgets_due(t("2026-03-02T09:35:00Z"), five, five), "every tick when the slot is one tick");
    }

    /// Every line of the month, in order, with what the read counted.
    async fn march(store: &MemoryStore, now: &str) -> (Vec<WorkspaceCost>, crate::costs::ledger::ReadStats) {
        let ledger = Ledger::new(store, store, store, Some(store));
        let mut lines = Vec::new();
        let stats =
            ledger.each_line(&Scope::All, Month::new(2026, 3).expect("m"), t(now), &mut lines).await.expect("read");
        (lines, stats)
    }

    #[tokio::test]
    async fn the_month_before_is_closed_an_hour_after_it_ends_and_then_read_from_its_lines() {
        let world = World::new();
        let store = &world.store;
        // Created in February (so its March line starts with the month), in March, and
        // stopped in March; all keep running or stay stopped into April.
        let feb = running(store, "alice", "2026-02-20T08:00:00Z", &[]).await;
        running(store, "bob", "2026-03-10T12:00:00Z", &[]).await;
        running(store, "carol", "2026-03-30T22:00:00Z", &[("2026-03-31T06:00:00Z", State::Stopped)]).await;
        let watch = world.watch();
        let march_month = Month::new(2026, 3).expect("m");

        let (mut computed, stats) = march(store, "2026-04-01T01:30:00Z").await;
        assert_eq!(computed.len(), 3);
        assert!(stats.events > 0, "an open month is read from the histories");

        // 00:30 on the 1st: March may still get its last events.
        let early = watch.run(t("2026-04-01T00:30:00Z")).await.expect("run");
        assert_eq!(early.closed, None);
        assert!(!store.closed(march_month).await.expect("closed"));
        let report = watch.run(t("2026-04-01T01:30:00Z")).await.expect("run");
        assert_eq!(report.closed, Some(3), "one stored line per workspace that cost something");
        assert!(store.closed(march_month).await.expect("closed"));
        assert_eq!(watch.run(t("2026-04-01T02:30:00Z")).await.expect("run").closed, None, "closed once");

        // Read back: the same lines, oldest workspace first (an unsealed read lists the
        // indexed ones first), without reading one event.
        let (stored, stats) = march(store, "2026-05-15T00:00:00Z").await;
        computed
            .sort_by(|a, b| (a.info.created_at, &a.info.workspace_id).cmp(&(b.info.created_at, &b.info.workspace_id)));
        assert_eq!(stored, computed);
        assert_eq!(stats.events, 0);
        assert_eq!(stored[0].info.workspace_id, feb, "oldest workspace first");
        // 31 days of March: alice's whole month at 10.00/h.
        assert_eq!(stored[0].running_seconds, Decimal::from(31 * 24 * 3600));
        assert_eq!(stored[0].compute, Decimal::from(31 * 24 * 10));
    }

    /// A workspace of `owner` in `state` since `since`, RUNNING from `since` (STARTING:
    /// stopped at creation, asked to start at `since`).
    async fn starting(store: &MemoryStore, owner: &str, created: &str, since: &str) -> WorkspaceId {
        running(
            store,
            owner,
            created,
            &[(created, State::Stopping), (created, State::Stopped), (since, State::Starting)],
        )
        .await
    }

    #[tokio::test]
    async fn those_within_reach_are_totalled_on_every_tick_and_the_others_wait_for_the_full_pass() {
        let world = World::new();
        // alice: 90.00 of 95 at 09:00 (≥ 80 %); carol: 5.00 of 10 but 10.00/h for the 65
        // minutes to the next full pass; bob: 90.00 of 120 (75 %), 100.83 by then: out of reach.
        let alices = running(&world.store, "alice", "2026-03-02T00:00:00Z", &[]).await;
        let carols = running(&world.store, "carol", "2026-03-02T08:30:00Z", &[]).await;
        let bobs = running(&world.store, "bob", "2026-03-02T00:00:00Z", &[]).await;
        world.budget("alice", "95", &[80, 100], Policy::StopAt100).await;
        world.budget("carol", "10", &[80, 100], Policy::StopAt100).await;
        world.budget("bob", "120", &[50, 80, 100], Policy::StopAt100).await;
        let watch = world.watch();

        let full = watch.run(t("2026-03-02T09:00:00Z")).await.expect("full pass");
        assert!(full.full);
        assert_eq!(full.within_reach, ["alice", "carol"], "{full:?}");
        assert_eq!(full.crossed, ["alice@80", "bob@50"]);
        assert!(full.stopped.is_empty());

        // 09:31: alice 95.17, carol 10.17: both stopped by a tick, an hour before the
        // next full pass; bob is not even read.
        let tick = watch.tick(t("2026-03-02T09:31:00Z")).await.expect("tick");
        assert!(!tick.full);
        assert_eq!(tick.within_reach, ["alice", "carol"]);
        assert_eq!(tick.crossed, ["alice@100", "carol@80", "carol@100"]);
        let mut stopped = tick.stopped.clone();
        stopped.sort();
        let mut expected = vec![alices.to_string(), carols.to_string()];
        expected.sort();
        assert_eq!(stopped, expected);
        assert_eq!(world.state(&bobs), State::Running);
    }

    #[test]
    fn within_reach_is_80_percent_or_a_projected_crossing() {
        let d = |s: &str| Decimal::from_str(s).expect("d");
        let hour = SignedDuration::from_hours(1);
        assert!(within_reach(d("80"), d("100"), Decimal::ZERO, hour));
        assert!(!within_reach(d("79.99"), d("100"), Decimal::ZERO, hour));
        assert!(within_reach(d("50"), d("100"), d("50"), hour), "50 + 50/h × 1 h reaches 100");
        assert!(!within_reach(d("50"), d("100"), d("49.99"), hour));
    }

    #[tokio::test]
    async fn starting_workspaces_are_stopped_with_the_running_ones() {
        let world = World::new();
        let up = running(&world.store, "alice", "2026-03-02T00:00:00Z", &[]).await;
        let coming = starting(&world.store, "alice", "2026-03-01T00:00:00Z", "2026-03-02T08:59:00Z").await;
        world.budget("alice", "50", &[100], Policy::StopAt100).await;
        let report = world.watch().run(t("2026-03-02T09:00:00Z")).await.expect("run");
        let mut stopped = report.stopped.clone();
        stopped.sort();
        let mut expected = vec![up.to_string(), coming.to_string()];
        expected.sort();
        assert_eq!(stopped, expected, "{report:?}");
        assert_eq!(world.state(&coming), State::Stopping);
        assert_eq!(world.ec2.stopped().len(), 2);
    }

    #[tokio::test]
    async fn a_failed_workspace_s_running_instance_is_stopped_and_the_stop_recorded_in_its_history() {
        use crate::workspaces::{Event, InstanceSeen, InstanceState, TimeSource};
        let world = World::new();
        let id =
            running(&world.store, "alice", "2026-03-02T00:00:00Z", &[("2026-03-02T01:00:00Z", State::Stopping)]).await;
        // Its stop timed out at 01:30 with EC2 still showing the instance running.
        let mut failed = world.store.workspace(&id).expect("stored");
        failed.state = State::Failed;
        failed.version += 1;
        failed.updated_at = t("2026-03-02T01:30:00Z");
        failed.instance_seen = Some(InstanceState::Running);
        let seen = InstanceSeen {
            id: "i-alice".into(),
            state: InstanceState::Running,
            transition_reason: None,
            time_source: TimeSource::Observed,
        };
        let event = Event {
            at: failed.updated_at,
            actor: Actor::state_sync(),
            action: EventAction::Sync,
            from: Some(State::Stopping),
            to: State::Failed,
            reason: Some("the stop timed out".into()),
            connection: None,
            instance: Some(seen),
        };
        crate::workspaces::writer::append(&world.store, &mut failed, State::Stopping, &event).await.expect("failed");
        world.budget("alice", "50", &[100], Policy::StopAt100).await;

        // 1 h running, 30 min stopping (storage only), 7.5 h FAILED and running: 85.00 of 50.
        let report = world.watch().run(t("2026-03-02T09:00:00Z")).await.expect("run");
        assert_eq!(report.crossed, ["alice@100"]);
        assert_eq!(report.stopped, [id.to_string()], "{report:?}");
        assert_eq!(world.ec2.stopped(), ["i-alice"]);
        assert_eq!(world.state(&id), State::Failed, "FAILED has no stop transition: it stays so");
        let history = world.store.events(&id, &PageRequest::first(10)).await.expect("events");
        let last = &history.items[0];
        assert_eq!(
            (&last.actor, last.action, last.from, last.to),
            (&Actor(BUDGET_ACTOR.into()), EventAction::Stop, Some(State::Failed), State::Failed)
        );
        let reason = last.reason.as_deref().unwrap_or_default();
        assert!(reason.contains("monthly budget of 50 EUR reached"), "{reason}");
        assert!(reason.contains("its instance i-alice is stopped; the workspace stays FAILED"), "{reason}");
    }

    #[tokio::test]
    async fn a_changed_budget_re_arms_its_thresholds() {
        let world = World::new();
        running(&world.store, "alice", "2026-03-02T00:00:00Z", &[]).await;
        world.budget("alice", "100", &[50, 100], Policy::Notify).await;
        let watch = world.watch();
        // 60.00 of 100: 50 %.
        assert_eq!(watch.run(t("2026-03-02T06:00:00Z")).await.expect("run").crossed, ["alice@50"]);
        assert!(watch.run(t("2026-03-02T07:00:00Z")).await.expect("run").crossed.is_empty(), "once");
        // Raised to 200 at 07:30: 50 % of it (100.00) is crossed again at 10:00.
        world.budget("alice", "200", &[50, 100], Policy::Notify).await;
        assert!(watch.run(t("2026-03-02T08:00:00Z")).await.expect("run").crossed.is_empty(), "80.00 < 100");
        assert_eq!(watch.run(t("2026-03-02T10:00:00Z")).await.expect("run").crossed, ["alice@50"]);
        let crossings =
            crate::costs::budget::crossings_of(&world.store, Month::new(2026, 3).expect("m"), Some("alice"))
                .await
                .expect("read");
        assert_eq!(crossings.len(), 2);
        assert_ne!(crossings[0].revision, crossings[1].revision, "keyed by the rule's revision");
        let notified = world.store.of("alice", &PageRequest::first(10)).await.expect("read").items;
        assert_eq!(notified.len(), 2, "each crossing notified");
    }

    #[tokio::test]
    async fn the_month_s_last_hour_is_evaluated_once_after_it_ends_and_stops_nobody_in_the_next() {
        let world = World::new();
        world.budget("alice", "5", &[80, 100], Policy::StopAt100).await;
        let watch = world.watch();
        let before = watch.run(t("2026-03-31T23:00:00Z")).await.expect("run");
        assert!(before.crossed.is_empty() && before.within_reach.is_empty(), "{before:?}");
        // Started after the 23:00 pass, 50 minutes at 10.00/h = 8.33 of a 5.00 budget.
        let late = running(&world.store, "alice", "2026-03-31T23:10:00Z", &[]).await;
        let tick = watch.tick(t("2026-03-31T23:55:00Z")).await.expect("tick");
        assert!(tick.crossed.is_empty(), "not within reach at 23:00: {tick:?}");
        let april = watch.run(t("2026-04-01T00:00:00Z")).await.expect("run");
        assert_eq!(april.evaluated.as_deref(), Some("2026-03"));
        assert_eq!(april.crossed, ["alice@80@2026-03", "alice@100@2026-03"]);
        assert!(april.stopped.is_empty(), "April has its own budget");
        assert_eq!(world.state(&late), State::Running);
        let march = crate::costs::budget::crossings_of(&world.store, Month::new(2026, 3).expect("m"), Some("alice"))
            .await
            .expect("read");
        assert_eq!(march.iter().map(|c| c.spent.round_dp(2)).collect::<Vec<_>>(), [d2("8.33"), d2("8.33")]);
        let again = watch.tick(t("2026-04-01T00:05:00Z")).await.expect("tick");
        assert_eq!(again.evaluated, None, "once");
        assert!(again.crossed.is_empty());
    }

    fn d2(s: &str) -> Decimal {
        Decimal::from_str(s).expect("d")
    }

    #[tokio::test]
    async fn a_crossing_notifies_the_user_and_the_admins_once_and_a_failed_e_mail_is_retried() {
        let world = World::new();
        running(&world.store, "alice", "2026-03-02T00:00:00Z", &[]).await;
        world.budget("alice", "50", &[100], Policy::StopAt100).await;
        world.mailer.refuse(true);
        let watch = world.watch();
        let first = watch.run(t("2026-03-02T09:00:00Z")).await.expect("run");
        assert_eq!(first.crossed, ["alice@100"]);
        assert_eq!(first.notifications.failed.len(), 2, "alice's and ada's: {first:?}");
        // Recorded first: the failure loses nothing, and shows.
        let alices = world.store.of("alice", &PageRequest::first(10)).await.expect("read").items;
        assert_eq!(alices.len(), 1);
        assert_eq!(alices[0].delivery.status, DeliveryStatus::Pending);
        assert_eq!(alices[0].delivery.attempts, 1);
        assert!(alices[0].delivery.last_error.is_some());

        world.mailer.accept();
        let second = watch.tick(t("2026-03-02T09:05:00Z")).await.expect("tick");
        assert_eq!(second.notifications.sent.len(), 2, "{second:?}");
        assert!(second.crossed.is_empty());
        let third = watch.run(t("2026-03-02T10:00:00Z")).await.expect("run");
        assert!(third.notifications.sent.is_empty() && third.crossed.is_empty(), "once: {third:?}");
        let sent = world.mailer.sent();
        let mut to: Vec<&str> = sent.iter().map(|e| e.to.as_str()).collect();
        to.sort_unstable();
        assert_eq!(to, ["ada@atelier.test", "alice@atelier.test"]);
        assert!(sent.iter().any(|e| e.subject.contains("Your 2026-03 estimate reached 100 %")));
        assert!(sent.iter().any(|e| e.subject.contains("alice's 2026-03 estimate reached 100 %")));
        let adas = world.store.of("ada", &PageRequest::first(10)).await.expect("read").items;
        assert_eq!(adas[0].delivery.status, DeliveryStatus::Sent);
        assert_eq!(adas[0].delivery.attempts, 2);
        assert!(
            matches!(&adas[0].kind, crate::notifications::NotificationKind::BudgetCrossing { user, .. } if user == "alice")
        );
    }

    #[tokio::test]
    async fn a_start_is_refused_past_a_stop_at_100_budget_until_the_month_ends_or_it_is_raised() {
        use std::sync::Arc;
        let store = Arc::new(MemoryStore::default());
        store.put_product(product());
        running(&store, "alice", "2026-03-02T00:00:00Z", &[]).await;
        let gate = crate::costs::BudgetGate {
            store: store.clone(),
            catalog: store.clone(),
            index: store.clone(),
            budgets: store.clone(),
            defaults: store.clone(),
        };
        let at = t("2026-03-02T09:00:00Z");
        assert_eq!(gate.check("alice", at).await.expect("check"), None, "no budget");
        let budget = |amount: &str, policy| Budget {
            amount: Some(Decimal::from_str(amount).expect("d")),
            thresholds: vec![80, 100],
            policy,
        };
        store.put_user_budget("alice", &budget("50", Policy::Notify), None).await.expect("put");
        assert_eq!(gate.check("alice", at).await.expect("check"), None, "notify never refuses");
        store.put_user_budget("alice", &budget("50", Policy::StopAt100), Some(1)).await.expect("put");
        let why = gate.check("alice", at).await.expect("check").expect("refused: 90.00 of 50.00");
        assert!(why.contains("monthly budget of 50.00 EUR for 2026-03 is used up (90.00 EUR estimated)"), "{why}");
        assert!(why.contains("until 2026-04-01 02:00 Europe/Paris (2026-04-01T00:00:00Z)"), "{why}");
        assert!(why.contains("or until an admin raises the budget"), "{why}");
        assert_eq!(gate.check("bob", at).await.expect("check"), None, "only the owner's budget counts");
        store.put_user_budget("alice", &budget("200", Policy::StopAt100), Some(2)).await.expect("raised");
        assert_eq!(gate.check("alice", at).await.expect("check"), None, "raised: starts again");
    }
}
