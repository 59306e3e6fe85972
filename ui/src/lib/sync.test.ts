import { describe, expect, it } from "vitest";
import type { FlagName, JournalRow, ErrorBody, Status, SyncProgress, SyncReport } from "./bindings";
import {
  checkConnectForm,
  checkReason,
  mayResolve,
  resolvable,
  conflictReason,
  conflictState,
  connectionLabel,
  connectionOf,
  describeError,
  progressLabel,
  downloadOf,
  isRevoked,
  sessionWarning,
  duration,
  isClockJump,
  recordConfirmingClock,
  recordOutcome,
  signIn,
} from "./sync";

const device = {
  device: "01900000-0000-7000-8000-000000000003",
  tenant: "01900000-0000-7000-8000-000000000001",
  user: "01900000-0000-7000-8000-000000000002",
  server_url: "http://127.0.0.1:8080",
};

function status(over: Partial<Status> = {}): Status {
  return {
    device,
    schema_version: 1,
    pending: 0,
    last_seq: 0,
    conflicts: 0,
    last_pull_at: null,
    last_push_at: null,
    cursor: null,
    clock_offset_ms: 0,
    last_sync_at: null,
    last_sync_error: null,
    last_contact_at: null,
    permissions: [],
    session_expires_at: null,
    session_ends_soon: false,
    unread_alerts: 0,
    ...over,
  };
}

const report: SyncReport = {
  pushed: 2,
  applied: 1,
  held: 1,
  rejected: 0,
  absorbed: 0,
  superseded: 0,
  voided: 0,
  pages: 1,
  items: 7,
  outcomes: 0,
  retries: 0,
  pending: 0,
  cursor: "c1",
};

describe("the connection state", () => {
  it("is not set up without a device, syncing while a sync runs", () => {
    expect(connectionOf(null, false).state).toBe("not_set_up");
    expect(connectionOf(status({ device: null }), true).state).toBe("not_set_up");
    expect(connectionOf(status(), true).state).toBe("syncing");
  });

  it("is online after a good sync and offline, calmly, after an unreachable server", () => {
    expect(connectionOf(status({ last_sync_at: "2026-01-01T00:00:00Z" }), false).state).toBe("online");
    const unreachable = connectionOf(
      status({ last_sync_at: "2026-01-01T00:00:00Z", last_sync_error: { code: "server_unreachable", message: "x" } }),
      false,
    );
    expect(unreachable.state).toBe("offline");
    expect(connectionLabel(unreachable)).toMatch(/^Offline/);
    expect(connectionLabel(connectionOf(status(), false))).toBe("Offline — not synced yet");
  });

  it("asks a person to act on an expired subscription or a lost session", () => {
    const expired = connectionOf(status({ last_sync_error: { code: "subscription_expired", message: "" } }), false);
    expect(expired.state).toBe("expired");
    const revoked = connectionOf(status({ last_sync_error: { code: "device_revoked", message: "" } }), false);
    expect(revoked.state).toBe("sign_in_again");
  });
});

describe("the device's session", () => {
  const ends = "2026-12-20T10:00:00Z";
  it("warns, with the date, when the session ends soon and the device is not asking to sign in already", () => {
    const soon = status({ session_expires_at: ends, session_ends_soon: true, last_sync_at: "2026-12-03T10:00:00Z" });
    const warning = sessionWarning(soon, connectionOf(soon, false), "UTC");
    expect(warning).toContain("2026-12-20");
    expect(sessionWarning(soon, connectionOf(soon, true), "UTC")).not.toBeNull();
    // Far away, unknown, or already ended (the sign-in form says it): no banner.
    const far = status({ session_expires_at: ends, session_ends_soon: false });
    expect(sessionWarning(far, connectionOf(far, false), "UTC")).toBeNull();
    expect(sessionWarning(status(), connectionOf(status(), false), "UTC")).toBeNull();
    const ended = status({
      session_expires_at: ends,
      session_ends_soon: true,
      last_sync_at: "2026-12-03T10:00:00Z",
      last_sync_error: { code: "credentials_invalid", message: "the device's session has ended" },
    });
    expect(sessionWarning(ended, connectionOf(ended, false), "UTC")).toBeNull();
  });

  it("tells a revoked device, which can only export its journal, from one whose session ended", () => {
    const revoked = status({ last_sync_at: "2026-12-03T10:00:00Z", last_sync_error: { code: "device_revoked", message: "revoked" } });
    expect(isRevoked(revoked)).toBe(true);
    expect(isRevoked(status({ last_sync_error: { code: "credentials_invalid", message: "session ended" } }))).toBe(false);
    expect(describeError({ code: "device_revoked", message: "" })).toMatch(/export/i);
    expect(describeError({ code: "credentials_invalid", message: "the device's session has ended" })).toMatch(/sign in again/i);
  });
});

