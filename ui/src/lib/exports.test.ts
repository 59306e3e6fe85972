import { describe, expect, it } from "vitest";
import { byTime, byWarehouse, defaultName, exportFile, type ExportForm } from "./exports";

const form = (over: Partial<ExportForm> = {}): ExportForm => ({
  kind: "stock",
  format: "csv",
  warehouse: "WH1",
  from: "2026-12-01",
  to: "",
  ...over,
});

describe("the export form", () => {
  it("sends only the filters that apply to the kind", () => {
    expect(exportFile(form(), "/tmp/s.csv")).toEqual({
      kind: "stock",
      path: "/tmp/s.csv",
      format: "csv",
      warehouse: "WH1",
      from: null,
      to: null,
    });
    expect(exportFile(form({ kind: "audit", to: "2026-12-06" }), "/a.xlsx")).toMatchObject({
      warehouse: null,
      from: "2026-12-01",
      to: "2026-12-06",
    });
    expect(exportFile(form({ kind: "movements", warehouse: "" }), "/m.csv")).toMatchObject({
      warehouse: null,
      from: "2026-12-01",
    });
    expect(exportFile(form({ kind: "products" }), "/p.csv")).toMatchObject({ warehouse: null, from: null });
  });

  it("knows which kinds are per warehouse and per time", () => {
    expect(["products", "locations", "stock", "movements", "audit"].map((k) => byWarehouse(k as never))).toEqual([
      false,
      true,
      true,
      true,
      false,
    ]);
    expect(["products", "stock", "movements", "audit"].map((k) => byTime(k as never))).toEqual([false, false, true, true]);
  });

  it("proposes a file name with the kind, the warehouse and the day", () => {
    const today = new Date("2026-12-06T10:00:00Z");
    expect(defaultName(form(), today)).toBe("stock-WH1-2026-12-06.csv");
    expect(defaultName(form({ kind: "audit", format: "xlsx" }), today)).toBe("audit-2026-12-06.xlsx");
  });
});
