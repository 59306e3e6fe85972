// Picking one sales order or a wave of several, scanner first, as a pure state machine:
// choose the orders (scan their numbers or tick them) → the replica's pick walk, one list
// across them in walk order → at each stop: scan the bin (another bin is a substitute,
// taken only when scanned twice: the server moves the reservation with the goods and
// flags it) → scan the item (the stop's product, else nothing is recorded) → for a
// lot-tracked product, scan the lot (another lot than the stop's is taken only when
// scanned twice, like another bin: the reservation follows the goods) → the
// quantity (offered: the stop's) → Enter records a ship naming the sales line. Less is a
// short pick and more an over-pick: each is said first and recorded only on a second
// Enter; a short stop shows as short and the rest of its line stays open.
// The screen feeds it events and performs the effects it returns; nothing here does I/O.

import type { Action, ErrorBody, ItemRef, PickStop, ProductRef, Recorded, SalesOrderView } from "./bindings";
import { WAVE_ORDERS_MAX } from "./bindings";
import { formatQty } from "./format";
import { fill, messages } from "./i18n";
import type { Feedback } from "./movement";
import { confirmed, errorFeedback, lineAction, recordedFeedback, sameCode } from "./orders";
import { parseCount, parseScan } from "./scan";

export type StopStatus = "open" | "done" | "short";

/** A stop of the walk and what became of it in this session. */
export interface WalkStop extends PickStop {
  status: StopStatus;
  /** Units picked at this stop in this session. */
  picked: number;
  /** The bin they were picked from, once picked (another than the stop's: a substitute). */
  from: string | null;
  /** The lot they were picked from, once picked (another than the stop's: a substitute). */
  fromLot: string | null;
}

export type PickStep = "choose" | "loading" | "bin" | "item" | "resolving" | "lot" | "qty" | "saving" | "done";

export interface PickState {
  /** The sales orders still to pick, as last read. */
  orders: SalesOrderView[];
  /** The numbers chosen for the wave, in the order chosen. */
  wave: string[];
  stops: WalkStop[];
  /** The index of the current stop in `stops`. */
  at: number | null;
  step: PickStep;
  /** The bin picked from at the current stop (the stop's, or a confirmed substitute). */
  bin: string | null;
  /** Another bin than the stop's, scanned once and waiting for its second scan. */
  substitute: string | null;
  product: ProductRef | null;
  /** The lot picked from at the current stop (the stop's, or a confirmed other one). */
  lot: string | null;
  /** Another lot than the stop's, scanned once and waiting for its second scan. */
  otherLot: string | null;
  /** A short or over quantity, said once and waiting for Enter again. */
  pending: number | null;
  /** The quantity being recorded. */
  qty: number | null;
  feedback: Feedback | null;
}

export type PickEvent =
  | { type: "orders"; orders: SalesOrderView[] }
  | { type: "toggle"; number: string }
  | { type: "order"; raw: string }
  | { type: "start" }
  | { type: "walk"; stops: PickStop[] }
  | { type: "bin"; raw: string }
  | { type: "scan"; raw: string }
  | { type: "resolved"; product: ProductRef }
  | { type: "lot"; raw: string }
  | { type: "qty"; raw: string }
  | { type: "recorded"; recorded: Recorded }
  | { type: "failed"; error: ErrorBody }
  | { type: "escape" }
  | { type: "again" };

export interface PickTransition {
  state: PickState;
  /** Read the pick walk of these orders (Replica::pick_walk). */
  load?: string[];
  /** Look up what a scan names (Replica::resolve_item). */
  resolve?: ItemRef;
  /** Record the pick (Replica::record). */
  submit?: Action;
}

export const choosing: PickState = {
  orders: [],
  wave: [],
  stops: [],
  at: null,
  step: "choose",
  bin: null,
  substitute: null,
  product: null,
  lot: null,
  otherLot: null,
  pending: null,
  qty: null,
  feedback: null,
};

const m = () => messages.picking;

/** The stops done, short and left. */
export function progress(stops: readonly WalkStop[]): { done: number; short: number; left: number } {
  const count = (status: StopStatus) => stops.filter((s) => s.status === status).length;
  return { done: count("done"), short: count("short"), left: count("open") };
}

/** The next stop to visit: the first one still open in walk order, or null. */
export function nextStop(stops: readonly WalkStop[]): number | null {
  const at = stops.findIndex((s) => s.status === "open");
  return at < 0 ? null : at;
}

/** The current stop. */
export function currentStop(state: PickState): WalkStop | null {
  return state.at === null ? null : (state.stops[state.at] ?? null);
}

/** What a quantity means at a stop of `qty`: all of it, less (short) or more (over). */
export function pickKind(picked: number, qty: number): "full" | "short" | "over" {
  return picked === qty ? "full" : picked < qty ? "short" : "over";
}

