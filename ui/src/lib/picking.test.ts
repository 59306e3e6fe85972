import { describe, expect, it } from "vitest";
import type { PickStop, ProductRef, Recorded, SalesOrderView } from "./bindings";
import { choosing, currentStop, nextStop, pickKind, pickNext, progress, type PickEvent, type PickState, type WalkStop } from "./picking";

const so = (number: string): SalesOrderView => ({
  id: number,
  number,
  warehouse: "WH1",
  customer: "Corner Shop",
  requested_on: "2027-01-15",
  status: "allocated",
  lines: [],
});

const stop = (order: string, bin: string, sku: string, qty: number, line = `${order}-${sku}`): PickStop => ({
  order,
  line,
  sku,
  name: `${sku} name`,
  bin,
  path: `A/${bin}`,
  lot: null,
  qty,
});

/** The walk the replica gives for SO-1 and SO-2: two stops share bin B1. */
const walk = [stop("SO-000001", "B1", "SKU-1", 3), stop("SO-000002", "B1", "SKU-1", 2), stop("SO-000002", "B2", "SKU-2", 4)];

const last = <T>(items: T[]): T | undefined => items[items.length - 1];
const product = (sku: string): ProductRef => ({ id: sku, sku, name: `${sku} name`, lot_tracked: false });
const recorded = (seq: number): Recorded => ({ seq, movement: { id: "0190" }, projected: "applied", warnings: [] });

function run(events: PickEvent[], from: PickState = pickNext(choosing, { type: "orders", orders: [so("SO-000001"), so("SO-000002")] }).state) {
  let state = from;
  const effects: { load?: string[]; resolve?: unknown; submit?: unknown }[] = [];
  for (const event of events) {
    const t = pickNext(state, event);
    state = t.state;
    if (t.load || t.resolve || t.submit) effects.push({ load: t.load, resolve: t.resolve, submit: t.submit });
  }
  return { state, effects };
}

const started: PickEvent[] = [
  { type: "order", raw: "so-000002" },
  { type: "toggle", number: "SO-000001" },
  { type: "order", raw: "" },
  { type: "walk", stops: walk },
];

/** Bin, item and the stop's full quantity at the current stop. */
const pickAll = (bin: string, sku: string, qty: number, seq: number): PickEvent[] => [
  { type: "bin", raw: bin },
  { type: "scan", raw: sku },
  { type: "resolved", product: product(sku) },
  { type: "qty", raw: String(qty) },
  { type: "recorded", recorded: recorded(seq) },
];

describe("choosing a wave", () => {
  it("takes scanned numbers and ticks, then loads one walk across them on Enter", () => {
    const { state, effects } = run(started.slice(0, 3));
    expect(state.wave).toEqual(["SO-000002", "SO-000001"]);
    expect(state.step).toBe("loading");
    expect(effects).toEqual([{ load: ["SO-000002", "SO-000001"], resolve: undefined, submit: undefined }]);
  });

  it("removes an order scanned twice, refuses an unknown one, and will not start empty", () => {
    const { state } = run([{ type: "order", raw: "SO-000001" }, { type: "order", raw: "SO-000001" }]);
    expect(state.wave).toEqual([]);
    const unknown = run([{ type: "order", raw: "SO-000404" }]).state;
    expect(unknown.feedback?.message).toContain("No sales order SO-000404");
    const empty = run([{ type: "start" }]);
    expect(empty.effects).toEqual([]);
    expect(empty.state.feedback?.message).toBe("Choose at least one sales order first.");
  });

  it("says so when nothing is left to pick", () => {
    const { state } = run([...started.slice(0, 3), { type: "walk", stops: [] }]);
    expect(state.step).toBe("choose");
    expect(state.feedback?.tone).toBe("warn");
  });
});

