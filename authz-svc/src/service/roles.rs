//! Role management for the tenant's admins (the caller already admitted as
//! one): the built-in roles listed read-only, the tenant's own created,
//! changed and removed, each change committed with its event. A role change
//! forgets the tenant's cached rights, since any of its users may hold it.

use archive_common::{FieldViolation, Principal};
use archive_proto::v1 as pb;

use super::Authority;
use crate::{
    Error,
    role::{self, BUILT_IN, RoleSpec, check_role_id},
    store::RoleRemoval,
};

impl Authority {
    pub(super) async fn list_roles_of(&self, tenant: &str) -> Result<pb::ListRolesResponse, Error> {
        let built_in = BUILT_IN.iter().filter_map(|id| role::built_in(id));
        let own = self.store.list_roles(tenant).await?;
        Ok(pb::ListRolesResponse {
            roles: built_in.chain(own).map(pb::Role::from).collect(),
        })
    }

    fn role_spec(role: Option<pb::Role>) -> Result<RoleSpec, Error> {
        let role = role.ok_or_else(|| FieldViolation::missing("role"))?;
        let spec = RoleSpec::try_from(role)?;
        if role::built_in(&spec.role_id).is_some() {
            return Err(FieldViolation::new(
                "role.role_id",
                format!(
                    "{} is a built-in role, which cannot be changed",
                    spec.role_id
                ),
            )
            .into());
        }
        Ok(spec)
    }

    pub(super) async fn create_role_as(
        &self,
        caller: &Principal,
        request: pb::CreateRoleRequest,
    ) -> Result<pb::Role, Error> {
        let spec = Self::role_spec(request.role)?;
        let change = self.change(caller, request.context)?;
        let created = self
            .store
            .insert_role(&caller.tenant, &spec, &change)
            .await?
            .ok_or_else(|| Error::AlreadyExists(format!("role {} already exists", spec.role_id)))?;
        self.audit.nudge();
        self.cache.invalidate_tenant(&caller.tenant);
        tracing::info!(tenant = %caller.tenant, by = %caller.user_id, role_id = %spec.role_id, "role created");
        Ok(created.into())
    }

    pub(super) async fn update_role_as(
        &self,
        caller: &Principal,
        request: pb::UpdateRoleRequest,
    ) -> Result<pb::Role, Error> {
        let spec = Self::role_spec(request.role)?;
        let change = self.change(caller, request.context)?;
        let updated = self
            .store
            .update_role(&caller.tenant, &spec, &change)
            .await?
            .ok_or_else(|| Error::NotFound(format!("role {} not found", spec.role_id)))?;
        self.audit.nudge();
        self.cache.invalidate_tenant(&caller.tenant);
        tracing::info!(tenant = %caller.tenant, by = %caller.user_id, role_id = %spec.role_id, "role updated");
        Ok(updated.into())
    }

    pub(super) async fn delete_role_as(
        &self,
        caller: &Principal,
        request: pb::DeleteRoleRequest,
    ) -> Result<pb::DeleteRoleResponse, Error> {
        let role_id = request.role_id.as_str();
        check_role_id(role_id, "role_id")?;
        if role::built_in(role_id).is_some() {
            return Err(FieldViolation::new(
                "role_id",
                format!("{role_id} is a built-in role, which cannot be removed"),
            )
            .into());
        }
        let change = self.change(caller, request.context)?;
        match self
            .store
            .delete_role(&caller.tenant, role_id, &change)
            .await?
        {
            RoleRemoval::Removed => {}
            RoleRemoval::NotFound => {
                return Err(Error::NotFound(format!("role {role_id} not found")));
            }
            RoleRemoval::Held(users) => {
                return Err(Error::FailedPrecondition(format!(
                    "role {role_id} is held by {}; take it from them first",
                    users.join(", ")
                )));
            }
        }
        self.audit.nudge();
        self.cache.invalidate_tenant(&caller.tenant);
        tracing::info!(tenant = %caller.tenant, by = %caller.user_id, role_id, "role deleted");
        Ok(pb::DeleteRoleResponse {})
    }
}
