// The chat box's commands and the typing indicator's timing (js/chat.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { TYPING_HOLD_MS, TYPING_REPEAT_MS, TypingBoard, TypingSchedule, parseChatInput } from "../js/chat.js";

const members = new Map([[1, "ana"], [2, "Bob"], [3, "Big Al"]]);

test("plain text is a chat to the room", () => {
  assert.deepEqual(parseChatInput("  hello  ", members), { kind: "chat", text: "hello" });
  assert.deepEqual(parseChatInput("/wave", members), { kind: "chat", text: "/wave" });
});

test("/w NAME TEXT whispers to that member, names without case, quoted names with spaces", () => {
  assert.deepEqual(parseChatInput("/w bob  meet me at the orb", members), { kind: "whisper", to: 2, name: "Bob", text: "meet me at the orb" });
  assert.deepEqual(parseChatInput("/whisper ANA hi", members), { kind: "whisper", to: 1, name: "ana", text: "hi" });
  assert.deepEqual(parseChatInput('/w "big al" psst', members), { kind: "whisper", to: 3, name: "Big Al", text: "psst" });
});

test("a whisper to nobody, to an unknown or ambiguous name, or with no text says why", () => {
  assert.match(parseChatInput("/w", members).message, /Whisper to whom/);
  assert.match(parseChatInput("/w zed hi", members).message, /Nobody named "zed"/);
  assert.match(parseChatInput("/w bob   ", members).message, /Nothing to whisper to Bob/);
  const twins = new Map([[1, "Sam"], [2, "sam"]]);
  assert.match(parseChatInput("/w sam hi", twins).message, /2 players are named "sam"/);
});

test("typing: true at the start, repeated every few seconds, false once, nothing in between", () => {
  const s = new TypingSchedule();
  assert.equal(s.due(0, false), null, "not typing, never said");
  assert.equal(s.due(100, true), true);
  assert.equal(s.due(200, true), null);
  assert.equal(s.due(100 + TYPING_REPEAT_MS, true), true, "repeated before receivers forget it");
  assert.ok(TYPING_REPEAT_MS < TYPING_HOLD_MS);
  assert.equal(s.due(5000, false), false);
  assert.equal(s.due(5100, false), null, "false only once");
});

test("the typing board forgets a player after the hold, on false, or when told", () => {
  const b = new TypingBoard();
  b.heard(7, true, 0);
  b.heard(8, true, 1000);
  assert.deepEqual(b.typing(1000), [7, 8]);
  assert.deepEqual(b.typing(TYPING_HOLD_MS), [8], "7 expired");
  b.heard(8, false, 2000);
  assert.deepEqual(b.typing(2000), []);
  b.heard(9, true, 0);
  b.forget(9);
  assert.deepEqual(b.typing(0), []);
});
