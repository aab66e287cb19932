//! Scoped access as the gateway applies it: authz-svc's verdicts on the
//! user's rights as such (with where each reaches) once per request, the
//! search scope handed to archive-svc, and per-recording verdicts for a
//! page's rows when a right reaches only some calls. A user whose rights all
//! reach every call costs one BatchDecide per page, as before scopes.

use std::{collections::HashMap, sync::Mutex};

use archive_common::Principal;
use archive_proto::v1 as pb;

use crate::{
    Error,
    rows::{RowVerdicts, Verdicts},
    upstream::{AUTHZ, Upstreams},
};

/// One right's verdict on no resource in particular, and its reach.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    pub verdict: pb::Verdict,
    pub reason: String,
    /// `None` when the verdict is DENY.
    pub scope: Option<pb::Scope>,
    pub own_agent: String,
}

impl Reach {
    fn of(d: pb::Decision) -> Self {
        Self {
            verdict: verdict(d.verdict),
            reason: d.reason,
            scope: d.scope,
            own_agent: d.own_agent,
        }
    }

    /// Granted, over every call of the tenant.
    pub fn everywhere(&self) -> bool {
        self.verdict != pb::Verdict::Deny && self.scope.as_ref().is_some_and(|s| s.all_calls)
    }

    /// Granted somewhere, but not over every call: decided per resource.
    fn partial(&self) -> bool {
        self.verdict != pb::Verdict::Deny && !self.everywhere()
    }
}

/// The search scope each user had last time, to search with while
/// authz-svc answers: a hint only — a page is answered from that search
/// only when authz-svc's answer of this request names the same scope, so a
/// stale hint costs a second search, never a wrong page.
#[derive(Debug, Default)]
pub struct ScopeHints(Mutex<Hints>);

/// tenant → user id → the search scope (none kept for a user who searches
/// every call); nested so a lookup allocates nothing.
#[derive(Debug, Default)]
struct Hints {
    tenants: HashMap<String, HashMap<String, pb::CallScope>>,
    len: usize,
}

/// Users remembered at most before the hints start over.
const HINTS: usize = 10_000;

impl ScopeHints {
    pub fn get(&self, who: &Principal) -> Option<pb::CallScope> {
        let hints = self.0.lock().expect("hints lock");
        hints.tenants.get(&who.tenant)?.get(&who.user_id).cloned()
    }

    pub fn put(&self, who: &Principal, scope: Option<&pb::CallScope>) {
        let mut hints = self.0.lock().expect("hints lock");
        match scope {
            // The usual case: a user who searches every call leaves nothing.
            None => {
                let removed = (hints.tenants.get_mut(&who.tenant))
                    .and_then(|users| users.remove(&who.user_id))
                    .is_some();
                if removed {
                    hints.len -= 1;
                }
            }
            Some(scope) => {
                if hints.len >= HINTS {
                    *hints = Hints::default();
                }
                let users = hints.tenants.entry(who.tenant.clone()).or_default();
                if users.insert(who.user_id.clone(), scope.clone()).is_none() {
                    hints.len += 1;
                }
            }
        }
    }
}

/// Where a page's calls come from: the user's search (so every one is
/// within their search scope), or elsewhere ("My call recordings").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    InSearchScope,
    Elsewhere,
}

/// Whether every call `inner` reaches, `outer` reaches too (part by part:
/// a scope is a union, and the same user's "own calls" are the same calls).
fn reaches_all_of(outer: &pb::Scope, inner: &pb::Scope) -> bool {
    let subset = |small: &[String], big: &[String]| small.iter().all(|x| big.contains(x));
    outer.all_calls
        || (!inner.all_calls
            && (!inner.own_calls || outer.own_calls)
            && subset(&inner.queues, &outer.queues)
            && subset(&inner.access_points, &outer.access_points))
}

/// The user's verdicts on the row actions and searching, for one request.
#[derive(Debug, Clone)]
pub struct PageVerdicts {
    pub search: Reach,
    pub play: Reach,
    pub download: Reach,
    pub delete: Reach,
}

impl PageVerdicts {
    /// The verdicts as they apply to a recording every right reaches.
    fn everywhere(&self) -> Verdicts {
        Verdicts {
            play: self.play.verdict,
            download: self.download.verdict,
            delete: self.delete.verdict,
        }
    }

