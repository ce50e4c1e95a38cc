//! Recording rooms (`--record-dir`): starting a room's recording when it is made, handing its
//! entries to the [`Recorder`](crate::recorder::Recorder) after each step, ending it when the
//! room closes or an admin stops it. The simulation captures; the recorder writes.

use tickstorm_shared::RoomId;
use tickstorm_sim::{Entity, RoomSpec};

use super::Driver;
use crate::error::GameError;
use crate::room::sink::RoomSink;

impl<S: RoomSink> Driver<S> {
    /// Whether a new room is recorded: `record` as asked (`None`: the server's `--record`).
    pub(super) fn wants_recording(&self, record: Option<bool>) -> Result<bool, GameError> {
        match (&self.settings.recorder, record) {
            (None, Some(true)) => Err(GameError::BadRequest(
                "recording is off on this server: start it with --record-dir".into(),
            )),
            (None, _) => Ok(false),
            (Some(recorder), None) => Ok(recorder.settings().record_all),
            (Some(_), Some(asked)) => Ok(asked),
        }
    }

    /// Starts recording a room that was just made. A recording that cannot start (the writer
    /// is behind) leaves the room unrecorded, with an error in the log.
    pub(super) fn start_recording(&mut self, room_id: &RoomId, entity: Entity, spec: &RoomSpec) {
        let Some(recorder) = self.settings.recorder.clone() else {
            return;
        };
        let capture = recorder.settings().capture(spec.tick_rate);
        let header = match self
            .sim
            .start_recording(entity, spec, capture, crate::clock::unix_ms())
        {
            Ok(header) => header,
            Err(e) => {
                tracing::error!(room = %room_id, error = %e, "cannot record the room");
                return;
            }
        };
        let recording = recorder.open(header);
        if recording.is_none() {
            let _ = self.sim.end_recording(entity, "not written");
        }
        if let Some(room) = self.rooms.get_mut(room_id) {
            if let Some(recording) = &recording {
                tracing::info!(room = %room_id, recording = %recording.name, "recording the room");
            }
            room.recording = recording;
        }
    }

    /// Hands each recorded due room's new entries to the recorder.
    pub(super) fn write_recordings(&mut self) {
        let Some(recorder) = self.settings.recorder.clone() else {
            return;
        };
        for &entity in &self.due {
            let Some(room) = self
                .room_ids
                .get(&entity)
                .and_then(|id| self.rooms.get_mut(id))
            else {
                continue;
            };
            let Some(recording) = &room.recording else {
                continue;
            };
            let Some((bytes, ended)) = self.sim.take_recording(entity) else {
                room.recording = None;
                continue;
            };
            let written = bytes.is_empty() && !ended || recorder.write(recording, bytes, ended);
            if ended || !written {
                if !written {
                    // The writer ended it: stop capturing too.
                    let _ = self.sim.end_recording(entity, "not written");
                }
                room.recording = None;
            }
        }
    }

    /// Ends a room's recording with `reason`, if it has one.
    pub(super) fn end_recording(&mut self, room_id: &RoomId, reason: &str) -> Option<String> {
        let room = self.rooms.get_mut(room_id)?;
        let recording = room.recording.take()?;
        let last = self.sim.end_recording(room.entity, reason)?;
        if let Some(recorder) = &self.settings.recorder {
            recorder.write(&recording, last, true);
        }
        tracing::info!(room = %room_id, recording = %recording.name, reason, "recording ended");
        Some(recording.name)
    }

    /// `record: false` stops a room's recording; `record: true` answers which recording a room
    /// has, and refuses a room that is not recorded (a recording starts with its room).
    /// Returns the recording's name.
    pub(super) fn set_recording(
        &mut self,
        room_id: &RoomId,
        record: bool,
    ) -> Result<Option<String>, GameError> {
        let room = self
            .rooms
            .get(room_id)
            .ok_or_else(|| GameError::RoomNotFound(room_id.clone()))?;
        if record {
            if self.settings.recorder.is_none() {
                return Err(GameError::BadRequest(
                    "recording is off on this server: start it with --record-dir".into(),
                ));
            }
            return match &room.recording {
                Some(recording) => Ok(Some(recording.name.clone())),
                None => Err(GameError::BadRequest(format!(
                    "room {room_id} is not being recorded, and a recording can only start with its \
                     room (the state of a running room cannot be rebuilt from its seed): create \
                     the room with record: true"
                ))),
            };
        }
        Ok(self.end_recording(room_id, "stopped"))
    }
}
