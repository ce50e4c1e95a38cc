// The player's devices, for every game: keyboard (WASD and arrows) and touch (drag anywhere on
// the arena: a virtual stick centred where the finger went down) turned into a `move: [x, y]`
// direction; the mouse pointer over the arena (a game aims with it) and a trigger held with the
// mouse button or Space. A game module (js/games/) turns these into its input payload.

const KEYS = {
  KeyW: [0, -1], ArrowUp: [0, -1],
  KeyS: [0, 1], ArrowDown: [0, 1],
  KeyA: [-1, 0], ArrowLeft: [-1, 0],
  KeyD: [1, 0], ArrowRight: [1, 0],
};
// Finger travel (CSS px) that means full speed.
const STICK_RADIUS = 48;

const typing = () => {
  const el = document.activeElement;
  return el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA");
};

export class Controls {
  #held = new Set();
  #touch = null; // {id, x0, y0, x, y}
  #mouse = null; // {x, y} page coordinates of the mouse over the arena
  #mouseDown = false;
  #space = false;
  #onChat = () => {};

  constructor(surface) {
    addEventListener("keydown", (e) => {
      if (typing()) {
        if (e.code === "Escape") document.activeElement.blur();
        return;
      }
      if (e.code === "Enter") {
        e.preventDefault();
        this.#onChat();
        return;
      }
      if (KEYS[e.code]) {
        this.#held.add(e.code);
        e.preventDefault();
      }
      if (e.code === "Space") {
        this.#space = true;
        e.preventDefault(); // no page scroll, no click on a focused button
      }
    });
    addEventListener("keyup", (e) => {
      this.#held.delete(e.code);
      if (e.code === "Space") this.#space = false;
    });
    // A key or button released while the window had no focus never sends its up event.
    addEventListener("blur", () => {
      this.#held.clear();
      this.#space = false;
      this.#mouseDown = false;
    });
    addEventListener("pointerup", (e) => { if (e.pointerType === "mouse") this.#mouseDown = false; });
    surface.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse") {
        this.#mouse = { x: e.clientX, y: e.clientY };
        if (e.button === 0) this.#mouseDown = true;
        return;
      }
      // Keeps the drag when the finger leaves the canvas; not fatal where capture is refused.
      try { surface.setPointerCapture(e.pointerId); } catch { /* drag still works inside */ }
      this.#touch = { id: e.pointerId, x0: e.clientX, y0: e.clientY, x: e.clientX, y: e.clientY };
    });
    surface.addEventListener("pointermove", (e) => {
      if (e.pointerType === "mouse") this.#mouse = { x: e.clientX, y: e.clientY };
      if (this.#touch?.id === e.pointerId) Object.assign(this.#touch, { x: e.clientX, y: e.clientY });
    });
    const end = (e) => { if (this.#touch?.id === e.pointerId) this.#touch = null; };
    surface.addEventListener("pointerup", end);
    surface.addEventListener("pointercancel", end);
  }

  /** Called when Enter is pressed outside a text field. */
  onChatKey(fn) {
    this.#onChat = fn;
  }

  /** Where the mouse last was over the arena (page coordinates), or null before it came. */
  pointer() {
    return this.#mouse;
  }

  /** The trigger: the left mouse button (pressed on the arena) or Space held. */
  firing() {
    return this.#mouseDown || this.#space;
  }

  /** The current direction; each component in -1..1, rounded so unchanged input compares equal. */
  direction() {
    if (this.#touch) {
      const dx = (this.#touch.x - this.#touch.x0) / STICK_RADIUS;
      const dy = (this.#touch.y - this.#touch.y0) / STICK_RADIUS;
      const len = Math.hypot(dx, dy);
      if (len < 0.15) return [0, 0];
      const k = Math.min(1, len) / len;
      return [round(dx * k), round(dy * k)];
    }
    let x = 0;
    let y = 0;
    for (const code of this.#held) {
      x += KEYS[code][0];
      y += KEYS[code][1];
    }
    x = Math.max(-1, Math.min(1, x));
    y = Math.max(-1, Math.min(1, y));
    // Diagonals are capped at length 1 by the server too; send what it will apply.
    const len = Math.hypot(x, y);
    return len > 1 ? [round(x / len), round(y / len)] : [x, y];
  }
}

const round = (v) => Math.round(v * 1000) / 1000;
