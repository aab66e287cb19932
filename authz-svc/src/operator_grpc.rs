//! The tonic face of [`Operator`]: each RPC takes the verified caller off
//! the request and calls the core; nothing else happens here.

use std::sync::Arc;

use archive_proto::v1::{self as pb, operator_service_server::OperatorService};
use audit_svc::gate::parts;
use tonic::{Request, Response, Status};

use crate::operator::Operator;

pub(crate) struct OperatorGrpc(pub(crate) Arc<Operator>);

/// `rpc(request)` of the core, its error as the crate's one Status mapping says.
macro_rules! rpcs {
    ($($rpc:ident($request:ty) -> $response:ty;)*) => {
        #[tonic::async_trait]
        impl OperatorService for OperatorGrpc {
            $(
                async fn $rpc(&self, request: Request<$request>) -> Result<Response<$response>, Status> {
                    let (caller, request) = parts(request)?;
                    Ok(Response::new(self.0.$rpc(&caller, request).await?))
                }
            )*
        }
    };
}

rpcs! {
    create_tenant(pb::CreateTenantRequest) -> pb::Tenant;
    get_tenant(pb::GetTenantRequest) -> pb::Tenant;
    list_tenants(pb::ListTenantsRequest) -> pb::ListTenantsResponse;
    suspend_tenant(pb::SuspendTenantRequest) -> pb::Tenant;
    resume_tenant(pb::ResumeTenantRequest) -> pb::Tenant;
    remove_tenant(pb::RemoveTenantRequest) -> pb::Tenant;
    create_tenant_user(pb::CreateTenantUserRequest) -> pb::User;
    list_tenant_users(pb::ListTenantUsersRequest) -> pb::ListUsersResponse;
}
