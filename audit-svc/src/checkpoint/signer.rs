//! The checkpointer: every interval, and on demand (GetCheckpoint with
//! `create`), it signs each tenant whose chain grew since its newest
//! checkpoint. Before signing it reads the events since that checkpoint and
//! checks that they continue it (the checkpoint's head is still there with
//! the signed hash, every later link and hash holds); if not, it signs
//! nothing, logs an ERROR and counts `archive_audit_checkpoint_tampering`:
//! signing a rewritten trail would launder the rewrite.
//!
//! Several replicas may run it: a checkpoint is only ever created, never
//! replaced, so two replicas signing the same head leave one checkpoint, and
//! overlapping checkpoints (one replica signed 51..=100, another 51..=101)
//! are each a true statement that verification checks.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock},
    time::Duration,
};

use archive_common::{
    Clock,
    metrics::{Counter, register},
    shutdown::CancellationToken,
};
use chrono::SecondsFormat;
use ed25519_dalek::{SigningKey, VerifyingKey};

use super::{
    CheckpointConfig, CheckpointStore, EventHash, FORMAT, Signed, Statement, load_key_file,
    parse_public_key, public_key_hex,
};
use crate::{
    Error,
    chain::{GENESIS, Walker},
    store::{ChainHead, Store},
};

/// The most events one checkpoint covers (its statement is ~47 bytes per
/// event, so at most ~4.7 MB); a longer run since the last one is signed as
/// several consecutive checkpoints.
pub const MAX_EVENTS: usize = 100_000;

/// Events read per query while checking the run to sign.
const CHUNK: u32 = 10_000;

struct Metrics {
    signed: Counter,
    tampering: Counter,
    failures: Counter,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    signed: register(
        "audit_checkpoints_signed",
        "Checkpoints signed and written to the checkpoint store.",
        Counter::default(),
    ),
    tampering: register(
        "audit_checkpoint_tampering",
        "Times a trail disagreed with its newest signed checkpoint (nothing was signed; \
         the log line names tenant and sequence). Alert on any increase.",
        Counter::default(),
    ),
    failures: register(
        "audit_checkpoint_failures",
        "Checkpoint rounds of a tenant that failed on the database or the checkpoint store \
         (retried next interval).",
        Counter::default(),
    ),
});

/// A checkpoint read back and verified: its stored form and its statement.
#[derive(Debug, Clone)]
pub struct Opened {
    pub signed: Signed,
    pub statement: Statement,
}

/// Signs checkpoints with one key into one store.
pub struct Checkpointer {
    key: SigningKey,
    public: VerifyingKey,
    /// `public` first, then earlier keys still trusted.
    trusted: Vec<VerifyingKey>,
    store: CheckpointStore,
    clock: Arc<dyn Clock>,
    max_events: usize,
    /// Per tenant, the newest checkpoint this process wrote or read (sequence,
    /// hash): an unchanged head needs no listing, and a listing starts after
    /// it. The lock also keeps this process to one signing at a time.
    known: tokio::sync::Mutex<HashMap<String, ChainHead>>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("public_key", &public_key_hex(&self.public))
            .field("store", &self.store)
            .finish()
    }
}

impl Checkpointer {
    pub fn new(key: SigningKey, store: CheckpointStore, clock: Arc<dyn Clock>) -> Self {
        Self {
            public: key.verifying_key(),
            trusted: vec![key.verifying_key()],
            key,
            store,
            clock,
            max_events: MAX_EVENTS,
            known: Default::default(),
        }
    }

    /// `None` when neither a key nor a store is configured (no checkpoints);
    /// an error when only one of them is, or either cannot be opened.
    pub fn from_config(
        config: &CheckpointConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Arc<Self>>, Error> {
        match (&config.key_file, &config.store) {
            (None, None) => Ok(None),
            (Some(key), Some(store)) => {
                let earlier = config
                    .trusted_keys
                    .iter()
                    .map(|k| parse_public_key(k))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| Error::Checkpoints(format!("--checkpoint-trusted-keys: {e}")))?;
                let checkpointer = Self::new(
                    load_key_file(key)?,
                    CheckpointStore::open(store, &config.s3)?,
                    clock,
                )
                .with_trusted_keys(earlier);
                Ok(Some(Arc::new(checkpointer)))
            }
            (Some(_), None) => Err(Error::Checkpoints(
                "--checkpoint-key-file (AUDIT_CHECKPOINT_KEY_FILE) is set but \
                 --checkpoint-store (AUDIT_CHECKPOINT_STORE) is not: set both, or neither"
                    .into(),
            )),
            (None, Some(_)) => Err(Error::Checkpoints(
                "--checkpoint-store (AUDIT_CHECKPOINT_STORE) is set but \
                 --checkpoint-key-file (AUDIT_CHECKPOINT_KEY_FILE) is not: set both, or neither"
                    .into(),
            )),
        }
    }

