//! `audit-verify`: checks one tenant's audit trail without the service — on
//! a database (e.g. a restored backup), or offline on an export (ExportTrail's
//! JSON lines) with no database at all — by the hash chain and against the
//! signed checkpoints. It changes nothing (no migrations, no file creation).
//!
//! ```text
//! audit-verify --database-url URL --tenant T [--checkpoints DIR|s3://…] [--public-key HEX]
//! audit-verify --export FILE.jsonl --public-key HEX [--checkpoints DIR|s3://…]
//! ```
//!
//! Exit status: 0 intact, 1 broken (the report names the first bad event),
//! 2 the check could not run.

// The dependencies belong to the library; this tool uses few of them.
#![allow(unused_crate_dependencies)]

use std::{path::PathBuf, process::ExitCode, time::Duration};

use audit_svc::{
    checkpoint::{CheckpointStore, S3Options, parse_public_key},
    verify::{self, Report, Trust},
};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "audit-verify",
    about = "Verify a tenant's audit trail (a database, or an export offline) by its hash chain \
             and its signed checkpoints"
)]
struct Args {
    /// `sqlite://path` or `postgres://…` of the audit database.
    #[arg(long, env = "AUDIT_DATABASE_URL", required_unless_present = "export")]
    database_url: Option<String>,
    /// Verify this export (ExportTrail's JSON lines) offline instead: no database.
    #[arg(long, value_name = "FILE.jsonl")]
    export: Option<PathBuf>,
    /// The tenant ("customer") whose trail to check, e.g. 10009. With
    /// `--export`, optional: when given it must be the export's.
    #[arg(long, required_unless_present = "export")]
    tenant: Option<String>,
    /// First sequence to check (0: the first event). Database only.
    #[arg(long, default_value_t = 0, conflicts_with = "export")]
    from: u64,
    /// Last sequence to check (0: the last event). Database only.
    #[arg(long, default_value_t = 0, conflicts_with = "export")]
    to: u64,
    /// The checkpoint store: a directory (`/path`, `file:///path`) or
    /// `s3://bucket/prefix` (AWS_* variables, `--checkpoint-s3-*`). With
    /// `--export`, checked in addition to the export's own checkpoints.
    #[arg(long, env = "AUDIT_CHECKPOINT_STORE", value_name = "DIR|s3://…")]
    checkpoints: Option<String>,
    /// The public key (64 hex digits, `audit-svc checkpoint-key`) checkpoints
    /// must be signed with; repeat it (or separate by commas) to also trust
    /// an earlier key.
    #[arg(
        long = "public-key",
        env = "AUDIT_CHECKPOINT_PUBLIC_KEY",
        value_delimiter = ','
    )]
    public_keys: Vec<String>,
    #[command(flatten)]
    s3: S3Options,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let started = std::time::Instant::now();
    match check(&args).await {
        Ok((tenant, report, with_checkpoints)) => {
            print(&tenant, &report, with_checkpoints, started.elapsed());
            if report.intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("audit-verify: {e}");
            ExitCode::from(2)
        }
    }
}

/// The tenant, the report, and whether any checkpoints were asked for.
async fn check(args: &Args) -> Result<(String, Report, bool), Box<dyn std::error::Error>> {
    let keys = args
        .public_keys
        .iter()
        .map(|k| parse_public_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let mut trust = Trust::new(Vec::new(), keys);
    if let Some(location) = &args.checkpoints {
        trust
            .stores
            .push(CheckpointStore::open(location, &args.s3)?);
    }
    if let Some(export) = &args.export {
        if trust.keys.is_empty() {
            return Err(
                "--export needs --public-key: the key its checkpoints must verify with".into(),
            );
        }
        let (tenant, report) =
            verify::verify_export(export, args.tenant.as_deref(), &trust).await?;
        return Ok((tenant, report, true));
    }
    match (trust.stores.is_empty(), trust.keys.is_empty()) {
        (false, true) => return Err("--checkpoints needs --public-key".into()),
        (true, false) => return Err("--public-key needs --checkpoints (where they are)".into()),
        _ => {}
    }
    let url = args
        .database_url
        .as_deref()
        .expect("required without --export");
    let tenant = args.tenant.clone().expect("required without --export");
    let store = audit_svc::store::connect_existing(url).await?;
    let report = verify::verify_with(store.as_ref(), &tenant, args.from, args.to, &trust).await?;
    Ok((tenant, report, !trust.stores.is_empty()))
}

fn print(tenant: &str, report: &Report, with_checkpoints: bool, elapsed: Duration) {
    if report.intact {
        let range = match report.events_checked {
            0 => String::new(),
            n => format!(
                " ({}..={})",
                report.last_sequence + 1 - n,
                report.last_sequence
            ),
        };
        println!(
            "tenant {tenant}: chain intact, {} events checked{range} in {elapsed:.2?}, against {} \
             signed checkpoints",
            report.events_checked, report.checkpoints_checked
        );
    } else {
        println!(
            "tenant {tenant}: chain BROKEN at sequence {}: {} ({} events checked before it, {} \
             signed checkpoints checked)",
            report.first_bad_sequence,
            report.problem,
            report.events_checked,
            report.checkpoints_checked
        );
    }
    if !with_checkpoints {
        println!(
            "note: no checkpoints given: only the hash chain was checked, which cannot show the \
             newest events deleted or the chain rewritten after an edit"
        );
    } else if report.intact && report.last_sequence > report.newest_checkpoint {
        println!(
            "note: events {}..={} are newer than the newest checkpoint and were checked by the \
             hash chain only",
            report.newest_checkpoint + 1,
            report.last_sequence
        );
    }
}
