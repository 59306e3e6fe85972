// Receiving and picking against order lines: the movement a form records, and what to
// tell the person before recording more than the line still expects.

import type { Action } from "./bindings";

/** A line being received or picked, with the form's fields as typed. */
export interface OrderDraft {
  kind: "receive" | "pick";
  order: string;
  lineId: string;
  sku: string;
  /** Units the line still expects (never below zero). */
  open: number;
  bin: string;
  lot: string;
  qty: string;
}

/** The quantity typed, if it is a whole number of 1 or more. */
export function draftQty(draft: OrderDraft): number | null {
  const text = draft.qty.trim();
  if (!/^\d+$/.test(text)) return null;
  const qty = Number(text);
  return qty >= 1 ? qty : null;
}

/** Whether recording would go beyond what the line still expects (the server flags it). */
export function beyondOpen(draft: OrderDraft): boolean {
  const qty = draftQty(draft);
  return qty !== null && qty > draft.open;
}

/** The journal action of a draft: a receipt or a ship naming the line. */
export function draftAction(draft: OrderDraft, qty: number): Action {
  const bin = draft.bin.trim();
  const lot = draft.lot.trim();
  return {
    item: { by: "sku", value: draft.sku },
    lot: lot === "" ? null : lot,
    warehouse: null,
    op: draft.kind === "receive" ? { kind: "receive", to: bin, qty } : { kind: "ship", from: bin, qty },
    reference: { type: draft.kind === "receive" ? "purchase_line" : "sales_line", id: draft.lineId },
  };
}
