import { describe, expect, it } from "vitest";
import {
  type CustomField,
  type Location,
  barcodesOf,
  diffOf,
  mergeProducts,
  productQueries,
  fieldsOf,
  instantOf,
  matchZones,
  productBody,
  productForm,
  queryOf,
  sectionsFor,
  treeKey,
  visibleRows,
} from "./backoffice";

describe("the sections a role sees", () => {
  const table: [string, string[], string[]][] = [
    ["admin", ["catalog_manage", "users_read", "devices_manage", "api_keys_read", "settings_manage", "audit_read"], ["warehouses", "products", "people", "settings", "audit"]],
    ["manager", ["catalog_read", "catalog_manage", "audit_read"], ["warehouses", "products", "audit"]],
    ["a key reader only", ["api_keys_read"], ["people"]],
    ["operator", ["catalog_read", "stock_read", "movements_write"], []],
    ["nobody", [], []],
  ];
  for (const [who, permissions, sections] of table) {
    it(who, () => expect(sectionsFor(permissions)).toEqual(sections));
  }
});

describe("query strings", () => {
  it("leaves out what has no value and encodes spaces", () => {
    expect(queryOf({ q: " red box ", limit: 50, active: false, cursor: null, actor: undefined, blank: "  " })).toBe(
      "?q=red%20box&limit=50&active=false",
    );
    expect(queryOf({})).toBe("");
    expect(queryOf({ a: "x&y=z" })).toBe("?a=x%26y%3Dz");
  });
});

describe("time zone search", () => {
  const zones = ["UTC", "Europe/Paris", "America/New_York", "America/Argentina/Buenos_Aires", "Asia/Kolkata"];
  it("matches every word, any case, underscores as spaces", () => {
    expect(matchZones(zones, "new york")).toEqual(["America/New_York"]);
    expect(matchZones(zones, "AMERICA")).toEqual(["America/New_York", "America/Argentina/Buenos_Aires"]);
    expect(matchZones(zones, "buenos argentina")).toEqual(["America/Argentina/Buenos_Aires"]);
    expect(matchZones(zones, "tokyo")).toEqual([]);
    expect(matchZones(zones, "", 2)).toEqual(["UTC", "Europe/Paris"]);
  });
});

const loc = (id: string, code: string, parent: string | null = null): Location => ({
  id,
  warehouse_id: "w",
  parent_id: parent,
  code,
  name: code,
  path: code,
  depth: parent ? 2 : 1,
  active: true,
});

describe("the location tree", () => {
  const a = loc("a", "A");
  const b = loc("b", "B");
  const a1 = loc("a1", "A-01", "a");
  const a2 = loc("a2", "A-02", "a");
  const kids = new Map([["a", [a2, a1]], ["b", []]]);

  it("shows the roots by code, and the children of what is open", () => {
    expect(visibleRows([b, a], kids, new Set()).map((r) => r.location.id)).toEqual(["a", "b"]);
    const open = visibleRows([b, a], kids, new Set(["a"]));
    expect(open.map((r) => [r.location.id, r.level])).toEqual([["a", 0], ["a1", 1], ["a2", 1], ["b", 0]]);
    // B's children were loaded and there are none: nothing to open.
    expect(open.find((r) => r.location.id === "b")?.expandable).toBe(false);
    // A-01's were never loaded: it may have some.
    expect(open.find((r) => r.location.id === "a1")?.expandable).toBe(true);
  });

  it("moves like a WAI-ARIA tree", () => {
    const closed = visibleRows([a, b], kids, new Set());
    const open = visibleRows([a, b], kids, new Set(["a"]));
    expect(treeKey("ArrowDown", closed, null)).toEqual({ focus: "a" });
    expect(treeKey("ArrowDown", closed, "a")).toEqual({ focus: "b" });
    expect(treeKey("ArrowDown", closed, "b")).toEqual({ focus: "b" });
    expect(treeKey("ArrowUp", closed, "a")).toEqual({ focus: "a" });
    expect(treeKey("End", open, "a")).toEqual({ focus: "b" });
    expect(treeKey("Home", open, "b")).toEqual({ focus: "a" });
    expect(treeKey("ArrowRight", closed, "a")).toEqual({ expand: "a" });
    expect(treeKey("ArrowRight", open, "a")).toEqual({ focus: "a1" });
    expect(treeKey("ArrowRight", open, "b")).toBeNull();
    expect(treeKey("ArrowLeft", open, "a")).toEqual({ collapse: "a" });
    expect(treeKey("ArrowLeft", open, "a2")).toEqual({ focus: "a" });
    expect(treeKey("ArrowLeft", closed, "b")).toBeNull();
    expect(treeKey("x", open, "a")).toBeNull();
    expect(treeKey("ArrowDown", [], null)).toBeNull();
  });
});

