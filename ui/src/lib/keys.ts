// The app-wide keyboard shortcuts, as data, so a test can check they do not collide.

export type Screen = "dashboard" | "stock" | "movement" | "count" | "receiving" | "picking" | "settings" | "sync" | "alerts" | "backoffice";

export interface Shortcut {
  /** KeyboardEvent.key, with Alt held. */
  key: string;
  screen?: Screen;
  toggleTheme?: true;
  syncNow?: true;
}

export const SHORTCUTS: readonly Shortcut[] = [
  { key: "1", screen: "dashboard" },
  { key: "2", screen: "stock" },
  { key: "3", screen: "movement" },
  { key: "4", screen: "count" },
  { key: "5", screen: "settings" },
  { key: "6", screen: "sync" },
  { key: "7", screen: "receiving" },
  { key: "8", screen: "picking" },
  { key: "9", screen: "backoffice" },
  { key: "n", screen: "alerts" },
  { key: "s", syncNow: true },
  { key: "t", toggleTheme: true },
];

/** The shortcut an Alt+key press means, if any. */
export function shortcutFor(event: { key: string; altKey: boolean; ctrlKey: boolean; metaKey: boolean }): Shortcut | null {
  if (!event.altKey || event.ctrlKey || event.metaKey) return null;
  const key = event.key.toLowerCase();
  return SHORTCUTS.find((s) => s.key === key) ?? null;
}
