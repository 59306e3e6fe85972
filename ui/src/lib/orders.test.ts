import { describe, expect, it } from "vitest";
import type { Recorded } from "./bindings";
import { confirmed, errorFeedback, lineAction, recordedFeedback, sameCode } from "./orders";

const recorded = (over: Partial<Recorded> = {}): Recorded => ({
  seq: 4,
  movement: { id: "0190" },
  projected: "applied",
  warnings: [],
  ...over,
});

describe("an order line's movement", () => {
  it("records a receipt naming the purchase line, a pick naming the sales line", () => {
    expect(lineAction("receive", { lineId: "line-1", sku: "SKU-2", bin: " B2 ", lot: " " }, 4)).toEqual({
      item: { by: "sku", value: "SKU-2" },
      lot: null,
      warehouse: null,
      op: { kind: "receive", to: "B2", qty: 4 },
      reference: { type: "purchase_line", id: "line-1" },
    });
    expect(lineAction("pick", { lineId: "line-9", sku: "SKU-2", bin: "B3", lot: " L1 " }, 2)).toEqual({
      item: { by: "sku", value: "SKU-2" },
      lot: "L1",
      warehouse: null,
      op: { kind: "ship", from: "B3", qty: 2 },
      reference: { type: "sales_line", id: "line-9" },
    });
  });
});

describe("feedback", () => {
  it("stays green when the replica expects the server to apply it, turns amber otherwise", () => {
    expect(recordedFeedback("Recorded #4", recorded())).toEqual({ tone: "ok", message: "Recorded #4" });
    expect(recordedFeedback("Recorded #4", recorded(), "warn").tone).toBe("warn");
    const held = recordedFeedback("Recorded #4", recorded({ projected: "held", warnings: [{ code: "beyond_projected_stock", message: "more than the bin holds" }] }));
    expect(held).toEqual({ tone: "warn", message: "Recorded #4. The server may hold it: held. more than the bin holds" });
  });

  it("labels a refusal by its code", () => {
    expect(errorFeedback({ code: "unknown_order", message: "no open order SO-9" })).toEqual({ tone: "error", message: "Unknown order: no open order SO-9" });
    expect(errorFeedback({ code: "storage", message: "disk full" }).message).toBe("Error: disk full");
  });
});

describe("confirmations and codes", () => {
  it("confirms only the same answer given twice", () => {
    expect(confirmed(null, 5)).toBe(false);
    expect(confirmed(4, 5)).toBe(false);
    expect(confirmed(5, 5)).toBe(true);
  });

  it("compares codes trimmed and in any case", () => {
    expect(sameCode(" b1 ", "B1")).toBe(true);
    expect(sameCode("B1", "B10")).toBe(false);
  });
});
