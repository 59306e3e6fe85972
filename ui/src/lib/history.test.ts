import { describe, expect, it } from "vitest";
import type { HistoryEntry } from "./bindings";
import {
  historyKind,
  historyPath,
  historyQty,
  historyState,
  historyWho,
  kindLabel,
  nameText,
  outcomeLabel,
} from "./history";

const base: HistoryEntry = {
  id: "m1",
  kind: "transfer",
  qty: 1200,
  sku: "BOLT-10",
  from: "A-01",
  to: "B-02",
  warehouse_id: "w",
  occurred_at: "2026-11-22T10:00:00Z",
  outcome: "applied",
  by_this_device: false,
  local: false,
};

describe("history entries in words", () => {
  it("shows quantities, signing only adjustments", () => {
    expect(historyQty(base)).toBe("1,200");
    expect(historyQty({ ...base, kind: "adjust", qty: -3 })).toBe("\u22123");
    expect(historyQty({ ...base, kind: "adjust", qty: 2 })).toBe("+2");
    expect(historyQty({ ...base, kind: "count", qty: 0 })).toBe("0");
  });

  it("shows the bins it went between", () => {
    expect(historyPath(base)).toBe("A-01 → B-02");
    expect(historyPath({ ...base, kind: "receive", from: null })).toBe("– → B-02");
  });

  it("says whether it was recorded here and where it stands", () => {
    expect(historyWho(base)).toBe("Another device or the web");
    expect(historyWho({ ...base, by_this_device: true })).toBe("This device");
    expect(historyState(base)).toBe("Applied");
    expect(historyState({ ...base, outcome: "held" })).toBe("Held");
    expect(historyState({ ...base, local: true, outcome: null })).toBe("Not sent yet");
    expect(historyState({ ...base, outcome: null })).toBe("Sent, awaiting the server");
    // A newer server's outcome shows as it wrote it.
    expect(historyState({ ...base, outcome: { newer: "something_new" } })).toBe("something_new");
    expect(outcomeLabel(true, null)).toBe("Not sent yet");
    expect(outcomeLabel(false, "superseded")).toBe("Superseded");
  });

  it("names the kinds", () => {
    expect(historyKind(base)).toBe("Transfer");
    expect(historyKind({ ...base, kind: "count" })).toBe("Count");
    expect(kindLabel("ship")).toBe("Ship");
    expect(kindLabel("pick")).toBe("pick");
    // A newer server's kind keeps its entry, named as the server wrote it.
    expect(historyKind({ ...base, kind: { newer: "relabel" } })).toBe("relabel");
    expect(nameText({ newer: "relabel" })).toBe("relabel");
    expect(nameText("count")).toBe("count");
  });
});
