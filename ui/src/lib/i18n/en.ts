// Every string the UI shows, in English. Another language is another file with the
// same keys (the `Catalog` type makes a missing key a type error).

export const en = {
  appName: "LogiFlow",
  nav: {
    dashboard: "Dashboard",
    stock: "Stock",
    movement: "Scan movement",
    shortcuts: "Alt+1 Dashboard · Alt+2 Stock · Alt+3 Scan · Alt+T theme",
  },
  theme: {
    toggle: "Theme",
    light: "Light",
    dark: "Dark",
  },
  replica: {
    title: "Local replica",
    path: "File",
    openFailed: "The local replica could not be opened",
    notSetUp:
      "This device is not set up yet. Setting it up needs a connection to a LogiFlow server, which this version cannot make yet; an administrator can set it up with the `logiflow init` command.",
  },
  dashboard: {
    title: "Dashboard",
    pending: "Pending journal entries",
    pendingHint: "Recorded here, not yet sent to the server",
    conflicts: "Conflicts",
    conflictsHint: "Held, rejected or flagged movements",
    connection: "Connection",
    offlineNoServer: "Offline — no server configured yet",
    offlineNoServerHint:
      "Connecting to a server, signing in and syncing are not available in this version. Everything you record is kept in the local journal.",
    lastSync: "Last sync",
    never: "Never",
    device: "Device",
    lastSeq: "Last journal number",
    refresh: "Refresh",
  },
  stock: {
    title: "Stock",
    searchLabel: "Search by SKU, name or barcode",
    searchPlaceholder: "Type or scan… (press / to focus)",
    by: "Search in",
    byAny: "All",
    bySku: "SKU",
    byName: "Name",
    byBarcode: "Barcode",
    sku: "SKU",
    name: "Name",
    bin: "Bin",
    warehouse: "Warehouse",
    lot: "Lot",
    onHand: "On hand",
    available: "Available",
    pending: "Pending",
    none: "No stock matches.",
    count: "Lines: {count}",
    capped: "Showing the first {count} lines: narrow the search to see the rest.",
    loading: "Searching…",
  },
  movement: {
    title: "Scan movement",
    kind: "Movement",
    receive: "Receive",
    ship: "Ship",
    transfer: "Transfer",
    adjust: "Adjust",
    kindKeys: "F1 Receive · F2 Ship · F3 Transfer · F4 Adjust",
    toBin: "Into bin",
    fromBin: "From bin",
    atBin: "At bin",
    reason: "Reason",
    reasons: {
      damage: "Damage (−)",
      loss: "Loss (−)",
      found: "Found (+)",
      correction: "Correction (±)",
    },
    item: "Scan item (barcode or SKU), then Enter",
    qty: "Quantity, then Enter",
    qtyFor: "Quantity for {item}",
    delta: "Change (use − for less), then Enter",
    escape: "Esc starts over",
    recorded: "Recorded #{seq}: {kind} {qty} × {item}",
    recordedHeld: "The server may hold it: {projected}",
    binMissing: "Enter the bin first",
    saving: "Recording…",
    notSetUp: "This device is not set up yet, so nothing can be recorded.",
  },
  scan: {
    empty: "Nothing was scanned",
    tooLong: "That scan is too long to be a barcode or SKU ({max} characters at most)",
    control: "The scan holds characters that are not part of any code",
  },
  qty: {
    empty: "Enter a quantity",
    notNumber: "“{raw}” is not a whole number",
    zero: "The quantity must not be zero",
    negative: "The quantity must be more than zero",
    tooLarge: "{raw} is more than {max}, the largest quantity accepted",
  },
  errors: {
    unknown_product: "Unknown item",
    unknown_location: "Unknown bin",
    generic: "Error",
  },
} as const;

type Widen<T> = T extends string ? string : { [K in keyof T]: Widen<T[K]> };

/** The shape every language's catalog has. */
export type Catalog = Widen<typeof en>;
