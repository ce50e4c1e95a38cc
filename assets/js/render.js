// Draws the arena on a canvas: grid floor, glowing orbs, players with names and scores, a ring
// around your own player. Pure drawing: it gets positions, it keeps no game state.
import { ARENA_SIZE, ORB_RADIUS, PLAYER_RADIUS } from "./netcode.js";

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
    this.floor = null; // the static grid, drawn once per size
  }

  /** Fits the canvas (a square) into its parent, sharp on high-DPI screens. */
  resize() {
    const parent = this.canvas.parentElement;
    const side = Math.max(200, Math.floor(Math.min(parent.clientWidth, parent.clientHeight)));
    const dpr = window.devicePixelRatio || 1;
    if (this.canvas.width === side * dpr) return;
    this.canvas.style.width = `${side}px`;
    this.canvas.style.height = `${side}px`;
    this.canvas.width = side * dpr;
    this.canvas.height = side * dpr;
    this.scale = (side * dpr) / ARENA_SIZE;
    this.floor = this.drawFloor();
  }

  drawFloor() {
    const floor = document.createElement("canvas");
    floor.width = this.canvas.width;
    floor.height = this.canvas.height;
    const g = floor.getContext("2d");
    const s = this.scale;
    const bg = g.createRadialGradient(500 * s, 500 * s, 50 * s, 500 * s, 500 * s, 750 * s);
    bg.addColorStop(0, "#0f1a33");
    bg.addColorStop(1, "#060a14");
    g.fillStyle = bg;
    g.fillRect(0, 0, floor.width, floor.height);
    for (let u = 0; u <= ARENA_SIZE; u += 50) {
      g.strokeStyle = u % 250 === 0 ? "rgba(56, 189, 248, 0.16)" : "rgba(56, 189, 248, 0.06)";
      g.lineWidth = Math.max(1, s);
      g.beginPath();
      g.moveTo(u * s, 0); g.lineTo(u * s, ARENA_SIZE * s);
      g.moveTo(0, u * s); g.lineTo(ARENA_SIZE * s, u * s);
      g.stroke();
    }
    g.strokeStyle = "rgba(34, 211, 238, 0.55)";
    g.lineWidth = 3 * s;
    g.shadowColor = "#22d3ee";
    g.shadowBlur = 18 * s;
    g.strokeRect(1.5 * s, 1.5 * s, (ARENA_SIZE - 3) * s, (ARENA_SIZE - 3) * s);
    return floor;
  }

  /**
   * @param {{orbs: {x,y}[], players: {id,x,y,name,score,away}[], meId: number|null, timeMs: number}} scene
   */
  draw(scene) {
    this.resize();
    const { ctx } = this;
    const s = this.scale;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(this.floor, 0, 0);
    ctx.setTransform(s, 0, 0, s, 0, 0);
    const pulse = 1 + 0.12 * Math.sin(scene.timeMs / 220);
    for (const orb of scene.orbs) this.drawOrb(orb, pulse);
    // Others first, you on top.
    const players = [...scene.players].sort((a, b) => (a.id === scene.meId) - (b.id === scene.meId));
    for (const p of players) this.drawPlayer(p, p.id === scene.meId);
  }

  drawOrb(orb, pulse) {
    const { ctx } = this;
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

  drawPlayer(p, isMe) {
    const { ctx } = this;
    const color = playerColor(p.id);
    ctx.save();
    ctx.globalAlpha = p.away ? 0.4 : 1;
    ctx.shadowColor = color;
    ctx.shadowBlur = isMe ? 26 : 14;
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(p.x, p.y, PLAYER_RADIUS, 0, Math.PI * 2);
    ctx.fill();
    ctx.shadowBlur = 0;
    ctx.fillStyle = "rgba(255, 255, 255, 0.35)";
    ctx.beginPath();
    ctx.arc(p.x - 5, p.y - 5, PLAYER_RADIUS * 0.38, 0, Math.PI * 2);
    ctx.fill();
    if (isMe) {
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 2.5;
      ctx.beginPath();
      ctx.arc(p.x, p.y, PLAYER_RADIUS + 5, 0, Math.PI * 2);
      ctx.stroke();
    }
    // Labels stay 13 CSS pixels tall whatever the canvas size.
    const cssScale = this.scale / (window.devicePixelRatio || 1);
    ctx.font = `600 ${(13 / cssScale).toFixed(1)}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.lineWidth = 4 / cssScale;
    ctx.strokeStyle = "rgba(6, 10, 20, 0.85)";
    const label = `${p.name ?? `#${p.id}`}  ${p.score}`;
    // Above the player, or below it when the top wall would cut the label off.
    const above = p.y - PLAYER_RADIUS - 10;
    const labelY = above < 18 / cssScale ? p.y + PLAYER_RADIUS + 18 / cssScale : above;
    ctx.strokeText(label, p.x, labelY);
    ctx.fillStyle = isMe ? "#ffffff" : "#dbe4f3";
    ctx.fillText(label, p.x, labelY);
    ctx.restore();
  }
}
