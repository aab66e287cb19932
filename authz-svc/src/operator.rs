//! The operator's side of authz-svc ([`Operator`]): the tenant registry and
//! a tenant's users, for an operator-level admin who is no user of any
//! tenant. The operator is the `system:operator` principal signed by the
//! gateway, which admits only a caller with the configured operator
//! credential; nothing else is admitted here (a refusal is recorded like
//! any other). Every change commits with its event in the affected
//! tenant's trail, made by `system:operator`.

use std::sync::Arc;

use archive_common::{
    Clock, FieldViolation, Principal,
    identity::{Allow, Caller, Rule},
    page_token::PageTokens,
};
use archive_proto::v1 as pb;
use audit_svc::{
    gate::Gate,
    outbox::{Change, Context, Nudge},
};

use crate::{
    Error,
    model::{ALL_PERMISSIONS, User, UserSpec},
    store::Store,
    tenants::{States, Tenant, TenantSpec, TenantState, check_tenant_id},
};

/// The operator's `system:…` name: `system:operator`.
pub const OPERATOR: &str = "operator";

/// The operator's principal, as the gateway signs it (no tenant of its own).
pub fn operator_principal() -> Principal {
    Principal::system("", OPERATOR)
}

/// The role id a tenant's first admin is given besides every permission.
const ADMIN_ROLE: &str = "admin";
const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;
const LIST_TENANTS_QUERY: &[u8] = b"ListTenants";
const LIST_TENANT_USERS_QUERY: &[u8] = b"ListTenantUsers";

/// Only the gateway's own principals get past the rule; of those only
/// `system:operator` is the operator ([`Operator::admit`]).
const GATEWAY: &[Allow] = &[Allow::Service("gateway")];

pub(crate) struct Operator {
    store: Arc<dyn Store>,
    states: States,
    tokens: PageTokens,
    clock: Arc<dyn Clock>,
    audit: Nudge,
    gate: Gate,
}

impl Operator {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        states: States,
        tokens: PageTokens,
        clock: Arc<dyn Clock>,
        audit: Nudge,
        gate: Gate,
    ) -> Self {
        Self {
            store,
            states,
            tokens,
            clock,
            audit,
            gate,
        }
    }

    async fn admit<'c>(
        &self,
        caller: &'c Caller,
        rpc: &'static str,
    ) -> Result<&'c Principal, Error> {
        let rule = Rule::new(rpc, GATEWAY);
        let principal = self
            .gate
            .check(caller, &rule)
            .await
            .map_err(Error::Refused)?;
        if principal.user_id != operator_principal().user_id {
            return Err(Error::PermissionDenied(format!(
                "only the operator may call {rpc}"
            )));
        }
        Ok(principal)
    }

    fn change(&self, by: &Principal, context: Option<pb::ActionContext>) -> Result<Change, Error> {
        let context = Context::from_proto(context, "context")?;
        Ok(Change::by(by, self.clock.now()).with_context(context))
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Tenant, Error> {
        check_tenant_id(tenant_id, "tenant_id")?;
        self.store
            .get_tenant(tenant_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("tenant {tenant_id} not found")))
    }

    /// A tenant whose users may be added to or listed: registered, not removed.
    async fn open_tenant(&self, tenant_id: &str) -> Result<Tenant, Error> {
        let tenant = self.tenant(tenant_id).await?;
        if tenant.state == TenantState::Removed {
            return Err(Error::FailedPrecondition(format!(
                "tenant {tenant_id} is removed"
            )));
        }
        Ok(tenant)
    }

    /// Users as answered, each with their effective rights (their own and
    /// their roles': built in, or the tenant's).
    async fn answer(&self, tenant: &str, users: Vec<User>) -> Result<Vec<pb::User>, Error> {
        let own = self.store.list_roles(tenant).await?;
        Ok(users.into_iter().map(|u| u.answered(&own)).collect())
    }

    /// After a committed change: its event delivered soon, and this
    /// replica's door reading the tenant's state again at once.
    fn changed(&self, tenant_id: &str) {
        self.audit.nudge();
        self.states.forget(tenant_id);
    }

    async fn set_state(
        &self,
        caller: &Caller,
        rpc: &'static str,
        tenant_id: &str,
        context: Option<pb::ActionContext>,
        to: TenantState,
    ) -> Result<pb::Tenant, Error> {
        let by = self.admit(caller, rpc).await?;
        check_tenant_id(tenant_id, "tenant_id")?;
        let change = self.change(by, context)?;
        let tenant = self
            .store
            .set_tenant_state(tenant_id, to, &change)
            .await?
            .ok_or_else(|| Error::NotFound(format!("tenant {tenant_id} not found")))?;
        self.changed(tenant_id);
        tracing::info!(
            tenant = tenant_id,
            state = to.as_str(),
            "tenant state set by the operator"
        );
        Ok(tenant.into())
    }
}

