//! The item codec every store shares: items to and from DynamoDB attribute maps (through
//! serde, so an item struct's fields are its attribute names, camelCase), the error of a
//! stored item that does not decode, and the workspace item, which three stores write
//! (the workspace store, the month index and the dataset attachments). The other items
//! live next to the one store that writes them.

use std::collections::HashMap;

use atelier_domain::{
    ProductId, State, UpstreamError, Workspace, WorkspaceId, WorkspaceName,
    costs::{Month, MonthUsage},
    datasets::DatasetId,
    kernel::StoreError,
    schedule::{Override, Schedule},
    workspaces::{InstanceState, Launch, Owner, Provisioned},
};
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::keys;

/// An attribute map, as DynamoDB reads and writes items.
pub(super) type Item = HashMap<String, AttributeValue>;

/// `value` as an item.
pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Upstream(UpstreamError::new("dynamodb", "encode", false, e)))
}

/// A stored item as `T`.
pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Upstream(UpstreamError::new("dynamodb", "decode", false, e)))
}

/// A stored `what` that decodes but does not hold a valid value (a hand edit, or a bug that
/// wrote it): not retryable, the operators have to look.
pub(super) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Upstream(UpstreamError::new(
        "dynamodb",
        "decode",
        false,
        format!("stored {what} is not valid: {detail}"),
    ))
}

/// A request the SDK refused to build (a required field missing): a bug, not retryable.
pub(super) fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Upstream(UpstreamError::new("dynamodb", "build", false, e))
}

/// A schedule as stored: its wire JSON, one string attribute.
pub(super) fn encode_schedule(schedule: &Schedule) -> Result<String, StoreError> {
    serde_json::to_string(schedule).map_err(|e| corrupt("schedule", e))
}

/// A stored schedule; one that no longer validates is a corrupt item.
pub(super) fn decode_schedule(json: &str) -> Result<Schedule, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt("schedule", e))
}

/// A workspace: the item under `WS#<id>` / `WS`, and, without its index keys, the month
/// index entry (the same fields under `COSTMONTH#<YYYY-MM>`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct WorkspaceItem {
    pk: String,
    sk: String,
    // Index keys: absent on month index entries, which must stay out of the indexes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state_sk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind_sk: Option<String>,
    // Sparse: only on workspaces with an instance (the `by-instance` index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance_sk: Option<String>,
    id: String,
    name: String,
    owner: String,
    owner_sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost_centre: Option<String>,
    product_id: String,
    instance_type: String,
    hibernation: bool,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provisioned_product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance_id: Option<String>,
    provision_token: String,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    version: u64,
    /// The schedule's wire JSON; absent on items written before schedules existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    override_until: Option<Timestamp>,
    /// Attached dataset ids (docs/adr/0007-datasets.md); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    datasets: Vec<String>,
    /// What it launched with (product version, artifact, price version, volumes); absent
    /// on items written before launches were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    launch: Option<Launch>,
    /// While FAILED: what EC2 last showed of its instance (EC2's name for the state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance_seen: Option<InstanceState>,
    /// Its cost usage in the month of its last event (costs' month aggregate), written with
    /// each event; absent on items written before aggregates existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage: Option<MonthUsage>,
}

impl WorkspaceItem {
    /// The month index entry of `workspace` under `month`: the workspace's fields without
    /// its index keys, so that the entry shows in no list but the month's.
    pub(super) fn month_entry(month: Month, workspace: &Workspace) -> Result<Self, StoreError> {
        Ok(Self {
            pk: keys::month_pk(month),
            sk: keys::month_entry_sk(workspace.created_at, &workspace.id),
            owner_pk: None,
            owner_sk: None,
            state_pk: None,
            state_sk: None,
            kind_pk: None,
            kind_sk: None,
            instance_pk: None,
            instance_sk: None,
            ..Self::try_from(workspace)?
        })
    }
}

