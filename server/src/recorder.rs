//! The recorder: writes rooms' recordings (`--record-dir`) off the tick thread.
//!
//! The room driver takes each recorded room's new entries after every step
//! ([`SimWorld::take_recording`](tickstorm_sim::SimWorld::take_recording)) and hands them here
//! without waiting ([`Recorder::write`]). One writer thread owns the files: every half second it
//! appends what queued and flushes (so a crash loses at most that half second), starts a new
//! segment file when one reaches `--record-segment-size`, and ends a recording that reaches
//! `--record-max-size`. A full disk or any I/O error ends that recording alone, with an error in
//! the log and in `tickstorm_recording_errors_total`; the room plays on. So does a writer that
//! falls behind by more than its queue: a recording with a gap could not be replayed, so it ends.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tickstorm_sim::record::{Header, RecordSettings, end_entry, segment_path};

/// Messages the writer's queue holds before a recording that cannot be queued ends (about 4 s
/// of 125 recorded rooms at 30 Hz).
const QUEUE: usize = 16_384;

/// How long the writer lets chunks gather before it writes them: what a crash can lose.
const BATCH: std::time::Duration = std::time::Duration::from_millis(500);

/// What the recorder is told by the configuration.
#[derive(Debug, Clone)]
pub struct RecorderSettings {
    /// Where recordings go.
    pub dir: PathBuf,
    /// Record every new room (else only rooms created with `record: true`).
    pub record_all: bool,
    /// A segment file's size before the next one starts.
    pub segment_bytes: u64,
    /// A recording's total size before it ends.
    pub max_bytes: u64,
    /// Hash every n-th snapshot.
    pub hash_every: u32,
    /// Seconds between whole snapshots.
    pub keyframe_secs: u32,
}

impl RecorderSettings {
    /// The capture settings of a room ticking at `tick_rate`.
    pub fn capture(&self, tick_rate: u32) -> RecordSettings {
        RecordSettings {
            hash_every: self.hash_every.max(1),
            keyframe_every: self.keyframe_secs.max(1).saturating_mul(tick_rate.max(1)),
        }
    }
}

/// The recorder's counters (registered under `tickstorm_recording_*`).
#[derive(Debug, Clone, Default)]
pub struct RecorderMetrics {
    /// Recordings being written.
    pub active: Gauge,
    /// Bytes written to recordings.
    pub bytes: Counter,
    /// Recordings ended by an error (I/O, a writer behind) or their size limit.
    pub errors: Counter,
}

/// One recording being written: what the driver keeps for a recorded room.
#[derive(Debug)]
pub struct Recording {
    id: u64,
    /// The file name stem (`ROOM-STARTMS`), also its name in the HTTP API.
    pub name: String,
    /// Set by the writer when it ended the recording on its own (error, size limit).
    stopped: Arc<AtomicBool>,
}

