//! Test support: a real server on 127.0.0.1:0 in this process, with its handles.

use std::time::Duration;

use clap::Parser;
use tickstorm_server::{Config, ServerHandle};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A server running on an ephemeral loopback port.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's handles (room directory, Socket.IO).
    pub handle: ServerHandle,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    /// Starts a server with the default configuration, adjusted by `adjust`.
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::parse_from(["tickstorm-server-test"]);
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let shutdown = CancellationToken::new();
        let (handle, server) = tickstorm_server::start(config, listener, shutdown.clone());
        let task = tokio::spawn(server);
        Self {
            url,
            handle,
            shutdown,
            task,
        }
    }

    /// Starts a server with the default configuration.
    pub async fn start_default() -> Self {
        Self::start(|_| {}).await
    }

    /// Asks the server to shut down and waits until it has.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("server stops in time")?
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
