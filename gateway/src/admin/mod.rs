//! Administration (`archive.v1.ArchiveAdmin`) as Rust: a tenant's admins
//! manage its users and roles (authz-svc), its settings and legal holds
//! (archive-svc). The gateway asks authz-svc whether the caller may manage
//! the tenant before every RPC: archive-svc admits any user of the tenant to
//! its settings and holds, so the admin right is decided here for those, and
//! the same refusal answers every admin RPC. Each change carries the
//! admin's action context; the service that makes it records the audit
//! event (with before and after) in the change's own transaction.
//! [`grpc`] serves it over tonic, [`api`] as JSON.

pub mod api;
pub(crate) mod demo_sign_in;
pub mod grpc;
mod json;

use std::sync::Arc;

use archive_common::Principal;
use archive_proto::v1 as pb;

use crate::{
    Error, Gateway,
    flows::Actor,
    upstream::{ARCHIVE, AUTHZ, Upstreams},
};

/// The admin RPCs, for an actor already known.
#[derive(Clone)]
pub struct Admin {
    gateway: Arc<Gateway>,
}

/// Most held calls on one page (and the default).
const HOLDS_PAGE: i32 = 100;

impl Admin {
    pub fn new(gateway: Arc<Gateway>) -> Self {
        Self { gateway }
    }

    fn up(&self) -> &Upstreams {
        &self.gateway.upstreams
    }

    /// `who` as the services' caller, once authz-svc says they may manage
    /// the tenant (PERMISSION_DENIED otherwise).
    async fn admin(&self, who: &Principal) -> Result<archive_common::identity::Caller, Error> {
        (self.up())
            .require(
                who,
                pb::Action::ManageUsers,
                "only admins of the tenant may administer it",
            )
            .await?;
        Ok(Upstreams::caller(who))
    }

    /// The context a change is recorded with: the client's words (request
    /// id, reason, case id) as given, where it came from as the gateway
    /// saw it — a client cannot name another address in the trail.
    fn context(actor: &Actor, given: Option<pb::ActionContext>) -> pb::ActionContext {
        let given = given.unwrap_or_default();
        pb::ActionContext {
            request_id: if given.request_id.is_empty() {
                actor.request_id.clone()
            } else {
                given.request_id
            },
            client_address: actor.client_address.clone(),
            user_agent: actor.user_agent.clone(),
            ..given
        }
    }

