//! A recording's metadata as kept in its JSON sidecar: everything a reader
//! needs (size for ranges and zip headers, SHA-256 as the ETag, CRC-32 for
//! zip entries, duration) without opening the audio.

use archive_proto::v1 as proto;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{keys::RecordingId, mp3::Mp3Info};

const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// Sidecar format version, for later migrations.
    pub format: u32,
    pub recording_id: String,
    pub size_bytes: u64,
    pub duration_micros: u64,
    /// Lower-case hex.
    pub sha256: String,
    pub crc32: u32,
    pub sample_rate_hz: u32,
    pub bitrate_kbps: u32,
    pub channels: u8,
    /// When the upload completed, microseconds since the epoch.
    pub stored_at_micros: i64,
}

impl MediaInfo {
    pub fn new(
        id: RecordingId,
        mp3: &Mp3Info,
        size_bytes: u64,
        sha256: [u8; 32],
        crc32: u32,
        stored_at: DateTime<Utc>,
    ) -> Self {
        Self {
            format: FORMAT,
            recording_id: id.to_string(),
            size_bytes,
            duration_micros: u64::try_from(mp3.duration.as_micros()).unwrap_or(u64::MAX),
            sha256: hex::encode(sha256),
            crc32,
            sample_rate_hz: mp3.sample_rate_hz,
            bitrate_kbps: mp3.bitrate_kbps,
            channels: mp3.channels,
            stored_at_micros: stored_at.timestamp_micros(),
        }
    }

    /// Whether `other` describes the same bytes.
    pub fn same_content(&self, size_bytes: u64, sha256: &str) -> bool {
        self.size_bytes == size_bytes && self.sha256 == sha256
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("MediaInfo serialises")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

impl From<MediaInfo> for proto::MediaInfo {
    fn from(m: MediaInfo) -> Self {
        let micros = i64::try_from(m.duration_micros).unwrap_or(i64::MAX);
        Self {
            recording_id: m.recording_id,
            size_bytes: m.size_bytes,
            duration: Some(archive_common::convert::duration(TimeDelta::microseconds(
                micros,
            ))),
            sha256: m.sha256,
            crc32: m.crc32,
            sample_rate_hz: m.sample_rate_hz,
            bitrate_kbps: m.bitrate_kbps,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mp3::MpegVersion;

    #[test]
    fn round_trips_and_converts() {
        let id = RecordingId::parse("0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f", "r").unwrap();
        let mp3 = Mp3Info {
            version: MpegVersion::Mpeg25,
            sample_rate_hz: 8000,
            channels: 1,
            frames: 125,
            duration: Duration::from_millis(9000),
            bitrate_kbps: 16,
            variable_bitrate: false,
            vbr_header: None,
        };
        let info = MediaInfo::new(id, &mp3, 18_000, [0xab; 32], 0xdead_beef, Utc::now());
        assert_eq!(MediaInfo::from_json(&info.to_json()).unwrap(), info);
        assert!(info.same_content(18_000, &"ab".repeat(32)));
        assert!(!info.same_content(18_001, &"ab".repeat(32)));
        let p = proto::MediaInfo::from(info);
        assert_eq!(p.duration.unwrap().seconds, 9);
        assert_eq!(
            (p.size_bytes, p.crc32, p.sample_rate_hz),
            (18_000, 0xdead_beef, 8000)
        );
    }
}
