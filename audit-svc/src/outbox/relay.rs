//! The relay: drains a service's outbox to audit-svc. Due rows are read in
//! `seq` order, grouped by tenant and appended with `AppendEvents` as the
//! service's system principal of that tenant (audit-svc then takes each
//! event's actor from the event); acknowledged rows are deleted, failed ones
//! retried with backoff. It wakes at once when nudged after a commit, and
//! polls otherwise (rows another replica wrote, backoffs that ended).

use std::{collections::HashMap, sync::Arc, sync::LazyLock, time::Duration};

use archive_common::{
    Clock, Principal,
    log_limit::{EVERY, LogLimit},
    metrics::{Counter, EncodeLabelSet, Family, Gauge, register},
    shutdown::CancellationToken,
};
use archive_proto::v1::AuditEvent;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::{sync::Notify, task::JoinHandle};
use tonic::{Code, Status};

use super::{MAX_EVENTS_PER_APPEND, OutboxStore, Pending};
use crate::client::AuditClient;

/// First retry delay of a failed delivery; it doubles per failure…
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// …up to this.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the relay looks for due rows when nobody nudges it.
const DEFAULT_POLL: Duration = Duration::from_secs(1);
/// Kept of a delivery error in the row (enough to say why).
const ERROR_MAX: usize = 500;

/// While audit-svc or the outbox's database is down every pass fails alike:
/// one line per service and interval (the metrics count every failure).
static DELIVERY_FAILED: LogLimit = LogLimit::new(EVERY);
static UNREADABLE: LogLimit = LogLimit::new(EVERY);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceLabel {
    service: &'static str,
}

struct Metrics {
    pending: Family<ServiceLabel, Gauge>,
    delivered: Family<ServiceLabel, Counter>,
    failures: Family<ServiceLabel, Counter>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    pending: register(
        "audit_outbox_pending",
        "Audit events committed with their changes and not yet acknowledged by audit-svc.",
        Family::default(),
    ),
    delivered: register(
        "audit_outbox_delivered",
        "Audit events audit-svc acknowledged from the outbox (duplicates included).",
        Family::default(),
    ),
    failures: register(
        "audit_outbox_delivery_failures",
        "Audit events whose delivery failed (retried with backoff).",
        Family::default(),
    ),
});

/// Wakes a [`Relay`] at once (after a change with events committed). A
/// default one wakes nothing, for a service built without a relay.
#[derive(Debug, Clone, Default)]
pub struct Nudge(Arc<Notify>);

impl Nudge {
    pub fn nudge(&self) {
        // A nudge while a pass runs is kept, so its rows go in the next pass.
        self.0.notify_one();
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Events audit-svc acknowledged (rows deleted).
    pub delivered: usize,
    /// Events whose delivery failed (rows deferred).
    pub failed: usize,
    /// A full batch was due: more may be waiting.
    pub more: bool,
}

pub struct Relay {
    store: Arc<dyn OutboxStore>,
    audit: Option<AuditClient>,
    service: &'static str,
    clock: Arc<dyn Clock>,
    wake: Nudge,
    poll: Duration,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("service", &self.service)
            .field("audit", &self.audit.is_some())
            .finish_non_exhaustive()
    }
}

/// The delay before the next attempt after `attempts` earlier failures.
fn backoff(attempts: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << attempts.min(16))
        .min(MAX_BACKOFF)
}

/// The trail refused the request itself (an event it will not take): the
/// others of the batch must not wait for that one.
fn is_refusal(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::InvalidArgument | Code::AlreadyExists | Code::FailedPrecondition | Code::OutOfRange
    )
}

fn bounded_error(message: &str) -> String {
    message.chars().take(ERROR_MAX).collect()
}