function error(state: PickState, message: string): PickState {
  return { ...state, feedback: { tone: "error", message } };
}

/** On to the next open stop: straight to its item when it is in the bin just used. */
function advance(state: PickState, stops: WalkStop[], feedback: Feedback | null): PickState {
  const at = nextStop(stops);
  const base = { ...state, stops, at, substitute: null, product: null, lot: null, otherLot: null, pending: null, qty: null, feedback };
  if (at === null) return { ...base, step: "done", bin: null };
  const here = state.bin !== null && stops[at].bin === state.bin;
  return { ...base, step: here ? "item" : "bin", bin: here ? state.bin : null };
}

function toggle(state: PickState, number: string): PickState {
  if (state.wave.includes(number)) return { ...state, wave: state.wave.filter((n) => n !== number), feedback: null };
  if (state.wave.length >= WAVE_ORDERS_MAX) return error(state, fill(m().waveFull, { max: WAVE_ORDERS_MAX }));
  return { ...state, wave: [...state.wave, number], feedback: null };
}

function chooseOrder(state: PickState, raw: string): PickTransition {
  // Enter on an empty field starts the wave chosen so far.
  if (raw.trim() === "" && state.wave.length > 0) return startWave(state);
  const scanned = parseScan(raw);
  if (!scanned.ok) return { state: error(state, scanned.error) };
  const order = state.orders.find((o) => sameCode(o.number, scanned.value));
  if (!order) return { state: error(state, fill(m().unknownOrder, { order: scanned.value.toUpperCase() })) };
  return { state: toggle(state, order.number) };
}

function startWave(state: PickState): PickTransition {
  if (state.wave.length === 0) return { state: error(state, m().chooseFirst) };
  return { state: { ...state, step: "loading", feedback: null }, load: state.wave };
}

function walked(state: PickState, stops: PickStop[]): PickState {
  const walk: WalkStop[] = stops.map((s) => ({ ...s, status: "open", picked: 0, from: null, fromLot: null }));
  if (walk.length === 0) return { ...state, stops: [], at: null, step: "choose", feedback: { tone: "warn", message: m().nothing } };
  return advance({ ...state, bin: null }, walk, null);
}

function scanBin(state: PickState, stop: WalkStop, raw: string): PickState {
  const scanned = parseScan(raw);
  if (!scanned.ok) return error(state, scanned.error);
  const bin = scanned.value.toUpperCase();
  if (sameCode(bin, stop.bin)) return { ...state, step: "item", bin: stop.bin, substitute: null, feedback: null };
  if (!confirmed(state.substitute, bin)) {
    const message = fill(m().otherBin, { bin, stop: stop.bin });
    return { ...state, substitute: bin, feedback: { tone: "warn", message } };
  }
  const message = fill(m().substitute, { bin, stop: stop.bin });
  return { ...state, step: "item", bin, substitute: null, feedback: { tone: "warn", message } };
}

function resolved(state: PickState, stop: WalkStop, product: ProductRef): PickState {
  if (product.sku !== stop.sku) {
    const message = fill(m().wrongItem, { scanned: `${product.sku} (${product.name})`, sku: stop.sku });
    return { ...state, step: "item", product: null, feedback: { tone: "error", message } };
  }
  // A lot-tracked stop (its reservation is on a lot): the lot is scanned too.
  const step = stop.lot === null ? "qty" : "lot";
  return { ...state, step, product, lot: null, otherLot: null, pending: null, feedback: null };
}

function scanLot(state: PickState, stop: WalkStop, raw: string): PickState {
  const scanned = parseScan(raw);
  if (!scanned.ok) return error(state, scanned.error);
  // As printed: lot codes are case-sensitive.
  const lot = scanned.value;
  if (lot === stop.lot) return { ...state, step: "qty", lot, otherLot: null, feedback: null };
  if (!confirmed(state.otherLot, lot)) {
    const message = fill(m().otherLot, { lot, stop: stop.lot ?? "" });
    return { ...state, otherLot: lot, feedback: { tone: "warn", message } };
  }
  const message = fill(m().substituteLot, { lot, stop: stop.lot ?? "" });
  return { ...state, step: "qty", lot, otherLot: null, feedback: { tone: "warn", message } };
}

