import { describe, expect, it } from "vitest";
import { formatAgo, formatDelta, formatQty } from "./format";

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

  it("says how long ago, and never when there is no time", () => {
    const now = new Date("2026-11-22T12:00:00Z");
    expect(formatAgo(null, now, "Never")).toBe("Never");
    expect(formatAgo("garbage", now, "Never")).toBe("Never");
    expect(formatAgo("2026-11-22T11:59:30Z", now, "Never")).toBe("just now");
    expect(formatAgo("2026-11-22T11:55:00Z", now, "Never")).toBe("5 min ago");
    expect(formatAgo("2026-11-22T09:00:00Z", now, "Never")).toBe("3 h ago");
    expect(formatAgo("2026-11-01T09:00:00Z", now, "Never")).toBe("2026-11-01");
  });
});
