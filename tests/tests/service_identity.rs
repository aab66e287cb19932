//! Least privilege between the services, tried as an attacker holding one
//! credential would, against the suite's services on their own ports (real
//! gRPC, each process with its own key, verifying with the trust file):
//!
//! - the recording platform's credential ingests for its tenant and nothing
//!   else: MarkRecordingsDeleted, GetCall (its tenant's or another's),
//!   media deletion and reading the trail are PERMISSION_DENIED, each
//!   refusal an ACCESS_DENIED event in the trail naming the RPC;
//! - it cannot become a user: its credential re-labelled as a user, or a
//!   user token signed with any key but the gateway's, is UNAUTHENTICATED;
//! - a token the gateway signed, stolen in transit, cannot be altered or
//!   re-signed (another tenant, another user), only replayed as itself
//!   within its two minutes;
//! - a service's own key cannot speak for a user, and a service calls only
//!   what its allow-list names.

#![allow(unused_crate_dependencies)]

mod common;

use std::time::{Duration, Instant};

use archive_common::{
    Principal,
    identity::{Role, TENANT_HEADER},
};
use archive_proto::v1::{
    self as pb, audit_service_client::AuditServiceClient, call_service_client::CallServiceClient,
    media_service_client::MediaServiceClient,
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{audit_events_where, client, keys, start_suite};
use gateway::suite::Suite;
use test_support::principals::paal;
use tonic::{Code, Request, metadata::MetadataValue, transport::Channel};

async fn archive(suite: &Suite) -> CallServiceClient<Channel> {
    CallServiceClient::connect(format!("http://{}", suite.endpoints.archive))
        .await
        .unwrap()
}

/// `request` with `token` as its identity (and the tenant header, if any).
fn with_token<T>(message: T, token: &str, tenant: Option<&str>) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "x-archive-identity",
        MetadataValue::try_from(token).unwrap(),
    );
    if let Some(tenant) = tenant {
        request
            .metadata_mut()
            .insert(TENANT_HEADER, MetadataValue::try_from(tenant).unwrap());
    }
    request
}

/// `token` with its claims edited by `edit`, under its original signature.
fn tampered(token: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut claims);
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{claims}.{}", parts[0], parts[2])
}

