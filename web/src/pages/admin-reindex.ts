// The admin re-index page (/admin/reindex): how many images and products are stale (their
// vectors were made by another embedder than the one the workers run now), a form to
// re-index one product, one category, the stale images or everything, the live progress
// of the run it starts (polled until it finishes) and the recent runs. `?product=ID`
// preselects a product and `?run=ID` follows a run (the job dashboard links here).
import * as api from '../api';
import { getReindexRun, listReindexRuns, runActive, startReindex, type ReindexInput, type ReindexRun, type StaleSummary } from '../admin-api/reindex';
import { emptyState, errorBanner, infoBanner, pageTitle, progressBar, statusBadge } from '../components/ui';
import { h, isAbort, replace, sleep, uid } from '../dom';
import { formatRelativeTime } from '../lib/format';
import { setQuery, type PageContext } from '../router';
import { adminCallRefused, requireAdmin } from './admin';

const POLL_MS = 500;
const RECENT_RUNS = 20;
type Scope = ReindexInput['scope'];

const SCOPES: [Scope, string][] = [
  ['product', 'One product'],
  ['category', 'One category'],
  ['stale', 'Stale images only'],
  ['all', 'Everything'],
];

/** "12 of 40 images, 1 failed" for a run. */
export function runCounts(run: ReindexRun): string {
  const finished = run.done + run.failed + run.cancelled;
  const extra = [run.failed ? `${run.failed} failed` : '', run.cancelled ? `${run.cancelled} cancelled` : ''].filter(Boolean).join(', ');
  return `${finished} of ${run.total} image${run.total === 1 ? '' : 's'}${extra ? `, ${extra}` : ''}`;
}

function runScope(run: ReindexRun, names: Map<string, string>): HTMLElement | string {
  if (run.scope === 'product' && run.product_id)
    return h('a', { href: `/products/${encodeURIComponent(run.product_id)}` }, names.get(run.product_id) ?? `product ${run.product_id.slice(0, 8)}…`);
  if (run.scope === 'category') return `category ${run.category ?? ''}`;
  return run.scope === 'stale' ? 'stale images' : 'everything';
}

function staleText(stale: StaleSummary): HTMLElement {
  const model = h('span', { class: 'mono' }, stale.model ?? 'none yet (no worker has started)');
  if (!stale.images) return infoBanner('Current embedder: ', model, '. Nothing is stale: every image has vectors of this embedder.');
  return h(
    'div',
    { class: 'banner banner-error', role: 'status', dataset: { stale: String(stale.images) } },
    h('strong', null, `${stale.images} stale image${stale.images === 1 ? '' : 's'} of ${stale.products} product${stale.products === 1 ? '' : 's'}. `),
    'Their vectors were made by another embedder than the current one (',
    model,
    '), so searches do not find them until they are re-indexed.',
  );
}

