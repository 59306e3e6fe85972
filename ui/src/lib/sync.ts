// The sync side of the UI as plain logic: what the connection state is (from the
// replica's Status), plain words for sync errors and progress, and the Connect form's
// checks. The syncing itself is the shell's background loop (src-tauri/src/background.rs):
// the window asks it to sync and shows the SyncView it emits.

import type { JournalRow, ErrorBody, SignIn, Status, SyncProgress, SyncReport } from "./bindings";
import { NEEDS_A_PERSON, RESOLVE_REASON_LEN_MAX } from "./bindings";
import { formatDateTime, formatQty } from "./format";
import { fill, messages as m } from "./i18n";

export type Connection =
  | { state: "not_set_up" }
  | { state: "syncing" }
  | { state: "online" }
  | { state: "offline"; error: ErrorBody | null }
  | { state: "sign_in_again"; error: ErrorBody }
  | { state: "expired"; error: ErrorBody };


/** The connection state the replica's status and a running sync mean. */
export function connectionOf(status: Status | null, syncing: boolean): Connection {
  if (!status?.device) return { state: "not_set_up" };
  if (syncing) return { state: "syncing" };
  const error = status.last_sync_error;
  if (error) {
    if (error.code === "subscription_expired") return { state: "expired", error };
    // The other errors the shell's loop stops on: only signing in again helps.
    if (NEEDS_A_PERSON.includes(error.code)) return { state: "sign_in_again", error };
    return { state: "offline", error };
  }
  if (status.last_sync_at) return { state: "online" };
  return { state: "offline", error: null };
}

/** The last sync that succeeded: a failed one leaves the last pull or push as it was. */
export function lastSyncOf(status: Status | null): string | null {
  if (!status) return null;
  return [status.last_pull_at, status.last_push_at].filter((t) => t !== null).sort().pop() ?? null;
}

export function connectionLabel(connection: Connection): string {
  switch (connection.state) {
    case "not_set_up":
      return m.connection.notSetUp;
    case "syncing":
      return m.connection.syncing;
    case "online":
      return m.connection.online;
    case "offline":
      return connection.error ? m.connection.offline : m.connection.offlineNever;
    case "sign_in_again":
      return m.connection.signInAgain;
    case "expired":
      return m.connection.expired;
  }
}

/** A command's error in plain words. */
export function describeError(error: ErrorBody): string {
  const e = m.syncErrors;
  switch (error.code) {
    case "wrong_password":
      return e.wrong_password;
    case "credentials_invalid":
      // The device's session ended or its tokens are missing: it must sign in again.
      return e.session_ended;
    case "device_revoked":
    case "subscription_expired":
    case "server_unreachable":
    case "sync_busy":
    case "already_initialized":
    case "not_initialized":
    case "signed_out":
    case "forbidden":
      return e[error.code];
    case "server_refused":
    case "invalid_input":
    case "credential_store":
      return fill(e[error.code], { message: error.message });
    default:
      return fill(e.other, { message: error.message, code: error.code });
  }
}

/** How far a new device's download (the server's snapshot, whose total is never below
 * what it sent) is, for a progress bar; null when the progress is not a download. */
export function downloadOf(progress: SyncProgress | null): { sent: number; total: number; percent: number } | null {
  if (progress?.phase !== "pulling" || !progress.snapshot?.total) return null;
  const { sent, total } = progress.snapshot;
  return { sent, total, percent: Math.floor((sent * 100) / total) };
}

/** A progress report in words. */
export function progressLabel(progress: SyncProgress): string {
  const download = downloadOf(progress);
  if (download) {
    return fill(m.sync.downloading, {
      sent: formatQty(download.sent),
      total: formatQty(download.total),
      percent: download.percent,
    });
  }
  switch (progress.phase) {
    case "pushing":
      return fill(m.sync.pushing, { pushed: progress.pushed, total: progress.total });
    case "pulling":
      return fill(m.sync.pulling, { pages: progress.pages, items: progress.items });
    case "retrying":
      return fill(m.sync.retrying, { attempt: progress.attempt });
  }
}

export function reportLabel(report: SyncReport): string {
  return fill(m.sync.done, {
    pushed: report.pushed,
    applied: report.applied,
    held: report.held,
    rejected: report.rejected,
    items: report.items,
  });
}

export interface ConnectForm {
  server: string;
  tenant: string;
  email: string;
  password: string;
}

/** The first problem with the Connect form, or null when it can be sent. */
export function checkConnectForm(form: ConnectForm): string | null {
  if (!/^https?:\/\/\S+$/i.test(form.server.trim())) return m.connect.needServer;
  if (!form.tenant.trim()) return m.connect.needTenant;
  if (!form.email.trim()) return m.connect.needEmail;
  if (!form.password) return m.connect.needPassword;
  return null;
}

/** What the connect commands receive: trimmed fields, warehouse codes chosen. */
export function signIn(form: ConnectForm, warehouses: string[] = []): SignIn {
  return {
    server: form.server.trim().replace(/\/+$/, ""),
    tenant: form.tenant.trim(),
    email: form.email.trim(),
    password: form.password,
    warehouses,
  };
}

