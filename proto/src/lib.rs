//! The `archive.v1` contracts: generated messages, clients and servers, and the
//! encoded file descriptor set that every service registers for reflection.

#![allow(unreachable_pub, clippy::all, missing_docs)]

/// Generated code of package `archive.v1`.
pub mod v1 {
    tonic::include_proto!("archive.v1");
}

/// The encoded `FileDescriptorSet` of all `archive.v1` files, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("archive_descriptor");

pub use prost_types::{Duration, Timestamp};
