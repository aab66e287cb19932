//! A service under test: started with its `run(listener, shutdown)` on
//! `127.0.0.1:0`, awaited until its health check says SERVING, stopped
//! cleanly (and its result checked) at the end of the test.

use std::{fmt::Debug, future::Future, net::SocketAddr, time::Duration};

use archive_common::{host::wait_serving, shutdown::CancellationToken};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::transport::Channel;

/// How long a service under test may take to become SERVING.
const START_WITHIN: Duration = Duration::from_secs(20);

pub struct Running<E> {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), E>>,
}

impl<E: Debug + Send + 'static> Running<E> {
    /// Binds a free port, spawns `run` on it and waits until SERVING; panics
    /// (with the service's own error when it stopped) otherwise.
    pub async fn start<F, Fut>(run: F) -> Self
    where
        F: FnOnce(TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let addr = listener.local_addr().expect("its address");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(listener, shutdown.clone()));
        let running = Self {
            addr,
            shutdown,
            task,
        };
        if let Err(e) = wait_serving(&running.url(), START_WITHIN).await {
            if running.task.is_finished() {
                let stopped = running.task.await.expect("the service task");
                panic!("the service stopped while starting: {stopped:?}");
            }
            panic!("{e}");
        }
        running
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connected channel to the service.
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .expect("a URL")
            .connect()
            .await
            .expect("connect to the service under test")
    }

    /// Asks the service to stop and checks it stopped without an error.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("the service task")
            .expect("the service stopped cleanly");
    }
}

/// Serves `routes` (a stand-in service) on `127.0.0.1:0` until `stop` is
/// cancelled; its URL.
pub async fn serve_routes(routes: tonic::service::Routes, stop: CancellationToken) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                stop.cancelled_owned(),
            )
            .await
            .expect("the stand-in service");
    });
    url
}
