//! The month index and closed months' lines, budgets and their crossings, actuals.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{MemoryStore, index_key, keyed_page, paged};
use crate::costs::{
    ActualStore, Actuals, Budget, BudgetStore, Crossing, Month, MonthIndex, Reach, Versioned, WorkspaceCost,
};
use crate::kernel::{Page, PageRequest, StoreError};
use crate::notifications::{DeliveryStatus, Notification, NotificationStore};
use crate::workspaces::{State, Workspace};

#[async_trait]
impl MonthIndex for MemoryStore {
    async fn indexed(&self, month: Month, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        keyed_page(&format!("index/{month}"), self.lock().index.get(&month), page, self.limit(page))
    }

    async fn add(&self, month: Month, workspace: &Workspace) -> Result<(), StoreError> {
        self.lock().index.entry(month).or_default().entry(index_key(workspace)).or_insert_with(|| workspace.clone());
        Ok(())
    }

    async fn sealed(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.lock().sealed.contains_key(&month))
    }

    async fn seal(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        self.lock().sealed.entry(month).or_insert(at);
        Ok(())
    }

    async fn closed(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.lock().closed.contains_key(&month))
    }

    async fn put_lines(&self, month: Month, lines: &[WorkspaceCost]) -> Result<(), StoreError> {
        let mut data = self.lock();
        let stored = data.lines.entry(month).or_default();
        for line in lines {
            stored.insert((line.info.created_at.as_microsecond(), line.info.workspace_id.clone()), line.clone());
        }
        Ok(())
    }

    async fn close(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        self.lock().closed.entry(month).or_insert(at);
        Ok(())
    }

    async fn lines(&self, month: Month, page: &PageRequest) -> Result<Page<WorkspaceCost>, StoreError> {
        keyed_page(&format!("lines/{month}"), self.lock().lines.get(&month), page, self.limit(page))
    }

    /// Least recently changed first, as the `by-state` index.
    async fn changed_since(
        &self,
        state: State,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, StoreError> {
        let data = self.lock();
        let mut all: Vec<&Workspace> =
            data.workspaces.values().filter(|w| w.state == state && w.updated_at >= since).collect();
        all.sort_unstable_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
        paged(&format!("changed/{state}/{}", since.as_microsecond()), &all, page, self.limit(page))
    }
}

#[async_trait]
impl BudgetStore for MemoryStore {
    async fn org_budget(&self) -> Result<Option<Versioned<Budget>>, StoreError> {
        Ok(self.lock().org_budget.clone())
    }

    async fn put_org_budget(&self, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.org_budget.as_ref().map(|v| v.version) != expected {
            return Err(StoreError::Conflict);
        }
        data.org_budget = Some(Versioned { value: budget.clone(), version: expected.unwrap_or(0) + 1 });
        Ok(())
    }

    async fn user_budget(&self, user: &str) -> Result<Option<Versioned<Budget>>, StoreError> {
        Ok(self.lock().user_budgets.get(user).cloned())
    }

    async fn put_user_budget(&self, user: &str, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.user_budgets.get(user).map(|v| v.version) != expected {
            return Err(StoreError::Conflict);
        }
        data.user_budgets
            .insert(user.to_owned(), Versioned { value: budget.clone(), version: expected.unwrap_or(0) + 1 });
        Ok(())
    }

    async fn delete_user_budget(&self, user: &str, expected: u64) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.user_budgets.get(user).map(|v| v.version) != Some(expected) {
            return Err(StoreError::Conflict);
        }
        data.user_budgets.remove(user);
        Ok(())
    }

    async fn user_budgets(&self, page: &PageRequest) -> Result<Page<(String, Versioned<Budget>)>, StoreError> {
        let all: Vec<(String, Versioned<Budget>)> =
            self.lock().user_budgets.iter().map(|(u, v)| (u.clone(), v.clone())).collect();
        paged("budgets", &all, page, self.limit(page))
    }

    async fn record_crossing(&self, crossing: &Crossing, notifications: &[Notification]) -> Result<bool, StoreError> {
        let mut data = self.lock();
        let key = (crossing.month.clone(), crossing.user.clone(), crossing.revision.clone(), crossing.threshold);
        if data.crossings.contains_key(&key) {
            return Ok(false);
        }
        data.crossings.insert(key, crossing.clone());
        for notification in notifications {
            data.notifications.entry(notification.id.clone()).or_insert_with(|| notification.clone());
        }
        Ok(true)
    }

    async fn crossed(&self, month: Month, user: &str, revision: &str, threshold: u16) -> Result<bool, StoreError> {
        let key = (month.to_string(), user.to_owned(), revision.to_owned(), threshold);
        Ok(self.lock().crossings.contains_key(&key))
    }

    async fn crossings(
        &self,
        month: Month,
        user: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Crossing>, StoreError> {
        let month = month.to_string();
        let all: Vec<Crossing> = self
            .lock()
            .crossings
            .values()
            .filter(|c| c.month == month && user.is_none_or(|u| c.user == u))
            .cloned()
            .collect();
        paged(&format!("crossings/{month}/{}", user.unwrap_or("*")), &all, page, self.limit(page))
    }

    async fn reach(&self, month: Month) -> Result<Option<Reach>, StoreError> {
        Ok(self.lock().reach.get(&month).cloned())
    }

    async fn put_reach(&self, month: Month, reach: &Reach) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.reach.get(&month).is_some_and(|stored| stored.pass_at >= reach.pass_at) {
            return Err(StoreError::Conflict);
        }
        data.reach.insert(month, reach.clone());
        Ok(())
    }

    async fn evaluated(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.lock().evaluated.contains_key(&month))
    }

    async fn mark_evaluated(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        self.lock().evaluated.entry(month).or_insert(at);
        Ok(())
    }
}

