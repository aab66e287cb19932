//! The decision cache: a user's effective rights ([`Grant`]: their own and
//! their roles'), looked up once and reused for `ttl`, so a page of
//! decisions costs no database round trip.
//!
//! Bound on staleness: a change made through this instance removes the entry
//! before the RPC answers, so it takes effect at once here; a change made
//! through another replica takes effect here within `ttl`. A role change
//! forgets the whole tenant (any of its users may hold the role). A lookup that raced
//! with a change never re-inserts the old value: every invalidation bumps a
//! generation, and a fill whose read started before the bump is dropped.
//! Freshness is judged by the injected clock, so expiry is testable.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use archive_common::Clock;
use chrono::{DateTime, Utc};

use crate::grant::Grant;

/// Entries kept before the cache starts over (a crude bound on memory).
const CAPACITY: usize = 100_000;

struct Entry {
    loaded: DateTime<Utc>,
    /// `None`: the tenant has no such user (cached too, so unknown callers are cheap).
    grant: Option<Arc<Grant>>,
}

#[derive(Default)]
struct Entries {
    /// tenant → user id → entry; nested so lookups need no allocation.
    tenants: HashMap<String, HashMap<String, Entry>>,
    len: usize,
}

pub(crate) struct DecisionCache {
    ttl: Duration,
    clock: Arc<dyn Clock>,
    generation: AtomicU64,
    entries: RwLock<Entries>,
}

/// A lookup's place in time, taken before reading the database.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

impl DecisionCache {
    pub(crate) fn new(ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            ttl,
            clock,
            generation: AtomicU64::new(0),
            entries: RwLock::new(Entries::default()),
        }
    }

    /// `Some(grant)` when a fresh entry exists (inner `None`: unknown user).
    pub(crate) fn get(&self, tenant: &str, user_id: &str) -> Option<Option<Arc<Grant>>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().expect("cache lock");
        let entry = entries.tenants.get(tenant)?.get(user_id)?;
        let age = (self.clock.now() - entry.loaded)
            .to_std()
            .unwrap_or_default();
        (age < self.ttl).then(|| entry.grant.clone())
    }

    /// Call before reading the database for [`DecisionCache::fill`].
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Remembers a lookup unless something was invalidated since `ticket`.
    pub(crate) fn fill(
        &self,
        ticket: Ticket,
        tenant: &str,
        user_id: &str,
        grant: Option<Arc<Grant>>,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.write().expect("cache lock");
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if entries.len >= CAPACITY {
            *entries = Entries::default();
        }
        let entry = Entry {
            loaded: self.clock.now(),
            grant,
        };
        let previous = entries
            .tenants
            .entry(tenant.to_owned())
            .or_default()
            .insert(user_id.to_owned(), entry);
        if previous.is_none() {
            entries.len += 1;
        }
    }

    /// Forgets a user after a change, before the change is acknowledged.
    pub(crate) fn invalidate(&self, tenant: &str, user_id: &str) {
        let mut entries = self.entries.write().expect("cache lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        let removed = entries
            .tenants
            .get_mut(tenant)
            .and_then(|users| users.remove(user_id))
            .is_some();
        if removed {
            entries.len -= 1;
        }
    }

    /// Forgets every user of `tenant` (after a role change).
    pub(crate) fn invalidate_tenant(&self, tenant: &str) {
        let mut entries = self.entries.write().expect("cache lock");
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(users) = entries.tenants.remove(tenant) {
            entries.len -= users.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use archive_common::{ManualClock, SystemClock};

    use super::*;

    fn player() -> Option<Arc<Grant>> {
        let player = crate::model::Permissions {
            play_recordings: true,
            ..Default::default()
        };
        let user = crate::model::User::agent_for_tests(player, Default::default(), &[]);
        Some(Arc::new(Grant::of(&user, &[])))
    }

    #[test]
    fn hits_until_invalidated() {
        let cache = DecisionCache::new(Duration::from_secs(60), Arc::new(SystemClock));
        assert_eq!(cache.get("10009", "anna"), None);
        cache.fill(cache.ticket(), "10009", "anna", player());
        cache.fill(cache.ticket(), "10009", "ghost", None);
        assert_eq!(cache.get("10009", "anna"), Some(player()));
        assert_eq!(cache.get("10009", "ghost"), Some(None));
        assert_eq!(cache.get("10010", "anna"), None, "tenants are separate");
        cache.invalidate("10009", "anna");
        assert_eq!(cache.get("10009", "anna"), None);
        cache.fill(cache.ticket(), "10009", "anna", player());
        cache.fill(cache.ticket(), "10010", "anna", player());
        cache.invalidate_tenant("10009");
        assert_eq!(cache.get("10009", "anna"), None);
        assert_eq!(cache.get("10009", "ghost"), None);
        assert_eq!(cache.get("10010", "anna"), Some(player()));
    }

    #[test]
    fn a_fill_that_raced_with_a_change_is_dropped() {
        let cache = DecisionCache::new(Duration::from_secs(60), Arc::new(SystemClock));
        let ticket = cache.ticket();
        // …the database is read here, then the user is changed and invalidated…
        cache.invalidate("10009", "anna");
        cache.fill(ticket, "10009", "anna", player());
        assert_eq!(cache.get("10009", "anna"), None);
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let clock = ManualClock::new(Utc::now());
        let cache = DecisionCache::new(Duration::from_millis(20), Arc::new(clock.clone()));
        cache.fill(cache.ticket(), "10009", "anna", player());
        clock.advance(chrono::Duration::milliseconds(19));
        assert!(cache.get("10009", "anna").is_some());
        clock.advance(chrono::Duration::milliseconds(1));
        assert_eq!(cache.get("10009", "anna"), None);
    }

    #[test]
    fn a_zero_ttl_disables_the_cache() {
        let cache = DecisionCache::new(Duration::ZERO, Arc::new(SystemClock));
        cache.fill(cache.ticket(), "10009", "anna", player());
        assert_eq!(cache.get("10009", "anna"), None);
    }
}
