// The canvas every game draws on: sized to its parent (a square, sharp on high-DPI screens),
// the grid floor, and the drawing pieces the games share (a glowing player disc with its name
// label, a colour per player). Pure drawing: it gets positions, it keeps no game state. Each
// game module (js/games/) draws its own scene with these.

/** A stable, well-spread colour per player id (golden-angle hue steps). */
export function playerColor(id) {
  const hue = (id * 137.508) % 360;
  return `hsl(${hue.toFixed(1)}, 85%, 62%)`;
}

export class ArenaRenderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.scale = 1;
    this.arenaSize = 1000;
    this.floor = null; // the static grid, drawn once per size
  }

  /** Fits the canvas (a square) into its parent, for an arena of `arenaSize` world units. */
  resize(arenaSize) {
    const parent = this.canvas.parentElement;
    const side = Math.max(200, Math.floor(Math.min(parent.clientWidth, parent.clientHeight)));
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width === side * dpr && this.arenaSize === arenaSize && this.floor) return;
    this.canvas.style.width = `${side}px`;
    this.canvas.style.height = `${side}px`;
    this.canvas.width = side * dpr;
    this.canvas.height = side * dpr;
    this.arenaSize = arenaSize;
    this.scale = (side * dpr) / arenaSize;
    this.floor = this.drawFloor();
  }

  drawFloor() {
    const floor = document.createElement("canvas");
    floor.width = this.canvas.width;
    floor.height = this.canvas.height;
    const g = floor.getContext("2d");
    const s = this.scale;
    const size = this.arenaSize;
    const mid = size / 2;
    const bg = g.createRadialGradient(mid * s, mid * s, 0.05 * size * s, mid * s, mid * s, 0.75 * size * s);
    bg.addColorStop(0, "#0f1a33");
    bg.addColorStop(1, "#060a14");
    g.fillStyle = bg;
    g.fillRect(0, 0, floor.width, floor.height);
    for (let u = 0; u <= size; u += 50) {
      g.strokeStyle = u % 250 === 0 ? "rgba(56, 189, 248, 0.16)" : "rgba(56, 189, 248, 0.06)";
      g.lineWidth = Math.max(1, s);
      g.beginPath();
      g.moveTo(u * s, 0); g.lineTo(u * s, size * s);
      g.moveTo(0, u * s); g.lineTo(size * s, u * s);
      g.stroke();
    }
    g.strokeStyle = "rgba(34, 211, 238, 0.55)";
    g.lineWidth = 3 * s;
    g.shadowColor = "#22d3ee";
    g.shadowBlur = 18 * s;
    g.strokeRect(1.5 * s, 1.5 * s, (size - 3) * s, (size - 3) * s);
    return floor;
  }

  /** Clears to the floor and leaves the context in world units; returns the context. */
  begin(arenaSize) {
    this.resize(arenaSize);
    const { ctx } = this;
    const s = this.scale;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.floor, 0, 0);
    ctx.setTransform(s, 0, 0, s, 0, 0);
    return ctx;
  }

  /** World units per CSS pixel, so labels stay the same size on screen whatever the canvas. */
  get cssScale() {
    return this.scale / (window.devicePixelRatio || 1);
  }

  /** The world position under a point of the page (clientX, clientY). */
  toWorld(clientX, clientY) {
    const box = this.canvas.getBoundingClientRect();
    const k = this.arenaSize / Math.max(1, box.width);
    return { x: (clientX - box.left) * k, y: (clientY - box.top) * k };
  }

  /** A glowing disc of the player's colour, your own ringed in white. */
  drawDisc(p, isMe, radius) {
    const { ctx } = this;
    const color = playerColor(p.id);
    ctx.shadowColor = color;
    ctx.shadowBlur = isMe ? 26 : 14;
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(p.x, p.y, radius, 0, Math.PI * 2);
    ctx.fill();
    ctx.shadowBlur = 0;
    ctx.fillStyle = "rgba(255, 255, 255, 0.35)";
    ctx.beginPath();
    ctx.arc(p.x - 5, p.y - 5, radius * 0.38, 0, Math.PI * 2);
    ctx.fill();
    if (isMe) {
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      ctx.arc(p.x, p.y, radius + 5, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  /** A label 13 CSS pixels tall above the player (below it when the top wall would cut it). */
  drawLabel(p, isMe, radius, label, gap = 10) {
    const { ctx } = this;
    const cssScale = this.cssScale;
    ctx.font = `600 ${(13 / cssScale).toFixed(1)}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.lineWidth = 4 / cssScale;
    ctx.strokeStyle = "rgba(6, 10, 20, 0.85)";
    const above = p.y - radius - gap;
    const labelY = above < 18 / cssScale ? p.y + radius + 18 / cssScale : above;
    ctx.strokeText(label, p.x, labelY);
    ctx.fillStyle = isMe ? "#ffffff" : "#dbe4f3";
    ctx.fillText(label, p.x, labelY);
  }
}
