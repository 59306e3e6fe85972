// The scanner-first movement flow as a pure state machine:
// scan item → Enter → quantity → Enter → recorded (or a clear error) → next scan.
// The screen feeds it events and performs the `submit` it returns; nothing here does I/O.

import type { Action, AdjustReason, ErrorBody, KindName, Op, Recorded } from "./bindings";
import { fill, messages } from "./i18n";
import { parseQty, parseScan } from "./scan";
import { formatQty } from "./format";

/** The kinds this screen records (core's names; counts have their own screen). */
export type Kind = Exclude<KindName, "count">;

export const KINDS: readonly Kind[] = ["receive", "ship", "transfer", "adjust"];

/** The fields that stay put between scans: the movement kind and its bins. */
export interface Form {
  kind: Kind;
  /** Source bin (ship, transfer). */
  from: string;
  /** Destination bin (receive, transfer) or the adjusted bin (adjust). */
  to: string;
  reason: AdjustReason;
}

export type Tone = "ok" | "warn" | "error";

export interface Feedback {
  tone: Tone;
  message: string;
}

export type Step = "item" | "qty" | "saving";

export interface State {
  step: Step;
  /** The scanned code, once scanned. */
  item: string | null;
  /** The quantity being recorded, while saving. */
  qty: number | null;
  feedback: Feedback | null;
}

export type Event =
  | { type: "scan"; raw: string }
  | { type: "qty"; raw: string }
  | { type: "recorded"; recorded: Recorded }
  | { type: "failed"; error: ErrorBody }
  | { type: "escape" };

export interface Transition {
  state: State;
  /** The action to record, when this event completes one. */
  submit?: Action;
}

export const initial: State = { step: "item", item: null, qty: null, feedback: null };

/** Which bins a kind needs, as `Form` field names. */
export function binsNeeded(kind: Kind): ("from" | "to")[] {
  switch (kind) {
    case "receive":
    case "adjust":
      return ["to"];
    case "ship":
      return ["from"];
    case "transfer":
      return ["from", "to"];
  }
}

function op(form: Form, qty: number): Op {
  switch (form.kind) {
    case "receive":
      return { kind: "receive", to: form.to.trim(), qty };
    case "ship":
      return { kind: "ship", from: form.from.trim(), qty };
    case "transfer":
      return { kind: "transfer", from: form.from.trim(), to: form.to.trim(), qty };
    case "adjust":
      return { kind: "adjust", at: form.to.trim(), delta: qty, reason: form.reason };
  }
}

function error(state: State, message: string): State {
  return { ...state, feedback: { tone: "error", message } };
}

/** Errors about the scanned item send the person back to scanning; others keep it. */
const ITEM_ERRORS = new Set(["unknown_product", "unknown_lot", "lot_required"]);

export function next(state: State, event: Event, form: Form): Transition {
  switch (event.type) {
    case "escape":
      return { state: initial };
    case "scan": {
      if (state.step !== "item") return { state };
      if (binsNeeded(form.kind).some((field) => form[field].trim() === "")) {
        return { state: error(state, messages.movement.binMissing) };
      }
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      return { state: { step: "qty", item: scanned.value, qty: null, feedback: null } };
    }
    case "qty": {
      if (state.step !== "qty" || state.item === null) return { state };
      const parsed = parseQty(event.raw, { signed: form.kind === "adjust" });
      if (!parsed.ok) return { state: error(state, parsed.error) };
      const action: Action = {
        item: { by: "scan", value: state.item },
        lot: null,
        warehouse: null,
        reference: null,
        op: op(form, parsed.value),
      };
      return { state: { ...state, step: "saving", qty: parsed.value, feedback: null }, submit: action };
    }
    case "recorded": {
      if (state.step !== "saving") return { state };
      const { recorded } = event;
      const kindName = messages.movement[form.kind];
      let message = fill(messages.movement.recorded, {
        seq: recorded.seq,
        kind: kindName,
        qty: formatQty(state.qty ?? 0),
        item: state.item ?? "",
      });
      const warnings = recorded.warnings.map((w) => w.message);
      let tone: Tone = "ok";
      if (recorded.projected !== "applied") {
        warnings.unshift(fill(messages.movement.recordedHeld, { projected: recorded.projected }));
      }
      if (warnings.length > 0) {
        tone = "warn";
        message = `${message}. ${warnings.join(". ")}`;
      }
      return { state: { ...initial, feedback: { tone, message } } };
    }
    case "failed": {
      if (state.step !== "saving") return { state };
      const { code, message } = event.error;
      const label = (messages.errors as Record<string, string>)[code] ?? messages.errors.generic;
      const feedback: Feedback = { tone: "error", message: `${label}: ${message}` };
      if (ITEM_ERRORS.has(code)) return { state: { ...initial, feedback } };
      return { state: { ...state, step: "qty", qty: null, feedback } };
    }
  }
}
