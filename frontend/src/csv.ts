// RFC 4180 parsing of the finance export, and exact sums of its money columns.

import { parseAmount, toDecimalString } from './money';

/** Parses RFC 4180 text (quoted cells, doubled quotes, CRLF or LF) with `separator`. */
export function parseCsv(text: string, separator: ',' | ';' = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  while (i < body.length) {
    const c = body[i];
    if (quoted) {
      if (c === '"') {
        if (body[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else cell += c;
      i++;
      continue;
    }
    if (c === '"' && cell === '') quoted = true;
    else if (c === separator) {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && body[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
    i++;
  }
  if (quoted) throw new Error('unterminated quoted cell in CSV');
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** The separator of a file whose header starts with `month`. */
export function detectSeparator(text: string): ',' | ';' {
  const first = text.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  return first.startsWith('month;') ? ';' : ',';
}

/** One line of the cost export, by column name. */
export type CostRow = Record<string, string>;

export interface CostSummary {
  rows: CostRow[];
  currency: string | null;
  total: string;
  byCostCentre: { costCentre: string; total: string; users: number }[];
  byUser: { user: string; costCentre: string; total: string }[];
}

/** Reads the export into rows by column name; throws when a line has the wrong number of cells. */
export function readCostCsv(text: string): CostRow[] {
  const [header, ...lines] = parseCsv(text, detectSeparator(text));
  if (!header) return [];
  return lines
    .filter((l) => !(l.length === 1 && l[0] === ''))
    .map((cells, n) => {
      if (cells.length !== header.length) throw new Error(`CSV line ${n + 2} has ${cells.length} cells, expected ${header.length}`);
      return Object.fromEntries(header.map((h, i) => [h, cells[i]]));
    });
}

/**
 * The estimate rows of an export (`kind` = `estimate`; a file exported before the column
 * existed has only estimates). The `actual` rows after them are Cost Explorer's figures in
 * its own currency: never added to the estimates.
 */
export function estimateRows(rows: CostRow[]): CostRow[] {
  return rows.filter((r) => (r.kind ?? 'estimate') === 'estimate');
}

/** Exact totals of an export's estimates: overall, per cost centre and per user (`total_cost` column). */
export function summariseCosts(all: CostRow[]): CostSummary {
  const rows = estimateRows(all);
  let total = 0n;
  const centres = new Map<string, { total: bigint; users: Set<string> }>();
  const users = new Map<string, { costCentre: string; total: bigint }>();
  for (const r of rows) {
    const amount = parseAmount(r.total_cost);
    total += amount;
    const cc = r.cost_centre ?? '';
    const c = centres.get(cc) ?? { total: 0n, users: new Set<string>() };
    c.total += amount;
    c.users.add(r.user);
    centres.set(cc, c);
    const u = users.get(r.user) ?? { costCentre: cc, total: 0n };
    u.total += amount;
    users.set(r.user, u);
  }
  return {
    rows,
    currency: rows[0]?.currency ?? null,
    total: toDecimalString(total),
    byCostCentre: [...centres.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([costCentre, c]) => ({ costCentre, total: toDecimalString(c.total), users: c.users.size })),
    byUser: [...users.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([user, u]) => ({ user, costCentre: u.costCentre, total: toDecimalString(u.total) })),
  };
}