    pub async fn list_users(
        &self,
        who: &Principal,
        req: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, Error> {
        let caller = self.admin(who).await?;
        let answer = self.up().authz.list_users(&caller, req);
        self.up().call(&AUTHZ, "ListUsers", answer).await
    }

    pub async fn get_user(
        &self,
        who: &Principal,
        req: pb::GetUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admin(who).await?;
        let answer = self.up().authz.get_user(&caller, req);
        self.up().call(&AUTHZ, "GetUser", answer).await
    }

    pub async fn create_user(
        &self,
        actor: &Actor,
        req: pb::CreateUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admin(&actor.principal).await?;
        let req = pb::CreateUserRequest {
            context: Some(Self::context(actor, req.context)),
            ..req
        };
        let answer = self.up().authz.create_user(&caller, req);
        self.up().call(&AUTHZ, "CreateUser", answer).await
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        req: pb::UpdateUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admin(&actor.principal).await?;
        let req = pb::UpdateUserRequest {
            context: Some(Self::context(actor, req.context)),
            ..req
        };
        let answer = self.up().authz.update_user(&caller, req);
        self.up().call(&AUTHZ, "UpdateUser", answer).await
    }

    pub async fn delete_user(
        &self,
        actor: &Actor,
        req: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, Error> {
        let caller = self.admin(&actor.principal).await?;
        let req = pb::DeleteUserRequest {
            context: Some(Self::context(actor, req.context)),
            ..req
        };
        let answer = self.up().authz.delete_user(&caller, req);
        self.up().call(&AUTHZ, "DeleteUser", answer).await
    }

    pub async fn list_roles(
        &self,
        who: &Principal,
        req: pb::ListRolesRequest,
    ) -> Result<pb::ListRolesResponse, Error> {
        let caller = self.admin(who).await?;
        let answer = self.up().authz.list_roles(&caller, req);
        self.up().call(&AUTHZ, "ListRoles", answer).await
    }

    pub async fn create_role(
        &self,
        actor: &Actor,
        req: pb::CreateRoleRequest,
    ) -> Result<pb::Role, Error> {
        let caller = self.admin(&actor.principal).await?;
        let req = pb::CreateRoleRequest {
            context: Some(Self::context(actor, req.context)),
            ..req
        };
        let answer = self.up().authz.create_role(&caller, req);
        self.up().call(&AUTHZ, "CreateRole", answer).await
    }

    pub async fn update_role(
        &self,
        actor: &Actor,
        req: pb::UpdateRoleRequest,
    ) -> Result<pb::Role, Error> {
        let caller = self.admin(&actor.principal).await?;
        let req = pb::UpdateRoleRequest {
            context: Some(Self::context(actor, req.context)),
            ..req
        };
        let answer = self.up().authz.update_role(&caller, req);
        self.up().call(&AUTHZ, "UpdateRole", answer).await
    }

    pub async fn delete_role(
        &self,
        actor: &Actor,
        req: pb::DeleteRoleRequest,
    ) -> Result<pb::DeleteRoleResponse, Error> {
        let caller = self.admin(&actor.principal).await?;
        let req = pb::DeleteRoleRequest {
            context: Some(Self::context(actor, req.context)),
            ..req
        };
        let answer = self.up().authz.delete_role(&caller, req);
        self.up().call(&AUTHZ, "DeleteRole", answer).await
    }

    pub async fn get_tenant_settings(
        &self,
        who: &Principal,
        req: pb::GetTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, Error> {
        let caller = self.admin(who).await?;
        let answer = self.up().archive.get_tenant_settings(&caller, req);
        self.up().call(&ARCHIVE, "GetTenantSettings", answer).await
    }

    pub async fn update_tenant_settings(
        &self,
        actor: &Actor,
        req: pb::UpdateTenantSettingsRequest,
    ) -> Result<pb::TenantSettings, Error> {
        let caller = self.admin(&actor.principal).await?;
        let req = pb::UpdateTenantSettingsRequest {
            context: Some(Self::context(actor, req.context)),
            ..req
        };
        let answer = self.up().archive.update_tenant_settings(&caller, req);
        let saved = self.up().call(&ARCHIVE, "UpdateTenantSettings", answer);
        let saved = saved.await?;
        // This gateway's flows use the new settings at once (others within
        // the minute they remember them for).
        self.up().forget_tenant(&actor.principal);
        Ok(saved)
    }

    pub async fn set_legal_hold(
        &self,
        actor: &Actor,
        req: pb::SetLegalHoldRequest,
    ) -> Result<pb::SetLegalHoldResponse, Error> {
        let caller = self.admin(&actor.principal).await?;
        let req = pb::SetLegalHoldRequest {
            context: Some(Self::context(actor, req.context)),
            ..req
        };
        let answer = self.up().archive.set_legal_hold(&caller, req);
        self.up().call(&ARCHIVE, "SetLegalHold", answer).await
    }

    pub async fn list_legal_holds(
        &self,
        who: &Principal,
        req: pb::ListLegalHoldsRequest,
    ) -> Result<pb::ListLegalHoldsResponse, Error> {
        let caller = self.admin(who).await?;
        let search = pb::SearchCallsRequest {
            filter: Some(pb::CallFilter {
                legal_hold: true,
                ..Default::default()
            }),
            page_size: if req.page_size == 0 {
                HOLDS_PAGE
            } else {
                req.page_size
            },
            page_token: req.page_token,
            ..Default::default()
        };
        let answer = self.up().archive.search_calls(&caller, search);
        let found = self.up().call(&ARCHIVE, "SearchCalls", answer).await?;
        Ok(pb::ListLegalHoldsResponse {
            calls: found.calls,
            next_page_token: found.next_page_token,
        })
    }
}
