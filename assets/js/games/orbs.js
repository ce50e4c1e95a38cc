// The orb arena (`orbs`, games/orbs) in the web client: its rules for prediction, how to read its
// snapshot (kinds `avatar`, `orb`), its input (`{seq, move}`) and its drawing. The framework
// (js/game.js) does the connection, the lobby, prediction, interpolation and the page; this module
// only says what is particular to the game. See js/games/index.js for the module's shape.

import { decodeFrame, kindLayout, readKind } from "../snapshot.js";
import { moveRules } from "../netcode.js";

// Copies of the constants in games/orbs/src/rules.rs; assets/tests/netcode.test.mjs reads that
// file to check.
export const ARENA_SIZE = 1000;
export const PLAYER_SPEED = 200;
export const PLAYER_RADIUS = 16;
export const ORB_RADIUS = 12;

export const rules = moveRules({ arenaSize: ARENA_SIZE, speed: PLAYER_SPEED, radius: PLAYER_RADIUS });

/** The kinds and fields this module reads (join ack `kinds`). */
const WANTED = { avatar: ["x", "y", "vx", "vy", "score"], orb: ["x", "y"] };

/** The layout of docs/protocol.md, for decoding without a join ack (tests, tools). */
export const DEFAULT_LAYOUT = kindLayout(
  [{ name: "avatar", fields: WANTED.avatar }, { name: "orb", fields: WANTED.orb }], WANTED);

/**
 * A decoded frame as the orb arena's snapshot: `{tick, serverTime, players: [{id, netId, x, y,
 * vx, vy, lastInputSeq, score}], orbs: [{id, x, y}]}` (an orb's `id` is its net id). Every seated
 * player has an avatar, so one missing is an error, except in a room with a `view_radius`: there
 * the server sends only the avatars near yours (docs/protocol.md, "Visibility and send rate"),
 * and a player whose avatar is out of view is left out.
 */
export function view(frame, layout = DEFAULT_LAYOUT, room = null) {
  const kinds = Object.keys(layout).length;
  if (frame.kinds.length !== kinds) throw new Error(`snapshot: the orb arena has ${kinds} kinds, got ${frame.kinds.length}`);
  const avatars = new Map(frame.kinds[layout.avatar.index].map((row) => [row.netId, row.fields]));
  const at = Object.fromEntries(layout.avatar.fields.map((name, i) => [name, i]));
  const players = [];
  frame.players.forEach(({ id, netId, lastInputSeq }, i) => {
    const fields = avatars.get(netId);
    if (!fields && room?.view_radius) return; // out of view
    if (!fields || fields.length !== layout.avatar.fields.length) {
      throw new Error(`snapshot: players[${i}] has no avatar of ${layout.avatar.fields.length} fields`);
    }
    players.push({ id, netId, x: fields[at.x], y: fields[at.y], vx: fields[at.vx], vy: fields[at.vy], lastInputSeq, score: fields[at.score] });
  });
  return {
    tick: frame.tick,
    serverTime: frame.serverTime,
    players,
    orbs: readKind(frame, layout.orb).map(({ id, x, y }, i) => {
      if (x === undefined) throw new Error(`snapshot: orbs[${i}] has no position`);
      return { id, x, y };
    }),
  };
}

/** bytes -> the orb arena's snapshot (docs/protocol.md layout). */
export const decodeSnapshot = (bytes) => view(decodeFrame(bytes));

function drawOrb(ctx, orb, pulse) {
  const glow = ctx.createRadialGradient(orb.x, orb.y, 0, orb.x, orb.y, ORB_RADIUS * 2.2 * pulse);
  glow.addColorStop(0, "rgba(253, 224, 71, 0.95)");
  glow.addColorStop(0.35, "rgba(250, 204, 21, 0.55)");
  glow.addColorStop(1, "rgba(250, 204, 21, 0)");
  ctx.fillStyle = glow;
  ctx.beginPath();
  ctx.arc(orb.x, orb.y, ORB_RADIUS * 2.2 * pulse, 0, Math.PI * 2);
  ctx.fill();
  ctx.fillStyle = "#fef9c3";
  ctx.beginPath();
  ctx.arc(orb.x, orb.y, ORB_RADIUS * 0.55, 0, Math.PI * 2);
  ctx.fill();
}

export default {
  name: "orbs",
  title: "Orb arena",
  help: "Move with WASD or the arrow keys (drag on touch screens). Every orb is a point.",
  arenaSize: ARENA_SIZE,
  createOptions: [], // the orb arena takes none
  rules,
  prediction: {},
  // Players never jump, so no snap distance; orbs are drawn where the latest snapshot has them
  // (a picked orb respawns elsewhere under the same net id: interpolating it would slide it).
  interpolation: { bounds: rules.bounds },
  layout: (kinds) => kindLayout(kinds, WANTED),
  view,
  moving: (v) => v.players.map((p) => ({ id: p.netId, x: p.x, y: p.y, vx: p.vx, vy: p.vy })),
  canMove: () => true,
  lobbyStatus: (metadata) => (metadata && Number.isFinite(metadata.top_score) ? `top score ${metadata.top_score}` : ""),

  /** The wire input for this tick (without `seq`); `active` inputs go every tick. */
  input({ controls }) {
    const move = controls.direction();
    return { payload: { move }, move, active: move[0] !== 0 || move[1] !== 0 };
  },

  draw(renderer, { view: v, sampled, me, names, away, timeMs }) {
    const ctx = renderer.begin(ARENA_SIZE);
    const pulse = 1 + 0.12 * Math.sin(timeMs / 220);
    for (const orb of v.orbs) drawOrb(ctx, orb, pulse);
    const players = v.players.map((p) => {
      const pos = p.id === me?.id && me.x !== undefined ? me : sampled.get(p.netId) ?? p;
      return { id: p.id, x: pos.x, y: pos.y, score: p.score, name: names.get(p.id), away: away.has(p.id) };
    });
    // Others first, you on top.
    players.sort((a, b) => (a.id === me?.id) - (b.id === me?.id));
    for (const p of players) {
      const isMe = p.id === me?.id;
      ctx.save();
      ctx.globalAlpha = p.away ? 0.4 : 1;
      renderer.drawDisc(p, isMe, PLAYER_RADIUS);
      renderer.drawLabel(p, isMe, PLAYER_RADIUS, `${p.name ?? `#${p.id}`}  ${p.score}`);
      ctx.restore();
    }
  },

  hud: () => ({ line: null, board: null }),
  debug: (v) => ({ orbs: v.orbs.length }),
};
