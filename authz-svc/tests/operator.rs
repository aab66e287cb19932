//! authz-svc's OperatorService over gRPC: only `system:operator` signed by
//! the gateway is admitted (a user, another gateway principal, or another
//! holder signing the operator's name are refused); tenants are created
//! with their first admin, listed page by page, suspended (their users'
//! decisions and GetMyPermissions refused with the tenant named, another
//! tenant's users untouched) and resumed; bad input names the field.

#![allow(unused_crate_dependencies)]

mod common;

use archive_common::{Principal, error::violated_field};
use archive_proto::v1::{
    self as pb, Action, Verdict, authz_service_client::AuthzServiceClient,
    operator_service_client::OperatorServiceClient,
};
use authz_svc::{Config, operator::operator_principal};
use common::{identity, key, keys, paal, start};
use tonic::{Code, Request, Status, transport::Channel};

fn config(dir: &tempfile::TempDir) -> Config {
    let mut config = Config::new(
        format!("sqlite://{}", dir.path().join("authz.db").display()),
        identity("authz-svc"),
    );
    config.bootstrap_admins = vec!["10009:paal:Paal Admin".into()];
    config
}

/// `message` as the operator, through the gateway.
fn as_operator<T>(message: T) -> Request<T> {
    key().request(message, &operator_principal())
}

fn create_request(tenant_id: &str, admin_id: &str) -> pb::CreateTenantRequest {
    pb::CreateTenantRequest {
        tenant: Some(pb::Tenant {
            tenant_id: tenant_id.into(),
            display_name: "Other AS".into(),
            ..Default::default()
        }),
        admin: Some(pb::User {
            user_id: admin_id.into(),
            display_name: "Boss Other".into(),
            ..Default::default()
        }),
        context: None,
    }
}

async fn decide(
    authz: &AuthzServiceClient<Channel>,
    who: &Principal,
) -> Result<pb::BatchDecideResponse, Status> {
    let request = pb::BatchDecideRequest {
        requests: vec![pb::DecideRequest {
            action: Action::Play as i32,
            resource: None,
        }],
    };
    Ok(authz
        .clone()
        .batch_decide(key().request(request, who))
        .await?
        .into_inner())
}

#[tokio::test]
async fn only_the_operator_through_the_gateway_is_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let mut op = OperatorServiceClient::new(server.channel().await);
    let list = pb::ListTenantsRequest::default();
    for (request, why) in [
        (
            key().request(list.clone(), &paal()),
            "user paal (through gateway) may not call ListTenants",
        ),
        (
            key().request(list.clone(), &Principal::system("", "searches")),
            "only the operator may call ListTenants",
        ),
        (
            keys()
                .signer("archive-svc")
                .request(list.clone(), &operator_principal()),
            "may not call ListTenants",
        ),
    ] {
        let err = op.list_tenants(request).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        assert!(err.message().contains(why), "{err:?}");
    }
    let listed = op
        .list_tenants(as_operator(list))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = listed
        .tenants
        .iter()
        .map(|t| t.tenant_id.as_str())
        .collect();
    assert_eq!(ids, ["10009"], "the bootstrap admin's tenant is registered");
    server.stop().await;
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_until_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(&dir)).await;
    let channel = server.channel().await;
    let mut op = OperatorServiceClient::new(channel.clone());
    let authz = AuthzServiceClient::new(channel);

    // Bad input names the field; nothing is written.
    for (request, field) in [
        (create_request("20x02", "boss"), "tenant.tenant_id"),
        (create_request("20002", "bad id"), "admin.user_id"),
        (
            pb::CreateTenantRequest {
                admin: None,
                ..create_request("20002", "boss")
            },
            "admin",
        ),
    ] {
        let err = op.create_tenant(as_operator(request)).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&err).as_deref(), Some(field));
    }
    let err = op
        .get_tenant(as_operator(pb::GetTenantRequest {
            tenant_id: "20002".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let created = op
        .create_tenant(as_operator(create_request("20002", "boss")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.state, pb::TenantState::Active as i32);
    let err = op
        .create_tenant(as_operator(create_request("20002", "boss")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // The first admin has every right, the admin role included.
    let boss = Principal::new("20002", "boss", "Boss Other");
    let me = authz
        .clone()
        .get_my_permissions(key().request(pb::GetMyPermissionsRequest {}, &boss))
        .await
        .unwrap()
        .into_inner();
    assert!(me.permissions.unwrap().admin);
    let verdict = decide(&authz, &boss).await.unwrap().decisions[0].verdict;
    assert_eq!(verdict, Verdict::Allow as i32);

    let suspend = || {
        as_operator(pb::SuspendTenantRequest {
            tenant_id: "20002".into(),
            context: None,
        })
    };
    let suspended = op.suspend_tenant(suspend()).await.unwrap().into_inner();
    assert_eq!(suspended.state, pb::TenantState::Suspended as i32);
    let err = decide(&authz, &boss).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(err.message(), "tenant 20002 is suspended");
    let err = authz
        .clone()
        .get_my_permissions(key().request(pb::GetMyPermissionsRequest {}, &boss))
        .await
        .unwrap_err();
    assert_eq!(err.message(), "tenant 20002 is suspended");
    // Another tenant's users are served as before.
    assert!(decide(&authz, &paal()).await.is_ok());
    // The operator may still add users to it (to prepare its return).
    op.create_tenant_user(as_operator(pb::CreateTenantUserRequest {
        tenant_id: "20002".into(),
        user: Some(pb::User {
            user_id: "ola".into(),
            display_name: "Ola Nordmann".into(),
            ..Default::default()
        }),
        context: None,
    }))
    .await
    .unwrap();

    op.resume_tenant(as_operator(pb::ResumeTenantRequest {
        tenant_id: "20002".into(),
        context: None,
    }))
    .await
    .unwrap();
    assert!(decide(&authz, &boss).await.is_ok());

    // Two pages of one.
    let first = op
        .list_tenants(as_operator(pb::ListTenantsRequest {
            page_size: 1,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.tenants[0].tenant_id, "10009");
    let second = op
        .list_tenants(as_operator(pb::ListTenantsRequest {
            page_size: 1,
            page_token: first.next_page_token,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.tenants[0].tenant_id, "20002");
    assert!(second.next_page_token.is_empty());

    let users = op
        .list_tenant_users(as_operator(pb::ListTenantUsersRequest {
            tenant_id: "20002".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = users.users.iter().map(|u| u.user_id.as_str()).collect();
    assert_eq!(ids, ["boss", "ola"]);
    server.stop().await;
}
