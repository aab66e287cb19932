//! The embedded gateway reaches archive-svc and authz-svc in its own process
//! (their services called directly for result pages); a gateway given their
//! URLs, as on Kubernetes, calls them over gRPC. Both must answer alike: the
//! same rows and verdicts, the same refusals, another tenant's data NOT_FOUND.

#![allow(unused_crate_dependencies)]

mod common;

use archive_common::{Principal, shutdown::CancellationToken};
use archive_proto::v1 as pb;
use common::{authed, client, client_at, extra_gateway, start_suite};
use gateway::auth::Authenticate;
use tonic::{Code, Request, metadata::MetadataValue};

type Answer<T> = Result<T, Code>;

fn bearer<T>(token: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}

fn answer<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Answer<T> {
    result
        .map(tonic::Response::into_inner)
        .map_err(|s| s.code())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_and_a_separate_gateway_answer_alike() {
    let data = tempfile::tempdir().unwrap();
    let suite = start_suite(data.path()).await;
    let stop = CancellationToken::new();
    let separate = extra_gateway::start(&suite, None, None, stop.clone()).await;
    let mut embedded = client(&suite).await;
    let mut over_grpc = client_at(separate.grpc).await;

    let page = |user: &str, page_token: &str| {
        authed(
            &suite,
            user,
            pb::SearchCallRowsRequest {
                page_size: 15,
                page_token: page_token.into(),
                ..Default::default()
            },
        )
    };
    for user in ["paal", "sara", "rita", "nils", "andreas"] {
        let here = answer(embedded.search_call_rows(page(user, "")).await);
        let there = answer(over_grpc.search_call_rows(page(user, "")).await);
        assert_eq!(here, there, "{user}");
        if let Ok(first) = here {
            assert_eq!(first.rows.len(), 15, "{user}");
            // A page token from one gateway serves the other (archive-svc signs it).
            let next = |token: &str| page(user, token);
            let here = answer(
                embedded
                    .search_call_rows(next(&first.next_page_token))
                    .await,
            );
            let there = answer(
                over_grpc
                    .search_call_rows(next(&first.next_page_token))
                    .await,
            );
            assert_eq!(here, there, "{user}, second page");
            assert!(!here.unwrap().rows.is_empty(), "{user}");
        }
    }
    // The verdicts reached the rows: Play disabled for the user without it.
    let nils = answer(embedded.search_call_rows(page("nils", "")).await).unwrap();
    assert!(nils.rows.iter().any(|r| !r.recording_tab_enabled));
    assert!(
        nils.rows
            .iter()
            .flat_map(|r| &r.recordings)
            .any(|r| r.play_state == pb::PlayState::Disabled as i32)
    );

    // "My call recordings" and one call's row.
    let mine = || {
        authed(
            &suite,
            "andreas",
            pb::ListMyCallRowsRequest {
                page_size: 10,
                ..Default::default()
            },
        )
    };
    let here = answer(embedded.list_my_call_rows(mine()).await);
    assert_eq!(here, answer(over_grpc.list_my_call_rows(mine()).await));
    assert!(!here.unwrap().rows.is_empty());
    let call_id = nils.rows[0].call.as_ref().unwrap().call_id.clone();
    let row = |user: &str| {
        authed(
            &suite,
            user,
            pb::GetCallRowRequest {
                call_id: call_id.clone(),
            },
        )
    };
    let here = answer(embedded.get_call_row(row("sara")).await);
    assert_eq!(here, answer(over_grpc.get_call_row(row("sara")).await));
    assert_eq!(here.unwrap().row.unwrap(), {
        let mut sara = answer(embedded.search_call_rows(page("sara", "")).await).unwrap();
        sara.rows.swap_remove(0)
    });

    // Another tenant: its user's token is good, the call is not theirs.
    let eve = Authenticate::hs256(suite.secrets.jwt_secret.as_bytes())
        .issue(&Principal::new("10010", "eve", "Eve Elsewhere"), 600);
    let get = || {
        bearer(
            &eve,
            pb::GetCallRowRequest {
                call_id: call_id.clone(),
            },
        )
    };
    assert_eq!(
        answer(embedded.get_call_row(get()).await),
        Err(Code::NotFound)
    );
    assert_eq!(
        answer(over_grpc.get_call_row(get()).await),
        Err(Code::NotFound)
    );
    let search = || bearer(&eve, pb::SearchCallRowsRequest::default());
    let here = answer(embedded.search_call_rows(search()).await);
    assert_eq!(here, answer(over_grpc.search_call_rows(search()).await));
    assert!(
        here.as_ref().is_ok_and(|p| p.rows.is_empty()) || here == Err(Code::PermissionDenied),
        "{here:?}"
    );
    stop.cancel();
}
