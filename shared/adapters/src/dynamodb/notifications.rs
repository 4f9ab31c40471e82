//! The notification store on the table (docs/adr/0002-single-table.md): each recipient's
//! notifications under `NOTIFY#<recipient>` in time order (read newest first), and a copy
//! of each one whose e-mail is pending under `NOTIFYPENDING`, removed in the same write
//! that records its e-mail sent or failed for good. Each item keeps the notification as
//! one JSON document beside the attributes its conditions compare (`status`, `attempts`).

use async_trait::async_trait;
use atelier_domain::{
    kernel::{Page, PageRequest, StoreError},
    notifications::{DeliveryStatus, Notification, NotificationStore},
};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::{Table, items::corrupt, keys, reads::Query, writes::Condition};

/// A notification in its recipient's partition.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NotificationItem {
    pk: String,
    sk: String,
    status: String,
    attempts: u32,
    document: String,
}

/// The same notification in the pending list.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PendingItem {
    pk: String,
    sk: String,
    recipient: String,
    document: String,
}

fn status_name(status: DeliveryStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn encode(notification: &Notification) -> Result<String, StoreError> {
    serde_json::to_string(notification).map_err(|e| corrupt("notification", e))
}

fn decode(document: &str) -> Result<Notification, StoreError> {
    serde_json::from_str(document).map_err(|e| corrupt("notification", e))
}

impl NotificationItem {
    pub(super) fn new(notification: &Notification) -> Result<Self, StoreError> {
        Ok(Self {
            pk: keys::notifications_pk(&notification.recipient),
            sk: keys::notification_sk(notification.at, &notification.id),
            status: status_name(notification.delivery.status),
            attempts: notification.delivery.attempts,
            document: encode(notification)?,
        })
    }
}

impl PendingItem {
    pub(super) fn new(notification: &Notification) -> Result<Self, StoreError> {
        Ok(Self {
            pk: keys::PENDING_NOTIFICATIONS_PK.into(),
            sk: keys::notification_sk(notification.at, &notification.id),
            recipient: notification.recipient.clone(),
            document: encode(notification)?,
        })
    }
}

#[async_trait]
impl NotificationStore for Table {
    async fn of(&self, recipient: &str, page: &PageRequest) -> Result<Page<Notification>, StoreError> {
        let query = Query::table(keys::notifications_pk(recipient)).newest_first();
        self.query_page(query, page, |i: NotificationItem| decode(&i.document)).await
    }

    async fn pending(&self, page: &PageRequest) -> Result<Page<Notification>, StoreError> {
        let query = Query::table(keys::PENDING_NOTIFICATIONS_PK);
        self.query_page(query, page, |i: PendingItem| decode(&i.document)).await
    }

    /// One transaction: the recipient's item on its attempts and `pending` status, and the
    /// pending copy replaced (still pending) or deleted (sent, failed, no address).
    async fn set_delivery(&self, notification: &Notification, expected_attempts: u32) -> Result<(), StoreError> {
        let pending = status_name(DeliveryStatus::Pending);
        let condition = Condition::new("#attempts = :expected_attempts AND #status = :pending")
            .name("attempts")
            .name("status")
            .value(":expected_attempts", AttributeValue::N(expected_attempts.to_string()))
            .value(":pending", AttributeValue::S(pending));
        let mut transaction = self.transaction();
        transaction.put_if(&NotificationItem::new(notification)?, condition)?;
        let copy = PendingItem::new(notification)?;
        if notification.delivery.status == DeliveryStatus::Pending {
            transaction.put(&copy)?;
        } else {
            transaction.delete_if(copy.pk, copy.sk, Condition::present())?;
        }
        transaction.send().await.map_err(StoreError::from)
    }
}
