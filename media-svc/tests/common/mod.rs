//! Helpers shared by the integration tests: fixtures and object-store backends.

#![allow(dead_code, unreachable_pub)]

pub mod http_client;
pub mod s3;
pub mod server;

use std::{path::Path, sync::Arc};

use archive_common::identity::IdentityConfig;
use media_svc::{Config, storage};
use object_store::ObjectStore;

pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An object store under test, and a way to see every file it left on disk
/// (listing hides a local store's in-progress multipart files).
pub struct Backend {
    pub name: String,
    pub objects: Arc<dyn ObjectStore>,
    pub raw_files: Box<dyn Fn() -> Vec<String> + Send + Sync>,
    /// Multipart part size to test with (S3 needs at least 5 MiB).
    pub part_bytes: usize,
}

impl Backend {
    /// The `fs` store media-svc opens for `media_root = dir`.
    pub fn local(dir: &Path) -> Self {
        let config = Config::new(dir.join("media"), unused_identity(), "playback");
        let objects = storage::open(&config).expect("open the local store");
        let root = dir.join("media");
        Self {
            name: "local".into(),
            objects,
            raw_files: Box::new(move || walk(&root)),
            part_bytes: 16 * 1024,
        }
    }
}

/// For a config used only to open a store: no key is read.
pub fn unused_identity() -> IdentityConfig {
    IdentityConfig::new("unused.pem", "unused.json")
}

/// Every file under `dir`, none when it is not there.
pub fn walk(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path.display().to_string());
        }
    }
    files
}
