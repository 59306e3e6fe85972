// Cycle counting as a pure state machine: pick a bin or zone (the screen loads its
// CountSheet), then bin → item scan → (lot) → quantity → Enter, repeated; review the
// variances (counted − projected); submit one count per counted row.
// The screen feeds it events and performs the effects it returns; nothing here does I/O.

import type { CountSheet, CountSubmission, ErrorBody, ItemRef, ProductRef, Recorded } from "./bindings";
import { formatDelta, formatQty } from "./format";
import { fill, messages } from "./i18n";
import type { Feedback } from "./movement";
import { parseCount, parseScan } from "./scan";

/** One row of the count: a product (and lot) in a bin. */
export interface CountRow {
  key: string;
  bin: string;
  sku: string;
  name: string;
  lot: string | null;
  /** What the replica projects (0 for a row it does not know). */
  expected: number;
  /** Units counted so far; null while not counted. */
  counted: number | null;
  /** Found in the bin although the sheet had no such row. */
  unexpected: boolean;
}

export type CountStep = "bin" | "item" | "resolving" | "lot" | "qty" | "review" | "saving" | "done";

export interface CountState {
  sheet: CountSheet | null;
  blind: boolean;
  step: CountStep;
  /** The bin being counted. */
  bin: string | null;
  /** The scanned product waiting for its quantity. */
  product: ProductRef | null;
  lot: string | null;
  rows: CountRow[];
  feedback: Feedback | null;
}

export type CountEvent =
  | { type: "start"; sheet: CountSheet; blind: boolean }
  | { type: "bin"; raw: string }
  | { type: "scan"; raw: string }
  | { type: "resolved"; product: ProductRef }
  | { type: "lot"; raw: string }
  | { type: "qty"; raw: string }
  | { type: "edit"; key: string; raw: string }
  | { type: "review" }
  | { type: "back" }
  | { type: "submit" }
  | { type: "recorded"; recorded: Recorded[] }
  | { type: "failed"; error: ErrorBody }
  | { type: "escape" };

export interface CountTransition {
  state: CountState;
  /** Look up what a scan names (Replica::resolve_item). */
  resolve?: ItemRef;
  /** Record the count (Replica::record_count). */
  submit?: CountSubmission;
}

export const idle: CountState = {
  sheet: null,
  blind: false,
  step: "bin",
  bin: null,
  product: null,
  lot: null,
  rows: [],
  feedback: null,
};

export function rowKey(bin: string, sku: string, lot: string | null): string {
  return `${bin}\u0000${sku}\u0000${lot ?? ""}`;
}

/** The sheet's projected rows, none counted yet. */
export function rowsOf(sheet: CountSheet): CountRow[] {
  return sheet.lines.map((line) => ({
    key: rowKey(line.location_code, line.sku, line.lot_code),
    bin: line.location_code,
    sku: line.sku,
    name: line.name,
    lot: line.lot_code,
    expected: line.on_hand,
    counted: null,
    unexpected: false,
  }));
}

/** counted − expected, or null while the row is not counted. */
export function variance(row: CountRow): number | null {
  return row.counted === null ? null : row.counted - row.expected;
}

export interface CountSummary {
  /** Rows on the sheet or found. */
  rows: number;
  counted: number;
  /** Counted rows whose count differs from the projection. */
  withVariance: number;
  /** Rows of the sheet nobody counted (they are not submitted). */
  notCounted: number;
  /** Sum of the variances of counted rows (units gained minus units missing). */
  net: number;
}

export function summarize(rows: readonly CountRow[]): CountSummary {
  let counted = 0;
  let withVariance = 0;
  let net = 0;
  for (const row of rows) {
    const v = variance(row);
    if (v === null) continue;
    counted += 1;
    if (v !== 0) withVariance += 1;
    net += v;
  }
  return { rows: rows.length, counted, withVariance, notCounted: rows.length - counted, net };
}

/** The review's order: rows with a variance first (largest first), then counted, then the rest. */
export function reviewOrder(rows: readonly CountRow[]): CountRow[] {
  const rank = (row: CountRow) => {
    const v = variance(row);
    return v === null ? 2 : v === 0 ? 1 : 0;
  };
  return [...rows].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      Math.abs(variance(b) ?? 0) - Math.abs(variance(a) ?? 0) ||
      a.bin.localeCompare(b.bin) ||
      a.sku.localeCompare(b.sku) ||
      (a.lot ?? "").localeCompare(b.lot ?? ""),
  );
}

/** What is recorded: one line per counted row; the expected quantity only when it was shown. */
export function submission(state: CountState): CountSubmission {
  return {
    warehouse: state.sheet?.warehouse || null,
    lines: state.rows
      .filter((row) => row.counted !== null)
      .map((row) => ({
        item: { by: "sku", value: row.sku },
        lot: row.lot,
        bin: row.bin,
        counted: row.counted as number,
        expected: state.blind ? null : row.expected,
      })),
  };
}

const m = () => messages.count;

function error(state: CountState, message: string): CountState {
  return { ...state, feedback: { tone: "error", message } };
}

function errorLabel(code: string): string {
  return (messages.errors as Record<string, string>)[code] ?? messages.errors.generic;
}

