//! Recording and replaying rooms of the framework's test game: identical replays, the first
//! differing tick of a tampered recording, recordings cut short or split into segments.

use bytes::Bytes;

use super::*;
use crate::tests::{registry, send, spec};
use crate::*;

/// A recorded session: the recording's bytes (one segment) and every snapshot the room sent.
struct Session {
    recording: Vec<u8>,
    snapshots: Vec<(u64, Bytes)>,
}

/// Runs a recorded room of sparks next to an unrecorded one, with joins, inputs, a halted
/// player, a leave and a late join, for 60 ticks; the clock moves unevenly.
fn record_session(settings: RecordSettings) -> Session {
    let mut sim = SimWorld::new(&registry());
    let options = registry()
        .validate_options(0, Some(&serde_json::json!({"start_sparks": 2})))
        .expect("valid");
    let recorded_spec = spec(0, options.clone());
    let (room, port) = sim.spawn_room(recorded_spec.clone()).expect("room");
    let header = sim
        .start_recording(room, &recorded_spec, settings, 1_000)
        .expect("starts");
    let (other, other_port) = sim
        .spawn_room(RoomSpec {
            id: "other".into(),
            ..spec(0, options)
        })
        .expect("room");
    let mut recording = header.to_bytes();
    let mut snapshots = Vec::new();
    let ana = sim.spawn_player(room, 1, "ana".into()).expect("seat");
    let bob = sim.spawn_player(room, 2, "bob".into()).expect("seat");
    let zed = sim.spawn_player(other, 9, "zed".into()).expect("seat");
    let mut cyd = None;
    let mut now = 1_000;
    for tick in 1..=60u32 {
        now += 33 + u64::from(tick % 3);
        if tick % 2 == 0 {
            send(&port, ana, tick, (tick % 3) as u8);
        }
        if tick % 5 == 0 && tick < 30 {
            send(&port, bob, tick, 1);
        }
        send(&other_port, zed, tick, 2);
        match tick {
            20 => sim.halt_player(bob),
            40 => sim.despawn_player(bob),
            45 => cyd = Some(sim.spawn_player(room, 3, "cyd".into()).expect("seat")),
            _ => {}
        }
        if let Some(cyd) = cyd {
            send(&port, cyd, tick, 4);
        }
        let out = sim.step(&[other, room], now).to_vec();
        for (entity, bytes) in out {
            if entity == room {
                snapshots.push((u64::from(tick), bytes));
            }
        }
        let (bytes, ended) = sim.take_recording(room).expect("recorded");
        assert!(!ended);
        recording.extend_from_slice(&bytes);
    }
    recording.extend_from_slice(&sim.end_recording(room, "closed").expect("recorded"));
    assert!(!sim.is_recording(room));
    Session {
        recording,
        snapshots,
    }
}

fn replay(segments: Vec<Vec<u8>>) -> Replay {
    Replay::new(&registry(), segments.into_iter().map(Bytes::from).collect()).expect("opens")
}

/// The recording's entries after its header.
fn entries(recording: &[u8]) -> Vec<Entry> {
    let (_, start) = read_header(recording).expect("header");
    let mut reader = EntryReader::new(Bytes::copy_from_slice(recording), start);
    let mut out = Vec::new();
    while let Some(entry) = reader.next().expect("well formed") {
        out.push(entry);
    }
    assert!(!reader.truncated());
    out
}

fn rewrite(recording: &[u8], entries: &[Entry]) -> Vec<u8> {
    let (header, _) = read_header(recording).expect("header");
    let mut out = header.to_bytes();
    for entry in entries {
        entry.encode(&mut out);
    }
    out
}

#[test]
fn a_replay_rebuilds_every_snapshot_byte_for_byte_and_checks_every_hash() {
    let session = record_session(RecordSettings {
        hash_every: 1,
        keyframe_every: 25,
    });
    let mut replay = replay(vec![session.recording.clone()]);
    assert_eq!(replay.header().game, "sparks");
    let mut replayed = Vec::new();
    while let Some(ticked) = replay.next_tick().expect("follows") {
        replayed.push((ticked.tick, ticked.snapshot.expect("sent every tick")));
    }
    assert_eq!(replayed, session.snapshots);
    assert_eq!(replay.difference(), None);
    assert_eq!(replay.end_reason(), Some("closed"));
    let stats = replay.stats();
    assert_eq!(stats.ticks, 60);
    // Keyframes at ticks 1, 26, 51, plus the last one (60) at the end; hashes at every tick.
    assert_eq!(stats.hashes_identical, 60);
    assert_eq!(stats.keyframes_identical, 4);
    assert_eq!(stats.joins, 3);
    assert!(stats.inputs > 40, "{stats:?}");
    // Entries re-encoded are the same bytes.
    assert_eq!(
        rewrite(&session.recording, &entries(&session.recording)),
        session.recording
    );
}

