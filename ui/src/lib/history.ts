// The movement history of a product or bin: what each entry says in words.

import type { HistoryEntry } from "./bindings";
import { formatDelta, formatQty } from "./format";
import { messages as m } from "./i18n";

/**
 * A kind or outcome of an entry as text: a newer server's name (one this build does not
 * know, `{ newer }`) as the server wrote it.
 */
export function nameText(name: string | { newer: string }): string {
  return typeof name === "string" ? name : name.newer;
}

/** The quantity as the history shows it: an adjustment signed, a count as counted. */
export function historyQty(e: HistoryEntry): string {
  if (e.kind === "adjust") return formatDelta(e.qty);
  return formatQty(e.qty);
}

/** From → to, by bin code ("–" for the side a movement does not have). */
export function historyPath(e: HistoryEntry): string {
  return `${e.from ?? "–"} → ${e.to ?? "–"}`;
}

/** Who recorded it, as far as this device can tell. */
export function historyWho(e: HistoryEntry): string {
  return e.by_this_device ? m.history.thisDevice : m.history.elsewhere;
}

/**
 * Where a movement stands: not sent yet (`unsent`), waiting for the server's answer, or
 * the server's outcome in words.
 */
export function outcomeLabel(unsent: boolean, outcome: string | null): string {
  if (unsent) return m.history.notSent;
  if (!outcome) return m.history.awaiting;
  return (m.history.outcomes as Record<string, string>)[outcome] ?? outcome;
}

/** Its state: not sent yet, waiting for the server's answer, or the server's outcome. */
export function historyState(e: HistoryEntry): string {
  return outcomeLabel(e.local, e.outcome === null ? null : nameText(e.outcome));
}

/** A movement kind (`receive`, `ship`, …) in words; an unknown one as it is. */
export function kindLabel(kind: string): string {
  return (m.history.kinds as Record<string, string>)[kind] ?? kind;
}

/** The kind in words. */
export function historyKind(e: HistoryEntry): string {
  return kindLabel(nameText(e.kind));
}
