//! The door that refuses a suspended (or removed) tenant's users: every RPC
//! of [`Authz`] passes through [`TenantDoor`] before the service core, so
//! decisions, GetMyPermissions and user management all answer
//! PERMISSION_DENIED "tenant 20002 is suspended". The gateway asks authz-svc
//! before every flow it serves, so this one check holds in embedded and
//! split mode alike. A tenant's state is believed for
//! [`crate::tenants::STATE_TTL`]; a tenant not in the registry is served as before.

use std::sync::Arc;

use archive_common::identity::Caller;
use archive_proto::v1 as pb;

use crate::{
    Authz, Error,
    store::Store,
    tenants::{States, TenantState},
};

pub(crate) struct TenantDoor {
    inner: Arc<dyn Authz>,
    store: Arc<dyn Store>,
    states: States,
}

impl TenantDoor {
    pub(crate) fn new(inner: Arc<dyn Authz>, store: Arc<dyn Store>, states: States) -> Self {
        Self {
            inner,
            store,
            states,
        }
    }

    async fn check(&self, caller: &Caller) -> Result<(), Error> {
        let tenant = caller.principal.tenant.as_str();
        let state = match self.states.get(tenant) {
            Some(state) => state,
            None => {
                let state = self.store.get_tenant(tenant).await?.map(|t| t.state);
                self.states.put(tenant, state);
                state
            }
        };
        refuse(tenant, state)
    }
}

/// PERMISSION_DENIED naming the tenant and its state, unless it is served.
pub(crate) fn refuse(tenant: &str, state: Option<TenantState>) -> Result<(), Error> {
    match state {
        Some(s @ (TenantState::Suspended | TenantState::Removed)) => Err(Error::PermissionDenied(
            format!("tenant {tenant} is {}", s.as_str()),
        )),
        Some(TenantState::Active) | None => Ok(()),
    }
}

// Every method: the door, then the core.
macro_rules! through_the_door {
    ($($method:ident($request:ty) -> $response:ty;)*) => {
        #[async_trait::async_trait]
        impl Authz for TenantDoor {
            $(
                async fn $method(&self, caller: &Caller, request: $request) -> Result<$response, Error> {
                    self.check(caller).await?;
                    self.inner.$method(caller, request).await
                }
            )*
        }
    };
}

through_the_door! {
    decide(pb::DecideRequest) -> pb::DecideResponse;
    batch_decide(pb::BatchDecideRequest) -> pb::BatchDecideResponse;
    get_my_permissions(pb::GetMyPermissionsRequest) -> pb::User;
    create_user(pb::CreateUserRequest) -> pb::User;
    get_user(pb::GetUserRequest) -> pb::User;
    list_users(pb::ListUsersRequest) -> pb::ListUsersResponse;
    update_user(pb::UpdateUserRequest) -> pb::User;
    delete_user(pb::DeleteUserRequest) -> pb::DeleteUserResponse;
    list_roles(pb::ListRolesRequest) -> pb::ListRolesResponse;
    create_role(pb::CreateRoleRequest) -> pb::Role;
    update_role(pb::UpdateRoleRequest) -> pb::Role;
    delete_role(pb::DeleteRoleRequest) -> pb::DeleteRoleResponse;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_or_unregistered_tenant_is_served() {
        assert!(refuse("10009", Some(TenantState::Active)).is_ok());
        assert!(refuse("10009", None).is_ok());
        for (state, text) in [
            (TenantState::Suspended, "tenant 20002 is suspended"),
            (TenantState::Removed, "tenant 20002 is removed"),
        ] {
            let status = tonic::Status::from(refuse("20002", Some(state)).unwrap_err());
            assert_eq!(status.code(), tonic::Code::PermissionDenied);
            assert_eq!(status.message(), text);
        }
        assert!(
            crate::tenants::STATE_TTL.num_seconds() <= 5,
            "the documented bound"
        );
    }
}
