// Receiving against a purchase order, scanner first, as a pure state machine:
// choose the order (scan its number, or pick it from the list) → scan the receiving bin
// once (it stays for the next items) → scan an item, which the replica resolves against
// the order's lines → its lot, for a lot-tracked product, and the expiry date on its
// label (Enter alone: none; a lot the device does not know yet is created with it, and
// a known lot keeps its own date, with a warning) → the quantity (offered: what
// the line still expects) → Enter records a receipt naming the line. More than the line
// still expects is said first and recorded only on a second Enter (the server flags an
// over-receipt, but it happened, so it must stay possible); an item not on the order is
// refused and nothing is recorded.
// The screen feeds it events and performs the effects it returns; nothing here does I/O.

import type { Action, ErrorBody, ItemRef, LineMatch, PurchaseLineView, PurchaseOrderView, Recorded } from "./bindings";
import { formatQty } from "./format";
import { fill, messages } from "./i18n";
import type { Feedback } from "./movement";
import { confirmed, errorFeedback, lineAction, recordedFeedback, sameCode } from "./orders";
import { parseQty, parseScan } from "./scan";

export type ReceiveStep = "order" | "bin" | "item" | "matching" | "lot" | "expiry" | "qty" | "saving";

export interface ReceiveState {
  /** The open purchase orders, as last read. */
  orders: PurchaseOrderView[];
  /** The order being received. */
  order: PurchaseOrderView | null;
  step: ReceiveStep;
  /** The receiving bin: kept from item to item. */
  bin: string | null;
  /** The scanned item and the line it is received against. */
  match: LineMatch | null;
  lot: string | null;
  /** The lot's expiry date as typed (`YYYY-MM-DD`), or null. */
  expiresOn: string | null;
  /** A quantity beyond the line's open one, said once and waiting for Enter again. */
  over: number | null;
  /** The quantity being recorded. */
  qty: number | null;
  feedback: Feedback | null;
}

export type ReceiveEvent =
  | { type: "orders"; orders: PurchaseOrderView[] }
  | { type: "order"; raw: string }
  | { type: "bin"; raw: string }
  | { type: "scan"; raw: string }
  | { type: "matched"; match: LineMatch }
  | { type: "lot"; raw: string }
  | { type: "expiry"; raw: string }
  | { type: "qty"; raw: string }
  | { type: "recorded"; recorded: Recorded }
  | { type: "failed"; error: ErrorBody }
  | { type: "escape" }
  | { type: "other" };

export interface ReceiveTransition {
  state: ReceiveState;
  /** Find the order's line for a scanned item (Replica::receiving_line). */
  match?: { order: string; item: ItemRef };
  /** Record the receipt (Replica::record). */
  submit?: Action;
}

export const start: ReceiveState = {
  orders: [],
  order: null,
  step: "order",
  bin: null,
  match: null,
  lot: null,
  expiresOn: null,
  over: null,
  qty: null,
  feedback: null,
};

const m = () => messages.receiving;

/** A line's progress: received on the server and here, against what was ordered. */
export interface LineProgress {
  received: number;
  ordered: number;
  open: number;
  /** Received beyond the order (flagged by the server). */
  over: boolean;
}

export function lineProgress(line: PurchaseLineView): LineProgress {
  const received = line.received + line.received_here;
  return { received, ordered: line.qty, open: line.open, over: received > line.qty };
}

/** The order's progress over all its lines: lines complete of lines. */
export function orderProgress(order: PurchaseOrderView): { complete: number; lines: number } {
  return { complete: order.lines.filter((l) => l.open === 0).length, lines: order.lines.length };
}

/** The line the scanned item is received against, as last read. */
export function matchedLine(state: ReceiveState): PurchaseLineView | null {
  const id = state.match?.line;
  return state.order?.lines.find((l) => l.id === id) ?? null;
}

/** What the quantity field offers once an item is scanned: what the line still expects. */
export function offeredQty(state: ReceiveState): string {
  const open = matchedLine(state)?.open ?? 0;
  return open > 0 ? String(open) : "";
}

function error(state: ReceiveState, message: string): ReceiveState {
  return { ...state, feedback: { tone: "error", message } };
}

/** Back to scanning the next item, the bin kept. */
function nextItem(state: ReceiveState, feedback: Feedback | null): ReceiveState {
  return { ...state, step: "item", match: null, lot: null, expiresOn: null, over: null, qty: null, feedback };
}

/** Back to choosing an order, the bin kept. */
function otherOrder(state: ReceiveState): ReceiveState {
  return { ...nextItem(state, null), step: "order", order: null };
}

