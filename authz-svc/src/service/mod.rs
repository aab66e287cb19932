//! The core of authz-svc, implementing [`Authz`]: decisions for the calling
//! principal and user management for the tenant's admins. The tenant is
//! always the caller's; ids of other tenants are simply not found. A user
//! change is made as the calling admin with the request's `ActionContext`;
//! the store commits it with its PERMISSION_CHANGED event (audit outbox), and
//! the relay is nudged after the commit. A refused change writes nothing.
//! Decisions read the caller's effective rights ([`Grant`]: their own united
//! with their roles'), cached; admin checks read the database.

mod roles;
mod users;

use std::sync::Arc;

use archive_common::identity::{Allow, Caller, Rule};
use archive_common::{Clock, FieldViolation, Principal, page_token::PageTokens};
use archive_proto::v1 as pb;
use audit_svc::{
    gate::Gate,
    outbox::{Change, Context, Nudge},
};

use crate::{
    Authz, Error,
    cache::DecisionCache,
    grant::Grant,
    model::User,
    policy,
    role::{self, Role},
    store::Store,
};

/// At most this many decisions per BatchDecide.
pub const MAX_BATCH: usize = 1000;
const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;
const LIST_USERS_QUERY: &[u8] = b"ListUsers";

/// Every RPC is for people, through the gateway (or another service passing
/// a user's own token on, as audit-svc does to check who may read the
/// trail); which people may manage users is this service's own decision.
const USERS: &[Allow] = &[Allow::Users];
const DECIDE: Rule = Rule::new("Decide", USERS);
const BATCH_DECIDE: Rule = Rule::new("BatchDecide", USERS);
const GET_MY_PERMISSIONS: Rule = Rule::new("GetMyPermissions", USERS);
const CREATE_USER: Rule = Rule::new("CreateUser", USERS);
const GET_USER: Rule = Rule::new("GetUser", USERS);
const LIST_USERS: Rule = Rule::new("ListUsers", USERS);
const UPDATE_USER: Rule = Rule::new("UpdateUser", USERS);
const DELETE_USER: Rule = Rule::new("DeleteUser", USERS);
const LIST_ROLES: Rule = Rule::new("ListRoles", USERS);
const CREATE_ROLE: Rule = Rule::new("CreateRole", USERS);
const UPDATE_ROLE: Rule = Rule::new("UpdateRole", USERS);
const DELETE_ROLE: Rule = Rule::new("DeleteRole", USERS);

/// The service core: its store, decision cache and door.
pub(crate) struct Authority {
    store: Arc<dyn Store>,
    cache: DecisionCache,
    tokens: PageTokens,
    clock: Arc<dyn Clock>,
    /// Wakes the audit relay after a change committed with its event.
    audit: Nudge,
    gate: Gate,
}

impl Authority {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        cache: DecisionCache,
        tokens: PageTokens,
        clock: Arc<dyn Clock>,
        audit: Nudge,
        gate: Gate,
    ) -> Self {
        Self {
            store,
            cache,
            tokens,
            clock,
            audit,
            gate,
        }
    }

    /// The caller's principal if `rule` admits it (see [`Gate`]).
    async fn admit<'c>(&self, caller: &'c Caller, rule: &Rule) -> Result<&'c Principal, Error> {
        self.gate.check(caller, rule).await.map_err(Error::Refused)
    }

    /// A change by `caller` now, with the request's context (validated,
    /// violations naming `context.<field>`).
    fn change(
        &self,
        caller: &Principal,
        context: Option<pb::ActionContext>,
    ) -> Result<Change, Error> {
        let context = Context::from_proto(context, "context")?;
        Ok(Change::by(caller, self.clock.now()).with_context(context))
    }

    /// The caller's effective rights for decisions (cached; `None`: unknown user).
    async fn grant(&self, caller: &Principal) -> Result<Option<Arc<Grant>>, Error> {
        if let Some(hit) = self.cache.get(&caller.tenant, &caller.user_id) {
            return Ok(hit);
        }
        let ticket = self.cache.ticket();
        let found = match self.store.get_user(&caller.tenant, &caller.user_id).await? {
            Some(user) => Some(Arc::new(self.resolve(&caller.tenant, &user).await?)),
            None => None,
        };
        self.cache
            .fill(ticket, &caller.tenant, &caller.user_id, found.clone());
        Ok(found)
    }

    /// `user`'s rights with the roles they hold (a role id that no longer
    /// exists grants nothing).
    async fn resolve(&self, tenant: &str, user: &User) -> Result<Grant, Error> {
        if user.roles.is_empty() {
            return Ok(Grant::of(user, &[]));
        }
        let roles = self.roles_of(tenant, &user.roles).await?;
        Ok(Grant::of(user, &roles))
    }

    /// The roles among `ids` that exist (built in, or the tenant's).
    async fn roles_of(&self, tenant: &str, ids: &[String]) -> Result<Vec<Role>, Error> {
        if ids.iter().all(|id| role::built_in(id).is_some()) {
            return Ok(role::held(ids, &[]));
        }
        Ok(role::held(ids, &self.store.list_roles(tenant).await?))
    }

    /// A user as answered, with their effective rights.
    async fn answer(&self, tenant: &str, user: User) -> Result<pb::User, Error> {
        let grant = self.resolve(tenant, &user).await?;
        Ok(user.into_proto(&grant))
    }

    /// The caller's principal if `rule` admits it and it is an enabled admin
    /// of its tenant (directly or by a role). User management reads the
    /// database, not the cache: a demoted admin loses it at once on every
    /// replica.
    async fn admit_admin<'c>(
        &self,
        caller: &'c Caller,
        rule: &Rule,
    ) -> Result<&'c Principal, Error> {
        let caller = self.admit(caller, rule).await?;
        let admin = match self.store.get_user(&caller.tenant, &caller.user_id).await? {
            Some(u) => {
                let grant = self.resolve(&caller.tenant, &u).await?;
                grant.admin && !grant.disabled
            }
            None => false,
        };
        if admin {
            Ok(caller)
        } else {
            Err(Error::PermissionDenied(
                "only admins of the tenant may manage its users and roles".into(),
            ))
        }
    }
}

