//! [`FakeCostSource`]: Cost Explorer as each test sets it.

use std::sync::Mutex;

use async_trait::async_trait;
use jiff::civil::Date;

use crate::costs::{ActualGroup, CostSource, actuals::ComponentGroup};
use crate::kernel::UpstreamError;

/// Answers every [`CostSource::cost_by_tag`] call with the groups last set
/// ([`FakeCostSource::answer`]; none until then) and logs the day ranges asked for.
#[derive(Default)]
pub struct FakeCostSource {
    groups: Mutex<Vec<ActualGroup>>,
    components: Mutex<Vec<ComponentGroup>>,
    asked: Mutex<Vec<(Date, Date)>>,
}

impl FakeCostSource {
    /// The same source, answering `groups` (builder style).
    pub fn answering(self, groups: Vec<ActualGroup>) -> Self {
        self.answer(groups);
        self
    }

    /// Makes every later call answer `groups`.
    pub fn answer(&self, groups: Vec<ActualGroup>) {
        *self.groups.lock().expect("fake cost source lock") = groups;
    }

    /// The same source, answering `groups` to [`CostSource::cost_by_component`].
    pub fn answering_components(self, groups: Vec<ComponentGroup>) -> Self {
        *self.components.lock().expect("fake cost source lock") = groups;
        self
    }

    /// The `[start, end)` day ranges asked for, in order.
    pub fn asked(&self) -> Vec<(Date, Date)> {
        self.asked.lock().expect("fake cost source lock").clone()
    }
}

#[async_trait]
impl CostSource for FakeCostSource {
    async fn cost_by_tag(&self, start: Date, end: Date) -> Result<Vec<ActualGroup>, UpstreamError> {
        self.asked.lock().expect("fake cost source lock").push((start, end));
        Ok(self.groups.lock().expect("fake cost source lock").clone())
    }

    async fn cost_by_component(&self, _start: Date, _end: Date) -> Result<Vec<ComponentGroup>, UpstreamError> {
        Ok(self.components.lock().expect("fake cost source lock").clone())
    }
}