/** Adds `qty` to the row of the pending product in the current bin (creating it if new). */
function addCount(state: CountState, qty: number): CountState {
  const product = state.product;
  const bin = state.bin;
  if (!product || !bin) return state;
  const key = rowKey(bin, product.sku, state.lot);
  let rows = state.rows;
  let row = rows.find((r) => r.key === key);
  if (row) {
    row = { ...row, counted: (row.counted ?? 0) + qty };
    rows = rows.map((r) => (r.key === key ? (row as CountRow) : r));
  } else {
    row = {
      key,
      bin,
      sku: product.sku,
      name: product.name,
      lot: state.lot,
      expected: 0,
      counted: qty,
      unexpected: true,
    };
    rows = [...rows, row];
  }
  const item = state.lot ? `${product.sku} / ${state.lot}` : product.sku;
  let message = fill(m().added, { bin, item, qty: formatQty(qty), total: formatQty(row.counted ?? 0) });
  let tone: Feedback["tone"] = "ok";
  if (row.unexpected) {
    tone = "warn";
    message = `${message}. ${m().unexpectedRow}`;
  }
  return { ...state, rows, step: "item", product: null, lot: null, feedback: { tone, message } };
}

export function countNext(state: CountState, event: CountEvent): CountTransition {
  switch (event.type) {
    case "start": {
      const { sheet, blind } = event;
      const single = sheet.is_bin && sheet.bins.length === 1;
      return {
        state: {
          ...idle,
          sheet,
          blind,
          step: single ? "item" : "bin",
          bin: single ? sheet.bins[0] : null,
          rows: rowsOf(sheet),
        },
      };
    }
    case "escape":
      if (state.step === "lot" || state.step === "qty" || state.step === "resolving") {
        return { state: { ...state, step: "item", product: null, lot: null, feedback: null } };
      }
      if (state.step === "item" && state.sheet && !state.sheet.is_bin) {
        return { state: { ...state, step: "bin", bin: null, feedback: null } };
      }
      return { state };
    case "bin": {
      if (state.step !== "bin" && state.step !== "item") return { state };
      if (!state.sheet) return { state };
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      const wanted = scanned.value.toUpperCase();
      const bin = state.sheet.bins.find((b) => b.toUpperCase() === wanted);
      if (!bin) {
        return {
          state: error(state, fill(m().binNotInCount, { bin: scanned.value, scope: state.sheet.location })),
        };
      }
      return { state: { ...state, step: "item", bin, feedback: null } };
    }
    case "scan": {
      if (state.step !== "item") return { state };
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      return {
        state: { ...state, step: "resolving", product: null, lot: null, feedback: null },
        resolve: { by: "scan", value: scanned.value },
      };
    }
    case "resolved": {
      if (state.step !== "resolving") return { state };
      const { product } = event;
      return { state: { ...state, product, step: product.lot_tracked ? "lot" : "qty" } };
    }
    case "lot": {
      if (state.step !== "lot") return { state };
      const scanned = parseScan(event.raw);
      if (!scanned.ok) return { state: error(state, scanned.error) };
      return { state: { ...state, lot: scanned.value.toUpperCase(), step: "qty", feedback: null } };
    }
    case "qty": {
      if (state.step !== "qty") return { state };
      const parsed = parseCount(event.raw);
      if (!parsed.ok) return { state: error(state, parsed.error) };
      return { state: addCount(state, parsed.value) };
    }
    case "edit": {
      if (state.step !== "review") return { state };
      const raw = event.raw.trim();
      let counted: number | null = null;
      if (raw !== "") {
        const parsed = parseCount(raw);
        if (!parsed.ok) return { state: error(state, parsed.error) };
        counted = parsed.value;
      }
      const rows = state.rows.map((r) => (r.key === event.key ? { ...r, counted } : r));
      return { state: { ...state, rows, feedback: null } };
    }
    case "review":
      if (state.step === "saving" || state.step === "done" || !state.sheet) return { state };
      return { state: { ...state, step: "review", product: null, lot: null, feedback: null } };
    case "back":
      if (state.step !== "review") return { state };
      return { state: { ...state, step: state.bin ? "item" : "bin", feedback: null } };
    case "submit": {
      if (state.step !== "review") return { state };
      const count = submission(state);
      if (count.lines.length === 0) return { state: error(state, m().nothingCounted) };
      return { state: { ...state, step: "saving", feedback: null }, submit: count };
    }
    case "recorded": {
      if (state.step !== "saving") return { state };
      const seqs = event.recorded.map((r) => r.seq);
      const message = fill(m().recorded, {
        count: seqs.length,
        first: Math.min(...seqs),
        last: Math.max(...seqs),
      });
      return { state: { ...state, step: "done", feedback: { tone: "ok", message } } };
    }
    case "failed": {
      const { code, message } = event.error;
      const feedback: Feedback = { tone: "error", message: `${errorLabel(code)}: ${message}` };
      if (state.step === "resolving") {
        return { state: { ...state, step: "item", product: null, feedback } };
      }
      if (state.step === "saving") return { state: { ...state, step: "review", feedback } };
      return { state };
    }
  }
}

/** How a row's variance reads: "+3", "−2", "0", or "–" while not counted. */
export function formatVariance(row: CountRow): string {
  const v = variance(row);
  return v === null ? "–" : formatDelta(v);
}
