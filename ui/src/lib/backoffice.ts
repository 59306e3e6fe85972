// The pure parts of the Back office screens — which sections a role sees, the location
// tree and its keys, the product form, the audit diff, the time zone search and the
// custom-field form — so they are tested without a window. The requests are `bo.ts`'s.

export type QueryValue = string | number | boolean | null | undefined;

/** `?a=1&b=x%20y` of the parameters that have a value (blank text left out). */
export function queryOf(params: Record<string, QueryValue>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined) continue;
    const text = String(value).trim();
    if (text !== "") search.set(key, text);
  }
  const q = search.toString().replace(/\+/g, "%20");
  return q ? `?${q}` : "";
}

/** `GET /v1/me`. */
export interface Me {
  actor_type: string;
  role: string | null;
  permissions: string[];
  subscription_expired: boolean;
}

export type Section = "warehouses" | "products" | "people" | "settings" | "audit";

/**
 * The sections a person sees, in order, by the permissions the server gives their role:
 * a section is shown to whoever may change something in it, or read the audit log.
 */
export function sectionsFor(permissions: readonly string[]): Section[] {
  const has = (p: string) => permissions.includes(p);
  const sections: Section[] = [];
  if (has("catalog_manage")) sections.push("warehouses", "products");
  if (has("users_read") || has("devices_manage") || has("api_keys_read")) sections.push("people");
  if (has("settings_manage")) sections.push("settings");
  if (has("audit_read")) sections.push("audit");
  return sections;
}

// ---- warehouses ----

export interface Warehouse {
  id: string;
  code: string;
  name: string;
  timezone: string;
  address: string;
  active: boolean;
}