impl Recording {
    /// Whether the writer ended this recording (the driver then stops capturing it).
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

enum Msg {
    Open {
        id: u64,
        stem: PathBuf,
        header: Box<Header>,
        stopped: Arc<AtomicBool>,
    },
    Data {
        id: u64,
        bytes: Vec<u8>,
        last: bool,
    },
}

/// The driver's handle on the writer thread.
pub struct Recorder {
    settings: RecorderSettings,
    queue: SyncSender<Msg>,
    next_id: AtomicU64,
    metrics: RecorderMetrics,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Joins the writer thread once every [`Recorder`] is gone (so the last entries reach disk
/// before the process exits).
#[derive(Debug)]
pub struct WriterThread(Option<std::thread::JoinHandle<()>>);

impl WriterThread {
    /// Waits for the writer to finish (call after the room driver stopped).
    pub fn join(mut self) {
        if let Some(thread) = self.0.take()
            && thread.join().is_err()
        {
            tracing::error!("the recording writer thread panicked");
        }
    }
}

impl Recorder {
    /// Creates the directory (if needed) and starts the writer thread.
    pub fn start(
        settings: RecorderSettings,
        metrics: RecorderMetrics,
    ) -> std::io::Result<(Self, WriterThread)> {
        std::fs::create_dir_all(&settings.dir)?;
        let probe = settings.dir.join(".tickstorm-write-test");
        File::create(&probe)?;
        let _ = std::fs::remove_file(&probe);
        let (queue, inbox) = std::sync::mpsc::sync_channel(QUEUE);
        let writer = Writer {
            settings: settings.clone(),
            metrics: metrics.clone(),
            open: HashMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("tickstorm-recorder".into())
            .spawn(move || writer.run(inbox))?;
        tracing::info!(dir = %settings.dir.display(), all = settings.record_all, "recording rooms");
        Ok((
            Self {
                settings,
                queue,
                next_id: AtomicU64::new(1),
                metrics,
            },
            WriterThread(Some(thread)),
        ))
    }

    /// The settings.
    pub fn settings(&self) -> &RecorderSettings {
        &self.settings
    }

    /// Starts writing a recording with `header`; `None` when the writer's queue is full.
    pub fn open(&self, header: Header) -> Option<Recording> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}-{}", header.room_id, header.started_unix_ms);
        let stopped = Arc::new(AtomicBool::new(false));
        let msg = Msg::Open {
            id,
            stem: self.settings.dir.join(&name),
            header: Box::new(header),
            stopped: stopped.clone(),
        };
        if self.queue.try_send(msg).is_err() {
            self.metrics.errors.inc();
            tracing::error!(recording = %name, "the recording writer is behind; this room is not recorded");
            return None;
        }
        Some(Recording { id, name, stopped })
    }

    /// Queues a recording's next entries (`last`: the recording ends with them). Returns false
    /// when the recording cannot go on (the writer ended it, or its queue is full).
    pub fn write(&self, recording: &Recording, bytes: Vec<u8>, last: bool) -> bool {
        if recording.stopped() {
            return false;
        }
        match self.queue.try_send(Msg::Data {
            id: recording.id,
            bytes,
            last,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                recording.stopped.store(true, Ordering::Relaxed);
                self.metrics.errors.inc();
                tracing::error!(recording = %recording.name, "the recording writer fell behind; this recording ends here (the room plays on)");
                // The file lacks its end; replays read it as cut short. Tell the writer to
                // close it when it catches up (best effort: the queue is full right now).
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// A recording's open file.
struct OpenFile {
    stem: PathBuf,
    header: Box<Header>,
    file: BufWriter<File>,
    segment: u32,
    segment_bytes: u64,
    /// The segment holds nothing but its header (a chunk bigger than a segment goes there).
    segment_empty: bool,
    total_bytes: u64,
    stopped: Arc<AtomicBool>,
    dirty: bool,
}

struct Writer {
    settings: RecorderSettings,
    metrics: RecorderMetrics,
    open: HashMap<u64, OpenFile>,
}

impl Writer {
    fn run(mut self, inbox: Receiver<Msg>) {
        // Blocks only while nothing is recorded. Otherwise it wakes every `BATCH`, takes all that
        // queued meanwhile and writes it with one flush per file: a sender never wakes this
        // thread (measured: waking it for every room's chunk, ~3,750 a second at 1,000 players,
        // cost 10 % of the server's CPU; batched, see docs/benchmarks.md "Recording").
        while let Ok(msg) = inbox.recv() {
            self.handle(msg);
            std::thread::sleep(BATCH);
            while let Ok(msg) = inbox.try_recv() {
                self.handle(msg);
            }
            self.flush();
        }
        // Every sender is gone (the driver stopped): what is still open was cut off.
        for (_, mut open) in self.open.drain() {
            let _ = open.file.flush();
            self.metrics.active.dec();
        }
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Open {
                id,
                stem,
                header,
                stopped,
            } => match create_segment(&stem, &header, 0) {
                Ok((file, written)) => {
                    self.metrics.active.inc();
                    self.metrics.bytes.inc_by(written);
                    self.open.insert(
                        id,
                        OpenFile {
                            stem,
                            header,
                            file,
                            segment: 0,
                            segment_bytes: written,
                            segment_empty: true,
                            total_bytes: written,
                            stopped,
                            dirty: true,
                        },
                    );
                }
                Err(e) => {
                    stopped.store(true, Ordering::Relaxed);
                    self.metrics.errors.inc();
                    tracing::error!(recording = %stem.display(), error = %e, "cannot create the recording; the room plays on unrecorded");
                }
            },
            Msg::Data { id, bytes, last } => {
                let Some(open) = self.open.get_mut(&id) else {
                    return; // ended already (an error or its size limit)
                };
                match append(open, &bytes, &self.settings) {
                    Ok(Appended::Written(n)) => {
                        self.metrics.bytes.inc_by(n);
                        if last {
                            self.close(id, None);
                        }
                    }
                    Ok(Appended::LimitReached(n)) => {
                        self.metrics.bytes.inc_by(n);
                        tracing::warn!(recording = %open.stem.display(), max_bytes = self.settings.max_bytes, "the recording reached its size limit and ends here (the room plays on)");
                        self.metrics.errors.inc();
                        self.close(id, Some("size limit"));
                    }
                    Err(e) => {
                        tracing::error!(recording = %open.stem.display(), error = %e, "cannot write the recording; it ends here (the room plays on)");
                        self.metrics.errors.inc();
                        self.close(id, None);
                    }
                }
            }
        }
    }

    /// Closes a recording, first writing an `End` entry with `reason` when the writer ends it.
    fn close(&mut self, id: u64, reason: Option<&str>) {
        let Some(mut open) = self.open.remove(&id) else {
            return;
        };
        if let Some(reason) = reason {
            let end = end_entry(reason);
            if open.file.write_all(&end).is_ok() {
                self.metrics.bytes.inc_by(end.len() as u64);
            }
        }
        open.stopped.store(true, Ordering::Relaxed);
        if let Err(e) = open.file.flush() {
            tracing::error!(recording = %open.stem.display(), error = %e, "cannot flush the recording");
        }
        self.metrics.active.dec();
    }

    fn flush(&mut self) {
        let mut failed = Vec::new();
        for (&id, open) in &mut self.open {
            if open.dirty {
                open.dirty = false;
                if let Err(e) = open.file.flush() {
                    tracing::error!(recording = %open.stem.display(), error = %e, "cannot write the recording; it ends here (the room plays on)");
                    failed.push(id);
                }
            }
        }
        for id in failed {
            self.metrics.errors.inc();
            self.close(id, None);
        }
    }
}

enum Appended {
    Written(u64),
    /// Written up to the limit: the recording must end.
    LimitReached(u64),
}

fn create_segment(
    stem: &Path,
    header: &Header,
    segment: u32,
) -> std::io::Result<(BufWriter<File>, u64)> {
    let path = segment_path(stem, segment);
    let mut file = BufWriter::with_capacity(64 * 1024, File::create_new(&path)?);
    let bytes = header.for_segment(segment).to_bytes();
    file.write_all(&bytes)?;
    Ok((file, bytes.len() as u64))
}

/// Appends whole chunks of entries: a chunk that would cross the size limit is not written
/// (the recording ends before it); one that would overfill a segment starts the next.
fn append(
    open: &mut OpenFile,
    bytes: &[u8],
    settings: &RecorderSettings,
) -> std::io::Result<Appended> {
    let len = bytes.len() as u64;
    if open.total_bytes + len > settings.max_bytes {
        return Ok(Appended::LimitReached(0));
    }
    let mut written = 0;
    if !open.segment_empty && open.segment_bytes + len > settings.segment_bytes {
        open.file.flush()?;
        let (file, header_len) = create_segment(&open.stem, &open.header, open.segment + 1)?;
        open.file = file;
        open.segment += 1;
        open.segment_bytes = header_len;
        open.total_bytes += header_len;
        open.segment_empty = true;
        written += header_len;
    }
    open.file.write_all(bytes)?;
    open.segment_empty = false;
    open.segment_bytes += len;
    open.total_bytes += len;
    open.dirty = true;
    Ok(Appended::Written(written + len))
}
