//! The storage ports' contracts as executable checks, run against [`super::MemoryStore`]
//! in the domain's tests and against the DynamoDB table in the integration tests, so the
//! double and the adapter cannot drift apart. Each check writes under fresh owners and
//! filters what it lists to what it wrote, so it runs on a table other tests share; it
//! panics at the first breach, naming it.

use jiff::{SignedDuration, Timestamp};

use super::{WorkspaceBuilder, creation_event};
use crate::costs::{MONTH_BOUNDARY, Month, MonthIndex};
use crate::kernel::{PageRequest, StoreError, WorkspaceId, all_pages};
use crate::schedule::SchedulerRuns;
use crate::workspaces::{
    Actor, Event, EventAction, IdempotencyRecord, Inserted, State, Workspace, WorkspaceFilter, WorkspaceStore,
};

fn at(s: &str) -> Timestamp {
    s.parse().expect("an instant")
}

fn fresh(prefix: &str) -> String {
    format!("{prefix}-{}", &WorkspaceId::generate().as_str()[3..13])
}

/// `workspace` moved to `to` at `when` (version and last change moved), with its event.
fn moved(workspace: &Workspace, to: State, when: Timestamp) -> (Workspace, Event) {
    let next =
        WorkspaceBuilder::from(workspace.clone()).state(to).version(workspace.version + 1).updated_at(when).build();
    let event = Event {
        at: when,
        actor: Actor::state_sync(),
        action: EventAction::Sync,
        from: Some(workspace.state),
        to,
        reason: None,
        connection: None,
        instance: None,
    };
    (next, event)
}

fn ids(workspaces: &[Workspace], among: &[&WorkspaceId]) -> Vec<WorkspaceId> {
    workspaces.iter().filter(|w| among.contains(&&w.id)).map(|w| w.id.clone()).collect()
}

