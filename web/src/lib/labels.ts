// Product labels (key=value) as typed by a person: rows in the product form, and the
// label filter of a search ("brand=Oatly, size=1l" or one per line).

export interface LabelRow {
  key: string;
  value: string;
}

export interface LabelParse {
  labels: Record<string, string>;
  /** Problems, each naming the row (1-based) or the text it is about. */
  errors: string[];
}

export const MAX_LABELS = 32;
const MAX_KEY = 64;
const MAX_VALUE = 256;

/** Rows of the product form → the labels object the API takes. Blank rows are skipped. */
export function labelsFromRows(rows: LabelRow[]): LabelParse {
  const labels: Record<string, string> = {};
  const errors: string[] = [];
  rows.forEach((row, i) => {
    const key = row.key.trim();
    const value = row.value.trim();
    if (!key && !value) return;
    const where = `label ${i + 1}`;
    if (!key) errors.push(`${where}: the name is empty`);
    else if (key.length > MAX_KEY) errors.push(`${where}: the name is longer than ${MAX_KEY} characters`);
    else if (key.includes('=')) errors.push(`${where}: the name must not contain '='`);
    else if (Object.prototype.hasOwnProperty.call(labels, key)) errors.push(`${where}: '${key}' is given twice`);
    else if (value.length > MAX_VALUE) errors.push(`${where}: the value is longer than ${MAX_VALUE} characters`);
    else labels[key] = value;
  });
  if (Object.keys(labels).length > MAX_LABELS) errors.push(`at most ${MAX_LABELS} labels`);
  return { labels, errors };
}

/** The labels object → rows for the form. */
export function rowsFromLabels(labels: Record<string, string> | null | undefined): LabelRow[] {
  return Object.entries(labels ?? {}).map(([key, value]) => ({ key, value }));
}

/** "brand=Oatly, size = 1l" (commas or new lines) → labels. */
export function parseLabelText(text: string): LabelParse {
  const rows: LabelRow[] = [];
  const errors: string[] = [];
  for (const part of text.split(/[\n,]/)) {
    const item = part.trim();
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq < 0) {
      errors.push(`'${item}' is not key=value`);
      continue;
    }
    rows.push({ key: item.slice(0, eq), value: item.slice(eq + 1) });
  }
  const parsed = labelsFromRows(rows);
  return { labels: parsed.labels, errors: [...errors, ...parsed.errors] };
}

/** Labels → ["brand=Oatly", ...] as the search API takes them (repeated `label` parts). */
export function labelPairs(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}
