//! Recordings media-svc must not serve, whatever the store still holds. A
//! recording is buried before its files are deleted and stays buried until
//! the store confirms the deletion, so a delete the store fails (S3 down)
//! leaves nothing playable behind; once the files are gone the store itself
//! answers "not found" and the tombstone goes. Every playback request (each
//! Range request is one), every gRPC read and metadata look-up asks here
//! before the store; a body already on its way is cut at its next piece
//! (see [`Revocation`]).
//!
//! After a start with an archive-svc URL the set is *unsettled*: deletions
//! may have been queued while media-svc was down, so nothing is served
//! until they are read and buried (`pending`), then [`Tombstones::settle`].
//!
//! The caches in front of the store need no eviction for this: the grant
//! cache only says which recording a token names (the tombstone is asked
//! next), and the store forgets a deleted recording's metadata and open
//! file when it deletes it.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use bytes::Bytes;
use futures::{StreamExt, stream};

use crate::{Error, keys::RecordingKeys, storage::ByteStream};

/// Why a recording may not be served now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unservable {
    #[error("the recording is deleted")]
    Deleted,
    #[error("media-svc is still reading the deletions queued while it was down")]
    Unsettled,
}

impl Unservable {
    /// The error a request about the recording `keys` answers.
    pub fn error(self, keys: &RecordingKeys) -> Error {
        match self {
            // Deleted is what the caller is told whether the files are gone yet or not.
            Self::Deleted => Error::NotFound(keys.id().to_string()),
            Self::Unsettled => Error::Unsettled,
        }
    }
}

#[derive(Debug)]
pub struct Tombstones {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    settled: bool,
    /// Audio keys of the recordings buried.
    buried: HashSet<String>,
    /// The flags of the bodies on their way, per audio key, with when each
    /// started: set when the recording is buried.
    streams: HashMap<String, Vec<Stream>>,
}

/// A body on its way: its flag, and when it was checked.
#[derive(Debug)]
struct Stream {
    revoked: Weak<AtomicBool>,
    since: Instant,
}

impl Stream {
    fn is_live(&self) -> bool {
        self.revoked.strong_count() > 0
    }
}

impl Tombstones {
    /// A set that knows every deletion there is to know (no archive-svc to ask).
    pub fn settled() -> Self {
        Self::with(true)
    }

    /// A set that serves nothing until [`Tombstones::settle`].
    pub fn unsettled() -> Self {
        Self::with(false)
    }

