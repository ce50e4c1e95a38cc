// The games this web client can show, by the server's game name (`RoomInfo.game`). The lobby
// offers the ones the server hosts too (`GET /healthz` lists them); a room of a game missing here
// is listed but cannot be joined from this page.
//
// A game module's default export (see orbs.js, blasters.js):
//   name, title, help            the game's name on the wire, and words for the page
//   arenaSize                    world units of the square arena
//   createOptions                [{key, label, min, max, value}]: the create form's fields
//   rules, prediction            moveRules(...) and Predictor options (own movement)
//   interpolation                Interpolator options (bounds, angles, snapDistance)
//   layout(kinds)                the join ack's kinds -> what view() needs (throws on mismatch)
//   view(frame, layout, room)    a decoded frame -> the game's snapshot; its `players` are the
//                                envelope's players ({id, netId, lastInputSeq}) with x, y, score
//   moving(view)                 the entities to interpolate ({id: net id, x, y, vx?, vy?, ...})
//   canMove(view, serverMe)      false while your own entity cannot move (prediction hook)
//   input({controls, renderer, me, view})  -> {payload (no seq), move, active}
//   draw(renderer, scene)        scene: {view, sampled, me, names, away, timeMs, room}
//   hud(view, {names, meId, room}) -> {line, board}: the line over the arena, a board or null
//   lobbyStatus(metadata)        the lobby's words for a room's metadata
//   debug(view)                  extra fields for window.tickstorm.state() (tests)

import orbs from "./orbs.js";
import blasters from "./blasters.js";

export const GAMES = new Map([orbs, blasters].map((g) => [g.name, g]));

/** The module for a room's game, or undefined. */
export const gameFor = (name) => GAMES.get(name);
