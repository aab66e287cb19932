//! Which recordings a flow acts on, and whether the user may: the selected
//! recordings loaded with their calls (another tenant's ids are NOT_FOUND at
//! archive-svc), then authz-svc asked about every one of them, a refusal
//! recorded in the audit trail, and a reason asked for where one is needed.

use archive_common::{Principal, error::reason_required};
use archive_proto::v1 as pb;

use super::{Actor, Reason, scopes::attributes};
use crate::{
    Error,
    upstream::{ARCHIVE, AUTHZ, Tenant, Upstreams},
};

/// A selected recording with its call.
#[derive(Debug, Clone)]
pub struct Selected {
    pub recording: pb::Recording,
    pub call: pb::Call,
}

impl Selected {
    pub fn state(&self) -> pb::RecordingState {
        pb::RecordingState::try_from(self.recording.state).unwrap_or_default()
    }
}

impl Upstreams {
    /// The selected recordings with their calls, in request order.
    pub async fn selected(&self, who: &Principal, ids: &[String]) -> Result<Vec<Selected>, Error> {
        let request = pb::BatchGetRecordingsRequest {
            recording_ids: ids.to_vec(),
        };
        let caller = Self::caller(who);
        let answer = self.archive.batch_get_recordings(&caller, request);
        let found = self.call(&ARCHIVE, "BatchGetRecordings", answer).await?;
        Ok(found
            .recordings
            .into_iter()
            .filter_map(|r| {
                Some(Selected {
                    recording: r.recording?,
                    call: r.call?,
                })
            })
            .collect())
    }

    /// Asks authz-svc about `action` on every selected recording. A refusal
    /// is recorded in the audit trail (once per user action: a retry with the
    /// same request id names the same event) and answered PERMISSION_DENIED
    /// naming the recording; a missing reason is answered FAILED_PRECONDITION
    /// with the REASON_REQUIRED detail (naming `reason_code` when the tenant
    /// has codes).
    pub async fn authorize(
        &self,
        actor: &Actor,
        action: pb::Action,
        selected: &[Selected],
        reason: &Reason,
        tenant: &Tenant,
    ) -> Result<(), Error> {
        let reason_needed = self.decide_all(actor, action, selected, reason).await?;
        if reason_needed && !reason.satisfies(tenant) {
            return Err(Error::Status(reason_required(
                if tenant.reason_codes.is_empty() {
                    "a reason is required before this action starts"
                } else {
                    "a reason code (and optionally a text and a case id) is required before this action starts"
                },
            )));
        }
        Ok(())
    }

    /// [`Upstreams::authorize`] for an action that goes on under an earlier
    /// grant (a playback link renewed, a download resumed): the reason was
    /// given, and recorded, when it started, so a verdict that asks for one
    /// allows it; a refusal is recorded and answered as there.
    pub async fn authorize_again(
        &self,
        actor: &Actor,
        action: pb::Action,
        selected: &[Selected],
    ) -> Result<(), Error> {
        self.decide_all(actor, action, selected, &Reason::default())
            .await
            .map(|_| ())
    }

    /// authz-svc's verdicts on `action` for every selected recording: one
    /// outside the user's search scope answered NOT_FOUND (it is not theirs
    /// to find) and one they may not act on PERMISSION_DENIED, each refusal
    /// recorded; else whether any asks for a reason.
    async fn decide_all(
        &self,
        actor: &Actor,
        action: pb::Action,
        selected: &[Selected],
        reason: &Reason,
    ) -> Result<bool, Error> {
        // Per recording: may the user find it (search), and do `action`.
        let requests = selected
            .iter()
            .flat_map(|s| {
                let resource = attributes(&s.call, Some(&s.recording));
                [pb::Action::Search, action].map(|a| pb::DecideRequest {
                    action: a as i32,
                    resource: Some(resource.clone()),
                })
            })
            .collect();
        let caller = Self::caller(&actor.principal);
        let answer = self
            .authz
            .batch_decide(&caller, pb::BatchDecideRequest { requests });
        let answered = self.call(&AUTHZ, "BatchDecide", answer).await?.decisions;
        if answered.len() != 2 * selected.len() {
            return Err(Error::PermissionDenied(
                "authz-svc answered for fewer recordings".into(),
            ));
        }
        let mut hidden = Vec::new();
        let mut decisions = Vec::with_capacity(selected.len());
        for (s, pair) in selected.iter().zip(answered.chunks(2)) {
            if pair[0].verdict != pb::Verdict::Allow as i32 {
                hidden.push(s);
            }
            decisions.push(pair[1].clone());
        }
        if let Some(s) = hidden.first() {
            self.refused(actor, action, s, reason, "outside the user's search scope")
                .await;
            return Err(Error::NotFound(format!(
                "recording {}",
                s.recording.recording_id
            )));
        }
        let mut reason_needed = false;
        for (s, d) in selected.iter().zip(&decisions) {
            match pb::Verdict::try_from(d.verdict).unwrap_or(pb::Verdict::Deny) {
                pb::Verdict::Allow => {}
                pb::Verdict::ReasonRequired => reason_needed = true,
                _ => {
                    self.refused(actor, action, s, reason, &d.reason).await;
                    return Err(Error::PermissionDenied(format!(
                        "recording {}: {}",
                        s.recording.recording_id, d.reason
                    )));
                }
            }
        }
        Ok(reason_needed)
    }

    /// Records a refused action in the audit trail (once per user action: a
    /// retry with the same request id names the same event).
    async fn refused(
        &self,
        actor: &Actor,
        action: pb::Action,
        s: &Selected,
        reason: &Reason,
        why: &str,
    ) {
        let event = actor.event(
            pb::AuditEventKind::AccessDenied,
            actor.event_id(
                "access-denied",
                &[action.as_str_name(), &s.recording.recording_id],
            ),
            Some(s),
            reason,
            format!("{}: {why}", action.as_str_name()),
        );
        if let Err(e) = self.append(&actor.principal, event).await {
            tracing::warn!(status = %e, "could not record a refused action");
        }
    }
}
