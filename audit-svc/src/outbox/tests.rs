//! The relay against a fake outbox store and the stand-in trail
//! ([`crate::testing::FakeTrail`]: real gRPC on 127.0.0.1:0, identity
//! verified as audit-svc does): order, grouping, batch size, acknowledgement, backoff, refusals,
//! nudges; and the context validation.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use archive_common::{Clock, ManualClock, Principal, shutdown::CancellationToken};
use archive_proto::v1::{self as pb, AuditEventKind};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::testing::FakeTrail;

/// The suite's keys: the relay signs as archive-svc, the trail verifies.
static KEYS: std::sync::LazyLock<archive_common::identity::testing::TestKeys> =
    std::sync::LazyLock::new(Default::default);

fn client(url: &str) -> crate::client::AuditClient {
    crate::client::AuditClient::connect_lazy(url, KEYS.signer("archive-svc")).unwrap()
}
const SERVICE: &str = "test-svc";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

#[derive(Debug, Clone)]
struct Row {
    seq: i64,
    tenant: String,
    event: Result<pb::AuditEvent, String>,
    attempts: u32,
    next_attempt: DateTime<Utc>,
    last_error: Option<String>,
}

/// The outbox table in memory, with [`DUE`]'s rule: due rows in seq order,
/// a tenant's rows waiting behind an earlier row that is backing off.
#[derive(Default)]
struct FakeStore {
    rows: Mutex<Vec<Row>>,
    next_seq: Mutex<i64>,
}

impl FakeStore {
    fn add(&self, tenant: &str, event: Result<pb::AuditEvent, String>, at: DateTime<Utc>) -> i64 {
        let mut seq = self.next_seq.lock().unwrap();
        *seq += 1;
        self.rows.lock().unwrap().push(Row {
            seq: *seq,
            tenant: tenant.into(),
            event,
            attempts: 0,
            next_attempt: at,
            last_error: None,
        });
        *seq
    }

    fn rows(&self) -> Vec<Row> {
        self.rows.lock().unwrap().clone()
    }
}

#[async_trait]
impl OutboxStore for FakeStore {
    async fn due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<Pending>, sqlx::Error> {
        let rows = self.rows.lock().unwrap();
        let mut blocked = HashSet::new();
        let mut due = Vec::new();
        for r in rows.iter() {
            if r.next_attempt > now {
                blocked.insert(r.tenant.clone());
            } else if !blocked.contains(&r.tenant) && due.len() < limit as usize {
                due.push(Pending {
                    seq: r.seq,
                    tenant: r.tenant.clone(),
                    event: r.event.clone(),
                    attempts: r.attempts,
                });
            }
        }
        Ok(due)
    }

    async fn delivered(&self, seqs: &[i64]) -> Result<(), sqlx::Error> {
        self.rows.lock().unwrap().retain(|r| !seqs.contains(&r.seq));
        Ok(())
    }

    async fn failed(
        &self,
        seqs: &[i64],
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), sqlx::Error> {
        for r in self.rows.lock().unwrap().iter_mut() {
            if seqs.contains(&r.seq) {
                r.attempts += 1;
                r.next_attempt = next_attempt;
                r.last_error = Some(error.into());
            }
        }
        Ok(())
    }

    async fn pending(&self) -> Result<u64, sqlx::Error> {
        Ok(self.rows.lock().unwrap().len() as u64)
    }
}