function chooseOrder(state: ReceiveState, raw: string): ReceiveTransition {
  const scanned = parseScan(raw);
  if (!scanned.ok) return { state: error(state, scanned.error) };
  const order = state.orders.find((o) => sameCode(o.number, scanned.value));
  if (!order) return { state: error(state, fill(m().unknownOrder, { order: scanned.value.toUpperCase() })) };
  const step = state.bin === null ? "bin" : "item";
  return { state: { ...nextItem(state, null), order, step } };
}

function quantity(state: ReceiveState, raw: string): ReceiveTransition {
  const line = matchedLine(state);
  const match = state.match;
  if (!line || !match || state.bin === null) return { state };
  const parsed = parseQty(raw);
  if (!parsed.ok) return { state: { ...error(state, parsed.error), over: null } };
  const qty = parsed.value;
  if (qty > line.open && !confirmed(state.over, qty)) {
    const message = fill(m().over, { qty: formatQty(qty), open: formatQty(line.open), sku: match.product.sku });
    return { state: { ...state, over: qty, feedback: { tone: "warn", message } } };
  }
  const target = { lineId: match.line, sku: match.product.sku, bin: state.bin, lot: state.lot, expiresOn: state.expiresOn };
  return {
    state: { ...state, step: "saving", qty, feedback: null },
    submit: lineAction("receive", target, qty),
  };
}

/** Refusals that are about the bin, the lot or the item: back to that step. */
function failed(state: ReceiveState, error: ErrorBody): ReceiveState {
  const feedback = errorFeedback(error);
  if (state.step === "matching") {
    if (error.code === "not_on_order") {
      const message = fill(m().notOnOrder, { order: state.order?.number ?? "" });
      return nextItem(state, { tone: "error", message: `${message} ${error.message}` });
    }
    return nextItem(state, feedback);
  }
  if (state.step !== "saving") return state;
  if (error.code === "unknown_location" || error.code === "location_not_leaf" || error.code === "ambiguous_location") {
    return { ...nextItem(state, feedback), step: "bin", bin: null };
  }
  // A lot code or an expiry date the replica refused: typed again, from the lot.
  if (error.code === "unknown_lot" || error.code === "lot_required" || (error.code === "invalid_input" && state.lot !== null)) {
    return { ...state, step: "lot", lot: null, expiresOn: null, over: null, qty: null, feedback };
  }
  return { ...state, step: "qty", over: null, qty: null, feedback };
}

export function receiveNext(state: ReceiveState, event: ReceiveEvent): ReceiveTransition {
  switch (event.type) {
    case "orders": {
      // The chosen order as read again (its lines' progress), kept if it is gone.
      const order = state.order && (event.orders.find((o) => o.id === state.order?.id) ?? state.order);
      return { state: { ...state, orders: event.orders, order } };
    }
    case "order":
      if (state.step === "saving" || state.step === "matching") return { state };
      return chooseOrder(state, event.raw);
    case "bin": {
      if (state.step !== "bin" && state.step !== "item") return { state };
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      return { state: nextItem({ ...state, bin: scanned.value.toUpperCase() }, null) };
    }
    case "scan": {
      if (state.step !== "item" || !state.order) return { state };
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      return {
        state: { ...state, step: "matching", match: null, lot: null, expiresOn: null, over: null, feedback: null },
        match: { order: state.order.number, item: { by: "scan", value: scanned.value } },
      };
    }
    case "matched": {
      if (state.step !== "matching") return { state };
      const { match } = event;
      return { state: { ...state, match, step: match.product.lot_tracked ? "lot" : "qty" } };
    }
    case "lot": {
      if (state.step !== "lot") return { state };
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      // Kept as printed: suppliers' lot codes are case-sensitive.
      return { state: { ...state, lot: scanned.value, step: "expiry", feedback: null } };
    }
    case "expiry": {
      if (state.step !== "expiry") return { state };
      const typed = event.raw.trim();
      return { state: { ...state, expiresOn: typed === "" ? null : typed, step: "qty", feedback: null } };
    }
    case "qty":
      if (state.step !== "qty") return { state };
      return quantity(state, event.raw);
    case "recorded": {
      if (state.step !== "saving" || !state.match) return { state };
      const message = fill(m().recorded, {
        seq: event.recorded.seq,
        qty: formatQty(state.qty ?? 0),
        sku: state.match.product.sku,
        bin: state.bin ?? "",
        order: state.order?.number ?? "",
      });
      return { state: nextItem(state, recordedFeedback(message, event.recorded)) };
    }
    case "failed":
      return { state: failed(state, event.error) };
    case "escape":
      switch (state.step) {
        case "matching":
        case "lot":
        case "expiry":
        case "qty":
          return { state: nextItem(state, null) };
        case "item":
          return { state: { ...state, step: "bin", feedback: null } };
        case "bin":
          return { state: otherOrder(state) };
        default:
          return { state };
      }
    case "other":
      return { state: state.step === "saving" || state.step === "matching" ? state : otherOrder(state) };
  }
}
