// The bin generator's form: what it sends and how a preview reads. The rule that turns
// ranges into codes is core's (`logiflow_core::bins`), applied by the server's preview.

import type { BinGrid, BinSegment, GeneratedBins } from "./bindings";

/** The form as typed. */
export interface BinForm {
  warehouse: string;
  parent: string;
  segments: BinSegment[];
  separator: string;
}

/** A new form: aisles A–D × racks 01–20 × levels 1–5, joined by `-`. */
export function defaultForm(warehouse: string): BinForm {
  return {
    warehouse,
    parent: "",
    segments: [
      { from: "A", to: "D", label: "Aisle" },
      { from: "01", to: "20", label: "Rack" },
      { from: "1", to: "5", label: "Level" },
    ],
    separator: "-",
  };
}

/** The request of the form: blank segments left out. */
export function binGrid(form: BinForm, dryRun: boolean): BinGrid {
  return {
    warehouse: form.warehouse,
    parent: form.parent.trim(),
    segments: form.segments.filter((s) => s.from.trim() !== ""),
    separator: form.separator,
    dry_run: dryRun,
  };
}

/** The codes of a preview as one line: `A-01-1, A-01-2, … D-20-5`. */
export function codesLine(done: GeneratedBins): string {
  if (done.first.length === 0) return "";
  const shown = done.first.join(", ");
  return done.total > done.first.length ? `${shown}, … ${done.last}` : shown;
}