/// A tenant's first admin: the request's ids and names with every
/// permission and the admin role. Violations name `admin.<field>`.
fn first_admin(admin: Option<pb::User>) -> Result<UserSpec, FieldViolation> {
    let admin = admin.ok_or_else(|| FieldViolation::missing("admin"))?;
    let admin = pb::User {
        permissions: Some(ALL_PERMISSIONS),
        roles: vec![ADMIN_ROLE.to_owned()],
        ..admin
    };
    UserSpec::try_from(admin).map_err(|v| FieldViolation {
        field: v.field.replacen("user.", "admin.", 1),
        ..v
    })
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

/// One extra row says whether another page exists: the page, and the key
/// of its last row when there is a next one.
fn page<T>(mut rows: Vec<T>, size: u32, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    if rows.len() > size as usize {
        rows.truncate(size as usize);
        let last = rows.last().map(key);
        (rows, last)
    } else {
        (rows, None)
    }
}

impl Operator {
    pub(crate) async fn create_tenant(
        &self,
        caller: &Caller,
        request: pb::CreateTenantRequest,
    ) -> Result<pb::Tenant, Error> {
        let by = self.admit(caller, "CreateTenant").await?;
        let spec = TenantSpec::try_from(
            request
                .tenant
                .ok_or_else(|| FieldViolation::missing("tenant"))?,
        )?;
        let admin = first_admin(request.admin)?;
        let change = self.change(by, request.context)?;
        let id = spec.tenant_id.as_str();
        let taken = || Error::AlreadyExists(format!("tenant {id} already exists"));
        // The tenant and its admin are two commits: a retry of a create that
        // stopped between them (same name, active, no user yet) completes it.
        let tenant = match self.store.get_tenant(id).await? {
            Some(t)
                if t.display_name == spec.display_name
                    && t.state == TenantState::Active
                    && self.store.list_users(id, "", 1).await?.is_empty() =>
            {
                t
            }
            Some(_) => return Err(taken()),
            None => self
                .store
                .insert_tenant(&spec, &change)
                .await?
                .ok_or_else(taken)?,
        };
        self.store.insert_user(id, &admin, &change).await?;
        self.changed(id);
        tracing::info!(tenant = id, admin = %admin.user_id, "tenant created by the operator");
        Ok(tenant.into())
    }

    pub(crate) async fn get_tenant(
        &self,
        caller: &Caller,
        request: pb::GetTenantRequest,
    ) -> Result<pb::Tenant, Error> {
        self.admit(caller, "GetTenant").await?;
        Ok(self.tenant(&request.tenant_id).await?.into())
    }

    pub(crate) async fn list_tenants(
        &self,
        caller: &Caller,
        request: pb::ListTenantsRequest,
    ) -> Result<pb::ListTenantsResponse, Error> {
        self.admit(caller, "ListTenants").await?;
        let size = page_size(request.page_size)?;
        let query = [LIST_TENANTS_QUERY, &[u8::from(request.show_removed)]].concat();
        let after: String = if request.page_token.is_empty() {
            String::new()
        } else {
            self.tokens
                .open(&request.page_token, "", &query, "page_token")?
        };
        let rows = self
            .store
            .list_tenants(&after, size + 1, request.show_removed)
            .await?;
        let (tenants, last) = page(rows, size, |t| t.tenant_id.clone());
        Ok(pb::ListTenantsResponse {
            tenants: tenants.into_iter().map(pb::Tenant::from).collect(),
            next_page_token: last
                .map(|l| self.tokens.seal("", &query, &l))
                .unwrap_or_default(),
        })
    }

    pub(crate) async fn suspend_tenant(
        &self,
        caller: &Caller,
        request: pb::SuspendTenantRequest,
    ) -> Result<pb::Tenant, Error> {
        let to = TenantState::Suspended;
        self.set_state(
            caller,
            "SuspendTenant",
            &request.tenant_id,
            request.context,
            to,
        )
        .await
    }

    pub(crate) async fn resume_tenant(
        &self,
        caller: &Caller,
        request: pb::ResumeTenantRequest,
    ) -> Result<pb::Tenant, Error> {
        let to = TenantState::Active;
        self.set_state(
            caller,
            "ResumeTenant",
            &request.tenant_id,
            request.context,
            to,
        )
        .await
    }

    pub(crate) async fn remove_tenant(
        &self,
        caller: &Caller,
        request: pb::RemoveTenantRequest,
    ) -> Result<pb::Tenant, Error> {
        let to = TenantState::Removed;
        self.set_state(
            caller,
            "RemoveTenant",
            &request.tenant_id,
            request.context,
            to,
        )
        .await
    }

    pub(crate) async fn create_tenant_user(
        &self,
        caller: &Caller,
        request: pb::CreateTenantUserRequest,
    ) -> Result<pb::User, Error> {
        let by = self.admit(caller, "CreateTenantUser").await?;
        let tenant = self.open_tenant(&request.tenant_id).await?;
        let user = request
            .user
            .ok_or_else(|| FieldViolation::missing("user"))?;
        let spec = UserSpec::try_from(user)?;
        let change = self.change(by, request.context)?;
        let id = &tenant.tenant_id;
        let created = self
            .store
            .insert_user(id, &spec, &change)
            .await?
            .ok_or_else(|| Error::AlreadyExists(format!("user {} already exists", spec.user_id)))?;
        self.changed(id);
        tracing::info!(tenant = %id, user_id = %spec.user_id, "user created by the operator");
        Ok(self.answer(id, vec![created]).await?.remove(0))
    }

    pub(crate) async fn list_tenant_users(
        &self,
        caller: &Caller,
        request: pb::ListTenantUsersRequest,
    ) -> Result<pb::ListUsersResponse, Error> {
        self.admit(caller, "ListTenantUsers").await?;
        let tenant = self.open_tenant(&request.tenant_id).await?;
        let id = &tenant.tenant_id;
        let size = page_size(request.page_size)?;
        let after: String = if request.page_token.is_empty() {
            String::new()
        } else {
            self.tokens.open(
                &request.page_token,
                id,
                LIST_TENANT_USERS_QUERY,
                "page_token",
            )?
        };
        let rows = self.store.list_users(id, &after, size + 1).await?;
        let (users, last) = page(rows, size, |u: &User| u.user_id.clone());
        Ok(pb::ListUsersResponse {
            users: self.answer(id, users).await?,
            next_page_token: last
                .map(|l| self.tokens.seal(id, LIST_TENANT_USERS_QUERY, &l))
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_admin_gets_every_right_and_bad_fields_name_admin() {
        let admin = first_admin(Some(pb::User {
            user_id: "boss".into(),
            display_name: "Boss Other".into(),
            ..Default::default()
        }))
        .unwrap();
        assert_eq!(admin.permissions, ALL_PERMISSIONS);
        let bad = first_admin(Some(pb::User {
            user_id: "bad id".into(),
            display_name: "Boss".into(),
            ..Default::default()
        }))
        .unwrap_err();
        assert_eq!(bad.field, "admin.user_id");
        assert_eq!(first_admin(None).unwrap_err().field, "admin");
    }
}
