//! What each member of a room is sent each snapshot: a delta against the baseline it says it
//! holds, or a keyframe; with a view radius, only what it sees.
//!
//! The simulation encodes one keyframe per room and tick (unchanged for every client that never
//! names a baseline: stock clients cost nothing more). Once a member of the room has named one,
//! the room's [`Replica`] also keeps the last [`SERVER_BASELINE_WINDOW`] sent states, parsed
//! from those keyframes, and encodes the kind sections once per distinct baseline: members on
//! the same baseline share them, each behind its own envelope section of a few bytes (a delta
//! tracks only its receiver's `last_input_seq`). With visibility every member's view is its
//! own, so each member gets its own encoding (delta or filtered keyframe). Visibility is a
//! uniform grid of cells as wide as the view radius, so a member's view is found from the
//! 3 x 3 cells around its own entity.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use socketioxide::socket::Sid;
use tickstorm_shared::delta::{
    DeltaEncoder, KindCoding, SERVER_BASELINE_WINDOW, State, View, floor_to_i64,
};
use tickstorm_shared::{Field, PlayerId, Tick};

/// The newest snapshot tick a client says it holds (0: none): its delta baseline. Written by
/// the connection's handlers, read by the driver when it sends.
#[derive(Debug, Default)]
pub struct Baseline(AtomicU64);

impl Baseline {
    /// Records what the client says it holds (the latest word wins: `0` asks for keyframes).
    pub fn set(&self, tick: Tick) {
        self.0.store(tick, Ordering::Relaxed);
    }

    /// The tick last said.
    pub fn get(&self) -> Tick {
        self.0.load(Ordering::Relaxed)
    }
}

/// A member the driver is about to send to.
#[derive(Debug, Clone)]
pub struct Member {
    /// Who.
    pub player_id: PlayerId,
    /// The connection, when it is to this node (deltas and views are only for those: members
    /// through another node get the room's keyframe from its broadcast).
    pub local_sid: Option<Sid>,
    /// What it says it holds.
    pub baseline: Tick,
}

/// Who gets one payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// Every member of the room, on every node.
    Room,
    /// Every member but these connections to this node.
    RoomExcept(Vec<Sid>),
    /// Exactly these connections to this node.
    Only(Vec<Sid>),
}

/// One payload of a send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The snapshot bytes (keyframe or delta).
    pub bytes: Bytes,
    /// Who gets them.
    pub to: Recipients,
    /// Whether it is a delta (for the metrics).
    pub delta: bool,
}

/// How many keyframes a room keeps before any member named a baseline.
const RECENT_KEYFRAMES: usize = 8;

/// A member's views as sent, newest last (visibility only).
type SentViews = VecDeque<(Tick, Vec<u32>)>;

/// One room's replication state.
#[derive(Debug)]
pub struct Replica {
    layout: Vec<KindCoding>,
    view_radius: Option<f32>,
    /// Set once a member named a baseline: from then on sent states are kept, parsed.
    active: bool,
    /// Until then, the last few keyframes as sent (cheap clones), so the first baseline a
    /// member names can already be served.
    recent: VecDeque<Bytes>,
    history: VecDeque<State>,
    spare: State,
    scratch: Vec<Field>,
    encoder: DeltaEncoder,
    buf: Vec<u8>,
    views: HashMap<PlayerId, SentViews>,
    grid: Grid,
}

impl Replica {
    /// A room whose game codes its kinds as `layout`.
    pub fn new(layout: Vec<KindCoding>, view_radius: Option<f32>) -> Self {
        Self {
            layout,
            view_radius,
            active: view_radius.is_some(),
            recent: VecDeque::new(),
            history: VecDeque::new(),
            spare: State::default(),
            scratch: Vec::new(),
            encoder: DeltaEncoder::new(),
            buf: Vec::new(),
            views: HashMap::new(),
            grid: Grid::default(),
        }
    }

