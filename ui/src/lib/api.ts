// The desktop commands, typed with the generated bindings. Each is one Tauri invoke;
// a failure arrives as a CommandError ({code, message}), never as a string to parse.

import { invoke } from "@tauri-apps/api/core";
import type {
  Action,
  CommandError,
  Recorded,
  ReplicaLocation,
  StatusView,
  StockLine,
  StockQuery,
} from "./bindings";

/** Turns whatever an invoke rejected with into a CommandError. */
export function toCommandError(error: unknown): CommandError {
  if (
    typeof error === "object" &&
    error !== null &&
    typeof (error as CommandError).code === "string" &&
    typeof (error as CommandError).message === "string"
  ) {
    return error as CommandError;
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
  replicaLocation: () => call<ReplicaLocation>("replica_location"),
  status: () => call<StatusView>("status"),
  stock: (query: StockQuery) => call<StockLine[]>("stock", { query }),
  record: (action: Action) => call<Recorded>("record", { action }),
};
