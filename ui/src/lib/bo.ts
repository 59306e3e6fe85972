// The Back office's requests: the server's API with this device's session (the replica
// passes only the back-office routes, `crates/replica/src/backoffice.rs`), and how a
// failure reads on a screen.

import { api, toCommandError } from "./api";
import { queryOf, type QueryValue } from "./backoffice";
import { messages as m } from "./i18n";
import { describeError } from "./sync";

/** One request: the server's JSON answer, or an ErrorBody thrown. */
export const bo = {
  get: <T>(path: string, params: Record<string, QueryValue> = {}) =>
    api.backoffice<T>({ method: "GET", path: path + queryOf(params), body: null }),
  post: <T>(path: string, body: unknown = {}) => api.backoffice<T>({ method: "POST", path, body }),
  patch: <T>(path: string, body: unknown) => api.backoffice<T>({ method: "PATCH", path, body }),
  del: (path: string) => api.backoffice<null>({ method: "DELETE", path, body: null }),
};

/** A page of a list route. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** Every page of a list route, up to `max` items (the lists of a screen stay small). */
export async function allPages<T>(path: string, params: Record<string, QueryValue>, max = 2000): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<T> = await bo.get<Page<T>>(path, { ...params, limit: 500, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/**
 * A failed request in words: offline, the screen says it needs the server (and shows
 * nothing stale); a refusal keeps the server's own explanation.
 */
export function problemOf(error: unknown): string {
  const e = toCommandError(error);
  return e.code === "server_unreachable" ? m.backoffice.offline : describeError(e);
}
