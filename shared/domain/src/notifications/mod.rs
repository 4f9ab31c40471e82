//! Notifications: what Atelier tells a person of its own accord, in the API
//! (`GET /v1/me/notifications`) and by e-mail (Amazon SES), with each delivery's status.
//!
//! Owns the notification ([`Notification`]: a recipient, a `kind` with what it says, and
//! its e-mail delivery), the ports to store them and to send mail ([`ports`]), the API's
//! read ([`Notifications::mine`]) and the delivery pass ([`deliver`]) that sends what is
//! pending and retries what failed. Today's only kind is the budget crossing
//! (docs/adr/0006-costs.md, "Budgets that hold"); idle warnings and automatic stops will
//! be other kinds of the same item.
//!
//! May use: the kernel only. Capabilities that notify (costs' budget watch) record their
//! notifications here, in the same write as what they notify about.

pub mod ports;

use std::sync::Arc;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use ports::{Email, Mailer, NotificationStore, Recipient, Recipients};

use crate::kernel::{Caller, DomainError, Page, PageRequest, UpstreamError, UserDirectory};

/// How many times an e-mail is tried before its delivery is `failed` for good.
pub const MAX_DELIVERY_ATTEMPTS: u32 = 5;

/// What a notification says, by kind (the wire's `kind` field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NotificationKind {
    /// A user's month estimate reached a threshold of their budget.
    #[serde(rename_all = "camelCase")]
    BudgetCrossing {
        /// Whose estimate crossed (the recipient, or for admins someone else).
        user: String,
        /// `YYYY-MM`.
        month: String,
        /// Percent of the budget.
        threshold: u16,
        /// The month's estimate when the watch saw it.
        amount: Decimal,
        /// The budget amount then.
        budget: Decimal,
        /// ISO 4217 code of both amounts.
        currency: String,
        /// The budget's policy (`notify`, `stop-at-100`).
        policy: String,
    },
}

impl NotificationKind {
    /// The wire name of the kind.
    pub fn name(&self) -> &'static str {
        match self {
            NotificationKind::BudgetCrossing { .. } => "budget-crossing",
        }
    }
}

/// Where an e-mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    /// Not sent yet, or failed and to be tried again on the next pass.
    Pending,
    /// SES accepted it.
    Sent,
    /// Refused [`MAX_DELIVERY_ATTEMPTS`] times, or refused for good; not tried again.
    Failed,
    /// The recipient has no e-mail address in the directory: shown in the API only.
    NoAddress,
}

/// A notification's e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// Where it stands.
    pub status: DeliveryStatus,
    /// How many times SES was asked.
    pub attempts: u32,
    /// What the last failure said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When SES accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<Timestamp>,
    /// SES's message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

impl Delivery {
    /// Not tried yet.
    pub fn pending() -> Self {
        Delivery { status: DeliveryStatus::Pending, attempts: 0, last_error: None, sent_at: None, message_id: None }
    }
}

/// One notification to one person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Unique and stable: derived from what it notifies and the recipient, so recording
    /// it twice is recording it once.
    pub id: String,
    /// The Cognito username it is for.
    pub recipient: String,
    /// When it was recorded.
    pub at: Timestamp,
    /// What it says.
    #[serde(flatten)]
    pub kind: NotificationKind,
    /// Its e-mail.
    pub delivery: Delivery,
}

