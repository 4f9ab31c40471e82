//! Amazon S3: the exports bucket ([`ExportObjects`], `POST /v1/costs/exports`). An export
//! is uploaded as it is written: its bytes are gathered into parts of [`PART_BYTES`]
//! (`CreateMultipartUpload`, then one `UploadPart` per full part and
//! `CompleteMultipartUpload`), so memory stays at about one part whatever the month; one
//! smaller than a part is a single `PutObject`. A failed export is
//! `AbortMultipartUpload`ed, and the bucket's lifecycle rule removes what an abort missed.
//! The link is a presigned `GetObject` valid [`LINK_TTL`], signed with the function's own
//! credentials (its role needs `s3:GetObject` on the objects), that answers the object as
//! `text/csv; charset=utf-8` and as a download named `atelier-costs-YYYY-MM.csv`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use atelier_domain::{
    costs::{ExportLink, ExportObject, ExportObjects, ExportUpload},
    kernel::UpstreamError,
};
use aws_sdk_s3::{
    Client,
    presigning::PresigningConfig,
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};
use jiff::Timestamp;

use crate::upstream;

/// Bytes of each uploaded part but the last (S3 wants at least 5 MiB but for the last).
pub const PART_BYTES: usize = 8 * 1024 * 1024;

/// How long a link to an export works.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// The exports bucket as [`ExportObjects`].
#[derive(Clone)]
pub struct S3Exports {
    client: Client,
    bucket: String,
}

impl S3Exports {
    /// The objects of `bucket` through `client`, in parts of [`PART_BYTES`].
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// The same, through a client built from `config`. An endpoint set in `config` (a local
    /// S3 API such as moto's, `AWS_ENDPOINT_URL`) is addressed by path, since the bucket's
    /// virtual host name would not resolve there.
    pub fn from_config(config: &aws_types::SdkConfig, bucket: impl Into<String>) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
        Self::new(Client::from_conf(s3), bucket)
    }

    async fn presign(&self, object: &ExportObject) -> Result<ExportLink, UpstreamError> {
        let now = SystemTime::now();
        let config = PresigningConfig::builder()
            .start_time(now)
            .expires_in(LINK_TTL)
            .build()
            .map_err(|e| UpstreamError::new("s3", "presign", false, e.to_string()))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .response_content_type(&object.content_type)
            .response_content_disposition(&object.content_disposition)
            .presigned(config)
            .await
            .map_err(|e| upstream("s3", "GetObject", e))?;
        let expires_at = Timestamp::try_from(now + LINK_TTL)
            .map_err(|e| UpstreamError::new("s3", "presign", false, e.to_string()))?;
        Ok(ExportLink { url: presigned.uri().to_owned(), expires_at })
    }
}

#[async_trait]
impl ExportObjects for S3Exports {
    async fn start(&self, object: &ExportObject) -> Result<Box<dyn ExportUpload>, UpstreamError> {
        Ok(Box::new(S3Upload { exports: self.clone(), object: object.clone(), buffer: Vec::new(), multipart: None }))
    }
}

/// A multipart upload once its first part is full.
struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

/// One export being uploaded: at most one part's bytes in `buffer`.
struct S3Upload {
    exports: S3Exports,
    object: ExportObject,
    buffer: Vec<u8>,
    multipart: Option<Multipart>,
}

impl S3Upload {
    /// Uploads `body` as the next part, starting the multipart upload with the first.
    async fn upload_part(&mut self, body: Vec<u8>) -> Result<(), UpstreamError> {
        let S3Exports { client, bucket, .. } = &self.exports;
        let key = &self.object.key;
        let multipart = match &mut self.multipart {
            Some(multipart) => multipart,
            None => {
                let created = client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .content_type(&self.object.content_type)
                    .content_disposition(&self.object.content_disposition)
                    .send()
                    .await
                    .map_err(|e| upstream("s3", "CreateMultipartUpload", e))?;
                let upload_id = created.upload_id().unwrap_or_default().to_owned();
                self.multipart.insert(Multipart { upload_id, parts: Vec::new() })
            }
        };
        let number = i32::try_from(multipart.parts.len() + 1)
            .map_err(|_| UpstreamError::new("s3", "UploadPart", false, "too many parts"))?;
        let uploaded = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&multipart.upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| upstream("s3", "UploadPart", e))?;
        let part = CompletedPart::builder().part_number(number).set_e_tag(uploaded.e_tag().map(str::to_owned));
        multipart.parts.push(part.build());
        Ok(())
    }
}

#[async_trait]
impl ExportUpload for S3Upload {
    async fn part(&mut self, bytes: Vec<u8>) -> Result<(), UpstreamError> {
        if self.buffer.capacity() == 0 {
            self.buffer.reserve(PART_BYTES + bytes.len());
        }
        self.buffer.extend_from_slice(&bytes);
        if self.buffer.len() >= PART_BYTES {
            let body = std::mem::take(&mut self.buffer);
            self.upload_part(body).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<ExportLink, UpstreamError> {
        let mut body = std::mem::take(&mut self.buffer);
        if self.multipart.is_some() && !body.is_empty() {
            self.upload_part(std::mem::take(&mut body)).await?;
        }
        let (client, bucket, key) = (&self.exports.client, &self.exports.bucket, &self.object.key);
        match self.multipart.take() {
            // Smaller than a part: one request.
            None => {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .content_type(&self.object.content_type)
                    .content_disposition(&self.object.content_disposition)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| upstream("s3", "PutObject", e))?;
            }
            Some(multipart) => {
                client
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&multipart.upload_id)
                    .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(multipart.parts)).build())
                    .send()
                    .await
                    .map_err(|e| upstream("s3", "CompleteMultipartUpload", e))?;
            }
        }
        self.exports.presign(&self.object).await
    }

    async fn abort(self: Box<Self>) -> Result<(), UpstreamError> {
        let Some(multipart) = &self.multipart else { return Ok(()) };
        self.exports
            .client
            .abort_multipart_upload()
            .bucket(&self.exports.bucket)
            .key(&self.object.key)
            .upload_id(&multipart.upload_id)
            .send()
            .await
            .map_err(|e| upstream("s3", "AbortMultipartUpload", e))?;
        Ok(())
    }
}