    /// What to send for this tick's `keyframe` to `members`.
    pub fn prepare(&mut self, keyframe: &Bytes, members: &[Member]) -> Vec<Outgoing> {
        let wants_deltas = members
            .iter()
            .any(|m| m.local_sid.is_some() && m.baseline != 0);
        if !self.active && !wants_deltas {
            self.recent.push_back(keyframe.clone());
            if self.recent.len() > RECENT_KEYFRAMES {
                self.recent.pop_front();
            }
            return vec![Outgoing {
                bytes: keyframe.clone(),
                to: Recipients::Room,
                delta: false,
            }];
        }
        if !self.active {
            self.active = true;
            for bytes in std::mem::take(&mut self.recent) {
                let mut state = State::default();
                if state
                    .read_keyframe(&bytes, &self.layout, &mut self.scratch)
                    .is_ok()
                {
                    self.history.push_back(state);
                }
            }
        }
        let mut current = std::mem::take(&mut self.spare);
        if let Err(e) = current.read_keyframe(keyframe, &self.layout, &mut self.scratch) {
            // The simulation's own encoding: a bug if it ever happens. Nobody gets a delta.
            tracing::error!(error = %e, "a room's keyframe could not be read back; sending it as is");
            self.spare = current;
            return vec![Outgoing {
                bytes: keyframe.clone(),
                to: Recipients::Room,
                delta: false,
            }];
        }
        let out = match self.view_radius {
            None => self.by_baseline(keyframe, &current, members),
            Some(radius) => self.by_view(keyframe, &current, members, radius),
        };
        self.history.push_back(current);
        if self.history.len() > SERVER_BASELINE_WINDOW {
            self.spare = self.history.pop_front().unwrap_or_default();
        }
        self.views
            .retain(|id, _| members.iter().any(|m| m.player_id == *id));
        out
    }

    /// Where the state of `tick` is in the history (0 names none).
    fn base_index(history: &VecDeque<State>, tick: Tick) -> Option<usize> {
        (tick != 0)
            .then(|| history.iter().rposition(|s| s.tick == tick))
            .flatten()
    }

    /// The room's view radius, if it has one.
    pub fn view_radius(&self) -> Option<f32> {
        self.view_radius
    }

    /// Without visibility: the kind sections encoded once per distinct baseline, each member's
    /// delta made of them and its own envelope section; the keyframe to everyone else.
    fn by_baseline(
        &mut self,
        keyframe: &Bytes,
        current: &State,
        members: &[Member],
    ) -> Vec<Outgoing> {
        // Members by the history index of their baseline.
        let mut groups: Vec<(usize, Vec<(Sid, PlayerId)>)> = Vec::new();
        for m in members {
            let (Some(sid), Some(base)) =
                (m.local_sid, Self::base_index(&self.history, m.baseline))
            else {
                continue;
            };
            match groups.iter_mut().find(|(index, _)| *index == base) {
                Some((_, group)) => group.push((sid, m.player_id)),
                None => groups.push((base, vec![(sid, m.player_id)])),
            }
        }
        let mut out = Vec::with_capacity(members.len());
        let mut served = Vec::new();
        for (base, group) in groups {
            self.encoder
                .prepare(&self.history[base], current, &self.layout, None);
            for (sid, player_id) in group {
                self.encoder.write_for(Some(player_id), &mut self.buf);
                served.push(sid);
                out.push(Outgoing {
                    bytes: Bytes::copy_from_slice(&self.buf),
                    to: Recipients::Only(vec![sid]),
                    delta: true,
                });
            }
        }
        if served.len() < members.len() {
            out.push(Outgoing {
                bytes: keyframe.clone(),
                to: if served.is_empty() {
                    Recipients::Room
                } else {
                    Recipients::RoomExcept(served)
                },
                delta: false,
            });
        }
        out
    }

