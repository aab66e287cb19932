//! Opening the configured object store.

use std::sync::Arc;

#[cfg(feature = "s3")]
use object_store::signer::Signer;
use object_store::{ObjectStore, local::LocalFileSystem, memory::InMemory};

use crate::{Config, Error, config::StoreKind};

/// Builds the object store `config` names (creating `media_root` for `fs`).
pub fn open(config: &Config) -> Result<Arc<dyn ObjectStore>, Error> {
    match config.store {
        StoreKind::Fs => {
            std::fs::create_dir_all(&config.media_root)?;
            // No automatic clean-up of emptied directories: removing one
            // raced with an upload creating its file in it ("unable to
            // create dir", seen with eight concurrent uploads). Keys keep
            // directories few instead: one per tenant under `staging/` and
            // `tenants/` (see `keys`).
            let fs = LocalFileSystem::new_with_prefix(&config.media_root)?;
            Ok(Arc::new(super::local::LocalStore::new(fs)))
        }
        StoreKind::Memory => Ok(Arc::new(InMemory::new())),
        StoreKind::S3 => s3(&config.s3),
    }
}

#[cfg(feature = "s3")]
fn s3(config: &crate::S3Config) -> Result<Arc<dyn ObjectStore>, Error> {
    Ok(Arc::new(s3_client(config)?))
}

/// The signer of playback redirects, when `config` sends players to its S3
/// store (see [`super::MediaStore::playback_redirect`]).
#[cfg(feature = "s3")]
pub fn redirect(config: &Config) -> Result<Option<Arc<dyn Signer>>, Error> {
    if config.store != StoreKind::S3 || config.s3.playback != crate::S3Playback::Redirect {
        return Ok(None);
    }
    Ok(Some(Arc::new(s3_client(&config.s3)?)))
}

#[cfg(feature = "s3")]
fn s3_client(config: &crate::S3Config) -> Result<object_store::aws::AmazonS3, Error> {
    use std::time::Duration;

    use object_store::{
        BackoffConfig, ClientOptions, RetryConfig,
        aws::{AmazonS3Builder, S3ConditionalPut, S3CopyIfNotExists},
    };

    let bucket = config
        .bucket
        .as_deref()
        .ok_or_else(|| Error::Config("MEDIA_S3_BUCKET is required for the s3 store".into()))?;
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_region(&config.region)
        .with_virtual_hosted_style_request(!config.path_style)
        .with_allow_http(config.allow_http)
        .with_client_options(ClientOptions::new().with_allow_http(config.allow_http))
        .with_http_connector(super::s3_http::TimedConnector {
            connect: Duration::from_secs(config.connect_timeout_secs.max(1)),
            read: Duration::from_secs(config.read_timeout_secs.max(1)),
            total: (config.timeout_secs > 0).then(|| Duration::from_secs(config.timeout_secs)),
        })
        // Failures answered at once (refused connections, 503 Slow Down) are
        // retried with backoff; a hung store is tried at most twice, as no
        // retry starts after the retry timeout.
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: config.max_retries,
            retry_timeout: Duration::from_secs(config.retry_timeout_secs),
        })
        // Metadata is written with If-None-Match: *, and the file is moved
        // into place with a multipart copy completed only if nothing is there:
        // both conditional on the server, so concurrent uploads cannot clobber.
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_copy_if_not_exists(S3CopyIfNotExists::Multipart);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
        builder = builder
            .with_access_key_id(id)
            .with_secret_access_key(secret);
        if let Some(token) = &config.session_token {
            builder = builder.with_token(token);
        }
    }
    Ok(builder.build()?)
}

#[cfg(not(feature = "s3"))]
fn s3(_: &crate::S3Config) -> Result<Arc<dyn ObjectStore>, Error> {
    Err(Error::Config(
        "this build has no S3 support (feature `s3`)".into(),
    ))
}
