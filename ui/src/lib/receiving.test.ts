import { describe, expect, it } from "vitest";
import type { LineMatch, PurchaseLineView, PurchaseOrderView, Recorded } from "./bindings";
import {
  lineProgress,
  matchedLine,
  offeredQty,
  orderProgress,
  receiveNext,
  start,
  type ReceiveEvent,
  type ReceiveState,
} from "./receiving";

const line = (over: Partial<PurchaseLineView> = {}): PurchaseLineView => ({
  id: "line-1",
  sku: "SKU-2",
  name: "Widget 2",
  qty: 6,
  received: 1,
  received_here: 2,
  open: 3,
  ...over,
});

const po = (lines: PurchaseLineView[] = [line(), line({ id: "line-2", sku: "MILK-1", received: 0, received_here: 0, open: 6 })]): PurchaseOrderView => ({
  id: "po-1",
  number: "PO-000001",
  warehouse: "WH1",
  supplier: "Acme Parts",
  expected_on: null,
  status: "ordered",
  lines,
});

const widget: LineMatch = { line: "line-1", product: { id: "p2", sku: "SKU-2", name: "Widget 2", lot_tracked: false } };
const milk: LineMatch = { line: "line-2", product: { id: "p9", sku: "MILK-1", name: "Milk", lot_tracked: true } };

const recorded = (seq = 7): Recorded => ({ seq, movement: { id: "0190" }, projected: "applied", warnings: [] });

function run(...events: ReceiveEvent[]) {
  let state: ReceiveState = receiveNext(start, { type: "orders", orders: [po()] }).state;
  const matches: unknown[] = [];
  const submits: unknown[] = [];
  for (const event of events) {
    const t = receiveNext(state, event);
    state = t.state;
    if (t.match) matches.push(t.match);
    if (t.submit) submits.push(t.submit);
  }
  return { state, matches, submits };
}

const ready: ReceiveEvent[] = [
  { type: "order", raw: " po-000001\r" },
  { type: "bin", raw: "b2" },
];

describe("choosing the order and the bin", () => {
  it("takes a scanned order number in any case, then asks for the bin", () => {
    const { state } = run({ type: "order", raw: "po-000001" });
    expect(state.order?.number).toBe("PO-000001");
    expect(state.step).toBe("bin");
  });

  it("says so when the number is no open order here, and stays", () => {
    const { state } = run({ type: "order", raw: "PO-000404" });
    expect(state.step).toBe("order");
    expect(state.feedback?.tone).toBe("error");
    expect(state.feedback?.message).toContain("No open purchase order PO-000404");
  });

  it("keeps the bin from item to item and for the next order", () => {
    const { state } = run(...ready, { type: "scan", raw: "SKU-2" }, { type: "matched", match: widget }, { type: "qty", raw: "3" }, { type: "recorded", recorded: recorded() });
    expect(state.step).toBe("item");
    expect(state.bin).toBe("B2");
    const other = receiveNext(state, { type: "other" }).state;
    expect(other.step).toBe("order");
    const again = receiveNext(other, { type: "order", raw: "PO-000001" }).state;
    expect(again.step).toBe("item");
    expect(again.bin).toBe("B2");
  });
});

describe("scan → quantity → Enter", () => {
  it("asks the replica for the order's line of the scan, and offers what the line still expects", () => {
    const { state, matches } = run(...ready, { type: "scan", raw: "4006381333931" }, { type: "matched", match: widget });
    expect(matches).toEqual([{ order: "PO-000001", item: { by: "scan", value: "4006381333931" } }]);
    expect(state.step).toBe("qty");
    expect(matchedLine(state)?.id).toBe("line-1");
    expect(offeredQty(state)).toBe("3");
  });

  it("records a receipt into the bin naming the purchase line", () => {
    const { state, submits } = run(...ready, { type: "scan", raw: "SKU-2" }, { type: "matched", match: widget }, { type: "qty", raw: "2" });
    expect(state.step).toBe("saving");
    expect(submits).toEqual([
      { item: { by: "sku", value: "SKU-2" }, lot: null, warehouse: null, op: { kind: "receive", to: "B2", qty: 2 }, reference: { type: "purchase_line", id: "line-1" } },
    ]);
    const done = receiveNext(state, { type: "recorded", recorded: recorded(9) }).state;
    expect(done.feedback).toEqual({ tone: "ok", message: "Recorded #9: received 2 × SKU-2 into B2 for PO-000001" });
  });

  it("asks the lot of a lot-tracked product and records it as printed", () => {
    const { state, submits } = run(...ready, { type: "scan", raw: "MILK-1" }, { type: "matched", match: milk }, { type: "lot", raw: "Lot-7a" }, { type: "expiry", raw: "" }, { type: "qty", raw: "6" });
    expect(state.step).toBe("saving");
    expect(submits).toMatchObject([{ lot: "Lot-7a", reference: { type: "purchase_line", id: "line-2" } }]);
    expect(submits[0]).not.toHaveProperty("expires_on");
  });

  it("asks the expiry date on the label after the lot and records it with the receipt", () => {
    const afterLot = run(...ready, { type: "scan", raw: "MILK-1" }, { type: "matched", match: milk }, { type: "lot", raw: "L9" });
    expect(afterLot.state.step).toBe("expiry");
    expect(afterLot.submits).toEqual([]);
    const { state, submits } = run(...ready, { type: "scan", raw: "MILK-1" }, { type: "matched", match: milk }, { type: "lot", raw: "L9" }, { type: "expiry", raw: " 2027-06-30 " }, { type: "qty", raw: "6" });
    expect(state.step).toBe("saving");
    expect(submits).toMatchObject([{ lot: "L9", expires_on: "2027-06-30", op: { kind: "receive", to: "B2", qty: 6 } }]);
    // A date the replica refuses: the lot and its date are typed again.
    const refused = receiveNext(state, { type: "failed", error: { code: "invalid_input", message: "`30/06` is not a date written as YYYY-MM-DD" } }).state;
    expect([refused.step, refused.lot, refused.expiresOn]).toEqual(["lot", null, null]);
    // The next item starts without the last one's date.
    const next = receiveNext(state, { type: "recorded", recorded: recorded(3) }).state;
    expect([next.step, next.lot, next.expiresOn]).toEqual(["item", null, null]);
  });

  it("never sends an expiry date without a lot", () => {
    const { submits } = run(...ready, { type: "scan", raw: "SKU-2" }, { type: "matched", match: widget }, { type: "expiry", raw: "2027-01-01" }, { type: "qty", raw: "2" });
    expect(submits).toHaveLength(1);
    expect(submits[0]).not.toHaveProperty("expires_on");
  });

  it("refuses an item not on the order in plain words, records nothing, and waits for the next scan", () => {
    const { state, submits } = run(...ready, { type: "scan", raw: "SKU-9" });
    const refused = receiveNext(state, { type: "failed", error: { code: "not_on_order", message: "order PO-000001 has no line for SKU-9" } }).state;
    expect(refused.step).toBe("item");
    expect(refused.feedback?.tone).toBe("error");
    expect(refused.feedback?.message).toBe("Not on PO-000001: nothing was recorded. order PO-000001 has no line for SKU-9");
    expect(submits).toEqual([]);
  });
});

