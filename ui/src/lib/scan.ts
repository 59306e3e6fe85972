// Parsing what a barcode scanner (a keyboard to the computer) or a person typed.

import { SCANNED_QTY_DIGITS } from "./bindings";
import { fill, messages } from "./i18n";

/** The longest code accepted: GS1-128 carries at most 48 data characters, SKUs less. */
export const SCAN_LENGTH_MAX = 64;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

// AIM symbology identifiers some scanners prefix (e.g. "]C1" for GS1-128, "]E0" for EAN-13).
const SYMBOLOGY_PREFIX = /^\][A-Za-z][0-9A-Za-z]/;

/**
 * Cleans one scan: surrounding whitespace and the Enter/Tab a scanner sends go, an AIM
 * symbology prefix goes; anything else unprintable (a stray control code) is refused
 * rather than guessed at.
 */
export function parseScan(raw: string): Parsed<string> {
  let code = raw.replace(/[\r\n\t]+$/g, "").trim();
  code = code.replace(SYMBOLOGY_PREFIX, "");
  if (code.length === 0) return { ok: false, error: messages.scan.empty };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(code)) return { ok: false, error: messages.scan.control };
  if (code.length > SCAN_LENGTH_MAX) {
    return { ok: false, error: fill(messages.scan.tooLong, { max: SCAN_LENGTH_MAX }) };
  }
  return { ok: true, value: code };
}

/**
 * Parses a quantity as typed: a whole number, thousands separators (space, comma,
 * apostrophe, thin space) allowed; `signed` allows a leading minus (adjustments).
 * A number of core's `SCANNED_QTY_DIGITS` digits or more (leading zeros count) is refused
 * as a barcode scanned into the quantity field; that also keeps every quantity taken here
 * far below core's `QTY_MAX`, the bound the replica and the server check.
 */
export function parseQty(raw: string, options: { signed?: boolean } = {}): Parsed<number> {
  const text = raw.trim().replace(/[\s,'\u2009\u202f]/g, "").replace(/^\u2212/, "-");
  if (text.length === 0) return { ok: false, error: messages.qty.empty };
  if (!/^[+-]?\d+$/.test(text)) return { ok: false, error: fill(messages.qty.notNumber, { raw: raw.trim() }) };
  const digits = text.replace(/^[+-]/, "").length;
  if (digits >= SCANNED_QTY_DIGITS) {
    return { ok: false, error: fill(messages.qty.scanned, { raw: raw.trim(), digits: SCANNED_QTY_DIGITS }) };
  }
  const value = Number(text);
  if (value === 0) return { ok: false, error: messages.qty.zero };
  if (value < 0 && !options.signed) return { ok: false, error: messages.qty.negative };
  return { ok: true, value };
}

/**
 * Parses a counted quantity: like {@link parseQty}, but zero is a count (the bin holds
 * none) and a sign is refused.
 */
export function parseCount(raw: string): Parsed<number> {
  const text = raw.trim().replace(/[\s,'\u2009\u202f]/g, "");
  if (text === "0" || /^0+$/.test(text)) return { ok: true, value: 0 };
  return parseQty(raw);
}

/** A keydown handler doing `then` on Enter (a scanner's or a person's), nothing else. */
export function onEnter(then: () => void): (event: KeyboardEvent) => void {
  return (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    then();
  };
}
