//! [`FakeMailer`]: Amazon SES as each test sets it: it keeps what it sent, and refuses
//! when told to.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::kernel::UpstreamError;
use crate::notifications::{Email, Mailer};

/// Records every e-mail it accepts; [`FakeMailer::refuse`] makes the next sends fail.
#[derive(Default)]
pub struct FakeMailer {
    sent: Mutex<Vec<Email>>,
    refusing: Mutex<Option<bool>>,
}

impl FakeMailer {
    /// From now on, every send fails (retryable when `retryable`), until [`FakeMailer::accept`].
    pub fn refuse(&self, retryable: bool) {
        *self.refusing.lock().expect("mailer lock") = Some(retryable);
    }

    /// From now on, sends succeed again.
    pub fn accept(&self) {
        *self.refusing.lock().expect("mailer lock") = None;
    }

    /// What was sent, in order.
    pub fn sent(&self) -> Vec<Email> {
        self.sent.lock().expect("mailer lock").clone()
    }
}

#[async_trait]
impl Mailer for FakeMailer {
    async fn send(&self, email: &Email) -> Result<String, UpstreamError> {
        if let Some(retryable) = *self.refusing.lock().expect("mailer lock") {
            return Err(UpstreamError::new("sesv2", "SendEmail", retryable, "refused by the test"));
        }
        let mut sent = self.sent.lock().expect("mailer lock");
        sent.push(email.clone());
        Ok(format!("message-{}", sent.len()))
    }
}
