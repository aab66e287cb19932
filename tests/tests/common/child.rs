//! A service in a process of its own, for the tests that freeze, kill or
//! restart one: the test binary re-executed to run only its `#[ignore]`d
//! child test, which reads its settings from one environment variable
//! (`|`-separated, [`settings`]). Killed when dropped, whatever happens (and
//! resumed first, should a test have frozen it).

use std::{
    net::SocketAddr,
    os::unix::process::ExitStatusExt,
    process::{Child, Command},
    time::Duration,
};

pub(crate) struct ChildService {
    child: Child,
    pub(crate) listen: SocketAddr,
}

impl ChildService {
    /// Runs `child_test` of this binary with `env` set to `setting`, serving
    /// on `listen`; not waited for.
    pub(crate) fn spawn(child_test: &str, env: &str, setting: &[&str], listen: SocketAddr) -> Self {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", child_test, "--ignored", "--nocapture"])
            .env(env, setting.join("|"))
            .spawn()
            .unwrap();
        Self { child, listen }
    }

    /// [`ChildService::spawn`], then waits until it is SERVING.
    pub(crate) async fn start(
        child_test: &str,
        env: &str,
        setting: &[&str],
        listen: SocketAddr,
    ) -> Self {
        let service = Self::spawn(child_test, env, setting, listen);
        archive_common::host::wait_serving(&service.url(), Duration::from_secs(60))
            .await
            .unwrap();
        service
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.listen)
    }

    /// Sends `signal` (`-STOP`, `-CONT`, `-TERM`, …).
    pub(crate) fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Sends `signal` and waits for the process to end.
    pub(crate) async fn end(mut self, signal: &str) {
        self.signal(signal);
        let mut ended = tokio::task::spawn_blocking(move || {
            self.child.wait().unwrap();
            self
        })
        .await
        .unwrap();
        let _ = ended.child.kill();
    }

    /// SIGKILL: no shutdown hook, no flush, nothing graceful.
    pub(crate) fn kill(mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert_eq!(status.signal(), Some(9), "killed by SIGKILL: {status:?}");
    }
}

impl Drop for ChildService {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's settings from `env`, as [`ChildService::spawn`] joined them.
pub(crate) fn settings<const N: usize>(env: &str) -> [String; N] {
    let setting = std::env::var(env).expect("started by a test of this file");
    setting
        .splitn(N, '|')
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap_or_else(|v: Vec<String>| panic!("{env}: {N} settings expected, got {v:?}"))
}

/// A loopback port nothing listens on (bound, then released).
pub(crate) fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}
