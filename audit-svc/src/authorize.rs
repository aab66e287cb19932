//! Who may read the trail: with an authz-svc configured, ListEvents and
//! VerifyChain ask it whether the caller may view the audit log (fail closed:
//! no answer, no read), passing on the user's own token unchanged (audit-svc
//! cannot sign a user's identity). Without one, every admitted caller of the
//! tenant may read, and the gateway is expected to have asked.

use std::time::Duration;

use archive_common::identity::Caller;
use archive_common::log_limit::{EVERY, LogLimit};
use archive_common::telemetry::client::{self, TracedChannel};
use archive_proto::v1::{Action, DecideRequest, Verdict, authz_service_client::AuthzServiceClient};

use crate::Error;

const TIMEOUT: Duration = Duration::from_secs(5);

/// While authz-svc is down every read fails alike: one line per interval.
static AUTHZ_FAILED: LogLimit = LogLimit::new(EVERY);

/// How much of the trail a reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Every event of the tenant.
    Whole,
    /// Only the events of the reader's own actions (an audit scope of
    /// "own calls").
    OwnActions,
}

pub(crate) struct Viewers {
    authz: Option<AuthzServiceClient<TracedChannel>>,
}

impl Viewers {
    /// Connects lazily, so the two services may start in any order.
    pub(crate) fn new(authz_url: Option<&str>) -> Result<Self, Error> {
        let authz = match authz_url {
            None => None,
            Some(url) => {
                let channel = client::channel(url, TIMEOUT, TIMEOUT).map_err(|e| Error::Url {
                    url: url.to_owned(),
                    why: e.to_string(),
                })?;
                Some(AuthzServiceClient::new(channel))
            }
        };
        Ok(Self { authz })
    }

    pub(crate) async fn require(&self, caller: &Caller) -> Result<Reach, Error> {
        let Some(client) = &self.authz else {
            return Ok(Reach::Whole);
        };
        let request = caller
            .forward(DecideRequest {
                action: Action::ViewAudit as i32,
                resource: None,
            })
            .map_err(|s| Error::PermissionDenied(s.message().to_owned()))?;
        let decision = client
            .clone()
            .decide(request)
            .await
            .map_err(|s| {
                if let Some(repeated) = AUTHZ_FAILED.admit("authz") {
                    tracing::warn!(status = %s, repeated, "authz-svc did not answer: audit read refused");
                }
                Error::Unavailable("cannot check the permission to view the audit log".into())
            })?
            .into_inner()
            .decision
            .unwrap_or_default();
        if decision.verdict == Verdict::Allow as i32 {
            // Without a scope (an authz-svc from before scopes): the whole trail.
            Ok(match decision.scope {
                Some(scope) if !scope.all_calls => Reach::OwnActions,
                _ => Reach::Whole,
            })
        } else {
            Err(Error::PermissionDenied(format!(
                "viewing the audit log: {}",
                decision.reason
            )))
        }
    }
}
