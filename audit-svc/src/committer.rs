//! Group commit: appends wait in a queue, and a worker takes everything
//! queued (up to [`MAX_BATCH`]) and commits it in ONE transaction, so one WAL
//! flush makes a whole batch durable. Every caller is answered only after its
//! batch's commit returned; if the batch fails, every caller in it gets the
//! error and must treat its event as not recorded.
//!
//! Tenants are spread over the workers by a hash of the tenant: one tenant's
//! appends all go through one worker, because its batches serialise on the
//! tenant's chain head anyway (so one worker batches them best), while
//! different tenants commit in parallel.

use std::{
    collections::hash_map::DefaultHasher,
    hash::{Hash, Hasher},
    sync::Arc,
};

use tokio::sync::{mpsc, oneshot};

use crate::{
    Error,
    event::{Appended, EventBody},
    metrics::METRICS,
    store::Store,
};

/// Events per transaction at most.
pub(crate) const MAX_BATCH: usize = 1000;
const QUEUE: usize = 4096;

struct Job {
    event: EventBody,
    reply: oneshot::Sender<Result<Appended, Error>>,
}

#[derive(Clone)]
pub(crate) struct Committer {
    queues: Arc<[mpsc::Sender<Job>]>,
}

impl Committer {
    /// Starts the store's number of workers; they stop when the last
    /// `Committer` clone is dropped and their queue is drained.
    pub(crate) fn start(store: Arc<dyn Store>) -> Self {
        let queues = (0..store.writers().max(1))
            .map(|_| {
                let (jobs, queue) = mpsc::channel(QUEUE);
                tokio::spawn(work(store.clone(), queue));
                jobs
            })
            .collect();
        Self { queues }
    }

    /// Appends one event; answers once it is durably committed.
    pub(crate) async fn append(&self, event: EventBody) -> Result<Appended, Error> {
        let mut hasher = DefaultHasher::new();
        event.tenant.hash(&mut hasher);
        let queue = &self.queues[(hasher.finish() % self.queues.len() as u64) as usize];
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::Unavailable("the audit trail is shutting down".into());
        queue
            .send(Job { event, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn work(store: Arc<dyn Store>, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut jobs, MAX_BATCH).await > 0 {
        let (events, replies): (Vec<EventBody>, Vec<_>) =
            jobs.drain(..).map(|j| (j.event, j.reply)).unzip();
        let started = std::time::Instant::now();
        let result = store.append(&events).await;
        METRICS.committed(
            events.len(),
            started.elapsed().as_secs_f64(),
            result.is_ok(),
        );
        match result {
            Ok(acks) => {
                for (reply, ack) in replies.into_iter().zip(acks) {
                    let _ = reply.send(Ok(ack));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = events.len(), "audit batch not committed");
                let e = Arc::new(e);
                for reply in replies {
                    let _ = reply.send(Err(Error::Batch(e.clone())));
                }
            }
        }
    }
}
