//! The cost use cases: a person's own costs, the per-user report and the finance export.
//!
//! The ledger is the workspace event history (docs/adr/0006-costs.md): every state change
//! writes its event in the same transaction as the workspace, so a report rebuilds each
//! workspace's billable intervals from its events and prices them with its product's
//! price book. Nothing else is written, so state and ledger can never disagree.
//!
//! Phase 1 reads, per report, every workspace in scope (paged queries, never a `Scan`) and
//! the events of those that existed during the month. That is bounded by the number of
//! workspaces, not by the organisation's whole history; the month ledger index of phase 2
//! bounds it by the month.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::interval::intervals;
use super::month::{Month, MonthBoundary};
use super::price::PriceBook;
use super::report::{WorkspaceCost, WorkspaceInfo, sum_exact, workspace_costs};
use crate::ports::{Catalog, MAX_PAGE_SIZE, PageRequest, UserDirectory, WorkspaceFilter, WorkspaceStore};
use crate::{Caller, DomainError, Event, ProductId, Profile, Role, State, Workspace};

/// Where report months begin and end. UTC, like AWS billing and Cost Explorer, so that
/// estimates and actuals cover the same hours. A constant for now; an organisation setting
/// later ([`MonthBoundary::Zone`] is supported by the pure code).
pub const MONTH_BOUNDARY: MonthBoundary = MonthBoundary::Utc;

/// The currency a report with no line is shown in (the catalog's currency).
pub const DEFAULT_CURRENCY: &str = "EUR";

/// The ports the cost use cases run on.
#[derive(Clone)]
pub struct Costs {
    pub store: Arc<dyn WorkspaceStore>,
    pub catalog: Arc<dyn Catalog>,
    pub directory: Arc<dyn UserDirectory>,
}

/// A report's lines for one month, all in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostReport {
    /// The month reported.
    pub month: Month,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// One line per workspace that cost something in the month, oldest workspace first.
    pub lines: Vec<WorkspaceCost>,
    /// The exact sum of the lines' rounded totals.
    pub total: Decimal,
}

/// One user's share of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCost {
    /// Username.
    pub user: String,
    /// E-mail address, empty when unknown.
    pub email: String,
    /// Cost centre, when known.
    pub cost_centre: Option<String>,
    /// Running seconds of all their workspaces in the month, exact.
    pub running_seconds: Decimal,
    /// The exact sum of their lines' rounded totals.
    pub total: Decimal,
}

impl CostReport {
    /// The report grouped by owner, by username. The users' totals add up to
    /// [`CostReport::total`] exactly.
    pub fn by_user(&self) -> Vec<UserCost> {
        let mut users: BTreeMap<&str, UserCost> = BTreeMap::new();
        for line in &self.lines {
            let user = users.entry(line.info.owner.as_str()).or_insert_with(|| UserCost {
                user: line.info.owner.clone(),
                email: line.info.email.clone(),
                cost_centre: line.info.cost_centre.clone(),
                running_seconds: Decimal::ZERO,
                total: Decimal::ZERO,
            });
            user.running_seconds += line.running_seconds;
            user.total += line.total;
        }
        users.into_values().collect()
    }
}

/// Whole seconds of an exact duration, rounded down (what the API shows).
pub fn whole_seconds(seconds: Decimal) -> u64 {
    seconds.floor().to_u64().unwrap_or(0)
}

impl Costs {
    /// The caller's own workspaces' costs in `month` (`YYYY-MM`), computed up to `now`.
    /// Any signed-in user; a malformed or future month is `Unprocessable` on `month`.
    pub async fn my_costs(&self, caller: &Caller, month: &str, now: Timestamp) -> Result<CostReport, DomainError> {
        let month = Month::parse(month, now, &MONTH_BOUNDARY)?;
        self.report(&WorkspaceFilter::Owner(caller.username.clone()), month, now, &mut HashMap::new()).await
    }

