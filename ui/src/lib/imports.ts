// The import form's logic: the progress of the server's validation and what the preview
// allows (the rules of what may be committed are the server's; this only words them).

import type { Imported, ImportProgress } from "./bindings";

export { IMPORT_KINDS } from "./bindings";

/** Percent of the rows validated, 0 to 100 (0 while the total is not known). */
export function percent(p: ImportProgress | null): number {
  if (!p || p.total <= 0) return 0;
  return Math.min(100, Math.floor((p.done * 100) / p.total));
}

/** Whether a preview may be committed: ready, and no row with an error. */
export function committable(done: Imported | null): boolean {
  return done !== null && done.status === "ready" && done.errors === 0;
}

/** A failing cell as one line: `row 3, barcodes: the check digit … ("4006…")`. */
export function errorLine(e: { row: number; column: string; value: string; message: string }): string {
  return `row ${e.row}, ${e.column}: ${e.message}` + (e.value ? ` ("${e.value}")` : "");
}
