//! User management for the tenant's admins (the caller already admitted
//! as one): each change checked against the tenant's roles, committed with
//! its event, and forgotten by the decision cache before it is answered.

use archive_common::{FieldViolation, Principal};
use archive_proto::v1 as pb;

use super::{Authority, DEFAULT_PAGE_SIZE, LIST_USERS_QUERY, MAX_PAGE_SIZE};
use crate::{
    Error,
    grant::Grant,
    model::{self, User, UserSpec, check_user_id},
    scope::Right,
};

impl Authority {
    /// Checks a user spec against the tenant's roles: every role exists,
    /// and an "own calls" scope (the user's or a role's) has an agent name.
    /// Answers the rights the spec would give.
    pub(super) async fn check_spec(&self, tenant: &str, spec: &UserSpec) -> Result<Grant, Error> {
        let roles = self.roles_of(tenant, &spec.roles).await?;
        for (i, id) in spec.roles.iter().enumerate() {
            if !roles.iter().any(|r| &r.role_id == id) {
                return Err(FieldViolation::new(
                    format!("user.roles[{i}]"),
                    format!("no role {id} in this tenant"),
                )
                .into());
            }
        }
        let as_user = User {
            user_id: spec.user_id.clone(),
            display_name: spec.display_name.clone(),
            agent_name: spec.agent_name.clone(),
            permissions: spec.permissions,
            scopes: spec.scopes.clone(),
            roles: spec.roles.clone(),
            disabled: spec.disabled,
            create_time: self.clock.now(),
            update_time: self.clock.now(),
        };
        let grant = Grant::of(&as_user, &roles);
        let own = Right::ALL
            .into_iter()
            .any(|r| grant.reach(r).is_some_and(|s| s.own_calls));
        if own && spec.agent_name.trim().is_empty() {
            return Err(FieldViolation::new(
                "user.agent_name",
                "is needed for an \"own calls\" scope (the user's or a role's): it names the \
                 agent whose calls are the user's",
            )
            .into());
        }
        Ok(grant)
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

    pub(super) async fn create_user_as(
        &self,
        caller: &Principal,
        request: pb::CreateUserRequest,
    ) -> Result<pb::User, Error> {
        let spec = Self::user_spec(request.user)?;
        let change = self.change(caller, request.context)?;
        let grant = self.check_spec(&caller.tenant, &spec).await?;
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
        Ok(created.into_proto(&grant))
    }

    pub(super) async fn get_user_as(
        &self,
        caller: &Principal,
        request: pb::GetUserRequest,
    ) -> Result<pb::User, Error> {
        let user_id = &request.user_id;
        check_user_id(user_id, "user_id")?;
        let user = self
            .store
            .get_user(&caller.tenant, user_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {user_id} not found")))?;
        self.answer(&caller.tenant, user).await
    }

    pub(super) async fn list_users_as(
        &self,
        caller: &Principal,
        request: pb::ListUsersRequest,
    ) -> Result<pb::ListUsersResponse, Error> {
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
        let roles = self.store.list_roles(&caller.tenant).await?;
        Ok(pb::ListUsersResponse {
            users: users.into_iter().map(|u| u.answered(&roles)).collect(),
            next_page_token,
        })
    }

    pub(super) async fn update_user_as(
        &self,
        caller: &Principal,
        request: pb::UpdateUserRequest,
    ) -> Result<pb::User, Error> {
        let spec = Self::user_spec(request.user)?;
        let change = self.change(caller, request.context)?;
        let grant = self.check_spec(&caller.tenant, &spec).await?;
        if spec.user_id == caller.user_id && (!grant.admin || spec.disabled) {
            return Err(Error::FailedPrecondition(
                "an admin cannot remove their own admin right or disable themselves".into(),
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
        Ok(updated.into_proto(&grant))
    }

    pub(super) async fn delete_user_as(
        &self,
        caller: &Principal,
        request: pb::DeleteUserRequest,
    ) -> Result<pb::DeleteUserResponse, Error> {
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
}