describe("over-receipt", () => {
  const over = [...ready, { type: "scan", raw: "SKU-2" }, { type: "matched", match: widget }] as ReceiveEvent[];

  it("warns before recording more than the line still expects, and records on the second Enter", () => {
    const first = run(...over, { type: "qty", raw: "5" });
    expect(first.submits).toEqual([]);
    expect(first.state.step).toBe("qty");
    expect(first.state.feedback?.tone).toBe("warn");
    expect(first.state.feedback?.message).toContain("Over-receipt: 5 × SKU-2, but the line still expects 3");
    const second = receiveNext(first.state, { type: "qty", raw: "5" });
    expect(second.submit?.op).toEqual({ kind: "receive", to: "B2", qty: 5 });
  });

  it("warns again for another quantity beyond, and takes one within at once", () => {
    const first = run(...over, { type: "qty", raw: "5" }, { type: "qty", raw: "4" });
    expect(first.submits).toEqual([]);
    expect(first.state.over).toBe(4);
    const within = receiveNext(first.state, { type: "qty", raw: "3" });
    expect(within.submit?.op).toEqual({ kind: "receive", to: "B2", qty: 3 });
  });

  it("treats any receipt against a complete line as an over-receipt, offering no quantity", () => {
    const complete = po([line({ received: 6, received_here: 0, open: 0 })]);
    let state = receiveNext(start, { type: "orders", orders: [complete] }).state;
    for (const event of [...over]) state = receiveNext(state, event).state;
    expect(offeredQty(state)).toBe("");
    expect(receiveNext(state, { type: "qty", raw: "1" }).submit).toBeUndefined();
  });
});

describe("refusals and going back", () => {
  const saving = [...ready, { type: "scan", raw: "SKU-2" }, { type: "matched", match: widget }, { type: "qty", raw: "1" }] as ReceiveEvent[];

  it("sends an unknown bin back to the bin step, an unknown lot to the lot", () => {
    const { state } = run(...saving);
    const bin = receiveNext(state, { type: "failed", error: { code: "unknown_location", message: "no location with code B2" } }).state;
    expect(bin.step).toBe("bin");
    expect(bin.bin).toBeNull();
    const lot = receiveNext(state, { type: "failed", error: { code: "unknown_lot", message: "product MILK-1 has no lot X" } }).state;
    expect(lot.step).toBe("lot");
  });

  it("steps back with Esc: quantity → item → bin → order", () => {
    let { state } = run(...ready, { type: "scan", raw: "SKU-2" }, { type: "matched", match: widget });
    const steps = [];
    for (let i = 0; i < 3; i++) {
      state = receiveNext(state, { type: "escape" }).state;
      steps.push(state.step);
    }
    expect(steps).toEqual(["item", "bin", "order"]);
    expect(state.order).toBeNull();
  });

  it("follows the order as read again after a recording", () => {
    const { state } = run(...ready);
    const fresh = po([line({ received_here: 5, open: 0 })]);
    const next = receiveNext(state, { type: "orders", orders: [fresh] }).state;
    expect(next.order?.lines[0].open).toBe(0);
  });
});

describe("progress", () => {
  it("counts this device's receipts and says when a line went beyond its order", () => {
    expect(lineProgress(line())).toEqual({ received: 3, ordered: 6, open: 3, over: false });
    expect(lineProgress(line({ received: 5, received_here: 3, open: 0 }))).toEqual({ received: 8, ordered: 6, open: 0, over: true });
    expect(orderProgress(po([line(), line({ id: "l2", open: 0 })]))).toEqual({ complete: 1, lines: 2 });
  });
});