/// [`WorkspaceStore`] and the month index its writes feed: inserts (a taken id, a taken
/// idempotency key, the active cap of `max_active`), conditional updates (version and
/// expected state), the history newest first page by page, the page tokens, the lists'
/// orders, the month index entry of every write with an event, the active count moved
/// by a move into an ended state. `max_active` is the store's cap, at least 2.
pub async fn workspace_store(store: &dyn WorkspaceStore, index: &dyn MonthIndex, max_active: u32) {
    assert!(max_active >= 2, "the check writes two active workspaces for one owner");
    let owner = fresh("contract");
    let may = at("2026-05-31T23:00:00Z");
    let june = at("2026-06-01T01:00:00Z");
    let first = WorkspaceBuilder::new().owner(&owner).state(State::Provisioning).at(may).build();
    assert_eq!(store.insert(&first, &creation_event(&first), None).await.expect("insert"), Inserted::Created);
    assert_eq!(store.get(&first.id).await.expect("get").as_ref(), Some(&first), "read back as written");
    let again = store.insert(&first, &creation_event(&first), None).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "a taken id: {again:?}");

    // Idempotency: a live key answers KeyTaken, and nothing of the second request is written.
    let second =
        WorkspaceBuilder::new().owner(&owner).state(State::Provisioning).at(may + SignedDuration::from_mins(1)).build();
    let record = IdempotencyRecord {
        owner: owner.clone(),
        key: fresh("key"),
        request_hash: "hash".into(),
        workspace_id: second.id.clone(),
        expires_at: Timestamp::from_second(Timestamp::now().as_second() + 3600).expect("an instant"),
    };
    assert_eq!(
        store.insert(&second, &creation_event(&second), Some(&record)).await.expect("insert"),
        Inserted::Created
    );
    let remembered = store.idempotency(&owner, &record.key).await.expect("idempotency");
    assert_eq!(remembered.map(|r| r.workspace_id), Some(second.id.clone()), "the key is remembered");
    let replay = WorkspaceBuilder::new().owner(&owner).state(State::Provisioning).at(may).build();
    let taken = IdempotencyRecord { workspace_id: replay.id.clone(), ..record.clone() };
    assert_eq!(
        store.insert(&replay, &creation_event(&replay), Some(&taken)).await.expect("insert"),
        Inserted::KeyTaken
    );
    assert_eq!(store.get(&replay.id).await.expect("get"), None, "a taken key writes nothing");

    // Updates are conditional on the stored version and state.
    let (running, event) = moved(&first, State::Running, june);
    let stale = WorkspaceBuilder::from(running.clone()).version(running.version + 1).build();
    assert!(
        matches!(store.update(&stale, State::Provisioning, Some(&event)).await, Err(StoreError::Conflict)),
        "stale version"
    );
    assert!(
        matches!(store.update(&running, State::Stopped, Some(&event)).await, Err(StoreError::Conflict)),
        "wrong state"
    );
    let missing = WorkspaceBuilder::new().owner(&owner).version(2).build();
    assert!(
        matches!(store.update(&missing, State::Running, None).await, Err(StoreError::Conflict)),
        "no such workspace"
    );
    // The cost month aggregate (folded from the creation and this event) rides on the item.
    let running = Workspace { usage: crate::costs::MonthUsage::created(may).after(&event), ..running };
    store.update(&running, State::Provisioning, Some(&event)).await.expect("update");
    assert_eq!(store.get(&first.id).await.expect("get").map(|w| (w.state, w.version)), Some((State::Running, 2)));

    // The history: newest first, page by page; a token only continues its own list.
    let page = store.events(&first.id, &PageRequest::first(1)).await.expect("events");
    assert_eq!(page.items.iter().map(|e| e.to).collect::<Vec<_>>(), [State::Running], "newest first");
    let token = page.next_token.clone().expect("more to read");
    let first_id = &first.id;
    let history = all_pages(|page| async move { store.events(first_id, &PageRequest { limit: 1, ..page }).await })
        .await
        .expect("history");
    assert_eq!(history.iter().map(|e| e.to).collect::<Vec<_>>(), [State::Running, State::Provisioning]);
    let foreign = store.events(&second.id, &PageRequest { limit: 1, token: Some(token) }).await;
    assert!(matches!(foreign, Err(StoreError::BadPageToken)), "another list's token: {foreign:?}");
    let garbage = store.events(&first.id, &PageRequest { limit: 1, token: Some("not-a-token".into()) }).await;
    assert!(matches!(garbage, Err(StoreError::BadPageToken)), "a made-up token: {garbage:?}");

    // By owner: newest first.
    let filter = &WorkspaceFilter::Owner(owner.clone());
    let listed = all_pages(|page| async move { store.list(filter, &PageRequest { limit: 1, ..page }).await })
        .await
        .expect("list");
    assert_eq!(ids(&listed, &[&first.id, &second.id]), [second.id.clone(), first.id.clone()], "newest first");

    // The month index: each write with an event indexes the workspace as it then is.
    let indexed = |month: Month| async move {
        let all = all_pages(|page| async move { index.indexed(month, &page).await }).await.expect("indexed");
        all.into_iter().find(|w| w.id == *first_id).map(|w| w.state)
    };
    assert_eq!(indexed(Month::containing(may, &MONTH_BOUNDARY)).await, Some(State::Provisioning), "creation month");
    assert_eq!(indexed(Month::containing(june, &MONTH_BOUNDARY)).await, Some(State::Running), "change month");
    month_usage_reads_back(store, index, &running, june).await;

    active_cap(store, max_active, june).await;
    by_instance(store, june).await;
}

/// The month aggregate of `written` (just written with an event at `at`) reads back from the
/// item and from the month index entry of that write.
async fn month_usage_reads_back(
    store: &dyn WorkspaceStore,
    index: &dyn MonthIndex,
    written: &Workspace,
    at: Timestamp,
) {
    assert!(written.usage.is_some(), "folded in time order");
    let stored = store.get(&written.id).await.expect("get").expect("stored");
    assert_eq!(stored.usage, written.usage, "the month aggregate reads back as written");
    let month = Month::containing(at, &MONTH_BOUNDARY);
    let entries = all_pages(|page| async move { index.indexed(month, &page).await }).await.expect("indexed");
    let entry = entries.into_iter().find(|w| w.id == written.id).and_then(|w| w.usage);
    assert_eq!(entry, written.usage, "the month index entry carries the aggregate of its write");
}

