// The export form: which filters apply to what, the file name the save dialog proposes,
// and what the form sends to the shell's `export` command once a file is chosen.

import type { ExportFile, ExportKind } from "./bindings";
import { EXPORT_BY_TIME, EXPORT_BY_WAREHOUSE } from "./bindings";

export { EXPORT_KINDS } from "./bindings";

export type ExportFormat = "csv" | "xlsx";

/** What the person filled in. */
export interface ExportForm {
  kind: ExportKind;
  format: ExportFormat;
  /** A warehouse code of the device, or "" for all. */
  warehouse: string;
  /** YYYY-MM-DD or "". */
  from: string;
  to: string;
}

/** Whether the kind is exported per warehouse (the replica's rule, in the bindings). */
export function byWarehouse(kind: ExportKind): boolean {
  return EXPORT_BY_WAREHOUSE.includes(kind);
}

/** Whether the kind is exported for a time range (the replica's rule, in the bindings). */
export function byTime(kind: ExportKind): boolean {
  return EXPORT_BY_TIME.includes(kind);
}

/** The name the save dialog proposes: the kind, the warehouse, the day. */
export function defaultName(form: ExportForm, today: Date): string {
  const day = today.toISOString().slice(0, 10);
  const where = byWarehouse(form.kind) && form.warehouse ? `-${form.warehouse}` : "";
  return `${form.kind}${where}-${day}.${form.format}`;
}

/** What the shell's `export` command gets for the file the person chose. */
export function exportFile(form: ExportForm, path: string): ExportFile {
  return {
    kind: form.kind,
    path,
    format: form.format,
    warehouse: byWarehouse(form.kind) && form.warehouse ? form.warehouse : null,
    from: byTime(form.kind) && form.from ? form.from : null,
    to: byTime(form.kind) && form.to ? form.to : null,
  };
}
