//! `tickstorm-server`: the orb arena (the default game) on the command-line server of
//! [`tickstorm_server::cli`].

fn main() -> anyhow::Result<()> {
    tickstorm_server::cli::main(tickstorm_server::Games::default())
}
