//! Amazon SES (API v2): the notifications' e-mail ([`Mailer`]), `SendEmail` from the
//! configured sender identity (`ATELIER_NOTIFICATION_SENDER`), plain text, UTF-8.
//!
//! SES sends only from a verified identity (the address or its domain), and while the
//! account is in the SES sandbox only to verified recipients too (docs/runbook.md).

use async_trait::async_trait;
use atelier_domain::{
    kernel::UpstreamError,
    notifications::{Email, Mailer},
};
use aws_sdk_sesv2::{
    Client,
    types::{Body, Content, Destination, EmailContent, Message},
};

use crate::upstream;

/// SES as a [`Mailer`], sending from one address.
pub struct Ses {
    client: Client,
    sender: String,
}

impl Ses {
    /// Sends from `sender` through `client`.
    pub fn new(client: Client, sender: impl Into<String>) -> Self {
        Self { client, sender: sender.into() }
    }

    /// The same, through a client built from `config`.
    pub fn from_config(config: &aws_types::SdkConfig, sender: impl Into<String>) -> Self {
        Self::new(Client::new(config), sender)
    }
}

fn utf8(text: &str) -> Result<Content, UpstreamError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| UpstreamError::new("sesv2", "SendEmail", false, e.to_string()))
}

#[async_trait]
impl Mailer for Ses {
    async fn send(&self, email: &Email) -> Result<String, UpstreamError> {
        let message = Message::builder()
            .subject(utf8(&email.subject)?)
            .body(Body::builder().text(utf8(&email.text)?).build())
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| upstream("sesv2", "SendEmail", e))?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }
}
