//! Every key of the table, in one place: the `pk`/`sk` of each item kind and the index keys
//! that put it in a list. docs/adr/0002-single-table.md tabulates the same formats; an item
//! written with another format would drop out of its lists, so nothing else in the adapter
//! spells a prefix.

use std::{collections::HashMap, fmt::Display};

use atelier_domain::{ProductId, State, WorkspaceId, costs::Month, datasets::DatasetId};
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;

/// The primary key of one item, as DynamoDB takes it (for deletes and condition checks).
pub(super) fn key(pk: String, sk: String) -> HashMap<String, AttributeValue> {
    [("pk".to_owned(), AttributeValue::S(pk)), ("sk".to_owned(), AttributeValue::S(sk))].into()
}

/// Sort-key form of an instant: zero-padded microseconds since the epoch, so that string
/// order is time order.
pub(super) fn sort_instant(t: Timestamp) -> String {
    format!("{:020}", t.as_microsecond())
}

/// `<at µs>#<tail>`: a sort key in time order, made unique by `tail` (an id, a nonce).
pub(super) fn in_time_order(at: Timestamp, tail: impl Display) -> String {
    format!("{}#{tail}", sort_instant(at))
}

// Workspaces (and what shares their partition: events, the dataset policy).

/// The partition of a workspace, its events and its dataset policy.
pub(super) fn workspace_pk(id: &WorkspaceId) -> String {
    format!("WS#{id}")
}

/// The workspace item itself.
pub(super) const WORKSPACE_SK: &str = "WS";
/// `kindPk` of every workspace (the `by-kind` list of all workspaces).
pub(super) const WORKSPACE_KIND: &str = "WS";

/// `ownerPk` of a workspace: its owner's list.
pub(super) fn owner_pk(username: &str) -> String {
    format!("OWNER#{username}")
}

/// `statePk` of a workspace: the list of its state.
pub(super) fn state_pk(state: State) -> String {
    format!("STATE#{state}")
}

/// `instancePk` of a workspace with an EC2 instance: the `by-instance` index, which finds
/// the workspace of an instance in an EC2 state-change event with one read.
pub(super) fn instance_pk(instance_id: &str) -> String {
    format!("INSTANCE#{instance_id}")
}

/// A workspace event: after the instant, the workspace version the transition produced,
/// so two events in one microsecond keep distinct keys.
pub(super) fn event_sk(at: Timestamp, version: u64) -> String {
    format!("EV#{}#{version:010}", sort_instant(at))
}

/// An event that changes no version (break-glass grants, connections): after the instant,
/// a suffix that tells it apart (the versioned events' suffix is all digits, these start
/// with a letter).
pub(super) fn stateless_event_sk(at: Timestamp, suffix: &str) -> String {
    format!("EV#{}#{suffix}", sort_instant(at))
}

/// An admin's break-glass grant on a workspace, in the workspace's partition.
pub(super) fn break_glass_sk(sub: &str) -> String {
    format!("BREAKGLASS#{sub}")
}

/// The marker that a connection event was recorded (its key), in the workspace's partition.
pub(super) fn connection_sk(key: &str) -> String {
    format!("CONN#{key}")
}

/// What every event's `sk` begins with (workspace and dataset events alike).
pub(super) const EVENT_PREFIX: &str = "EV#";

/// An idempotency record: scoped per owner.
pub(super) fn idempotency_pk(owner: &str, key: &str) -> String {
    format!("IDEM#{owner}#{key}")
}

/// The idempotency record's sort key.
pub(super) const IDEMPOTENCY_SK: &str = "IDEM";

/// The partition of a user's active-workspace counter.
pub(super) fn active_pk(owner: &str) -> String {
    format!("USER#{owner}")
}

/// The active-workspace counter's sort key.
pub(super) const ACTIVE_SK: &str = "ACTIVE";

// The catalog and the configuration documents.

/// A catalog product.
pub(super) fn product_pk(id: &ProductId) -> String {
    format!("PRODUCT#{id}")
}

/// The product item's sort key.
pub(super) const PRODUCT_SK: &str = "PRODUCT";
/// `kindPk` of every product (the catalog list, by `kindSk` = the product id).
pub(super) const PRODUCT_KIND: &str = "PRODUCT";

/// The organisation's default schedule.
pub(super) const DEFAULT_SCHEDULE_PK: &str = "CONFIG#schedule";
/// The organisation's default budget.
pub(super) const DEFAULT_BUDGET_PK: &str = "CONFIG#budget";
/// The sort key of both organisation defaults.
pub(super) const CONFIG_SK: &str = "CONFIG";
/// The scheduler's last run.
pub(super) const SCHEDULER_PK: &str = "SCHEDULER#state";
/// The scheduler item's sort key.
pub(super) const SCHEDULER_SK: &str = "STATE";

// Costs: the month index, closed months, budgets, Cost Explorer actuals.

/// The partition of a month's index entries, seal, lines and closed marker.
pub(super) fn month_pk(month: Month) -> String {
    format!("COSTMONTH#{month}")
}

/// The month a `COSTMONTH#<YYYY-MM>` partition key names.
pub(super) fn month_of(pk: &str) -> Option<Month> {
    let (year, month) = pk.strip_prefix("COSTMONTH#")?.split_once('-')?;
    Month::new(year.parse().ok()?, month.parse().ok()?)
}

/// A month index entry: in creation order, like the workspace lists.
pub(super) fn month_entry_sk(created_at: Timestamp, id: &WorkspaceId) -> String {
    format!("{MONTH_ENTRY_PREFIX}{}", in_time_order(created_at, id))
}