impl Relay {
    /// A relay of `service`'s outbox (`service` names its system principal,
    /// `system:<service>`, and its metrics). Without `audit` (no audit-svc
    /// URL configured) the rows wait.
    pub fn new(
        store: Arc<dyn OutboxStore>,
        audit: Option<AuditClient>,
        service: &'static str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            audit,
            service,
            clock,
            wake: Nudge::default(),
            poll: DEFAULT_POLL,
        }
    }

    /// Polls every `poll` when not nudged (default 1 s).
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// What the service pokes after committing a change with events.
    pub fn nudge(&self) -> Nudge {
        self.wake.clone()
    }

    /// Delivers what is due now, once. Errors are the outbox's own database
    /// failing; audit-svc failing is counted in the [`Pass`].
    pub async fn deliver_once(&self) -> Result<Pass, sqlx::Error> {
        let Some(audit) = &self.audit else {
            return Ok(Pass::default());
        };
        let now = self.clock.now();
        let due = self.store.due(now, MAX_EVENTS_PER_APPEND as u32).await?;
        let mut pass = Pass {
            more: due.len() >= MAX_EVENTS_PER_APPEND,
            ..Pass::default()
        };
        for (tenant, rows) in by_tenant(due) {
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                match row.event {
                    Ok(event) => events.push((row.seq, row.attempts, event)),
                    Err(why) => {
                        tracing::error!(service = self.service, seq = row.seq, %why, "audit outbox row cannot be decoded");
                        self.failed(&[(row.seq, row.attempts)], now, &why, &mut pass)
                            .await?;
                    }
                }
            }
            self.deliver(audit, &tenant, events, now, &mut pass).await?;
        }
        let pending = self.store.pending().await?;
        METRICS
            .pending
            .get_or_create(&self.label())
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        Ok(pass)
    }

    fn label(&self) -> ServiceLabel {
        ServiceLabel {
            service: self.service,
        }
    }

    /// Appends one tenant's events (all or none); when the trail refuses the
    /// batch, each event goes on its own so only the refused one waits.
    async fn deliver(
        &self,
        audit: &AuditClient,
        tenant: &str,
        events: Vec<(i64, u32, AuditEvent)>,
        now: DateTime<Utc>,
        pass: &mut Pass,
    ) -> Result<(), sqlx::Error> {
        if events.is_empty() {
            return Ok(());
        }
        let caller = Principal::system(tenant, self.service);
        let rows: Vec<(i64, u32)> = events.iter().map(|(s, a, _)| (*s, *a)).collect();
        let batch = events.iter().map(|(_, _, e)| e.clone()).collect();
        match audit.append_events(&caller, batch, None).await {
            Ok(_) => self.delivered(&rows, pass).await,
            Err(status) if rows.len() > 1 && is_refusal(&status) => {
                tracing::warn!(service = self.service, tenant, %status, "audit-svc refused a batch; delivering its events one by one");
                for (seq, attempts, event) in events {
                    match audit.append_events(&caller, vec![event], None).await {
                        Ok(_) => self.delivered(&[(seq, attempts)], pass).await?,
                        Err(status) => {
                            self.failed(&[(seq, attempts)], now, status.message(), pass)
                                .await?
                        }
                    }
                }
                Ok(())
            }
            Err(status) => self.failed(&rows, now, status.message(), pass).await,
        }
    }

    async fn delivered(&self, rows: &[(i64, u32)], pass: &mut Pass) -> Result<(), sqlx::Error> {
        let seqs: Vec<i64> = rows.iter().map(|(s, _)| *s).collect();
        self.store.delivered(&seqs).await?;
        METRICS
            .delivered
            .get_or_create(&self.label())
            .inc_by(rows.len() as u64);
        pass.delivered += rows.len();
        Ok(())
    }

    /// Defers `rows` by the backoff their most-tried row has earned.
    async fn failed(
        &self,
        rows: &[(i64, u32)],
        now: DateTime<Utc>,
        error: &str,
        pass: &mut Pass,
    ) -> Result<(), sqlx::Error> {
        let attempts = rows.iter().map(|(_, a)| *a).max().unwrap_or(0);
        let delay = backoff(attempts);
        let next = now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
        if let Some(repeated) = DELIVERY_FAILED.admit(self.service) {
            tracing::warn!(service = self.service, events = rows.len(), attempts = attempts + 1, retry_in = ?delay, error, repeated, "audit outbox delivery failed");
        }
        let seqs: Vec<i64> = rows.iter().map(|(s, _)| *s).collect();
        self.store
            .failed(&seqs, next, &bounded_error(error))
            .await?;
        METRICS
            .failures
            .get_or_create(&self.label())
            .inc_by(rows.len() as u64);
        pass.failed += rows.len();
        Ok(())
    }

    /// Runs until `shutdown`: a pass when nudged, every poll interval, and at
    /// once again while full batches keep coming. Without an audit-svc URL it
    /// warns once and does not run (the rows wait for a configured start).
    pub fn spawn(self, shutdown: CancellationToken) -> Option<JoinHandle<()>> {
        if self.audit.is_none() {
            tracing::warn!(
                service = self.service,
                "no audit-svc URL configured: audit events stay in the outbox until one is"
            );
            return None;
        }
        Some(tokio::spawn(async move {
            let mut store_failures = 0u32;
            loop {
                let wait = match self.deliver_once().await {
                    Ok(pass) => {
                        store_failures = 0;
                        if pass.more && pass.failed == 0 {
                            if shutdown.is_cancelled() {
                                return;
                            }
                            continue;
                        }
                        self.poll
                    }
                    Err(e) => {
                        if let Some(repeated) = UNREADABLE.admit(self.service) {
                            tracing::error!(service = self.service, error = %e, repeated, "audit outbox cannot be read");
                        }
                        store_failures = store_failures.saturating_add(1);
                        backoff(store_failures - 1)
                    }
                };
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = self.wake.0.notified() => {}
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }))
    }
}

/// Rows grouped by tenant, each group in `seq` order, the groups in the
/// order of their first row.
fn by_tenant(rows: Vec<Pending>) -> Vec<(String, Vec<Pending>)> {
    let mut groups: Vec<(String, Vec<Pending>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in rows {
        match index.get(&row.tenant) {
            Some(&i) => groups[i].1.push(row),
            None => {
                index.insert(row.tenant.clone(), groups.len());
                groups.push((row.tenant.clone(), vec![row]));
            }
        }
    }
    groups
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_thirty() {
        let secs: Vec<u64> = (0..8).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }
}
