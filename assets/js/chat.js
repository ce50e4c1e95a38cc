// What the chat box sends (pure logic, no DOM, so node tests cover it): plain text is a `chat`
// to the room; `/w NAME TEXT` (or `/whisper`) is a `chat:whisper` to the member of that name
// (names are matched without case; a name with spaces can be quoted, `/w "Big Al" hi`). Also
// when to say `chat:typing`: `true` when typing starts and again every few seconds while it
// goes on (a receiver forgets it after 5 s), `false` once the box is empty or sent.

/** How often a `typing: true` is repeated while the player keeps typing. */
export const TYPING_REPEAT_MS = 3000;
/** How long a `player:typing {typing: true}` holds without a repeat (docs/protocol.md). */
export const TYPING_HOLD_MS = 5000;

/**
 * Reads the chat box. `members`: `Map<player_id, name>` of the room.
 * Returns `{kind: "chat", text}`, `{kind: "whisper", to, name, text}` or `{kind: "error", message}`.
 */
export function parseChatInput(raw, members) {
  const text = raw.trim();
  const command = /^\/(w|whisper)(\s+|$)/i.exec(text);
  if (!command) return { kind: "chat", text };
  const rest = text.slice(command[0].length);
  const quoted = /^"([^"]+)"\s*/.exec(rest);
  const [name, body] = quoted
    ? [quoted[1], rest.slice(quoted[0].length)]
    : [rest.split(/\s+/, 1)[0], rest.slice(rest.split(/\s+/, 1)[0].length).trim()];
  if (!name) return { kind: "error", message: "Whisper to whom? Write /w NAME your message" };
  const matches = [...members].filter(([, n]) => n.toLowerCase() === name.toLowerCase());
  if (matches.length === 0) return { kind: "error", message: `Nobody named "${name}" is in this room` };
  if (matches.length > 1) return { kind: "error", message: `${matches.length} players are named "${name}"` };
  if (!body.trim()) return { kind: "error", message: `Nothing to whisper to ${matches[0][1]}` };
  return { kind: "whisper", to: matches[0][0], name: matches[0][1], text: body.trim() };
}

/** When to send `chat:typing`. `due(now, typing)` returns the value to send now, or null. */
export class TypingSchedule {
  #sentTrueAt = null; // when `true` was last sent; null while not typing

  due(now, typing) {
    if (typing) {
      if (this.#sentTrueAt === null || now - this.#sentTrueAt >= TYPING_REPEAT_MS) {
        this.#sentTrueAt = now;
        return true;
      }
      return null;
    }
    if (this.#sentTrueAt === null) return null;
    this.#sentTrueAt = null;
    return false;
  }
}

/** Who is typing now: `Map<player_id, expiresAt>` updated from `player:typing`. */
export class TypingBoard {
  #until = new Map();

  heard(playerId, typing, now) {
    if (typing) this.#until.set(playerId, now + TYPING_HOLD_MS);
    else this.#until.delete(playerId);
  }

  /** A player spoke or left: no longer typing. */
  forget(playerId) {
    this.#until.delete(playerId);
  }

  /** The ids still typing at `now`, in the order they started. */
  typing(now) {
    for (const [id, until] of this.#until) if (until <= now) this.#until.delete(id);
    return [...this.#until.keys()];
  }
}
