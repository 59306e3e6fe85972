import { describe, expect, it } from "vitest";
import { binGrid, codesLine, defaultForm } from "./bins";

describe("the bin generator form", () => {
  it("sends the typed grid without blank segments", () => {
    const form = defaultForm("WH1");
    form.parent = " Z9 ";
    form.segments[2] = { from: " ", to: "", label: "" };
    expect(binGrid(form, true)).toEqual({
      warehouse: "WH1",
      parent: "Z9",
      segments: [
        { from: "A", to: "D", label: "Aisle" },
        { from: "01", to: "20", label: "Rack" },
      ],
      separator: "-",
      dry_run: true,
    });
  });

  it("lists the first codes and the last", () => {
    const done = { dry_run: true, total: 400, new: 400, existing: 0, first: ["A-01-1", "A-01-2"], last: "D-20-5" };
    expect(codesLine(done)).toBe("A-01-1, A-01-2, … D-20-5");
    expect(codesLine({ ...done, total: 2 })).toBe("A-01-1, A-01-2");
    expect(codesLine({ ...done, first: [], total: 0 })).toBe("");
  });
});
