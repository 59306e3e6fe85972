import { describe, expect, it } from "vitest";
import { toCommandError } from "./api";
import { en } from "./i18n/en";
import { LANGUAGES, fill } from "./i18n";
import { SHORTCUTS, shortcutFor } from "./keys";
import { STOCK_LINES_MAX, stockQuery } from "./search";
import { initialTheme } from "./theme";

describe("the catalog", () => {
  it("fills placeholders and leaves unknown ones visible", () => {
    expect(fill("{count} lines", { count: 3 })).toBe("3 lines");
    expect(fill("{a} and {b}", { a: 1 })).toBe("1 and {b}");
  });

  it("lists English as the one language, with its catalog", () => {
    expect(LANGUAGES.map((l) => l.code)).toEqual(["en"]);
    expect(LANGUAGES[0].catalog).toBe(en);
  });

  it("holds no empty string", () => {
    const walk = (value: unknown, path: string): string[] =>
      typeof value === "string"
        ? value.trim() === "" ? [path] : []
        : Object.entries(value as object).flatMap(([k, v]) => walk(v, `${path}.${k}`));
    expect(walk(en, "en")).toEqual([]);
  });
});

describe("keyboard shortcuts", () => {
  const press = (key: string, mods: Partial<{ altKey: boolean; ctrlKey: boolean; metaKey: boolean }> = {}) =>
    shortcutFor({ key, altKey: true, ctrlKey: false, metaKey: false, ...mods });

  it("maps Alt+1..5 to the screens and Alt+T to the theme", () => {
    expect(press("1")?.screen).toBe("dashboard");
    expect(press("3")?.screen).toBe("movement");
    expect(press("4")?.screen).toBe("count");
    expect(press("5")?.screen).toBe("settings");
    expect(press("6")?.screen).toBe("sync");
    expect(press("7")?.screen).toBe("receiving");
    expect(press("8")?.screen).toBe("picking");
    expect(press("9")?.screen).toBe("backoffice");
    expect(press("N")?.screen).toBe("alerts");
    expect(press("S")?.syncNow).toBe(true);
    expect(press("T")?.toggleTheme).toBe(true);
    expect(press("1", { altKey: false })).toBeNull();
    expect(press("1", { ctrlKey: true })).toBeNull();
  });

  it("has no two shortcuts on one key", () => {
    const keys = SHORTCUTS.map((s) => s.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("stock queries", () => {
  it("searches everything when the box is empty, else by the chosen field", () => {
    expect(stockQuery("  ", "any")).toEqual({ search: null, bin: null, warehouse: null, limit: STOCK_LINES_MAX });
    expect(stockQuery(" bolt ", "sku_prefix").search).toEqual({ by: "sku_prefix", value: "bolt" });
  });
});

describe("errors and themes", () => {
  it("keeps a {code, message} rejection and wraps anything else", () => {
    expect(toCommandError({ code: "unknown_product", message: "x" })).toEqual({ code: "unknown_product", message: "x" });
    expect(toCommandError("window closed")).toEqual({ code: "ipc", message: "window closed" });
  });

  it("prefers the stored theme, else the system's", () => {
    expect(initialTheme("dark", false)).toBe("dark");
    expect(initialTheme("light", true)).toBe("light");
    expect(initialTheme(null, true)).toBe("dark");
    expect(initialTheme("purple", false)).toBe("light");
  });
});