struct Harness {
    store: Arc<FakeStore>,
    audit: FakeTrail,
    clock: ManualClock,
    relay: Relay,
    url: String,
    stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn harness() -> Harness {
    let audit = FakeTrail::default();
    let stop = CancellationToken::new();
    let url = audit.serve(KEYS.trust(), stop.clone()).await;
    let store = Arc::new(FakeStore::default());
    let clock = ManualClock::new(t0());
    let client = client(&url);
    let relay = Relay::new(
        store.clone(),
        Some(client),
        SERVICE,
        Arc::new(clock.clone()),
    );
    Harness {
        store,
        audit,
        clock,
        relay,
        url,
        stop,
    }
}

fn event(id: &str) -> pb::AuditEvent {
    Change {
        actor_id: "paal".into(),
        actor_display_name: "Paal Admin".into(),
        at: t0(),
        context: Context::default(),
    }
    .event(AuditEventKind::RecordingDeleted, id.into())
}

fn ids(events: &[pb::AuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_id.as_str()).collect()
}

#[tokio::test]
async fn due_rows_go_in_order_per_tenant_as_the_services_principal_at_most_500_a_call() {
    let h = harness().await;
    for i in 0..700 {
        let tenant = if i % 7 == 3 { "20001" } else { "10009" };
        h.store.add(tenant, Ok(event(&format!("e-{i}"))), t0());
    }
    let first = h.relay.deliver_once().await.unwrap();
    assert_eq!((first.delivered, first.failed, first.more), (500, 0, true));
    let second = h.relay.deliver_once().await.unwrap();
    assert_eq!((second.delivered, second.more), (200, false));
    assert!(h.store.rows().is_empty(), "acknowledged rows are deleted");

    let calls = h.audit.calls();
    assert!(calls.iter().all(|(_, events)| events.len() <= 500));
    for (caller, _) in &calls {
        assert_eq!(caller.user_id, format!("system:{SERVICE}"));
    }
    // Each tenant's events arrive in commit order, in its own calls.
    for tenant in ["10009", "20001"] {
        let got: Vec<String> = calls
            .iter()
            .filter(|(c, _)| c.tenant == tenant)
            .flat_map(|(_, events)| events.iter().map(|e| e.event_id.clone()))
            .collect();
        let want: Vec<String> = (0..700)
            .filter(|i| (i % 7 == 3) == (tenant == "20001"))
            .map(|i| format!("e-{i}"))
            .collect();
        assert_eq!(got, want, "tenant {tenant}");
    }
    // The event's own actor travels with it (audit-svc takes it from a system caller).
    assert_eq!(calls[0].1[0].actor_id, "paal");
}

#[tokio::test]
async fn a_failure_backs_off_doubling_to_thirty_seconds_and_later_rows_wait_behind() {
    let h = harness().await;
    h.store.add("10009", Ok(event("a")), t0());
    h.audit.fail_next(100);

    let mut delays = Vec::new();
    for _ in 0..7 {
        let pass = h.relay.deliver_once().await.unwrap();
        assert_eq!((pass.delivered, pass.failed), (0, 1));
        let row = h.store.rows()[0].clone();
        let delay = (row.next_attempt - h.clock.now()).num_seconds();
        delays.push(delay);
        // Not due before the backoff ends.
        h.clock.advance(chrono::TimeDelta::seconds(delay - 1));
        assert_eq!(h.relay.deliver_once().await.unwrap(), Pass::default());
        h.clock.advance(chrono::TimeDelta::seconds(1));
    }
    assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30]);
    let row = h.store.rows()[0].clone();
    assert_eq!(row.attempts, 7);
    assert!(row.last_error.unwrap().contains("trail down"));

    // A newer event of the tenant waits behind the one backing off; another
    // tenant's does not.
    h.clock.advance(chrono::TimeDelta::seconds(-1));
    h.store.add("10009", Ok(event("b")), h.clock.now());
    h.store.add("20001", Ok(event("c")), h.clock.now());
    h.audit.fail_next(0);
    let before = h.audit.calls().len();
    let pass = h.relay.deliver_once().await.unwrap();
    assert_eq!((pass.delivered, pass.failed), (1, 0));
    let calls = h.audit.calls();
    assert_eq!(calls.len(), before + 1);
    assert_eq!(calls[before].0.tenant, "20001");

    // Once due, the tenant's events go together, oldest first.
    h.clock.advance(chrono::TimeDelta::seconds(1));
    let pass = h.relay.deliver_once().await.unwrap();
    assert_eq!(pass.delivered, 2);
    let calls = h.audit.calls();
    assert_eq!(ids(&calls.last().unwrap().1), vec!["a", "b"]);
    assert!(h.store.rows().is_empty());
}

#[tokio::test]
async fn duplicates_count_as_acknowledged() {
    let h = harness().await;
    h.store.add("10009", Ok(event("once")), t0());
    h.relay.deliver_once().await.unwrap();
    // The same row again (a crash after the append, before the delete).
    h.store.add("10009", Ok(event("once")), t0());
    let pass = h.relay.deliver_once().await.unwrap();
    assert_eq!(pass.delivered, 1);
    assert!(h.store.rows().is_empty());
    assert_eq!(h.audit.events().len(), 1, "appended once");
}

#[tokio::test]
async fn an_event_the_trail_refuses_does_not_hold_back_the_others() {
    let h = harness().await;
    h.audit.refuse("bad");
    for id in ["x", "bad", "y"] {
        h.store.add("10009", Ok(event(id)), t0());
    }
    h.store.add("10009", Err("truncated bytes".into()), t0());
    let pass = h.relay.deliver_once().await.unwrap();
    assert_eq!((pass.delivered, pass.failed), (2, 2));
    let appended: Vec<String> = h
        .audit
        .events()
        .iter()
        .map(|(_, e)| e.event_id.clone())
        .collect();
    assert_eq!(appended, vec!["x", "y"]);
    let left = h.store.rows();
    assert_eq!(left.len(), 2, "the refused and the undecodable row stay");
    assert!(
        left[0]
            .last_error
            .as_deref()
            .unwrap()
            .contains("too far ahead")
    );
    assert_eq!(left[1].last_error.as_deref(), Some("truncated bytes"));
}

#[tokio::test]
async fn without_an_audit_url_rows_wait() {
    let store = Arc::new(FakeStore::default());
    store.add("10009", Ok(event("kept")), t0());
    let relay = Relay::new(
        store.clone(),
        None,
        SERVICE,
        Arc::new(ManualClock::new(t0())),
    );
    assert_eq!(relay.deliver_once().await.unwrap(), Pass::default());
    assert!(relay.spawn(CancellationToken::new()).is_none());
    assert_eq!(store.rows().len(), 1);
}

