//! What one append transaction does, apart from the SQL: the groups of a
//! batch are placed, in order, after their tenants' last events, each group
//! all or none. An event whose event id is already in the trail (or earlier
//! in the batch) is not appended again: the same event (kind, actor,
//! recording) answers the stored receipt, a different one refuses its whole
//! group. Both backends read the tails under their tenants' locks, call
//! [`plan`], insert its rows and check the deadlines just before COMMIT.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::{
    Error, chain,
    event::{Appended, Event, EventBody},
};

/// One caller's events: committed all together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub events: Vec<EventBody>,
    /// Committed only if COMMIT starts before this.
    pub deadline: Option<DateTime<Utc>>,
}

impl Group {
    /// Whether it may no longer be committed at `now`.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
    }
}

/// A group's answer: its receipts in order, or why none of it was appended
/// ([`Error::EventIdTaken`], [`Error::DeadlineExceeded`]).
pub type GroupOutcome = Result<Vec<Appended>, Error>;

/// What one append transaction did.
#[derive(Debug)]
pub enum Attempt {
    /// Committed; one outcome per group, in order.
    Committed(Vec<GroupOutcome>),
    /// Rolled back, nothing appended: the deadlines of the groups at these
    /// positions passed before COMMIT.
    Expired(Vec<usize>),
}

/// An event already in the trail under its event id: what a repeated
/// append is compared with and answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) sequence: u64,
    pub(crate) hash: String,
    pub(crate) kind: i32,
    pub(crate) actor_id: String,
    pub(crate) recording_id: String,
}

impl Stored {
    fn same_event(&self, e: &EventBody) -> bool {
        self.kind == e.kind && self.actor_id == e.actor_id && self.recording_id == e.recording_id
    }
}

/// `(tenant, event_id)`.
pub(crate) type IdKey = (String, String);

/// The rows to insert and each group's outcome.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) rows: Vec<Event>,
    pub(crate) outcomes: Vec<GroupOutcome>,
}

/// The tenants of a batch, sorted and distinct (the order their locks are taken in).
pub(crate) fn tenants(groups: &[&Group]) -> Vec<String> {
    let mut tenants: Vec<String> = events(groups).map(|e| e.tenant.clone()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    tenants
}

/// The event ids of a batch to look up, distinct.
pub(crate) fn event_ids(groups: &[&Group]) -> Vec<IdKey> {
    let mut ids: Vec<IdKey> = events(groups)
        .filter(|e| !e.event_id.is_empty())
        .map(|e| (e.tenant.clone(), e.event_id.clone()))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn events<'a>(groups: &'a [&Group]) -> impl Iterator<Item = &'a EventBody> {
    groups.iter().flat_map(|g| g.events.iter())
}

/// The positions of the groups that may no longer be committed at `now`.
pub(crate) fn expired(groups: &[&Group], now: DateTime<Utc>) -> Vec<usize> {
    (0..groups.len())
        .filter(|&i| groups[i].expired(now))
        .collect()
}

