// Formatting numbers and times for people, in one place.

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });

/** 12345 → "12,345". */
export function formatQty(n: number): string {
  return integer.format(n);
}

/** A change with its sign: 5 → "+5", -3 → "−3" (a real minus sign), 0 → "0". */
export function formatDelta(n: number): string {
  if (n > 0) return `+${integer.format(n)}`;
  if (n < 0) return `\u2212${integer.format(-n)}`;
  return "0";
}

/** Words for relative times, from the catalog. */
export type AgoWords = { justNow: string; minutesAgo: string; hoursAgo: string };

/**
 * How long ago `iso` was, relative to `now`: "just now", "5 min ago", "3 h ago", and
 * beyond two days the date in `timeZone` (the warehouse's, not this computer's).
 * `never` when there is no time. `words` hold `{n}` placeholders.
 */
export function formatAgo(
  iso: string | null,
  now: Date,
  never: string,
  timeZone: string,
  words: AgoWords,
): string {
  if (!iso) return never;
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return never;
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (seconds < 60) return words.justNow;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return words.minutesAgo.replace("{n}", String(minutes));
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return words.hoursAgo.replace("{n}", String(hours));
  return formatDateTime(iso, timeZone).slice(0, 10);
}

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** A formatter of `timeZone`, or of UTC when the name is not a zone this system knows. */
function dateTimeFormat(timeZone: string): Intl.DateTimeFormat {
  let format = dateTimeFormats.get(timeZone);
  if (!format) {
    const options: Intl.DateTimeFormatOptions = {
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    };
    try {
      format = new Intl.DateTimeFormat("en-US", { ...options, timeZone });
    } catch {
      format = new Intl.DateTimeFormat("en-US", { ...options, timeZone: "UTC" });
    }
    dateTimeFormats.set(timeZone, format);
  }
  return format;
}

/**
 * `iso` as "YYYY-MM-DD HH:mm" on the clock of `timeZone` (an IANA name such as
 * "Asia/Tokyo"): the warehouse's local time, whatever this computer's zone. An unknown
 * zone falls back to UTC; a time that is not one gives "–".
 */
export function formatDateTime(iso: string, timeZone: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "–";
  const parts: Record<string, string> = {};
  for (const p of dateTimeFormat(timeZone).formatToParts(at)) parts[p.type] = p.value;
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

/** A warehouse's id and IANA time zone, as the scope lists them. */
export type Zoned = { id: string; time_zone: string };

/**
 * The time zone to show a time of warehouse `warehouseId` in: that warehouse's, else the
 * scope's first warehouse's (the whole scope's when it has one zone), else UTC.
 */
export function zoneOf(scope: Zoned[], warehouseId?: string | null): string {
  const own = scope.find((w) => w.id === warehouseId);
  if (own) return own.time_zone;
  return scope[0]?.time_zone ?? "UTC";
}