    /// Checkpoints cover at most `n` events each (tests and benchmarks).
    pub fn with_max_events(mut self, n: usize) -> Self {
        self.max_events = n.max(1);
        self
    }

    /// Also trusts checkpoints signed with `earlier` keys (a rotation).
    pub fn with_trusted_keys(mut self, earlier: Vec<VerifyingKey>) -> Self {
        self.trusted.truncate(1);
        self.trusted.extend(earlier);
        self
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.public
    }

    /// The signing key's public half, then the earlier keys still trusted.
    pub fn trusted_keys(&self) -> &[VerifyingKey] {
        &self.trusted
    }

    pub fn store(&self) -> &CheckpointStore {
        &self.store
    }

    /// The newest checkpoint of `tenant`, verified with a trusted key.
    pub async fn latest(&self, tenant: &str) -> Result<Option<Opened>, Error> {
        let known = self.known.lock().await;
        let hint = known.get(tenant).map(|k| k.last_sequence);
        drop(known);
        self.newest(tenant, hint).await
    }

    /// Signs `tenant`'s chain up to its current head if it grew, and answers
    /// the newest checkpoint (`None`: the trail is empty). A trail that does
    /// not continue its newest checkpoint is not signed: `Error::DataLoss`.
    pub async fn sign(&self, events: &dyn Store, tenant: &str) -> Result<Option<Opened>, Error> {
        let mut known = self.known.lock().await;
        let hint = known.get(tenant).map(|k| k.last_sequence);
        // The checkpoint first, then the head: a checkpoint another replica
        // signs in between then signs at most this head, never beyond it.
        let latest = self.newest(tenant, hint).await?;
        let head = events.head(tenant).await?;
        let Some(head) = head else {
            return match latest {
                None => Ok(None),
                Some(l) => Err(tampering(
                    tenant,
                    format!(
                        "checkpoint {0} signed the trail up to {0} but it has no events",
                        l.statement.sequence
                    ),
                )),
            };
        };
        let (mut previous, anchor) = match &latest {
            None => (0, GENESIS.to_owned()),
            Some(l) => {
                self.check_continues(events, tenant, &l.statement, &head)
                    .await?;
                (l.statement.sequence, l.statement.hash.clone())
            }
        };
        let mut newest = latest;
        let mut walker = Walker::new(previous + 1, anchor);
        let mut pending: Vec<EventHash> = Vec::new();
        while walker.next_sequence() <= head.last_sequence {
            let next = walker.next_sequence();
            let chunk = events
                .range(tenant, next, head.last_sequence, CHUNK)
                .await?;
            if chunk.is_empty() {
                return Err(tampering(tenant, format!("event {next} is missing")));
            }
            for event in chunk {
                walker.check(&event).map_err(|bad| {
                    tampering(tenant, format!("event {}: {}", bad.sequence, bad.problem))
                })?;
                pending.push(EventHash::from_hex(&event.hash).expect("a checked hash is hex"));
                if pending.len() >= self.max_events || event.sequence == head.last_sequence {
                    let hashes = std::mem::take(&mut pending);
                    let opened = self.write(tenant, previous, &event.hash, hashes).await?;
                    previous = opened.statement.sequence;
                    newest = Some(opened);
                }
            }
        }
        if let Some(n) = &newest {
            known.insert(
                tenant.to_owned(),
                ChainHead {
                    last_sequence: n.statement.sequence,
                    last_hash: n.statement.hash.clone(),
                },
            );
        }
        Ok(newest)
    }

    /// Signs every tenant whose head moved since its newest checkpoint known
    /// here; failures are logged and counted, and retried next round.
    /// Answers how many tenants were signed or already up to date.
    pub async fn sign_all(&self, events: &dyn Store) -> usize {
        let tenants = match events.tenants().await {
            Ok(tenants) => tenants,
            Err(e) => {
                METRICS.failures.inc();
                tracing::warn!(error = %e, "checkpoints: cannot list the tenants");
                return 0;
            }
        };
        let mut done = 0;
        for tenant in tenants {
            let unchanged = match events.head(&tenant).await {
                Ok(head) => head.is_some() && head == self.known.lock().await.get(&tenant).cloned(),
                Err(_) => false,
            };
            if unchanged {
                done += 1;
                continue;
            }
            match self.sign(events, &tenant).await {
                Ok(_) => done += 1,
                // Logged and counted where it was found.
                Err(Error::DataLoss(_)) => {}
                Err(e) => {
                    METRICS.failures.inc();
                    tracing::warn!(%tenant, error = %e, "checkpoint not signed; retried next interval");
                }
            }
        }
        done
    }