#[async_trait::async_trait]
impl Authz for Authority {
    async fn decide(
        &self,
        caller: &Caller,
        request: pb::DecideRequest,
    ) -> Result<pb::DecideResponse, Error> {
        let caller = self.admit(caller, &DECIDE).await?;
        let action = policy::action(request.action, "action")?;
        let grant = self.grant(caller).await?;
        Ok(pb::DecideResponse {
            decision: Some(policy::decide(
                grant.as_deref(),
                action,
                request.resource.as_ref(),
            )),
        })
    }

    async fn batch_decide(
        &self,
        caller: &Caller,
        request: pb::BatchDecideRequest,
    ) -> Result<pb::BatchDecideResponse, Error> {
        let caller = self.admit(caller, &BATCH_DECIDE).await?;
        let requests = &request.requests;
        if requests.len() > MAX_BATCH {
            return Err(FieldViolation::new(
                "requests",
                format!("must hold at most {MAX_BATCH} requests"),
            )
            .into());
        }
        let actions = requests
            .iter()
            .enumerate()
            .map(|(i, r)| policy::action(r.action, &format!("requests[{i}].action")))
            .collect::<Result<Vec<_>, _>>()?;
        let grant = self.grant(caller).await?;
        Ok(pb::BatchDecideResponse {
            decisions: actions
                .into_iter()
                .zip(requests)
                .map(|(a, r)| policy::decide(grant.as_deref(), a, r.resource.as_ref()))
                .collect(),
        })
    }

    async fn get_my_permissions(
        &self,
        caller: &Caller,
        _: pb::GetMyPermissionsRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admit(caller, &GET_MY_PERMISSIONS).await?;
        let user = self
            .store
            .get_user(&caller.tenant, &caller.user_id)
            .await?
            .ok_or_else(|| Error::NotFound("you are not a user of this tenant".into()))?;
        if user.disabled {
            return Err(Error::PermissionDenied(
                "your user is disabled; ask an admin of your tenant".into(),
            ));
        }
        self.answer(&caller.tenant, user).await
    }

    async fn create_user(
        &self,
        caller: &Caller,
        request: pb::CreateUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admit_admin(caller, &CREATE_USER).await?;
        self.create_user_as(caller, request).await
    }

    async fn get_user(
        &self,
        caller: &Caller,
        request: pb::GetUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admit_admin(caller, &GET_USER).await?;
        self.get_user_as(caller, request).await
    }

    async fn list_users(
        &self,
        caller: &Caller,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, Error> {
        let caller = self.admit_admin(caller, &LIST_USERS).await?;
        self.list_users_as(caller, request).await
    }

    async fn update_user(
        &self,
        caller: &Caller,
        request: pb::UpdateUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admit_admin(caller, &UPDATE_USER).await?;
        self.update_user_as(caller, request).await
    }

    async fn delete_user(
        &self,
        caller: &Caller,
        request: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, Error> {
        let caller = self.admit_admin(caller, &DELETE_USER).await?;
        self.delete_user_as(caller, request).await
    }

    async fn list_roles(
        &self,
        caller: &Caller,
        _: pb::ListRolesRequest,
    ) -> Result<pb::ListRolesResponse, Error> {
        let caller = self.admit_admin(caller, &LIST_ROLES).await?;
        self.list_roles_of(&caller.tenant).await
    }

    async fn create_role(
        &self,
        caller: &Caller,
        request: pb::CreateRoleRequest,
    ) -> Result<pb::Role, Error> {
        let caller = self.admit_admin(caller, &CREATE_ROLE).await?;
        self.create_role_as(caller, request).await
    }

    async fn update_role(
        &self,
        caller: &Caller,
        request: pb::UpdateRoleRequest,
    ) -> Result<pb::Role, Error> {
        let caller = self.admit_admin(caller, &UPDATE_ROLE).await?;
        self.update_role_as(caller, request).await
    }

    async fn delete_role(
        &self,
        caller: &Caller,
        request: pb::DeleteRoleRequest,
    ) -> Result<pb::DeleteRoleResponse, Error> {
        let caller = self.admit_admin(caller, &DELETE_ROLE).await?;
        self.delete_role_as(caller, request).await
    }
}
