import { describe, expect, it } from "vitest";
import type { AlertKind, AlertView } from "./bindings";
import { describeAlert, NOTIFICATIONS_ONE_BY_ONE, notificationsFor, notificationsWanted } from "./alerts";

const alert = (kind: AlertKind, payload: Record<string, unknown>, over: Partial<AlertView> = {}): AlertView => ({
  id: `a-${kind}`,
  kind,
  subject: "s",
  warehouse_id: "w",
  payload,
  raised_at: "2026-12-06T08:00:00Z",
  resolved_at: null,
  read: false,
  ...over,
});

const low = alert("stock.low", {
  sku: "SKU-1",
  product_name: "Widget 1",
  warehouse_code: "WH1",
  available: 2,
  reorder_point: 5,
});

describe("an alert in words", () => {
  it("says what each kind is about from the fields of its event", () => {
    const cases: [AlertView, string, string][] = [
      [low, "Low stock: SKU-1 in WH1", "Widget 1: 2 available, reorder point 5"],
      [
        alert("lot.expiring", { lot_code: "L7", sku: "SKU-2", expires_on: "2026-12-20", days_left: 14, on_hand: 30, warehouse_code: "WH1" }),
        "Lot L7 of SKU-2 expires soon",
        "On 2026-12-20 (14 days), 30 left in WH1",
      ],
      [
        alert("conflict.held", { kind: "ship", qty: 8, sku: "SKU-1", hours_waiting: 5 }),
        "Held: ship of 8 × SKU-1",
        "Waiting for a person for 5 h: see the conflict inbox on the Sync screen",
      ],
      [
        alert("count.variance", { sku: "SKU-3", location_path: "A/01", counted: 4, expected: 6 }),
        "Count variance: SKU-3 in A/01",
        "Counted 4, expected 6",
      ],
      [alert("device.silent", { name: "Dock tablet", days_silent: 3 }), "Device Dock tablet has not synced", "Silent for 3 days"],
      [
        alert("webhook.disabled", { url: "https://erp.example/hook" }),
        "A webhook endpoint was disabled",
        "https://erp.example/hook failed for days; an administrator can turn it back on",
      ],
    ];
    for (const [a, title, detail] of cases) expect(describeAlert(a)).toEqual({ title, detail });
  });

  it("shows a missing or odd field as ? rather than failing", () => {
    expect(describeAlert(alert("stock.low", { sku: { nested: true } })).title).toBe("Low stock: ? in ?");
  });
});

describe("OS notifications", () => {
  it("notifies a few alerts one by one and more as one summary", () => {
    expect(notificationsFor([])).toEqual([]);
    const few = Array.from({ length: NOTIFICATIONS_ONE_BY_ONE }, (_, i) => ({ ...low, id: `a${i}` }));
    expect(notificationsFor(few).map((n) => n.title)).toEqual(Array(NOTIFICATIONS_ONE_BY_ONE).fill("Low stock: SKU-1 in WH1"));
    const many = [...few, { ...low, id: "more" }];
    const summary = notificationsFor(many);
    expect(summary).toHaveLength(1);
    expect(summary[0].title).toBe(`${many.length} new alerts`);
    expect(summary[0].detail.split(" · ")).toHaveLength(NOTIFICATIONS_ONE_BY_ONE);
  });

  it("are on unless the person turned them off", () => {
    expect(notificationsWanted(null)).toBe(true);
    expect(notificationsWanted("on")).toBe(true);
    expect(notificationsWanted("off")).toBe(false);
  });
});
