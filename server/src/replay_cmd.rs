//! `tickstorm-server replay FILE`: re-simulates a recorded room and says whether it is identical
//! to the recording, or names the first tick that differs and shows the two states side by
//! side (exit status 0 identical, 1 different, 2 not replayable).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use tickstorm_shared::snapshot::{Field, Snapshot};
use tickstorm_sim::record::{Difference, Replay, load_segments};
use tickstorm_sim::{GameRegistry, KindLayout};

/// `tickstorm-server replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// A recording: any of its segment files (`ROOM-START.0.tsrec`) or its stem.
    pub file: PathBuf,

    /// How fast to replay: `max`, or a multiple of the recorded pace (`1` is real time).
    #[arg(long, default_value = "max", value_parser = parse_speed)]
    pub speed: Speed,

    /// Write the replayed snapshot stream to this file: one MessagePack `[tick, snapshot]` array
    /// per tick that sent one, the snapshot's bytes as the server sent them.
    #[arg(long, value_name = "OUT")]
    pub snapshots: Option<PathBuf>,

    /// Print only the verdict.
    #[arg(long)]
    pub quiet: bool,
}

/// Replay speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the machine goes.
    Max,
    /// This multiple of the recorded pace.
    Times(f64),
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "max" {
        return Ok(Speed::Max);
    }
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(Speed::Times(v)),
        _ => Err(format!("{s:?} is neither `max` nor a positive number")),
    }
}

/// Runs the replay; returns the process exit status.
pub fn run(args: &ReplayArgs, registry: &GameRegistry) -> i32 {
    match replay(args, registry) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("error: {e:#}");
            2
        }
    }
}

/// Replays; `Ok(true)` when identical.
fn replay(args: &ReplayArgs, registry: &GameRegistry) -> anyhow::Result<bool> {
    let segments = load_segments(&args.file)
        .with_context(|| format!("cannot read the recording {}", args.file.display()))?;
    let size: usize = segments.iter().map(|(_, b)| b.len()).sum();
    let count = segments.len();
    let mut replay = Replay::new(registry, segments.into_iter().map(|(_, b)| b).collect())
        .with_context(|| format!("cannot replay {}", args.file.display()))?;
    let header = replay.header().clone();
    if !args.quiet {
        println!(
            "recording of room {} ({} {}), seed {}, {} Hz ({} snapshots/s), {count} segment(s), {size} bytes",
            header.room_id,
            header.game,
            header.game_version,
            header.seed,
            header.tick_rate,
            header.send_rate,
        );
    }
    let ours = registry_version(registry, &header.game);
    if ours.is_some_and(|v| v != header.game_version) {
        eprintln!(
            "warning: recorded with {} {}, replaying with {}: its rules may differ",
            header.game,
            header.game_version,
            ours.unwrap_or_default()
        );
    }
    let mut out = match &args.snapshots {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut reported = started;
    let period = Duration::from_secs_f64(1.0 / f64::from(header.tick_rate.max(1)));
    while let Some(ticked) = replay.next_tick()? {
        if let (Some(out), Some(snapshot)) = (out.as_mut(), &ticked.snapshot) {
            write_snapshot(out, ticked.tick, snapshot)?;
        }
        if let Speed::Times(times) = args.speed {
            let due = started + period.mul_f64(replay.stats().ticks as f64 / times);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        if progress && reported.elapsed() >= Duration::from_secs(1) {
            reported = Instant::now();
            eprint!("\rreplaying: tick {}", ticked.tick);
        }
        // Once the states that show the difference are in hand, there is nothing more to learn.
        if replay.difference().is_some_and(|d| d.states.is_some()) {
            break;
        }
    }
    if progress {
        eprint!("\r");
    }
    if let Some(mut out) = out {
        out.flush().context("cannot write the snapshots")?;
    }
    let elapsed = started.elapsed();
    let stats = replay.stats().clone();
    let rate = stats.ticks as f64 / elapsed.as_secs_f64().max(1e-9);
    let ending = match (replay.end_reason(), replay.truncated()) {
        (Some(reason), _) => format!("the recording ended: {reason}"),
        (None, true) => "the recording is cut short (its server stopped mid-write)".to_owned(),
        (None, false) => "the recording has no end entry (still being written?)".to_owned(),
    };
    match replay.difference() {
        None => {
            println!(
                "identical: {} ticks replayed, {} hashes and {} keyframes match; {ending}",
                stats.ticks, stats.hashes_identical, stats.keyframes_identical
            );
            if !args.quiet {
                println!(
                    "{} ticks in {:.3} s: {rate:.0} ticks/s ({} inputs, {} joins)",
                    stats.ticks,
                    elapsed.as_secs_f64(),
                    stats.inputs,
                    stats.joins
                );
            }
            Ok(true)
        }
        Some(difference) => {
            print_difference(difference, replay.kinds(), header.hash_every);
            Ok(false)
        }
    }
}

fn registry_version(registry: &GameRegistry, game: &str) -> Option<&'static str> {
    registry.version_of(game)
}

fn write_snapshot(out: &mut impl Write, tick: u64, snapshot: &Bytes) -> anyhow::Result<()> {
    // `Bytes` serializes as MessagePack `bin`.
    rmp_serde::encode::write(out, &(tick, snapshot))?;
    Ok(())
}

fn print_difference(difference: &Difference, kinds: &[KindLayout], hash_every: u32) {
    let last = difference
        .last_identical
        .map_or("none".to_owned(), |t| t.to_string());
    println!(
        "DIFFERENT: first differing tick {} (last identical tick: {last}; the recording hashes every {hash_every} snapshot(s))",
        difference.tick
    );
    let Some((tick, recorded, replayed)) = &difference.states else {
        println!("(the recording holds no whole snapshot from that tick on to compare)");
        return;
    };
    println!(
        "state at tick {tick}, the first whole snapshot recorded from there (recorded | replayed):"
    );
    let (recorded, replayed) = match (Snapshot::decode(recorded), Snapshot::decode(replayed)) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            println!(
                "  cannot decode: recorded {:?}, replayed {:?}",
                a.err(),
                b.err()
            );
            return;
        }
    };
    let lines = state_differences(&recorded, &replayed, kinds);
    const SHOWN: usize = 40;
    for line in lines.iter().take(SHOWN) {
        println!("  {line}");
    }
    if lines.len() > SHOWN {
        println!("  ... and {} more", lines.len() - SHOWN);
    }
}

