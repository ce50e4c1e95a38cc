//! `tickstorm-server`: parses the configuration, sets up logging, binds, and runs until Ctrl-C
//! or SIGTERM.

use anyhow::Context;
use clap::Parser;
use tickstorm_server::Config;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter = EnvFilter::try_new(log_directives(&config.log))
        .with_context(|| format!("invalid --log filter `{}`", config.log))?;
    tracing_subscriber::fmt().with_env_filter(filter).init();

    let listener = tickstorm_server::net::serve::bind(config.addr)
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    tickstorm_server::run(config, listener, shutdown).await
}

/// The user's filter, with socketioxide's and engineioxide's own logs held at `info` unless the
/// user names them: at `debug` they print every CONNECT payload, admin tokens included.
fn log_directives(user: &str) -> String {
    if user.contains("socketioxide") || user.contains("engineioxide") {
        user.to_owned()
    } else {
        format!("{user},socketioxide=info,engineioxide=info")
    }
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("Ctrl-C received, shutting down"),
        _ = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
    shutdown.cancel();
}
