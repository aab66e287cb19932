//! The hash chain: the canonical encoding of an event, its SHA-256, and the
//! check that walks a run of events and finds the first bad link.
//!
//! Encoding: a tag naming the version, then every field as an 8-byte
//! big-endian length followed by its bytes. Integers are 8-byte big-endian
//! two's complement. Length prefixes make the encoding unambiguous: no two
//! different events encode to the same bytes.
//!
//! - Version 1 (`archive.v1.AuditEvent/1`, the rows written before event ids
//!   existed): tenant, sequence, kind, actor id, actor display name, call id,
//!   recording id, reason, client address, user agent, event time, detail,
//!   previous hash.
//! - Version 2 (`archive.v1.AuditEvent/2`, every new row): the same, with
//!   event id, request id, reason code and case id after detail, before the
//!   previous hash.
//!
//! Each stored event says which version its hash is; old rows keep theirs,
//! so they verify unchanged. A version 1 row carries none of the fields only
//! version 2 covers, and no version 1 row follows a version 2 row (both would
//! let an edit hide behind the older encoding).

use sha2::{Digest, Sha256};

use crate::event::{Event, EventBody};

/// The `previous_hash` of a tenant's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// The version every new event is hashed with.
pub const CURRENT_VERSION: u16 = 2;
const TAG_V1: &[u8] = b"archive.v1.AuditEvent/1";
const TAG_V2: &[u8] = b"archive.v1.AuditEvent/2";

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

/// Lower-case hex SHA-256 of the event at `sequence` with `body`, linked to
/// `previous_hash`, in encoding `version` (`None` for a version this build
/// does not know).
pub fn hash(version: u16, sequence: u64, body: &EventBody, previous_hash: &str) -> Option<String> {
    let tag = match version {
        1 => TAG_V1,
        2 => TAG_V2,
        _ => return None,
    };
    let mut e = Encoder(Sha256::new());
    e.0.update(tag);
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
        .text(&body.detail);
    if version >= 2 {
        e.text(&body.event_id)
            .text(&body.request_id)
            .text(&body.reason_code)
            .text(&body.case_id);
    }
    e.text(previous_hash);
    Some(hex::encode(e.0.finalize()))
}

/// Whether `body` sets a field that version 1 does not cover.
fn beyond_v1(body: &EventBody) -> bool {
    !(body.event_id.is_empty()
        && body.request_id.is_empty()
        && body.reason_code.is_empty()
        && body.case_id.is_empty())
}

