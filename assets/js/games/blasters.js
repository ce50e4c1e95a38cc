// Blasters (`blasters`, games/blasters) in the web client: fighters that move, aim with the mouse
// and fire bolts, in timed rounds (warm-up, playing, over with a scoreboard). Its wire contract is
// in docs/protocol.md; this module reads its kinds (`fighter`, `bolt`, `round`) from the join ack,
// predicts your own movement like the orb arena does (a dead fighter and a finished round do not
// move), and draws fighters with their aim and health, bolts, and the round's state. The framework
// (js/game.js) does everything else.

import { kindLayout, readKind } from "../snapshot.js";
import { moveRules } from "../netcode.js";
import { playerColor } from "../render.js";

// Copies of the constants in games/blasters/src/rules.rs; assets/tests/games.test.mjs reads that
// file to check.
export const ARENA_SIZE = 800;
export const FIGHTER_SPEED = 220;
export const FIGHTER_RADIUS = 16;
export const BOLT_RADIUS = 4;
export const MAX_HEALTH = 100;

export const rules = moveRules({ arenaSize: ARENA_SIZE, speed: FIGHTER_SPEED, radius: FIGHTER_RADIUS });

export const PHASES = ["warmup", "playing", "over"];
const PHASE_OVER = 2;

/** The kinds and fields this module reads (join ack `kinds`). */
const WANTED = {
  fighter: ["x", "y", "aim", "health", "score", "respawn"],
  bolt: ["x", "y", "vx", "vy", "owner"],
  round: ["phase", "ticks_left", "round", "kills_to_win"],
};

/**
 * A decoded frame as blasters' snapshot: `{tick, serverTime, players: [{id, netId, lastInputSeq,
 * x, y, aim, health, score, respawn}], bolts: [{id, x, y, vx, vy, owner}], round: {phase,
 * ticksLeft, round, killsToWin} | null}`. A seated player whose fighter is missing is left out.
 */
export function view(frame, layout) {
  const fighters = new Map(readKind(frame, layout.fighter).map((f) => [f.id, f]));
  const players = [];
  for (const { id, netId, lastInputSeq } of frame.players) {
    const f = fighters.get(netId);
    if (f) players.push({ id, netId, lastInputSeq, x: f.x, y: f.y, aim: f.aim, health: f.health, score: f.score, respawn: f.respawn });
  }
  const [r] = readKind(frame, layout.round);
  return {
    tick: frame.tick,
    serverTime: frame.serverTime,
    players,
    bolts: readKind(frame, layout.bolt),
    round: r ? { phase: r.phase, ticksLeft: r.ticks_left, round: r.round, killsToWin: r.kills_to_win } : null,
  };
}

// The aim last sent: kept when there is nothing to aim with (touch without a drag).
let aim = 0;
// Three decimals are plenty (a milliradian is 0.8 units across the arena) and keep an unmoved
// mouse from looking like a new input; toward zero, so the result stays inside [-PI, PI).
const trunc3 = (v) => Math.trunc(v * 1000) / 1000;
const seconds = (ticks, room) => ticks / Math.max(1, room?.tick_rate ?? 30);

