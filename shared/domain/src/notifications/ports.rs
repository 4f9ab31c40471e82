//! What notifications need from the outside world: where they are kept (DynamoDB), who
//! the admins are (Cognito's `admins` group), and a way to send mail (Amazon SES).

use async_trait::async_trait;

use super::Notification;
use crate::kernel::{Page, PageRequest, StoreError, UpstreamError};

/// Where notifications are kept: each recipient's, newest first, and those whose e-mail is
/// still to be sent. Recording them is part of what they notify about (the crossing's
/// write: [`crate::costs::BudgetStore::record_crossing`]), so there is no insert here.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// A page of `recipient`'s notifications, newest first.
    async fn of(&self, recipient: &str, page: &PageRequest) -> Result<Page<Notification>, StoreError>;
    /// A page of the notifications whose delivery is `pending`, oldest first.
    async fn pending(&self, page: &PageRequest) -> Result<Page<Notification>, StoreError>;
    /// Replaces the notification's delivery with `notification.delivery` if its stored
    /// attempts are `expected_attempts` ([`StoreError::Conflict`] otherwise); a delivery
    /// that is no longer pending leaves the pending list.
    async fn set_delivery(&self, notification: &Notification, expected_attempts: u32) -> Result<(), StoreError>;
}

/// One e-mail, plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The recipient's address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

/// Sends mail (Amazon SES `SendEmail`, from the configured sender identity).
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `email`; answers the provider's message id.
    async fn send(&self, email: &Email) -> Result<String, UpstreamError>;
}

/// A person notifications go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Cognito username.
    pub username: String,
}

/// Who gets told besides the person concerned.
#[async_trait]
pub trait Recipients: Send + Sync {
    /// The members of the `admins` group, as the directory has them now.
    async fn admins(&self) -> Result<Vec<Recipient>, UpstreamError>;
}