export async function adminReindexPage(ctx: PageContext): Promise<void> {
  const { root, signal, query } = ctx;
  if (!requireAdmin()) return;
  const productNames = new Map<string, string>();
  const staleBox = h('div', { 'aria-live': 'polite' });
  const notice = h('div', { 'aria-live': 'assertive' });
  const progressBox = h('section', { class: 'reindex-progress', 'aria-live': 'polite', 'aria-label': 'Progress of the run' });
  const runsBox = h('div', { class: 'reindex-runs' });

  // The form: a scope (radio buttons), and the product or category it needs.
  const scopeName = uid('scope');
  let scope: Scope = query.get('product') ? 'product' : 'stale';
  const radios = SCOPES.map(([value, text]) => {
    const id = uid('scope');
    const input = h('input', { type: 'radio', name: scopeName, id, value, checked: value === scope, onchange: () => ((scope = value), showScopeFields()) });
    return h('label', { for: id, class: 'reindex-scope' }, input, ' ', text);
  });
  const productFilterId = uid('product-filter');
  const productId = uid('product');
  const categoryId = uid('category');
  const productFilter = h('input', { id: productFilterId, type: 'search', placeholder: 'Name or SKU', autocomplete: 'off' });
  const productSelect = h('select', { id: productId, name: 'product_id' });
  const categorySelect = h('select', { id: categoryId, name: 'category' });
  const productField = h(
    'div',
    { class: 'toolbar' },
    h('div', { class: 'field' }, h('label', { for: productFilterId }, 'Find a product'), productFilter),
    h('div', { class: 'field field-grow' }, h('label', { for: productId }, 'Product'), productSelect),
  );
  const categoryField = h('div', { class: 'field' }, h('label', { for: categoryId }, 'Category'), categorySelect);
  const submit = h('button', { type: 'submit', class: 'button' }, 'Start re-index');
  const showScopeFields = () => {
    productField.style.display = scope === 'product' ? '' : 'none';
    categoryField.style.display = scope === 'category' ? '' : 'none';
  };
  showScopeFields();

  replace(
    root,
    pageTitle('Re-index', h('p', { class: 'lead' }, 'Run the current models on images again and replace their vectors. Products stay searchable while it runs.')),
    staleBox,
    h(
      'form',
      { class: 'reindex-form', novalidate: true, onsubmit: (e: Event) => (e.preventDefault(), void start()) },
      h('fieldset', { class: 'reindex-scopes' }, h('legend', null, 'What to re-index'), radios),
      productField,
      categoryField,
      h('div', { class: 'form-actions' }, submit),
    ),
    notice,
    progressBox,
    h('h2', null, 'Recent runs'),
    runsBox,
  );

  const preselected = query.get('product');
  async function loadProducts(): Promise<void> {
    try {
      const page = await api.listProducts({ q: productFilter.value.trim(), sort: 'name', limit: 100 }, signal);
      const items = page.items.map((p) => ({ id: p.id, name: p.name, sku: p.sku }));
      if (preselected && !items.some((p) => p.id === preselected)) {
        const one = await api.getProduct(preselected, signal).catch(() => null);
        if (one) items.unshift({ id: one.id, name: one.name, sku: one.sku });
      }
      items.forEach((p) => productNames.set(p.id, p.name));
      const chosen = productSelect.value || preselected || '';
      replace(
        productSelect,
        items.length ? items.map((p) => h('option', { value: p.id, selected: p.id === chosen }, `${p.name} (${p.sku})`)) : h('option', { value: '' }, 'No product matches'),
      );
    } catch (e) {
      if (!isAbort(e)) replace(notice, errorBanner(e));
    }
  }
  let filterTimer = 0;
  productFilter.addEventListener('input', () => {
    clearTimeout(filterTimer);
    filterTimer = window.setTimeout(() => void loadProducts(), 250);
  });
  async function loadCategories(): Promise<void> {
    try {
      const categories = await api.listCategories(signal);
      const names = categories.items.map((c) => c.name).filter((c) => c);
      replace(categorySelect, names.length ? names.map((c) => h('option', { value: c }, c)) : h('option', { value: '' }, 'No categories'));
    } catch (e) {
      if (!isAbort(e)) replace(notice, errorBanner(e));
    }
  }

  let watching: string | null = null;
  function showRun(run: ReindexRun): void {
    const finished = run.done + run.failed + run.cancelled;
    const fraction = run.total ? finished / run.total : 1;
    replace(
      progressBox,
      h(
        'div',
        { class: 'banner banner-info', dataset: { runId: run.id, status: run.status } },
        h('p', null, h('strong', null, runActive(run) ? 'Re-indexing ' : 'Re-indexed '), runScope(run, productNames), ' with ', h('span', { class: 'mono small' }, run.model)),
        progressBar(fraction, `Progress of re-index run ${run.id}`),
        h('p', { class: 'reindex-counts' }, statusBadge(run.status), ' ', runCounts(run)),
        run.failed ? h('p', null, h('a', { href: `/jobs?kind=reindex&status=failed` }, 'See the failed tasks')) : null,
      ),
    );
  }

  async function follow(id: string): Promise<void> {
    watching = id;
    setQuery(new URLSearchParams({ run: id }));
    while (!signal.aborted && watching === id) {
      try {
        const run = await getReindexRun(id, signal);
        showRun(run);
        if (!runActive(run)) {
          await loadRuns();
          return;
        }
      } catch (e) {
        if (isAbort(e)) return;
        if (adminCallRefused(e)) return void requireAdmin();
        replace(progressBox, errorBanner(e));
        return;
      }
      try {
        await sleep(POLL_MS, signal);
      } catch {
        return;
      }
    }
  }

  async function start(): Promise<void> {
    const input: ReindexInput = { scope };
    if (scope === 'product') {
      if (!productSelect.value) return replace(notice, errorBanner(new Error('Choose a product to re-index')));
      input.product_id = productSelect.value;
    } else if (scope === 'category') {
      if (!categorySelect.value) return replace(notice, errorBanner(new Error('Choose a category to re-index')));
      input.category = categorySelect.value;
    }
    submit.disabled = true;
    replace(notice);
    try {
      const run = await startReindex(input);
      showRun(run);
      void loadRuns();
      void follow(run.id);
    } catch (e) {
      if (adminCallRefused(e)) return void requireAdmin();
      replace(notice, errorBanner(e));
    } finally {
      submit.disabled = false;
    }
  }

  async function loadRuns(): Promise<void> {
    try {
      const page = await listReindexRuns(RECENT_RUNS, signal);
      replace(staleBox, staleText(page.stale));
      replace(runsBox, page.items.length ? runsTable(page.items) : emptyState('No re-index run yet.'));
    } catch (e) {
      if (isAbort(e)) return;
      if (adminCallRefused(e)) return void requireAdmin();
      replace(runsBox, errorBanner(e));
    }
  }

  function runsTable(runs: ReindexRun[]): HTMLElement {
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'jobs-table reindex-table' },
        h('caption', { class: 'visually-hidden' }, 'Re-index runs, newest first'),
        h('thead', null, h('tr', null, ['Started', 'Scope', 'State', 'Images', 'Embedder', 'By', 'Finished'].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          null,
          runs.map((run) =>
            h(
              'tr',
              { dataset: { runId: run.id, status: run.status } },
              h('td', { 'data-label': 'Started' }, h('time', { datetime: run.created_at, title: run.created_at }, formatRelativeTime(run.created_at))),
              h('td', { 'data-label': 'Scope' }, runScope(run, productNames)),
              h('td', { 'data-label': 'State' }, statusBadge(run.status)),
              h('td', { 'data-label': 'Images' }, runActive(run) ? h('a', { href: `/admin/reindex?run=${encodeURIComponent(run.id)}`, onclick: (e: Event) => (e.preventDefault(), void follow(run.id)) }, runCounts(run)) : runCounts(run)),
              h('td', { 'data-label': 'Embedder', class: 'mono small' }, run.model),
              h('td', { 'data-label': 'By' }, run.actor),
              h('td', { 'data-label': 'Finished' }, run.finished_at ? h('time', { datetime: run.finished_at, title: run.finished_at }, formatRelativeTime(run.finished_at)) : '–'),
            ),
          ),
        ),
      ),
    );
  }

  await Promise.all([loadProducts(), loadCategories(), loadRuns()]);
  const runId = query.get('run');
  if (runId) await follow(runId);
}
