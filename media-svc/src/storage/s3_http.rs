//! The HTTP client object_store reaches S3 with, built here for the one
//! timeout its own options lack: a read timeout (reqwest's), the longest
//! wait for an answer to start and then for each next piece of its body.
//! object_store's request timeout counts the whole body too, so it either
//! cuts long downloads or lets a hung store hold a request for as long; the
//! read timeout ends a stall after a few seconds and never a download that
//! keeps moving. A hung store then fails a request within about
//! `retry timeout + read timeout` (see `S3Config`).

use std::time::Duration;

use object_store::{
    ClientConfigKey, ClientOptions,
    client::{HttpClient, HttpConnector},
};

/// Makes object_store's HTTP clients with media-svc's S3 timeouts.
#[derive(Debug, Clone, Copy)]
pub(super) struct TimedConnector {
    pub(super) connect: Duration,
    pub(super) read: Duration,
    /// Limit of a whole request, body included (`None`: none).
    pub(super) total: Option<Duration>,
}

impl HttpConnector for TimedConnector {
    fn connect(&self, options: &ClientOptions) -> object_store::Result<HttpClient> {
        // Plain HTTP as the options say: the store's own setting, or the
        // instance-metadata endpoint's credentials (always plain HTTP).
        let allow_http = options
            .get_config_value(&ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("media-svc/", env!("CARGO_PKG_VERSION")))
            .https_only(!allow_http)
            // As object_store's own client: S3 speaks HTTP/1.1.
            .http1_only()
            .connect_timeout(self.connect)
            .read_timeout(self.read);
        if let Some(total) = self.total {
            builder = builder.timeout(total);
        }
        let client = builder.build().map_err(|e| object_store::Error::Generic {
            store: "S3",
            source: Box::new(e),
        })?;
        Ok(HttpClient::new(client))
    }
}
