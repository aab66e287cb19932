//! What every test binary of authz-svc shares beyond `test-support`: each
//! service's identity and the gateway's key (what signs a user's
//! principal), authz-svc started until SERVING, and the store suite's
//! backends.

// Each test file uses a different part of this.
#![allow(dead_code)]

use std::sync::LazyLock;

use archive_common::{
    Principal,
    identity::{IdentityConfig, IdentityKey},
};
use archive_proto::v1::{self as pb, authz_service_client::AuthzServiceClient};
use authz_svc::Config;
use test_support::server::Running;
use tonic::{Status, transport::Channel};

#[allow(unused_imports)]
pub(crate) use test_support::{keys, principals::paal};

/// Loaded once, so it reuses its tokens as the gateway does.
static GATEWAY: LazyLock<IdentityKey> = LazyLock::new(|| keys().gateway());

/// `holder`'s key file and the trust file (a service's `Config`).
pub(crate) fn identity(holder: &str) -> IdentityConfig {
    keys().config(holder)
}

/// What signs users: the gateway's key (a user through the gateway).
pub(crate) fn key() -> IdentityKey {
    GATEWAY.clone()
}

/// authz-svc under test.
pub(crate) type Server = Running<authz_svc::Error>;

/// Starts `run` and waits until health says SERVING (the store is open,
/// migrated and answering).
pub(crate) async fn start(config: Config) -> Server {
    Running::start(|listener, shutdown| authz_svc::run(config, listener, shutdown)).await
}

pub(crate) async fn client(server: &Server) -> Api {
    Api(AuthzServiceClient::new(server.channel().await))
}

/// authz-svc's client (`.0` for a request signed otherwise): each method
/// sends its request as `as_`, a user through the gateway, and answers the
/// reply's message or the status it was refused with.
#[derive(Clone)]
pub(crate) struct Api(pub(crate) AuthzServiceClient<Channel>);

impl Api {
    pub(crate) async fn create(
        &self,
        as_: &Principal,
        user: impl Into<Option<pb::User>>,
        context: Option<pb::ActionContext>,
    ) -> Result<pb::User, Status> {
        let request = pb::CreateUserRequest {
            user: user.into(),
            context,
        };
        let request = key().request(request, as_);
        Ok(self.0.clone().create_user(request).await?.into_inner())
    }

    pub(crate) async fn get(&self, as_: &Principal, user_id: &str) -> Result<pb::User, Status> {
        let request = pb::GetUserRequest {
            user_id: user_id.into(),
        };
        let request = key().request(request, as_);
        Ok(self.0.clone().get_user(request).await?.into_inner())
    }

    pub(crate) async fn list(
        &self,
        as_: &Principal,
        page_size: i32,
        page_token: &str,
    ) -> Result<pb::ListUsersResponse, Status> {
        let request = pb::ListUsersRequest {
            page_size,
            page_token: page_token.into(),
        };
        let request = key().request(request, as_);
        Ok(self.0.clone().list_users(request).await?.into_inner())
    }

    /// The ids of the first page of users (the default size).
    pub(crate) async fn ids(&self, as_: &Principal) -> Result<Vec<String>, Status> {
        let page = self.list(as_, 0, "").await?;
        Ok(page.users.into_iter().map(|u| u.user_id).collect())
    }

    pub(crate) async fn update(
        &self,
        as_: &Principal,
        user: pb::User,
        context: Option<pb::ActionContext>,
    ) -> Result<pb::User, Status> {
        let request = pb::UpdateUserRequest {
            user: Some(user),
            context,
        };
        let request = key().request(request, as_);
        Ok(self.0.clone().update_user(request).await?.into_inner())
    }

    pub(crate) async fn delete(
        &self,
        as_: &Principal,
        user_id: &str,
        context: Option<pb::ActionContext>,
    ) -> Result<(), Status> {
        let request = pb::DeleteUserRequest {
            user_id: user_id.into(),
            context,
        };
        self.0
            .clone()
            .delete_user(key().request(request, as_))
            .await?;
        Ok(())
    }

    pub(crate) async fn mine(&self, as_: &Principal) -> Result<pb::User, Status> {
        let request = key().request(pb::GetMyPermissionsRequest {}, as_);
        Ok(self
            .0
            .clone()
            .get_my_permissions(request)
            .await?
            .into_inner())
    }
}
