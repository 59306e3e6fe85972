import { describe, expect, it } from "vitest";
import type { Imported } from "./bindings";
import { committable, errorLine, IMPORT_KINDS, percent } from "./imports";

const preview = (over: Partial<Imported> = {}): Imported => ({
  id: "j1",
  status: "ready",
  rows: 3,
  to_create: 2,
  to_update: 1,
  unchanged: 0,
  errors: 0,
  error_cells: [],
  ...over,
});

describe("the import form", () => {
  it("shows the validation's progress in percent, bounded", () => {
    expect(percent(null)).toBe(0);
    expect(percent({ done: 0, total: 0 })).toBe(0);
    expect(percent({ done: 5_000, total: 20_000 })).toBe(25);
    expect(percent({ done: 19_999, total: 20_000 })).toBe(99);
    expect(percent({ done: 20_000, total: 20_000 })).toBe(100);
    expect(percent({ done: 30, total: 20 })).toBe(100);
  });

  it("commits only a ready preview without errors", () => {
    expect(committable(null)).toBe(false);
    expect(committable(preview())).toBe(true);
    expect(committable(preview({ errors: 1 }))).toBe(false);
    expect(committable(preview({ status: "committed" }))).toBe(false);
    expect(committable(preview({ status: "expired" }))).toBe(false);
  });

  it("words a failing cell with its row, column and value", () => {
    expect(errorLine({ row: 3, column: "barcodes", value: "123", message: "bad check digit" })).toBe(
      'row 3, barcodes: bad check digit ("123")',
    );
    expect(errorLine({ row: 2, column: "name", value: "", message: "required" })).toBe("row 2, name: required");
  });

  it("lists every kind the replica imports", () => {
    expect([...IMPORT_KINDS]).toEqual(["products", "locations", "lots", "suppliers", "customers", "stock", "purchase_orders", "sales_orders"]);
  });
});
