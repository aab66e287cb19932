//! First admins: `TENANT:USER_ID:Display Name` entries from the config are
//! created with every permission when missing, so a fresh tenant has someone
//! who can create the other users. Existing users are never changed, so a
//! restart does not undo what an admin changed since. Each admin created is
//! recorded like any user change, by `system:bootstrap`; an admin's tenant
//! not yet in the registry is registered, active (with no event of its own,
//! as the migration registers the tenants it finds).

use audit_svc::outbox::Change;
use chrono::{DateTime, Utc};

use crate::{
    Error,
    model::{ALL_PERMISSIONS, UserSpec, check_display_name, check_user_id},
    store::Store,
};

/// A parsed bootstrap entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admin {
    pub(crate) tenant: String,
    pub(crate) user: UserSpec,
}

/// Parses `TENANT:USER_ID:Display Name` (the display name may contain `:`).
pub(crate) fn parse(entry: &str) -> Result<Admin, Error> {
    let bad = |why: String| Error::Bootstrap {
        entry: entry.to_owned(),
        why,
    };
    let mut parts = entry.trim().splitn(3, ':');
    let (Some(tenant), Some(user_id), Some(display_name)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected TENANT:USER_ID:Display Name".into()));
    };
    if tenant.is_empty() || tenant.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("the tenant must be non-empty, without spaces".into()));
    }
    check_user_id(user_id, "user_id").map_err(|v| bad(v.to_string()))?;
    check_display_name(display_name, "display_name").map_err(|v| bad(v.to_string()))?;
    Ok(Admin {
        tenant: tenant.to_owned(),
        user: UserSpec {
            roles: vec!["admin".into()],
            ..UserSpec::new(user_id, display_name, "", ALL_PERMISSIONS)
        },
    })
}

/// Parses every entry first (a typo stops the start before anything is
/// written), then creates the missing admins. Returns how many were created.
pub(crate) async fn apply(
    store: &dyn Store,
    entries: &[String],
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    let admins = entries
        .iter()
        .filter(|e| !e.trim().is_empty())
        .map(|e| parse(e))
        .collect::<Result<Vec<_>, _>>()?;
    let bootstrap = Change::system("bootstrap", now);
    let mut created = 0;
    for admin in admins {
        if store.register_tenant(&admin.tenant, now).await? {
            tracing::info!(tenant = %admin.tenant, "tenant registered");
        }
        if store
            .insert_user(&admin.tenant, &admin.user, &bootstrap)
            .await?
            .is_some()
        {
            tracing::info!(tenant = %admin.tenant, user_id = %admin.user.user_id, "bootstrap admin created");
            created += 1;
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse() {
        let a = parse("10009:paal:Paal Admin").unwrap();
        assert_eq!(a.tenant, "10009");
        assert_eq!(a.user.user_id, "paal");
        assert_eq!(a.user.display_name, "Paal Admin");
        assert_eq!(a.user.permissions, ALL_PERMISSIONS);
        assert_eq!(
            parse("1:x:Name: with colon").unwrap().user.display_name,
            "Name: with colon"
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "10009:paal",
            ":paal:Paal",
            "10009:bad id:Paal",
            "10009:paal: ",
            "10 09:p:P",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::Bootstrap { .. })),
                "{bad:?} should be refused"
            );
        }
    }
}
