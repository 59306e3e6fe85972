import { en, type Catalog } from "./en";

/** The catalog in use. English only for now; the tenants' languages come later. */
export const messages: Catalog = en;

/** Fills `{name}` placeholders in a catalog string. */
export function fill(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in params ? String(params[name]) : whole,
  );
}
