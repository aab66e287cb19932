//! The tonic face of [`Authz`]: each RPC takes the verified caller off the
//! request and calls the trait; nothing else happens here.

use std::sync::Arc;

use archive_proto::v1::{self as pb, authz_service_server::AuthzService};
use audit_svc::gate::parts;
use tonic::{Request, Response, Status};

use crate::Authz;

/// Serves any [`Authz`] as `archive.v1.AuthzService`.
pub struct GrpcServer<T: ?Sized>(pub Arc<T>);

#[tonic::async_trait]
impl<T: Authz + ?Sized> AuthzService for GrpcServer<T> {
    async fn decide(
        &self,
        request: Request<pb::DecideRequest>,
    ) -> Result<Response<pb::DecideResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.decide(&caller, request).await?))
    }

    async fn batch_decide(
        &self,
        request: Request<pb::BatchDecideRequest>,
    ) -> Result<Response<pb::BatchDecideResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.batch_decide(&caller, request).await?))
    }

    async fn get_my_permissions(
        &self,
        request: Request<pb::GetMyPermissionsRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(
            self.0.get_my_permissions(&caller, request).await?,
        ))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.create_user(&caller, request).await?))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.get_user(&caller, request).await?))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.list_users(&caller, request).await?))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.update_user(&caller, request).await?))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.delete_user(&caller, request).await?))
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.list_roles(&caller, request).await?))
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.create_role(&caller, request).await?))
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.update_role(&caller, request).await?))
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        let (caller, request) = parts(request)?;
        Ok(Response::new(self.0.delete_role(&caller, request).await?))
    }
}
