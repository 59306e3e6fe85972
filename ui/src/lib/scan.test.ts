import { describe, expect, it } from "vitest";
import { SCANNED_QTY_DIGITS } from "./bindings";
import { SCAN_LENGTH_MAX, parseQty, parseScan } from "./scan";

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
    const scanned = (raw: string) => ({
      ok: false,
      error: `${raw} looks like a barcode scanned into the quantity: scan items in the item field (a quantity of ${SCANNED_QTY_DIGITS} digits or more is not taken here)`,
    });
    expect(SCANNED_QTY_DIGITS).toBe(8);
    expect(parseQty("9999999")).toEqual({ ok: true, value: 9_999_999 });
    expect(parseQty("9 999 999")).toEqual({ ok: true, value: 9_999_999 });
    // EAN-13, UPC-A (12 digits, below core's QTY_MAX) and EAN-8 with its leading zero.
    expect(parseQty("4006381333931")).toEqual(scanned("4006381333931"));
    expect(parseQty("036000291452")).toEqual(scanned("036000291452"));
    expect(parseQty("01234565")).toEqual(scanned("01234565"));
    expect(parseQty("-10000000", { signed: true })).toEqual(scanned("-10000000"));
  });
});