function quantity(state: PickState, stop: WalkStop, raw: string): PickTransition {
  const parsed = parseCount(raw);
  if (!parsed.ok) return { state: { ...error(state, parsed.error), pending: null } };
  const qty = parsed.value;
  const kind = pickKind(qty, stop.qty);
  if (kind !== "full" && !confirmed(state.pending, qty)) {
    const template = kind === "short" ? m().short : m().over;
    const message = fill(template, { qty: formatQty(qty), stop: formatQty(stop.qty), sku: stop.sku });
    return { state: { ...state, pending: qty, feedback: { tone: "warn", message } } };
  }
  if (qty === 0) {
    // Nothing found: nothing to record; the stop is short and its line stays open.
    const stops = mark(state.stops, state.at, 0, state.bin, state.lot);
    return { state: advance(state, stops, { tone: "warn", message: fill(m().noneFound, { sku: stop.sku, bin: state.bin ?? "" }) }) };
  }
  const target = { lineId: stop.line, sku: stop.sku, bin: state.bin ?? stop.bin, lot: state.lot ?? stop.lot };
  return { state: { ...state, step: "saving", qty, feedback: null }, submit: lineAction("pick", target, qty) };
}

/** The stops with the one at `at` done (all of it or more picked from `from`, lot
 * `fromLot`) or short. */
function mark(stops: WalkStop[], at: number | null, picked: number, from: string | null, fromLot: string | null): WalkStop[] {
  return stops.map((s, i) => (i === at ? { ...s, picked, from, fromLot, status: picked < s.qty ? "short" : "done" } : s));
}

function recorded(state: PickState, stop: WalkStop, recorded: Recorded): PickState {
  const qty = state.qty ?? 0;
  const stops = mark(state.stops, state.at, qty, state.bin, state.lot);
  const params = { seq: recorded.seq, qty: formatQty(qty), stop: formatQty(stop.qty), sku: stop.sku, bin: state.bin ?? "", order: stop.order };
  const short = qty < stop.qty;
  const message = fill(short ? m().recordedShort : m().recorded, params);
  return advance(state, stops, recordedFeedback(message, recorded, short ? "warn" : "ok"));
}

function failed(state: PickState, error: ErrorBody): PickState {
  const feedback = errorFeedback(error);
  switch (state.step) {
    case "loading":
      return { ...state, step: "choose", feedback };
    case "resolving":
      return { ...state, step: "item", product: null, feedback };
    case "saving":
      if (error.code === "unknown_location" || error.code === "location_not_leaf" || error.code === "ambiguous_location") {
        return { ...state, step: "bin", bin: null, product: null, pending: null, qty: null, feedback };
      }
      if (error.code === "unknown_lot" || error.code === "lot_required") {
        return { ...state, step: "lot", lot: null, otherLot: null, pending: null, qty: null, feedback };
      }
      return { ...state, step: "qty", pending: null, qty: null, feedback };
    default:
      return state;
  }
}

function escape(state: PickState): PickState {
  switch (state.step) {
    case "resolving":
    case "lot":
    case "qty":
      return { ...state, step: "item", product: null, lot: null, otherLot: null, pending: null, feedback: null };
    case "item":
      return { ...state, step: "bin", bin: null, substitute: null, feedback: null };
    case "bin":
      return { ...state, substitute: null, feedback: null };
    default:
      return state;
  }
}

export function pickNext(state: PickState, event: PickEvent): PickTransition {
  const stop = currentStop(state);
  switch (event.type) {
    case "orders": {
      // Orders no longer to pick leave the wave being chosen.
      const open = new Set(event.orders.map((o) => o.number));
      const wave = state.step === "choose" ? state.wave.filter((n) => open.has(n)) : state.wave;
      return { state: { ...state, orders: event.orders, wave } };
    }
    case "toggle":
      return { state: state.step === "choose" ? toggle(state, event.number) : state };
    case "order":
      return state.step === "choose" ? chooseOrder(state, event.raw) : { state };
    case "start":
      return state.step === "choose" ? startWave(state) : { state };
    case "walk":
      return { state: state.step === "loading" ? walked(state, event.stops) : state };
    case "bin":
      return { state: state.step === "bin" && stop ? scanBin(state, stop, event.raw) : state };
    case "scan": {
      if (state.step !== "item" || !stop) return { state };
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      return {
        state: { ...state, step: "resolving", product: null, feedback: null },
        resolve: { by: "scan", value: scanned.value },
      };
    }
    case "resolved":
      return { state: state.step === "resolving" && stop ? resolved(state, stop, event.product) : state };
    case "lot":
      return { state: state.step === "lot" && stop ? scanLot(state, stop, event.raw) : state };
    case "qty":
      return state.step === "qty" && stop ? quantity(state, stop, event.raw) : { state };
    case "recorded":
      return { state: state.step === "saving" && stop ? recorded(state, stop, event.recorded) : state };
    case "failed":
      return { state: failed(state, event.error) };
    case "escape":
      return { state: escape(state) };
    case "again":
      // A new wave: the orders as last read, nothing chosen.
      return { state: { ...choosing, orders: state.orders } };
  }
}
