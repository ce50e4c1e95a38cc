// DOM updates of the game page: screens, status badge, lobby (game selector, create options, room
// table), scoreboard, the game's line and board over the arena, and chat. All text from the
// server goes in through textContent, never as HTML.
import { playerColor } from "./render.js";

const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

export function showScreen(name) {
  for (const screen of ["name", "lobby", "game"]) $(`screen-${screen}`).hidden = screen !== name;
}

export function showError(id, message) {
  $(id).textContent = message ?? "";
}

export function onSubmit(formId, fn) {
  $(formId).addEventListener("submit", (e) => {
    e.preventDefault();
    fn();
  });
}

const STATUS_TEXT = { connected: "online", connecting: "connecting", reconnecting: "reconnecting", disconnected: "offline" };
export function setStatus(status) {
  const badge = $("status");
  badge.dataset.status = status;
  badge.textContent = STATUS_TEXT[status] ?? status;
}

export function setPing(ms) {
  $("ping").textContent = Number.isFinite(ms) ? `ping ${Math.round(ms)} ms` : "ping --";
}

/** Shows a message over the arena, or hides it with `null`. */
export function banner(message) {
  const b = $("banner");
  b.hidden = !message;
  b.textContent = message ?? "";
}

export function showRoom(room) {
  const label = $("room-label");
  label.hidden = !room;
  label.textContent = room ? `${room.name} · ${room.tick_rate} Hz` : "";
}

/** `games`: the game modules this page can play and the server hosts, the default first. */
export function renderGameChoice(games, selected) {
  const select = $("game-select");
  select.replaceChildren(...games.map((g) => el("option", { value: g.name, textContent: g.title, selected: g.name === selected })));
}

/** The selected game's create options as number inputs (`create-opt-<key>`). */
export function renderCreateOptions(game) {
  $("create-options").replaceChildren(...(game?.createOptions ?? []).map((o) => {
    const input = el("input", { id: `create-opt-${o.key}`, type: "number", min: o.min, max: o.max, step: 1, value: o.value, title: o.label });
    input.dataset.option = o.key;
    return el("label", { className: "option" }, o.label, input);
  }));
}

/** The create options as entered: `{key: number}` of the fields that hold a number. */
export function readCreateOptions() {
  const options = {};
  for (const input of $("create-options").querySelectorAll("input[data-option]")) {
    if (input.value.trim() !== "" && Number.isFinite(Number(input.value))) options[input.dataset.option] = Number(input.value);
  }
  return options;
}

/** `gameFor(name)` -> the game module or undefined: a room of an unknown game cannot be joined here. */
export function renderRooms(rooms, onJoin, gameFor) {
  const body = $("room-list");
  body.replaceChildren(...rooms.map((room) => {
    const full = room.players >= room.max_players;
    const game = gameFor(room.game);
    const bar = el("span");
    bar.style.width = `${Math.round((100 * room.players) / room.max_players)}%`;
    const button = el("button", { className: "small", textContent: full ? "Full" : game ? "Join" : "No client", disabled: full || !game });
    button.addEventListener("click", () => onJoin(room.id));
    const status = game?.lobbyStatus(room.metadata) ?? "";
    const row = el("tr", {},
      el("td", { textContent: room.name }),
      el("td", {}, el("span", { className: "game-name", textContent: game?.title ?? room.game ?? "" }),
        status ? el("small", { className: "muted game-status", textContent: status }) : ""),
      el("td", {}, `${room.players} / ${room.max_players}`, el("span", { className: "seats" }, bar)),
      el("td", { textContent: `${room.tick_rate} Hz` }),
      el("td", {}, button));
    row.dataset.roomId = room.id;
    row.dataset.game = room.game ?? "";
    return row;
  }));
  $("no-rooms").hidden = rooms.length > 0;
}

/** The game's line over the arena (round, timer), or hidden with null. */
export function setHud(line) {
  const hud = $("game-hud");
  hud.hidden = !line;
  hud.textContent = line ?? "";
}

/** The game's board over the arena (`{title, rows: [{id, name, score, me}]}`), or hidden with null. */
export function showBoard(board) {
  const box = $("game-board");
  box.hidden = !board;
  if (!board) return;
  $("game-board-title").textContent = board.title;
  $("game-board-rows").replaceChildren(...board.rows.map((r) => {
    const dot = el("span", { className: "dot" });
    dot.style.background = playerColor(r.id);
    return el("li", { className: r.me ? "me" : "" }, dot,
      el("span", { className: "who", textContent: `${r.name}${r.me ? " (you)" : ""}` }),
      el("span", { className: "pts", textContent: String(r.score) }));
  }));
}

export function renderScoreboard(players, meId) {
  const sorted = [...players].sort((a, b) => b.score - a.score || a.id - b.id);
  $("scoreboard").replaceChildren(...sorted.map((p) => {
    const dot = el("span", { className: "dot" });
    dot.style.background = playerColor(p.id);
    const classes = [p.id === meId ? "me" : "", p.away ? "away" : ""].filter(Boolean).join(" ");
    return el("li", { className: classes },
      dot,
      el("span", { className: "who", textContent: `${p.name ?? `#${p.id}`}${p.id === meId ? " (you)" : ""}` }),
      el("span", { className: "pts", textContent: String(p.score) }));
  }));
}

/** "ana is typing...", "ana and bob are typing...", or nothing. */
export function setTyping(names) {
  const text = names.length === 0 ? "" : names.length === 1 ? `${names[0]} is typing...`
    : `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing...`;
  $("typing").textContent = text;
}

/** The lobby's line on who is online (`lobby:online`'s ack). */
export function renderOnline({ players, connections, games }) {
  const perGame = Object.entries(games ?? {}).map(([game, n]) => `${game} ${n}`).join(", ");
  $("online").textContent = `${connections} online, ${players} playing${perGame ? ` (${perGame})` : ""}`;
}

export function clearChat() {
  $("chat-log").replaceChildren();
  setTyping([]);
}

/**
 * `{player_id, name, text}` from the server (`whisper: "from"` for one received, `"to"` for
 * one sent, then `name` is the receiver's), `{system: true, text}` from the page, or
 * `{notice: level, text}` from the server's operators.
 */
export function appendChat(message, fromMe = false) {
  const log = $("chat-log");
  let item;
  if (message.notice) {
    item = el("li", { className: `notice notice-${message.notice}`, textContent: `Notice: ${message.text}` });
  } else if (message.system) {
    item = el("li", { className: "system", textContent: message.text });
  } else {
    const from = message.whisper === "to" ? `to ${message.name}` : `${message.name}${fromMe ? " (you)" : ""}`;
    const label = message.whisper ? `${from} (whisper)` : from;
    item = el("li", { className: message.whisper ? "whisper" : "" }, el("span", { className: "from", textContent: label }), message.text);
    item.querySelector(".from").style.color = playerColor(message.player_id);
  }
  log.append(item);
  while (log.children.length > 100) log.firstChild.remove();
  log.scrollTop = log.scrollHeight;
}
