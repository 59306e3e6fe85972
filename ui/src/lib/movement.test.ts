import { describe, expect, it } from "vitest";
import type { Recorded } from "./bindings";
import { binsNeeded, initial, next, type Form, type State } from "./movement";

const receive: Form = { kind: "receive", from: "", to: "A-01", reason: "correction" };

function recorded(over: Partial<Recorded> = {}): Recorded {
  return {
    seq: 7,
    movement: { id: "0190", occurred_at: "2026-01-01T00:00:00Z" },
    projected: "applied",
    warnings: [],
    ...over,
  };
}

function run(form: Form, ...events: Parameters<typeof next>[1][]): { state: State; submits: unknown[] } {
  let state = initial;
  const submits: unknown[] = [];
  for (const event of events) {
    const t = next(state, event, form);
    state = t.state;
    if (t.submit) submits.push(t.submit);
  }
  return { state, submits };
}

describe("the scan → quantity flow", () => {
  it("records a receive after scan, Enter, quantity, Enter", () => {
    const { state, submits } = run(receive, { type: "scan", raw: "4006381333931\r" }, { type: "qty", raw: "12" });
    expect(state.step).toBe("saving");
    expect(submits).toEqual([
      { item: { by: "scan", value: "4006381333931" }, lot: null, warehouse: null, op: { kind: "receive", to: "A-01", qty: 12 }, reference: null },
    ]);
  });

  it("goes back to scanning with a green message once recorded", () => {
    const { state } = run(
      receive,
      { type: "scan", raw: "BOLT" },
      { type: "qty", raw: "3" },
      { type: "recorded", recorded: recorded() },
    );
    expect(state.step).toBe("item");
    expect(state.item).toBeNull();
    expect(state.feedback).toEqual({ tone: "ok", message: "Recorded #7: Receive 3 × BOLT" });
  });

  it("turns amber when the projection expects the server to hold it or warns", () => {
    const { state } = run(
      { ...receive, kind: "ship", from: "A-01" },
      { type: "scan", raw: "BOLT" },
      { type: "qty", raw: "30" },
      { type: "recorded", recorded: recorded({ projected: "held", warnings: [{ code: "beyond_projected_stock", message: "more than the bin holds" }] }) },
    );
    expect(state.feedback?.tone).toBe("warn");
    expect(state.feedback?.message).toContain("The server may hold it: held");
    expect(state.feedback?.message).toContain("more than the bin holds");
  });

  it("sends an unknown scan back to scanning, in red, with the replica's words", () => {
    const { state } = run(
      receive,
      { type: "scan", raw: "NOPE" },
      { type: "qty", raw: "1" },
      { type: "failed", error: { code: "unknown_product", message: "no product with sku or barcode NOPE" } },
    );
    expect(state.step).toBe("item");
    expect(state.feedback).toEqual({ tone: "error", message: "Unknown item: no product with sku or barcode NOPE" });
  });

  it("keeps the item and asks the quantity again when the quantity is refused", () => {
    const { state } = run(
      receive,
      { type: "scan", raw: "BOLT" },
      { type: "qty", raw: "1" },
      { type: "failed", error: { code: "invalid_input", message: "qty: too large" } },
    );
    expect(state.step).toBe("qty");
    expect(state.item).toBe("BOLT");
    expect(state.feedback?.tone).toBe("error");
  });

  it("refuses a bad quantity without submitting and stays on it", () => {
    const { state, submits } = run(receive, { type: "scan", raw: "BOLT" }, { type: "qty", raw: "-2" });
    expect(submits).toEqual([]);
    expect(state.step).toBe("qty");
    expect(state.feedback).toEqual({ tone: "error", message: "The quantity must be more than zero" });
  });

  it("asks for the bin before the first scan", () => {
    const { state } = run({ ...receive, to: "  " }, { type: "scan", raw: "BOLT" });
    expect(state.step).toBe("item");
    expect(state.feedback).toEqual({ tone: "error", message: "Enter the bin first" });
  });

  it("takes a signed change with its reason for an adjustment", () => {
    const { submits } = run(
      { kind: "adjust", from: "", to: "B-01", reason: "damage" },
      { type: "scan", raw: "MILK" },
      { type: "qty", raw: "-2" },
    );
    expect(submits).toEqual([
      { item: { by: "scan", value: "MILK" }, lot: null, warehouse: null, op: { kind: "adjust", at: "B-01", delta: -2, reason: "damage" }, reference: null },
    ]);
  });

  it("moves between two bins for a transfer", () => {
    const { submits } = run(
      { kind: "transfer", from: "A-01", to: " A-02 ", reason: "correction" },
      { type: "scan", raw: "BOLT" },
      { type: "qty", raw: "5" },
    );
    expect(submits).toEqual([
      { item: { by: "scan", value: "BOLT" }, lot: null, warehouse: null, op: { kind: "transfer", from: "A-01", to: "A-02", qty: 5 }, reference: null },
    ]);
  });

  it("starts over on Escape and ignores events out of turn", () => {
    expect(run(receive, { type: "scan", raw: "BOLT" }, { type: "escape" }).state).toEqual(initial);
    expect(run(receive, { type: "qty", raw: "5" }).state).toEqual(initial);
    expect(run(receive, { type: "recorded", recorded: recorded() }).state).toEqual(initial);
    const saving = run(receive, { type: "scan", raw: "BOLT" }, { type: "qty", raw: "5" }, { type: "scan", raw: "OTHER" });
    expect(saving.state.step).toBe("saving");
    expect(saving.submits).toHaveLength(1);
  });

  it("knows which bins each kind needs", () => {
    expect(binsNeeded("receive")).toEqual(["to"]);
    expect(binsNeeded("ship")).toEqual(["from"]);
    expect(binsNeeded("transfer")).toEqual(["from", "to"]);
    expect(binsNeeded("adjust")).toEqual(["to"]);
  });
});

