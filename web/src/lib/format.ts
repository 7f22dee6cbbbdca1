// Formatting of numbers, prices, times and sizes for display.

export function formatPrice(price: number | null | undefined, currency: string | null | undefined, locale = 'en'): string {
  if (price === null || price === undefined || !Number.isFinite(price)) return '';
  if (currency && /^[A-Z]{3}$/.test(currency)) {
    try {
      return new Intl.NumberFormat(locale, { style: 'currency', currency }).format(price);
    } catch {
      /* an unknown code: fall through */
    }
  }
  const plain = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(price);
  return currency ? `${plain} ${currency}` : plain;
}

/** A similarity score (cosine, [-1, 1]) with three decimals. */
export function formatScore(score: number | null | undefined): string {
  if (score === null || score === undefined || !Number.isFinite(score)) return '–';
  return score.toFixed(3);
}

/** A progress fraction (0..1) as a whole percentage, clamped. */
export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '0%';
  return `${Math.round(Math.min(Math.max(fraction, 0), 1) * 100)}%`;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes} min ${seconds} s`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '–';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** "5 s ago", "3 min ago", "2 h ago", else the date. */
export function formatRelativeTime(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const seconds = Math.round((now - t) / 1000);
  if (seconds < 0) return 'just now';
  if (seconds < 60) return seconds <= 1 ? 'just now' : `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ');
}

/** "1–24 of 57" for a page of a list. */
export function formatRange(offset: number, count: number, total: number): string {
  if (total === 0 || count === 0) return `0 of ${total}`;
  return `${offset + 1}–${offset + count} of ${total}`;
}

interface RegionLike {
  label?: string | null;
  label_score?: number | null;
  detector_label?: string | null;
  detector_score?: number | null;
  whole_image?: boolean;
}

/**
 * What a region is called, with the score of that name: the labeller's label or the
 * detector's, whichever is surer; the whole-image region is called so.
 */
export function regionCaption(region: RegionLike): { name: string; score: number | null } {
  const label = region.label ? { name: region.label, score: region.label_score ?? null } : null;
  const detected = region.detector_label ? { name: region.detector_label, score: region.detector_score ?? null } : null;
  if (region.whole_image) return { name: label ? `Whole image (${label.name})` : 'Whole image', score: label?.score ?? null };
  if (label && detected) return (detected.score ?? 0) > (label.score ?? 0) ? detected : label;
  return label ?? detected ?? { name: 'Object', score: null };
}

/** The name shown for a detected region (see regionCaption). */
export function regionName(region: RegionLike): string {
  return regionCaption(region).name;
}
