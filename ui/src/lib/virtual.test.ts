import { describe, expect, it } from "vitest";
import { OVERSCAN_ROWS, scrollToShow, visibleRange } from "./virtual";

describe("the virtualized list", () => {
  it("renders only the rows on screen plus the overscan, for 100k rows", () => {
    const range = visibleRange(440_000, 440, 44, 100_000);
    expect(range.start).toBe(10_000 - OVERSCAN_ROWS);
    expect(range.end).toBe(10_000 + 11 + OVERSCAN_ROWS);
    expect(range.end - range.start).toBeLessThan(30);
    expect(range.offset).toBe(range.start * 44);
    expect(range.total).toBe(4_400_000);
  });

  it("clamps at both ends", () => {
    expect(visibleRange(0, 440, 44, 100_000).start).toBe(0);
    const bottom = visibleRange(10_000_000, 440, 44, 100_000);
    expect(bottom.end).toBe(100_000);
    expect(visibleRange(0, 440, 44, 3)).toEqual({ start: 0, end: 3, offset: 0, total: 132 });
    expect(visibleRange(0, 440, 44, 0)).toEqual({ start: 0, end: 0, offset: 0, total: 0 });
  });

  it("scrolls just enough to show the selected row", () => {
    expect(scrollToShow(5, 0, 440, 44)).toBeNull();
    expect(scrollToShow(10, 0, 440, 44)).toBe(44);
    expect(scrollToShow(2, 440, 440, 44)).toBe(88);
  });
});
