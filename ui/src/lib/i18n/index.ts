import { en, type Catalog } from "./en";

/** The languages the UI is translated into; each is one catalog file with `en`'s keys. */
export const LANGUAGES = [{ code: "en", name: "English", catalog: en }] as const;

/** The catalog in use. English only for now; the tenants' languages come later. */
export const messages: Catalog = en;

/** Fills `{name}` placeholders in a catalog string. */
export function fill(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}
