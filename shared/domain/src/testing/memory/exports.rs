//! [`MemoryExports`]: the exports bucket in memory. An object appears under its key only
//! once its upload finishes, as in S3; aborted uploads are remembered by key.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use crate::costs::{ExportLink, ExportObject, ExportObjects, ExportUpload};
use crate::kernel::UpstreamError;

/// A finished object: what it was started with and every byte written to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExport {
    /// The headers a download answers with.
    pub content_type: String,
    /// `attachment; filename=...`.
    pub content_disposition: String,
    /// The object's bytes.
    pub body: Vec<u8>,
}

#[derive(Default)]
struct Bucket {
    objects: BTreeMap<String, StoredExport>,
    aborted: Vec<String>,
    refuse_parts: bool,
}

/// The exports bucket in memory; links are `memory://<key>`, valid 15 minutes.
#[derive(Default, Clone)]
pub struct MemoryExports {
    bucket: Arc<Mutex<Bucket>>,
}

impl MemoryExports {
    /// From now on every [`ExportUpload::part`] fails (a broken upload).
    pub fn refuse_parts(&self) {
        self.lock().refuse_parts = true;
    }

    /// The finished object under `key`.
    pub fn object(&self, key: &str) -> Option<StoredExport> {
        self.lock().objects.get(key).cloned()
    }

    /// Every finished object's key, in order.
    pub fn keys(&self) -> Vec<String> {
        self.lock().objects.keys().cloned().collect()
    }

    /// The keys of the uploads given up, in order.
    pub fn aborted(&self) -> Vec<String> {
        self.lock().aborted.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bucket> {
        self.bucket.lock().expect("exports lock")
    }
}

#[async_trait]
impl ExportObjects for MemoryExports {
    async fn start(&self, object: &ExportObject) -> Result<Box<dyn ExportUpload>, UpstreamError> {
        Ok(Box::new(MemoryUpload { bucket: self.clone(), object: object.clone(), body: Vec::new() }))
    }
}

struct MemoryUpload {
    bucket: MemoryExports,
    object: ExportObject,
    body: Vec<u8>,
}

#[async_trait]
impl ExportUpload for MemoryUpload {
    async fn part(&mut self, bytes: Vec<u8>) -> Result<(), UpstreamError> {
        if self.bucket.lock().refuse_parts {
            return Err(UpstreamError::new("s3", "UploadPart", true, "refused by the test"));
        }
        self.body.extend_from_slice(&bytes);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<ExportLink, UpstreamError> {
        let Self { bucket, object, body } = *self;
        let url = format!("memory://{}", object.key);
        let stored =
            StoredExport { content_type: object.content_type, content_disposition: object.content_disposition, body };
        bucket.lock().objects.insert(object.key, stored);
        Ok(ExportLink { url, expires_at: Timestamp::now() + SignedDuration::from_mins(15) })
    }

    async fn abort(self: Box<Self>) -> Result<(), UpstreamError> {
        self.bucket.lock().aborted.push(self.object.key.clone());
        Ok(())
    }
}