impl TryFrom<&Workspace> for WorkspaceItem {
    type Error = StoreError;
    fn try_from(w: &Workspace) -> Result<Self, StoreError> {
        let created = keys::in_time_order(w.created_at, &w.id);
        Ok(Self {
            pk: keys::workspace_pk(&w.id),
            sk: keys::WORKSPACE_SK.into(),
            owner_pk: Some(keys::owner_pk(&w.owner.username)),
            owner_sk: Some(created.clone()),
            state_pk: Some(keys::state_pk(w.state)),
            state_sk: Some(keys::in_time_order(w.updated_at, &w.id)),
            kind_pk: Some(keys::WORKSPACE_KIND.into()),
            instance_pk: w.provisioned.instance_id.as_deref().map(keys::instance_pk),
            instance_sk: w.provisioned.instance_id.as_ref().map(|_| created.clone()),
            kind_sk: Some(created),
            id: w.id.to_string(),
            name: w.name.as_str().to_owned(),
            owner: w.owner.username.clone(),
            owner_sub: w.owner.sub.clone(),
            cost_centre: w.owner.cost_centre.clone(),
            product_id: w.product_id.to_string(),
            instance_type: w.instance_type.clone(),
            hibernation: w.hibernation,
            state: w.state.as_str().to_owned(),
            provisioned_product_id: w.provisioned.provisioned_product_id.clone(),
            record_id: w.provisioned.record_id.clone(),
            instance_id: w.provisioned.instance_id.clone(),
            provision_token: w.provision_token.clone(),
            created_at: w.created_at,
            updated_at: w.updated_at,
            error: w.error.clone(),
            version: w.version,
            schedule: Some(encode_schedule(&w.schedule)?),
            override_until: w.schedule.override_until().map(|o| o.until()),
            datasets: w.datasets.iter().map(ToString::to_string).collect(),
            launch: w.launch.clone(),
            instance_seen: w.instance_seen,
            usage: w.usage.clone(),
        })
    }
}

impl TryFrom<WorkspaceItem> for Workspace {
    type Error = StoreError;
    fn try_from(i: WorkspaceItem) -> Result<Self, StoreError> {
        Ok(Workspace {
            id: WorkspaceId::parse(&i.id).map_err(|e| corrupt("workspace id", e))?,
            name: WorkspaceName::parse(&i.name).map_err(|e| corrupt("workspace name", e))?,
            owner: Owner { username: i.owner, sub: i.owner_sub, cost_centre: i.cost_centre },
            product_id: ProductId::parse(&i.product_id).map_err(|e| corrupt("product id", e))?,
            instance_type: i.instance_type,
            hibernation: i.hibernation,
            state: State::parse(&i.state).ok_or_else(|| corrupt("state", &i.state))?,
            provisioned: Provisioned {
                provisioned_product_id: i.provisioned_product_id,
                record_id: i.record_id,
                instance_id: i.instance_id,
            },
            provision_token: i.provision_token,
            created_at: i.created_at,
            updated_at: i.updated_at,
            error: i.error,
            version: i.version,
            schedule: i
                .schedule
                .as_deref()
                .map(decode_schedule)
                .transpose()?
                .unwrap_or_default()
                .with_override(i.override_until.map(Override::restore)),
            datasets: i
                .datasets
                .iter()
                .map(|d| DatasetId::parse(d).map_err(|e| corrupt("dataset id", e)))
                .collect::<Result<_, _>>()?,
            launch: i.launch,
            instance_seen: i.instance_seen,
            usage: i.usage,
        })
    }
}

/// A stored workspace item (or month index entry) as the workspace (a function, for the
/// lists' conversions).
pub(super) fn workspace(item: WorkspaceItem) -> Result<Workspace, StoreError> {
    Workspace::try_from(item)
}

#[cfg(test)]
mod tests {
    use atelier_domain::testing::WorkspaceBuilder;

    use super::*;