    /// archive-svc's search scope; `None`: every call.
    pub fn call_scope(&self) -> Option<pb::CallScope> {
        if self.search.everywhere() {
            return None;
        }
        let scope = self.search.scope.clone().unwrap_or_default();
        Some(pb::CallScope {
            all_calls: false,
            own_agent: if scope.own_calls {
                self.search.own_agent.clone()
            } else {
                String::new()
            },
            queues: scope.queues,
            access_points: scope.access_points,
        })
    }
}

/// A decision's verdict; anything but a grant (an unknown or unset one
/// too) denies.
fn verdict(value: i32) -> pb::Verdict {
    match pb::Verdict::try_from(value) {
        Ok(v @ (pb::Verdict::Allow | pb::Verdict::ReasonRequired)) => v,
        _ => pb::Verdict::Deny,
    }
}

/// What scopes are judged by: the call's queues, agents and access point,
/// and the recording's initiating agent (for a call: any recording's).
pub fn attributes(call: &pb::Call, recording: Option<&pb::Recording>) -> pb::ResourceAttributes {
    let owner = match recording {
        Some(r) => r.owner_agent.clone(),
        None => call
            .recordings
            .iter()
            .find(|r| !r.owner_agent.is_empty())
            .map(|r| r.owner_agent.clone())
            .unwrap_or_default(),
    };
    pb::ResourceAttributes {
        recording_id: recording
            .map(|r| r.recording_id.clone())
            .unwrap_or_default(),
        owner_agent: owner,
        call_id: call.call_id.clone(),
        queues: call.queues.clone(),
        agents: call.agents.clone(),
        access_point_number: call
            .access_point
            .as_ref()
            .map(|ap| ap.number.clone())
            .unwrap_or_default(),
    }
}

impl Upstreams {
    /// authz-svc's decision on `action` as such (no resource: it says where
    /// the right reaches), if it allows it; PERMISSION_DENIED saying
    /// `refusal` and authz-svc's reason otherwise.
    pub async fn require(
        &self,
        who: &Principal,
        action: pb::Action,
        refusal: &str,
    ) -> Result<pb::Decision, Error> {
        let request = pb::DecideRequest {
            action: action as i32,
            resource: None,
        };
        let caller = Self::caller(who);
        let answer = (self.authz).decide(&caller, request);
        let decision = self.call(&AUTHZ, "Decide", answer).await?;
        let decision = decision.decision.unwrap_or_default();
        if decision.verdict != pb::Verdict::Allow as i32 {
            return Err(Error::PermissionDenied(format!(
                "{refusal}: {}",
                decision.reason
            )));
        }
        Ok(decision)
    }

    /// The user's verdicts on searching and the row actions, with their
    /// reach; PERMISSION_DENIED when they may not search at all.
    pub async fn page_verdicts(&self, who: &Principal) -> Result<PageVerdicts, Error> {
        use pb::Action::{Delete, Download, Play, Search};
        let requests = [Search, Play, Download, Delete]
            .iter()
            .map(|a| pb::DecideRequest {
                action: *a as i32,
                resource: None,
            })
            .collect();
        let caller = Self::caller(who);
        let answer = (self.authz).batch_decide(&caller, pb::BatchDecideRequest { requests });
        let mut decisions = self
            .call(&AUTHZ, "BatchDecide", answer)
            .await?
            .decisions
            .into_iter();
        // BatchDecide answers in the order asked; one it did not answer is denied.
        let mut next = || {
            decisions.next().map(Reach::of).unwrap_or_else(|| Reach {
                verdict: pb::Verdict::Deny,
                ..Reach::default()
            })
        };
        let page = PageVerdicts {
            search: next(),
            play: next(),
            download: next(),
            delete: next(),
        };
        if page.search.verdict != pb::Verdict::Allow {
            return Err(Error::PermissionDenied(format!(
                "may not search the archive: {}",
                page.search.reason
            )));
        }
        Ok(page)
    }

