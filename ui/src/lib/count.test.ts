import { describe, expect, it } from "vitest";
import type { CountSheet, ProductRef, Recorded, StockLine } from "./bindings";
import {
  countNext,
  formatVariance,
  idle,
  reviewOrder,
  rowKey,
  submission,
  summarize,
  variance,
  type CountEvent,
  type CountRow,
  type CountState,
  type CountTransition,
} from "./count";
import { parseCount } from "./scan";
import { beepFor } from "./sound";

function line(sku: string, bin: string, onHand: number, lot: string | null = null): StockLine {
  return {
    product: `p-${sku}`,
    sku,
    name: `${sku} name`,
    location: `l-${bin}`,
    location_code: bin,
    warehouse_code: "W1",
    lot: lot ? `lot-${lot}` : null,
    lot_code: lot,
    on_hand: onHand,
    allocated: 0,
    available: onHand,
    pending: 0,
  };
}

const zone: CountSheet = {
  location: "Z1",
  warehouse: "W1",
  is_bin: false,
  bins: ["A-01", "A-02"],
  lines: [line("BOLT-10", "A-01", 40), line("NUT-10", "A-01", 250), line("WASHER-10", "A-02", 1200)],
};

const bin: CountSheet = { ...zone, location: "A-01", is_bin: true, bins: ["A-01"], lines: zone.lines.slice(0, 2) };

const bolt: ProductRef = { id: "p-BOLT-10", sku: "BOLT-10", name: "Hex bolt M10", lot_tracked: false };
const screw: ProductRef = { id: "p-SCREW", sku: "SCREW-4", name: "Screw", lot_tracked: false };
const milk: ProductRef = { id: "p-MILK", sku: "MILK-1", name: "Milk", lot_tracked: true };

/** Runs events from `state`, collecting the effects asked for. */
function run(state: CountState, ...events: CountEvent[]) {
  const effects: Omit<CountTransition, "state">[] = [];
  for (const event of events) {
    const { state: next, ...effect } = countNext(state, event);
    state = next;
    if (effect.resolve || effect.submit) effects.push(effect);
  }
  return { state, effects };
}

const started = (sheet: CountSheet, blind = false) => run(idle, { type: "start", sheet, blind }).state;

function row(over: Partial<CountRow>): CountRow {
  return {
    key: "k",
    bin: "A-01",
    sku: "X",
    name: "x",
    lot: null,
    expected: 0,
    counted: null,
    unexpected: false,
    ...over,
  };
}

describe("counted quantities", () => {
  it("takes zero as a count, refuses signs and words", () => {
    expect(parseCount("0")).toEqual({ ok: true, value: 0 });
    expect(parseCount(" 1,200 ")).toEqual({ ok: true, value: 1200 });
    expect(parseCount("-3").ok).toBe(false);
    expect(parseCount("ten").ok).toBe(false);
    expect(parseCount("").ok).toBe(false);
  });
});

describe("starting a count", () => {
  it("counts a single bin straight away, with the sheet's rows uncounted", () => {
    const state = started(bin);
    expect(state.step).toBe("item");
    expect(state.bin).toBe("A-01");
    expect(state.rows.map((r) => [r.sku, r.expected, r.counted])).toEqual([
      ["BOLT-10", 40, null],
      ["NUT-10", 250, null],
    ]);
  });

  it("asks for the bin first in a zone, and refuses a bin outside it", () => {
    let state = started(zone);
    expect(state.step).toBe("bin");
    state = run(state, { type: "bin", raw: "B-07\n" }).state;
    expect(state.step).toBe("bin");
    expect(state.feedback).toEqual({ tone: "error", message: "Bin B-07 is not part of the count of Z1" });
    state = run(state, { type: "bin", raw: "a-02" }).state;
    expect(state.step).toBe("item");
    expect(state.bin).toBe("A-02");
  });
});

describe("scanning and counting", () => {
  it("resolves a scan, then adds the quantities of repeated scans of one item", () => {
    const { state, effects } = run(
      started(bin),
      { type: "scan", raw: "]E04006381333931\r" },
      { type: "resolved", product: bolt },
      { type: "qty", raw: "30" },
      { type: "scan", raw: "BOLT-10" },
      { type: "resolved", product: bolt },
      { type: "qty", raw: "8" },
    );
    expect(effects[0]).toEqual({ resolve: { by: "scan", value: "4006381333931" } });
    expect(state.step).toBe("item");
    const counted = state.rows.find((r) => r.key === rowKey("A-01", "BOLT-10", null));
    expect(counted?.counted).toBe(38);
    expect(state.feedback).toEqual({ tone: "ok", message: "A-01: BOLT-10 +8 (counted 38)" });
  });

  it("shows an unknown scan in red and goes back to scanning, counting nothing", () => {
    const { state } = run(
      started(bin),
      { type: "scan", raw: "NOPE-404" },
      { type: "failed", error: { code: "unknown_product", message: "no product with sku or barcode NOPE-404" } },
    );
    expect(state.step).toBe("item");
    expect(state.feedback).toEqual({
      tone: "error",
      message: "Unknown item: no product with sku or barcode NOPE-404",
    });
    expect(state.rows.every((r) => r.counted === null)).toBe(true);
  });

  it("adds an item the sheet did not expect as a new row, in amber", () => {
    const { state } = run(started(bin), { type: "scan", raw: "SCREW-4" }, { type: "resolved", product: screw }, { type: "qty", raw: "5" });
    const found = state.rows.find((r) => r.sku === "SCREW-4");
    expect(found).toMatchObject({ bin: "A-01", expected: 0, counted: 5, unexpected: true });
    expect(state.feedback?.tone).toBe("warn");
  });

  it("asks for the lot of a lot-tracked item", () => {
    let state = run(started(bin), { type: "scan", raw: "MILK-1" }, { type: "resolved", product: milk }).state;
    expect(state.step).toBe("lot");
    state = run(state, { type: "lot", raw: "l1" }, { type: "qty", raw: "0" }).state;
    expect(state.rows.find((r) => r.sku === "MILK-1")).toMatchObject({ lot: "L1", counted: 0 });
  });

  it("keeps the quantity step on a bad quantity, and Esc drops the scanned item", () => {
    let state = run(started(bin), { type: "scan", raw: "BOLT-10" }, { type: "resolved", product: bolt }, { type: "qty", raw: "-2" }).state;
    expect(state.step).toBe("qty");
    expect(state.feedback?.tone).toBe("error");
    state = run(state, { type: "escape" }).state;
    expect(state.step).toBe("item");
    expect(state.product).toBeNull();
  });
});

