// The desktop commands and events, typed with the generated bindings. Each command is one
// Tauri invoke; a failure arrives as an ErrorBody ({code, message}), never as a string to
// parse.

import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { open, save } from "@tauri-apps/plugin-dialog";
import { isPermissionGranted, requestPermission, sendNotification } from "@tauri-apps/plugin-notification";
import type {
  Action,
  AlertList,
  AlertView,
  AppInfo,
  BackofficeCall,
  CountScope,
  BinGrid,
  ExportFile,
  Exported,
  GeneratedBins,
  ImportFile,
  Imported,
  ImportProgress,
  CountSheet,
  JournalExported,
  JournalRow,
  Connected,
  CountSubmission,
  ErrorBody,
  ItemRef,
  LineMatch,
  OpenOrders,
  PickStop,
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
  SyncView,
  WarehouseInfo,
} from "./bindings";
import { STATUS_EVENT, SYNC_EVENT } from "./bindings";

import { toCommandError } from "./sync";

export { toCommandError };

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
  orders: () => call<OpenOrders>("orders"),
  /** The purchase-order line a scanned item is received against, with the product. */
  receivingLine: (order: string, item: ItemRef) => call<LineMatch>("receiving_line", { order, item }),
  /** One pick list across the sales orders `orders`, in walk order. */
  pickWalk: (orders: string[]) => call<PickStop[]>("pick_walk", { orders }),
  resolveItem: (item: ItemRef) => call<ProductRef>("resolve_item", { item }),
  countSheet: (scope: CountScope) => call<CountSheet>("count_sheet", { scope }),
  recordCount: (count: CountSubmission) => call<Recorded[]>("record_count", { count }),
  /** Confirms the computer's clock after a `clock_jumped` refusal (RFC 3339 time). */
  acceptClock: () => call<string>("accept_clock"),
  warehouses: (signIn: SignIn) => call<WarehouseInfo[]>("warehouses", { signIn }),
  connect: (signIn: SignIn, onProgress: (p: SyncProgress) => void) =>
    call<Connected>("connect", { signIn, progress: channel(onProgress) }),
  /** Asks the background loop for a sync now; its progress comes as `onSync` events. */
  syncNow: () => call<void>("sync_now"),
  /** The background loop's state now (a window that starts mid-sync). */
  syncState: () => call<SyncView>("sync_state"),
  login: (signIn: SignIn, onProgress: (p: SyncProgress) => void) =>
    call<Connected>("login", { signIn, progress: channel(onProgress) }),
  scope: () => call<WarehouseInfo[]>("scope"),
  conflicts: () => call<JournalRow[]>("conflicts"),
  recent: () => call<JournalRow[]>("recent"),
  resolveConflict: (request: ResolveConflict, onProgress: (p: SyncProgress) => void) =>
    call<Resolved>("resolve_conflict", { request, progress: channel(onProgress) }),
  signOut: () => call<SignedOut>("sign_out"),
  /** Writes the unsent journal to a file beside the replica (a revoked device). */
  exportJournal: () => call<JournalExported>("export_journal"),
  /** The bell: the alerts as the last sync read them. */
  alerts: () => call<AlertList>("alerts"),
  /** Marks alerts read here at once; the background loop sends the marks. */
  markAlertsRead: (ids: string[]) => call<number>("mark_alerts_read", { ids }),
  /** The new alerts worth an OS notification, each handed out once. */
  alertsToNotify: () => call<AlertView[]>("alerts_to_notify"),
  /** A server export into the file chosen in the save dialog. */
  exportFile: (file: ExportFile) => call<Exported>("export", { file }),
  /** Uploads a file and previews the server's validation, reporting its progress. */
  importFile: (file: ImportFile, onProgress: (p: ImportProgress) => void) =>
    call<Imported>("import", { file, progress: channel(onProgress) }),
  /** Previews or creates a grid of bins on the server (the bin generator). */
  generateBins: (grid: BinGrid) => call<GeneratedBins>("generate_bins", { grid }),
  /** Writes a previewed import without errors. */
  commitImport: (id: string) => call<Imported>("commit_import", { id }),
  /** One request of a Back office screen to the server, with this device's session. */
  backoffice: <T>(request: BackofficeCall) => call<T>("backoffice", { call: request }),
  /** What is wrong with a code as typed, by core's rule (`sku`, `barcode`, `location`, `lot`). */
  checkCode: (kind: string, value: string) => call<string | null>("check_code", { kind, value }),
};

/** The system's open dialog for a CSV or XLSX file; the chosen path, or null if cancelled. */
export async function chooseImportFile(title: string): Promise<string | null> {
  const chosen = await open({
    title,
    multiple: false,
    directory: false,
    filters: [{ name: "CSV or Excel", extensions: ["csv", "xlsx"] }],
  });
  return typeof chosen === "string" ? chosen : null;
}

/** The system's save dialog, proposing `name`; the chosen path, or null if cancelled. */
export async function chooseFile(title: string, name: string, format: string): Promise<string | null> {
  return save({ title, defaultPath: name, filters: [{ name: format.toUpperCase(), extensions: [format] }] });
}

/**
 * Shows OS notifications (the notification plugin), asking for the permission first
 * where the system wants that (macOS); refused or unavailable, nothing is shown and the
 * alerts stay in the bell.
 */
export async function notify(notifications: { title: string; detail: string }[]): Promise<void> {
  if (notifications.length === 0) return;
  let granted = await isPermissionGranted();
  if (!granted) granted = (await requestPermission()) === "granted";
  if (!granted) return;
  for (const n of notifications) sendNotification({ title: n.title, body: n.detail });
}

/** The background loop's state, each time it changes. */
export function onSync(handler: (view: SyncView) => void): Promise<UnlistenFn> {
  return listen<SyncView>(SYNC_EVENT, (event) => handler(event.payload));
}

/** The replica's status after each background sync. */
export function onStatus(handler: (status: Status) => void): Promise<UnlistenFn> {
  return listen<Status>(STATUS_EVENT, (event) => handler(event.payload));
}

/** A Tauri channel: the long commands report progress on it as they go. */
function channel<P = SyncProgress>(onProgress: (p: P) => void): Channel<P> {
  const ch = new Channel<P>();
  ch.onmessage = onProgress;
  return ch;
}