    /// Every user's costs in `month` (admins only).
    pub async fn users_report(&self, caller: &Caller, month: &str, now: Timestamp) -> Result<CostReport, DomainError> {
        require(caller, &[Role::Admin], "only admins may see every user's costs")?;
        let month = Month::parse(month, now, &MONTH_BOUNDARY)?;
        self.report(&WorkspaceFilter::All, month, now, &mut HashMap::new()).await
    }

    /// The lines of the finance export for `month`, optionally only those of one cost
    /// centre (finance and admins). Without a filter its total is the users report's.
    pub async fn export(
        &self,
        caller: &Caller,
        month: &str,
        cost_centre: Option<&str>,
        now: Timestamp,
    ) -> Result<CostReport, DomainError> {
        require(caller, &[Role::Finance, Role::Admin], "only finance and admins may export costs")?;
        let month = Month::parse(month, now, &MONTH_BOUNDARY)?;
        let mut report = self.report(&WorkspaceFilter::All, month, now, &mut HashMap::new()).await?;
        if let Some(centre) = cost_centre {
            report.lines.retain(|l| l.info.cost_centre.as_deref() == Some(centre));
            report.total = sum_exact(&report.lines);
        }
        Ok(report)
    }

    /// The lines of every workspace `filter` lists that existed during `month`.
    async fn report(
        &self,
        filter: &WorkspaceFilter,
        month: Month,
        now: Timestamp,
        profiles: &mut HashMap<String, Profile>,
    ) -> Result<CostReport, DomainError> {
        let out_of_range = || DomainError::unprocessable("month", "out of the supported range");
        let start = month.start(&MONTH_BOUNDARY).ok_or_else(out_of_range)?;
        let end = month.end(&MONTH_BOUNDARY).ok_or_else(out_of_range)?;
        let until = now.min(end);
        let mut books: HashMap<ProductId, (PriceBook, u32)> = HashMap::new();
        let mut lines = Vec::new();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let listed = self.store.list(filter, &page).await?;
            for workspace in listed.items {
                if !existed_during(&workspace, start, end) {
                    continue;
                }
                lines.extend(self.workspace_lines(&workspace, month, start, until, &mut books, profiles).await?);
            }
            match listed.next_token {
                Some(token) => page.token = Some(token),
                None => break,
            }
        }
        // Lists are newest first; reports read oldest first.
        lines.reverse();
        let currency = match lines.first() {
            Some(first) => first.currency.clone(),
            None => DEFAULT_CURRENCY.to_owned(),
        };
        if lines.iter().any(|l| l.currency != currency) {
            return Err(DomainError::unprocessable("currency", "the catalog prices workspaces in several currencies"));
        }
        let total = sum_exact(&lines);
        Ok(CostReport { month, currency, lines, total })
    }

    /// One workspace's line for `month` (none when it cost nothing then).
    async fn workspace_lines(
        &self,
        workspace: &Workspace,
        month: Month,
        start: Timestamp,
        until: Timestamp,
        books: &mut HashMap<ProductId, (PriceBook, u32)>,
        profiles: &mut HashMap<String, Profile>,
    ) -> Result<Vec<WorkspaceCost>, DomainError> {
        let events = self.events_since(workspace, start).await?;
        let billable = intervals(&workspace.id, &events, until);
        if billable.is_empty() {
            return Ok(Vec::new());
        }
        if !books.contains_key(&workspace.product_id) {
            let product = self.catalog.product(&workspace.product_id).await?.ok_or_else(|| {
                DomainError::unprocessable(
                    "prices",
                    format!(
                        "workspace {} uses product {}, which the catalog no longer has",
                        workspace.id, workspace.product_id
                    ),
                )
            })?;
            books.insert(workspace.product_id.clone(), (product.price_book()?, product.volume_gib));
        }
        let Some((book, volume_gib)) = books.get(&workspace.product_id) else {
            return Ok(Vec::new());
        };
        let owner = &workspace.owner.username;
        if !profiles.contains_key(owner) {
            let profile = self.profile_of(owner).await?;
            profiles.insert(owner.clone(), profile);
        }
        let profile = profiles.get(owner).cloned().unwrap_or_default();
        let info = WorkspaceInfo {
            workspace_id: workspace.id.clone(),
            workspace_name: workspace.name.as_str().to_owned(),
            owner: owner.clone(),
            email: profile.email.unwrap_or_default(),
            cost_centre: profile.cost_centre.or_else(|| workspace.owner.cost_centre.clone()),
            product: workspace.product_id.clone(),
            instance_type: workspace.instance_type.clone(),
            volume_gib: *volume_gib,
        };
        let mut lines = workspace_costs(&info, &billable, book, &MONTH_BOUNDARY)?;
        lines.retain(|l| l.month == month);
        Ok(lines)
    }

    /// The workspace's events from the last one before `start` (the state it entered the
    /// month in) onwards, oldest first. Reads newest first and stops one page past `start`.
    async fn events_since(&self, workspace: &Workspace, start: Timestamp) -> Result<Vec<Event>, DomainError> {
        let mut events = Vec::new();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let read = self.store.events(&workspace.id, &page).await?;
            let reached_start = read.items.last().is_some_and(|e| e.at < start);
            events.extend(read.items);
            match read.next_token {
                Some(token) if !reached_start => page.token = Some(token),
                _ => break,
            }
        }
        events.reverse();
        Ok(events)
    }

    /// A user's directory profile. A user the directory no longer knows (a definitive,
    /// non-retryable failure) still gets their costs, without e-mail; the cost centre then
    /// comes from the workspace. A transient failure fails the report: a report silently
    /// missing e-mails would look complete.
    async fn profile_of(&self, username: &str) -> Result<Profile, DomainError> {
        match self.directory.profile(username).await {
            Ok(profile) => Ok(profile),
            Err(err) if !err.retryable => {
                tracing::warn!(user = username, error = ?err, "no directory profile; reporting without it");
                Ok(Profile::default())
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// False when the workspace certainly cost nothing in `[start, end)`: created after it, or
/// terminated (or failed: a failed workspace bills nothing) before it. `updated_at` marks
/// the last state change, so for those states it is when the workspace got there.
fn existed_during(workspace: &Workspace, start: Timestamp, end: Timestamp) -> bool {
    if workspace.created_at >= end {
        return false;
    }
    !(matches!(workspace.state, State::Terminated | State::Failed) && workspace.updated_at < start)
}

fn require(caller: &Caller, roles: &[Role], message: &str) -> Result<(), DomainError> {
    if roles.iter().any(|r| caller.has(*r)) { Ok(()) } else { Err(DomainError::Forbidden(message.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use std::sync::Mutex;

    use async_trait::async_trait;

    use crate::costs::{PriceVersion, intervals as all_intervals};
    use crate::ports::{IdempotencyRecord, Inserted, Page, StoreError};
    use crate::workspace::{Owner, Provisioned};
    use crate::{Actor, EventAction, Money, Product, UpstreamError, WorkspaceId, WorkspaceName};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    /// Workspaces and their histories in memory; events served newest first, two per
    /// page, and every events page read recorded.
    #[derive(Default)]
    struct Store {
        workspaces: Vec<Workspace>,
        events: HashMap<WorkspaceId, Vec<Event>>,
        reads: Mutex<Vec<WorkspaceId>>,
    }

    #[async_trait]
    impl WorkspaceStore for Store {
        async fn insert(
            &self,
            _: &Workspace,
            _: &Event,
            _: Option<&IdempotencyRecord>,
        ) -> Result<Inserted, StoreError> {
            unimplemented!("not used by costs")
        }
        async fn get(&self, _: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
            unimplemented!("not used by costs")
        }
        async fn idempotency(&self, _: &str, _: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
            unimplemented!("not used by costs")
        }
        async fn list(&self, filter: &WorkspaceFilter, _: &PageRequest) -> Result<Page<Workspace>, StoreError> {
            let items = self
                .workspaces
                .iter()
                .filter(|w| match filter {
                    WorkspaceFilter::Owner(owner) => &w.owner.username == owner,
                    WorkspaceFilter::All => true,
                    WorkspaceFilter::State(state) => w.state == *state,
                })
                .rev()
                .cloned()
                .collect();
            Ok(Page { items, next_token: None })
        }
        async fn update(&self, _: &Workspace, _: State, _: Option<&Event>) -> Result<(), StoreError> {
            unimplemented!("not used by costs")
        }
        async fn events(&self, id: &WorkspaceId, page: &PageRequest) -> Result<Page<Event>, StoreError> {
            self.reads.lock().expect("lock").push(id.clone());
            let mut all = self.events.get(id).cloned().unwrap_or_default();
            all.reverse();
            let from: usize = page.token.as_deref().map_or(Ok(0), str::parse).map_err(|_| StoreError::BadPageToken)?;
            let to = (from + 2).min(all.len());
            let next_token = (to < all.len()).then(|| to.to_string());
            Ok(Page { items: all[from..to].to_vec(), next_token })
        }
    }

    struct OneProduct;

    #[async_trait]
    impl Catalog for OneProduct {
        async fn products(&self, _: &PageRequest) -> Result<Page<Product>, StoreError> {
            unimplemented!("not used by costs")
        }
        async fn product(&self, _: &ProductId) -> Result<Option<Product>, StoreError> {
            Ok(Some(product()))
        }
    }

    /// Knows alice; has forgotten everybody else.
    struct Directory;

    #[async_trait]
    impl UserDirectory for Directory {
        async fn profile(&self, username: &str) -> Result<Profile, UpstreamError> {
            if username == "alice" {
                Ok(Profile { email: Some("alice@example.org".into()), cost_centre: Some("CC-1".into()) })
            } else {
                Err(UpstreamError::new("cognito-idp", "AdminGetUser", false, "UserNotFoundException"))
            }
        }
    }

    fn product() -> Product {
        let eur = |amount: &str| Money { amount: Decimal::from_str(amount).expect("decimal"), currency: "EUR".into() };
        Product {
            id: ProductId::parse("python-r-standard").expect("id"),
            name: "Python".into(),
            description: "d".into(),
            instance_type: "m5.2xlarge".into(),
            vcpus: 8,
            memory_gib: 32,
            hourly_price: eur("0.35"),
            storage_price: Some(eur("0.0928")),
            prices: Vec::<PriceVersion>::new(),
            hibernation: true,
            image_id: "ami-1".into(),
            volume_gib: 100,
            service_catalog: None,
        }
    }

    /// A workspace of `owner` whose history is `steps`, the first being its creation.
    fn workspace(store: &mut Store, owner: &str, steps: &[(&str, State)]) -> WorkspaceId {
        let id = WorkspaceId::generate();
        let (created, _) = steps[0];
        let (last_at, last_state) = steps[steps.len() - 1];
        store.workspaces.push(Workspace {
            id: id.clone(),
            name: WorkspaceName::parse("w").expect("name"),
            owner: Owner { username: owner.into(), sub: owner.into(), cost_centre: Some("CC-recorded".into()) },
            product_id: product().id,
            instance_type: "m5.2xlarge".into(),
            hibernation: true,
            state: last_state,
            provisioned: Provisioned::default(),
            provision_token: "p".into(),
            created_at: t(created),
            updated_at: t(last_at),
            error: None,
            version: 1,
            schedule: Default::default(),
            datasets: Vec::new(),
        });
        let mut from = None;
        let events = steps
            .iter()
            .map(|(at, to)| {
                let event = Event {
                    at: t(at),
                    actor: Actor::state_sync(),
                    action: EventAction::Sync,
                    from,
                    to: *to,
                    reason: None,
                };
                from = Some(*to);
                event
            })
            .collect();
        store.events.insert(id.clone(), events);
        id
    }

    fn costs(store: Arc<Store>) -> Costs {
        Costs { store, catalog: Arc::new(OneProduct), directory: Arc::new(Directory) }
    }

    fn caller(username: &str, group: &str) -> Caller {
        Caller { sub: username.into(), username: username.into(), groups: vec![group.into()] }
    }

    #[tokio::test]
    async fn history_is_read_only_back_to_the_month_and_gives_the_full_history_s_costs() {
        let mut store = Store::default();
        let steps = [
            ("2026-01-05T08:00:00Z", State::Provisioning),
            ("2026-01-05T08:05:00Z", State::Running),
            ("2026-01-05T18:00:00Z", State::Stopped),
            ("2026-02-02T08:00:00Z", State::Starting),
            ("2026-02-02T08:01:00Z", State::Running),
            ("2026-03-03T10:00:00Z", State::Stopping),
            ("2026-03-03T10:01:00Z", State::Stopped),
        ];
        let id = workspace(&mut store, "alice", &steps);
        let gone = workspace(
            &mut store,
            "alice",
            &[
                ("2026-01-01T00:00:00Z", State::Provisioning),
                ("2026-01-02T00:00:00Z", State::Terminating),
                ("2026-01-02T00:05:00Z", State::Terminated),
            ],
        );
        let full = store.events[&id].clone();
        let store = Arc::new(store);
        let now = t("2026-04-15T00:00:00Z");
        let report =
            costs(store.clone()).my_costs(&caller("alice", "scientists"), "2026-03", now).await.expect("report");

        let march = Month::parse("2026-03", now, &MONTH_BOUNDARY).expect("month");
        let info = report.lines[0].info.clone();
        let expected = workspace_costs(
            &info,
            &all_intervals(&id, &full, t("2026-04-01T00:00:00Z")),
            &product().price_book().expect("book"),
            &MONTH_BOUNDARY,
        )
        .expect("costs");
        let expected: Vec<_> = expected.into_iter().filter(|l| l.month == march).collect();
        assert_eq!(report.lines, expected);
        // Running from 1 March 00:00 to 3 March 10:01 (STOPPING bills as running).
        assert_eq!(report.lines[0].running_seconds, Decimal::from(2 * 86_400 + 10 * 3600 + 60));
        assert_eq!(report.total, report.lines[0].total);
        let reads = store.reads.lock().expect("lock").clone();
        assert_eq!(reads.iter().filter(|r| **r == id).count(), 2, "two pages of two reach February");
        assert!(!reads.contains(&gone), "a workspace terminated before the month is not read");
        assert_eq!(info.email, "alice@example.org");
        assert_eq!(info.cost_centre.as_deref(), Some("CC-1"));
    }

    #[tokio::test]
    async fn reports_group_by_user_and_survive_forgotten_users() {
        let mut store = Store::default();
        let steps = [("2026-03-01T00:00:00Z", State::Provisioning), ("2026-03-01T00:00:00Z", State::Running)];
        workspace(&mut store, "alice", &steps);
        workspace(&mut store, "alice", &steps);
        workspace(&mut store, "zoe", &steps);
        let costs = costs(Arc::new(store));
        let now = t("2026-03-01T01:00:00Z");
        let admin = caller("ada", "admins");
        let report = costs.users_report(&admin, "2026-03", now).await.expect("report");
        let users = report.by_user();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].user, "alice");
        assert_eq!(users[0].running_seconds, Decimal::from(7200));
        assert_eq!(users[0].total, Decimal::from_str("0.70").expect("d") + Decimal::from_str("0.02").expect("d"));
        assert_eq!(users[1].email, "", "a forgotten user keeps their costs");
        assert_eq!(users[1].cost_centre.as_deref(), Some("CC-recorded"));
        assert_eq!(users.iter().map(|u| u.total).sum::<Decimal>(), report.total);

        let finance = costs.export(&caller("fiona", "finance"), "2026-03", Some("CC-1"), now).await.expect("export");
        assert_eq!(finance.lines.len(), 2);
        assert!(matches!(
            costs.users_report(&caller("fiona", "finance"), "2026-03", now).await,
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            costs.export(&caller("alice", "scientists"), "2026-03", None, now).await,
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            costs.my_costs(&caller("alice", "scientists"), "2026-04", now).await,
            Err(DomainError::Unprocessable { ref field, .. }) if field == "month"
        ));
    }

    #[test]
    fn seconds_are_rounded_down() {
        assert_eq!(whole_seconds(Decimal::from_str("3599.999999999").expect("d")), 3599);
        assert_eq!(whole_seconds(Decimal::from(3600)), 3600);
        assert_eq!(whole_seconds(Decimal::ZERO), 0);
    }
}
