import { describe, expect, it } from "vitest";
import { formatAgo, formatDateTime, formatDelta, formatQty, zoneOf } from "./format";

describe("formatting", () => {
  it("groups thousands", () => {
    expect(formatQty(0)).toBe("0");
    expect(formatQty(1234567)).toBe("1,234,567");
    expect(formatQty(-1200)).toBe("-1,200");
  });

  it("signs changes with a real minus", () => {
    expect(formatDelta(5)).toBe("+5");
    expect(formatDelta(-1200)).toBe("\u22121,200");
    expect(formatDelta(0)).toBe("0");
  });

  const words = { justNow: "just now", minutesAgo: "{n} min ago", hoursAgo: "{n} h ago" };

  it("says how long ago, and never when there is no time", () => {
    const now = new Date("2026-11-22T12:00:00Z");
    expect(formatAgo(null, now, "Never", "UTC", words)).toBe("Never");
    expect(formatAgo("garbage", now, "Never", "UTC", words)).toBe("Never");
    expect(formatAgo("2026-11-22T11:59:30Z", now, "Never", "UTC", words)).toBe("just now");
    expect(formatAgo("2026-11-22T11:55:00Z", now, "Never", "UTC", words)).toBe("5 min ago");
    expect(formatAgo("2026-11-22T09:00:00Z", now, "Never", "UTC", words)).toBe("3 h ago");
    // The words come from the catalog, not from the code.
    const other = { justNow: "à l'instant", minutesAgo: "il y a {n} min", hoursAgo: "il y a {n} h" };
    expect(formatAgo("2026-11-22T11:55:00Z", now, "Jamais", "UTC", other)).toBe("il y a 5 min");
  });

  it("gives an older time's date on the warehouse's calendar", () => {
    const now = new Date("2026-11-22T12:00:00Z");
    // 16:30 UTC on the 1st is already the 2nd in Tokyo, still the 1st in New York.
    expect(formatAgo("2026-11-01T16:30:00Z", now, "Never", "Asia/Tokyo", words)).toBe("2026-11-02");
    expect(formatAgo("2026-11-01T16:30:00Z", now, "Never", "America/New_York", words)).toBe("2026-11-01");
  });

  it("shows a time on the clock of the warehouse's zone, not this computer's", () => {
    const iso = "2026-11-22T23:30:00Z";
    expect(formatDateTime(iso, "UTC")).toBe("2026-11-22 23:30");
    expect(formatDateTime(iso, "Asia/Tokyo")).toBe("2026-11-23 08:30");
    expect(formatDateTime(iso, "America/New_York")).toBe("2026-11-22 18:30");
    expect(formatDateTime("2026-06-01T00:05:00Z", "Europe/Paris")).toBe("2026-06-01 02:05");
    expect(formatDateTime("2026-12-01T00:05:00Z", "Europe/Paris")).toBe("2026-12-01 01:05");
    // Midnight is 00, not 24.
    expect(formatDateTime("2026-11-22T15:00:00Z", "Asia/Tokyo")).toBe("2026-11-23 00:00");
    // A zone this system does not know falls back to UTC; a non-time is a dash.
    expect(formatDateTime(iso, "Mars/Olympus_Mons")).toBe("2026-11-22 23:30");
    expect(formatDateTime("garbage", "UTC")).toBe("–");
  });

  it("finds the zone of a warehouse in the scope", () => {
    const scope = [
      { id: "a", time_zone: "Europe/Paris" },
      { id: "b", time_zone: "Asia/Tokyo" },
    ];
    expect(zoneOf(scope, "b")).toBe("Asia/Tokyo");
    expect(zoneOf(scope, "unknown")).toBe("Europe/Paris");
    expect(zoneOf(scope)).toBe("Europe/Paris");
    expect(zoneOf([], "b")).toBe("UTC");
  });
});
