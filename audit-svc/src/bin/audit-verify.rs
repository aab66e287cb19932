//! `audit-verify`: checks one tenant's audit chain directly on a database,
//! without the service, e.g. by an auditor on a restored backup. It changes
//! nothing (no migrations, no file creation).
//!
//! Exit status: 0 intact, 1 a bad link was found, 2 the check could not run.

// The dependencies belong to the library; this tool uses few of them.
#![allow(unused_crate_dependencies)]

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "audit-verify",
    about = "Verify a tenant's audit hash chain on a database"
)]
struct Args {
    /// `sqlite://path` or `postgres://…` of the audit database.
    #[arg(long, env = "AUDIT_DATABASE_URL")]
    database_url: String,
    /// The tenant ("customer") whose chain to check, e.g. 10009.
    #[arg(long)]
    tenant: String,
    /// First sequence to check (0: the first event).
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Last sequence to check (0: the last event).
    #[arg(long, default_value_t = 0)]
    to: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let started = std::time::Instant::now();
    let result = async {
        let store = audit_svc::store::connect_existing(&args.database_url).await?;
        audit_svc::verify::verify(store.as_ref(), &args.tenant, args.from, args.to).await
    }
    .await;
    match result {
        Ok(report) if report.intact => {
            println!(
                "tenant {}: chain intact, {} events checked in {:.2?}",
                args.tenant,
                report.events_checked,
                started.elapsed()
            );
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!(
                "tenant {}: chain BROKEN at sequence {}: {} ({} events checked before it)",
                args.tenant, report.first_bad_sequence, report.problem, report.events_checked
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("audit-verify: {e}");
            ExitCode::from(2)
        }
    }
}
