// Turning the stock screen's search box into a StockQuery.

import type { Search, StockQuery } from "./bindings";

export type SearchMode = Search["by"];

/** Lines asked for per search: the replica's cap (STOCK_LIMIT_MAX). */
export const STOCK_LINES_MAX = 1000;

/** Milliseconds of typing quiet before a search runs (a scanner types a code in ~20 ms). */
export const SEARCH_DEBOUNCE_MS = 120;

export function stockQuery(text: string, mode: SearchMode): StockQuery {
  const value = text.trim();
  return {
    search: value === "" ? null : ({ by: mode, value } as Search),
    bin: null,
    warehouse: null,
    limit: STOCK_LINES_MAX,
  };
}
