//! The operator on a running suite, as an operator would work: the `gateway
//! tenant …` / `gateway user …` commands (the binary, as a process) against
//! the embedded suite with nothing but `--data-dir`, then against a gateway
//! in split mode (its services over gRPC) with `--gateway-url` and
//! `--operator-token-file`. A new tenant's admin signs in; a suspended
//! tenant's users are refused with the clear text over gRPC and HTTP while
//! another tenant's users are not; resuming serves them again; the
//! operator's API admits only the operator credential.

#![allow(unused_crate_dependencies)]

use std::{path::Path, process::Command};

use archive_common::{Principal, shutdown::CancellationToken};
use archive_proto::v1::{
    self as pb, archive_service_client::ArchiveServiceClient,
    operator_service_client::OperatorServiceClient,
};
use gateway::{GatewayConfig, SuiteConfig, auth::Authenticate, suite::Suite};
use test_support::http;
use tonic::{Code, Request, metadata::MetadataValue};

/// `gateway --data-dir DATA args…` as a process: success, stdout, stderr.
async fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gateway"));
    command
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("ARCHIVE_GATEWAY_URL")
        .env_remove("ARCHIVE_OPERATOR_TOKEN")
        .env_remove("ARCHIVE_OPERATOR_TOKEN_FILE");
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn ok(data: &Path, args: &[&str]) -> String {
    let (ok, out, err) = cli(data, args).await;
    assert!(ok, "gateway {args:?}: {err}");
    out
}

fn bearer<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

/// A user's token, as the demo users' are made (the suite's JWT secret).
fn token(suite: &Suite, tenant: &str, user: &str, name: &str) -> String {
    Authenticate::hs256(suite.secrets.jwt_secret.as_bytes())
        .issue(&Principal::new(tenant, user, name), 600)
}

/// The user's session through the gateway at `addr`.
async fn session(
    addr: std::net::SocketAddr,
    token: &str,
) -> Result<pb::GetSessionResponse, tonic::Status> {
    let mut client = ArchiveServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    Ok(client
        .get_session(bearer(token, pb::GetSessionRequest {}))
        .await?
        .into_inner())
}

/// The operator's TENANT_SETTINGS_CHANGED events in the reader's tenant,
/// newest first, once there are `n` (the relay delivers them moments after
/// the change).
async fn operator_events(
    addr: std::net::SocketAddr,
    reader: &str,
    n: usize,
) -> Vec<pb::AuditEvent> {
    let mut client = ArchiveServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    for _ in 0..100 {
        let request = pb::ListEventsRequest {
            actor_id: "system:operator".into(),
            kind: pb::AuditEventKind::TenantSettingsChanged as i32,
            page_size: 100,
            ..Default::default()
        };
        let events = client
            .list_audit_events(bearer(reader, request))
            .await
            .unwrap()
            .into_inner()
            .events;
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} operator events arrived");
}