describe("errors in plain words", () => {
  it("tells a wrong password from an ended session", () => {
    expect(describeError({ code: "wrong_password", message: "wrong tenant, email or password" })).toBe(
      "Wrong tenant, email or password.",
    );
    // The code decides, not the words: a session that ended never reads as a password.
    expect(describeError({ code: "credentials_invalid", message: "wrong tenant, email or password" })).toMatch(
      /session has ended/,
    );
    expect(
      describeError({ code: "credentials_invalid", message: "the device's session has ended (…)" }),
    ).toMatch(/session has ended/);
    expect(
      describeError({ code: "credentials_invalid", message: "no credentials for device d in the OS keyring: run `logiflow login`" }),
    ).toMatch(/session has ended/);
  });

  it("names an unreachable server and an expired subscription, and keeps unknown codes visible", () => {
    expect(describeError({ code: "server_unreachable", message: "connect refused" })).toMatch(/could not be reached/);
    expect(describeError({ code: "subscription_expired", message: "" })).toMatch(/subscription has expired/);
    expect(describeError({ code: "invalid_input", message: "no active warehouse X" })).toBe("no active warehouse X");
    expect(describeError({ code: "weird", message: "boom" })).toBe("Something went wrong: boom (weird)");
  });

  it("says a refused role and a signed-out device in words", () => {
    expect(describeError({ code: "forbidden", message: "the server refused: …" })).toMatch(/manager or an administrator/);
    expect(describeError({ code: "signed_out", message: "signed out on this device" })).toMatch(/signed out/);
    expect(connectionOf(status({ last_sync_at: "2026-01-01T00:00:00Z", last_sync_error: { code: "signed_out", message: "" } }), false).state).toBe(
      "sign_in_again",
    );
  });
});

describe("progress", () => {
  it("reads as entries pushed of N, then pages and records pulled", () => {
    expect(progressLabel({ phase: "pushing", pushed: 3, total: 10 })).toBe("Sending entries: 3 of 10");
    const changes = { phase: "pulling", pages: 2, items: 340, snapshot: null } as const;
    expect(progressLabel(changes)).toBe("Receiving updates: 2 pages, 340 records");
    expect(downloadOf(changes)).toBeNull();
    expect(progressLabel({ phase: "retrying", attempt: 1, delay_ms: 200, reason: "x" })).toMatch(/attempt 1/);
    expect(downloadOf({ phase: "pushing", pushed: 3, total: 10 })).toBeNull();
  });

  it("shows a new device's download as records of the snapshot's total, for a bar", () => {
    const pulling = (sent: number, total: number) =>
      ({ phase: "pulling", pages: 3, items: sent, snapshot: { sent, total } }) as const;
    expect(downloadOf(pulling(12_000, 201_001))).toEqual({ sent: 12_000, total: 201_001, percent: 5 });
    expect(progressLabel(pulling(12_000, 201_001))).toBe(
      "Downloading the warehouses: 12,000 of 201,001 records (5 %)",
    );
    expect(downloadOf(pulling(1_000, 1_000))?.percent).toBe(100);
    // An empty snapshot shows no bar.
    expect(downloadOf(pulling(0, 0))).toBeNull();
  });
});

describe("the Connect form", () => {
  const form = { server: " http://127.0.0.1:8080/ ", tenant: " acme ", email: " a@b.c ", password: " pw " };

  it("asks for each missing field in turn", () => {
    expect(checkConnectForm({ ...form, server: "127.0.0.1" })).toMatch(/server address/);
    expect(checkConnectForm({ ...form, tenant: " " })).toMatch(/organisation/);
    expect(checkConnectForm({ ...form, email: "" })).toMatch(/email/);
    expect(checkConnectForm({ ...form, password: "" })).toMatch(/password/);
    expect(checkConnectForm(form)).toBeNull();
  });

  it("trims all but the password, and drops the URL's trailing slash", () => {
    expect(signIn(form, ["WH1"])).toEqual({
      server: "http://127.0.0.1:8080",
      tenant: "acme",
      email: "a@b.c",
      password: " pw ",
      warehouses: ["WH1"],
    });
  });
});

