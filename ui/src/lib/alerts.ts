// The bell: what each alert says in words, which ones become OS notifications, and the
// person's choice to have them. The replica decides which alerts are new and worth a
// notification (`alerts_to_notify`: stock.low and conflict.held, each once); this module
// only words them.

import type { AlertKind, AlertView } from "./bindings";
import { fill, messages as m } from "./i18n";

/** An alert in words: a title and a line of detail. */
export interface AlertText {
  title: string;
  detail: string;
}

function text(payload: Record<string, unknown>, key: string): string {
  const value = payload[key];
  return typeof value === "string" || typeof value === "number" ? String(value) : "?";
}

/** The words of each kind, from the fields its event carries (DESIGN: webhooks section). */
const WORDS: Record<AlertKind, (p: Record<string, unknown>) => AlertText> = {
  "stock.low": (p) => ({
    title: fill(m.alerts.stockLow, { sku: text(p, "sku"), warehouse: text(p, "warehouse_code") }),
    detail: fill(m.alerts.stockLowDetail, {
      name: text(p, "product_name"),
      available: text(p, "available"),
      point: text(p, "reorder_point"),
    }),
  }),
  "lot.expiring": (p) => ({
    title: fill(m.alerts.lotExpiring, { lot: text(p, "lot_code"), sku: text(p, "sku") }),
    detail: fill(m.alerts.lotExpiringDetail, {
      date: text(p, "expires_on"),
      days: text(p, "days_left"),
      qty: text(p, "on_hand"),
      warehouse: text(p, "warehouse_code"),
    }),
  }),
  "conflict.held": (p) => ({
    title: fill(m.alerts.conflictHeld, { kind: text(p, "kind"), qty: text(p, "qty"), sku: text(p, "sku") }),
    detail: fill(m.alerts.conflictHeldDetail, { hours: text(p, "hours_waiting") }),
  }),
  "count.variance": (p) => ({
    title: fill(m.alerts.countVariance, { sku: text(p, "sku"), bin: text(p, "location_path") }),
    detail: fill(m.alerts.countVarianceDetail, { counted: text(p, "counted"), expected: text(p, "expected") }),
  }),
  "device.silent": (p) => ({
    title: fill(m.alerts.deviceSilent, { name: text(p, "name") }),
    detail: fill(m.alerts.deviceSilentDetail, { days: text(p, "days_silent") }),
  }),
  "webhook.disabled": (p) => ({
    title: m.alerts.webhookDisabled,
    detail: fill(m.alerts.webhookDisabledDetail, { url: text(p, "url") }),
  }),
};

/** What an alert says. */
export function describeAlert(alert: AlertView): AlertText {
  return WORDS[alert.kind](alert.payload);
}

/** The most OS notifications shown one by one after a sync; more become one summary. */
export const NOTIFICATIONS_ONE_BY_ONE = 3;

/** The OS notifications for the alerts `alerts_to_notify` handed out after a sync. */
export function notificationsFor(alerts: AlertView[]): AlertText[] {
  if (alerts.length <= NOTIFICATIONS_ONE_BY_ONE) return alerts.map(describeAlert);
  return [
    {
      title: fill(m.alerts.many, { n: alerts.length }),
      detail: alerts
        .slice(0, NOTIFICATIONS_ONE_BY_ONE)
        .map((a) => describeAlert(a).title)
        .join(" · "),
    },
  ];
}

const KEY = "logiflow.notifications";

/** Whether the person wants OS notifications: yes unless they turned them off. */
export function notificationsWanted(stored: string | null): boolean {
  return stored !== "off";
}

export function loadNotifications(): boolean {
  return notificationsWanted(localStorage.getItem(KEY));
}

export function saveNotifications(on: boolean): void {
  localStorage.setItem(KEY, on ? "on" : "off");
}
