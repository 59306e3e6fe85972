import { describe, expect, it } from "vitest";
import { beyondOpen, draftAction, draftQty, type OrderDraft } from "./orders";

const draft = (over: Partial<OrderDraft> = {}): OrderDraft => ({
  kind: "receive",
  order: "PO-000001",
  lineId: "line-1",
  sku: "SKU-2",
  open: 6,
  bin: " B2 ",
  lot: "",
  qty: "4",
  ...over,
});

describe("an order line's form", () => {
  it("reads whole quantities of 1 or more only", () => {
    expect(draftQty(draft({ qty: "4" }))).toBe(4);
    for (const qty of ["0", "-1", "2.5", "", "4x"]) expect(draftQty(draft({ qty }))).toBeNull();
  });

  it("warns beyond what the line still expects, not up to it", () => {
    expect(beyondOpen(draft({ qty: "6" }))).toBe(false);
    expect(beyondOpen(draft({ qty: "7" }))).toBe(true);
    expect(beyondOpen(draft({ qty: "1", open: 0 }))).toBe(true);
    expect(beyondOpen(draft({ qty: "abc" }))).toBe(false);
  });

  it("records a receipt naming the purchase line, a pick naming the sales line", () => {
    expect(draftAction(draft(), 4)).toEqual({
      item: { by: "sku", value: "SKU-2" },
      lot: null,
      warehouse: null,
      op: { kind: "receive", to: "B2", qty: 4 },
      reference: { type: "purchase_line", id: "line-1" },
    });
    expect(draftAction(draft({ kind: "pick", lot: " L1 ", lineId: "line-9" }), 2)).toEqual({
      item: { by: "sku", value: "SKU-2" },
      lot: "L1",
      warehouse: null,
      op: { kind: "ship", from: "B2", qty: 2 },
      reference: { type: "sales_line", id: "line-9" },
    });
  });
});