#[async_trait]
impl NotificationStore for MemoryStore {
    /// Newest first, as the adapter's `NOTIFY#<recipient>` partition read backwards.
    async fn of(&self, recipient: &str, page: &PageRequest) -> Result<Page<Notification>, StoreError> {
        let mut all: Vec<Notification> =
            self.lock().notifications.values().filter(|n| n.recipient == recipient).cloned().collect();
        all.sort_by(|a, b| (b.at, &b.id).cmp(&(a.at, &a.id)));
        paged(&format!("notifications/{recipient}"), &all, page, self.limit(page))
    }

    async fn pending(&self, page: &PageRequest) -> Result<Page<Notification>, StoreError> {
        let mut all: Vec<Notification> = self
            .lock()
            .notifications
            .values()
            .filter(|n| n.delivery.status == DeliveryStatus::Pending)
            .cloned()
            .collect();
        all.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        paged("notifications/pending", &all, page, self.limit(page))
    }

    async fn set_delivery(&self, notification: &Notification, expected_attempts: u32) -> Result<(), StoreError> {
        let mut data = self.lock();
        let stored = data.notifications.get_mut(&notification.id).ok_or(StoreError::Conflict)?;
        if stored.delivery.attempts != expected_attempts || stored.delivery.status != DeliveryStatus::Pending {
            return Err(StoreError::Conflict);
        }
        stored.delivery = notification.delivery.clone();
        Ok(())
    }
}

#[async_trait]
impl ActualStore for MemoryStore {
    async fn actuals(&self, month: Month) -> Result<Actuals, StoreError> {
        Ok(self.lock().actuals.get(&month).cloned().unwrap_or_default())
    }

    async fn put_actuals(&self, month: Month, actuals: &Actuals) -> Result<(), StoreError> {
        self.lock().actuals.insert(month, actuals.clone());
        Ok(())
    }
}

#[async_trait]
impl crate::costs::CostCentreStore for MemoryStore {
    async fn cost_centre_changes(&self, user: Option<&str>) -> Result<Vec<crate::costs::CostCentreChange>, StoreError> {
        Ok(self.lock().cost_centres.values().filter(|c| user.is_none_or(|u| c.user == u)).cloned().collect())
    }

    async fn put_cost_centre_change(&self, change: &crate::costs::CostCentreChange) -> Result<(), StoreError> {
        let mut data = self.lock();
        let key = (change.user.clone(), change.month);
        if data.cost_centres.get(&key).is_some_and(|stored| stored.at > change.at) {
            return Err(StoreError::Conflict);
        }
        data.cost_centres.insert(key, change.clone());
        Ok(())
    }
}

#[async_trait]
impl crate::costs::ExchangeRateStore for MemoryStore {
    async fn exchange_rates(&self) -> Result<Vec<crate::costs::ExchangeRate>, StoreError> {
        Ok(self.lock().exchange_rates.values().cloned().collect())
    }

    async fn put_exchange_rate(&self, rate: &crate::costs::ExchangeRate) -> Result<(), StoreError> {
        let mut data = self.lock();
        let key = (rate.from.clone(), rate.to.clone(), rate.effective_from, rate.revision);
        if data.exchange_rates.contains_key(&key) {
            return Err(StoreError::Conflict);
        }
        data.exchange_rates.insert(key, rate.clone());
        Ok(())
    }
}