    /// With visibility: each local member's own view, as a delta against the view it was sent
    /// at its baseline, or as a filtered keyframe. Members through another node get the whole
    /// keyframe.
    fn by_view(
        &mut self,
        keyframe: &Bytes,
        current: &State,
        members: &[Member],
        radius: f32,
    ) -> Vec<Outgoing> {
        self.grid.build(current, &self.layout, radius);
        let mut out = Vec::with_capacity(members.len());
        let mut served = Vec::new();
        for m in members {
            let Some(sid) = m.local_sid else { continue };
            let viewer = current.player(m.player_id).map_or(0, |p| p.net_id);
            let visible = self
                .grid
                .visible_from(current, &self.layout, viewer, radius);
            let views = self.views.entry(m.player_id).or_default();
            let base = views
                .iter()
                .rev()
                .find(|(tick, _)| *tick == m.baseline)
                .and_then(|(tick, view)| {
                    Some((&self.history[Self::base_index(&self.history, *tick)?], view))
                });
            let delta = base.is_some();
            match base {
                Some((state, view)) => self.encoder.delta(
                    state,
                    current,
                    &self.layout,
                    Some(View {
                        base: view,
                        current: &visible,
                    }),
                    Some(m.player_id),
                    &mut self.buf,
                ),
                None => self
                    .encoder
                    .keyframe(current, &self.layout, Some(&visible), &mut self.buf),
            }
            out.push(Outgoing {
                bytes: Bytes::copy_from_slice(&self.buf),
                to: Recipients::Only(vec![sid]),
                delta,
            });
            served.push(sid);
            views.push_back((current.tick, visible));
            if views.len() > SERVER_BASELINE_WINDOW {
                views.pop_front();
            }
        }
        if served.len() < members.len() {
            out.push(Outgoing {
                bytes: keyframe.clone(),
                to: Recipients::RoomExcept(served),
                delta: false,
            });
        }
        out
    }
}

/// A positioned entity: `(net_id, x, y)`.
type Placed = (u32, f64, f64);

/// Positioned entities bucketed into square cells one view radius wide.
#[derive(Debug, Default)]
struct Grid {
    cells: HashMap<(i64, i64), Vec<Placed>>,
}

impl Grid {
    fn cell(x: f64, y: f64, radius: f32) -> (i64, i64) {
        let r = f64::from(radius);
        (floor_to_i64(x / r), floor_to_i64(y / r))
    }

    fn build(&mut self, state: &State, layout: &[KindCoding], radius: f32) {
        for cell in self.cells.values_mut() {
            cell.clear();
        }
        for (table, coding) in state.tables.iter().zip(layout) {
            let Some([fx, fy]) = coding.position else {
                continue;
            };
            for (i, &id) in table.ids().iter().enumerate() {
                let row = table.row(i);
                let (Some(x), Some(y)) = (row[fx].as_f64(), row[fy].as_f64()) else {
                    continue;
                };
                self.cells
                    .entry(Self::cell(x, y, radius))
                    .or_default()
                    .push((id, x, y));
            }
        }
        // Cells left empty by entities that moved away would only grow the map.
        self.cells.retain(|_, cell| !cell.is_empty());
    }

    /// The ascending ids of positioned entities within `radius` of `viewer`'s entity, and the
    /// viewer's own; everything positioned when the viewer has no positioned entity.
    fn visible_from(
        &self,
        state: &State,
        layout: &[KindCoding],
        viewer: u32,
        radius: f32,
    ) -> Vec<u32> {
        let mut visible = Vec::new();
        match (viewer != 0)
            .then(|| state.position(layout, viewer))
            .flatten()
        {
            None => {
                for cell in self.cells.values() {
                    visible.extend(cell.iter().map(|e| e.0));
                }
            }
            Some((x, y)) => {
                let (cx, cy) = Self::cell(x, y, radius);
                let r2 = f64::from(radius) * f64::from(radius);
                for dx in -1..=1 {
                    for dy in -1..=1 {
                        let Some(cell) = self.cells.get(&(cx + dx, cy + dy)) else {
                            continue;
                        };
                        visible.extend(cell.iter().filter_map(|&(id, ex, ey)| {
                            let d2 = (ex - x).powi(2) + (ey - y).powi(2);
                            (d2 <= r2 || id == viewer).then_some(id)
                        }));
                    }
                }
            }
        }
        visible.sort_unstable();
        visible
    }
}
