//! The operator's edge: `archive.v1.OperatorService` (gRPC) and
//! `/api/v1/operator/…` (JSON) for an operator-level admin, who is no user
//! of any tenant and signs in with the operator credential configured on
//! the gateway ([`credential`]), not a user's JWT. The gateway verifies it
//! and calls authz-svc's OperatorService as `system:operator`, signed with
//! its own key ([`proxy`]); authz-svc admits no one else. The `gateway
//! tenant …` / `gateway user …` commands call a running suite's gateway
//! ([`cli`]).

pub mod api;
pub mod cli;
pub mod credential;
pub mod proxy;

pub use credential::OperatorCredential;
pub use proxy::OperatorProxy;
