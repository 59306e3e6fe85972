// The desktop commands, typed with the generated bindings. Each is one Tauri invoke;
// a failure arrives as an ErrorBody ({code, message}), never as a string to parse.

import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  Action,
  AppInfo,
  CountScope,
  CountSheet,
  JournalRow,
  Connected,
  CountSubmission,
  ErrorBody,
  ItemRef,
  ProductRef,
  Recorded,
  ResolveConflict,
  Resolved,
  SignedOut,
  SignIn,
  History,
  HistoryQuery,
  Status,
  StockKpis,
  StockLine,
  StockQuery,
  SyncProgress,
  SyncReport,
  WarehouseInfo,
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
  stockKpis: () => call<StockKpis>("stock_kpis"),
  history: (query: HistoryQuery) => call<History>("history", { query }),
  record: (action: Action) => call<Recorded>("record", { action }),
  resolveItem: (item: ItemRef) => call<ProductRef>("resolve_item", { item }),
  countSheet: (scope: CountScope) => call<CountSheet>("count_sheet", { scope }),
  recordCount: (count: CountSubmission) => call<Recorded[]>("record_count", { count }),
  warehouses: (signIn: SignIn) => call<WarehouseInfo[]>("warehouses", { signIn }),
  connect: (signIn: SignIn, onProgress: (p: SyncProgress) => void) =>
    call<Connected>("connect", { signIn, progress: channel(onProgress) }),
  sync: (onProgress: (p: SyncProgress) => void) =>
    call<SyncReport>("sync", { progress: channel(onProgress) }),
  login: (signIn: SignIn, onProgress: (p: SyncProgress) => void) =>
    call<Connected>("login", { signIn, progress: channel(onProgress) }),
  scope: () => call<WarehouseInfo[]>("scope"),
  conflicts: () => call<JournalRow[]>("conflicts"),
  recent: () => call<JournalRow[]>("recent"),
  resolveConflict: (request: ResolveConflict, onProgress: (p: SyncProgress) => void) =>
    call<Resolved>("resolve_conflict", { request, progress: channel(onProgress) }),
  signOut: () => call<SignedOut>("sign_out"),
};

/** A Tauri channel: the long commands report progress on it as they go. */
function channel(onProgress: (p: SyncProgress) => void): Channel<SyncProgress> {
  const ch = new Channel<SyncProgress>();
  ch.onmessage = onProgress;
  return ch;
}
