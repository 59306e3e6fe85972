// The scanner-first movement flow as a pure state machine:
// scan item → Enter → quantity → Enter → recorded (or a clear error) → next scan.
// The scan is looked up meanwhile (`resolve`): a lot-tracked item asks its lot before
// the quantity, and a receipt the expiry date on the label too (a lot this device does
// not know is created with it). An unknown item is said at once.
// The screen feeds it events and performs the `submit` it returns; nothing here does I/O.

import type { Action, AdjustReason, ErrorBody, ItemRef, KindName, Op, ProductRef, Recorded } from "./bindings";
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

export type Step = "item" | "lot" | "expiry" | "qty" | "saving";

export interface State {
  step: Step;
  /** The scanned code, once scanned. */
  item: string | null;
  /** The lot, for a lot-tracked item. */
  lot: string | null;
  /** The expiry date on the lot's label (`YYYY-MM-DD`), typed at a receipt. */
  expiresOn: string | null;
  /** The quantity being recorded, while saving. */
  qty: number | null;
  feedback: Feedback | null;
}

export type Event =
  | { type: "scan"; raw: string }
  | { type: "resolved"; product: ProductRef }
  | { type: "unresolved"; error: ErrorBody }
  | { type: "lot"; raw: string }
  | { type: "expiry"; raw: string }
  | { type: "qty"; raw: string }
  | { type: "recorded"; recorded: Recorded }
  | { type: "failed"; error: ErrorBody }
  | { type: "escape" };

export interface Transition {
  state: State;
  /** The action to record, when this event completes one. */
  submit?: Action;
  /** Look up what a scan names (Replica::resolve_item), to ask a lot if it has lots. */
  resolve?: ItemRef;
}

export const initial: State = { step: "item", item: null, lot: null, expiresOn: null, qty: null, feedback: null };

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

/** Errors about the scanned item send the person back to scanning; about its lot, back
 * to the lot; others keep both. */
const ITEM_ERRORS = new Set(["unknown_product", "lot_not_tracked"]);
const LOT_ERRORS = new Set(["unknown_lot", "lot_required"]);

function refusal(error: ErrorBody): Feedback {
  const label = (messages.errors as Record<string, string>)[error.code] ?? messages.errors.generic;
  return { tone: "error", message: `${label}: ${error.message}` };
}

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
      return {
        state: { ...initial, step: "qty", item: scanned.value },
        resolve: { by: "scan", value: scanned.value },
      };
    }
    case "resolved":
      // Lots first, if the item has them and nothing was typed for it yet.
      if (state.step !== "qty" || !event.product.lot_tracked || state.lot !== null) return { state };
      return { state: { ...state, step: "lot" } };
    case "unresolved":
      if (state.step === "item" || state.step === "saving") return { state };
      return { state: { ...initial, feedback: refusal(event.error) } };
    case "lot": {
      if (state.step !== "lot") return { state };
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      // As printed: lot codes are case-sensitive.
      const step = form.kind === "receive" ? "expiry" : "qty";
      return { state: { ...state, step, lot: scanned.value, feedback: null } };
    }
    case "expiry": {
      if (state.step !== "expiry") return { state };
      const typed = event.raw.trim();
      return { state: { ...state, step: "qty", expiresOn: typed === "" ? null : typed, feedback: null } };
    }
    case "qty": {
      if (state.step !== "qty" || state.item === null) return { state };
      const parsed = parseQty(event.raw, { signed: form.kind === "adjust" });
      if (!parsed.ok) return { state: error(state, parsed.error) };
      const action: Action = {
        item: { by: "scan", value: state.item },
        lot: state.lot,
        ...(state.lot !== null && state.expiresOn !== null ? { expires_on: state.expiresOn } : {}),
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
      const feedback = refusal(event.error);
      const { code } = event.error;
      if (ITEM_ERRORS.has(code)) return { state: { ...initial, feedback } };
      // The lot (or, for a receipt, its date: `invalid_input` once a lot was given) is
      // typed again; the quantity field keeps what was typed.
      if (LOT_ERRORS.has(code) || (code === "invalid_input" && state.lot !== null && form.kind === "receive")) {
        return { state: { ...state, step: "lot", lot: null, expiresOn: null, qty: null, feedback } };
      }
      return { state: { ...state, step: "qty", qty: null, feedback } };
    }
  }
}