describe("the conflict inbox", () => {
  const base: JournalRow = {
    seq: 4,
    id: "m",
    kind: "ship",
    occurred_at: "2026-01-01T00:00:00Z",
    warehouse_id: null,
    status: "pushed",
    outcome: "held",
    reject_code: null,
    message: null,
    needed: 5,
    available: 2,
    clock_ahead_secs: null,
    flags: [],
  };

  it("explains holds, rejections and flags", () => {
    expect(conflictState(base)).toBe("Held");
    expect(conflictReason(base)).toBe("Needs 5 units; 2 were there at that time");
    const rejected: JournalRow = { ...base, outcome: "rejected", needed: null, available: null, reject_code: "lot_expired", message: "lot L1 expired" };
    expect(conflictState(rejected)).toBe("Rejected");
    expect(conflictReason(rejected)).toBe("lot L1 expired");
    // A flag from a newer server than this app is shown by its name.
    const flagged: JournalRow = { ...base, outcome: "applied", needed: null, available: null, flags: ["negative_row", "new_flag" as FlagName] };
    expect(conflictState(flagged)).toBe("Flagged for review");
    expect(conflictReason(flagged)).toBe("stock went below zero; new_flag");
  });

  it("shows a manager's decision as resolved", () => {
    const forced: JournalRow = { ...base, outcome: "applied", needed: null, available: null, flags: ["forced", "negative_row"] };
    expect(conflictState(forced)).toBe("Forced by a manager");
    expect(conflictReason(forced)).toBe("forced by a manager; stock went below zero");
    const voided: JournalRow = { ...base, outcome: "voided", needed: null, available: null, message: "scanned twice" };
    expect(conflictState(voided)).toBe("Voided by a manager");
    expect(conflictReason(voided)).toBe("scanned twice");
  });

  it("offers force and void only on held entries, to a user who may resolve", () => {
    const manager = status({ permissions: ["stock_read", "conflicts_resolve"] });
    const operator = status({ permissions: ["stock_read", "movements_write"] });
    expect(mayResolve(manager)).toBe(true);
    expect(mayResolve(operator)).toBe(false);
    expect(mayResolve(status({ device: null, permissions: ["conflicts_resolve"] }))).toBe(false);
    expect(mayResolve(null)).toBe(false);
    expect(resolvable(base, manager)).toBe(true);
    expect(resolvable(base, operator)).toBe(false);
    expect(resolvable({ ...base, outcome: "rejected" }, manager)).toBe(false);
    expect(resolvable({ ...base, outcome: "voided" }, manager)).toBe(false);
  });

  it("asks for a reason within the server's bound", () => {
    expect(checkReason("  ")).toBe("Say why, in a few words.");
    expect(checkReason("x".repeat(501))).toMatch(/under 500 characters/);
    expect(checkReason(" pallet found ")).toBeNull();
  });
});

describe("a clock that jumped", () => {
  const jumped = { code: "clock_jumped", message: "this device's clock seems to have jumped: 3 days ahead" };

  it("asks the person, accepts the clock and records once more when they confirm", async () => {
    let saves = 0;
    const asked: string[] = [];
    let accepted = 0;
    const recorded = await recordConfirmingClock(
      async () => {
        saves += 1;
        if (saves === 1) throw jumped;
        return "recorded";
      },
      async (message) => {
        asked.push(message);
        return true;
      },
      async () => {
        accepted += 1;
      },
    );
    expect(recorded).toBe("recorded");
    expect(asked).toEqual([jumped.message]);
    expect(accepted).toBe(1);
    expect(saves).toBe(2);
  });

  it("records nothing when the person cancels, and never asks about other errors", async () => {
    let accepted = 0;
    const cancel = recordConfirmingClock(
      async () => {
        throw jumped;
      },
      async () => false,
      async () => {
        accepted += 1;
      },
    );
    await expect(cancel).rejects.toEqual(jumped);
    const other = { code: "unknown_product", message: "no product with sku X" };
    let asked = 0;
    const refused = recordConfirmingClock(
      async () => {
        throw other;
      },
      async () => {
        asked += 1;
        return true;
      },
      async () => {
        accepted += 1;
      },
    );
    await expect(refused).rejects.toEqual(other);
    expect(asked).toBe(0);
    expect(accepted).toBe(0);
    expect(isClockJump(jumped)).toBe(true);
  });

  it("explains a clock_ahead hold in words", () => {
    const held: JournalRow = {
      seq: 7,
      id: "m",
      kind: "count",
      occurred_at: "2026-01-04T00:00:00Z",
      warehouse_id: null,
      status: "pushed",
      outcome: "held",
      reject_code: null,
      message: null,
      needed: null,
      available: null,
      clock_ahead_secs: 3 * 86_400 + 120,
      flags: [],
    };
    expect(conflictState(held)).toBe("Held");
    expect(conflictReason(held)).toContain("This device's clock was 3 days ahead");
    expect(duration(59)).toBe("59 seconds");
    expect(duration(3_600)).toBe("1 hour");
    expect(duration(7 * 60)).toBe("7 minutes");
    const forced: JournalRow = { ...held, outcome: "applied", clock_ahead_secs: null, flags: ["forced", "redated"] };
    expect(conflictReason(forced)).toBe(
      "forced by a manager; applied at the time the server received it (the device's clock was ahead)",
    );
  });
});

describe("the outcome of recording, as a screen's event", () => {
  const never = async () => false;
  const nothing = async () => undefined;

  it("is recorded with what was recorded", async () => {
    expect(await recordOutcome(async () => 7, never, nothing)).toEqual({ type: "recorded", recorded: 7 });
  });

  it("is failed with the refusal, and with a readable error for anything else thrown", async () => {
    const refused = { code: "unknown_lot", message: "product MILK has no lot L9" };
    expect(await recordOutcome(async () => Promise.reject(refused), never, nothing)).toEqual({ type: "failed", error: refused });
    expect(await recordOutcome(async () => Promise.reject("pipe closed"), never, nothing)).toEqual({
      type: "failed",
      error: { code: "ipc", message: "pipe closed" },
    });
  });
});
