//! Verifying a long chain: fills one tenant with `BENCH_VERIFY_EVENTS`
//! (default 1,000,000) events, then times `verify` in-process and the
//! `audit-verify` tool, on PostgreSQL (and SQLite for comparison). Not a
//! timed test: it prints a table.
//!
//!     cargo bench -p audit-svc --bench verify

// Bench crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use std::{
    process::Command,
    time::{Duration, Instant},
};

use archive_common::db::ScratchDatabase;
use audit_svc::{event::EventBody, store, verify::verify};

const TENANT: &str = "10009";
const FILL_BATCH: usize = 2000;

struct Row {
    backend: &'static str,
    events: u64,
    fill: Duration,
    verify: Duration,
    tool: Duration,
    intact: bool,
}

fn body(i: u64) -> EventBody {
    EventBody {
        tenant: TENANT.into(),
        kind: 1 + (i % 7) as i32,
        actor_id: format!("user{}", i % 500),
        actor_display_name: format!("User {}", i % 500),
        call_id: format!("call-{}", i / 2),
        recording_id: format!("rec-{}-{}", i / 2, 1 + i % 2),
        reason: if i.is_multiple_of(3) {
            "Quality assurance".into()
        } else {
            String::new()
        },
        client_address: "192.0.2.10".into(),
        user_agent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0".into(),
        event_time: 1_700_000_000_000_000 + i as i64 * 1000,
        ..Default::default()
    }
}

async fn measure(backend: &'static str, url: &str, events: u64) -> Row {
    let store = store::open(url, true).await.unwrap();
    let started = Instant::now();
    let mut next = 0;
    while next < events {
        let batch: Vec<EventBody> = (next..(next + FILL_BATCH as u64).min(events))
            .map(body)
            .collect();
        next += batch.len() as u64;
        store.append(&batch).await.unwrap();
    }
    let fill = started.elapsed();

    let started = Instant::now();
    let report = verify(store.as_ref(), TENANT, 0, 0).await.unwrap();
    let verify_time = started.elapsed();

    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_audit-verify"))
        .args(["--database-url", url, "--tenant", TENANT])
        .output()
        .unwrap();
    let tool = started.elapsed();
    Row {
        backend,
        events: report.events_checked,
        fill,
        verify: verify_time,
        tool,
        intact: report.intact && report.events_checked == events && out.status.success(),
    }
}

#[tokio::main]
async fn main() {
    let events: u64 = std::env::var("BENCH_VERIFY_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let mut rows = Vec::new();
    match ScratchDatabase::create("audit_bench_verify").await {
        Some(db) => {
            rows.push(measure("PostgreSQL", &db.url, events).await);
            db.drop_database().await;
        }
        None => eprintln!("PostgreSQL row skipped: no server"),
    }
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("audit.db").display());
    rows.push(measure("SQLite", &sqlite, events).await);

    println!();
    println!(
        "| backend | events | fill (batches of {FILL_BATCH}) | verify in-process | events/s | audit-verify tool | intact |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.1?} | {:.2?} | {:.0} | {:.2?} | {} |",
            r.backend,
            r.events,
            r.fill,
            r.verify,
            r.events as f64 / r.verify.as_secs_f64(),
            r.tool,
            if r.intact { "yes" } else { "NO" },
        );
    }
}
