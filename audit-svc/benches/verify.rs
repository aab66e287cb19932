//! Verifying a long chain against its checkpoints: fills one tenant on
//! PostgreSQL with `BENCH_VERIFY_EVENTS` (default 1,000,000) events, signs a
//! checkpoint every `BENCH_CHECKPOINT_EVENTS` (default 10,000) into a
//! directory, then times the `audit-verify` tool (this build's binary, start
//! included) by the hash chain alone, against the checkpoints, and offline on
//! an export of the whole trail. Not a timed test: it prints a table.
//!
//!     cargo bench -p audit-svc --bench verify

// Bench crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

use std::{
    io::Write,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use archive_common::SystemClock;
use audit_svc::{
    checkpoint::{CheckpointStore, Checkpointer, generate_key_file, load_key_file, public_key_hex},
    event::EventBody,
    export::Export,
    store,
};
use test_support::postgres::ScratchDatabase;

const TENANT: &str = "10009";
const FILL_BATCH: usize = 2000;

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

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Runs `audit-verify` with `args`: (seconds, intact, its first line).
fn tool(args: &[&str]) -> (Duration, bool, String) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_audit-verify"))
        .args(args)
        .env_remove("AUDIT_CHECKPOINT_STORE")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default().to_owned();
    (elapsed, out.status.success(), first)
}

#[tokio::main]
async fn main() {
    let events = env_u64("BENCH_VERIFY_EVENTS", 1_000_000);
    let per_checkpoint = env_u64("BENCH_CHECKPOINT_EVENTS", 10_000) as usize;
    let Some(db) = ScratchDatabase::create("audit_bench_verify").await else {
        eprintln!("no PostgreSQL: nothing to measure");
        return;
    };
    let files = tempfile::tempdir().unwrap();
    let store = store::open(&db.url, true).await.unwrap();

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

    let key_file = files.path().join("checkpoint.pem");
    let public = public_key_hex(&generate_key_file(&key_file).unwrap());
    let dir = files.path().join("checkpoints");
    let checkpoints = CheckpointStore::local(&dir).unwrap();
    let checkpointer = Checkpointer::new(
        load_key_file(&key_file).unwrap(),
        checkpoints.clone(),
        Arc::new(SystemClock),
    )
    .with_max_events(per_checkpoint);
    let started = Instant::now();
    checkpointer.sign(store.as_ref(), TENANT).await.unwrap();
    let sign = started.elapsed();
    let signed = checkpoints.list(TENANT, None).await.unwrap().len();
    let store_bytes: u64 = std::fs::read_dir(dir.join("checkpoints").join(TENANT))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();

    let export_file = files.path().join("trail.jsonl");
    let started = Instant::now();
    {
        let export = Export::plan(
            store.as_ref(),
            Some(&checkpoints),
            TENANT,
            0,
            0,
            chrono::Utc::now(),
        )
        .await
        .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, audit_svc::Error>>(4);
        let writer = tokio::spawn(async move {
            let mut file = std::io::BufWriter::new(std::fs::File::create(&export_file).unwrap());
            while let Some(piece) = rx.recv().await {
                file.write_all(&piece.unwrap()).unwrap();
            }
            file.flush().unwrap();
        });
        export.run(store.as_ref(), &tx).await.unwrap();
        drop(tx);
        writer.await.unwrap();
    }
    let export = started.elapsed();
    let export_file = files.path().join("trail.jsonl");
    let export_bytes = std::fs::metadata(&export_file).unwrap().len();

    let url = db.url.as_str();
    let dir_text = dir.display().to_string();
    let file_text = export_file.display().to_string();
    let runs = [
        (
            "audit-verify, hash chain only",
            0,
            tool(&["--database-url", url, "--tenant", TENANT]),
        ),
        (
            "audit-verify --checkpoints DIR",
            signed,
            tool(&[
                "--database-url",
                url,
                "--tenant",
                TENANT,
                "--checkpoints",
                &dir_text,
                "--public-key",
                &public,
            ]),
        ),
        (
            "audit-verify --export FILE (offline)",
            signed,
            tool(&["--export", &file_text, "--public-key", &public]),
        ),
    ];

    println!();
    println!(
        "PostgreSQL, one tenant: fill {events} events in {fill:.1?} (batches of {FILL_BATCH}); \
         {signed} checkpoints of {per_checkpoint} events signed in {sign:.2?} \
         ({:.1} MB in the store); export written in {export:.2?} ({:.0} MB)",
        store_bytes as f64 / 1e6,
        export_bytes as f64 / 1e6,
    );
    println!();
    println!("| run | events | checkpoints | seconds | events/s | vs chain only | intact |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    let plain = runs[0].2.0.as_secs_f64();
    for (name, checkpoints, (elapsed, intact, first)) in &runs {
        let seconds = elapsed.as_secs_f64();
        println!(
            "| {name} | {events} | {checkpoints} | {seconds:.2} | {:.0} | {:.2}x | {} |",
            events as f64 / seconds,
            seconds / plain,
            if *intact { "yes" } else { "NO" },
        );
        if !intact {
            eprintln!("{name}: {first}");
        }
    }
    drop(store);
    drop(db);
}