/// Places `body` after the event at `previous` (sequence, hash) of its chain.
/// Hashed with [`CURRENT_VERSION`].
pub fn link(previous: (u64, &str), body: EventBody) -> Event {
    let sequence = previous.0 + 1;
    let hash = hash(CURRENT_VERSION, sequence, &body, previous.1).expect("a known version");
    Event {
        sequence,
        body,
        previous_hash: previous.1.to_owned(),
        hash,
        hash_version: CURRENT_VERSION,
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
    /// The highest hash version seen so far.
    version: u16,
}

impl Walker {
    /// Starts after the event at `sequence - 1` whose stored hash is `previous_hash`
    /// ([`GENESIS`] before the first event).
    pub fn new(sequence: u64, previous_hash: String) -> Self {
        Self {
            expected_sequence: sequence,
            previous_hash,
            checked: 0,
            version: 1,
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
        if event.hash_version < self.version {
            return bad(
                event.sequence,
                format!(
                    "hash version {} after an event of version {}",
                    event.hash_version, self.version
                ),
            );
        }
        if event.hash_version == 1 && beyond_v1(&event.body) {
            return bad(
                event.sequence,
                "a version 1 event carries fields version 1 does not cover".to_owned(),
            );
        }
        match hash(
            event.hash_version,
            event.sequence,
            &event.body,
            &event.previous_hash,
        ) {
            None => {
                return bad(
                    event.sequence,
                    format!("unknown hash version {}", event.hash_version),
                );
            }
            Some(h) if h != event.hash => {
                return bad(
                    event.sequence,
                    "the stored hash does not match the event's content".to_owned(),
                );
            }
            Some(_) => {}
        }
        self.version = event.hash_version;
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
            event_id: "ev-1".into(),
            request_id: "req-1".into(),
            reason_code: "QA".into(),
            case_id: "CASE-7".into(),
        }
    }

    fn v1_body(reason: &str) -> EventBody {
        EventBody {
            event_id: String::new(),
            request_id: String::new(),
            reason_code: String::new(),
            case_id: String::new(),
            ..body(reason)
        }
    }

    fn v2(sequence: u64, body: &EventBody, previous: &str) -> String {
        hash(2, sequence, body, previous).unwrap()
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

    /// A version 1 event as the service stored it before version 2 existed.
    fn v1_event(sequence: u64, previous: &str, reason: &str) -> Event {
        let body = v1_body(reason);
        Event {
            sequence,
            hash: hash(1, sequence, &body, previous).unwrap(),
            body,
            previous_hash: previous.to_owned(),
            hash_version: 1,
        }
    }

    #[test]
    fn both_encodings_are_pinned() {
        // Computed independently (Python's hashlib over the documented
        // encoding); version 1 is also what the service wrote before version 2.
        assert_eq!(
            hash(1, 1, &body("r"), GENESIS).unwrap(),
            "7f3e8a52bdc84e76a4a64aaa8dd1512058ee9fbd3d1cd299fdd7bc97b2265abe"
        );
        assert_eq!(
            v2(1, &body("r"), GENESIS),
            "b94f369a1e4078e8cd33f89fe500ed2c253539c570d37b3fc40ab985f860895b"
        );
        assert_eq!(hash(3, 1, &body("r"), GENESIS), None);
        assert_eq!(link((0, GENESIS), body("r")).hash_version, CURRENT_VERSION);
    }

    #[test]
    fn every_field_is_covered() {
        let base = v2(1, &body("r"), GENESIS);
        assert_eq!(base.len(), 64);
        assert_eq!(base, v2(1, &body("r"), GENESIS), "deterministic");
        let changes: [fn(&mut EventBody); 15] = [
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
            |b| b.event_id.push('x'),
            |b| b.request_id.push('x'),
            |b| b.reason_code.push('x'),
            |b| b.case_id.push('x'),
        ];
        for change in changes {
            let mut b = body("r");
            change(&mut b);
            assert_ne!(v2(1, &b, GENESIS), base);
        }
        assert_ne!(v2(2, &body("r"), GENESIS), base);
        assert_ne!(v2(1, &body("r"), &"1".repeat(64)), base);
        // The versions differ even where version 2 adds nothing.
        assert_ne!(
            hash(1, 1, &v1_body("r"), GENESIS),
            hash(2, 1, &v1_body("r"), GENESIS)
        );
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = body("");
        a.call_id = "ab".into();
        a.recording_id = "c".into();
        let mut b = a.clone();
        b.call_id = "a".into();
        b.recording_id = "bc".into();
        assert_ne!(v2(1, &a, GENESIS), v2(1, &b, GENESIS));
        let mut a = body("");
        a.reason_code = "QA".into();
        a.case_id = "".into();
        let mut b = a.clone();
        b.reason_code = "Q".into();
        b.case_id = "A".into();
        assert_ne!(v2(1, &a, GENESIS), v2(1, &b, GENESIS));
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
    fn old_events_verify_by_their_own_version() {
        let first = v1_event(1, GENESIS, "old 1");
        let second = v1_event(2, &first.hash, "old 2");
        let third = link((2, &second.hash), body("new"));
        let mut walker = Walker::new(1, GENESIS.to_owned());
        for e in [&first, &second, &third] {
            walker.check(e).unwrap();
        }
        assert_eq!(walker.checked(), 3);

        // Relabelling a new event as version 1 does not pass: its hash is a
        // version 2 hash, and the fields only version 2 covers are set.
        let mut downgraded = third.clone();
        downgraded.hash_version = 1;
        let mut walker = Walker::new(3, second.hash.clone());
        let bad = walker.check(&downgraded).unwrap_err();
        assert!(bad.problem.contains("version 1"), "{}", bad.problem);

        // Nor does a version 1 event after a version 2 one, even one whose
        // hash was recomputed to match.
        let mut walker = Walker::new(1, GENESIS.to_owned());
        let v2_first = link((0, GENESIS), body("new"));
        walker.check(&v2_first).unwrap();
        let forged = v1_event(2, &v2_first.hash, "forged");
        let bad = walker.check(&forged).unwrap_err();
        assert_eq!(bad.sequence, 2);
        assert!(
            bad.problem.contains("after an event of version 2"),
            "{}",
            bad.problem
        );

        let mut unknown = link((0, GENESIS), body("new"));
        unknown.hash_version = 9;
        let bad = Walker::new(1, GENESIS.to_owned())
            .check(&unknown)
            .unwrap_err();
        assert!(
            bad.problem.contains("unknown hash version 9"),
            "{}",
            bad.problem
        );
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

        // A changed case id is caught like any other field.
        let mut edited_case = events.clone();
        edited_case[1].body.case_id = "CASE-8".into();
        assert_eq!(walk(&edited_case).sequence, 2);

        // Rewriting the hash too breaks the next link instead.
        edited[2].hash = v2(3, &edited[2].body, &edited[2].previous_hash);
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
