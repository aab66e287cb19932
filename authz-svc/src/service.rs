//! The core of authz-svc, implementing [`Authz`]: decisions for the calling
//! principal and user management for the tenant's admins. The tenant is
//! always the caller's; ids of other tenants are simply not found. A user
//! change is made as the calling admin with the request's `ActionContext`;
//! the store commits it with its PERMISSION_CHANGED event (audit outbox), and
//! the relay is nudged after the commit. A refused change writes nothing.

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
    model::{self, Permissions, UserSpec, check_user_id},
    policy,
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

    /// The caller's permissions for decisions (cached; `None`: unknown user).
    async fn permissions(&self, caller: &Principal) -> Result<Option<Permissions>, Error> {
        if let Some(hit) = self.cache.get(&caller.tenant, &caller.user_id) {
            return Ok(hit);
        }
        let ticket = self.cache.ticket();
        let found = self
            .store
            .get_user(&caller.tenant, &caller.user_id)
            .await?
            .map(|u| u.permissions);
        self.cache
            .fill(ticket, &caller.tenant, &caller.user_id, found);
        Ok(found)
    }

    /// The caller's principal if `rule` admits it and it is an admin of its
    /// tenant. User management reads the database, not the cache: a demoted
    /// admin loses it at once on every replica.
    async fn admit_admin<'c>(
        &self,
        caller: &'c Caller,
        rule: &Rule,
    ) -> Result<&'c Principal, Error> {
        let caller = self.admit(caller, rule).await?;
        match self.store.get_user(&caller.tenant, &caller.user_id).await? {
            Some(u) if u.permissions.admin => Ok(caller),
            _ => Err(Error::PermissionDenied(
                "only admins of the tenant may manage its users".into(),
            )),
        }
    }

    fn user_spec(user: Option<pb::User>) -> Result<UserSpec, Error> {
        let user = user.ok_or_else(|| FieldViolation::missing("user"))?;
        Ok(UserSpec::try_from(user)?)
    }

    fn page_size(requested: i32) -> Result<u32, FieldViolation> {
        match u32::try_from(requested) {
            Ok(0) => Ok(DEFAULT_PAGE_SIZE),
            Ok(n) if n <= MAX_PAGE_SIZE => Ok(n),
            _ => Err(FieldViolation::new(
                "page_size",
                format!("must be between 0 and {MAX_PAGE_SIZE}"),
            )),
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
        let permissions = self.permissions(caller).await?;
        Ok(pb::DecideResponse {
            decision: Some(policy::decide(permissions.as_ref(), action)),
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
        let permissions = self.permissions(caller).await?;
        Ok(pb::BatchDecideResponse {
            decisions: actions
                .into_iter()
                .map(|a| policy::decide(permissions.as_ref(), a))
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
        Ok(user.into())
    }

    async fn create_user(
        &self,
        caller: &Caller,
        request: pb::CreateUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admit_admin(caller, &CREATE_USER).await?;
        let spec = Self::user_spec(request.user)?;
        let change = self.change(caller, request.context)?;
        let taken = || Error::AlreadyExists(format!("user {} already exists", spec.user_id));
        if self
            .store
            .get_user(&caller.tenant, &spec.user_id)
            .await?
            .is_some()
        {
            return Err(taken());
        }
        let created = self
            .store
            .insert_user(&caller.tenant, &spec, &change)
            .await?
            .ok_or_else(taken)?;
        self.audit.nudge();
        self.cache.invalidate(&caller.tenant, &spec.user_id);
        tracing::info!(tenant = %caller.tenant, by = %caller.user_id, user_id = %spec.user_id,
            permissions = %model::describe(&spec.permissions), "user created");
        Ok(created.into())
    }

    async fn get_user(
        &self,
        caller: &Caller,
        request: pb::GetUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admit_admin(caller, &GET_USER).await?;
        let user_id = &request.user_id;
        check_user_id(user_id, "user_id")?;
        let user = self
            .store
            .get_user(&caller.tenant, user_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {user_id} not found")))?;
        Ok(user.into())
    }

    async fn list_users(
        &self,
        caller: &Caller,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, Error> {
        let caller = self.admit_admin(caller, &LIST_USERS).await?;
        let page_size = Self::page_size(request.page_size)?;
        let after: String = if request.page_token.is_empty() {
            String::new()
        } else {
            self.tokens.open(
                &request.page_token,
                &caller.tenant,
                LIST_USERS_QUERY,
                "page_token",
            )?
        };
        // One extra row says whether another page exists.
        let mut users = self
            .store
            .list_users(&caller.tenant, &after, page_size + 1)
            .await?;
        let next_page_token = if users.len() > page_size as usize {
            users.truncate(page_size as usize);
            let last = users.last().map(|u| u.user_id.clone()).unwrap_or_default();
            self.tokens.seal(&caller.tenant, LIST_USERS_QUERY, &last)
        } else {
            String::new()
        };
        Ok(pb::ListUsersResponse {
            users: users.into_iter().map(pb::User::from).collect(),
            next_page_token,
        })
    }

    async fn update_user(
        &self,
        caller: &Caller,
        request: pb::UpdateUserRequest,
    ) -> Result<pb::User, Error> {
        let caller = self.admit_admin(caller, &UPDATE_USER).await?;
        let spec = Self::user_spec(request.user)?;
        let change = self.change(caller, request.context)?;
        if spec.user_id == caller.user_id && !spec.permissions.admin {
            return Err(Error::FailedPrecondition(
                "an admin cannot remove their own admin right".into(),
            ));
        }
        let updated = self
            .store
            .update_user(&caller.tenant, &spec, &change)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {} not found", spec.user_id)))?;
        self.audit.nudge();
        self.cache.invalidate(&caller.tenant, &spec.user_id);
        tracing::info!(tenant = %caller.tenant, by = %caller.user_id, user_id = %spec.user_id,
            permissions = %model::describe(&spec.permissions), "user updated");
        Ok(updated.into())
    }

    async fn delete_user(
        &self,
        caller: &Caller,
        request: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, Error> {
        let caller = self.admit_admin(caller, &DELETE_USER).await?;
        let user_id = request.user_id.as_str();
        check_user_id(user_id, "user_id")?;
        let change = self.change(caller, request.context)?;
        if user_id == caller.user_id {
            return Err(Error::FailedPrecondition(
                "an admin cannot delete themselves".into(),
            ));
        }
        if !self
            .store
            .delete_user(&caller.tenant, user_id, &change)
            .await?
        {
            return Err(Error::NotFound(format!("user {user_id} not found")));
        }
        self.audit.nudge();
        self.cache.invalidate(&caller.tenant, user_id);
        tracing::info!(tenant = %caller.tenant, by = %caller.user_id, user_id, "user deleted");
        Ok(pb::DeleteUserResponse {})
    }

    async fn list_roles(
        &self,
        _: &Caller,
        _: pb::ListRolesRequest,
    ) -> Result<pb::ListRolesResponse, Error> {
        Err(Error::FailedPrecondition("roles: not built yet".into()))
    }
    async fn create_role(&self, _: &Caller, _: pb::CreateRoleRequest) -> Result<pb::Role, Error> {
        Err(Error::FailedPrecondition("roles: not built yet".into()))
    }
    async fn update_role(&self, _: &Caller, _: pb::UpdateRoleRequest) -> Result<pb::Role, Error> {
        Err(Error::FailedPrecondition("roles: not built yet".into()))
    }
    async fn delete_role(
        &self,
        _: &Caller,
        _: pb::DeleteRoleRequest,
    ) -> Result<pb::DeleteRoleResponse, Error> {
        Err(Error::FailedPrecondition("roles: not built yet".into()))
    }
}
