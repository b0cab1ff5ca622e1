//! Object storage for uploaded files (avatars now, posters later, G8): a local folder by default, any
//! S3-compatible service (MinIO, AWS) in production, through `object_store`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use crate::config::StorageSettings;

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
}

impl Storage {
    pub fn from_settings(settings: &StorageSettings) -> anyhow::Result<Storage> {
        let store: Arc<dyn ObjectStore> = match settings {
            StorageSettings::Local { dir } => {
                std::fs::create_dir_all(dir)?;
                Arc::new(LocalFileSystem::new_with_prefix(dir)?)
            }
            StorageSettings::S3 {
                bucket,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
            } => {
                // A storage outage must fail a request within seconds, not hold it through object_store's
                // default of ten retries over three minutes (past the request timeout).
                let retry = RetryConfig {
                    backoff: BackoffConfig {
                        init_backoff: Duration::from_millis(100),
                        max_backoff: Duration::from_secs(1),
                        base: 2.0,
                    },
                    max_retries: 2,
                    retry_timeout: Duration::from_secs(5),
                };
                let client = ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(2))
                    .with_timeout(Duration::from_secs(15));
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_retry(retry)
                    .with_client_options(client);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let (Some(key), Some(secret)) = (access_key_id, secret_access_key) {
                    builder = builder.with_access_key_id(key).with_secret_access_key(secret);
                }
                Arc::new(builder.build()?)
            }
        };
        Ok(Storage { store })
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store
            .put(&Path::parse(key)?, PutPayload::from_bytes(bytes))
            .await?;
        Ok(())
    }

    /// The object's bytes, or None when there is no such object.
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        match self.store.get(&Path::parse(key)?).await {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&Path::parse(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

/// Image types accepted for avatars, recognised by their first bytes (the client's content type is not trusted).
pub fn image_type(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some(("png", "image/png"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("jpg", "image/jpeg"))
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("webp", "image/webp"))
    } else {
        None
    }
}

/// The content type of a stored file from its extension (keys are written by this server).
pub fn content_type_of(key: &str) -> &'static str {
    match key.rsplit('.').next() {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_images_by_magic_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some(("png", "image/png")));
        assert_eq!(image_type(b"\xff\xd8\xff\xe0rest"), Some(("jpg", "image/jpeg")));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some(("webp", "image/webp")));
        assert_eq!(image_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(image_type(b"GIF89a"), None);
    }

    #[test]
    fn content_types_follow_the_extension_written() {
        assert_eq!(content_type_of("avatars/u/a.png"), "image/png");
        assert_eq!(content_type_of("avatars/u/a.jpg"), "image/jpeg");
        assert_eq!(content_type_of("avatars/u/a.webp"), "image/webp");
        assert_eq!(content_type_of("avatars/u/a"), "application/octet-stream");
    }

    #[tokio::test]
    async fn local_folder_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::from_settings(&StorageSettings::Local {
            dir: dir.path().to_path_buf(),
        })
        .unwrap();
        storage
            .put("avatars/u/a.png", Bytes::from_static(b"abc"))
            .await
            .unwrap();
        assert_eq!(
            storage.get("avatars/u/a.png").await.unwrap().as_deref(),
            Some(&b"abc"[..])
        );
        storage.delete("avatars/u/a.png").await.unwrap();
        assert_eq!(storage.get("avatars/u/a.png").await.unwrap(), None);
        storage.delete("avatars/u/a.png").await.unwrap();
    }
}
