//! The trail's export (ExportTrail): one tenant's events and the signed
//! checkpoints covering them as JSON lines, which `audit-verify --export`
//! checks offline, with no database. Lines, in this order:
//!
//! ```text
//! {"export":{"format":"archive.audit.export/1","tenant":"10009","from_sequence":1,"to_sequence":0,"last_sequence":N,"exported_at":"…"}}
//! {"event":{"sequence":1,"previous_hash":"…","hash":"…","tenant":"10009","kind":1,…,"kind_name":"…","time":"…"}}
//! …one line per event, ascending…
//! {"checkpoint":{…statement…},"signature":"…"}   (byte for byte as stored; see `checkpoint`)
//! ```
//!
//! `to_sequence` is the range asked for (0: to the end); `event_time` is
//! microseconds since the Unix epoch (what the hash covers), `kind_name` and
//! `time` are for people and are not read back.
//!
//! With `to_sequence` 0 the export carries every checkpoint listed before the
//! trail's end was read: each signs at most that end, so one signing beyond
//! the exported events means events were removed, and the verifier says so.

use archive_common::convert;
use archive_proto::v1::AuditEventKind;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::{
    Error,
    checkpoint::CheckpointStore,
    event::{Event, EventBody},
    store::Store,
};

pub const FORMAT: &str = "archive.audit.export/1";

/// Events read per query.
const CHUNK: u32 = 1000;
/// Bytes per piece handed to the stream.
const PIECE: usize = 64 * 1024;
/// Checkpoints read at once.
const READ_AHEAD: usize = 16;

/// The first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub tenant: String,
    pub from_sequence: u64,
    /// As asked: 0 means to the end of the trail.
    pub to_sequence: u64,
    /// The last event exported (0: none).
    pub last_sequence: u64,
    pub exported_at: String,
}

/// Declares [`EventLine`], one event's every stored field, and its
/// conversions from and to [`Event`]: a new field of `Event` or `EventBody`
/// is one line here (and a compile error until it is).
macro_rules! event_line {
    (event: { $($e:ident: $et:ty),* $(,)? }, body: { $($b:ident: $bt:ty),* $(,)? } $(,)?) => {
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        pub struct EventLine {
            $(pub $e: $et,)*
            $(pub $b: $bt,)*
        }

        impl From<Event> for EventLine {
            fn from(e: Event) -> Self {
                Self { $($e: e.$e,)* $($b: e.body.$b,)* }
            }
        }

        impl From<EventLine> for Event {
            fn from(l: EventLine) -> Self {
                Self { $($e: l.$e,)* body: EventBody { $($b: l.$b,)* } }
            }
        }
    };
}

event_line! {
    event: {
        sequence: u64,
        previous_hash: String,
        hash: String,
        hash_version: u16,
    },
    body: {
        tenant: String,
        kind: i32,
        actor_id: String,
        actor_display_name: String,
        call_id: String,
        recording_id: String,
        reason: String,
        client_address: String,
        user_agent: String,
        event_time: i64,
        detail: String,
        event_id: String,
        request_id: String,
        reason_code: String,
        case_id: String,
    },
}

/// An event line as written: the fields, then two for people.
#[derive(Serialize)]
struct EventOut {
    #[serde(flatten)]
    event: EventLine,
    kind_name: &'static str,
    time: String,
}

#[derive(Serialize)]
struct EventOutLine {
    event: EventOut,
}

/// A line as read back; unknown keys (`kind_name`, `time`) are ignored.
#[derive(Deserialize)]
pub(crate) struct EventIn {
    pub(crate) event: EventLine,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct HeaderLine {
    pub(crate) export: Header,
}

/// One export, its range fixed against the trail before the first byte is sent.
#[derive(Debug)]
pub struct Export {
    header: Header,
    first: u64,
    /// Sequences of the checkpoints to append, listed before the trail's end was read.
    checkpoints: Option<(CheckpointStore, Vec<u64>)>,
}

impl Export {
    /// Fixes `tenant`'s range `from..=to` (0: first / last); INVALID_ARGUMENT
    /// naming the field when it lies beyond the trail.
    pub async fn plan(
        store: &dyn Store,
        checkpoints: Option<&CheckpointStore>,
        tenant: &str,
        from: u64,
        to: u64,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let first = from.max(1);
        // Listed first: each then signs at most the end read below.
        let listed = match checkpoints {
            Some(c) => Some((c.clone(), c.list(tenant, None).await?)),
            None => None,
        };
        let last_in_trail = store.head(tenant).await?.map_or(0, |h| h.last_sequence);
        if to > last_in_trail {
            return Err(archive_common::FieldViolation::new(
                "to_sequence",
                format!("is beyond the last event ({last_in_trail})"),
            )
            .into());
        }
        let last = if to == 0 { last_in_trail } else { to };
        if from > last && from > 1 {
            return Err(archive_common::FieldViolation::new(
                "from_sequence",
                format!("is after the end of the range ({last})"),
            )
            .into());
        }
        let checkpoints = listed.map(|(c, sequences)| {
            // To the end: all from `first` on. A range: those inside it and
            // the first after it (which covers its last events).
            let mut keep: Vec<u64> = sequences.into_iter().filter(|s| *s >= first).collect();
            if to != 0
                && let Some(cut) = keep.iter().position(|s| *s > last)
            {
                keep.truncate(cut + 1);
            }
            (c, keep)
        });
        Ok(Self {
            header: Header {
                format: FORMAT.to_owned(),
                tenant: tenant.to_owned(),
                from_sequence: first,
                to_sequence: to,
                last_sequence: last,
                exported_at: now.to_rfc3339_opts(SecondsFormat::Micros, true),
            },
            first,
            checkpoints,
        })
    }