function clock(s) {
  const whole = Math.ceil(s);
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function drawBolt(ctx, b, color) {
  // A short streak behind the head, along its velocity.
  const speed = Math.hypot(b.vx, b.vy) || 1;
  const tail = 18;
  ctx.strokeStyle = color;
  ctx.lineWidth = BOLT_RADIUS * 1.2;
  ctx.lineCap = "round";
  ctx.shadowColor = color;
  ctx.shadowBlur = 12;
  ctx.beginPath();
  ctx.moveTo(b.x - (b.vx / speed) * tail, b.y - (b.vy / speed) * tail);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
  ctx.shadowBlur = 0;
  ctx.fillStyle = "#ffffff";
  ctx.beginPath();
  ctx.arc(b.x, b.y, BOLT_RADIUS * 0.7, 0, Math.PI * 2);
  ctx.fill();
}

function drawFighter(renderer, p, isMe, room) {
  const { ctx } = renderer;
  const r = FIGHTER_RADIUS;
  ctx.save();
  if (p.respawn > 0) {
    // Down: a faint outline where it fell, and when it comes back.
    ctx.globalAlpha = 0.45;
    ctx.strokeStyle = playerColor(p.id);
    ctx.setLineDash([4, 4]);
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
    ctx.stroke();
    ctx.setLineDash([]);
    renderer.drawLabel(p, isMe, r, `${p.name ?? `#${p.id}`} · back in ${seconds(p.respawn, room).toFixed(1)} s`);
    ctx.restore();
    return;
  }
  ctx.globalAlpha = p.away ? 0.4 : 1;
  // The barrel, under the body: where this fighter aims.
  ctx.strokeStyle = playerColor(p.id);
  ctx.lineWidth = 7;
  ctx.lineCap = "round";
  ctx.beginPath();
  ctx.moveTo(p.x, p.y);
  ctx.lineTo(p.x + Math.cos(p.aim) * (r + 11), p.y + Math.sin(p.aim) * (r + 11));
  ctx.stroke();
  renderer.drawDisc(p, isMe, r);
  // Health bar just above the body, the label above it.
  const w = 36;
  const h = 5;
  const top = p.y - r - 10;
  const frac = Math.max(0, Math.min(1, p.health / MAX_HEALTH));
  ctx.fillStyle = "rgba(6, 10, 20, 0.8)";
  ctx.fillRect(p.x - w / 2 - 1, top - 1, w + 2, h + 2);
  ctx.fillStyle = frac > 0.5 ? "#34d399" : frac > 0.25 ? "#fbbf24" : "#f87171";
  ctx.fillRect(p.x - w / 2, top, w * frac, h);
  renderer.drawLabel(p, isMe, r, `${p.name ?? `#${p.id}`}  ${p.score}`, 20);
  ctx.restore();
}

export default {
  name: "blasters",
  title: "Blasters",
  help: "Move with WASD or the arrow keys (drag on touch screens), aim with the mouse, fire with the mouse button or Space. Three hits take a fighter down.",
  arenaSize: ARENA_SIZE,
  // docs/protocol.md: round_seconds 5..=600 (60), kills_to_win 1..=100 (10), warmup_seconds 0..=30 (3).
  createOptions: [
    { key: "round_seconds", label: "Round (s)", min: 5, max: 600, value: 60 },
    { key: "kills_to_win", label: "Kills to win", min: 1, max: 100, value: 10 },
    { key: "warmup_seconds", label: "Warm-up (s)", min: 0, max: 30, value: 3 },
  ],
  rules,
  // A respawn moves the fighter far in one tick: show the jump, do not slide across the arena.
  prediction: { snapDistance: 100 },
  interpolation: { bounds: [0, ARENA_SIZE], angles: ["aim"], snapDistance: 100 },
  layout: (kinds) => kindLayout(kinds, WANTED),
  view,
  // Fighters and bolts have distinct net ids, so one interpolator takes both. Others are drawn
  // as they were at the render time, health and death included, so a bolt reaches its target
  // when the target's health drops, not 100 ms after.
  moving: (v) => [
    ...v.players.map((p) => ({ id: p.netId, x: p.x, y: p.y, aim: p.aim, health: p.health, respawn: p.respawn })),
    ...v.bolts.map((b) => ({ ...b, bolt: true })),
  ],
  canMove: (v, me) => me.respawn === 0 && v.round?.phase !== PHASE_OVER,
  lobbyStatus(metadata) {
    if (!metadata || typeof metadata !== "object") return "";
    const phase = { warmup: "warm-up", playing: "playing", over: "round over" }[metadata.phase] ?? "";
    return [metadata.round ? `round ${metadata.round}` : "", phase, Number.isFinite(metadata.top_score) ? `top ${metadata.top_score}` : ""]
      .filter(Boolean).join(" · ");
  },

  /** Move from the keys or the touch stick, aim at the mouse (else along the move), fire held. */
  input({ controls, renderer, me }) {
    const move = controls.direction();
    const pointer = controls.pointer();
    if (pointer && me) {
      const w = renderer.toWorld(pointer.x, pointer.y);
      if (Math.hypot(w.x - me.x, w.y - me.y) > 1) aim = Math.atan2(w.y - me.y, w.x - me.x);
    } else if (move[0] !== 0 || move[1] !== 0) {
      aim = Math.atan2(move[1], move[0]);
    }
    const sent = trunc3(aim);
    const fire = controls.firing();
    return { payload: { move, aim: sent, fire }, move, active: move[0] !== 0 || move[1] !== 0 || fire };
  },

  draw(renderer, { view: v, sampled, me, names, away, room }) {
    const ctx = renderer.begin(ARENA_SIZE);
    const owners = new Map(v.players.map((p) => [p.netId, p.id]));
    // Bolts as they were at the render time: one born or gone between two snapshots simply
    // appears or disappears.
    for (const b of sampled.values()) {
      if (!b.bolt) continue;
      ctx.save();
      drawBolt(ctx, b, playerColor(owners.get(b.owner) ?? 0));
      ctx.restore();
    }
    const fighters = v.players.map((p) => {
      const isMe = p.id === me?.id;
      const meta = { name: names.get(p.id), away: away.has(p.id), isMe };
      // You: the latest state, at the predicted position with the aim you are sending.
      if (isMe && me.x !== undefined && p.respawn === 0) return { ...p, ...meta, x: me.x, y: me.y, aim };
      const at = sampled.get(p.netId);
      const then = at ? { x: at.x, y: at.y, aim: at.aim, health: at.health, respawn: at.respawn } : {};
      return { ...p, ...then, ...meta };
    });
    fighters.sort((a, b) => a.isMe - b.isMe); // you on top
    for (const f of fighters) drawFighter(renderer, f, f.isMe, room);
  },

  hud(v, { names, meId, room }) {
    const r = v.round;
    if (!r) return { line: null, board: null };
    const left = seconds(r.ticksLeft, room);
    const me = v.players.find((p) => p.id === meId);
    const down = me?.respawn > 0 ? ` · you are down, back in ${seconds(me.respawn, room).toFixed(1)} s` : "";
    // The warm-up holds until MIN_FIGHTERS (rules.rs: 2) are seated; say so rather than show a
    // clock that does not run.
    const line = r.phase === 0 && v.players.length < 2 ? `Round ${r.round} · warm-up: waiting for another fighter`
      : r.phase === 0 ? `Round ${r.round} · warm-up ${clock(left)}`
      : r.phase === 1 ? `Round ${r.round} · ${clock(left)} · first to ${r.killsToWin}${down}`
        : `Round ${r.round} over · next in ${clock(left)}`;
    if (r.phase !== PHASE_OVER) return { line, board: null };
    const rows = [...v.players].sort((a, b) => b.score - a.score || a.id - b.id)
      .map((p) => ({ id: p.id, name: names.get(p.id) ?? `#${p.id}`, score: p.score, me: p.id === meId }));
    const best = rows[0];
    const title = !best || best.score === 0 ? `Round ${r.round}: no kills`
      : rows[1]?.score === best.score ? `Round ${r.round}: a draw` : `Round ${r.round}: ${best.name} wins`;
    return { line, board: { title, rows } };
  },

  debug: (v) => ({
    round: v.round ? { ...v.round, phaseName: PHASES[v.round.phase] ?? null } : null,
    bolts: v.bolts.length,
  }),
};
