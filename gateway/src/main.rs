//! `gateway`: the whole suite in one process by default (`cargo run --release`),
//! the gateway alone with `serve`, a demo token with `token`, or an
//! operator's keys and credentials with `credentials`.

// The library uses the dependencies; this thin binary needs only a few.
#![allow(unused_crate_dependencies)]

use archive_common::{metrics, shutdown, telemetry};
use clap::Parser;
use gateway::{Cli, Command, suite::Suite};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Suite) {
        Command::Suite => {
            let _telemetry = telemetry::init("archive-suite");
            let suite = Suite::start(cli.suite.clone(), shutdown::on_signal()).await?;
            print_banner(&suite, &cli.suite);
            suite.wait().await?;
        }
        Command::Serve(config) => {
            let _telemetry = telemetry::init("gateway");
            let config = *config;
            let shutdown = shutdown::on_signal();
            metrics::spawn(config.metrics_listen, shutdown.clone()).await?;
            let grpc = tokio::net::TcpListener::bind(config.listen).await?;
            let http = tokio::net::TcpListener::bind(config.http_listen).await?;
            gateway::run(config, grpc, http, shutdown).await?;
        }
        Command::Token { user, ttl } => {
            let secrets = gateway::Secrets::load(&cli.suite.data_dir)?;
            let principal = gateway::demo::user(&user)
                .ok_or_else(|| {
                    let known: Vec<_> = gateway::demo::users().iter().map(|u| u.user_id).collect();
                    format!("{user:?} is not a demo user ({})", known.join(", "))
                })?
                .principal();
            let token = gateway::auth::Authenticate::hs256(secrets.jwt_secret.as_bytes())
                .issue(&principal, ttl);
            println!("{token}");
        }
        Command::Tenant(command) => {
            let out = gateway::operator::cli::tenant(command, &cli.suite.data_dir).await?;
            println!("{out}");
        }
        Command::User(command) => {
            let out = gateway::operator::cli::user(command, &cli.suite.data_dir).await?;
            println!("{out}");
        }
        Command::Credentials(command) => {
            println!(
                "{}",
                gateway::credentials::run(&command, &cli.suite.data_dir)?
            );
        }
    }
    Ok(())
}

fn print_banner(suite: &Suite, suite_config: &gateway::SuiteConfig) {
    let data_dir = &suite_config.data_dir;
    let e = &suite.endpoints;
    println!();
    println!(
        "Call-recording archive: the whole suite is running (embedded mode, data in {}).",
        data_dir.display()
    );
    for (name, addr) in e.services() {
        println!("  {name:<12} grpc://{addr}");
    }
    for (name, addr, path) in [
        ("media HTTP", e.media_http, "media/{recording_id}?token=…"),
        (
            "web",
            e.gateway_http,
            "  (the Archive page; JSON API under /api/v1)",
        ),
        ("metrics", e.metrics, "metrics  (Prometheus, every service)"),
    ] {
        println!("  {name:<12} http://{addr}/{path}");
    }
    match suite.seeded {
        Some(r) => println!(
            "Seeded demo tenant {}: {} users, {} calls, {} recording files.",
            gateway::demo::TENANT,
            r.users_created,
            r.calls_created,
            r.files_uploaded
        ),
        None => println!(
            "Demo tenant {} reused from the data directory.",
            gateway::demo::TENANT
        ),
    }
    let key = data_dir.join("audit-checkpoint.pem");
    if let Ok(signing) = audit_svc::checkpoint::load_key_file(&key) {
        println!(
            "Audit checkpoints: signed with {} (public key {}) into {} (audit-verify --help).",
            key.display(),
            audit_svc::checkpoint::public_key_hex(&signing.verifying_key()),
            data_dir.join("audit-checkpoints").display(),
        );
    }
    println!(
        "Service keys: {} (each process its own private key; trust.json holds the public keys).",
        suite.keys.dir.display()
    );
    let credential = suite.keys.dir.join("recording-platform.credential");
    println!(
        "Recording platform of tenant {} (may only ingest calls and upload recordings): \
         credential in {}",
        gateway::demo::TENANT,
        credential.display()
    );
    println!();
    if let Some(issuer) = &suite_config.oidc.oidc_issuer {
        println!("The web page signs in with {issuer} (docs/OIDC.md); the demo picker is off.");
    }
    println!("Demo users (tokens valid 12 h; a fresh one: cargo run --release -- token USER):");
    for user in gateway::demo::users() {
        let token = suite.token(user.user_id, 12 * 3600).unwrap_or_default();
        println!(
            "  {:<8} {} — {}",
            user.user_id, user.display_name, user.role
        );
        println!("           {token}");
    }
    println!();
    println!("Try:");
    println!("  TOKEN=$(cargo run -q --release -- token paal)");
    println!(
        "  grpcurl -plaintext -H \"authorization: Bearer $TOKEN\" -d '{{\"page_size\": 5}}' {} archive.v1.ArchiveService/SearchCallRows",
        e.gateway
    );
    println!(
        "  grpcurl -plaintext -H \"x-archive-identity: $(cat {})\" -H 'x-archive-tenant: {}' \
         -d '{{\"session_id\": \"demo-1\", \"start_time\": \"2026-12-07T09:00:00Z\", \"caller_number\": \"4791\", \"access_point\": {{\"number\": \"81511569\", \"name\": \"Main Demo Number\"}}}}' \
         {} archive.v1.CallService/IngestCall",
        credential.display(),
        gateway::demo::TENANT,
        e.archive
    );
    println!("Ctrl-C stops everything.");
}