    /// Sends the lines in pieces of about 64 KiB; stops early (Ok) when the
    /// receiver is gone.
    pub async fn run(
        self,
        store: &dyn Store,
        out: &mpsc::Sender<Result<Vec<u8>, Error>>,
    ) -> Result<(), Error> {
        let mut w = Pieces {
            buf: Vec::with_capacity(PIECE + 4096),
            out,
        };
        let tenant = self.header.tenant.clone();
        let last = self.header.last_sequence;
        w.line(&HeaderLine {
            export: self.header,
        })?;
        if !w.flush_if_full().await {
            return Ok(());
        }
        let mut next = self.first;
        while next <= last && last > 0 {
            let events = store.range(&tenant, next, last, CHUNK).await?;
            let Some(end) = events.last().map(|e| e.sequence) else {
                // The events are gone between the plan and now: the export
                // ends here, and the verifier finds the gap.
                break;
            };
            for event in events {
                w.line(&EventOutLine {
                    event: event_out(event),
                })?;
                if !w.flush_if_full().await {
                    return Ok(());
                }
            }
            next = end + 1;
        }
        if let Some((checkpoints, sequences)) = self.checkpoints {
            // Read ahead: on S3 each checkpoint is a request of its own.
            let mut reads = futures::stream::iter(sequences.into_iter().map(|sequence| {
                let (checkpoints, tenant) = (checkpoints.clone(), tenant.clone());
                async move { checkpoints.get(&tenant, sequence).await }
            }))
            .buffered(READ_AHEAD);
            while let Some(read) = reads.next().await {
                let Some(bytes) = read? else {
                    continue;
                };
                // Verbatim; a stored object that is not one line (tampered
                // with) is made one, which its signature will not survive.
                let mut line: Vec<u8> = bytes.trim_ascii().to_vec();
                for b in &mut line {
                    if *b == b'\n' || *b == b'\r' {
                        *b = b' ';
                    }
                }
                w.buf.extend_from_slice(&line);
                w.buf.push(b'\n');
                if !w.flush_if_full().await {
                    return Ok(());
                }
            }
        }
        w.flush().await;
        Ok(())
    }
}

fn event_out(event: Event) -> EventOut {
    let kind_name = AuditEventKind::try_from(event.body.kind)
        .map(|k| k.as_str_name())
        .unwrap_or("");
    let time =
        convert::from_micros(event.body.event_time).to_rfc3339_opts(SecondsFormat::Micros, true);
    EventOut {
        event: EventLine::from(event),
        kind_name,
        time,
    }
}

/// The output buffer, handed on in pieces.
struct Pieces<'a> {
    buf: Vec<u8>,
    out: &'a mpsc::Sender<Result<Vec<u8>, Error>>,
}

impl Pieces<'_> {
    fn line(&mut self, value: &impl Serialize) -> Result<(), Error> {
        serde_json::to_writer(&mut self.buf, value)
            .map_err(|e| Error::Unavailable(format!("export: {e}")))?;
        self.buf.push(b'\n');
        Ok(())
    }

    /// False when the receiver is gone.
    async fn flush_if_full(&mut self) -> bool {
        self.buf.len() < PIECE || self.flush().await
    }

    async fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE + 4096));
        self.out.send(Ok(piece)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_line_carries_every_field_and_reads_back() {
        let event = Event {
            sequence: 7,
            body: EventBody {
                tenant: "10009".into(),
                kind: AuditEventKind::RecordingDeleted as i32,
                actor_id: "paal".into(),
                actor_display_name: "Paal Admin".into(),
                call_id: "c".into(),
                recording_id: "r".into(),
                reason: "Kunde ba om sletting\n«sak 4711»".into(),
                client_address: "192.0.2.1".into(),
                user_agent: "ua".into(),
                event_time: 1_700_000_000_123_456,
                detail: "d".into(),
                event_id: "recording-deleted:r".into(),
                request_id: "req-1".into(),
                reason_code: "LEGAL".into(),
                case_id: "GDPR-12".into(),
            },
            previous_hash: "a".repeat(64),
            hash: "b".repeat(64),
            hash_version: 2,
        };
        let text = serde_json::to_string(&EventOutLine {
            event: event_out(event.clone()),
        })
        .unwrap();
        assert!(!text.contains('\n'));
        assert!(
            text.contains("\"kind_name\":\"AUDIT_EVENT_KIND_RECORDING_DELETED\""),
            "{text}"
        );
        assert!(
            text.contains("\"time\":\"2023-11-14T22:13:20.123456Z\""),
            "{text}"
        );
        let back: EventIn = serde_json::from_str(&text).unwrap();
        assert_eq!(Event::from(back.event), event);
    }
}