/** "3 days", "2 hours", "7 minutes": the largest whole unit (as the replica says it). */
export function duration(secs: number): string {
  const s = Math.abs(Math.trunc(secs));
  const d = m.duration;
  const [n, one, many] =
    s >= 86_400
      ? [Math.floor(s / 86_400), d.day, d.days]
      : s >= 3_600
        ? [Math.floor(s / 3_600), d.hour, d.hours]
        : s >= 60
          ? [Math.floor(s / 60), d.minute, d.minutes]
          : [s, d.second, d.seconds];
  return fill(n === 1 ? one : many, { n });
}

/** The replica's refusal to record because the computer's clock jumped. */
export const CLOCK_JUMPED = "clock_jumped";

/** Whether a recording failed because the clock jumped (the person may confirm it). */
export function isClockJump(error: ErrorBody): boolean {
  return error.code === CLOCK_JUMPED;
}

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

/** Records with [`recordConfirmingClock`] and says how it ended as the event a scanner
 * screen's state machine takes: `recorded`, or `failed` with the refusal. */
export async function recordOutcome<T>(
  save: () => Promise<T>,
  confirm: (message: string) => Promise<boolean>,
  accept: () => Promise<unknown>,
): Promise<{ type: "recorded"; recorded: T } | { type: "failed"; error: ErrorBody }> {
  try {
    return { type: "recorded", recorded: await recordConfirmingClock(save, confirm, accept) };
  } catch (error) {
    return { type: "failed", error: toCommandError(error) };
  }
}

/**
 * Records with `save`; when the replica refuses because the clock jumped, asks the
 * person (`confirm`, which shows the replica's message) and, if they confirm the clock,
 * `accept`s it and records once more. Otherwise the refusal stands.
 */
export async function recordConfirmingClock<T>(
  save: () => Promise<T>,
  confirm: (message: string) => Promise<boolean>,
  accept: () => Promise<unknown>,
): Promise<T> {
  try {
    return await save();
  } catch (error) {
    const e = error as ErrorBody;
    if (typeof e?.code !== "string" || !isClockJump(e) || !(await confirm(e.message))) throw error;
    await accept();
    return save();
  }
}

/** A conflict's reason in words. */
export function conflictReason(conflict: JournalRow): string {
  const parts: string[] = [];
  if (conflict.message) parts.push(conflict.message);
  if (conflict.clock_ahead_secs !== null && conflict.clock_ahead_secs !== undefined) {
    parts.push(fill(m.conflicts.clockAheadReason, { ahead: duration(conflict.clock_ahead_secs) }));
  }
  if (conflict.needed !== null) {
    parts.push(fill(m.conflicts.heldReason, { needed: conflict.needed, available: conflict.available ?? 0 }));
  }
  for (const flag of conflict.flags) parts.push(m.conflicts.flag[flag] ?? flag);
  return parts.join("; ");
}

export function conflictState(conflict: JournalRow): string {
  if (conflict.outcome === "held") return m.conflicts.held;
  if (conflict.outcome === "rejected") return m.conflicts.rejected;
  if (conflict.outcome === "voided") return m.conflicts.voided;
  if (conflict.flags.includes("forced")) return m.conflicts.forced;
  return m.conflicts.flagged;
}

/** The permission the server asks of whoever forces or voids a held movement. */
export const RESOLVE_PERMISSION = "conflicts_resolve";

/** The longest reason the server keeps for a resolution (core's bound, via the bindings). */
export const RESOLVE_REASON_MAX = RESOLVE_REASON_LEN_MAX;

/**
 * Whether the signed-in user may force or void held movements, as the last sync read it.
 * Only decides what the inbox offers: the server checks again.
 */
export function mayResolve(status: Status | null): boolean {
  return !!status?.device && status.permissions.includes(RESOLVE_PERMISSION);
}

/** Whether the inbox offers force and void on this entry. */
export function resolvable(conflict: JournalRow, status: Status | null): boolean {
  return conflict.outcome === "held" && mayResolve(status);
}

/** What is wrong with a resolution's reason, or null when it can be sent. */
export function checkReason(reason: string): string | null {
  const trimmed = reason.trim();
  if (!trimmed) return m.conflicts.reasonMissing;
  if ([...trimmed].length > RESOLVE_REASON_MAX) return fill(m.conflicts.reasonTooLong, { max: RESOLVE_REASON_MAX });
  return null;
}

/** The warning that the device's session ends soon, or null: shown while the device is
 * set up and not already asking to sign in again (then the sign-in form says it all).
 * Syncing before the date keeps it signed in (each sync renews the session). */
export function sessionWarning(status: Status | null, connection: Connection, timeZone: string): string | null {
  if (!status?.device || !status.session_ends_soon || !status.session_expires_at) return null;
  if (connection.state === "sign_in_again" || connection.state === "not_set_up") return null;
  return fill(m.session.endsSoon, { date: formatDateTime(status.session_expires_at, timeZone) });
}

/** Whether the device was revoked (it can only export its journal now). */
export function isRevoked(status: Status | null): boolean {
  return status?.last_sync_error?.code === "device_revoked";
}