/** The IANA time zones this system knows, for the searchable list. */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf?.("timeZone") ?? [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

/** The zones matching every word of `query` (any case, `_` as a space), at most `max`. */
export function matchZones(zones: readonly string[], query: string, max = 50): string[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  return zones
    .filter((z) => {
      const name = z.toLowerCase().replace(/_/g, " ");
      return words.every((w) => name.includes(w));
    })
    .slice(0, max);
}

// ---- the location tree ----

export interface Location {
  id: string;
  warehouse_id: string;
  parent_id: string | null;
  code: string;
  name: string;
  path: string;
  depth: number;
  active: boolean;
}

/** A row of the tree as shown: the location, how deep, and whether it is open. */
export interface TreeRow {
  location: Location;
  level: number;
  expanded: boolean;
  /** False once its children were loaded and it has none. */
  expandable: boolean;
}

/**
 * The visible rows: the roots, and the children (as loaded, by code) of every open
 * location under them, depth first.
 */
export function visibleRows(
  roots: readonly Location[],
  children: ReadonlyMap<string, readonly Location[]>,
  expanded: ReadonlySet<string>,
): TreeRow[] {
  const rows: TreeRow[] = [];
  const walk = (list: readonly Location[], level: number) => {
    for (const location of [...list].sort((a, b) => a.code.localeCompare(b.code))) {
      const kids = children.get(location.id);
      const open = expanded.has(location.id);
      rows.push({ location, level, expanded: open, expandable: kids === undefined || kids.length > 0 });
      if (open && kids) walk(kids, level + 1);
    }
  };
  walk(roots, 0);
  return rows;
}

/** What a key does in the tree (the WAI-ARIA tree pattern). */
export type TreeMove =
  | { focus: string }
  | { expand: string }
  | { collapse: string }
  | null;

export function treeKey(key: string, rows: readonly TreeRow[], focused: string | null): TreeMove {
  if (rows.length === 0) return null;
  const at = rows.findIndex((r) => r.location.id === focused);
  const row = at >= 0 ? rows[at] : null;
  switch (key) {
    case "ArrowDown":
      return { focus: rows[Math.min(at + 1, rows.length - 1)].location.id };
    case "ArrowUp":
      return { focus: rows[Math.max(at - 1, 0)].location.id };
    case "Home":
      return { focus: rows[0].location.id };
    case "End":
      return { focus: rows[rows.length - 1].location.id };
    case "ArrowRight":
      if (!row) return { focus: rows[0].location.id };
      if (row.expandable && !row.expanded) return { expand: row.location.id };
      if (row.expanded && rows[at + 1]?.level === row.level + 1) return { focus: rows[at + 1].location.id };
      return null;
    case "ArrowLeft":
      if (!row) return null;
      if (row.expanded) return { collapse: row.location.id };
      if (row.location.parent_id) return { focus: row.location.parent_id };
      return null;
    default:
      return null;
  }
}

// ---- products ----

export interface Product {
  id: string;
  sku: string;
  name: string;
  uom: string;
  lot_tracked: boolean;
  expiry_policy: "fifo" | "fefo";
  reorder_point: number;
  reorder_qty: number;
  cost: string | null;
  price: string | null;
  custom: Record<string, unknown>;
  barcodes: string[];
  active: boolean;
}

/**
 * The server's searches one text of the product search box makes: a barcode (8 to 14
 * digits, exact), a SKU prefix (the characters a SKU has), a name (a word of three
 * letters or digits or more); none when the text is none of these (say "a b").
 * Blank text lists the first products.
 */
export function productQueries(text: string): Record<string, QueryValue>[] {
  const t = text.trim();
  if (t === "") return [{}];
  const out: Record<string, QueryValue>[] = [];
  if (/^\d{8,14}$/.test(t)) out.push({ barcode: t });
  if (/^[A-Za-z0-9\-_./]{1,64}$/.test(t)) out.push({ sku_prefix: t });
  const word = t.split(/[^\p{L}\p{N}]+/u).some((w) => [...w].length >= 3);
  if (word && [...t].length <= 200) out.push({ q: t });
  return out;
}

/** The products of several searches, each once, by SKU. */
export function mergeProducts(pages: readonly (readonly Product[])[]): Product[] {
  const byId = new Map<string, Product>();
  for (const page of pages) for (const p of page) byId.set(p.id, p);
  return [...byId.values()].sort((a, b) => a.sku.localeCompare(b.sku));
}

/** The product form as typed: numbers and decimals as text, barcodes one per line. */
export interface ProductForm {
  sku: string;
  name: string;
  uom: string;
  lot_tracked: boolean;
  expiry_policy: "fifo" | "fefo";
  reorder_point: string;
  reorder_qty: string;
  cost: string;
  price: string;
  barcodes: string;
  custom: Record<string, string | boolean>;
}

export function productForm(p: Product | null, fields: readonly CustomField[]): ProductForm {
  const custom: Record<string, string | boolean> = {};
  for (const f of fields) {
    const value = p?.custom?.[f.name];
    custom[f.name] = f.type === "boolean" ? value === true : value === undefined || value === null ? "" : String(value);
  }
  return {
    sku: p?.sku ?? "",
    name: p?.name ?? "",
    uom: p?.uom ?? "ea",
    lot_tracked: p?.lot_tracked ?? false,
    expiry_policy: p?.expiry_policy ?? "fifo",
    reorder_point: String(p?.reorder_point ?? 0),
    reorder_qty: String(p?.reorder_qty ?? 0),
    cost: p?.cost ?? "",
    price: p?.price ?? "",
    barcodes: (p?.barcodes ?? []).join("\n"),
    custom,
  };
}

/** The barcodes typed, one per line or separated by commas. */
export function barcodesOf(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((b) => b.trim())
    .filter(Boolean);
}

/**
 * The body of a create or update: decimals stay text (the server reads them exactly),
 * whole numbers become numbers when they are, and blank custom fields are left out.
 * Text that is not a number is sent as typed, so the server's error names the field.
 */
export function productBody(form: ProductForm, fields: readonly CustomField[], creating: boolean): Record<string, unknown> {
  const whole = (text: string) => (/^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text.trim());
  const custom: Record<string, unknown> = {};
  for (const f of fields) {
    const value = form.custom[f.name];
    if (f.type === "boolean") custom[f.name] = value === true;
    else if (typeof value === "string" && value.trim() !== "") {
      const text = value.trim();
      custom[f.name] = f.type === "integer" || f.type === "number" ? (Number.isFinite(Number(text)) ? Number(text) : text) : text;
    }
  }
  const body: Record<string, unknown> = {
    sku: form.sku.trim(),
    name: form.name.trim(),
    uom: form.uom.trim() || "ea",
    lot_tracked: form.lot_tracked,
    expiry_policy: form.expiry_policy,
    reorder_point: whole(form.reorder_point),
    reorder_qty: whole(form.reorder_qty),
    barcodes: barcodesOf(form.barcodes),
    custom,
  };
  const cost = form.cost.trim();
  const price = form.price.trim();
  if (cost !== "" || !creating) body.cost = cost === "" ? null : cost;
  if (price !== "" || !creating) body.price = price === "" ? null : price;
  return body;
}

/** A field of the tenant's product schema, as the form renders it. */
export interface CustomField {
  name: string;
  title: string;
  type: "string" | "number" | "integer" | "boolean";
  options: string[];
  required: boolean;
}

/**
 * The form of a JSON Schema object's properties (`settings.product_field_schema`): one
 * field per property of a simple type, with its `enum` as a choice; anything else
 * (nested objects, arrays) is not editable here and left as it is.
 */
export function fieldsOf(schema: unknown): CustomField[] {
  if (typeof schema !== "object" || schema === null) return [];
  const s = schema as { properties?: Record<string, Record<string, unknown>>; required?: unknown };
  const required = Array.isArray(s.required) ? (s.required as string[]) : [];
  return Object.entries(s.properties ?? {}).flatMap(([name, p]) => {
    const type = Array.isArray(p.type) ? p.type.find((t) => t !== "null") : p.type;
    if (type !== "string" && type !== "number" && type !== "integer" && type !== "boolean") return [];
    return [
      {
        name,
        title: typeof p.title === "string" ? p.title : name,
        type,
        options: Array.isArray(p.enum) ? p.enum.map(String) : [],
        required: required.includes(name),
      },
    ];
  });
}

// ---- people ----

export const ROLES = ["admin", "manager", "operator", "purchasing", "sales", "viewer"] as const;

/** The permissions an API key can carry, as the server names them. */
export const KEY_PERMISSIONS = [
  "catalog_read",
  "catalog_manage",
  "stock_read",
  "movements_write",
  "orders_read",
  "purchasing_manage",
  "sales_manage",
  "settings_read",
  "audit_read",
  "data_import",
] as const;

// ---- the audit log ----

export interface AuditEntry {
  id: string;
  at: string;
  actor_type: string;
  actor_id: string | null;
  device_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  before: unknown;
  after: unknown;
}

/** One changed field of an audit entry. */
export interface Change {
  field: string;
  before: string | null;
  after: string | null;
}

/**
 * What an entry changed, field by field (nested fields as `a.b`), unchanged fields left
 * out; a creation has only `after`, a deletion only `before`.
 */
export function diffOf(before: unknown, after: unknown): Change[] {
  const flat = (value: unknown, prefix: string, out: Map<string, string>) => {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) flat(v, prefix ? `${prefix}.${k}` : k, out);
    } else if (prefix) {
      out.set(prefix, typeof value === "string" ? value : JSON.stringify(value));
    }
    return out;
  };
  const a = flat(before ?? {}, "", new Map());
  const b = flat(after ?? {}, "", new Map());
  const fields = [...new Set([...a.keys(), ...b.keys()])].sort();
  return fields
    .filter((f) => a.get(f) !== b.get(f))
    .filter((f) => f !== "updated_at")
    .map((field) => ({ field, before: a.get(field) ?? null, after: b.get(field) ?? null }));
}

/** A `datetime-local` value (the computer's time) as RFC 3339, or null if blank. */
export function instantOf(local: string): string | null {
  if (!local.trim()) return null;
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}
