//! Remembered metadata for playback. Every playback request needs the
//! recording's metadata (size, SHA-256) before it can answer; on S3 reading
//! the sidecar doubled the store requests of a seek. So the metadata is kept
//! for a short while together with the version (ETag) of the audio object
//! it was served with, and the next read of the audio is made with
//! `If-Match` on that version: a recording deleted since fails that read
//! (404), one replaced since fails the precondition and is looked up afresh.
//! Only a delete that crashed half way (metadata gone, audio left) can stay
//! playable here, for at most [`INFO_TTL`].

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use archive_common::Clock;
use chrono::{DateTime, Utc};

use crate::info::MediaInfo;

/// How long metadata is remembered.
pub const INFO_TTL: Duration = Duration::from_secs(30);
/// Most recordings remembered at once (a few hundred bytes each).
pub const INFO_CACHE_ENTRIES: usize = 10_000;

/// Metadata and the version of the audio object it was served with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remembered {
    pub(crate) info: MediaInfo,
    pub(crate) version: String,
}

pub(crate) struct InfoCache {
    entries: Mutex<HashMap<String, (Remembered, DateTime<Utc>)>>,
    ttl: Duration,
    max_entries: usize,
    clock: Arc<dyn Clock>,
}

impl InfoCache {
    pub(crate) fn new(ttl: Duration, max_entries: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            ttl,
            max_entries: max_entries.max(1),
            clock,
        }
    }

    /// Whether an entry remembered `at` is still fresh.
    fn fresh(&self, at: DateTime<Utc>) -> bool {
        (self.clock.now() - at).to_std().unwrap_or(Duration::ZERO) < self.ttl
    }

    pub(crate) fn get(&self, key: &str) -> Option<Remembered> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some((remembered, at)) if self.fresh(*at) => Some(remembered.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&self, key: &str, remembered: Remembered) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.max_entries && !entries.contains_key(key) {
            entries.retain(|_, (_, at)| self.fresh(*at));
            if entries.len() >= self.max_entries {
                // Still full of live entries: start over rather than track recency.
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (remembered, self.clock.now()));
    }

    pub(crate) fn forget(&self, key: &str) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{keys::RecordingId, mp3::Mp3Info};

    fn remembered(version: &str) -> Remembered {
        let id = RecordingId::parse("0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f", "r").unwrap();
        let mp3 = Mp3Info {
            version: crate::mp3::MpegVersion::Mpeg1,
            sample_rate_hz: 44_100,
            channels: 2,
            frames: 10,
            duration: Duration::from_millis(261),
            bitrate_kbps: 128,
            variable_bitrate: false,
            vbr_header: None,
        };
        Remembered {
            info: MediaInfo::new(id, &mp3, 4180, [1; 32], 7, Utc::now()),
            version: version.into(),
        }
    }

    #[test]
    fn entries_expire_and_are_forgotten() {
        let clock = Arc::new(archive_common::ManualClock::new(Utc::now()));
        let cache = InfoCache::new(Duration::from_millis(50), 10, clock.clone());
        cache.put("a", remembered("v1"));
        assert_eq!(cache.get("a").unwrap().version, "v1");
        cache.forget("a");
        assert!(cache.get("a").is_none());
        cache.put("a", remembered("v2"));
        clock.advance(chrono::Duration::milliseconds(60));
        assert!(cache.get("a").is_none());
        assert_eq!(cache.len(), 0, "an expired entry is dropped when met");
    }

    #[test]
    fn size_is_bounded() {
        let cache = InfoCache::new(
            Duration::from_secs(60),
            3,
            Arc::new(archive_common::SystemClock),
        );
        for key in ["a", "b", "c", "d", "e"] {
            cache.put(key, remembered(key));
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.get("e").unwrap().version, "e");
        // Replacing a present key never evicts.
        cache.put("e", remembered("e2"));
        assert_eq!(cache.get("e").unwrap().version, "e2");
    }
}
