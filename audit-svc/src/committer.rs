//! Group commit: appends wait in a queue, and a worker takes everything
//! queued (up to [`MAX_BATCH`] events) and commits it in ONE transaction, so
//! one WAL flush makes a whole batch durable. A job is one request's group of
//! events, committed all or none within the batch. Every caller is answered
//! only after its batch's commit returned; if the batch fails as a whole,
//! every caller in it gets the error and must treat its events as not
//! recorded.
//!
//! Jobs with a commit deadline: one already past when the batch starts is
//! answered DEADLINE_EXCEEDED; one that passes during the transaction makes
//! it roll back and run again without it ([`Store::append_groups`]). A job
//! whose caller has gone is not appended at all.
//!
//! Tenants are spread over the workers by a hash of the tenant: one tenant's
//! appends all go through one worker, because its batches serialise on the
//! tenant's lock anyway (so one worker batches them best), while different
//! tenants commit in parallel.

use std::{
    collections::{VecDeque, hash_map::DefaultHasher},
    hash::{Hash, Hasher},
    sync::Arc,
};

use archive_common::Clock;
use tokio::sync::{mpsc, oneshot};

use crate::{
    Error,
    event::Appended,
    metrics::METRICS,
    store::{Group, Store},
};

/// Events per transaction at most (a larger group commits alone).
pub(crate) const MAX_BATCH: usize = 1000;
const QUEUE: usize = 4096;

struct Job {
    group: Group,
    reply: oneshot::Sender<Result<Vec<Appended>, Error>>,
}

#[derive(Clone)]
pub(crate) struct Committer {
    queues: Arc<[mpsc::Sender<Job>]>,
}

impl Committer {
    /// Starts the store's number of workers; they stop when the last
    /// `Committer` clone is dropped and their queue is drained.
    pub(crate) fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let queues = (0..store.writers().max(1))
            .map(|_| {
                let (jobs, queue) = mpsc::channel(QUEUE);
                tokio::spawn(work(store.clone(), clock.clone(), queue));
                jobs
            })
            .collect();
        Self { queues }
    }

    /// Appends one group (all of one tenant); answers its receipts once they
    /// are durably committed.
    pub(crate) async fn append(&self, group: Group) -> Result<Vec<Appended>, Error> {
        let mut hasher = DefaultHasher::new();
        group
            .events
            .first()
            .map(|e| e.tenant.as_str())
            .hash(&mut hasher);
        let queue = &self.queues[(hasher.finish() % self.queues.len() as u64) as usize];
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::Unavailable("the audit trail is shutting down".into());
        queue
            .send(Job { group, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn work(store: Arc<dyn Store>, clock: Arc<dyn Clock>, mut queue: mpsc::Receiver<Job>) {
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        if waiting.is_empty() {
            match queue.recv().await {
                Some(job) => waiting.push_back(job),
                None => return,
            }
        }
        while let Ok(job) = queue.try_recv() {
            waiting.push_back(job);
        }
        // Whole jobs up to MAX_BATCH events; at least one, however large.
        let mut jobs = Vec::new();
        let mut events = 0;
        while let Some(job) = waiting.front() {
            let n = job.group.events.len();
            if !jobs.is_empty() && events + n > MAX_BATCH {
                break;
            }
            events += n;
            jobs.extend(waiting.pop_front());
        }
        commit(store.as_ref(), clock.as_ref(), jobs).await;
    }
}

async fn commit(store: &dyn Store, clock: &dyn Clock, jobs: Vec<Job>) {
    // A caller that has gone (cancelled, timed out) is told nothing, so its
    // events must not be recorded either.
    let (groups, replies): (Vec<Group>, Vec<_>) = jobs
        .into_iter()
        .filter(|job| !job.reply.is_closed())
        .map(|job| (job.group, job.reply))
        .unzip();
    if groups.is_empty() {
        return;
    }
    let events: usize = groups.iter().map(|g| g.events.len()).sum();
    let started = std::time::Instant::now();
    let result = store.append_groups(&groups, clock).await;
    METRICS.batch(events, started.elapsed().as_secs_f64());
    match result {
        Ok(outcomes) => {
            for ((group, reply), outcome) in groups.iter().zip(replies).zip(outcomes) {
                match &outcome {
                    Ok(receipts) => {
                        let duplicates = receipts.iter().filter(|r| r.duplicate).count();
                        METRICS.outcome("committed", receipts.len() - duplicates);
                        METRICS.outcome("duplicate", duplicates);
                    }
                    Err(Error::DeadlineExceeded) => METRICS.outcome("expired", group.events.len()),
                    Err(_) => METRICS.outcome("refused", group.events.len()),
                }
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events, "audit batch not committed");
            METRICS.outcome("failed", events);
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(Error::Batch(e.clone())));
            }
        }
    }
}
