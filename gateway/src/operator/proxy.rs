//! The gateway's OperatorService: each call, once its operator credential
//! is verified (the server's interceptor), goes on to authz-svc's
//! OperatorService as `system:operator`, signed with the gateway's key; the
//! answer comes back as it is (a failure to reach authz-svc as the
//! gateway's other upstream failures are: UNAVAILABLE with a retry hint).
//! The JSON API calls the same methods.

use std::time::Duration;

use archive_common::{
    IdentityKey,
    telemetry::client::{self, TracedChannel},
};
use archive_proto::v1::{
    self as pb, operator_service_client::OperatorServiceClient,
    operator_service_server::OperatorService,
};
use authz_svc::operator::operator_principal;
use tonic::{Request, Response, Status};

use crate::Error;

type Client = OperatorServiceClient<TracedChannel>;

#[derive(Clone)]
pub struct OperatorProxy {
    client: Client,
    key: IdentityKey,
}

impl OperatorProxy {
    /// authz-svc at `authz_url` (connected lazily), each call bounded by `timeout`.
    pub fn connect(authz_url: &str, key: IdentityKey, timeout: Duration) -> Result<Self, Error> {
        let channel = client::channel(authz_url, Duration::from_secs(5), timeout)?;
        Ok(Self {
            client: Client::new(channel),
            key,
        })
    }

    fn signed<T>(&self, message: T) -> Request<T> {
        self.key.request(message, &operator_principal())
    }
}

/// Each RPC: signed as the operator, answered as authz-svc answered.
macro_rules! forward {
    ($($rpc:ident($request:ty) -> $response:ty;)*) => {
        impl OperatorProxy {
            $(
                pub async fn $rpc(&self, message: $request) -> Result<$response, Status> {
                    self.client
                        .clone()
                        .$rpc(self.signed(message))
                        .await
                        .map(Response::into_inner)
                        .map_err(|s| Error::upstream("authz-svc")(s).into())
                }
            )*
        }

        #[tonic::async_trait]
        impl OperatorService for OperatorProxy {
            $(
                async fn $rpc(&self, request: Request<$request>) -> Result<Response<$response>, Status> {
                    OperatorProxy::$rpc(self, request.into_inner()).await.map(Response::new)
                }
            )*
        }
    };
}

forward! {
    create_tenant(pb::CreateTenantRequest) -> pb::Tenant;
    get_tenant(pb::GetTenantRequest) -> pb::Tenant;
    list_tenants(pb::ListTenantsRequest) -> pb::ListTenantsResponse;
    suspend_tenant(pb::SuspendTenantRequest) -> pb::Tenant;
    resume_tenant(pb::ResumeTenantRequest) -> pb::Tenant;
    remove_tenant(pb::RemoveTenantRequest) -> pb::Tenant;
    create_tenant_user(pb::CreateTenantUserRequest) -> pb::User;
    list_tenant_users(pb::ListTenantUsersRequest) -> pb::ListUsersResponse;
}
