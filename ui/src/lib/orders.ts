// What the receiving and picking screens share: the movement that names an order line,
// how a recording or a refusal reads, and the two-step confirmation of what the server
// will flag (an over-receipt, a short or over pick, a substitute bin).

import type { Action, ErrorBody, Recorded } from "./bindings";
import { fill, messages } from "./i18n";
import type { Feedback, Tone } from "./movement";

/** Where a receipt or a pick happened and which order line it fulfils. */
export interface LineTarget {
  /** The purchase or sales line's id. */
  lineId: string;
  sku: string;
  bin: string;
  lot: string | null;
  /** A receipt's lot expiry as typed (`YYYY-MM-DD`, the replica checks it); none: null. */
  expiresOn?: string | null;
}

/** The journal action of a receipt or a pick naming its line. */
export function lineAction(kind: "receive" | "pick", target: LineTarget, qty: number): Action {
  const bin = target.bin.trim();
  const lot = target.lot?.trim() ?? "";
  const expiresOn = target.expiresOn?.trim() ?? "";
  return {
    item: { by: "sku", value: target.sku },
    lot: lot === "" ? null : lot,
    ...(expiresOn === "" || lot === "" ? {} : { expires_on: expiresOn }),
    warehouse: null,
    op: kind === "receive" ? { kind: "receive", to: bin, qty } : { kind: "ship", from: bin, qty },
    reference: { type: kind === "receive" ? "purchase_line" : "sales_line", id: target.lineId },
  };
}

/** A recording's feedback: green, or amber with what the replica expects the server to say. */
export function recordedFeedback(message: string, recorded: Recorded, tone: Tone = "ok"): Feedback {
  const warnings = recorded.warnings.map((w) => w.message);
  if (recorded.projected !== "applied") {
    warnings.unshift(fill(messages.movement.recordedHeld, { projected: recorded.projected }));
  }
  if (warnings.length === 0) return { tone, message };
  return { tone: "warn", message: `${message}. ${warnings.join(". ")}` };
}

/** A refusal's feedback: the code's label and the replica's message. */
export function errorFeedback(error: ErrorBody): Feedback {
  const label = (messages.errors as Record<string, string>)[error.code] ?? messages.errors.generic;
  return { tone: "error", message: `${label}: ${error.message}` };
}

/**
 * Something the server will flag, said before anything is recorded and done only when
 * the same answer comes twice in a row (the same scan, or Enter again on the same
 * quantity): `pending` is the answer waiting for its second time.
 */
export function confirmed<T>(pending: T | null, answer: T): boolean {
  return pending !== null && pending === answer;
}

/** Codes are compared as people and scanners type them: trimmed, any case. */
export function sameCode(a: string, b: string): boolean {
  return a.trim().toUpperCase() === b.trim().toUpperCase();
}