describe("variances", () => {
  it("is counted minus expected, and nothing while not counted", () => {
    expect(variance(row({ expected: 40, counted: 38 }))).toBe(-2);
    expect(variance(row({ expected: 0, counted: 5 }))).toBe(5);
    expect(variance(row({ expected: 7 }))).toBeNull();
    expect(formatVariance(row({ expected: 40, counted: 38 }))).toBe("\u22122");
    expect(formatVariance(row({ expected: 7, counted: 7 }))).toBe("0");
    expect(formatVariance(row({}))).toBe("–");
  });

  it("sums up rows, counted rows, variances and the net change", () => {
    const rows = [
      row({ expected: 40, counted: 38 }),
      row({ expected: 10, counted: 10 }),
      row({ expected: 0, counted: 5 }),
      row({ expected: 9 }),
    ];
    expect(summarize(rows)).toEqual({ rows: 4, counted: 3, withVariance: 2, notCounted: 1, net: 3 });
  });

  it("lists the largest variances first, then matching rows, then uncounted ones", () => {
    const rows = [
      row({ key: "none", sku: "A", expected: 9 }),
      row({ key: "same", sku: "B", expected: 10, counted: 10 }),
      row({ key: "small", sku: "C", expected: 40, counted: 38 }),
      row({ key: "big", sku: "D", expected: 0, counted: 50 }),
    ];
    expect(reviewOrder(rows).map((r) => r.key)).toEqual(["big", "small", "same", "none"]);
  });
});

describe("review and submit", () => {
  const counted = () =>
    run(
      started(bin),
      { type: "scan", raw: "BOLT-10" },
      { type: "resolved", product: bolt },
      { type: "qty", raw: "38" },
      { type: "review" },
    ).state;

  it("submits one line per counted row, with the expected quantity that was shown", () => {
    const { state, effects } = run(counted(), { type: "submit" });
    expect(state.step).toBe("saving");
    expect(effects).toEqual([
      {
        submit: {
          warehouse: "W1",
          lines: [{ item: { by: "sku", value: "BOLT-10" }, lot: null, bin: "A-01", counted: 38, expected: 40 }],
        },
      },
    ]);
  });

  it("sends no expected quantity for a blind count", () => {
    const state = run(
      started(bin, true),
      { type: "scan", raw: "BOLT-10" },
      { type: "resolved", product: bolt },
      { type: "qty", raw: "38" },
    ).state;
    expect(submission(state).lines[0].expected).toBeNull();
  });

  it("lets the review correct or clear a row, and refuses to submit nothing", () => {
    let state = run(counted(), { type: "edit", key: rowKey("A-01", "NUT-10", null), raw: "0" }).state;
    expect(submission(state).lines.map((l) => [l.item.value, l.counted])).toEqual([
      ["BOLT-10", 38],
      ["NUT-10", 0],
    ]);
    state = run(
      state,
      { type: "edit", key: rowKey("A-01", "NUT-10", null), raw: "" },
      { type: "edit", key: rowKey("A-01", "BOLT-10", null), raw: "" },
    ).state;
    const refused = run(state, { type: "submit" });
    expect(refused.effects).toEqual([]);
    expect(refused.state.feedback).toEqual({ tone: "error", message: "Nothing has been counted yet" });
  });

  it("ends with the journal numbers once recorded, or returns to the review on failure", () => {
    const saving = run(counted(), { type: "submit" }).state;
    const recorded = (seq: number) => ({ seq, projected: "applied", warnings: [], movement: {} }) as Recorded;
    const done = run(saving, { type: "recorded", recorded: [recorded(2), recorded(3)] }).state;
    expect(done.step).toBe("done");
    expect(done.feedback).toEqual({ tone: "ok", message: "Recorded 2 counts (#2–#3)" });
    const failed = run(saving, { type: "failed", error: { code: "storage", message: "disk full" } }).state;
    expect(failed.step).toBe("review");
    expect(failed.feedback).toEqual({ tone: "error", message: "Error: disk full" });
  });
});

describe("sounds", () => {
  it("beeps high for ok and buzzes low for errors", () => {
    expect(beepFor("ok").frequency).toBeGreaterThan(beepFor("error").frequency);
    expect(beepFor("error").pulses).toBe(2);
  });
});