describe("lots", () => {
  const milk = { id: "p9", sku: "MILK", name: "Milk", lot_tracked: true };
  const bolt = { id: "p1", sku: "BOLT", name: "Bolt", lot_tracked: false };

  it("looks the scan up, and goes on to the quantity for an item without lots", () => {
    const t = next(initial, { type: "scan", raw: "BOLT" }, receive);
    expect(t.resolve).toEqual({ by: "scan", value: "BOLT" });
    expect(next(t.state, { type: "resolved", product: bolt }, receive).state.step).toBe("qty");
  });

  it("asks the lot, then for a receipt the date on its label, and records both", () => {
    const toLot = [{ type: "scan", raw: "MILK" }, { type: "resolved", product: milk }] as const;
    expect(run(receive, ...toLot).state.step).toBe("lot");
    expect(run(receive, ...toLot, { type: "lot", raw: "L-9a" }).state.step).toBe("expiry");
    const { state, submits } = run(receive, ...toLot, { type: "lot", raw: "L-9a" }, { type: "expiry", raw: "2027-06-30" }, { type: "qty", raw: "4" });
    expect(state.step).toBe("saving");
    expect(submits).toEqual([
      { item: { by: "scan", value: "MILK" }, lot: "L-9a", expires_on: "2027-06-30", warehouse: null, op: { kind: "receive", to: "A-01", qty: 4 }, reference: null },
    ]);
    // The next scan starts without the last lot.
    const done = next(state, { type: "recorded", recorded: recorded() }, receive).state;
    expect([done.step, done.lot, done.expiresOn]).toEqual(["item", null, null]);
  });

  it("asks no date for a transfer, and sends none", () => {
    const transfer: Form = { ...receive, kind: "transfer", from: "A-01", to: "A-02" };
    const { submits } = run(transfer, { type: "scan", raw: "MILK" }, { type: "resolved", product: milk }, { type: "lot", raw: "L1" }, { type: "qty", raw: "2" });
    expect(submits).toEqual([
      { item: { by: "scan", value: "MILK" }, lot: "L1", warehouse: null, op: { kind: "transfer", from: "A-01", to: "A-02", qty: 2 }, reference: null },
    ]);
  });

  it("sends a lot the replica refuses, or a lot it asks for, back to the lot", () => {
    const ship: Form = { ...receive, kind: "ship", from: "A-01" };
    const saving = run(ship, { type: "scan", raw: "MILK" }, { type: "resolved", product: milk }, { type: "lot", raw: "L-X" }, { type: "qty", raw: "1" }).state;
    const unknown = next(saving, { type: "failed", error: { code: "unknown_lot", message: "product MILK has no lot L-X" } }, ship).state;
    expect([unknown.step, unknown.lot, unknown.item]).toEqual(["lot", null, "MILK"]);
    // Enter on the quantity before the look-up answered: the replica asks the lot.
    const early = run(ship, { type: "scan", raw: "MILK" }, { type: "qty", raw: "1" }).state;
    const asked = next(early, { type: "failed", error: { code: "lot_required", message: "MILK needs a lot" } }, ship).state;
    expect(asked.step).toBe("lot");
  });

  it("says at once that a scan names no item", () => {
    const t = next(initial, { type: "scan", raw: "NOPE" }, receive);
    const state = next(t.state, { type: "unresolved", error: { code: "unknown_product", message: "no product NOPE" } }, receive).state;
    expect(state.step).toBe("item");
    expect(state.feedback).toEqual({ tone: "error", message: "Unknown item: no product NOPE" });
  });
});
