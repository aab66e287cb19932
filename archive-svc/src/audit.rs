//! The audit events archive-svc's changes record: what each says and its
//! event id. The store writes them to its outbox in the change's own
//! transaction (`audit_svc::outbox`); the relay delivers them.
//!
//! Event ids are deterministic where the same fact could be written twice: a
//! recording is deleted, expired or purged once, and a batch's first created
//! call exists once. A legal hold or a settings change has no such identity
//! (the same flag can be set again next week), so it gets a fresh id: its
//! row is written once, and a retry of the request changes nothing and
//! writes no event.

use archive_proto::v1::{AuditEvent, AuditEventKind};
use audit_svc::outbox::{Change, bounded_detail};
use uuid::Uuid;

use crate::model::TenantSettings;

/// The retention sweeper, as the trail names it (`system:retention`).
pub const RETENTION: &str = "retention";
/// Session ids a CALLS_INGESTED detail names.
const SESSIONS_NAMED: usize = 5;

pub fn recording_deleted(change: &Change, recording_id: Uuid, call_id: Uuid) -> AuditEvent {
    let mut e = change.event(
        AuditEventKind::RecordingDeleted,
        format!("recording-deleted:{recording_id}"),
    );
    e.call_id = call_id.to_string();
    e.recording_id = recording_id.to_string();
    e
}

/// `expired` recordings went in this sweep, this one among them.
pub fn retention_expired(
    change: &Change,
    recording_id: Uuid,
    call_id: Uuid,
    retention_days: u32,
    expired: usize,
) -> AuditEvent {
    let mut e = change.event(
        AuditEventKind::RetentionExpired,
        format!("retention-expired:{recording_id}"),
    );
    e.call_id = call_id.to_string();
    e.recording_id = recording_id.to_string();
    e.detail = format!(
        "recording retention {retention_days} days; this sweep expired {expired} recording(s)"
    );
    e
}

pub fn call_purged(
    change: &Change,
    call_id: Uuid,
    recordings: i64,
    metadata_retention_days: u32,
) -> AuditEvent {
    let mut e = change.event(AuditEventKind::CallPurged, format!("call-purged:{call_id}"));
    e.call_id = call_id.to_string();
    e.detail = format!(
        "metadata retention {metadata_retention_days} days; {recordings} recording(s) went with the call"
    );
    e
}

pub fn legal_hold_changed(change: &Change, call_id: Uuid, hold: bool) -> AuditEvent {
    let mut e = change.event(
        AuditEventKind::LegalHoldChanged,
        format!("legal-hold-changed:{call_id}:{}", Uuid::new_v4()),
    );
    e.call_id = call_id.to_string();
    // The flag only changes (an unchanged one writes no event), so the
    // before is the after's opposite.
    e.detail = format!("legal_hold: {} -> {hold}", !hold);
    e
}

/// The change from `before` to `after`, field by field; `None` when nothing changed.
pub fn settings_changed(
    change: &Change,
    before: &TenantSettings,
    after: &TenantSettings,
) -> Option<AuditEvent> {
    let codes = |s: &TenantSettings| {
        let listed: Vec<String> = s
            .reason_codes
            .iter()
            .map(|c| format!("{}={:?}", c.code, c.label))
            .collect();
        format!("[{}]", listed.join(", "))
    };
    // Each field's name and how it is written.
    type Written = fn(&TenantSettings) -> String;
    let fields: [(&str, Written); 7] = [
        ("time_zone", |s| format!("{:?}", s.time_zone)),
        ("consult_recording", |s| s.consult_recording.to_string()),
        ("recording_retention_days", |s| {
            s.recording_retention_days.to_string()
        }),
        ("metadata_retention_days", |s| {
            s.metadata_retention_days.to_string()
        }),
        ("search_audit_disabled", |s| {
            s.search_audit_disabled.to_string()
        }),
        ("reason_codes", codes),
        ("reason_actions", |s| {
            let a = s.reason_actions;
            let named = [
                ("play", a.play),
                ("download", a.download),
                ("delete", a.delete),
            ];
            let on: Vec<&str> = named
                .iter()
                .filter(|(_, on)| *on)
                .map(|(n, _)| *n)
                .collect();
            format!("[{}]", on.join(", "))
        }),
    ];
    let changes: Vec<String> = fields
        .iter()
        .filter_map(|(name, written)| {
            let (b, a) = (written(before), written(after));
            (b != a).then(|| format!("{name}: {b} -> {a}"))
        })
        .collect();
    if changes.is_empty() {
        return None;
    }
    let mut e = change.event(
        AuditEventKind::TenantSettingsChanged,
        format!("tenant-settings-changed:{}", Uuid::new_v4()),
    );
    e.detail = bounded_detail(changes.join("; "));
    Some(e)
}

/// One event for the calls one request created (`(call id, session id)` in
/// request order); `None` when it created none.
pub fn calls_ingested(change: &Change, created: &[(Uuid, &str)]) -> Option<AuditEvent> {
    let (first, _) = created.first()?;
    let mut e = change.event(
        AuditEventKind::CallsIngested,
        format!("calls-ingested:{first}"),
    );
    let named: Vec<&str> = created
        .iter()
        .take(SESSIONS_NAMED)
        .map(|(_, s)| *s)
        .collect();
    let more = created.len().saturating_sub(SESSIONS_NAMED);
    e.detail = bounded_detail(format!(
        "{} call(s) created; sessions {}{}",
        created.len(),
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ));
    if created.len() == 1 {
        e.call_id = first.to_string();
    }
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ReasonCode;
    use chrono::{TimeZone, Utc};

    fn change() -> Change {
        Change::system("ops", Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap())
    }

    #[test]
    fn settings_detail_names_each_changed_field_before_and_after() {
        let before = TenantSettings::default();
        assert!(settings_changed(&change(), &before, &before).is_none());
        let after = TenantSettings {
            recording_retention_days: 30,
            reason_codes: vec![ReasonCode {
                code: "QA".into(),
                label: "Quality review".into(),
            }],
            ..before.clone()
        };
        let e = settings_changed(&change(), &before, &after).unwrap();
        assert_eq!(
            e.detail,
            "recording_retention_days: 365 -> 30; reason_codes: [] -> [QA=\"Quality review\"]"
        );
        assert_eq!(e.kind, AuditEventKind::TenantSettingsChanged as i32);
        assert!(e.event_id.starts_with("tenant-settings-changed:"));
    }

    #[test]
    fn ingest_detail_counts_and_names_the_first_sessions() {
        assert!(calls_ingested(&change(), &[]).is_none());
        let ids: Vec<(Uuid, String)> = (0..7).map(|i| (Uuid::new_v4(), format!("s-{i}"))).collect();
        let created: Vec<(Uuid, &str)> = ids.iter().map(|(u, s)| (*u, s.as_str())).collect();
        let e = calls_ingested(&change(), &created).unwrap();
        assert_eq!(
            e.detail,
            "7 call(s) created; sessions s-0, s-1, s-2, s-3, s-4 and 2 more"
        );
        assert_eq!(e.event_id, format!("calls-ingested:{}", ids[0].0));
        assert_eq!(e.call_id, "");
    }
}