#[tokio::test]
async fn a_nudge_wakes_the_relay_at_once_and_the_metrics_follow() {
    let h = harness().await;
    let store = h.store.clone();
    let audit = h.audit.clone();
    let clock = Arc::new(h.clock.clone());
    // It would not poll again for an hour: only the nudge can wake it.
    let relay = Relay::new(store.clone(), Some(client(&h.url)), SERVICE, clock)
        .with_poll(Duration::from_secs(3600));
    let nudge = relay.nudge();
    let task = relay.spawn(h.stop.clone()).unwrap();
    // Let the first (empty) pass run and the relay go to sleep.
    tokio::time::sleep(Duration::from_millis(200)).await;
    store.add("10009", Ok(event("nudged")), t0());
    nudge.nudge();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !store.rows().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered after a nudge"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(audit.events().len(), 1);
    let metrics = archive_common::metrics::render();
    assert!(
        metrics.contains(&format!(
            "archive_audit_outbox_pending{{service=\"{SERVICE}\"}} 0"
        )),
        "{metrics}"
    );
    assert!(metrics.contains("archive_audit_outbox_delivered_total"));
    h.stop.cancel();
    task.await.unwrap();
}

#[test]
fn the_context_is_checked_to_the_trails_bounds_naming_the_field() {
    let field = |c: pb::ActionContext| Context::from_proto(Some(c), "context").unwrap_err().field;
    let ok = pb::ActionContext {
        request_id: "req-1".into(),
        reason: "Customer complaint\r\nticket #4711\tline".into(),
        reason_code: "QA_review-2".into(),
        case_id: "CASE-1".into(),
        client_address: "203.0.113.7".into(),
        user_agent: "Mozilla/5.0".into(),
    };
    let context = Context::from_proto(Some(ok.clone()), "context").unwrap();
    assert_eq!(context.reason, "Customer complaint\r\nticket #4711\tline");
    assert_eq!(
        Context::from_proto(None, "context").unwrap(),
        Context::default()
    );
    // Each case makes one field of `ok` just too long or unprintable.
    type Bad = fn(&mut pb::ActionContext);
    let cases: [(Bad, &str); 8] = [
        (|c| c.reason = "r".repeat(REASON_MAX + 1), "context.reason"),
        (|c| c.reason = "nul\0".into(), "context.reason"),
        (
            |c| c.reason_code = "has space".into(),
            "context.reason_code",
        ),
        (
            |c| c.reason_code = "x".repeat(REASON_CODE_MAX + 1),
            "context.reason_code",
        ),
        (
            |c| c.case_id = "c".repeat(CASE_ID_MAX + 1),
            "context.case_id",
        ),
        (
            |c| c.request_id = "q".repeat(REQUEST_ID_MAX + 1),
            "context.request_id",
        ),
        (
            |c| c.client_address = "a".repeat(CLIENT_ADDRESS_MAX + 1),
            "context.client_address",
        ),
        (|c| c.user_agent = "ua\n".into(), "context.user_agent"),
    ];
    for (bad, want) in cases {
        let mut context = ok.clone();
        bad(&mut context);
        assert_eq!(field(context), want);
    }
    // Exactly at the bounds is fine.
    assert!(
        Context::from_proto(
            Some(pb::ActionContext {
                reason: "ø".repeat(REASON_MAX),
                reason_code: "x".repeat(REASON_CODE_MAX),
                case_id: "c".repeat(CASE_ID_MAX),
                user_agent: "u".repeat(USER_AGENT_MAX),
                ..ok
            }),
            "context"
        )
        .is_ok()
    );
}

#[test]
fn a_change_fills_actor_time_and_context_and_details_fit_the_trail() {
    let context = Context {
        request_id: "req-9".into(),
        reason: "why".into(),
        ..Context::default()
    };
    let e = Change::by(&Principal::new("10009", "rita", "Rita Reason"), t0())
        .with_context(context)
        .event(AuditEventKind::LegalHoldChanged, "id-1".into());
    assert_eq!(
        (
            e.actor_id.as_str(),
            e.actor_display_name.as_str(),
            e.request_id.as_str(),
            e.reason.as_str(),
            e.event_id.as_str()
        ),
        ("rita", "Rita Reason", "req-9", "why", "id-1")
    );
    assert_eq!(e.event_time.unwrap().seconds, t0().timestamp());
    assert_eq!(
        Change::system("retention", t0()).actor_id,
        "system:retention"
    );

    assert_eq!(bounded_detail("short".into()), "short");
    let cut = bounded_detail("d".repeat(DETAIL_MAX + 10));
    assert_eq!(cut.chars().count(), DETAIL_MAX);
    assert!(cut.ends_with('…'));
}