describe("walking the stops", () => {
  it("visits the stops in the walk's order and records a ship naming each sales line", () => {
    const { state, effects } = run([...started, ...pickAll("b1", "SKU-1", 3, 1)]);
    expect(last(effects)?.submit).toEqual({
      item: { by: "sku", value: "SKU-1" },
      lot: null,
      warehouse: null,
      op: { kind: "ship", from: "B1", qty: 3 },
      reference: { type: "sales_line", id: "SO-000001-SKU-1" },
    });
    expect(state.feedback).toEqual({ tone: "ok", message: "Recorded #1: picked 3 × SKU-1 from B1 for SO-000001" });
    // The next stop is in the same bin: straight to its item.
    expect(currentStop(state)?.order).toBe("SO-000002");
    expect(state.step).toBe("item");
    expect(progress(state.stops)).toEqual({ done: 1, short: 0, left: 2 });
  });

  it("asks the lot of a lot-tracked stop and records the stop's lot when it is scanned", () => {
    const lotted = [{ ...stop("SO-000001", "B1", "MILK-1", 2), lot: "L1" }];
    const toLot: PickEvent[] = [...started.slice(0, 3), { type: "walk", stops: lotted }, { type: "bin", raw: "B1" }, { type: "scan", raw: "MILK-1" }, { type: "resolved", product: product("MILK-1") }];
    expect(run(toLot).state.step).toBe("lot");
    const { state, effects } = run([...toLot, { type: "lot", raw: "L1" }, { type: "qty", raw: "2" }, { type: "recorded", recorded: recorded(1) }]);
    expect(last(effects)?.submit).toMatchObject({ lot: "L1", op: { kind: "ship", from: "B1", qty: 2 } });
    expect(state.stops[0]).toMatchObject({ status: "done", fromLot: "L1" });
  });

  it("takes another lot than the stop's only when scanned twice, and records that lot", () => {
    const lotted = [{ ...stop("SO-000001", "B1", "MILK-1", 2), lot: "L1" }];
    const toLot: PickEvent[] = [...started.slice(0, 3), { type: "walk", stops: lotted }, { type: "bin", raw: "B1" }, { type: "scan", raw: "MILK-1" }, { type: "resolved", product: product("MILK-1") }];
    const once = run([...toLot, { type: "lot", raw: "L2" }]);
    expect(once.state.step).toBe("lot");
    expect(once.state.feedback).toEqual({ tone: "warn", message: expect.stringContaining("L2 is not this stop's lot (L1)") });
    // Lot codes are case-sensitive: `l2` is not a second scan of `L2`.
    expect(run([...toLot, { type: "lot", raw: "L2" }, { type: "lot", raw: "l2" }]).state.step).toBe("lot");
    const { state, effects } = run([...toLot, { type: "lot", raw: "L2" }, { type: "lot", raw: "L2" }, { type: "qty", raw: "2" }, { type: "recorded", recorded: recorded(4) }]);
    expect(last(effects)?.submit).toMatchObject({ lot: "L2", op: { kind: "ship", from: "B1", qty: 2 } });
    expect(state.stops[0]).toMatchObject({ status: "done", lot: "L1", fromLot: "L2" });
    // A lot the replica does not know sends the picker back to the lot.
    const saving = run([...toLot, { type: "lot", raw: "L2" }, { type: "lot", raw: "L2" }, { type: "qty", raw: "2" }]).state;
    const refused = pickNext(saving, { type: "failed", error: { code: "unknown_lot", message: "product MILK-1 has no lot L2" } }).state;
    expect([refused.step, refused.lot]).toEqual(["lot", null]);
  });

  it("refuses another item than the stop's and records nothing", () => {
    const { state, effects } = run([...started, { type: "bin", raw: "B1" }, { type: "scan", raw: "SKU-2" }, { type: "resolved", product: product("SKU-2") }]);
    expect(state.step).toBe("item");
    expect(state.feedback?.tone).toBe("error");
    expect(state.feedback?.message).toBe("Wrong item: SKU-2 (SKU-2 name) was scanned, this stop is SKU-1. Nothing was recorded.");
    expect(effects.some((e) => e.submit)).toBe(false);
  });

  it("ends with the counts once every stop is done or short", () => {
    const { state } = run([
      ...started,
      ...pickAll("B1", "SKU-1", 3, 1),
      { type: "scan", raw: "SKU-1" },
      { type: "resolved", product: product("SKU-1") },
      { type: "qty", raw: "2" },
      { type: "recorded", recorded: recorded(2) },
      ...pickAll("B2", "SKU-2", 4, 3),
    ]);
    expect(state.step).toBe("done");
    expect(progress(state.stops)).toEqual({ done: 3, short: 0, left: 0 });
  });
});

describe("substitute bins", () => {
  it("takes another bin only when scanned twice, and records the pick from it", () => {
    const once = run([...started, { type: "bin", raw: "B7" }]);
    expect(once.state.step).toBe("bin");
    expect(once.state.feedback?.tone).toBe("warn");
    expect(once.state.feedback?.message).toContain("B7 is not this stop's bin (B1). Scan B7 again");
    const twice = run([{ type: "bin", raw: "b7" }, { type: "scan", raw: "SKU-1" }, { type: "resolved", product: product("SKU-1") }, { type: "qty", raw: "3" }], once.state);
    expect(last(twice.effects)?.submit).toMatchObject({ op: { kind: "ship", from: "B7", qty: 3 }, reference: { id: "SO-000001-SKU-1" } });
    const done = pickNext(twice.state, { type: "recorded", recorded: recorded(1) }).state;
    expect(done.stops[0]).toMatchObject({ bin: "B1", from: "B7", status: "done" });
  });

  it("forgets a first substitute scan when the stop's own bin follows", () => {
    const { state } = run([...started, { type: "bin", raw: "B7" }, { type: "bin", raw: "B1" }]);
    expect(state.step).toBe("item");
    expect(state.bin).toBe("B1");
    expect(state.substitute).toBeNull();
  });
});

