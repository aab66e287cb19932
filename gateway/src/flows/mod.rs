//! The product's sensitive flows — playback, download, delete — and what they
//! share: loading the selected recordings (another tenant's ids are NOT_FOUND
//! at archive-svc), asking authz-svc about every one of them, asking for a
//! reason when the user must give one, and recording the action in the audit
//! trail before it happens (fail closed).

pub mod deletion;
pub mod export;
pub mod playback;

use archive_common::{FieldViolation, Principal, error::reason_required};
use archive_proto::v1 as pb;
use tonic::Request;

use crate::{Error, upstream::Upstreams};

/// Longest reason accepted (the audit trail stores it verbatim).
pub const MAX_REASON: usize = 1000;

/// Who acts, and from where (for the audit trail).
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
    pub client_address: String,
    pub user_agent: String,
}

impl Actor {
    pub fn of<T>(request: &Request<T>) -> Result<Self, tonic::Status> {
        Ok(Self {
            principal: Principal::of(request)?.clone(),
            client_address: request
                .remote_addr()
                .map(|a| a.ip().to_string())
                .unwrap_or_default(),
            user_agent: request
                .metadata()
                .get("user-agent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
        })
    }

    pub fn event(
        &self,
        kind: pb::AuditEventKind,
        recording: Option<&Selected>,
        reason: &str,
        detail: String,
    ) -> pb::AuditEvent {
        pb::AuditEvent {
            kind: kind as i32,
            call_id: recording
                .map(|s| s.call.call_id.clone())
                .unwrap_or_default(),
            recording_id: recording
                .map(|s| s.recording.recording_id.clone())
                .unwrap_or_default(),
            reason: reason.to_owned(),
            client_address: self.client_address.clone(),
            user_agent: self.user_agent.clone(),
            detail,
            ..Default::default()
        }
    }
}

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

/// A reason as given: bounded, kept verbatim; blank means none.
pub fn check_reason(reason: &str) -> Result<(), FieldViolation> {
    if reason.chars().count() > MAX_REASON {
        return Err(FieldViolation::new(
            "reason",
            format!("must be at most {MAX_REASON} characters"),
        ));
    }
    Ok(())
}

impl Upstreams {
    /// The selected recordings with their calls, in request order.
    pub async fn selected(&self, who: &Principal, ids: &[String]) -> Result<Vec<Selected>, Error> {
        let found = self
            .archive
            .clone()
            .batch_get_recordings(self.on_behalf(
                who,
                pb::BatchGetRecordingsRequest {
                    recording_ids: ids.to_vec(),
                },
            ))
            .await
            .map_err(Error::upstream("archive-svc"))?
            .into_inner()
            .recordings;
        Ok(found
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
    /// is recorded in the audit trail (best effort) and answered
    /// PERMISSION_DENIED naming the recording; a missing reason is answered
    /// FAILED_PRECONDITION with the REASON_REQUIRED detail.
    pub async fn authorize(
        &self,
        actor: &Actor,
        action: pb::Action,
        selected: &[Selected],
        reason: &str,
        audit: &audit_svc::client::AuditClient,
    ) -> Result<(), Error> {
        let requests = selected
            .iter()
            .map(|s| pb::DecideRequest {
                action: action as i32,
                resource: Some(pb::ResourceAttributes {
                    recording_id: s.recording.recording_id.clone(),
                    owner_agent: s.recording.owner_agent.clone(),
                }),
            })
            .collect();
        let decisions = self
            .authz
            .clone()
            .batch_decide(self.on_behalf(&actor.principal, pb::BatchDecideRequest { requests }))
            .await
            .map_err(Error::upstream("authz-svc"))?
            .into_inner()
            .decisions;
        let mut reason_needed = false;
        for (s, d) in selected.iter().zip(&decisions) {
            match pb::Verdict::try_from(d.verdict).unwrap_or(pb::Verdict::Deny) {
                pb::Verdict::Allow => {}
                pb::Verdict::ReasonRequired => reason_needed = true,
                _ => {
                    let event = actor.event(
                        pb::AuditEventKind::AccessDenied,
                        Some(s),
                        reason,
                        format!("{}: {}", action.as_str_name(), d.reason),
                    );
                    if let Err(e) = audit.append(&actor.principal, event).await {
                        tracing::warn!(status = %e, "could not record a refused action");
                    }
                    return Err(Error::PermissionDenied(format!(
                        "recording {}: {}",
                        s.recording.recording_id, d.reason
                    )));
                }
            }
        }
        if decisions.len() != selected.len() {
            return Err(Error::PermissionDenied(
                "authz-svc answered for fewer recordings".into(),
            ));
        }
        if reason_needed && reason.trim().is_empty() {
            return Err(Error::Status(reason_required(
                "a reason is required before this action starts",
            )));
        }
        Ok(())
    }
}
