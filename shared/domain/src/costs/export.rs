//! The finance export's bytes, written once: [`Costs::write_export`] writes the header, the
//! lines and Cost Explorer's rows as CSV ([`CsvWriter`]) into a buffer of
//! [`EXPORT_CHUNK_BYTES`] and hands each full buffer to a [`ChunkOut`]. Two places take the
//! chunks: the streaming body of `GET /v1/costs/export.csv` (local development, small
//! months), and an object of the exports bucket ([`ExportObjects`], `POST /v1/costs/exports`,
//! what the deployed portal uses: API Gateway buffers a Lambda's answer and caps it at 6 MB,
//! an object in S3 has no such limit). Memory is bounded by the chunk (and, for S3, the
//! upload's part) whatever the month's size.

use async_trait::async_trait;
use jiff::Timestamp;

use super::csv::{CsvWriter, Separator};
use super::ledger::LineSink;
use super::month::Month;
use super::ports::{ExportObject, ExportUpload};
use super::report::{ActualLine, WorkspaceCost};
use super::use_cases::{Costs, ExportRequest};
use crate::kernel::{Caller, DomainError, UpstreamError, random_token};

/// Media type of the export.
pub const CSV_CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Bytes gathered before a chunk goes out.
pub const EXPORT_CHUNK_BYTES: usize = 64 * 1024;

/// The `Content-Disposition` of `month`'s export: a download named
/// `atelier-costs-YYYY-MM.csv`.
pub fn content_disposition(month: Month) -> String {
    format!("attachment; filename=\"atelier-costs-{month}.csv\"")
}

/// Where the export's chunks go, in order.
#[async_trait]
pub trait ChunkOut: Send {
    /// Takes the next chunk (never empty); an error stops the export and is its answer.
    async fn chunk(&mut self, bytes: Vec<u8>) -> Result<(), DomainError>;
}

/// Lines written as CSV rows, sent out in chunks: the one writer of the export's rows.
struct CsvChunks<'a> {
    csv: CsvWriter<Vec<u8>>,
    out: &'a mut dyn ChunkOut,
    bytes: u64,
}

impl CsvChunks<'_> {
    /// Sends the buffer once it holds `at_least` bytes (and never an empty one).
    async fn send(&mut self, at_least: usize) -> Result<(), DomainError> {
        if self.csv.get_mut().len() < at_least.max(1) {
            return Ok(());
        }
        let chunk = std::mem::replace(self.csv.get_mut(), Vec::with_capacity(EXPORT_CHUNK_BYTES + 1024));
        self.bytes += chunk.len() as u64;
        self.out.chunk(chunk).await
    }
}

#[async_trait]
impl LineSink for CsvChunks<'_> {
    async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError> {
        line.write_csv(&mut self.csv).map_err(csv_fault)?;
        self.send(EXPORT_CHUNK_BYTES).await
    }

    async fn actual(&mut self, line: ActualLine) -> Result<(), DomainError> {
        line.write_csv(&mut self.csv).map_err(csv_fault)?;
        self.send(EXPORT_CHUNK_BYTES).await
    }
}

fn csv_fault(e: std::io::Error) -> DomainError {
    DomainError::Upstream(UpstreamError::new("export", "csv", false, e))
}

/// The upload of an export object, as a [`ChunkOut`].
struct UploadOut(Box<dyn ExportUpload>);

#[async_trait]
impl ChunkOut for UploadOut {
    async fn chunk(&mut self, bytes: Vec<u8>) -> Result<(), DomainError> {
        Ok(self.0.part(bytes).await?)
    }
}

/// An export written to the exports bucket (`POST /v1/costs/exports`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedObject {
    /// The month exported.
    pub month: Month,
    /// The object's key, `exports/<username>/<YYYY-MM>/<random>.csv`.
    pub key: String,
    /// A presigned GET of the object, downloading it as `atelier-costs-YYYY-MM.csv`.
    pub url: String,
    /// When [`ExportedObject::url`] stops working.
    pub expires_at: Timestamp,
    /// The object's size.
    pub bytes: u64,
}

impl Costs {
    /// Writes the whole export of `request` (header, lines, then Cost Explorer's rows) to
    /// `out` in chunks of about [`EXPORT_CHUNK_BYTES`], the last one shorter: the bytes
    /// `GET /v1/costs/export.csv` streams and `POST /v1/costs/exports` uploads. Answers the
    /// number of bytes written.
    pub async fn write_export(
        &self,
        request: &ExportRequest,
        separator: Separator,
        out: &mut dyn ChunkOut,
    ) -> Result<u64, DomainError> {
        let mut sink =
            CsvChunks { csv: CsvWriter::new(Vec::with_capacity(EXPORT_CHUNK_BYTES + 1024), separator), out, bytes: 0 };
        sink.csv.write_header().map_err(csv_fault)?;
        self.stream_export(request, &mut sink).await?;
        sink.send(1).await?;
        Ok(sink.bytes)
    }

