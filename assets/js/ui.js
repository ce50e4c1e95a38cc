// DOM updates of the game page: screens, status badge, lobby table, scoreboard and chat. All
// text from the server goes in through textContent, never as HTML.
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

export function renderRooms(rooms, onJoin) {
  const body = $("room-list");
  body.replaceChildren(...rooms.map((room) => {
    const full = room.players >= room.max_players;
    const bar = el("span");
    bar.style.width = `${Math.round((100 * room.players) / room.max_players)}%`;
    const button = el("button", { className: "small", textContent: full ? "Full" : "Join", disabled: full });
    button.addEventListener("click", () => onJoin(room.id));
    const row = el("tr", {},
      el("td", { textContent: room.name }),
      el("td", { textContent: room.game ?? "" }),
      el("td", {}, `${room.players} / ${room.max_players}`, el("span", { className: "seats" }, bar)),
      el("td", { textContent: `${room.tick_rate} Hz` }),
      el("td", {}, button));
    row.dataset.roomId = room.id;
    return row;
  }));
  $("no-rooms").hidden = rooms.length > 0;
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

export function clearChat() {
  $("chat-log").replaceChildren();
}

/** `{player_id, name, text}` from the server, or `{system: true, text}` from the page. */
export function appendChat(message, fromMe = false) {
  const log = $("chat-log");
  const item = message.system
    ? el("li", { className: "system", textContent: message.text })
    : el("li", {}, el("span", { className: "from", textContent: `${message.name}${fromMe ? " (you)" : ""}` }), message.text);
  if (!message.system) item.querySelector(".from").style.color = playerColor(message.player_id);
  log.append(item);
  while (log.children.length > 100) log.firstChild.remove();
  log.scrollTop = log.scrollHeight;
}
