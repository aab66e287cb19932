//! What authz-svc does, as Rust: one method per RPC of
//! `archive.v1.AuthzService`, for a caller whose identity is already
//! verified. The service core implements it (and checks each caller's access
//! itself); [`crate::grpc`] serves it over tonic, and the embedded gateway can
//! call it with no encoding at all.

use archive_common::identity::Caller;
use archive_proto::v1 as pb;

use crate::Error;

#[async_trait::async_trait]
pub trait Authz: Send + Sync + 'static {
    /// What the caller may do with one recording action.
    async fn decide(
        &self,
        caller: &Caller,
        request: pb::DecideRequest,
    ) -> Result<pb::DecideResponse, Error>;
    /// Many decisions at once (at most [`crate::MAX_BATCH`]).
    async fn batch_decide(
        &self,
        caller: &Caller,
        request: pb::BatchDecideRequest,
    ) -> Result<pb::BatchDecideResponse, Error>;
    /// The caller's own user and permissions.
    async fn get_my_permissions(
        &self,
        caller: &Caller,
        request: pb::GetMyPermissionsRequest,
    ) -> Result<pb::User, Error>;
    // User management, for the tenant's admins.
    async fn create_user(
        &self,
        caller: &Caller,
        request: pb::CreateUserRequest,
    ) -> Result<pb::User, Error>;
    async fn get_user(
        &self,
        caller: &Caller,
        request: pb::GetUserRequest,
    ) -> Result<pb::User, Error>;
    async fn list_users(
        &self,
        caller: &Caller,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, Error>;
    async fn update_user(
        &self,
        caller: &Caller,
        request: pb::UpdateUserRequest,
    ) -> Result<pb::User, Error>;
    async fn delete_user(
        &self,
        caller: &Caller,
        request: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, Error>;
    // Roles, for the tenant's admins.
    async fn list_roles(
        &self,
        caller: &Caller,
        request: pb::ListRolesRequest,
    ) -> Result<pb::ListRolesResponse, Error>;
    async fn create_role(
        &self,
        caller: &Caller,
        request: pb::CreateRoleRequest,
    ) -> Result<pb::Role, Error>;
    async fn update_role(
        &self,
        caller: &Caller,
        request: pb::UpdateRoleRequest,
    ) -> Result<pb::Role, Error>;
    async fn delete_role(
        &self,
        caller: &Caller,
        request: pb::DeleteRoleRequest,
    ) -> Result<pb::DeleteRoleResponse, Error>;
}