#[test]
fn a_changed_input_is_found_at_the_tick_it_applied_and_shown_at_the_next_keyframe() {
    let session = record_session(RecordSettings {
        hash_every: 1,
        keyframe_every: 25,
    });
    let mut tampered = entries(&session.recording);
    // Ana's input of tick 30 asked for 0 sparks; make it 3.
    let entry = tampered
        .iter_mut()
        .find(|e| matches!(e, Entry::Tick { tick: 30, .. }))
        .expect("tick 30");
    let Entry::Tick { inputs, .. } = entry else {
        unreachable!()
    };
    let (player, input) = inputs.first_mut().expect("ana's input");
    assert_eq!(*player, 1);
    let mut value: serde_json::Value = rmp_serde::from_slice(input).expect("input");
    assert_eq!(value["sparks"], 0);
    value["sparks"] = 3.into();
    *input = Bytes::from(rmp_serde::to_vec_named(&value).expect("encode"));
    let mut replay = replay(vec![rewrite(&session.recording, &tampered)]);
    replay.run(true).expect("follows");
    let difference = replay.difference().expect("differs").clone();
    assert_eq!(difference.tick, 30);
    assert_eq!(difference.last_identical, Some(29));
    let (tick, recorded, replayed) = difference.states.expect("a keyframe shows it");
    assert_eq!(tick, 51);
    assert_ne!(recorded, replayed);
    assert_eq!(
        recorded, session.snapshots[50].1,
        "the recorded keyframe is what the server sent"
    );
}

#[test]
fn a_recording_cut_short_replays_up_to_its_last_whole_entry() {
    let session = record_session(RecordSettings::default());
    let (_, start) = read_header(&session.recording).expect("header");
    for cut in (start + 1..session.recording.len()).step_by(97) {
        let mut replay = replay(vec![session.recording[..cut].to_vec()]);
        replay.run(false).expect("a cut is not an error");
        assert_eq!(replay.difference(), None, "cut at {cut}");
        assert_eq!(replay.end_reason(), None);
        assert!(replay.stats().ticks <= 60);
    }
}

#[test]
fn segments_continue_one_another_and_foreign_ones_are_refused() {
    let session = record_session(RecordSettings::default());
    let all = entries(&session.recording);
    let (header, _) = read_header(&session.recording).expect("header");
    let middle = all.len() / 2;
    let mut first = header.to_bytes();
    let mut second = header.for_segment(1).to_bytes();
    for entry in &all[..middle] {
        entry.encode(&mut first);
    }
    for entry in &all[middle..] {
        entry.encode(&mut second);
    }
    let mut split = replay(vec![first.clone(), second]);
    split.run(false).expect("follows");
    assert_eq!(split.stats().ticks, 60);
    assert_eq!(split.difference(), None);
    assert_eq!(split.end_reason(), Some("closed"));

    let foreign = Header {
        room_id: "elsewhere".into(),
        ..header.for_segment(1)
    };
    let error = Replay::new(
        &registry(),
        vec![Bytes::from(first), Bytes::from(foreign.to_bytes())],
    )
    .expect_err("refused");
    assert!(
        matches!(error, ReplayError::Segments { index: 1, .. }),
        "{error}"
    );
}

#[test]
fn a_recording_starts_only_with_its_room_and_not_twice() {
    let mut sim = SimWorld::new(&registry());
    let s = spec(0, serde_json::json!({}));
    let (room, _) = sim.spawn_room(s.clone()).expect("room");
    sim.step(&[room], 0);
    assert_eq!(
        sim.start_recording(room, &s, RecordSettings::default(), 0),
        Err(RecordError::NotAtStart)
    );
    let (fresh, _) = sim.spawn_room(s.clone()).expect("room");
    sim.start_recording(fresh, &s, RecordSettings::default(), 0)
        .expect("starts");
    assert_eq!(
        sim.start_recording(fresh, &s, RecordSettings::default(), 0),
        Err(RecordError::AlreadyRecording)
    );
}