    fn with(settled: bool) -> Self {
        Self {
            state: Mutex::new(State {
                settled,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every deletion queued before now is buried: recordings may be served.
    pub fn settle(&self) {
        self.state().settled = true;
    }

    pub fn is_settled(&self) -> bool {
        self.state().settled
    }

    /// Whether the recording may be served now.
    pub fn check(&self, keys: &RecordingKeys) -> Result<(), Unservable> {
        self.state().check(keys.audio.as_ref())
    }

    /// Makes the recording unservable, cutting the bodies on their way.
    pub fn bury(&self, keys: &RecordingKeys) {
        let key = keys.audio.as_ref();
        let mut state = self.state();
        revoke(state.streams.remove(key));
        state.buried.insert(key.to_owned());
    }

    /// Stops the bodies of `audio_key` on their way without burying it (its
    /// object is gone from the store: deleted through another replica).
    pub fn stop_streams(&self, audio_key: &str) {
        revoke(self.state().streams.remove(audio_key));
    }

    /// The audio keys with a body on its way for longer than `age` (what
    /// the store is asked about now and then, see `MediaStore::spawn_recheck`).
    pub fn streaming_for(&self, age: std::time::Duration) -> Vec<String> {
        let mut state = self.state();
        state.streams.retain(|_, streams| {
            streams.retain(Stream::is_live);
            !streams.is_empty()
        });
        state
            .streams
            .iter()
            .filter(|(_, streams)| streams.iter().any(|s| s.since.elapsed() >= age))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// The recording's files are confirmed gone: the store answers for it now.
    pub fn unbury(&self, keys: &RecordingKeys) {
        self.state().buried.remove(keys.audio.as_ref());
    }

    /// How many recordings are buried (deletions not confirmed yet).
    pub fn len(&self) -> usize {
        self.state().buried.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Tombstones::check`] for a body about to be sent: when the
    /// recording may be served, a [`Revocation`] that says when it is
    /// buried from now on. Checking and registering under one lock leaves no
    /// gap for a burial to fall into.
    pub fn watch(self: &Arc<Self>, keys: &RecordingKeys) -> Result<Revocation, Unservable> {
        let key = keys.audio.as_ref();
        let revoked = Arc::new(AtomicBool::new(false));
        let mut state = self.state();
        state.check(key)?;
        let streams = state.streams.entry(key.to_owned()).or_default();
        streams.retain(Stream::is_live);
        streams.push(Stream {
            revoked: Arc::downgrade(&revoked),
            since: Instant::now(),
        });
        drop(state);
        Ok(Revocation {
            watch: Some(Arc::new(Watch {
                revoked,
                key: key.to_owned(),
                owner: Arc::downgrade(self),
            })),
            until: None,
        })
    }

    fn unregister(&self, key: &str, revoked: &Arc<AtomicBool>) {
        let mut state = self.state();
        if let Some(streams) = state.streams.get_mut(key) {
            streams
                .retain(|s| s.is_live() && !std::ptr::eq(s.revoked.as_ptr(), Arc::as_ptr(revoked)));
            if streams.is_empty() {
                state.streams.remove(key);
            }
        }
    }

    #[cfg(test)]
    fn watched(&self) -> usize {
        self.state().streams.values().map(Vec::len).sum()
    }
}

/// Stops every body of `streams`.
fn revoke(streams: Option<Vec<Stream>>) {
    for flag in streams
        .into_iter()
        .flatten()
        .filter_map(|s| s.revoked.upgrade())
    {
        flag.store(true, Ordering::Release);
    }
}

impl State {
    fn check(&self, key: &str) -> Result<(), Unservable> {
        if !self.settled {
            Err(Unservable::Unsettled)
        } else if self.buried.contains(key) {
            Err(Unservable::Deleted)
        } else {
            Ok(())
        }
    }
}

/// Whether a body on its way must stop: its recording was buried since it
/// was checked, or (when set) the grant it is sent under has expired. Cheap
/// to ask before every piece (an atomic load and a clock read). Clones share
/// one registration, which ends when the last is dropped.
#[derive(Debug, Clone, Default)]
pub struct Revocation {
    watch: Option<Arc<Watch>>,
    until: Option<Instant>,
}

#[derive(Debug)]
struct Watch {
    revoked: Arc<AtomicBool>,
    key: String,
    owner: Weak<Tombstones>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.upgrade() {
            owner.unregister(&self.key, &self.revoked);
        }
    }
}

impl Revocation {
    /// A body that is never cut (tests, and bodies of no recording).
    pub fn never() -> Self {
        Self::default()
    }

    /// Also stops the body at `until` (the expiry of the grant it goes under).
    pub fn until(mut self, until: Instant) -> Self {
        self.until = Some(until);
        self
    }

    pub fn is_revoked(&self) -> bool {
        self.watch
            .as_ref()
            .is_some_and(|w| w.revoked.load(Ordering::Acquire))
            || self.until.is_some_and(|t| Instant::now() >= t)
    }

    /// `Ok` while the body may go on; the I/O error that ends it otherwise.
    pub fn check_io(&self) -> std::io::Result<()> {
        if self.is_revoked() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the recording was deleted or its grant expired while it was being sent",
            ));
        }
        Ok(())
    }

    /// `bytes`, asked before every piece whether it may go on: a revoked
    /// body ends with an error (the transport then breaks off the answer,
    /// so the receiver knows it is incomplete). A large piece (the memory
    /// store hands out a recording in one) goes in parts of at most
    /// [`GUARDED_PIECE_BYTES`], each asked for.
    pub fn guard(self, bytes: ByteStream) -> ByteStream {
        let state = Some((bytes, Bytes::new(), self));
        stream::unfold(state, |state| async move {
            let (mut bytes, mut left, revocation) = state?;
            if left.is_empty() {
                left = match bytes.next().await? {
                    Ok(piece) => piece,
                    Err(e) => return Some((Err(e), None)),
                };
            }
            if revocation.is_revoked() {
                return Some((Err(Error::Revoked), None));
            }
            let piece = left.split_to(left.len().min(GUARDED_PIECE_BYTES));
            Some((Ok(piece), Some((bytes, left, revocation))))
        })
        .boxed()
    }
}

/// The most a guarded body sends between two questions.
pub const GUARDED_PIECE_BYTES: usize = 256 * 1024;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::keys::RecordingId;

    fn keys(tenant: &str, id: &str) -> RecordingKeys {
        RecordingKeys::new(tenant, RecordingId::parse(id, "r").unwrap())
    }

    const A: &str = "0b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f";
    const B: &str = "1b7e6a8c-3f0e-4c1a-9d2e-5b6a7c8d9e0f";

    #[test]
    fn a_buried_recording_is_unservable_until_its_deletion_is_confirmed() {
        let set = Tombstones::settled();
        let a = keys("10009", A);
        assert_eq!(set.check(&a), Ok(()));
        set.bury(&a);
        assert_eq!(set.check(&a), Err(Unservable::Deleted));
        // Another recording, and the same id of another tenant, are not.
        assert_eq!(set.check(&keys("10009", B)), Ok(()));
        assert_eq!(set.check(&keys("10010", A)), Ok(()));
        // Burying twice is one tombstone.
        set.bury(&a);
        assert_eq!(set.len(), 1);
        set.unbury(&a);
        assert_eq!(set.check(&a), Ok(()));
        assert!(set.is_empty());
    }

    #[test]
    fn an_unsettled_set_serves_nothing_and_keeps_its_burials_when_settled() {
        let set = Arc::new(Tombstones::unsettled());
        let (a, b) = (keys("10009", A), keys("10009", B));
        assert_eq!(set.check(&b), Err(Unservable::Unsettled));
        assert!(matches!(set.watch(&b), Err(Unservable::Unsettled)));
        set.bury(&a);
        assert_eq!(set.check(&a), Err(Unservable::Unsettled));
        set.settle();
        assert!(set.is_settled());
        assert_eq!(set.check(&a), Err(Unservable::Deleted));
        assert_eq!(set.check(&b), Ok(()));
        assert!(matches!(Unservable::Unsettled.error(&a), Error::Unsettled));
        assert!(matches!(Unservable::Deleted.error(&a), Error::NotFound(id) if id == A));
    }

    #[test]
    fn burying_revokes_the_bodies_on_their_way_and_only_theirs() {
        let set = Arc::new(Tombstones::settled());
        let (a, b) = (keys("10009", A), keys("10009", B));
        let first = set.watch(&a).unwrap();
        let second = first.clone();
        let other = set.watch(&b).unwrap();
        assert!(!first.is_revoked());
        set.bury(&a);
        assert!(first.is_revoked() && second.is_revoked());
        assert!(first.check_io().is_err());
        assert!(!other.is_revoked());
        assert!(other.check_io().is_ok());
        // After the burial, a new body is refused outright.
        assert!(matches!(set.watch(&a), Err(Unservable::Deleted)));
        // Registrations end with the bodies.
        drop((first, second));
        assert_eq!(set.watched(), 1);
        drop(other);
        assert_eq!(set.watched(), 0);
    }

    #[test]
    fn long_bodies_are_listed_and_stopped_without_a_burial() {
        let set = Arc::new(Tombstones::settled());
        let (a, b) = (keys("10009", A), keys("10009", B));
        let long = set.watch(&a).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let short = set.watch(&b).unwrap();
        assert_eq!(
            set.streaming_for(Duration::from_millis(20)),
            [a.audio.as_ref().to_owned()]
        );
        set.stop_streams(a.audio.as_ref());
        assert!(long.is_revoked() && !short.is_revoked());
        assert_eq!(set.check(&a), Ok(()), "stopped, not buried");
        drop((long, short));
        assert!(set.streaming_for(Duration::ZERO).is_empty());
    }

    #[test]
    fn a_revocation_with_a_deadline_expires() {
        let soon = Revocation::never().until(Instant::now() + Duration::from_millis(30));
        assert!(!soon.is_revoked());
        std::thread::sleep(Duration::from_millis(40));
        assert!(soon.is_revoked());
        assert!(!Revocation::never().is_revoked());
    }

    #[tokio::test]
    async fn a_guarded_stream_stops_at_the_first_piece_after_the_burial() {
        let set = Arc::new(Tombstones::settled());
        let a = keys("10009", A);
        let revocation = set.watch(&a).unwrap();
        let pieces: Vec<Result<Bytes, Error>> =
            (0..3).map(|i| Ok(Bytes::from(vec![i; 4]))).collect();
        let mut guarded = revocation.guard(stream::iter(pieces).boxed());
        assert_eq!(
            guarded.next().await.unwrap().unwrap(),
            Bytes::from(vec![0; 4])
        );
        set.bury(&a);
        assert!(matches!(guarded.next().await, Some(Err(Error::Revoked))));
        assert!(guarded.next().await.is_none(), "nothing after the cut");
    }

    #[tokio::test]
    async fn a_large_piece_is_guarded_in_parts() {
        let set = Arc::new(Tombstones::settled());
        let a = keys("10009", A);
        let whole = Bytes::from(vec![7; 2 * GUARDED_PIECE_BYTES + 10]);
        let one: ByteStream = stream::iter([Ok(whole)]).boxed();
        let mut guarded = set.watch(&a).unwrap().guard(one);
        let first = guarded.next().await.unwrap().unwrap();
        assert_eq!(first.len(), GUARDED_PIECE_BYTES);
        set.bury(&a);
        assert!(matches!(guarded.next().await, Some(Err(Error::Revoked))));
        assert!(guarded.next().await.is_none());

        // Unrevoked, the parts add up to the piece.
        let b = keys("10009", B);
        let one: ByteStream =
            stream::iter([Ok(Bytes::from(vec![1; GUARDED_PIECE_BYTES + 1]))]).boxed();
        let parts: Vec<usize> = set
            .watch(&b)
            .unwrap()
            .guard(one)
            .map(|p| p.unwrap().len())
            .collect()
            .await;
        assert_eq!(parts, [GUARDED_PIECE_BYTES, 1]);
    }
}
