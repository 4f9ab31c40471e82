//! [`FixedGate`]: the start check answering what the test says (the real check,
//! `costs::BudgetGate`, runs on the memory store where a test is about budgets).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::kernel::DomainError;
use crate::workspaces::StartGate;

/// Lets everybody start, except the owners [`FixedGate::refuse`] names; counts the questions.
#[derive(Default)]
pub struct FixedGate {
    refused: Mutex<HashMap<String, String>>,
    asked: Mutex<Vec<String>>,
}

impl FixedGate {
    /// From now on, `owner`'s starts are refused with `why`.
    pub fn refuse(&self, owner: &str, why: &str) {
        self.refused.lock().expect("gate lock").insert(owner.to_owned(), why.to_owned());
    }

    /// The owners asked about, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("gate lock").clone()
    }
}

#[async_trait]
impl StartGate for FixedGate {
    async fn refusal(&self, owner: &str, _now: Timestamp) -> Result<Option<String>, DomainError> {
        self.asked.lock().expect("gate lock").push(owner.to_owned());
        Ok(self.refused.lock().expect("gate lock").get(owner).cloned())
    }
}
