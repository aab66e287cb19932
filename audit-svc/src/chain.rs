//! The hash chain: the canonical encoding of an event, its SHA-256, and the
//! check that walks a run of events and finds the first bad link.
//!
//! Encoding (version 1): the tag `archive.v1.AuditEvent/1`, then every field
//! as an 8-byte big-endian length followed by its bytes, in this order:
//! tenant, sequence, kind, actor id, actor display name, call id, recording
//! id, reason, client address, user agent, event time, detail, previous hash.
//! Integers are 8-byte big-endian two's complement. Length prefixes make the
//! encoding unambiguous: no two different events encode to the same bytes.

use sha2::{Digest, Sha256};

use crate::event::{Event, EventBody};

/// The `previous_hash` of a tenant's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const TAG: &[u8] = b"archive.v1.AuditEvent/1";

struct Encoder(Sha256);

impl Encoder {
    fn bytes(&mut self, value: &[u8]) -> &mut Self {
        self.0.update((value.len() as u64).to_be_bytes());
        self.0.update(value);
        self
    }

    fn text(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.bytes(&value.to_be_bytes())
    }
}

/// Lower-case hex SHA-256 of the event at `sequence` with `body`, linked to `previous_hash`.
pub fn hash(sequence: u64, body: &EventBody, previous_hash: &str) -> String {
    let mut e = Encoder(Sha256::new());
    e.0.update(TAG);
    e.text(&body.tenant)
        .int(sequence as i64)
        .int(i64::from(body.kind))
        .text(&body.actor_id)
        .text(&body.actor_display_name)
        .text(&body.call_id)
        .text(&body.recording_id)
        .text(&body.reason)
        .text(&body.client_address)
        .text(&body.user_agent)
        .int(body.event_time)
        .text(&body.detail)
        .text(previous_hash);
    hex::encode(e.0.finalize())
}

/// Places `body` after the event at `previous` (sequence, hash) of its chain.
pub fn link(previous: (u64, &str), body: EventBody) -> Event {
    let sequence = previous.0 + 1;
    let hash = hash(sequence, &body, previous.1);
    Event {
        sequence,
        body,
        previous_hash: previous.1.to_owned(),
        hash,
    }
}

/// The first bad link found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLink {
    pub sequence: u64,
    pub problem: String,
}

/// Walks a run of one tenant's events in ascending order, fed in chunks.
#[derive(Debug)]
pub struct Walker {
    /// The sequence and hash the next event must follow.
    expected_sequence: u64,
    previous_hash: String,
    checked: u64,
}

