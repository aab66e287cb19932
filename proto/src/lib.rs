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

impl v1::UploadRecordingRequest {
    /// The messages of one `UploadRecording` stream: the recording's id in
    /// the first, `bytes` in chunks of at most `chunk_bytes`. An empty
    /// recording is one message without bytes (which the server refuses).
    pub fn stream_of(recording_id: &str, bytes: &[u8], chunk_bytes: usize) -> Vec<Self> {
        let mut messages: Vec<Self> = bytes
            .chunks(chunk_bytes.max(1))
            .map(|chunk| Self {
                recording_id: String::new(),
                chunk: chunk.to_vec(),
            })
            .collect();
        match messages.first_mut() {
            Some(first) => first.recording_id = recording_id.to_owned(),
            None => messages.push(Self {
                recording_id: recording_id.to_owned(),
                chunk: Vec::new(),
            }),
        }
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::v1::UploadRecordingRequest;

    #[test]
    fn an_upload_stream_names_the_recording_once_and_carries_every_byte() {
        let bytes: Vec<u8> = (0..10u8).collect();
        let messages = UploadRecordingRequest::stream_of("r1", &bytes, 4);
        let ids: Vec<&str> = messages.iter().map(|m| m.recording_id.as_str()).collect();
        assert_eq!(ids, ["r1", "", ""]);
        let sizes: Vec<usize> = messages.iter().map(|m| m.chunk.len()).collect();
        assert_eq!(sizes, [4, 4, 2]);
        let joined: Vec<u8> = messages.iter().flat_map(|m| m.chunk.clone()).collect();
        assert_eq!(joined, bytes);

        let empty = UploadRecordingRequest::stream_of("r2", &[], 4);
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].recording_id, "r2");
        assert!(empty[0].chunk.is_empty());
        // A chunk size of zero does not loop or panic.
        assert_eq!(UploadRecordingRequest::stream_of("r3", &bytes, 0).len(), 10);
    }
}