#[test]
fn not_a_recording_is_refused_with_what_it_is() {
    let error = Replay::new(&registry(), vec![Bytes::from_static(b"\x93\x01\x02\x03")])
        .expect_err("refused");
    assert!(
        error.to_string().contains("not a Tickstorm recording"),
        "{error}"
    );
    let session = record_session(RecordSettings::default());
    let (header, start) = read_header(&session.recording).expect("header");
    let mut wrong_game = Header {
        game: "chess".into(),
        ..header
    }
    .to_bytes();
    wrong_game.extend_from_slice(&session.recording[start..]);
    let error = Replay::new(&registry(), vec![Bytes::from(wrong_game)]).expect_err("refused");
    assert!(
        matches!(error, ReplayError::UnknownGame(ref g) if g == "chess"),
        "{error}"
    );
}

#[test]
fn a_fault_ends_the_recording_of_every_room_in_the_failed_step() {
    let mut sim = SimWorld::new(&registry());
    let s = spec(0, serde_json::json!({}));
    let (room, _) = sim.spawn_room(s.clone()).expect("room");
    let header = sim
        .start_recording(room, &s, RecordSettings::default(), 0)
        .expect("starts");
    let (faulty, _) = sim
        .spawn_room(spec(1, serde_json::json!({})))
        .expect("room");
    sim.step_isolating_faults(&[room, faulty], 10);
    sim.inject_fault(faulty);
    let outcome = sim.step_isolating_faults(&[room, faulty], 20);
    assert_eq!(outcome.failed, vec![faulty]);
    let (bytes, ended) = sim.take_recording(room).expect("recorded");
    assert!(ended);
    assert!(!sim.is_recording(room));
    let mut recording = header.to_bytes();
    recording.extend_from_slice(&bytes);
    let mut replay = replay(vec![recording]);
    replay.run(false).expect("follows");
    assert!(
        replay.end_reason().is_some_and(|r| r.starts_with("fault")),
        "{:?}",
        replay.end_reason()
    );
}

#[test]
fn the_last_keyframe_after_the_players_who_left_at_the_end_is_still_checked() {
    // Players who leave after the last tick of a room that then closes (the swarm leaves, the
    // server stops) come before the last keyframe, which is written when the recording ends.
    let mut sim = SimWorld::new(&registry());
    let room_spec = spec(0, registry().validate_options(0, None).expect("valid"));
    let (room, port) = sim.spawn_room(room_spec.clone()).expect("room");
    let settings = RecordSettings {
        hash_every: 1,
        keyframe_every: 100,
    };
    let mut recording = sim
        .start_recording(room, &room_spec, settings, 0)
        .expect("starts")
        .to_bytes();
    let ana = sim.spawn_player(room, 1, "ana".into()).expect("seat");
    let bob = sim.spawn_player(room, 2, "bob".into()).expect("seat");
    for tick in 1..=10u32 {
        send(&port, ana, tick, 1);
        sim.step(&[room], u64::from(tick) * 33);
    }
    sim.despawn_player(ana);
    sim.despawn_player(bob);
    recording.extend_from_slice(&sim.take_recording(room).expect("recorded").0);
    recording.extend_from_slice(
        &sim.end_recording(room, "closed: shutdown")
            .expect("recorded"),
    );
    let tail: Vec<_> = entries(&recording).into_iter().rev().take(4).collect();
    assert!(
        matches!(
            tail.as_slice(),
            [
                Entry::End { .. },
                Entry::Keyframe { tick: 10, .. },
                Entry::Leave { .. },
                Entry::Leave { .. }
            ]
        ),
        "{tail:?}"
    );

    let mut replay = replay(vec![recording.clone()]);
    replay.run(false).expect("follows");
    assert_eq!(replay.difference(), None);
    assert_eq!(replay.end_reason(), Some("closed: shutdown"));
    assert_eq!(replay.stats().keyframes_identical, 2, "ticks 1 and 10");

    // Such a keyframe that differs is a difference; a check of an older tick is out of place.
    let mut changed = entries(&recording);
    let last = changed.len() - 2;
    let Entry::Keyframe { snapshot, .. } = &mut changed[last] else {
        panic!("the last keyframe");
    };
    let mut altered = snapshot.to_vec();
    *altered.last_mut().expect("bytes") ^= 1;
    *snapshot = Bytes::from(altered);
    let mut replay = self::replay(vec![rewrite(&recording, &changed)]);
    replay.run(false).expect("follows");
    assert_eq!(replay.difference().map(|d| d.tick), Some(10));
    let Entry::Keyframe { tick, .. } = &mut changed[last] else {
        panic!("the last keyframe");
    };
    *tick = 9;
    let mut replay = self::replay(vec![rewrite(&recording, &changed)]);
    let error = replay.run(false).expect_err("out of place");
    assert!(error.to_string().contains("a check of tick 9"), "{error}");
}