describe("short and over picks", () => {
  const atQty: PickEvent[] = [...started, { type: "bin", raw: "B1" }, { type: "scan", raw: "SKU-1" }, { type: "resolved", product: product("SKU-1") }];

  it("asks before a short pick, records what was found, and shows the stop as short", () => {
    const first = run([...atQty, { type: "qty", raw: "2" }]);
    expect(first.effects.some((e) => e.submit)).toBe(false);
    expect(first.state.feedback?.message).toBe("Short pick: 2 of 3 found. Press Enter again to record 2; the rest of the line stays open.");
    const second = run([{ type: "qty", raw: "2" }, { type: "recorded", recorded: recorded(1) }], first.state);
    expect(second.effects[0].submit).toMatchObject({ op: { kind: "ship", from: "B1", qty: 2 } });
    expect(second.state.stops[0]).toMatchObject({ status: "short", picked: 2 });
    expect(second.state.feedback?.tone).toBe("warn");
    expect(second.state.feedback?.message).toBe("Recorded #1: short pick, 2 of 3 × SKU-1 from B1 for SO-000001");
    expect(progress(second.state.stops)).toEqual({ done: 0, short: 1, left: 2 });
  });

  it("records nothing when none was found, and marks the stop short", () => {
    const { state, effects } = run([...atQty, { type: "qty", raw: "0" }, { type: "qty", raw: "0" }]);
    expect(effects.some((e) => e.submit)).toBe(false);
    expect(state.stops[0]).toMatchObject({ status: "short", picked: 0 });
    expect(nextStop(state.stops)).toBe(1);
  });

  it("warns before an over-pick and records it on the second Enter", () => {
    const first = run([...atQty, { type: "qty", raw: "5" }]);
    expect(first.state.feedback?.message).toContain("More than this stop: 5 × SKU-1, the stop has 3");
    expect(run([{ type: "qty", raw: "5" }], first.state).effects[0].submit).toMatchObject({ op: { qty: 5 } });
    // Another quantity is asked about again.
    expect(run([{ type: "qty", raw: "4" }], first.state).effects).toEqual([]);
  });

  it("names the kind of a quantity", () => {
    expect([pickKind(3, 3), pickKind(2, 3), pickKind(4, 3)]).toEqual(["full", "short", "over"]);
  });
});

describe("refusals and going back", () => {
  it("sends an unknown bin back to the bin, anything else back to the quantity", () => {
    const saving = run([...started, ...pickAll("B1", "SKU-1", 3, 1).slice(0, 4)]).state;
    expect(saving.step).toBe("saving");
    const bin = pickNext(saving, { type: "failed", error: { code: "unknown_location", message: "no location with code B1" } }).state;
    expect([bin.step, bin.bin]).toEqual(["bin", null]);
    const other = pickNext(saving, { type: "failed", error: { code: "storage", message: "disk full" } }).state;
    expect(other.step).toBe("qty");
    expect(other.stops[0].status).toBe("open");
  });

  it("steps back with Esc: quantity → item → bin", () => {
    let state = run([...started, { type: "bin", raw: "B1" }, { type: "scan", raw: "SKU-1" }, { type: "resolved", product: product("SKU-1") }]).state;
    const steps = [];
    for (let i = 0; i < 2; i++) {
      state = pickNext(state, { type: "escape" }).state;
      steps.push(state.step);
    }
    expect(steps).toEqual(["item", "bin"]);
  });

  it("starts a new wave from nothing chosen", () => {
    const { state } = run([...started, { type: "again" }]);
    expect([state.step, state.wave, state.stops]).toEqual(["choose", [], []]);
    expect(state.orders).toHaveLength(2);
  });
});

describe("progress", () => {
  it("counts done, short and left stops", () => {
    const stops: WalkStop[] = walk.map((s, i) => ({ ...s, status: (["done", "short", "open"] as const)[i], picked: 0, from: null, fromLot: null }));
    expect(progress(stops)).toEqual({ done: 1, short: 1, left: 1 });
    expect(nextStop(stops)).toBe(2);
    expect(nextStop(stops.slice(0, 2))).toBeNull();
  });
});
