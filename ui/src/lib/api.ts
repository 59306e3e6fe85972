// The desktop commands, typed with the generated bindings. Each is one Tauri invoke;
// a failure arrives as an ErrorBody ({code, message}), never as a string to parse.

import { invoke } from "@tauri-apps/api/core";
import type {
  Action,
  AppInfo,
  CountScope,
  CountSheet,
  CountSubmission,
  ErrorBody,
  ItemRef,
  ProductRef,
  Recorded,
  Status,
  StockLine,
  StockQuery,
} from "./bindings";

/** Turns whatever an invoke rejected with into an ErrorBody. */
export function toCommandError(error: unknown): ErrorBody {
  if (
    typeof error === "object" &&
    error !== null &&
    typeof (error as ErrorBody).code === "string" &&
    typeof (error as ErrorBody).message === "string"
  ) {
    return error as ErrorBody;
  }
  return { code: "ipc", message: String(error) };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toCommandError(error);
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  status: () => call<Status>("status"),
  stock: (query: StockQuery) => call<StockLine[]>("stock", { query }),
  record: (action: Action) => call<Recorded>("record", { action }),
  resolveItem: (item: ItemRef) => call<ProductRef>("resolve_item", { item }),
  countSheet: (scope: CountScope) => call<CountSheet>("count_sheet", { scope }),
  recordCount: (count: CountSubmission) => call<Recorded[]>("record_count", { count }),
};
