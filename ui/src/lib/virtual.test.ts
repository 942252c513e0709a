import { describe, expect, it } from "vitest";
import { gridLayout } from "./virtual";

const base = { minCellWidth: 232, gap: 18, rowHeight: 290, overscan: 2, viewportHeight: 700 };

describe("the virtualised grid", () => {
  it("fits as many columns as the width allows and renders only rows near the view", () => {
    const g = gridLayout({ ...base, width: 908, count: 1000, scrollTop: 0 });
    expect(g.columns).toBe(3);
    expect(g.cellWidth).toBeCloseTo((908 - 36) / 3);
    expect(g.start).toBe(0);
    // 700 px shows 3 rows; two more below.
    expect(g.end).toBe(5 * 3);
    expect(g.totalHeight).toBe(334 * 290 - 18);
  });

  it("moves the window of rendered items with the scroll", () => {
    const g = gridLayout({ ...base, width: 908, count: 1000, scrollTop: 290 * 100 + 10 });
    expect(g.start).toBe(98 * 3);
    expect(g.end).toBe(105 * 3);
    expect(g.offsetY).toBe(98 * 290);
  });

  it("stays within the list at its end and with few or no items", () => {
    const end = gridLayout({ ...base, width: 908, count: 1000, scrollTop: 10_000_000 });
    expect(end.end).toBe(1000);
    expect(end.start).toBeLessThanOrEqual(1000);
    const none = gridLayout({ ...base, width: 0, count: 0, scrollTop: 0 });
    expect(none).toMatchObject({ columns: 1, start: 0, end: 0, totalHeight: 0 });
  });
});