    /// Runs [`Self::sign_all`] every `interval` (the first at once) until `shutdown`.
    pub fn spawn(
        self: Arc<Self>,
        events: Arc<dyn Store>,
        interval: Duration,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = self.sign_all(events.as_ref()) => {}
                }
            }
        })
    }

    /// The newest checkpoint, listing after `hint` (one this process wrote
    /// or read) when given; it must verify with a trusted key.
    async fn newest(&self, tenant: &str, hint: Option<u64>) -> Result<Option<Opened>, Error> {
        let listed = self.store.list(tenant, hint).await?.pop();
        let Some(sequence) = listed.or(hint) else {
            return Ok(None);
        };
        match self.store.get(tenant, sequence).await? {
            Some(bytes) => self.open(tenant, sequence, &bytes).map(Some),
            // Checkpoints are never deleted by audit-svc.
            None if listed.is_none() => Err(tampering(
                tenant,
                format!("checkpoint {sequence} is gone from the checkpoint store"),
            )),
            None => Err(Error::Unavailable(format!(
                "checkpoint {sequence} was listed but cannot be read"
            ))),
        }
    }

    fn open(&self, tenant: &str, sequence: u64, bytes: &[u8]) -> Result<Opened, Error> {
        let opened = Signed::parse(bytes).and_then(|signed| {
            let statement = signed.open(&self.trusted)?;
            if statement.tenant != tenant || statement.sequence != sequence {
                return Err(format!(
                    "its statement is for tenant {:?}, sequence {}",
                    statement.tenant, statement.sequence
                ));
            }
            Ok(Opened { signed, statement })
        });
        opened.map_err(|why| tampering(tenant, format!("checkpoint {sequence}: {why}")))
    }

    /// The trail still holds what `checkpoint` signed at its head, and does
    /// not end before it.
    async fn check_continues(
        &self,
        events: &dyn Store,
        tenant: &str,
        checkpoint: &Statement,
        head: &ChainHead,
    ) -> Result<(), Error> {
        let n = checkpoint.sequence;
        if head.last_sequence < n {
            return Err(tampering(
                tenant,
                format!(
                    "checkpoint {n} signed the trail up to {n} but it ends at {}",
                    head.last_sequence
                ),
            ));
        }
        match events.range(tenant, n, n, 1).await?.pop() {
            Some(event) if event.hash == checkpoint.hash => Ok(()),
            Some(_) => Err(tampering(
                tenant,
                format!("event {n}'s hash differs from the one checkpoint {n} signed"),
            )),
            None => Err(tampering(
                tenant,
                format!("event {n} is missing but checkpoint {n} signed it"),
            )),
        }
    }

    /// Signs events `previous + 1 ..` (their `hashes`, the last being
    /// `head_hash`) and stores the checkpoint; if another writer stored this
    /// head first, answers theirs.
    async fn write(
        &self,
        tenant: &str,
        previous: u64,
        head_hash: &str,
        hashes: Vec<EventHash>,
    ) -> Result<Opened, Error> {
        let sequence = previous + hashes.len() as u64;
        let statement = Statement {
            format: FORMAT.to_owned(),
            tenant: tenant.to_owned(),
            from_sequence: previous + 1,
            sequence,
            hash: head_hash.to_owned(),
            previous_checkpoint_sequence: previous,
            sign_time: self
                .clock
                .now()
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            public_key: public_key_hex(&self.public),
            event_hashes: hashes,
        };
        let signed = Signed::sign(&statement, &self.key);
        if self.store.put(tenant, sequence, signed.to_line()).await? {
            METRICS.signed.inc();
            tracing::info!(
                %tenant,
                from_sequence = previous + 1,
                sequence,
                "checkpoint signed"
            );
            return Ok(Opened { signed, statement });
        }
        let theirs = self.store.get(tenant, sequence).await?.ok_or_else(|| {
            Error::Unavailable(format!("checkpoint {sequence} exists but cannot be read"))
        })?;
        self.open(tenant, sequence, &theirs)
    }
}

/// The trail disagrees with what was signed: logged, counted, not signed.
fn tampering(tenant: &str, problem: String) -> Error {
    METRICS.tampering.inc();
    tracing::error!(
        %tenant,
        %problem,
        "audit trail does not match its signed checkpoint: not signing; investigate"
    );
    Error::DataLoss(format!(
        "the trail does not match its signed checkpoints: {problem}"
    ))
}
