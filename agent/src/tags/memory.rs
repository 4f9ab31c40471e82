//! The instance's tags in memory, for the reconcilers' tests.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{TagError, TagSource, TagWriter, Tags};

/// The instance's tags in memory, with the write calls counted.
#[derive(Clone, Default)]
pub(crate) struct MemoryTags {
    pub(crate) tags: Arc<Mutex<Tags>>,
    pub(crate) writes: Arc<Mutex<Vec<String>>>,
    pub(crate) unreadable: Arc<Mutex<bool>>,
    pub(crate) unwritable: Arc<Mutex<bool>>,
}

impl MemoryTags {
    pub(crate) fn with(tags: &[(&str, &str)]) -> Self {
        let store = Self::default();
        for (k, v) in tags {
            store.set(k, v);
        }
        store
    }
    pub(crate) fn set(&self, key: &str, value: &str) {
        self.tags.lock().unwrap().insert(key.to_owned(), value.to_owned());
    }
    pub(crate) fn remove(&self, key: &str) {
        self.tags.lock().unwrap().remove(key);
    }
    /// The tags whose key starts with `prefix`, in key order.
    pub(crate) fn prefixed(&self, prefix: &str) -> Vec<(String, String)> {
        let tags = self.tags.lock().unwrap();
        tags.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
    pub(crate) fn take_writes(&self) -> Vec<String> {
        std::mem::take(&mut *self.writes.lock().unwrap())
    }
}

#[async_trait]
impl TagSource for MemoryTags {
    async fn read(&self) -> Result<Tags, TagError> {
        if *self.unreadable.lock().unwrap() {
            return Err(TagError::new("ec2:DescribeTags", "throttled"));
        }
        Ok(self.tags.lock().unwrap().clone())
    }
}

#[async_trait]
impl TagWriter for MemoryTags {
    async fn put(&self, tags: &Tags) -> Result<(), TagError> {
        self.writes.lock().unwrap().push(format!("put {}", tags.keys().cloned().collect::<Vec<_>>().join(",")));
        if *self.unwritable.lock().unwrap() {
            return Err(TagError::new("ec2:CreateTags", "UnauthorizedOperation"));
        }
        self.tags.lock().unwrap().extend(tags.clone());
        Ok(())
    }
    async fn delete(&self, keys: &[String]) -> Result<(), TagError> {
        self.writes.lock().unwrap().push(format!("delete {}", keys.join(",")));
        let mut tags = self.tags.lock().unwrap();
        keys.iter().for_each(|k| {
            tags.remove(k);
        });
        Ok(())
    }
}