impl Notification {
    /// The e-mail's subject and text, worded for the recipient.
    pub fn email_text(&self) -> (String, String) {
        match &self.kind {
            NotificationKind::BudgetCrossing { user, month, threshold, amount, budget, currency, policy } => {
                let whose = if *user == self.recipient { "Your".to_owned() } else { format!("{user}'s") };
                let subject = format!("Atelier: {whose} {month} estimate reached {threshold} % of the budget");
                let mut body = format!(
                    "{whose} estimated cost for {month} is {} {currency}, {threshold} % or more of the monthly \
                     budget of {} {currency}.\n",
                    amount.round_dp(2),
                    budget.round_dp(2),
                );
                if policy == "stop-at-100" && *threshold >= 100 {
                    body.push_str(
                        "The budget's policy is stop-at-100: running workspaces are stopped and starts are refused \
                         until the next month begins or an admin raises the budget.\n",
                    );
                }
                body.push_str("\nThis message is also in Atelier's notifications (GET /v1/me/notifications).\n");
                (subject, body)
            }
        }
    }
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryReport {
    /// Notification ids whose e-mail SES accepted.
    pub sent: Vec<String>,
    /// Notification ids whose e-mail failed this time, with why (tried again next pass
    /// unless their delivery is now `failed`).
    pub failed: Vec<(String, String)>,
    /// Notification ids whose recipient has no address.
    pub no_address: Vec<String>,
}

/// Sends every pending e-mail (oldest first), one SES call each, and records each outcome
/// with a conditional write on the attempts it was read with (two passes at once send a
/// message at most twice, and record one outcome). A notification is recorded before its
/// e-mail is tried, so a failure never loses it; it stays pending until SES accepts it or
/// [`MAX_DELIVERY_ATTEMPTS`] are spent.
pub async fn deliver(
    store: &dyn NotificationStore,
    mailer: &dyn Mailer,
    directory: &dyn UserDirectory,
    now: Timestamp,
) -> Result<DeliveryReport, DomainError> {
    let mut report = DeliveryReport::default();
    let pending = crate::kernel::all_pages(|page| async move { store.pending(&page).await }).await?;
    for notification in pending {
        let expected = notification.delivery.attempts;
        let mut next = notification.clone();
        match address_of(directory, &notification.recipient).await {
            Ok(None) => {
                next.delivery.status = DeliveryStatus::NoAddress;
                report.no_address.push(notification.id.clone());
            }
            Ok(Some(to)) => {
                let (subject, text) = notification.email_text();
                next.delivery.attempts += 1;
                match mailer.send(&Email { to, subject, text }).await {
                    Ok(message_id) => {
                        next.delivery.status = DeliveryStatus::Sent;
                        next.delivery.sent_at = Some(now);
                        next.delivery.message_id = Some(message_id);
                        next.delivery.last_error = None;
                        report.sent.push(notification.id.clone());
                    }
                    Err(err) => {
                        tracing::warn!(notification = %notification.id, error = ?err, "notification e-mail failed");
                        next.delivery.last_error = Some(format!("{err}: {}", err.source));
                        if !err.retryable || next.delivery.attempts >= MAX_DELIVERY_ATTEMPTS {
                            next.delivery.status = DeliveryStatus::Failed;
                        }
                        report.failed.push((notification.id.clone(), format!("{err}")));
                    }
                }
            }
            Err(err) => {
                // The directory could not say: try again on the next pass, nothing recorded.
                report.failed.push((notification.id.clone(), format!("{err}")));
                continue;
            }
        }
        match store.set_delivery(&next, expected).await {
            Ok(()) | Err(crate::kernel::StoreError::Conflict) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(report)
}

/// The recipient's e-mail address: `None` when the directory has none or no longer knows
/// them; an error when it could not say (tried again).
async fn address_of(directory: &dyn UserDirectory, username: &str) -> Result<Option<String>, UpstreamError> {
    match directory.profile(username).await {
        Ok(profile) => Ok(profile.email.filter(|e| !e.is_empty())),
        Err(err) if !err.retryable => Ok(None),
        Err(err) => Err(err),
    }
}

/// The notification use cases the API exposes.
#[derive(Clone)]
pub struct Notifications {
    /// Where they are kept.
    pub store: Arc<dyn NotificationStore>,
}

impl Notifications {
    /// A page of the caller's own notifications, newest first. Any signed-in user.
    pub async fn mine(&self, caller: &Caller, page: &PageRequest) -> Result<Page<Notification>, DomainError> {
        Ok(self.store.of(&caller.username, page).await?)
    }
}

/// A stable id for what `parts` name (a crossing and a recipient): recording the same
/// notification twice writes one item.
pub fn notification_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest: String = hash.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("nt-{digest}")
}

#[cfg(test)]
mod tests;
