//! `tickstorm-bots`: runs a bot swarm against a Tickstorm server, prints live progress and a
//! report, writes JSON/CSV/SVG with `--report`, and exits non-zero when the `--slo` does not hold.
//!
//! Exit codes: 0 = done (and the SLO held), 1 = the SLO failed, 2 = the run could not be done
//! (bad flags, no bot could connect, files could not be written).

use std::process::ExitCode;

use clap::Parser;
use tickstorm_bot_client::swarm::{self, SwarmConfig};

fn main() -> ExitCode {
    let config = SwarmConfig::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TICKSTORM_BOTS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let report = match runtime.block_on(swarm::run(config.clone())) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.table());
    if let Some(path) = &config.report {
        if let Err(e) = report.write_files(path) {
            eprintln!("error: cannot write the report to {}: {e}", path.display());
            return ExitCode::from(2);
        }
        let plot = path.with_extension("svg");
        if let Err(e) = swarm::plot::draw(&report.timeseries, "tickstorm-bots", &plot) {
            eprintln!("error: cannot draw {}: {e}", plot.display());
            return ExitCode::from(2);
        }
        println!("report: {} (+ .csv, .svg)", path.display());
    }
    if report.bots_connected_peak == 0 {
        eprintln!("error: no bot could connect to {}", config.url);
        return ExitCode::from(2);
    }
    match &report.slo {
        Some(slo) if !slo.passed => {
            let failed: Vec<String> = slo
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| c.describe())
                .collect();
            eprintln!("SLO failed: {}", failed.join("; "));
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}