fn assert_suspended(result: Result<pb::GetSessionResponse, tonic::Status>) {
    let status = result.expect_err("a suspended tenant's user is refused");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(status.message(), "tenant 20002 is suspended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_creates_suspends_and_resumes_a_tenant_of_the_embedded_suite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let suite = Suite::start(SuiteConfig::ephemeral(data), CancellationToken::new())
        .await
        .unwrap();
    let gateway = suite.endpoints.gateway;

    let added = ok(
        data,
        &[
            "tenant",
            "add",
            "20002",
            "--name",
            "Other AS",
            "--admin",
            "boss:Boss Other",
        ],
    )
    .await;
    assert!(added.starts_with("20002\tactive\tOther AS"), "{added}");
    let (ok_again, _, err) = cli(
        data,
        &["tenant", "add", "20002", "--name", "Else", "--admin", "x:X"],
    )
    .await;
    assert!(
        !ok_again && err.contains("tenant 20002 already exists"),
        "{err}"
    );
    let (bad, _, err) = cli(
        data,
        &["tenant", "add", "2x", "--name", "Bad", "--admin", "x:X"],
    )
    .await;
    assert!(!bad && err.contains("tenant.tenant_id"), "{err}");

    // The new admin signs in and has every right.
    let boss = token(&suite, "20002", "boss", "Boss Other");
    let s = session(gateway, &boss).await.unwrap();
    assert_eq!((s.customer.as_str(), s.user_id.as_str()), ("20002", "boss"));
    let rights = s.permissions.unwrap();
    assert!(rights.admin && rights.play_recordings && rights.delete_recordings);

    let added = ok(
        data,
        &[
            "user",
            "add",
            "--tenant",
            "20002",
            "ola:Ola Nordmann",
            "--role",
            "supervisor",
            "--agent",
            "Ola Nordmann",
        ],
    )
    .await;
    assert!(
        added.starts_with("ola\tOla Nordmann\troles: supervisor"),
        "{added}"
    );
    let users = ok(data, &["user", "list", "--tenant", "20002"]).await;
    let ids: Vec<&str> = users
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(ids, ["boss", "ola"]);
    let (missing, _, err) = cli(data, &["user", "list", "--tenant", "30003"]).await;
    assert!(!missing && err.contains("tenant 30003 not found"), "{err}");

    let tenants = ok(data, &["tenant", "list"]).await;
    assert!(tenants.contains("10009\tactive"), "{tenants}");
    assert!(tenants.contains("20002\tactive\tOther AS"), "{tenants}");

    // Removal needs a suspension first.
    let (removed, _, err) = cli(data, &["tenant", "remove", "20002"]).await;
    assert!(
        !removed && err.contains("suspend it before removing it"),
        "{err}"
    );

    let suspended = ok(data, &["tenant", "suspend", "20002", "--reason", "unpaid"]).await;
    assert!(suspended.starts_with("20002\tsuspended"), "{suspended}");
    assert_suspended(session(gateway, &boss).await);
    let page = format!("http://{}/api/v1/session", suite.endpoints.gateway_http);
    let auth = format!("Bearer {boss}");
    let refused = http::request("GET", &page, &[("authorization", &auth)]).await;
    assert_eq!(refused.status, 403);
    let body = String::from_utf8(refused.body).unwrap();
    assert!(body.contains("tenant 20002 is suspended"), "{body}");
    // Another tenant's users are served as before.
    let paal = suite.token("paal", 600).unwrap();
    assert_eq!(session(gateway, &paal).await.unwrap().customer, "10009");

    ok(data, &["tenant", "resume", "20002"]).await;
    assert_eq!(session(gateway, &boss).await.unwrap().user_id, "boss");

    // The tenant's own trail shows who suspended it, why and from where:
    // the operator, with the state before and after.
    let trail = operator_events(gateway, &boss, 3).await;
    let said: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e.detail.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        said,
        [
            ("tenant 20002 (Other AS): state suspended -> active", ""),
            (
                "tenant 20002 (Other AS): state active -> suspended",
                "unpaid"
            ),
            ("created tenant 20002 (Other AS): state none -> active", ""),
        ]
    );
    assert!(
        trail
            .iter()
            .all(|e| e.client_address.starts_with("127.0.0.1"))
    );

    // The operator's JSON API: only with the operator credential.
    let tenants_url = format!(
        "http://{}/api/v1/operator/tenants",
        suite.endpoints.gateway_http
    );
    let operator = std::fs::read_to_string(data.join("operator.token")).unwrap();
    let listed = http::request(
        "GET",
        &tenants_url,
        &[("authorization", &format!("Bearer {operator}"))],
    )
    .await;
    assert_eq!(listed.status, 200);
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    assert_eq!(listed["tenants"][1]["tenant_id"], "20002");
    assert_eq!(listed["tenants"][1]["state"], "active");
    for wrong in [format!("Bearer {paal}"), "Bearer op_guess".to_owned()] {
        let refused = http::request("GET", &tenants_url, &[("authorization", &wrong)]).await;
        assert_eq!(refused.status, 401);
    }
    let op_auth = format!("Bearer {operator}");
    let state_url = |action: &str| format!("{tenants_url}/20002/{action}");
    let moved = http::post_json(
        &state_url("suspend"),
        &[("authorization", &op_auth)],
        r#"{"reason": "by API"}"#,
    )
    .await;
    assert_eq!(moved.status, 200);
    let moved: serde_json::Value = serde_json::from_slice(&moved.body).unwrap();
    assert_eq!(moved["state"], "suspended");
    assert_suspended(session(gateway, &boss).await);
    let moved = http::request("POST", &state_url("resume"), &[("authorization", &op_auth)]).await;
    assert_eq!(moved.status, 200);
    assert_eq!(session(gateway, &boss).await.unwrap().user_id, "boss");
    let unknown = http::request(
        "POST",
        &state_url("frobnicate"),
        &[("authorization", &op_auth)],
    )
    .await;
    assert_eq!(unknown.status, 404);

    let mut grpc = OperatorServiceClient::connect(format!("http://{gateway}"))
        .await
        .unwrap();
    let status = grpc
        .list_tenants(bearer(&paal, pb::ListTenantsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "a user is no operator"
    );

    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_mode_gateway_serves_the_operator_and_refuses_a_suspended_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let suite = Suite::start(SuiteConfig::ephemeral(data), CancellationToken::new())
        .await
        .unwrap();
    // A gateway of its own, reaching the services over gRPC, with its own
    // operator credential in a file named by flag.
    let token_file = data.join("split-operator.token");
    std::fs::write(&token_file, "op_split_secret").unwrap();
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (grpc_addr, http_addr) = (grpc.local_addr().unwrap(), http_l.local_addr().unwrap());
    let e = &suite.endpoints;
    let url = |addr: std::net::SocketAddr| format!("http://{addr}");
    let config = GatewayConfig {
        listen: grpc_addr,
        metrics_listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: suite.secrets.jwt_secret.clone(),
        identity: suite.keys.config("gateway"),
        archive_url: url(e.archive),
        media_url: url(e.media),
        authz_url: url(e.authz),
        audit_url: url(e.audit),
        http_listen: http_addr,
        public_url: url(http_addr),
        media_public_url: url(e.media_http),
        playback_key: suite.secrets.playback_key.clone(),
        playback_ttl_minutes: 60,
        playback_link_ttl_secs: 60,
        export_ttl_minutes: 60,
        demo_sign_in: false,
        jwks_file: None,
        trusted_proxies: String::new(),
        upstream_timeout_secs: 30,
        operator_token_file: Some(token_file.clone()),
        oidc: Default::default(),
    };
    let shutdown = CancellationToken::new();
    tokio::spawn(gateway::run(config, grpc, http_l, shutdown.clone()));
    gateway::suite::wait_serving("split gateway", grpc_addr)
        .await
        .unwrap();

    let flags = [
        "--gateway-url",
        &url(grpc_addr),
        "--operator-token-file",
        token_file.to_str().unwrap(),
    ];
    let with = |words: &[&str]| -> Vec<String> {
        words
            .iter()
            .chain(flags.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(data, &args).await
    };
    run(with(&[
        "tenant",
        "add",
        "20002",
        "--name",
        "Other AS",
        "--admin",
        "boss:Boss Other",
    ]))
    .await;
    let boss = token(&suite, "20002", "boss", "Boss Other");
    assert!(
        session(grpc_addr, &boss)
            .await
            .unwrap()
            .permissions
            .unwrap()
            .admin
    );
    // The embedded suite's credential is not this gateway's.
    let (wrong, _, err) = cli(data, &["tenant", "list", "--gateway-url", &url(grpc_addr)]).await;
    assert!(
        !wrong && err.contains("not the operator credential"),
        "{err}"
    );

    run(with(&["tenant", "suspend", "20002"])).await;
    assert_suspended(session(grpc_addr, &boss).await);
    // The embedded gateway refuses too: the refusal is authz-svc's.
    assert_suspended(session(suite.endpoints.gateway, &boss).await);
    run(with(&["tenant", "resume", "20002"])).await;
    assert_eq!(session(grpc_addr, &boss).await.unwrap().customer, "20002");

    shutdown.cancel();
    suite.stop().await.unwrap();
}
