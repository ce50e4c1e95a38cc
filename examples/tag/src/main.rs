//! `tag-server`: the tag game on Tickstorm's command-line server (the flags of
//! `tickstorm-server`, port 3000 by default).

fn main() -> anyhow::Result<()> {
    let games = tickstorm_server::Games::empty().with(tickstorm_example_tag::Tag)?;
    tickstorm_server::cli::main(games)
}
