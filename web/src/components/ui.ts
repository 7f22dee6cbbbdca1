// Small building blocks shared by the pages: headings, error banners, status badges,
// progress bars, empty and loading states.
import { h, type Child } from '../dom';
import { describeError } from '../lib/errors';
import { formatPercent } from '../lib/format';

/** The page's heading; it takes the focus after a navigation so screen readers announce it. */
export function pageTitle(text: string, ...extra: Child[]): HTMLElement {
  document.title = `${text} · Visor`;
  const heading = h('h1', { tabindex: '-1', id: 'page-title' }, text);
  queueMicrotask(() => {
    const active = document.activeElement;
    if (!active || active === document.body || active.id === 'main') heading.focus({ preventScroll: true });
  });
  return h('div', { class: 'page-head' }, heading, ...extra);
}

export function errorBanner(error: unknown, ...actions: Child[]): HTMLElement {
  const { message, detail } = describeError(error);
  const buttons = actions.filter((a) => a !== null && a !== undefined && a !== false);
  return h(
    'div',
    { class: 'banner banner-error', role: 'alert' },
    h('strong', null, 'Error: '),
    h('span', { class: 'banner-message' }, message),
    detail ? h('small', { class: 'banner-detail' }, detail) : null,
    buttons.length ? h('div', { class: 'banner-actions' }, ...buttons) : null,
  );
}

export function infoBanner(...children: Child[]): HTMLElement {
  return h('div', { class: 'banner banner-info', role: 'status' }, ...children);
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge badge-${status}` }, status);
}

const INDEX_STATUS_TEXT: Record<string, string> = { searchable: 'searchable', indexing: 'indexing', failed: 'failed', none: 'no images' };
const INDEX_STATUS_BADGE: Record<string, string> = { searchable: 'done', indexing: 'running', failed: 'failed', none: 'queued' };

/** Whether a product can be found by a photo: searchable / indexing / failed / no images. */
export function indexStatusBadge(status: string, error?: string | null): HTMLElement {
  return h(
    'span',
    { class: `badge index-status-badge badge-${INDEX_STATUS_BADGE[status] ?? 'queued'}`, dataset: { indexStatus: status }, title: error ?? undefined },
    INDEX_STATUS_TEXT[status] ?? status,
  );
}

/** A labelled progress bar; `fraction` null shows an indeterminate one. */
export function progressBar(fraction: number | null, label: string): HTMLElement {
  const bar = h('progress', { class: 'progress', max: '1', 'aria-label': label });
  if (fraction !== null) bar.value = Math.min(Math.max(fraction, 0), 1);
  return h('div', { class: 'progress-row' }, bar, h('span', { class: 'progress-text' }, fraction === null ? '…' : formatPercent(fraction)));
}

export function loading(text = 'Loading…'): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function emptyState(title: string, ...children: Child[]): HTMLElement {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), ...children);
}

/** A product thumbnail that holds its space while loading (fixed square, contain fit). */
export function thumbnail(src: string | null, alt: string, size = 320): HTMLElement {
  if (!src) return h('div', { class: 'thumb thumb-none', role: 'img', 'aria-label': `${alt}: no image` }, 'No image');
  return h('img', { class: 'thumb', src, alt, width: String(size), height: String(size), loading: 'lazy', decoding: 'async' });
}
