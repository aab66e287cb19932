//! The tenant record and its validation: what a tenant id is, the states a
//! tenant goes through (active ⇄ suspended → removed, never back), and how
//! a stored tenant is answered. [`States`] remembers tenants' states for the
//! door that refuses a suspended tenant's users ([`crate::tenants_door`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use archive_common::{Clock, FieldViolation, convert};
use archive_proto::v1 as pb;
use chrono::{DateTime, TimeDelta, Utc};

use crate::model::check_display_name;

/// The longest customer number.
pub const TENANT_ID_MAX: usize = 20;

/// Whether a tenant's users are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TenantState {
    Active,
    /// Its users are refused; an operator may resume it.
    Suspended,
    /// For good: its users stay refused and its id is not given again; its
    /// data is kept for the retention it is under.
    Removed,
}

impl TenantState {
    /// The text stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Removed => "removed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "removed" => Some(Self::Removed),
            _ => None,
        }
    }

    /// Whether an operator may move a tenant from this state to `to`
    /// (staying put is allowed and changes nothing). Removal needs a
    /// suspension first, so no tenant is removed by one mistyped command
    /// while its users are working.
    pub fn may_become(self, to: Self) -> bool {
        use TenantState::*;
        self == to
            || matches!(
                (self, to),
                (Active, Suspended) | (Suspended, Active | Removed)
            )
    }
}

impl From<TenantState> for pb::TenantState {
    fn from(s: TenantState) -> Self {
        match s {
            TenantState::Active => Self::Active,
            TenantState::Suspended => Self::Suspended,
            TenantState::Removed => Self::Removed,
        }
    }
}

/// A validated tenant as a request asks it to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSpec {
    pub tenant_id: String,
    pub display_name: String,
}

/// A registered tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub tenant_id: String,
    pub display_name: String,
    pub state: TenantState,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// A customer number: `1..=20` ASCII digits.
pub fn check_tenant_id(value: &str, field: &str) -> Result<(), FieldViolation> {
    if value.is_empty() || value.len() > TENANT_ID_MAX || !value.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(FieldViolation::new(
            field,
            format!("must be a customer number: 1 to {TENANT_ID_MAX} digits"),
        ));
    }
    Ok(())
}

/// Reads the `tenant` field of CreateTenant (errors name `tenant.<field>`).
impl TryFrom<pb::Tenant> for TenantSpec {
    type Error = FieldViolation;

    fn try_from(t: pb::Tenant) -> Result<Self, Self::Error> {
        check_tenant_id(&t.tenant_id, "tenant.tenant_id")?;
        check_display_name(&t.display_name, "tenant.display_name")?;
        Ok(Self {
            tenant_id: t.tenant_id,
            display_name: t.display_name,
        })
    }
}

impl From<Tenant> for pb::Tenant {
    fn from(t: Tenant) -> Self {
        Self {
            tenant_id: t.tenant_id,
            display_name: t.display_name,
            state: pb::TenantState::from(t.state) as i32,
            create_time: Some(convert::timestamp(t.create_time)),
            update_time: Some(convert::timestamp(t.update_time)),
        }
    }
}

/// How long a tenant's state is believed once read: how late, at most, a
/// replica that did not make the change refuses (or serves again) a
/// suspended (or resumed) tenant's users. The replica that made the change
/// forgets its own entry at once.
pub const STATE_TTL: TimeDelta = TimeDelta::seconds(2);
/// Tenants remembered at most (then all are forgotten and read again).
const REMEMBERED: usize = 10_000;

/// A tenant's state (`None`: not registered) and when it was read.
type Read = HashMap<String, (Option<TenantState>, DateTime<Utc>)>;

/// Tenants' states as last read.
#[derive(Clone)]
pub struct States {
    read: Arc<Mutex<Read>>,
    clock: Arc<dyn Clock>,
}

impl States {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            read: Arc::default(),
            clock,
        }
    }

    /// The state read less than [`STATE_TTL`] ago, if any.
    pub fn get(&self, tenant: &str) -> Option<Option<TenantState>> {
        let now = self.clock.now();
        let read = self.read.lock().expect("tenant states");
        match read.get(tenant) {
            Some((state, at)) if now >= *at && now - *at < STATE_TTL => Some(*state),
            _ => None,
        }
    }

    pub fn put(&self, tenant: &str, state: Option<TenantState>) {
        let now = self.clock.now();
        let mut read = self.read.lock().expect("tenant states");
        if read.len() >= REMEMBERED {
            read.clear();
        }
        read.insert(tenant.to_owned(), (state, now));
    }

    pub fn forget(&self, tenant: &str) {
        self.read.lock().expect("tenant states").remove(tenant);
    }
}

#[cfg(test)]
mod tests {
    use archive_common::ManualClock;

    use super::*;

    #[test]
    fn tenant_ids_are_customer_numbers() {
        for good in ["1", "10009", &"9".repeat(20)] {
            assert!(check_tenant_id(good, "tenant_id").is_ok(), "{good}");
        }
        for bad in ["", "1 0", "abc", "-1", "１", &"9".repeat(21)] {
            assert_eq!(check_tenant_id(bad, "t").unwrap_err().field, "t", "{bad:?}");
        }
        let e = TenantSpec::try_from(pb::Tenant {
            tenant_id: "20002".into(),
            display_name: " ".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.field, "tenant.display_name");
    }

    #[test]
    fn removal_needs_a_suspension_and_is_final() {
        use TenantState::*;
        assert!(Active.may_become(Suspended));
        assert!(Suspended.may_become(Active));
        assert!(Suspended.may_become(Removed));
        assert!(!Active.may_become(Removed));
        assert!(!Removed.may_become(Active));
        assert!(!Removed.may_become(Suspended));
        for s in [Active, Suspended, Removed] {
            assert_eq!(TenantState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn states_are_believed_for_the_ttl_only() {
        let clock = ManualClock::new(DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let states = States::new(Arc::new(clock.clone()));
        states.put("20002", Some(TenantState::Suspended));
        assert_eq!(states.get("20002"), Some(Some(TenantState::Suspended)));
        clock.advance(STATE_TTL);
        assert_eq!(states.get("20002"), None);
        states.put("20002", None);
        states.forget("20002");
        assert_eq!(states.get("20002"), None);
    }
}