/// The ACCESS_DENIED events of 10009 whose detail names `rpc`, waiting up
/// to 20 s for them (archive-svc's reach the trail through its outbox).
async fn denials(suite: &Suite, rpc: &str, at_least: usize) -> Vec<pb::AuditEvent> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events: Vec<pb::AuditEvent> = audit_events_where(
            client(suite).await,
            suite,
            pb::ListEventsRequest {
                kind: pb::AuditEventKind::AccessDenied as i32,
                ..Default::default()
            },
        )
        .await
        .into_iter()
        .filter(|e| e.detail.contains(&format!("refused {rpc}:")))
        .collect();
        if events.len() >= at_least || Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ingest(session: &str) -> pb::IngestCallRequest {
    let at = archive_common::convert::timestamp(chrono::Utc::now() - chrono::TimeDelta::hours(1));
    pb::IngestCallRequest {
        session_id: session.into(),
        start_time: Some(at),
        access_point: Some(pb::AccessPoint {
            number: "81511569".into(),
            name: "Main Demo Number".into(),
        }),
        caller_number: "95214830".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recording_platform_ingests_for_its_tenant_and_does_nothing_else() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let platform = keys::platform(&suite.keys);
    let mut archive = archive(&suite).await;

    let call = archive
        .ingest_call(platform.request(ingest("idt-1"), "10009"))
        .await
        .unwrap()
        .into_inner()
        .call
        .unwrap();
    let recording = call.recordings.first().map(|r| r.recording_id.clone());

    // Another tenant: refused (and recorded in that tenant's own trail).
    let err = archive
        .ingest_call(platform.request(ingest("idt-2"), "10010"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains("does not name tenant 10010"),
        "{err:?}"
    );

    // The RPCs that are not ingest, even for its own tenant.
    let err = archive
        .mark_recordings_deleted(platform.request(
            pb::MarkRecordingsDeletedRequest {
                recording_ids: recording.clone().into_iter().collect(),
                context: None,
            },
            "10009",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    for tenant in ["10009", "10010"] {
        let err = archive
            .get_call(platform.request(
                pb::GetCallRequest {
                    call_id: call.call_id.clone(),
                },
                tenant,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{tenant}: {err:?}");
    }
    let mut media = MediaServiceClient::connect(format!("http://{}", suite.endpoints.media))
        .await
        .unwrap();
    if let Some(recording) = &recording {
        let err = media
            .delete_recording_media(platform.request(
                pb::DeleteRecordingMediaRequest {
                    recording_id: recording.clone(),
                },
                "10009",
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    }
    let mut audit = AuditServiceClient::connect(format!("http://{}", suite.endpoints.audit))
        .await
        .unwrap();
    let err = audit
        .list_events(platform.request(pb::ListEventsRequest::default(), "10009"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // Each refusal is in the trail, the platform as the actor.
    for (rpc, count) in [
        ("MarkRecordingsDeleted", 1),
        ("GetCall", 1),
        ("ListEvents", 1),
        ("DeleteRecordingMedia", usize::from(recording.is_some())),
    ] {
        let events = denials(&suite, rpc, count).await;
        assert_eq!(events.len(), count, "{rpc}: {events:?}");
        for e in events {
            assert_eq!(e.actor_id, "system:e2e-platform", "{rpc}: {e:?}");
            assert!(
                e.detail.contains("recording platform e2e-platform"),
                "{e:?}"
            );
        }
    }
    suite.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_but_the_gateway_speaks_for_a_user() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let mut archive = archive(&suite).await;
    let settings = || pb::GetTenantSettingsRequest {};

    // What the gateway sends works, as whom it names.
    let token = keys::gateway_key(&suite.keys).sign(&paal()).to_string();
    archive
        .get_tenant_settings(with_token(settings(), &token, None))
        .await
        .unwrap();

    // Stolen in transit: another tenant or user under the same signature.
    for edit in [
        (|c: &mut serde_json::Value| c["tenant"] = "10010".into()) as fn(&mut serde_json::Value),
        |c| c["sub"] = "sara".into(),
        |c| c["exp"] = (c["exp"].as_i64().unwrap() + 86_400).into(),
    ] {
        let err = archive
            .get_tenant_settings(with_token(settings(), &tampered(&token, edit), None))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    }

    // The platform's credential relabelled as a user.
    let platform = keys::platform(&suite.keys);
    let as_user = tampered(platform.token(), |c| {
        c["kind"] = "user".into();
        c["tenant"] = "10009".into();
        c["sub"] = "paal".into();
    });
    let err = archive
        .get_tenant_settings(with_token(settings(), &as_user, Some("10009")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A user signed by anyone but the gateway: a service's own key, the
    // authority's, or a stranger's claiming to be the gateway.
    for signer in [
        keys::signer(&suite.keys, "media-svc"),
        keys::signer(&suite.keys, "authority"),
        archive_common::identity::IdentityKey::with_holder(
            &archive_common::identity::load_key_file(&data.path().join("keys/archive-svc.pem"))
                .unwrap(),
            "gateway",
            Role::Gateway,
            std::sync::Arc::new(archive_common::SystemClock),
        ),
    ] {
        let err = archive
            .get_tenant_settings(signer.request(settings(), &paal()))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{signer:?}: {err:?}");
    }

    // A service acting for itself is held to its allow-list: media-svc may
    // not delete recordings through archive-svc, archive-svc may not read
    // the trail.
    let media_svc = keys::signer(&suite.keys, "media-svc");
    let err = archive
        .mark_recordings_deleted(media_svc.request(
            pb::MarkRecordingsDeletedRequest {
                recording_ids: vec![uuid::Uuid::new_v4().to_string()],
                context: None,
            },
            &Principal::system("10009", "media-svc"),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let events = denials(&suite, "MarkRecordingsDeleted", 1).await;
    assert_eq!(events[0].actor_id, "system:media-svc", "{events:?}");
    assert!(events[0].detail.contains("service media-svc"), "{events:?}");
    suite.stop().await.unwrap();
}