describe("the product form", () => {
  const fields: CustomField[] = [
    { name: "color", title: "Colour", type: "string", options: ["red", "blue"], required: false },
    { name: "weight", title: "weight", type: "number", options: [], required: true },
    { name: "fragile", title: "fragile", type: "boolean", options: [], required: false },
  ];

  it("reads barcodes one per line or by commas", () => {
    expect(barcodesOf(" 4006381333931\n\n 0012345678905 , 96385074 ")).toEqual(["4006381333931", "0012345678905", "96385074"]);
    expect(barcodesOf("  ")).toEqual([]);
  });

  it("sends whole numbers as numbers, decimals as text and blank custom fields not at all", () => {
    const form = productForm(null, fields);
    expect(form.uom).toBe("ea");
    expect(form.custom).toEqual({ color: "", weight: "", fragile: false });
    const body = productBody(
      { ...form, sku: " SKU-1 ", name: "Box", reorder_point: "5", reorder_qty: "x2", cost: "1.10", barcodes: "96385074", custom: { color: "", weight: "2.5", fragile: true } },
      fields,
      true,
    );
    expect(body).toEqual({
      sku: "SKU-1",
      name: "Box",
      uom: "ea",
      lot_tracked: false,
      expiry_policy: "fifo",
      reorder_point: 5,
      reorder_qty: "x2",
      barcodes: ["96385074"],
      custom: { weight: 2.5, fragile: true },
      cost: "1.10",
    });
  });

  it("clears cost and price on an update when they are blanked", () => {
    const product = {
      id: "p", sku: "S", name: "N", uom: "kg", lot_tracked: true, expiry_policy: "fefo" as const, reorder_point: 1,
      reorder_qty: 2, cost: "3.00", price: "4.00", custom: { color: "red", weight: 7 }, barcodes: ["96385074"], active: true,
    };
    const form = productForm(product, fields);
    expect(form.custom).toEqual({ color: "red", weight: "7", fragile: false });
    expect(form.barcodes).toBe("96385074");
    const body = productBody({ ...form, cost: "", price: " " }, fields, false);
    expect(body.cost).toBeNull();
    expect(body.price).toBeNull();
    expect(body.custom).toEqual({ color: "red", weight: 7, fragile: false });
  });
});

describe("custom fields from the tenant's schema", () => {
  it("renders simple properties and leaves the rest", () => {
    const schema = {
      type: "object",
      required: ["grade"],
      properties: {
        grade: { type: "string", enum: ["A", "B"], title: "Grade" },
        shelf_days: { type: ["integer", "null"] },
        dims: { type: "object", properties: { w: { type: "number" } } },
        tags: { type: "array" },
      },
    };
    expect(fieldsOf(schema)).toEqual([
      { name: "grade", title: "Grade", type: "string", options: ["A", "B"], required: true },
      { name: "shelf_days", title: "shelf_days", type: "integer", options: [], required: false },
    ]);
    expect(fieldsOf(null)).toEqual([]);
    expect(fieldsOf("x")).toEqual([]);
    expect(fieldsOf({})).toEqual([]);
  });
});

describe("the audit diff", () => {
  it("shows what changed, field by field", () => {
    expect(
      diffOf(
        { name: "Old", active: true, custom: { color: "red", size: 1 }, updated_at: "t1" },
        { name: "New", active: true, custom: { color: "blue", size: 1 }, updated_at: "t2", code: "X" },
      ),
    ).toEqual([
      { field: "code", before: null, after: "X" },
      { field: "custom.color", before: "red", after: "blue" },
      { field: "name", before: "Old", after: "New" },
    ]);
  });

  it("shows a creation as after only and a deletion as before only", () => {
    expect(diffOf(null, { code: "A", qty: 3 })).toEqual([
      { field: "code", before: null, after: "A" },
      { field: "qty", before: null, after: "3" },
    ]);
    expect(diffOf({ code: "A", tags: ["x"] }, null)).toEqual([
      { field: "code", before: "A", after: null },
      { field: "tags", before: '["x"]', after: null },
    ]);
    expect(diffOf(null, null)).toEqual([]);
  });
});

describe("times typed in the audit filter", () => {
  it("reads a local time and ignores blank or bad text", () => {
    expect(instantOf("")).toBeNull();
    expect(instantOf("not a time")).toBeNull();
    expect(instantOf("2026-03-01T10:00")).toBe(new Date(2026, 2, 1, 10, 0).toISOString());
  });
});

describe("the product search", () => {
  it("asks by barcode, SKU prefix and name, as the text can be each", () => {
    expect(productQueries("  ")).toEqual([{}]);
    expect(productQueries("4006381333931")).toEqual([
      { barcode: "4006381333931" },
      { sku_prefix: "4006381333931" },
      { q: "4006381333931" },
    ]);
    expect(productQueries("BO-")).toEqual([{ sku_prefix: "BO-" }]);
    expect(productQueries("bolt")).toEqual([{ sku_prefix: "bolt" }, { q: "bolt" }]);
    expect(productQueries("steel bolt")).toEqual([{ q: "steel bolt" }]);
    expect(productQueries("a b")).toEqual([]);
    expect(productQueries("1234567")).toEqual([{ sku_prefix: "1234567" }, { q: "1234567" }]);
  });

  it("lists each product once, by SKU", () => {
    const p = (id: string, sku: string) => ({ ...productFormless, id, sku });
    const productFormless = {
      id: "", sku: "", name: "n", uom: "ea", lot_tracked: false, expiry_policy: "fifo" as const, reorder_point: 0,
      reorder_qty: 0, cost: null, price: null, custom: {}, barcodes: [], active: true,
    };
    expect(mergeProducts([[p("2", "B"), p("1", "A")], [p("2", "B"), p("3", "C")]]).map((x) => x.id)).toEqual(["1", "2", "3"]);
    expect(mergeProducts([])).toEqual([]);
  });
});
