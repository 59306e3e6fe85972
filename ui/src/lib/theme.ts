// Light and dark themes: the person's choice if they made one, else the system's.

export type Theme = "light" | "dark";

const KEY = "logiflow.theme";

export function initialTheme(stored: string | null, prefersDark: boolean): Theme {
  if (stored === "light" || stored === "dark") return stored;
  return prefersDark ? "dark" : "light";
}

export function loadTheme(): Theme {
  const prefersDark = window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
  return initialTheme(localStorage.getItem(KEY), prefersDark);
}

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem(KEY, theme);
}
