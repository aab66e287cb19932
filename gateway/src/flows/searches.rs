//! The audit of searches: one SEARCH_PERFORMED event per search request (not
//! per row) saying who searched with which filter, unless the tenant turned
//! it off. A search has no effect to undo, so its event is not worth a
//! round trip on every result page: events queue here and a worker appends
//! what gathered in [`LINGER`] in one batch (one `AppendEvents` per tenant,
//! as the system principal `system:gateway` naming the user as actor). The queue is
//! bounded: when the trail cannot keep up, searches are refused
//! (UNAVAILABLE) rather than left unrecorded. What a crash of the gateway
//! loses is what was queued and not yet appended (normally under 100 ms of
//! searches); docs/OPERATIONS.md says so.

use std::{collections::BTreeMap, time::Duration};

use archive_common::{Principal, shutdown::CancellationToken};
use archive_proto::v1 as pb;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::Actor;
use crate::{Error, upstream::Upstreams};

/// Searches waiting to be recorded, at most.
const QUEUE: usize = 20_000;
/// Events per append at most.
const BATCH: usize = 500;
/// How long the worker lets searches gather after the first one: one
/// append (one durable commit) for every search of that time rather than
/// one per search, which on a busy gateway costs more than the searches.
const LINGER: Duration = Duration::from_millis(100);
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// Where searches are recorded.
#[derive(Clone)]
pub struct SearchAudit {
    queue: mpsc::Sender<pb::AuditEvent>,
}

impl SearchAudit {
    /// Starts the worker; it appends what is queued until `shutdown`, then
    /// what is left.
    pub fn start(audit: Upstreams, shutdown: CancellationToken) -> Self {
        let (queue, events) = mpsc::channel(QUEUE);
        tokio::spawn(work(audit, events, shutdown));
        Self { queue }
    }

    /// Queues the event of a search by `actor` with `filter` (or of "My call
    /// recordings" when `filter` is None). Refuses the search when the queue
    /// is full.
    pub fn record(
        &self,
        actor: &Actor,
        filter: Option<&pb::CallFilter>,
        order: i32,
        next_page: bool,
    ) -> Result<(), Error> {
        let mut detail = match filter {
            Some(f) => describe(f, order),
            None => json!({"my_call_recordings": true}),
        };
        if next_page {
            detail["page"] = json!("next");
        }
        let detail = detail.to_string();
        let event = pb::AuditEvent {
            kind: pb::AuditEventKind::SearchPerformed as i32,
            actor_id: actor.principal.user_id.clone(),
            actor_display_name: actor.principal.display_name.clone(),
            customer: actor.principal.tenant.clone(),
            event_id: actor.event_id("search", &[&detail]),
            request_id: actor.request_id.clone(),
            client_address: actor.client_address.clone(),
            user_agent: actor.user_agent.clone(),
            event_time: Some(archive_common::convert::timestamp(actor.at)),
            detail,
            ..Default::default()
        };
        self.queue.try_send(event).map_err(|_| {
            Error::Status(tonic::Status::unavailable(
                "the audit trail cannot record searches right now, so the search was not run; \
                 try again shortly",
            ))
        })
    }
}

/// The filter as the event's detail: only the fields in use.
fn describe(f: &pb::CallFilter, order: i32) -> Value {
    let mut d = Map::new();
    let time = |t: &Option<prost_types::Timestamp>| {
        t.as_ref()
            .and_then(|t| archive_common::convert::from_timestamp(t, "").ok())
            .map(|t| json!(t.to_rfc3339()))
    };
    let duration_ms = |d: &Option<prost_types::Duration>| {
        d.as_ref()
            .map(|d| json!(d.seconds * 1000 + i64::from(d.nanos) / 1_000_000))
    };
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            d.insert(key.to_owned(), v);
        }
    };
    let text = |s: &str| (!s.is_empty()).then(|| json!(s));
    let flag = |b: bool| b.then_some(json!(true));
    put("from", time(&f.start_time_from));
    put("to", time(&f.start_time_to));
    put("access_point", text(&f.access_point_number));
    put("caller_number", text(&f.caller_number));
    put("caller_number_partial", flag(f.caller_number_partial));
    put("agent", text(&f.agent));
    put("queue", text(&f.queue));
    put("has_recording", flag(f.has_recording));
    put("include_deleted", flag(f.include_deleted));
    put("min_recording_ms", duration_ms(&f.min_recording_time));
    put("max_recording_ms", duration_ms(&f.max_recording_time));
    put("min_speak_ms", duration_ms(&f.min_speak_time));
    put("max_speak_ms", duration_ms(&f.max_speak_time));
    put(
        "order",
        (order == pb::SortOrder::StartTimeAsc as i32).then(|| json!("oldest")),
    );
    Value::Object(d)
}

