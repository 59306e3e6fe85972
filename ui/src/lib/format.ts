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

/**
 * How long ago `iso` was, relative to `now`: "just now", "5 min ago", "3 h ago", and
 * the date beyond two days. `never` when there is no time.
 */
export function formatAgo(iso: string | null, now: Date, never: string): string {
  if (!iso) return never;
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return never;
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (seconds < 60) return "just now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return then.toISOString().slice(0, 10);
}
