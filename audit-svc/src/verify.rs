//! Verifying a tenant's chain straight from the store: recompute every hash
//! in a range, check every link and the chain head, report the first bad link.
//! Used by the VerifyChain RPC and by the `audit-verify` tool.

use archive_common::FieldViolation;

use crate::{
    Error,
    chain::{GENESIS, Walker},
    store::Store,
};

/// Events read per query; memory stays bounded whatever the trail's length.
const CHUNK: u32 = 10_000;

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub intact: bool,
    pub events_checked: u64,
    /// 0 when intact.
    pub first_bad_sequence: u64,
    pub problem: String,
}

impl Report {
    fn intact(events_checked: u64) -> Self {
        Self {
            intact: true,
            events_checked,
            first_bad_sequence: 0,
            problem: String::new(),
        }
    }

    fn broken(events_checked: u64, sequence: u64, problem: String) -> Self {
        Self {
            intact: false,
            events_checked,
            first_bad_sequence: sequence,
            problem,
        }
    }
}

/// Verifies `tenant`'s events `from..=to` (0: the first / the last event).
/// A range that does not start at 1 is anchored on the stored hash of the
/// event before it; a range that reaches the end is also checked against the
/// chain head, which catches events removed from or added past the end.
pub async fn verify(store: &dyn Store, tenant: &str, from: u64, to: u64) -> Result<Report, Error> {
    let head = store.head(tenant).await?;
    let last = head.as_ref().map_or(0, |h| h.last_sequence);
    if to > last {
        return Err(FieldViolation::new(
            "to_sequence",
            format!("is beyond the last event ({last})"),
        )
        .into());
    }
    let first = from.max(1);
    let to = if to == 0 { last } else { to };
    if from > to && from > 0 {
        return Err(FieldViolation::new(
            "from_sequence",
            format!("is after the end of the range ({to})"),
        )
        .into());
    }
    if head.is_none() {
        if !store.range(tenant, 1, u64::MAX, 1).await?.is_empty() {
            return Ok(Report::broken(
                0,
                1,
                "events exist but the chain head is missing".into(),
            ));
        }
        return Ok(Report::intact(0));
    }

    let anchor = if first == 1 {
        GENESIS.to_owned()
    } else {
        match store.range(tenant, first - 1, first - 1, 1).await?.pop() {
            Some(before) => before.hash,
            None => {
                return Ok(Report::broken(
                    0,
                    first - 1,
                    format!("event {} is missing", first - 1),
                ));
            }
        }
    };
    let mut walker = Walker::new(first, anchor);
    while walker.next_sequence() <= to {
        let chunk = store
            .range(tenant, walker.next_sequence(), to, CHUNK)
            .await?;
        if chunk.is_empty() {
            let missing = walker.next_sequence();
            return Ok(Report::broken(
                walker.checked(),
                missing,
                format!("event {missing} is missing (the trail ends before {to})"),
            ));
        }
        for event in &chunk {
            if let Err(bad) = walker.check(event) {
                return Ok(Report::broken(walker.checked(), bad.sequence, bad.problem));
            }
        }
    }

    if to == last {
        let head = head.expect("checked above");
        if walker.last_hash() != head.last_hash {
            return Ok(Report::broken(
                walker.checked(),
                last,
                format!("event {last}'s hash differs from the chain head's"),
            ));
        }
        if !store.range(tenant, last + 1, u64::MAX, 1).await?.is_empty() {
            return Ok(Report::broken(
                walker.checked(),
                last + 1,
                "events exist past the chain head".into(),
            ));
        }
    }
    Ok(Report::intact(walker.checked()))
}