    /// The verdicts for every recording of `calls`: the page's where a right
    /// reaches every call (or none) — or, for calls `found` by the user's
    /// search, every call of their search scope —, authz-svc's on each
    /// recording where it reaches only some.
    pub async fn row_verdicts(
        &self,
        who: &Principal,
        page: &PageVerdicts,
        calls: &[pb::Call],
        found: Found,
    ) -> Result<RowVerdicts, Error> {
        let search = page.search.scope.clone().unwrap_or_default();
        let reaches_found = |reach: &Reach| {
            found == Found::InSearchScope
                && reach
                    .scope
                    .as_ref()
                    .is_some_and(|s| reaches_all_of(s, &search))
        };
        let partial: Vec<pb::Action> = [
            (pb::Action::Play, &page.play),
            (pb::Action::Download, &page.download),
            (pb::Action::Delete, &page.delete),
        ]
        .into_iter()
        .filter(|(_, reach)| reach.partial() && !reaches_found(reach))
        .map(|(action, _)| action)
        .collect();
        let everywhere = page.everywhere();
        if partial.is_empty() {
            return Ok(RowVerdicts::same(everywhere));
        }
        let recordings: Vec<(&pb::Call, &pb::Recording)> = calls
            .iter()
            .flat_map(|c| c.recordings.iter().map(move |r| (c, r)))
            .collect();
        let mut requests = Vec::with_capacity(recordings.len() * partial.len());
        for (call, recording) in &recordings {
            for action in &partial {
                requests.push(pb::DecideRequest {
                    action: *action as i32,
                    resource: Some(attributes(call, Some(recording))),
                });
            }
        }
        let caller = Self::caller(who);
        let mut by_recording = HashMap::with_capacity(recordings.len());
        for chunk in requests.chunks(authz_svc::MAX_BATCH) {
            let answer = (self.authz).batch_decide(
                &caller,
                pb::BatchDecideRequest {
                    requests: chunk.to_vec(),
                },
            );
            let decisions = self.call(&AUTHZ, "BatchDecide", answer).await?.decisions;
            for (asked, d) in chunk.iter().zip(decisions) {
                let id = asked
                    .resource
                    .as_ref()
                    .map(|r| r.recording_id.clone())
                    .unwrap_or_default();
                let verdict = verdict(d.verdict);
                let action = pb::Action::try_from(asked.action).unwrap_or_default();
                by_recording
                    .entry(id)
                    .or_insert(everywhere)
                    .set(action, verdict);
            }
        }
        // A recording authz-svc did not answer for is denied what it asked.
        let mut denied = everywhere;
        for action in &partial {
            denied.set(*action, pb::Verdict::Deny);
        }
        Ok(RowVerdicts::per_recording(by_recording, denied))
    }

    /// Whether the user's search scope reaches `call` (PERMISSION_DENIED
    /// when they may not search at all).
    pub async fn may_see(
        &self,
        who: &Principal,
        page: &PageVerdicts,
        call: &pb::Call,
    ) -> Result<bool, Error> {
        if page.search.everywhere() {
            return Ok(true);
        }
        let request = pb::DecideRequest {
            action: pb::Action::Search as i32,
            resource: Some(attributes(call, None)),
        };
        let caller = Self::caller(who);
        let answer = (self.authz).decide(&caller, request);
        let decision = self
            .call(&AUTHZ, "Decide", answer)
            .await?
            .decision
            .unwrap_or_default();
        Ok(decision.verdict == pb::Verdict::Allow as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(all: bool, own: bool, queues: &[&str], aps: &[&str]) -> pb::Scope {
        pb::Scope {
            all_calls: all,
            own_calls: own,
            queues: queues.iter().map(|q| q.to_string()).collect(),
            access_points: aps.iter().map(|a| a.to_string()).collect(),
        }
    }

    #[test]
    fn hints_remember_only_scoped_users() {
        let hints = ScopeHints::default();
        let siri = Principal::new("10009", "siri", "Siri");
        let other = Principal::new("10010", "siri", "Siri");
        let sales = pb::CallScope {
            queues: vec!["Sales".into()],
            ..Default::default()
        };
        assert_eq!(hints.get(&siri), None);
        hints.put(&siri, Some(&sales));
        assert_eq!(hints.get(&siri), Some(sales.clone()));
        assert_eq!(hints.get(&other), None, "tenants are separate");
        hints.put(&siri, None);
        assert_eq!(hints.get(&siri), None, "now she searches every call");
        assert_eq!(hints.0.lock().unwrap().len, 0);
    }

    #[test]
    fn a_scope_reaches_another_part_by_part() {
        let sales = scope(false, false, &["Sales"], &[]);
        let sales_and_own = scope(false, true, &["Sales", "Billing"], &[]);
        assert!(reaches_all_of(&scope(true, false, &[], &[]), &sales));
        assert!(reaches_all_of(&sales, &sales));
        assert!(reaches_all_of(&sales_and_own, &sales));
        assert!(!reaches_all_of(&sales, &sales_and_own), "not own calls");
        assert!(!reaches_all_of(&sales, &scope(true, false, &[], &[])));
        assert!(!reaches_all_of(
            &sales,
            &scope(false, false, &[], &["81511569"])
        ));
        assert!(
            reaches_all_of(&sales, &scope(false, false, &[], &[])),
            "nothing is reached"
        );
    }
}