/// One line per differing value: `kind net_id field: recorded | replayed`.
pub fn state_differences(
    recorded: &Snapshot,
    replayed: &Snapshot,
    kinds: &[KindLayout],
) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in &recorded.players {
        match replayed
            .players
            .iter()
            .find(|p| p.player_id == entry.player_id)
        {
            None => lines.push(format!("player {}: seated | absent", entry.player_id)),
            Some(other) if other != entry => lines.push(format!(
                "player {}: net_id {} last_input_seq {} | net_id {} last_input_seq {}",
                entry.player_id,
                entry.net_id,
                entry.last_input_seq,
                other.net_id,
                other.last_input_seq
            )),
            Some(_) => {}
        }
    }
    for entry in &replayed.players {
        if !recorded
            .players
            .iter()
            .any(|p| p.player_id == entry.player_id)
        {
            lines.push(format!("player {}: absent | seated", entry.player_id));
        }
    }
    let empty = Vec::new();
    for (index, layout) in kinds.iter().enumerate() {
        let ours = recorded.kinds.get(index).unwrap_or(&empty);
        let theirs = replayed.kinds.get(index).unwrap_or(&empty);
        for row in ours {
            match theirs.iter().find(|r| r.net_id == row.net_id) {
                None => lines.push(format!("{} {}: present | absent", layout.name, row.net_id)),
                Some(other) => {
                    for (i, (a, b)) in row.fields.iter().zip(&other.fields).enumerate() {
                        if a != b {
                            let field = layout.fields.get(i).copied().unwrap_or("?");
                            lines.push(format!(
                                "{} {} {field}: {} | {}",
                                layout.name,
                                row.net_id,
                                show(*a),
                                show(*b)
                            ));
                        }
                    }
                }
            }
        }
        for row in theirs {
            if !ours.iter().any(|r| r.net_id == row.net_id) {
                lines.push(format!("{} {}: absent | present", layout.name, row.net_id));
            }
        }
    }
    if lines.is_empty() {
        lines.push(
            "the decoded states are equal; the bytes differ (server clock or encoding)".to_owned(),
        );
    }
    lines
}

fn show(field: Field) -> String {
    match field {
        Field::Uint(v) => v.to_string(),
        Field::Int(v) => v.to_string(),
        Field::F32(v) => v.to_string(),
        Field::F64(v) => v.to_string(),
        Field::Bool(v) => v.to_string(),
        Field::Nil => "nil".to_owned(),
    }
}
