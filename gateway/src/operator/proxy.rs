//! The gateway's OperatorService: each call, once its operator credential
//! is verified (the server's interceptor), goes on to authz-svc's
//! OperatorService as `system:operator`, signed with the gateway's key; the
//! answer comes back as it is (a failure to reach authz-svc as the
//! gateway's other upstream failures are: UNAVAILABLE with a retry hint).
//! A change carries the client's address as the gateway sees it (the peer,
//! or `X-Forwarded-For` behind the trusted proxies), whatever the request
//! said. The JSON API calls the same methods.

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

use crate::{Error, origin::TrustedProxies};

type Client = OperatorServiceClient<TracedChannel>;

#[derive(Clone)]
pub struct OperatorProxy {
    client: Client,
    key: IdentityKey,
    proxies: TrustedProxies,
}

impl OperatorProxy {
    /// authz-svc at `authz_url` (connected lazily), each call bounded by `timeout`.
    pub fn connect(
        authz_url: &str,
        key: IdentityKey,
        proxies: TrustedProxies,
        timeout: Duration,
    ) -> Result<Self, Error> {
        let channel = client::channel(authz_url, Duration::from_secs(5), timeout)?;
        Ok(Self {
            client: Client::new(channel),
            key,
            proxies,
        })
    }

    pub(crate) fn proxies(&self) -> &TrustedProxies {
        &self.proxies
    }

    fn signed<T>(&self, message: T) -> Request<T> {
        self.key.request(message, &operator_principal())
    }

    /// The client's address of a gRPC request.
    fn client_address<T>(&self, request: &Request<T>) -> String {
        let forwarded = request.metadata().get_all("x-forwarded-for");
        let forwarded = forwarded.iter().filter_map(|v| v.to_str().ok());
        self.proxies
            .client_address(request.remote_addr(), forwarded)
    }
}

/// Each RPC: signed as the operator, answered as authz-svc answered; a
/// change's context gets the client's address.
macro_rules! forward {
    (
        changes { $($change:ident($change_req:ty) -> $change_resp:ty;)* }
        reads { $($read:ident($read_req:ty) -> $read_resp:ty;)* }
    ) => {
        impl OperatorProxy {
            $(
                pub async fn $change(&self, message: $change_req) -> Result<$change_resp, Status> {
                    self.client
                        .clone()
                        .$change(self.signed(message))
                        .await
                        .map(Response::into_inner)
                        .map_err(|s| Error::upstream("authz-svc")(s).into())
                }
            )*
            $(
                pub async fn $read(&self, message: $read_req) -> Result<$read_resp, Status> {
                    self.client
                        .clone()
                        .$read(self.signed(message))
                        .await
                        .map(Response::into_inner)
                        .map_err(|s| Error::upstream("authz-svc")(s).into())
                }
            )*
        }

        #[tonic::async_trait]
        impl OperatorService for OperatorProxy {
            $(
                async fn $change(&self, request: Request<$change_req>) -> Result<Response<$change_resp>, Status> {
                    let address = self.client_address(&request);
                    let mut message = request.into_inner();
                    message.context.get_or_insert_with(Default::default).client_address = address;
                    OperatorProxy::$change(self, message).await.map(Response::new)
                }
            )*
            $(
                async fn $read(&self, request: Request<$read_req>) -> Result<Response<$read_resp>, Status> {
                    OperatorProxy::$read(self, request.into_inner()).await.map(Response::new)
                }
            )*
        }
    };
}

forward! {
    changes {
        create_tenant(pb::CreateTenantRequest) -> pb::Tenant;
        suspend_tenant(pb::SuspendTenantRequest) -> pb::Tenant;
        resume_tenant(pb::ResumeTenantRequest) -> pb::Tenant;
        remove_tenant(pb::RemoveTenantRequest) -> pb::Tenant;
        create_tenant_user(pb::CreateTenantUserRequest) -> pb::User;
    }
    reads {
        get_tenant(pb::GetTenantRequest) -> pb::Tenant;
        list_tenants(pb::ListTenantsRequest) -> pb::ListTenantsResponse;
        list_tenant_users(pb::ListTenantUsersRequest) -> pb::ListUsersResponse;
    }
}
