//! The command-line server: parses the configuration (flags and `TICKSTORM_*` variables), sets up
//! logging, binds, and serves the given games until Ctrl-C or SIGTERM. `tickstorm-server` calls
//! it with the default games; a studio's binary calls it with its own ([`main`]).

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::{Config, Games};

/// Runs a server for `games` as `tickstorm-server` does (same flags, same `--help`).
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// tickstorm_server::cli::main(tickstorm_server::Games::default())
/// # }
/// ```
pub fn main(games: Games) -> anyhow::Result<()> {
    let config = Config::parse();
    if let Some(crate::config::Command::Replay(args)) = &config.command {
        std::process::exit(crate::replay_cmd::run(args, games.registry()));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?
        .block_on(serve(config, games))
}

async fn serve(config: Config, games: Games) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(log_directives(&config.log))
        .with_context(|| format!("invalid --log filter `{}`", config.log))?;
    // Colour codes only on a terminal: piped into a file or a log collector they are noise.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .init();

    let listener = crate::net::serve::bind(config.addr)
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    crate::run_games(config, games, listener, shutdown).await
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