/// What every month index entry's `sk` begins with.
pub(super) const MONTH_ENTRY_PREFIX: &str = "WS#";
/// The month index seal.
pub(super) const SEALED_SK: &str = "SEALED";
/// The closed-month marker.
pub(super) const CLOSED_SK: &str = "CLOSED";

/// A closed month's line of one workspace.
pub(super) fn line_sk(created_at: Timestamp, id: &WorkspaceId) -> String {
    format!("{LINE_PREFIX}{}", in_time_order(created_at, id))
}

/// What every closed month's line's `sk` begins with.
pub(super) const LINE_PREFIX: &str = "LINE#";

/// The partition of every user budget.
pub(super) const USER_BUDGETS_PK: &str = "BUDGET";

/// A user budget.
pub(super) fn user_budget_sk(user: &str) -> String {
    format!("{USER_BUDGET_PREFIX}{user}")
}

/// What every user budget's `sk` begins with.
pub(super) const USER_BUDGET_PREFIX: &str = "USER#";

/// The partition of a month's budget crossings (`month` as `YYYY-MM`).
pub(super) fn crossing_pk(month: impl Display) -> String {
    format!("BUDGETEVENT#{month}")
}

/// A budget crossing: one per user, month, budget revision and threshold (4 digits, so
/// they sort).
pub(super) fn crossing_sk(user: &str, revision: &str, threshold: u16) -> String {
    format!("{}{revision}#{threshold:04}", crossing_prefix(user))
}

/// The partition of a month's budget watch state: the within-reach list and the final
/// evaluation marker.
pub(super) fn budget_watch_pk(month: Month) -> String {
    format!("BUDGETWATCH#{month}")
}

/// The within-reach list's sort key.
pub(super) const REACH_SK: &str = "REACH";
/// The final evaluation marker's sort key.
pub(super) const EVALUATED_SK: &str = "FINAL";

// Notifications.

/// The partition of one recipient's notifications.
pub(super) fn notifications_pk(recipient: &str) -> String {
    format!("NOTIFY#{recipient}")
}

/// The partition of the notifications whose e-mail is pending.
pub(super) const PENDING_NOTIFICATIONS_PK: &str = "NOTIFYPENDING";

/// A notification, in its recipient's partition and in the pending list: in time order.
pub(super) fn notification_sk(at: Timestamp, id: &str) -> String {
    in_time_order(at, id)
}

/// What the `sk` of every crossing of `user` begins with.
pub(super) fn crossing_prefix(user: &str) -> String {
    format!("{user}#")
}

/// A month's Cost Explorer actuals.
pub(super) fn actuals_pk(month: Month) -> String {
    format!("ACTUALS#{month}")
}

/// The actuals item's sort key.
pub(super) const ACTUALS_SK: &str = "ACTUALS";

// Datasets (docs/adr/0007-datasets.md).

/// The partition of a dataset, its attachments and its access events.
pub(super) fn dataset_pk(id: &DatasetId) -> String {
    format!("DATASET#{id}")
}

/// The dataset item's sort key.
pub(super) const DATASET_SK: &str = "DATASET";
/// `kindPk` of every dataset (the registry list, by `kindSk` = the dataset id).
pub(super) const DATASET_KIND: &str = "DATASET";

/// An attachment of the dataset to a workspace.
pub(super) fn attachment_sk(workspace: &WorkspaceId) -> String {
    format!("{ATTACHMENT_PREFIX}{workspace}")
}

/// What every attachment's `sk` begins with.
pub(super) const ATTACHMENT_PREFIX: &str = "ATTACH#";

/// An access event's `sk`, from its `<at µs>#<nonce>` order.
pub(super) fn access_event_sk(order: &str) -> String {
    format!("{EVENT_PREFIX}{order}")
}

/// `ownerPk` of an access event that names a user: that user's trace.
pub(super) fn data_user_pk(user: &str) -> String {
    format!("DATAUSER#{user}")
}

/// `kindPk` of an access event: the trace of its UTC month (`month` as `YYYY-MM`).
pub(super) fn data_month_pk(month: impl Display) -> String {
    format!("DATAEVENT#{month}")
}

/// A workspace's dataset policy document (in the workspace's partition).
pub(super) const POLICY_SK: &str = "DATAPOLICY";
/// Sort key of a dataset's guard item (its partition): the set of workspaces it is
/// attached to, which a delete requires empty.
pub(super) const GUARD_SK: &str = "INUSE";

// Per-caller request limits (atelier_domain::kernel::limits).

/// The partition of a caller's request counts: their `sub`, never their username (a
/// recreated username starts afresh).
pub(super) fn limit_pk(sub: &str) -> String {
    format!("LIMIT#{sub}")
}

/// One class's count in the window starting at `start`.
pub(super) fn limit_sk(class: &str, start: Timestamp) -> String {
    format!("{class}#{}", sort_instant(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_instants_order_like_time() {
        let a = Timestamp::from_second(1).unwrap();
        let b = Timestamp::from_second(1_000_000_000).unwrap();
        assert!(sort_instant(a) < sort_instant(b));
    }

    #[test]
    fn a_month_partition_names_its_month() {
        let month = Month::new(2025, 3).unwrap();
        assert_eq!(month_pk(month), "COSTMONTH#2025-03");
        assert_eq!(month_of(&month_pk(month)), Some(month));
        assert_eq!(month_of("ACTUALS#2025-03"), None);
    }
}
