//! Object storage for uploaded files: the `ObjectStore` trait the routes use, and its
//! implementation on the R2 bucket bound as `FILES`. The file routes reach the bucket only
//! through this module.

use std::collections::HashMap;
use std::fmt;

use kasir_core::error::ApiError;
use kasir_core::files::ByteRange;
use worker::{Bucket, Env, HttpMetadata, Range, ResponseBody};

/// Name of the R2 bucket binding in `wrangler.toml`.
const BUCKET_BINDING: &str = "FILES";
/// Maximum keys one R2 list call returns and one bulk delete accepts.
const R2_PAGE_SIZE: u32 = 1000;

/// A failed storage call, with the store's own error text.
#[derive(Debug)]
pub struct StorageError(String);

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "object storage: {}", self.0)
    }
}

impl From<worker::Error> for StorageError {
    fn from(error: worker::Error) -> Self {
        StorageError(error.to_string())
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        ApiError::internal(error.to_string())
    }
}

/// Metadata of a stored object.
#[derive(Clone, Debug)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub content_type: Option<String>,
    /// Upload time in Unix milliseconds.
    pub uploaded_ms: u64,
    /// String pairs stored with the object, such as its checksum.
    pub metadata: HashMap<String, String>,
}

/// The operations the file routes need from an object store. Keys are opaque paths such as
/// `tenants/{code}/logo/{id}.png`.
#[allow(async_fn_in_trait)]
pub trait ObjectStore {
    /// Stores `bytes` under `key`, replacing any object there.
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        metadata: HashMap<String, String>,
    ) -> Result<(), StorageError>;

    /// Reads an object, or only `range` of it, as a body a response streams without copying
    /// it into the Worker. Returns `None` when no object has this key. The caller checks
    /// `range` against the object's size first.
    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<ResponseBody>, StorageError>;

    /// Reads an object's metadata without its body.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError>;

    /// Deletes an object. Deleting a missing key succeeds.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Deletes every object whose key starts with `prefix` and returns how many there were.
    // NOTE: meant for deleting a tenant's `tenants/{code}/` objects at offboarding, which does
    // not call it yet.
    #[allow(dead_code)]
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError>;

    /// Lists the objects whose key starts with `prefix`, in key order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError>;
}

/// The R2 bucket behind [`ObjectStore`].
pub struct R2Store {
    bucket: Bucket,
}

impl R2Store {
    /// Opens the `FILES` bucket.
    ///
    /// # Errors
    /// 500 when the binding is missing.
    pub fn from_env(env: &Env) -> Result<R2Store, ApiError> {
        env.bucket(BUCKET_BINDING)
            .map(|bucket| R2Store { bucket })
            .map_err(|error| ApiError::internal(format!("binding {BUCKET_BINDING}: {error}")))
    }

    /// Lists one page of keys under `prefix`, after `cursor` when given.
    async fn list_page(
        &self,
        prefix: &str,
        cursor: Option<String>,
    ) -> Result<(Vec<ObjectInfo>, Option<String>), StorageError> {
        let mut request = self
            .bucket
            .list()
            .prefix(prefix)
            .limit(R2_PAGE_SIZE)
            .include(vec![worker::Include::HttpMetadata, worker::Include::CustomMetadata]);
        if let Some(cursor) = cursor {
            request = request.cursor(cursor);
        }
        let page = request.execute().await?;
        let objects = page.objects().iter().map(object_info).collect();
        let next = if page.truncated() { page.cursor() } else { None };
        Ok((objects, next))
    }
}

fn object_info(object: &worker::Object) -> ObjectInfo {
    ObjectInfo {
        key: object.key(),
        size: object.size(),
        content_type: object.http_metadata().content_type,
        uploaded_ms: object.uploaded().as_millis(),
        metadata: object.custom_metadata().unwrap_or_default(),
    }
}

impl ObjectStore for R2Store {
    async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        metadata: HashMap<String, String>,
    ) -> Result<(), StorageError> {
        let http_metadata = HttpMetadata {
            content_type: Some(content_type.to_string()),
            ..HttpMetadata::default()
        };
        self.bucket
            .put(key, bytes)
            .http_metadata(http_metadata)
            .custom_metadata(metadata)
            .execute()
            .await?;
        Ok(())
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<Option<ResponseBody>, StorageError> {
        let mut request = self.bucket.get(key);
        if let Some(range) = range {
            request = request.range(Range::OffsetWithLength {
                offset: range.start,
                length: range.byte_count(),
            });
        }
        let Some(object) = request.execute().await? else {
            return Ok(None);
        };
        let body = object
            .body()
            .ok_or_else(|| StorageError(format!("{key} came back without a body")))?
            .response_body()?;
        Ok(Some(body))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        Ok(self.bucket.head(key).await?.as_ref().map(object_info))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.bucket.delete(key).await?;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let keys: Vec<String> = self.list(prefix).await?.into_iter().map(|object| object.key).collect();
        for chunk in keys.chunks(R2_PAGE_SIZE as usize) {
            self.bucket.delete_multiple(chunk.to_vec()).await?;
        }
        Ok(keys.len() as u64)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let mut objects = Vec::new();
        let mut cursor = None;
        loop {
            let (page, next) = self.list_page(prefix, cursor).await?;
            objects.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(objects),
            }
        }
    }
}
