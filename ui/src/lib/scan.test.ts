import { describe, expect, it } from "vitest";
import { QTY_MAX, SCAN_LENGTH_MAX, parseQty, parseScan } from "./scan";

describe("parseScan", () => {
  it.each([
    ["4006381333931", "4006381333931"],
    ["  BOLT-M8 ", "BOLT-M8"],
    ["4006381333931\r\n", "4006381333931"],
    ["4006381333931\t", "4006381333931"],
    ["]E04006381333931", "4006381333931"],
    ["]C1(01)09501101530003", "(01)09501101530003"],
  ])("reads %j as %j", (raw, code) => {
    expect(parseScan(raw)).toEqual({ ok: true, value: code });
  });

  it("refuses an empty scan", () => {
    expect(parseScan("  \r\n")).toEqual({ ok: false, error: "Nothing was scanned" });
  });

  it("refuses control characters inside a code instead of guessing", () => {
    const parsed = parseScan("0101\u001d17");
    expect(parsed.ok).toBe(false);
  });

  it("refuses a scan longer than any code", () => {
    expect(parseScan("9".repeat(SCAN_LENGTH_MAX)).ok).toBe(true);
    const parsed = parseScan("9".repeat(SCAN_LENGTH_MAX + 1));
    expect(parsed).toEqual({ ok: false, error: `That scan is too long to be a barcode or SKU (${SCAN_LENGTH_MAX} characters at most)` });
  });
});

describe("parseQty", () => {
  it.each([
    ["12", 12],
    [" 7 ", 7],
    ["1,200", 1200],
    ["1 200", 1200],
    ["1'200", 1200],
    ["+3", 3],
  ])("reads %j as %d", (raw, qty) => {
    expect(parseQty(raw)).toEqual({ ok: true, value: qty });
  });

  it.each([
    ["", "Enter a quantity"],
    ["abc", "“abc” is not a whole number"],
    ["1.5", "“1.5” is not a whole number"],
    ["0", "The quantity must not be zero"],
    ["-4", "The quantity must be more than zero"],
  ])("refuses %j: %s", (raw, error) => {
    expect(parseQty(raw)).toEqual({ ok: false, error });
  });

  it("takes a sign for adjustments, including the typographic minus", () => {
    expect(parseQty("-4", { signed: true })).toEqual({ ok: true, value: -4 });
    expect(parseQty("\u22124", { signed: true })).toEqual({ ok: true, value: -4 });
    expect(parseQty("0", { signed: true }).ok).toBe(false);
  });

  it("refuses a barcode scanned into the quantity field", () => {
    expect(parseQty(String(QTY_MAX)).ok).toBe(true);
    expect(parseQty("4006381333931")).toEqual({
      ok: false,
      error: `4006381333931 is more than ${QTY_MAX}, the largest quantity accepted`,
    });
  });
});