impl Walker {
    /// Starts after the event at `sequence - 1` whose stored hash is `previous_hash`
    /// ([`GENESIS`] before the first event).
    pub fn new(sequence: u64, previous_hash: String) -> Self {
        Self {
            expected_sequence: sequence,
            previous_hash,
            checked: 0,
        }
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The sequence the next event must have.
    pub fn next_sequence(&self) -> u64 {
        self.expected_sequence
    }

    /// The stored hash of the last event that checked out.
    pub fn last_hash(&self) -> &str {
        &self.previous_hash
    }

    /// Checks the next event; stops at the first bad link.
    pub fn check(&mut self, event: &Event) -> Result<(), BadLink> {
        let bad = |sequence, problem: String| Err(BadLink { sequence, problem });
        if event.sequence != self.expected_sequence {
            return bad(
                self.expected_sequence,
                format!(
                    "event {} is missing (the next stored event is {})",
                    self.expected_sequence, event.sequence
                ),
            );
        }
        if event.previous_hash != self.previous_hash {
            return bad(
                event.sequence,
                format!(
                    "previous_hash does not match the hash of event {}",
                    event.sequence - 1
                ),
            );
        }
        if hash(event.sequence, &event.body, &event.previous_hash) != event.hash {
            return bad(
                event.sequence,
                "the stored hash does not match the event's content".to_owned(),
            );
        }
        self.expected_sequence += 1;
        self.previous_hash.clone_from(&event.hash);
        self.checked += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(reason: &str) -> EventBody {
        EventBody {
            tenant: "10009".into(),
            kind: 1,
            actor_id: "paal".into(),
            actor_display_name: "Paal Admin".into(),
            call_id: "call-1".into(),
            recording_id: "rec-1".into(),
            reason: reason.into(),
            client_address: "10.0.0.1".into(),
            user_agent: "Firefox".into(),
            event_time: 1_700_000_000_000_000,
            detail: String::new(),
        }
    }

    fn chain(n: u64) -> Vec<Event> {
        let mut events: Vec<Event> = Vec::new();
        for i in 0..n {
            let previous = events
                .last()
                .map_or((0, GENESIS.to_owned()), |e| (e.sequence, e.hash.clone()));
            events.push(link(
                (previous.0, &previous.1),
                body(&format!("reason {i}")),
            ));
        }
        events
    }

    #[test]
    fn every_field_is_covered() {
        let base = hash(1, &body("r"), GENESIS);
        assert_eq!(base.len(), 64);
        assert_eq!(base, hash(1, &body("r"), GENESIS), "deterministic");
        let changes: [fn(&mut EventBody); 11] = [
            |b| b.tenant.push('0'),
            |b| b.kind = 2,
            |b| b.actor_id.push('x'),
            |b| b.actor_display_name.push('x'),
            |b| b.call_id.push('x'),
            |b| b.recording_id.push('x'),
            |b| b.reason.push('x'),
            |b| b.client_address.push('x'),
            |b| b.user_agent.push('x'),
            |b| b.event_time += 1,
            |b| b.detail.push('x'),
        ];
        for change in changes {
            let mut b = body("r");
            change(&mut b);
            assert_ne!(hash(1, &b, GENESIS), base);
        }
        assert_ne!(hash(2, &body("r"), GENESIS), base);
        assert_ne!(hash(1, &body("r"), &"1".repeat(64)), base);
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = body("");
        a.call_id = "ab".into();
        a.recording_id = "c".into();
        let mut b = a.clone();
        b.call_id = "a".into();
        b.recording_id = "bc".into();
        assert_ne!(hash(1, &a, GENESIS), hash(1, &b, GENESIS));
    }

    #[test]
    fn an_intact_chain_walks_through() {
        let events = chain(5);
        assert_eq!(events[0].previous_hash, GENESIS);
        assert_eq!(events[4].previous_hash, events[3].hash);
        let mut walker = Walker::new(1, GENESIS.to_owned());
        for e in &events {
            walker.check(e).unwrap();
        }
        assert_eq!(walker.checked(), 5);
        assert_eq!(walker.last_hash(), events[4].hash);
        // A run from the middle starts from the stored hash before it.
        let mut walker = Walker::new(3, events[1].hash.clone());
        for e in &events[2..] {
            walker.check(e).unwrap();
        }
        assert_eq!(walker.checked(), 3);
    }

    #[test]
    fn the_first_bad_link_is_reported() {
        let events = chain(5);
        let walk = |events: &[Event]| {
            let mut walker = Walker::new(1, GENESIS.to_owned());
            events.iter().try_for_each(|e| walker.check(e)).unwrap_err()
        };

        let mut edited = events.clone();
        edited[2].body.reason = "changed".into();
        let bad = walk(&edited);
        assert_eq!(bad.sequence, 3);
        assert!(bad.problem.contains("content"), "{}", bad.problem);

        // Rewriting the hash too breaks the next link instead.
        edited[2].hash = hash(3, &edited[2].body, &edited[2].previous_hash);
        let bad = walk(&edited);
        assert_eq!(bad.sequence, 4);
        assert!(bad.problem.contains("previous_hash"), "{}", bad.problem);

        let mut gap = events.clone();
        gap.remove(1);
        let bad = walk(&gap);
        assert_eq!(bad.sequence, 2);
        assert!(bad.problem.contains("missing"), "{}", bad.problem);
    }
}