/// Places the groups after `heads` (each tenant's last sequence and hash;
/// absent: no events yet), answering repeated event ids from `known`.
pub(crate) fn plan(
    groups: &[&Group],
    mut heads: HashMap<String, (u64, String)>,
    mut known: HashMap<IdKey, Stored>,
) -> Plan {
    let mut rows = Vec::new();
    let mut outcomes = Vec::with_capacity(groups.len());
    for group in groups {
        // What this group changes, to undo if it is refused.
        let first_row = rows.len();
        let mut old_heads: Vec<(String, Option<(u64, String)>)> = Vec::new();
        let mut new_ids: Vec<IdKey> = Vec::new();
        let mut receipts = Vec::with_capacity(group.events.len());
        let mut refusal = None;
        for (index, e) in group.events.iter().enumerate() {
            let key = (e.tenant.clone(), e.event_id.clone());
            if !e.event_id.is_empty()
                && let Some(stored) = known.get(&key)
            {
                if stored.same_event(e) {
                    receipts.push(Appended {
                        sequence: stored.sequence,
                        hash: stored.hash.clone(),
                        event_id: e.event_id.clone(),
                        duplicate: true,
                    });
                    continue;
                }
                refusal = Some(Error::EventIdTaken {
                    index,
                    event_id: e.event_id.clone(),
                });
                break;
            }
            if !old_heads.iter().any(|(t, _)| *t == e.tenant) {
                old_heads.push((e.tenant.clone(), heads.get(&e.tenant).cloned()));
            }
            let head = heads
                .entry(e.tenant.clone())
                .or_insert_with(|| (0, chain::GENESIS.to_owned()));
            let event = chain::link((head.0, &head.1), e.clone());
            *head = (event.sequence, event.hash.clone());
            receipts.push(Appended {
                sequence: event.sequence,
                hash: event.hash.clone(),
                event_id: e.event_id.clone(),
                duplicate: false,
            });
            if !e.event_id.is_empty() {
                known.insert(
                    key.clone(),
                    Stored {
                        sequence: event.sequence,
                        hash: event.hash.clone(),
                        kind: e.kind,
                        actor_id: e.actor_id.clone(),
                        recording_id: e.recording_id.clone(),
                    },
                );
                new_ids.push(key);
            }
            rows.push(event);
        }
        match refusal {
            None => outcomes.push(Ok(receipts)),
            Some(refusal) => {
                rows.truncate(first_row);
                for (tenant, head) in old_heads {
                    match head {
                        Some(head) => heads.insert(tenant, head),
                        None => heads.remove(&tenant),
                    };
                }
                for key in new_ids {
                    known.remove(&key);
                }
                outcomes.push(Err(refusal));
            }
        }
    }
    Plan { rows, outcomes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(tenant: &str, id: &str, recording: &str) -> EventBody {
        EventBody {
            tenant: tenant.into(),
            kind: 1,
            actor_id: "paal".into(),
            event_id: id.into(),
            recording_id: recording.into(),
            ..Default::default()
        }
    }

    fn group(events: Vec<EventBody>) -> Group {
        Group {
            events,
            deadline: None,
        }
    }

    #[test]
    fn groups_continue_their_tenants_chains_in_order() {
        let a = group(vec![body("b", "1", "r"), body("a", "2", "r")]);
        let b = group(vec![body("b", "3", "r")]);
        let heads = HashMap::from([("b".to_owned(), (4, "h".repeat(64)))]);
        let plan = plan(&[&a, &b], heads, HashMap::new());
        let sequences: Vec<(String, u64)> = plan
            .rows
            .iter()
            .map(|e| (e.body.tenant.clone(), e.sequence))
            .collect();
        assert_eq!(
            sequences,
            [("b".into(), 5), ("a".into(), 1), ("b".into(), 6)]
        );
        assert_eq!(plan.rows[0].previous_hash, "h".repeat(64));
        assert_eq!(plan.rows[1].previous_hash, chain::GENESIS);
        assert_eq!(plan.rows[2].previous_hash, plan.rows[0].hash);
        let receipts = plan.outcomes[1].as_ref().unwrap();
        assert_eq!((receipts[0].sequence, receipts[0].duplicate), (6, false));
        assert_eq!(tenants(&[&a, &b]), ["a", "b"]);
        assert_eq!(event_ids(&[&a, &b]).len(), 3);
    }

    #[test]
    fn a_repeated_event_id_answers_the_stored_receipt_or_refuses_the_group() {
        let stored = Stored {
            sequence: 7,
            hash: "s".repeat(64),
            kind: 1,
            actor_id: "paal".into(),
            recording_id: "r".into(),
        };
        let known = HashMap::from([(("t".to_owned(), "old".to_owned()), stored)]);
        let heads = HashMap::from([("t".to_owned(), (7, "s".repeat(64)))]);
        // A retry: the stored event is answered, the new one appended.
        let retry = group(vec![body("t", "old", "r"), body("t", "new", "r")]);
        // The same id for a different recording: nothing of this group is
        // appended, and the next group takes the sequence it would have had.
        let clash = group(vec![body("t", "other", "r"), body("t", "old", "x")]);
        let after = group(vec![body("t", "later", "r")]);
        // Within the batch, a repeat of an id appended just before is a duplicate too.
        let again = group(vec![body("t", "new", "r")]);
        let plan = plan(&[&retry, &clash, &after, &again], heads, known);

        let receipts = plan.outcomes[0].as_ref().unwrap();
        assert_eq!(
            (receipts[0].sequence, receipts[0].duplicate),
            (7, true),
            "{receipts:?}"
        );
        assert_eq!(receipts[0].hash, "s".repeat(64));
        assert_eq!((receipts[1].sequence, receipts[1].duplicate), (8, false));
        match &plan.outcomes[1] {
            Err(Error::EventIdTaken { index, event_id }) => {
                assert_eq!((*index, event_id.as_str()), (1, "old"));
            }
            other => panic!("{other:?}"),
        }
        let later = plan.outcomes[2].as_ref().unwrap();
        assert_eq!(later[0].sequence, 9);
        let again = plan.outcomes[3].as_ref().unwrap();
        assert_eq!((again[0].sequence, again[0].duplicate), (8, true));
        let rows: Vec<&str> = plan.rows.iter().map(|e| e.body.event_id.as_str()).collect();
        assert_eq!(rows, ["new", "later"]);
        assert_eq!(plan.rows[1].previous_hash, plan.rows[0].hash);
    }

    #[test]
    fn a_refused_group_leaves_no_trace_in_a_new_tenant() {
        // The first event would start tenant "n"'s chain; the group is refused.
        let stored = Stored {
            sequence: 1,
            hash: "s".repeat(64),
            kind: 2,
            actor_id: "paal".into(),
            recording_id: "r".into(),
        };
        let known = HashMap::from([(("t".to_owned(), "taken".to_owned()), stored)]);
        let refused = group(vec![body("n", "fresh", "r"), body("t", "taken", "r")]);
        let next = group(vec![body("n", "fresh", "r")]);
        let plan = plan(&[&refused, &next], HashMap::new(), known);
        assert!(plan.outcomes[0].is_err());
        let next = plan.outcomes[1].as_ref().unwrap();
        assert_eq!((next[0].sequence, next[0].duplicate), (1, false));
        assert_eq!(plan.rows.len(), 1);
        assert_eq!(plan.rows[0].previous_hash, chain::GENESIS);
    }

    #[test]
    fn deadlines_expire_at_their_instant() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let open = group(vec![]);
        let mut due = group(vec![]);
        due.deadline = Some(now);
        let mut later = group(vec![]);
        later.deadline = Some(now + chrono::TimeDelta::milliseconds(1));
        assert_eq!(expired(&[&open, &due, &later], now), [1]);
    }
}