async fn work(
    audit: Upstreams,
    mut queue: mpsc::Receiver<pb::AuditEvent>,
    shutdown: CancellationToken,
) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let received = tokio::select! {
            n = queue.recv_many(&mut batch, BATCH) => {
                // Let the searches of the next moment join this batch.
                tokio::select! {
                    () = tokio::time::sleep(LINGER) => {}
                    () = shutdown.cancelled() => {}
                }
                while batch.len() < BATCH {
                    match queue.try_recv() {
                        Ok(event) => batch.push(event),
                        Err(_) => break,
                    }
                }
                n
            }
            () = shutdown.cancelled() => {
                // Whatever is queued still goes, once.
                queue.close();
                queue.recv_many(&mut batch, QUEUE).await
            }
        };
        if received == 0 && batch.is_empty() {
            return;
        }
        let mut by_tenant: BTreeMap<String, Vec<pb::AuditEvent>> = BTreeMap::new();
        for event in batch.drain(..) {
            by_tenant
                .entry(event.customer.clone())
                .or_default()
                .push(event);
        }
        for (tenant, events) in by_tenant {
            append(&audit, &tenant, events, &shutdown).await;
        }
        if shutdown.is_cancelled() && queue.is_empty() {
            return;
        }
    }
}

/// Appends one tenant's share, retrying with backoff until it is recorded
/// (the events' ids make a retry after an unknown outcome harmless), or
/// until shutdown, when it gives up after one more try.
async fn append(
    audit: &Upstreams,
    tenant: &str,
    events: Vec<pb::AuditEvent>,
    shutdown: &CancellationToken,
) {
    let caller = Principal::system(tenant, "gateway");
    let mut wait = RETRY_FIRST;
    loop {
        let events = events
            .iter()
            .cloned()
            .map(|mut e| {
                e.customer.clear();
                e
            })
            .collect();
        match audit.append_events(&caller, events, None).await {
            Ok(_) => return,
            Err(status) => {
                tracing::warn!(%status, tenant, "search events not recorded yet; retrying");
                if shutdown.is_cancelled() {
                    tracing::error!(tenant, "search events lost at shutdown");
                    return;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use archive_common::convert::timestamp;
    use chrono::TimeZone;

    #[test]
    fn the_detail_names_only_the_filters_in_use() {
        let filter = pb::CallFilter {
            start_time_from: Some(timestamp(
                chrono::Utc.with_ymd_and_hms(2023, 11, 1, 0, 0, 0).unwrap(),
            )),
            caller_number: "2148".into(),
            caller_number_partial: true,
            agent: "Andreas Wallin".into(),
            min_recording_time: Some(prost_types::Duration {
                seconds: 30,
                nanos: 0,
            }),
            ..Default::default()
        };
        let d = describe(&filter, pb::SortOrder::StartTimeAsc as i32);
        assert_eq!(
            d,
            json!({
                "from": "2023-11-01T00:00:00+00:00",
                "caller_number": "2148",
                "caller_number_partial": true,
                "agent": "Andreas Wallin",
                "min_recording_ms": 30000,
                "order": "oldest",
            })
        );
        assert_eq!(describe(&pb::CallFilter::default(), 0), json!({}));
    }
}