    /// Exports `month` (finance and admins, as [`Costs::export_request`] authorises) into a
    /// new object of the exports bucket under the caller's name, and answers a short-lived
    /// link to it. A failure while writing aborts the upload: no partial object is left
    /// behind, and none is ever linked.
    pub async fn export_to_object(
        &self,
        caller: &Caller,
        month: &str,
        cost_centre: Option<&str>,
        separator: Separator,
        now: Timestamp,
    ) -> Result<ExportedObject, DomainError> {
        let request = self.export_request(caller, month, cost_centre, now)?;
        let object = ExportObject {
            key: format!("exports/{}/{}/{}.csv", caller.username, request.month, random_token()),
            content_type: CSV_CONTENT_TYPE.to_owned(),
            content_disposition: content_disposition(request.month),
        };
        let mut out = UploadOut(self.exports.start(&object).await?);
        let bytes = match self.write_export(&request, separator, &mut out).await {
            Ok(bytes) => bytes,
            Err(err) => {
                if let Err(abort) = out.0.abort().await {
                    tracing::warn!(error = %abort, key = %object.key, "aborting a failed export upload failed");
                }
                return Err(err);
            }
        };
        let link = out.0.finish().await?;
        Ok(ExportedObject { month: request.month, key: object.key, url: link.url, expires_at: link.expires_at, bytes })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::testing::{FakeDirectory, MemoryExports, MemoryStore, ProductBuilder, WorkspaceBuilder, write_history};
    use crate::workspaces::State;

    /// Keeps every chunk.
    #[derive(Default)]
    struct Chunks(Vec<Vec<u8>>);

    #[async_trait]
    impl ChunkOut for Chunks {
        async fn chunk(&mut self, bytes: Vec<u8>) -> Result<(), DomainError> {
            self.0.push(bytes);
            Ok(())
        }
    }

    fn caller(username: &str, group: &str) -> Caller {
        Caller { sub: username.into(), username: username.into(), groups: vec![group.into()] }
    }

    /// The cost use cases on a memory store holding `workspaces` workspaces of alice's,
    /// each running an hour in March 2026, exporting into `exports`.
    async fn costs(exports: Arc<MemoryExports>, workspaces: usize) -> Costs {
        let memory = Arc::new(MemoryStore::default().with_max_active(u32::MAX));
        memory.put_product(ProductBuilder::new("python-r-standard").build());
        let t = |at: &str| at.parse::<Timestamp>().expect("an instant");
        let steps = [
            (t("2026-03-02T08:00:00Z"), State::Provisioning),
            (t("2026-03-02T08:05:00Z"), State::Running),
            (t("2026-03-02T09:05:00Z"), State::Stopped),
        ];
        for i in 0..workspaces {
            let workspace = WorkspaceBuilder::new()
                .name(&format!("w{i}"))
                .owner("alice")
                .product("python-r-standard", "m5.2xlarge")
                .build();
            write_history(memory.as_ref(), workspace, &steps).await.expect("written");
        }
        Costs {
            store: memory.clone(),
            catalog: memory.clone(),
            directory: Arc::new(FakeDirectory::default()),
            index: memory.clone(),
            budgets: memory.clone(),
            actuals: memory.clone(),
            cost_centres: memory.clone(),
            rates: memory,
            exports,
        }
    }

    fn now() -> Timestamp {
        "2026-04-02T00:00:00Z".parse().expect("an instant")
    }

    #[tokio::test]
    async fn an_export_object_holds_the_bytes_the_stream_sends() {
        let exports = Arc::new(MemoryExports::default());
        let costs = costs(exports.clone(), 600).await;
        let fiona = caller("fiona", "finance");
        let exported =
            costs.export_to_object(&fiona, "2026-03", None, Separator::Semicolon, now()).await.expect("exported");
        assert!(
            exported.key.starts_with("exports/fiona/2026-03/") && exported.key.ends_with(".csv"),
            "{}",
            exported.key
        );
        let object = exports.object(&exported.key).expect("stored");
        assert_eq!(object.content_type, CSV_CONTENT_TYPE);
        assert_eq!(object.content_disposition, "attachment; filename=\"atelier-costs-2026-03.csv\"");
        assert_eq!(exported.bytes, object.body.len() as u64);
        assert_eq!(exported.url, format!("memory://{}", exported.key));

        let request = costs.export_request(&fiona, "2026-03", None, now()).expect("authorised");
        let mut streamed = Chunks::default();
        let bytes = costs.write_export(&request, Separator::Semicolon, &mut streamed).await.expect("written");
        assert_eq!(bytes, exported.bytes);
        assert_eq!(streamed.0.concat(), object.body, "the same bytes either way");
        assert!(streamed.0.len() > 1, "600 lines are more than one 64 KiB chunk");
        assert!(streamed.0.iter().all(|c| !c.is_empty()));
        assert_eq!(
            String::from_utf8(object.body).expect("UTF-8").matches("\r\n").count(),
            601,
            "the header and a row each"
        );
    }

    #[tokio::test]
    async fn scientists_may_not_export_and_nothing_is_uploaded() {
        let exports = Arc::new(MemoryExports::default());
        let result = costs(exports.clone(), 1)
            .await
            .export_to_object(&caller("alice", "scientists"), "2026-03", None, Separator::Comma, now())
            .await;
        assert!(matches!(result, Err(DomainError::Forbidden(_))), "{result:?}");
        let future = costs(exports.clone(), 1)
            .await
            .export_to_object(&caller("ada", "admins"), "2999-01", None, Separator::Comma, now())
            .await;
        assert!(matches!(future, Err(DomainError::Unprocessable { ref field, .. }) if field == "month"), "{future:?}");
        assert!(exports.keys().is_empty() && exports.aborted().is_empty());
    }

    #[tokio::test]
    async fn a_failed_upload_is_aborted_and_answers_the_error() {
        let exports = Arc::new(MemoryExports::default());
        exports.refuse_parts();
        let result = costs(exports.clone(), 1)
            .await
            .export_to_object(&caller("ada", "admins"), "2026-03", None, Separator::Comma, now())
            .await;
        assert!(matches!(result, Err(DomainError::Upstream(_))), "{result:?}");
        assert!(exports.keys().is_empty(), "nothing finished");
        assert_eq!(exports.aborted().len(), 1);
    }
}
