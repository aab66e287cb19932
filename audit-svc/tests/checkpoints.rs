//! Signed checkpoints against a real audit-svc (SQLite and PostgreSQL): what
//! the hash chain alone cannot catch — the newest events deleted and the
//! head moved back, an event edited and every later hash recomputed, by the
//! database owner — is caught by VerifyChain and `audit-verify` against the
//! checkpoints, at the first event that disagrees; a forged checkpoint or
//! another key is reported; an export verifies offline and an edited line
//! is named.

// Test crates see every dependency of the library; they use only a few.
#![allow(unused_crate_dependencies)]

mod support;

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use archive_common::ManualClock;
use archive_proto::v1::{self as pb, AuditEventKind, audit_service_client::AuditServiceClient};
use audit_svc::{
    Config,
    chain::{self, GENESIS},
    checkpoint::{
        CheckpointConfig, CheckpointStore, Checkpointer, generate_key_file, public_key_hex,
    },
    store::{self, Store},
    verify::{self, Trust},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sqlx::{Executor, PgPool, SqlitePool};
use support::{
    Server, append, client, event, identity, key, paal, start, start_with, verify_chain,
};
use tempfile::TempDir;
use tonic::{Code, transport::Channel};

const TENANT: &str = "10009";

/// One backend's database, a checkpoint key and a checkpoint directory.
struct Case {
    url: String,
    _files: TempDir,
    key_file: PathBuf,
    store_dir: PathBuf,
    public: String,
}

impl Case {
    /// A checkpoint key and directory for the database at `url`.
    fn on(url: &str) -> Self {
        let files = tempfile::tempdir().unwrap();
        let key_file = files.path().join("keys/checkpoint.pem");
        let public = public_key_hex(&generate_key_file(&key_file).unwrap());
        Self {
            url: url.to_owned(),
            store_dir: files.path().join("checkpoint-store"),
            _files: files,
            key_file,
            public,
        }
    }

    /// A case on a fresh SQLite file among its own files.
    fn sqlite() -> Self {
        let mut case = Self::on("");
        case.url = format!("sqlite://{}", case._files.path().join("audit.db").display());
        case
    }

    /// audit-svc with checkpoints; the checkpointer's own round only at start.
    fn config(&self) -> Config {
        let mut config = Config::new(&self.url, identity());
        config.checkpoints = CheckpointConfig::local(&self.key_file, &self.store_dir);
        config.checkpoints.interval = Duration::from_secs(3600);
        config
    }

    /// The server and a client of it.
    async fn server(&self) -> (Server, AuditServiceClient<Channel>) {
        let server = start_with(self.config()).await;
        // The checkpointer's start round runs in a task of its own; on a
        // loaded machine it can start after a test's first appends and sign
        // alongside the test's own GetCheckpoint (seen once in CI). Let it
        // finish on the empty trail first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let c = client(&server).await;
        (server, c)
    }

    fn object(&self, sequence: u64) -> PathBuf {
        self.store_dir
            .join(format!("checkpoints/{TENANT}/{sequence:020}.json"))
    }

    /// `audit-verify` on the database, against the checkpoints.
    fn tool(&self) -> (i32, String) {
        self.tool_trusting(&self.public)
    }

    /// [`Case::tool`] trusting the public keys `keys` (comma-separated).
    fn tool_trusting(&self, keys: &str) -> (i32, String) {
        let store_dir = self.store_dir.to_str().unwrap();
        run_tool(&[
            "--database-url",
            &self.url,
            "--tenant",
            TENANT,
            "--checkpoints",
            store_dir,
            "--public-key",
            keys,
        ])
    }

    /// `audit-verify` on the database by the hash chain alone.
    fn chain_only_tool(&self) -> (i32, String) {
        run_tool(&["--database-url", &self.url, "--tenant", TENANT])
    }

    /// The plain hash-chain walk, in-process.
    async fn chain_only(&self) -> verify::Report {
        let store = store::connect_existing(&self.url).await.unwrap();
        verify::verify(store.as_ref(), TENANT, 0, 0).await.unwrap()
    }

    async fn owner(&self) -> Owner {
        if self.url.starts_with("sqlite:") {
            Owner::Lite(SqlitePool::connect(&self.url).await.unwrap())
        } else {
            Owner::Pg(PgPool::connect(&self.url).await.unwrap())
        }
    }
}

fn run_tool(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_audit-verify"))
        .args(args)
        .env_remove("AUDIT_CHECKPOINT_STORE")
        .env_remove("AUDIT_CHECKPOINT_PUBLIC_KEY")
        .output()
        .expect("run audit-verify");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `audit-verify`'s exit code was `code` and its output says each of `says`.
fn assert_tool((code, out): (i32, String), expected: i32, says: &[&str]) {
    assert_eq!(code, expected, "{out}");
    for said in says {
        assert!(out.contains(said), "{said:?} not in {out}");
    }
}

/// The report finds the chain broken at `at`, with a problem saying `says`.
fn assert_broken(report: &pb::VerifyChainResponse, at: u64, says: &str) {
    assert!(!report.intact, "{report:?}");
    assert_eq!(report.first_bad_sequence, at, "{report:?}");
    assert!(report.problem.contains(says), "{}", report.problem);
}

/// The database owner, who can switch the append-only guards off.
enum Owner {
    Pg(PgPool),
    Lite(SqlitePool),
}

impl Owner {
    async fn exec(&self, sql: &str) {
        match self {
            Owner::Pg(pool) => pool.execute(sql).await.map(|_| ()),
            Owner::Lite(pool) => pool.execute(sql).await.map(|_| ()),
        }
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn guards_off(&self) {
        match self {
            Owner::Pg(_) => {
                self.exec("ALTER TABLE audit_events DISABLE TRIGGER ALL")
                    .await
            }
            Owner::Lite(_) => {
                self.exec(
                    "DROP TRIGGER IF EXISTS audit_events_no_update;
                     DROP TRIGGER IF EXISTS audit_events_no_delete;",
                )
                .await
            }
        }
    }

    async fn guards_on(&self) {
        if let Owner::Pg(_) = self {
            self.exec("ALTER TABLE audit_events ENABLE TRIGGER ALL")
                .await;
        }
    }

    /// Deletes events after `keep` (the head is the last event: it moves back with them).
    async fn delete_after(&self, keep: u64) {
        self.guards_off().await;
        self.exec(&format!(
            "DELETE FROM audit_events WHERE tenant = '{TENANT}' AND sequence > {keep};"
        ))
        .await;
        self.guards_on().await;
    }

    /// Gives event `sequence` a new reason and recomputes its hash and every
    /// later one with the chain's own code: a consistent chain.
    async fn rewrite(&self, url: &str, sequence: u64, reason: &str) {
        let store = store::connect_existing(url).await.unwrap();
        let events = store.range(TENANT, 1, u64::MAX, 100_000).await.unwrap();
        self.guards_off().await;
        let mut previous = (0, GENESIS.to_owned());
        for e in events {
            let mut body = e.body.clone();
            if e.sequence == sequence {
                body.reason = reason.into();
            }
            let linked = chain::link((previous.0, &previous.1), body);
            if linked.hash != e.hash {
                self.exec(&format!(
                    "UPDATE audit_events SET reason = '{}', previous_hash = '{}', hash = '{}'
                     WHERE tenant = '{TENANT}' AND sequence = {}",
                    linked.body.reason.replace('\'', "''"),
                    linked.previous_hash,
                    linked.hash,
                    linked.sequence
                ))
                .await;
            }
            previous = (linked.sequence, linked.hash);
        }
        self.guards_on().await;
    }
}

async fn append_n(c: &mut AuditServiceClient<Channel>, n: u64) -> pb::AppendEventResponse {
    let mut last = None;
    for i in 0..n {
        let e = event(
            AuditEventKind::PlaybackStarted,
            &format!("rec-{i}"),
            &format!("Quality review {i}"),
        );
        last = Some(append(c, &paal(), e).await);
    }
    last.expect("n > 0")
}

async fn get_checkpoint(
    c: &mut AuditServiceClient<Channel>,
    create: bool,
) -> Result<pb::Checkpoint, tonic::Status> {
    c.get_checkpoint(key().request(pb::GetCheckpointRequest { create }, &paal()))
        .await
        .map(|r| r.into_inner())
}

async fn export(c: &mut AuditServiceClient<Channel>, from: u64, to: u64) -> Vec<u8> {
    let mut stream = c
        .export_trail(key().request(
            pb::ExportTrailRequest {
                from_sequence: from,
                to_sequence: to,
            },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        bytes.extend_from_slice(&chunk.data);
    }
    bytes
}

fn tampering_count() -> u64 {
    archive_common::metrics::render()
        .lines()
        .find_map(|l| l.strip_prefix("archive_audit_checkpoint_tampering_total "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

test_support::backend_suite!(
    "audit_ckpt";
    a_checkpoint_is_signed_and_verifies,
    deleting_the_newest_events_is_caught,
    a_rewritten_chain_is_caught_at_the_edited_event,
    a_forged_checkpoint_or_another_key_is_reported,
    an_export_verifies_offline_and_an_edited_line_is_named,
);

async fn a_checkpoint_is_signed_and_verifies(url: &str) {
    let case = &Case::on(url);
    let (server, mut c) = case.server().await;
    let no_checkpoint = get_checkpoint(&mut c, false).await.unwrap_err();
    assert_eq!(no_checkpoint.code(), Code::NotFound);
    let empty = get_checkpoint(&mut c, true).await.unwrap_err();
    assert_eq!(empty.code(), Code::NotFound, "{empty:?}");

    let last = append_n(&mut c, 12).await;
    let checkpoint = get_checkpoint(&mut c, true).await.unwrap();
    assert_eq!(
        (checkpoint.customer.as_str(), checkpoint.sequence),
        (TENANT, 12)
    );
    assert_eq!(checkpoint.hash, last.hash);
    assert_eq!(checkpoint.public_key, case.public);
    assert!(checkpoint.sign_time.is_some());

    // The signature holds for the public key over the statement's bytes.
    let public =
        VerifyingKey::from_bytes(&hex::decode(&case.public).unwrap().try_into().unwrap()).unwrap();
    let signature =
        Signature::from_slice(&STANDARD.decode(&checkpoint.signature).unwrap()).unwrap();
    public
        .verify(checkpoint.statement.as_bytes(), &signature)
        .expect("signature verifies");
    let statement: serde_json::Value = serde_json::from_str(&checkpoint.statement).unwrap();
    assert_eq!(statement["format"], "archive.audit.checkpoint/1");
    assert_eq!(statement["tenant"], TENANT);
    assert_eq!(statement["from_sequence"], 1);
    assert_eq!(statement["sequence"], 12);
    assert_eq!(statement["previous_checkpoint_sequence"], 0);
    let hashes = statement["event_hashes"].as_array().unwrap();
    assert_eq!(hashes.len(), 12);
    assert_eq!(
        STANDARD.decode(hashes[11].as_str().unwrap()).unwrap(),
        hex::decode(&last.hash).unwrap()
    );
    // Stored as the one line: the statement verbatim, then the signature.
    let stored = std::fs::read_to_string(case.object(12)).unwrap();
    assert_eq!(
        stored,
        format!(
            "{{\"checkpoint\":{},\"signature\":\"{}\"}}\n",
            checkpoint.statement, checkpoint.signature
        )
    );

    // Nothing new: the same checkpoint. New events: the next one follows it.
    assert_eq!(get_checkpoint(&mut c, true).await.unwrap(), checkpoint);
    assert_eq!(get_checkpoint(&mut c, false).await.unwrap(), checkpoint);
    append_n(&mut c, 3).await;
    let next = get_checkpoint(&mut c, true).await.unwrap();
    assert_eq!(next.sequence, 15);
    let statement: serde_json::Value = serde_json::from_str(&next.statement).unwrap();
    assert_eq!(
        (
            &statement["from_sequence"],
            &statement["previous_checkpoint_sequence"]
        ),
        (&serde_json::json!(13), &serde_json::json!(12))
    );

    let report = verify_chain(&mut c, &paal()).await;
    assert!(report.intact, "{report:?}");
    assert_eq!((report.events_checked, report.checkpoints_checked), (15, 2));
    let said = ["chain intact, 15 events checked", "against 2 signed"];
    assert_tool(case.tool(), 0, &said);

    // Another tenant has none, and an empty trail has nothing to sign.
    let olga = archive_common::Principal::new("10010", "olga", "Olga");
    let theirs = c
        .get_checkpoint(key().request(pb::GetCheckpointRequest { create: true }, &olga))
        .await
        .unwrap_err();
    assert_eq!(theirs.code(), Code::NotFound);
    server.stop().await;
}

async fn deleting_the_newest_events_is_caught(url: &str) {
    let case = &Case::on(url);
    let (server, mut c) = case.server().await;
    append_n(&mut c, 10).await;
    assert_eq!(get_checkpoint(&mut c, true).await.unwrap().sequence, 10);

    // The owner deletes events 8..=10 and moves the head back to 7.
    case.owner().await.delete_after(7).await;
    let plain = case.chain_only().await;
    assert!(plain.intact, "the chain alone cannot tell: {plain:?}");
    assert_eq!(plain.events_checked, 7);
    assert_tool(case.chain_only_tool(), 0, &[]);

    let report = verify_chain(&mut c, &paal()).await;
    let missing = "event 8 is missing: checkpoint 10 signed the trail up to 10";
    assert_broken(&report, 8, missing);
    assert_eq!(report.events_checked, 7);
    assert_eq!(report.checkpoints_checked, 1);
    assert_tool(case.tool(), 1, &["BROKEN at sequence 8"]);

    // The checkpointer refuses to sign over it, and says so.
    let before = tampering_count();
    let refused = get_checkpoint(&mut c, true).await.unwrap_err();
    assert_eq!(refused.code(), Code::DataLoss, "{refused:?}");
    assert!(
        refused.message().contains("ends at 7"),
        "{}",
        refused.message()
    );
    assert!(tampering_count() > before);
    // New events in the gap do not hide it: they are not what was signed.
    append_n(&mut c, 3).await;
    let report = verify_chain(&mut c, &paal()).await;
    assert_broken(&report, 8, "differs from the one checkpoint 10 signed");
    assert!(!case.object(11).exists());
    server.stop().await;
}

async fn a_rewritten_chain_is_caught_at_the_edited_event(url: &str) {
    let case = &Case::on(url);
    let (server, mut c) = case.server().await;
    append_n(&mut c, 4).await;
    assert_eq!(get_checkpoint(&mut c, true).await.unwrap().sequence, 4);
    append_n(&mut c, 6).await;
    assert_eq!(get_checkpoint(&mut c, true).await.unwrap().sequence, 10);

    case.owner()
        .await
        .rewrite(&case.url, 5, "nothing to see here")
        .await;
    assert!(case.chain_only().await.intact, "a consistent rewrite");
    let report = verify_chain(&mut c, &paal()).await;
    let differs = "event 5's hash differs from the one checkpoint 10 signed";
    assert_broken(&report, 5, differs);
    assert_eq!(report.events_checked, 4);
    assert_tool(case.tool(), 1, &["BROKEN at sequence 5"]);

    // A range starting after the edit is caught too, at its first event.
    let ranged = c
        .verify_chain(key().request(
            pb::VerifyChainRequest {
                from_sequence: 7,
                to_sequence: 9,
            },
            &paal(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ranged.first_bad_sequence, 7, "{ranged:?}");
    // Reading the checkpoints again on the way (a tiny memory budget) finds the same.
    let store = store::connect_existing(&case.url).await.unwrap();
    let mut trust = trust(case);
    trust.hashes_in_memory = 3;
    let report = verify::verify_with(store.as_ref(), TENANT, 0, 0, &trust)
        .await
        .unwrap();
    assert_eq!(report.first_bad_sequence, 5, "{report:?}");
    assert_eq!(report.checkpoints_checked, 2);
    server.stop().await;
}

fn trust(case: &Case) -> Trust {
    Trust::new(
        vec![CheckpointStore::local(&case.store_dir).unwrap()],
        vec![audit_svc::checkpoint::parse_public_key(&case.public).unwrap()],
    )
}

async fn a_forged_checkpoint_or_another_key_is_reported(url: &str) {
    let case = &Case::on(url);
    let (server, mut c) = case.server().await;
    append_n(&mut c, 6).await;
    get_checkpoint(&mut c, true).await.unwrap();
    let path = case.object(6);
    let original = std::fs::read_to_string(&path).unwrap();

    // The statement edited in the store (here a directory, writable).
    std::fs::write(
        &path,
        original.replacen("\"from_sequence\":1", "\"from_sequence\":2", 1),
    )
    .unwrap();
    let report = verify_chain(&mut c, &paal()).await;
    assert_broken(&report, 6, "checkpoint 6: bad signature");
    assert_eq!(report.problem, "checkpoint 6: bad signature");
    assert_eq!(
        get_checkpoint(&mut c, false).await.unwrap_err().code(),
        Code::DataLoss
    );
    assert_tool(case.tool(), 1, &["checkpoint 6: bad signature"]);
    // Any other garbage is named too.
    std::fs::write(&path, "{not json").unwrap();
    let report = verify_chain(&mut c, &paal()).await;
    assert!(
        report.problem.starts_with("checkpoint 6: unreadable"),
        "{report:?}"
    );
    std::fs::write(&path, &original).unwrap();
    assert!(verify_chain(&mut c, &paal()).await.intact);
    server.stop().await;

    // Verifying with another key than the one that signed.
    let other = case.key_file.with_file_name("other.pem");
    let other_public = public_key_hex(&generate_key_file(&other).unwrap());
    let another = "checkpoint 6: bad signature (its statement names another key";
    assert_tool(case.tool_trusting(&other_public), 1, &[another]);
    // Both keys trusted (a rotation): intact.
    let both = format!("{other_public},{}", case.public);
    assert_tool(case.tool_trusting(&both), 0, &[]);
    // A service restarted with another key does not trust, nor sign after, the old checkpoints.
    let mut config = case.config();
    config.checkpoints.key_file = Some(other);
    let server = start_with(config.clone()).await;
    let mut c = client(&server).await;
    let report = verify_chain(&mut c, &paal()).await;
    assert_eq!(report.first_bad_sequence, 6, "{report:?}");
    append_n(&mut c, 1).await;
    assert_eq!(
        get_checkpoint(&mut c, true).await.unwrap_err().code(),
        Code::DataLoss
    );
    server.stop().await;
    // Unless the old key is still trusted (a rotation): the new key signs on.
    config.checkpoints.trusted_keys = vec![case.public.clone()];
    let server = start_with(config).await;
    let mut c = client(&server).await;
    let rotated = get_checkpoint(&mut c, true).await.unwrap();
    assert_eq!((rotated.sequence, &rotated.public_key), (7, &other_public));
    let report = verify_chain(&mut c, &paal()).await;
    assert!(
        report.intact && report.checkpoints_checked == 2,
        "{report:?}"
    );
    server.stop().await;
}

async fn an_export_verifies_offline_and_an_edited_line_is_named(url: &str) {
    let case = &Case::on(url);
    let (server, mut c) = case.server().await;
    append_n(&mut c, 8).await;
    get_checkpoint(&mut c, true).await.unwrap();
    append_n(&mut c, 12).await;
    get_checkpoint(&mut c, true).await.unwrap();
    append_n(&mut c, 3).await; // 21..=23: not checkpointed yet
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("trail.jsonl");
    let bytes = export(&mut c, 0, 0).await;
    std::fs::write(&file, &bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 23 + 2, "header, events, checkpoints");
    assert!(lines[0].starts_with("{\"export\":{\"format\":\"archive.audit.export/1\""));
    assert!(lines[1].contains("\"sequence\":1,") && lines[1].contains("\"kind_name\""));
    assert_eq!(
        format!("{}\n", lines[24]),
        std::fs::read_to_string(case.object(8)).unwrap()
    );

    let verify_file = |path: &Path| {
        run_tool(&[
            "--export",
            path.to_str().unwrap(),
            "--public-key",
            &case.public,
        ])
    };
    let said = [
        "tenant 10009: chain intact, 23 events checked",
        "against 2 signed checkpoints",
        "events 21..=23 are newer than the newest checkpoint",
    ];
    assert_tool(verify_file(&file), 0, &said);

    // One line edited: named by its sequence.
    let edited = text.replacen("Quality review 4\"", "Quality review 4 (edited)\"", 1);
    assert_ne!(edited, text);
    let tampered = dir.path().join("edited.jsonl");
    std::fs::write(&tampered, &edited).unwrap();
    assert_tool(verify_file(&tampered), 1, &["BROKEN at sequence 5"]);
    // The newest events removed from the file: the checkpoint names the gap.
    let cut: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !(18..=23).contains(i))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    std::fs::write(&tampered, cut).unwrap();
    let gap = "BROKEN at sequence 18: event 18 is missing: checkpoint 20 signed";
    assert_tool(verify_file(&tampered), 1, &[gap]);
    // Another key: the export's checkpoints are bad.
    let other = public_key_hex(&generate_key_file(&dir.path().join("other.pem")).unwrap());
    let with_other = run_tool(&["--export", file.to_str().unwrap(), "--public-key", &other]);
    assert_tool(with_other, 1, &["bad signature"]);
    // No key: the tool refuses to run (exit 2).
    let (code, _) = run_tool(&["--export", file.to_str().unwrap()]);
    assert_eq!(code, 2);

    // A range: events 5..=12 and the checkpoints covering them.
    let bytes = export(&mut c, 5, 12).await;
    let range = dir.path().join("range.jsonl");
    std::fs::write(&range, &bytes).unwrap();
    let said = [
        "chain intact, 8 events checked (5..=12)",
        "against 2 signed",
    ];
    assert_tool(verify_file(&range), 0, &said);
    let (tenant, report) = verify::verify_export(&range, Some(TENANT), &trust(case))
        .await
        .unwrap();
    assert_eq!((tenant.as_str(), report.last_sequence), (TENANT, 12));
    assert!(
        verify::verify_export(&range, Some("10010"), &trust(case))
            .await
            .is_err()
    );
    let beyond = c
        .export_trail(key().request(
            pb::ExportTrailRequest {
                from_sequence: 0,
                to_sequence: 99,
            },
            &paal(),
        ))
        .await
        .unwrap_err();
    assert_eq!(beyond.code(), Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test]
async fn without_checkpoints_get_checkpoint_says_what_to_configure() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&support::sqlite_url(&dir)).await;
    let mut c = client(&server).await;
    append_n(&mut c, 2).await;
    let status = get_checkpoint(&mut c, true).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("--checkpoint-key-file")
            && status.message().contains("AUDIT_CHECKPOINT_STORE"),
        "{}",
        status.message()
    );
    // VerifyChain and the export still work, with the chain alone.
    let report = verify_chain(&mut c, &paal()).await;
    assert!(report.intact && report.checkpoints_checked == 0);
    let text = String::from_utf8(export(&mut c, 0, 0).await).unwrap();
    assert_eq!(text.lines().count(), 3);
    // Half a configuration is refused at start.
    let mut config = Config::new(support::sqlite_url(&dir), identity());
    config.checkpoints.store = Some(dir.path().join("c").display().to_string());
    let Err(err) = audit_svc::start(config, Default::default()).await else {
        panic!("started with half a checkpoint configuration");
    };
    assert!(
        err.to_string().contains("AUDIT_CHECKPOINT_KEY_FILE"),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_checkpointer_signs_on_its_own_and_stops_at_tampering() {
    let case = Case::sqlite();
    let mut config = case.config();
    config.checkpoints.interval = Duration::from_millis(100);
    let server = start_with(config).await;
    let mut c = client(&server).await;
    append_n(&mut c, 5).await;
    wait_for(|| case.object(5).exists()).await;
    append_n(&mut c, 2).await;
    wait_for(|| case.object(7).exists()).await;
    assert!(verify_chain(&mut c, &paal()).await.intact);

    // A rewrite behind its back: the checkpointer does not sign over it.
    let before = tampering_count();
    case.owner().await.rewrite(&case.url, 6, "forged").await;
    append_n(&mut c, 1).await;
    wait_for(|| tampering_count() > before).await;
    // A few more rounds: still nothing signed over the rewrite.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!case.object(8).exists());
    server.stop().await;
}

async fn wait_for(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Long runs are signed as several checkpoints; two replicas signing the
/// same head at once leave one checkpoint; all of it verifies.
#[tokio::test]
async fn checkpoints_split_long_runs_and_replicas_agree() {
    let case = Case::sqlite();
    let events: Arc<dyn Store> = store::open(&case.url, true).await.unwrap();
    let body = |i: i64| audit_svc::event::EventBody {
        tenant: TENANT.into(),
        kind: 1,
        actor_id: "paal".into(),
        actor_display_name: "Paal Admin".into(),
        call_id: String::new(),
        recording_id: format!("rec-{i}"),
        reason: String::new(),
        client_address: String::new(),
        user_agent: String::new(),
        event_time: 1_700_000_000_000_000 + i,
        detail: String::new(),
        ..Default::default()
    };
    events
        .append(&(0..10).map(body).collect::<Vec<_>>())
        .await
        .unwrap();
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let replica = |clock: Arc<ManualClock>| {
        Checkpointer::new(
            audit_svc::checkpoint::load_key_file(&case.key_file).unwrap(),
            CheckpointStore::local(&case.store_dir).unwrap(),
            clock,
        )
        .with_max_events(4)
    };
    let (a, b) = (replica(clock.clone()), replica(clock.clone()));
    let (ours, theirs) = tokio::join!(
        a.sign(events.as_ref(), TENANT),
        b.sign(events.as_ref(), TENANT)
    );
    assert_eq!(ours.unwrap().unwrap().statement.sequence, 10);
    assert_eq!(theirs.unwrap().unwrap().statement.sequence, 10);
    let stored = CheckpointStore::local(&case.store_dir)
        .unwrap()
        .list(TENANT, None)
        .await
        .unwrap();
    assert_eq!(stored, [4, 8, 10]);

    // Signing all tenants again is a no-op; more events make one more.
    assert_eq!(a.sign_all(events.as_ref()).await, 1);
    events.append(&[body(10)]).await.unwrap();
    clock.advance(chrono::Duration::seconds(60));
    assert_eq!(b.sign_all(events.as_ref()).await, 1);
    let report = verify::verify_with(events.as_ref(), TENANT, 0, 0, &trust(&case))
        .await
        .unwrap();
    assert!(report.intact, "{report:?}");
    assert_eq!(
        (report.checkpoints_checked, report.newest_checkpoint),
        (4, 11)
    );

    // A checkpoint deleted from the store is missed by the one after it.
    std::fs::remove_file(case.object(8)).unwrap();
    let report = verify::verify_with(events.as_ref(), TENANT, 0, 0, &trust(&case))
        .await
        .unwrap();
    assert_eq!(report.first_bad_sequence, 8, "{report:?}");
    assert!(
        report.problem.contains("checkpoint 8 is missing"),
        "{}",
        report.problem
    );

    // The newest one gone from the store: the checkpointer that knew it says so.
    std::fs::remove_file(case.object(11)).unwrap();
    events.append(&[body(11)]).await.unwrap();
    let gone = b
        .sign(events.as_ref(), TENANT)
        .await
        .unwrap_err()
        .to_string();
    assert!(gone.contains("checkpoint 11 is gone"), "{gone}");
}

/// `audit-svc checkpoint-key` prints the public key, with no other settings.
#[test]
fn the_key_subcommand_prints_the_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_audit-svc"))
            .arg("checkpoint-key")
            .args(args)
            .env_remove("ARCHIVE_IDENTITY_KEY_FILE")
            .env_remove("ARCHIVE_TRUST_FILE")
            .env_remove("AUDIT_CHECKPOINT_KEY_FILE")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        )
    };
    let path = dir.path().join("k.pem");
    let public = public_key_hex(&generate_key_file(&path).unwrap());
    assert_eq!(run(&["--key-file", path.to_str().unwrap()]), (true, public));
    let fresh = dir.path().join("new.pem");
    assert!(!run(&["--key-file", fresh.to_str().unwrap()]).0);
    let (ok, made) = run(&["--key-file", fresh.to_str().unwrap(), "--generate"]);
    assert!(ok && made.len() == 64, "{made}");
    assert_eq!(run(&["--key-file", fresh.to_str().unwrap()]), (true, made));
}

/// Checkpoints in S3 (feature `s3`): a `moto_server` on loopback, or the
/// server at `ARCHIVE_TEST_S3_ENDPOINT`; skipped without either unless
/// `ARCHIVE_REQUIRE_S3=1`.
#[cfg(feature = "s3")]
mod s3 {
    use std::process::{Child, Stdio};

    use audit_svc::checkpoint::S3Options;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    struct Moto {
        child: Option<Child>,
        endpoint: String,
    }

    impl Drop for Moto {
        fn drop(&mut self) {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    async fn moto() -> Option<Moto> {
        let skip = |why: String| {
            assert!(
                std::env::var("ARCHIVE_REQUIRE_S3").as_deref() != Ok("1"),
                "ARCHIVE_REQUIRE_S3=1 but {why}"
            );
            eprintln!("S3 half SKIPPED: {why}");
            None
        };
        let moto = match std::env::var("ARCHIVE_TEST_S3_ENDPOINT") {
            Ok(endpoint) => Moto {
                child: None,
                endpoint,
            },
            Err(_) => {
                let port = std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port();
                match Command::new("moto_server")
                    .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                {
                    Ok(child) => Moto {
                        child: Some(child),
                        endpoint: format!("http://127.0.0.1:{port}"),
                    },
                    Err(e) => return skip(format!("cannot start moto_server: {e}")),
                }
            }
        };
        let host = moto.endpoint.trim_start_matches("http://").to_owned();
        let deadline = Instant::now() + Duration::from_secs(15);
        while tokio::net::TcpStream::connect(&host).await.is_err() {
            if Instant::now() > deadline {
                return skip(format!("nothing answers at {}", moto.endpoint));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(moto)
    }

    /// Creates `bucket` (moto takes an unsigned request).
    async fn create_bucket(endpoint: &str, bucket: &str) {
        let host = endpoint.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(host).await.unwrap();
        tcp.write_all(
            format!(
                "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[tokio::test]
    async fn checkpoints_are_signed_into_s3_and_verified_from_there() {
        let Some(moto) = moto().await else {
            return;
        };
        let bucket = format!("audit-{}", std::process::id());
        create_bucket(&moto.endpoint, &bucket).await;
        let options = S3Options {
            endpoint: Some(moto.endpoint.clone()),
            allow_http: true,
            path_style: true,
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            session_token: None,
        };
        let location = format!("s3://{bucket}/audit");
        let objects = CheckpointStore::open(&location, &options).unwrap();
        // Create-only on S3 too.
        assert!(objects.put("t-1", 3, "first".into()).await.unwrap());
        assert!(!objects.put("t-1", 3, "second".into()).await.unwrap());
        assert_eq!(objects.get("t-1", 3).await.unwrap().unwrap(), b"first\n");

        let case = Case::sqlite();
        let events: Arc<dyn Store> = store::open(&case.url, true).await.unwrap();
        let mut config = case.config();
        config.checkpoints.store = Some(location.clone());
        config.checkpoints.s3 = options.clone();
        let server = start_with(config).await;
        let mut c = client(&server).await;
        append_n(&mut c, 7).await;
        assert_eq!(get_checkpoint(&mut c, true).await.unwrap().sequence, 7);
        assert_eq!(objects.list(TENANT, None).await.unwrap(), [7]);
        let report = verify_chain(&mut c, &paal()).await;
        assert!(
            report.intact && report.checkpoints_checked == 1,
            "{report:?}"
        );
        server.stop().await;

        let trust = Trust::new(
            vec![objects],
            vec![audit_svc::checkpoint::parse_public_key(&case.public).unwrap()],
        );
        let report = verify::verify_with(events.as_ref(), TENANT, 0, 0, &trust)
            .await
            .unwrap();
        assert!(
            report.intact && report.checkpoints_checked == 1,
            "{report:?}"
        );
        let out = Command::new(env!("CARGO_BIN_EXE_audit-verify"))
            .args([
                "--database-url",
                &case.url,
                "--tenant",
                TENANT,
                "--checkpoints",
                &location,
                "--public-key",
                &case.public,
                "--checkpoint-s3-endpoint",
                &moto.endpoint,
                "--checkpoint-s3-allow-http",
                "--checkpoint-s3-path-style",
            ])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("against 1 signed checkpoints"), "{text}");
    }
}