    fn attribute_names(item: &Item) -> std::collections::BTreeSet<&str> {
        item.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_workspace_item_keeps_its_attribute_names() {
        let mut workspace = WorkspaceBuilder::new()
            .cost_centre("cc-1")
            .provisioned(Provisioned {
                provisioned_product_id: Some("pp-1".into()),
                record_id: Some("rec-1".into()),
                instance_id: Some("i-1".into()),
            })
            .datasets(vec![DatasetId::parse("onco-2026").unwrap()])
            .build();
        workspace.error = Some("it broke".into());
        let item = to_item(&WorkspaceItem::try_from(&workspace).unwrap()).unwrap();
        let expected = [
            "pk",
            "sk",
            "ownerPk",
            "ownerSk",
            "statePk",
            "stateSk",
            "kindPk",
            "kindSk",
            "instancePk",
            "instanceSk",
            "id",
            "name",
            "owner",
            "ownerSub",
            "costCentre",
            "productId",
            "instanceType",
            "hibernation",
            "state",
            "provisionedProductId",
            "recordId",
            "instanceId",
            "provisionToken",
            "createdAt",
            "updatedAt",
            "error",
            "version",
            "schedule",
            "datasets",
        ];
        assert_eq!(attribute_names(&item), expected.into_iter().collect());
        let created = format!("{:020}#{}", workspace.created_at.as_microsecond(), workspace.id);
        assert_eq!(item["pk"].as_s().unwrap(), &format!("WS#{}", workspace.id));
        assert_eq!(item["sk"].as_s().unwrap(), "WS");
        assert_eq!(item["ownerPk"].as_s().unwrap(), "OWNER#alice");
        assert_eq!(item["ownerSk"].as_s().unwrap(), &created);
        assert_eq!(item["statePk"].as_s().unwrap(), "STATE#RUNNING");
        assert_eq!(item["kindPk"].as_s().unwrap(), "WS");
        assert_eq!(item["kindSk"].as_s().unwrap(), &created);
        assert_eq!(item["instancePk"].as_s().unwrap(), "INSTANCE#i-1");
        assert_eq!(item["instanceSk"].as_s().unwrap(), &created);
        let back = Workspace::try_from(from_item::<WorkspaceItem>(item).unwrap()).unwrap();
        assert_eq!(back, workspace);
    }

    #[test]
    fn only_a_workspace_with_an_instance_is_in_the_instance_index() {
        let without = to_item(&WorkspaceItem::try_from(&WorkspaceBuilder::new().build()).unwrap()).unwrap();
        assert!(!without.contains_key("instancePk") && !without.contains_key("instanceSk"));
        let mut failed = WorkspaceBuilder::new().state(State::Failed).instance("i-9").build();
        failed.instance_seen = Some(InstanceState::ShuttingDown);
        let item = to_item(&WorkspaceItem::try_from(&failed).unwrap()).unwrap();
        assert_eq!(item["instanceSeen"].as_s().unwrap(), "shutting-down");
        assert_eq!(Workspace::try_from(from_item::<WorkspaceItem>(item).unwrap()).unwrap(), failed);
    }

    #[test]
    fn a_month_entry_is_the_workspace_item_without_its_index_keys() {
        let workspace = WorkspaceBuilder::new().instance("i-1").build();
        let month = Month::new(2026, 11).unwrap();
        let mut whole = to_item(&WorkspaceItem::try_from(&workspace).unwrap()).unwrap();
        let entry = to_item(&WorkspaceItem::month_entry(month, &workspace).unwrap()).unwrap();
        assert_eq!(entry["pk"].as_s().unwrap(), "COSTMONTH#2026-11");
        let sk = format!("WS#{:020}#{}", workspace.created_at.as_microsecond(), workspace.id);
        assert_eq!(entry["sk"].as_s().unwrap(), &sk);
        for attribute in ["ownerPk", "ownerSk", "statePk", "stateSk", "kindPk", "kindSk", "instancePk", "instanceSk"] {
            assert!(whole.remove(attribute).is_some(), "{attribute}");
        }
        whole.insert("pk".into(), entry["pk"].clone());
        whole.insert("sk".into(), entry["sk"].clone());
        assert_eq!(entry, whole);
        assert_eq!(super::workspace(from_item(entry).unwrap()).unwrap(), workspace);
    }
}