/// The instance lookup: the one workspace with the instance, none for an instance nobody
/// has, and a workspace is found from the write that gives it its instance on.
async fn by_instance(store: &dyn WorkspaceStore, at: Timestamp) {
    let instance = fresh("i");
    let first = &PageRequest::first(1);
    let workspace = WorkspaceBuilder::new().owner(&fresh("instance")).state(State::Provisioning).at(at).build();
    assert_eq!(store.insert(&workspace, &creation_event(&workspace), None).await.expect("insert"), Inserted::Created);
    let lookup =
        |id: String| async move { store.list(&WorkspaceFilter::Instance(id), first).await.expect("list").items };
    assert!(lookup(instance.clone()).await.is_empty(), "no instance yet");
    let mut launched = workspace.clone();
    launched.provisioned.instance_id = Some(instance.clone());
    launched.version += 1;
    store.update(&launched, State::Provisioning, None).await.expect("the instance is recorded");
    // The table's index is eventually consistent: give it a moment.
    let mut found = Vec::new();
    for _ in 0..20 {
        found = lookup(instance.clone()).await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(found.iter().map(|w| &w.id).collect::<Vec<_>>(), [&workspace.id], "by instance");
    assert!(lookup(fresh("i-foreign")).await.is_empty(), "an instance nobody owns");
}

/// The owner's cap: `max_active` active workspaces, then [`Inserted::ActiveLimit`]; a
/// move into an ended state frees a slot. By state, least recently changed first.
async fn active_cap(store: &dyn WorkspaceStore, max_active: u32, since: Timestamp) {
    let owner = fresh("capped");
    let mut made = Vec::new();
    for n in 0..max_active {
        let workspace = WorkspaceBuilder::new()
            .owner(&owner)
            .at(since - SignedDuration::from_hours(1))
            .updated_at(since + SignedDuration::from_mins(i64::from(max_active - n)))
            .build();
        assert_eq!(
            store.insert(&workspace, &creation_event(&workspace), None).await.expect("insert"),
            Inserted::Created
        );
        made.push(workspace);
    }
    let over = WorkspaceBuilder::new().owner(&owner).build();
    assert_eq!(
        store.insert(&over, &creation_event(&over), None).await.expect("insert"),
        Inserted::ActiveLimit { max: max_active }
    );
    let filter = &WorkspaceFilter::State(State::Running);
    let listed = all_pages(|page| async move { store.list(filter, &page).await }).await.expect("list");
    let mine: Vec<&WorkspaceId> = made.iter().map(|w| &w.id).collect();
    let oldest_change_first: Vec<WorkspaceId> = made.iter().rev().map(|w| w.id.clone()).collect();
    assert_eq!(ids(&listed, &mine), oldest_change_first, "by state, least recently changed first");
    let (failed, event) = moved(&made[0], State::Failed, since + SignedDuration::from_hours(1));
    store.update(&failed, State::Running, Some(&event)).await.expect("update");
    assert_eq!(
        store.insert(&over, &creation_event(&over), None).await.expect("insert"),
        Inserted::Created,
        "a slot was freed"
    );
}

/// [`SchedulerRuns`]: runs are recorded only forward.
pub async fn scheduler_runs(runs: &dyn SchedulerRuns) {
    let last = runs.last_run().await.expect("last run").unwrap_or(at("2026-01-01T00:00:00Z"));
    let next = last + SignedDuration::from_mins(5);
    runs.record_run(next).await.expect("forward");
    assert!(matches!(runs.record_run(next).await, Err(StoreError::Conflict)), "the same instant again");
    assert!(matches!(runs.record_run(last).await, Err(StoreError::Conflict)), "backwards");
    assert_eq!(runs.last_run().await.expect("last run"), Some(next));
}

/// The budget watch's storage ([`crate::costs::BudgetStore`]'s crossings, within-reach
/// list and final marker) and the [`crate::notifications::NotificationStore`] its
/// crossings feed: a crossing is recorded once per (user, month, revision, threshold)
/// with its notifications, another revision is another crossing, the within-reach list
/// moves forward only, a recipient's notifications come newest first, the pending ones
/// oldest first, and a delivery's outcome is a conditional write that takes a sent one
/// off the pending list.
pub async fn budget_and_notification_stores(
    budgets: &dyn crate::costs::BudgetStore,
    notifications: &dyn crate::notifications::NotificationStore,
) {
    use crate::costs::Crossing;
    use crate::notifications::{Delivery, DeliveryStatus, Notification, NotificationKind, notification_id};
    let user = fresh("contract");
    let admin = fresh("contract-admin");
    let month = Month::new(2026, 3).expect("a month");
    let crossing = |revision: &str, threshold: u16, when: &str| Crossing {
        user: user.clone(),
        month: month.to_string(),
        threshold,
        at: at(when),
        actor: "budget".into(),
        spent: rust_decimal::Decimal::new(24_012, 2),
        budget: rust_decimal::Decimal::new(300, 0),
        currency: "EUR".into(),
        revision: revision.into(),
    };
    let notification = |c: &Crossing, recipient: &str| Notification {
        id: notification_id(&[&c.user, &c.revision, &c.threshold.to_string(), recipient]),
        recipient: recipient.to_owned(),
        at: c.at,
        kind: NotificationKind::BudgetCrossing {
            user: c.user.clone(),
            month: c.month.clone(),
            threshold: c.threshold,
            amount: c.spent,
            budget: c.budget,
            currency: c.currency.clone(),
            policy: "notify".into(),
        },
        delivery: Delivery::pending(),
    };
    let first = crossing("u1-300", 80, "2026-03-10T09:00:00Z");
    let told = [notification(&first, &user), notification(&first, &admin)];
    assert!(budgets.record_crossing(&first, &told).await.expect("record"), "recorded");
    assert!(!budgets.record_crossing(&first, &told).await.expect("record"), "once per key");
    assert!(budgets.crossed(month, &user, "u1-300", 80).await.expect("read"));
    assert!(!budgets.crossed(month, &user, "u2-400", 80).await.expect("read"), "another revision is not crossed");
    let rearmed = crossing("u2-400", 80, "2026-03-12T09:00:00Z");
    let told_again = [notification(&rearmed, &user)];
    assert!(budgets.record_crossing(&rearmed, &told_again).await.expect("record"), "a new revision re-arms");
    let mine = crate::costs::budget::crossings_of(budgets, month, Some(&user)).await.expect("list");
    assert_eq!(mine.len(), 2);
    assert!(mine.iter().all(|c| c.user == user));

    let feed_of = |recipient: String| async move {
        all_pages(|page| {
            let recipient = recipient.clone();
            async move { notifications.of(&recipient, &page).await }
        })
        .await
        .expect("feed")
    };
    let feed = feed_of(user.clone()).await;
    assert_eq!(feed.iter().map(|n| n.at).collect::<Vec<_>>(), [rearmed.at, first.at], "newest first");
    assert_eq!(feed_of(admin.clone()).await, [told[1].clone()]);
    let pending = all_pages(|page| async move { notifications.pending(&page).await }).await.expect("pending");
    let ours: Vec<&Notification> = pending.iter().filter(|n| n.recipient == user || n.recipient == admin).collect();
    assert_eq!(ours.len(), 3, "every recorded notification is pending");
    assert!(ours.windows(2).all(|w| w[0].at <= w[1].at), "oldest first");

    let mut failed = told[0].clone();
    failed.delivery.attempts = 1;
    failed.delivery.last_error = Some("throttled".into());
    notifications.set_delivery(&failed, 0).await.expect("a failure recorded");
    let stale = notifications.set_delivery(&failed, 0).await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "on the attempts read: {stale:?}");
    let mut sent = failed.clone();
    sent.delivery.attempts = 2;
    sent.delivery.status = DeliveryStatus::Sent;
    sent.delivery.sent_at = Some(at("2026-03-10T09:05:00Z"));
    notifications.set_delivery(&sent, 1).await.expect("sent");
    let pending = all_pages(|page| async move { notifications.pending(&page).await }).await.expect("pending");
    assert!(!pending.iter().any(|n| n.id == sent.id), "a sent one is no longer pending");
    let stored = feed_of(user.clone()).await;
    assert_eq!(stored.iter().find(|n| n.id == sent.id).map(|n| n.delivery.clone()), Some(sent.delivery.clone()));

    reach_moves_forward_only(budgets, &user).await;
}

/// The within-reach list of a month is replaced by a later full pass only.
async fn reach_moves_forward_only(budgets: &dyn crate::costs::BudgetStore, user: &str) {
    use crate::costs::Reach;
    let other = Month::new(2026, 4).expect("a month");
    let reach = Reach { pass_at: at("2026-04-02T10:00:00Z"), users: vec![user.to_owned()] };
    budgets.put_reach(other, &reach).await.expect("first list");
    let older = Reach { pass_at: at("2026-04-02T09:00:00Z"), users: Vec::new() };
    assert!(matches!(budgets.put_reach(other, &older).await, Err(StoreError::Conflict)), "forward only");
    let stored = budgets.reach(other).await.expect("read");
    assert!(stored.is_some_and(|r| r.users == [user.to_owned()]));
}
