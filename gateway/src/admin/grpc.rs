//! The tonic face of [`Admin`]: each RPC takes the user (reads) or the
//! actor (changes: the user, the client's address, the request id of the
//! message's context) off the request and calls the method of the same name.

use archive_common::Principal;
use archive_proto::v1::{self as pb, archive_admin_server::ArchiveAdmin};
use tonic::{Request, Response, Status};

use super::Admin;
use crate::{flows::Actor, origin::TrustedProxies};

/// [`Admin`] served over gRPC, reading client addresses behind `proxies`.
pub struct AdminGrpc {
    pub admin: Admin,
    pub proxies: TrustedProxies,
}

/// The verified user and the message of `request`.
fn parts<T>(request: Request<T>) -> Result<(Principal, T), Status> {
    let who = Principal::of(&request)?.clone();
    Ok((who, request.into_inner()))
}

/// A change's message carries its request id in its context.
trait Context {
    fn request_id(&self) -> &str;
}

macro_rules! with_context {
    ($($message:ty),*) => {$(
        impl Context for $message {
            fn request_id(&self) -> &str {
                self.context.as_ref().map_or("", |c| c.request_id.as_str())
            }
        }
    )*};
}

with_context!(
    pb::CreateUserRequest,
    pb::UpdateUserRequest,
    pb::DeleteUserRequest,
    pb::CreateRoleRequest,
    pb::UpdateRoleRequest,
    pb::DeleteRoleRequest,
    pb::UpdateTenantSettingsRequest,
    pb::SetLegalHoldRequest
);

impl AdminGrpc {
    /// The actor and the message of a change.
    fn acting<T: Context>(&self, request: Request<T>) -> Result<(Actor, T), Status> {
        let now = self.admin.gateway.clock.now();
        let id = request.get_ref().request_id().to_owned();
        let actor = Actor::of(&request, &self.proxies, &id, now)?;
        Ok((actor, request.into_inner()))
    }
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ArchiveAdmin for AdminGrpc {
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Answer<pb::ListUsersResponse> {
        let (who, request) = parts(request)?;
        Ok(Response::new(self.admin.list_users(&who, request).await?))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Answer<pb::User> {
        let (who, request) = parts(request)?;
        Ok(Response::new(self.admin.get_user(&who, request).await?))
    }

    async fn create_user(&self, request: Request<pb::CreateUserRequest>) -> Answer<pb::User> {
        let (actor, request) = self.acting(request)?;
        Ok(Response::new(
            self.admin.create_user(&actor, request).await?,
        ))
    }

    async fn update_user(&self, request: Request<pb::UpdateUserRequest>) -> Answer<pb::User> {
        let (actor, request) = self.acting(request)?;
        Ok(Response::new(
            self.admin.update_user(&actor, request).await?,
        ))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Answer<pb::DeleteUserResponse> {
        let (actor, request) = self.acting(request)?;
        Ok(Response::new(
            self.admin.delete_user(&actor, request).await?,
        ))
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Answer<pb::ListRolesResponse> {
        let (who, request) = parts(request)?;
        Ok(Response::new(self.admin.list_roles(&who, request).await?))
    }

    async fn create_role(&self, request: Request<pb::CreateRoleRequest>) -> Answer<pb::Role> {
        let (actor, request) = self.acting(request)?;
        Ok(Response::new(
            self.admin.create_role(&actor, request).await?,
        ))
    }

    async fn update_role(&self, request: Request<pb::UpdateRoleRequest>) -> Answer<pb::Role> {
        let (actor, request) = self.acting(request)?;
        Ok(Response::new(
            self.admin.update_role(&actor, request).await?,
        ))
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Answer<pb::DeleteRoleResponse> {
        let (actor, request) = self.acting(request)?;
        Ok(Response::new(
            self.admin.delete_role(&actor, request).await?,
        ))
    }

    async fn get_tenant_settings(
        &self,
        request: Request<pb::GetTenantSettingsRequest>,
    ) -> Answer<pb::TenantSettings> {
        let (who, request) = parts(request)?;
        let settings = self.admin.get_tenant_settings(&who, request);
        Ok(Response::new(settings.await?))
    }

    async fn update_tenant_settings(
        &self,
        request: Request<pb::UpdateTenantSettingsRequest>,
    ) -> Answer<pb::TenantSettings> {
        let (actor, request) = self.acting(request)?;
        let saved = self.admin.update_tenant_settings(&actor, request);
        Ok(Response::new(saved.await?))
    }

    async fn set_legal_hold(
        &self,
        request: Request<pb::SetLegalHoldRequest>,
    ) -> Answer<pb::SetLegalHoldResponse> {
        let (actor, request) = self.acting(request)?;
        Ok(Response::new(
            self.admin.set_legal_hold(&actor, request).await?,
        ))
    }

    async fn list_legal_holds(
        &self,
        request: Request<pb::ListLegalHoldsRequest>,
    ) -> Answer<pb::ListLegalHoldsResponse> {
        let (who, request) = parts(request)?;
        Ok(Response::new(
            self.admin.list_legal_holds(&who, request).await?,
        ))
    }
}
