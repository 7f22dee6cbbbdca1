// The catalogue: every product as a card (thumbnail, name, category, price), with a text
// filter, a category filter, sorting and paging, all kept in the URL.
import * as api from '../api';
import { emptyState, errorBanner, pageTitle, thumbnail, indexStatusBadge } from '../components/ui';
import { h, isAbort, replace, uid } from '../dom';
import { formatPrice, formatRange } from '../lib/format';
import { setQuery, type PageContext } from '../router';
import type { ProductListItem } from '../types';

const PAGE_SIZE = 24;

const SORTS: [string, string][] = [
  ['-created_at', 'Newest first'],
  ['created_at', 'Oldest first'],
  ['name', 'Name A–Z'],
  ['-name', 'Name Z–A'],
  ['price', 'Price: low to high'],
  ['-price', 'Price: high to low'],
  ['sku', 'SKU'],
];

export function cataloguePage(ctx: PageContext): void {
  const { root, signal, query } = ctx;
  const state = {
    q: query.get('q') ?? '',
    category: query.get('category') ?? '',
    sort: query.get('sort') ?? '-created_at',
    page: Math.max(1, parseInt(query.get('page') ?? '1', 10) || 1),
  };
  const qId = uid('q');
  const catId = uid('cat');
  const sortId = uid('sort');
  const q = h('input', { id: qId, type: 'search', name: 'q', value: state.q, placeholder: 'Name, SKU or description', autocomplete: 'off' });
  const category = h('select', { id: catId, name: 'category' }, h('option', { value: '' }, 'All categories'));
  const sort = h('select', { id: sortId, name: 'sort' }, SORTS.map(([v, t]) => h('option', { value: v }, t)));
  sort.value = state.sort;
  const summary = h('p', { class: 'list-summary', role: 'status', 'aria-live': 'polite' });
  const grid = h('div', { class: 'catalogue-body' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });

  replace(
    root,
    pageTitle('Catalogue', h('a', { href: '/products/new', class: 'button' }, '+ Add product')),
    h(
      'form',
      { class: 'toolbar', role: 'search', onsubmit: (e: Event) => (e.preventDefault(), changed()) },
      h('div', { class: 'field field-grow' }, h('label', { for: qId }, 'Search text'), q),
      h('div', { class: 'field' }, h('label', { for: catId }, 'Category'), category),
      h('div', { class: 'field' }, h('label', { for: sortId }, 'Sort'), sort),
    ),
    summary,
    grid,
    pager,
  );

  void api
    .listCategories(signal)
    .then((list) => {
      for (const c of list.items) category.appendChild(h('option', { value: c.name }, `${c.name} (${c.product_count})`));
      category.value = state.category;
    })
    .catch(() => {});

  let timer: ReturnType<typeof setTimeout> | undefined;
  q.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(changed, 250);
  });
  signal.addEventListener('abort', () => clearTimeout(timer));
  category.addEventListener('change', changed);
  sort.addEventListener('change', changed);

  function changed(): void {
    state.q = q.value.trim();
    state.category = category.value;
    state.sort = sort.value;
    state.page = 1;
    void load();
  }

  let loadCtl: AbortController | null = null;
  async function load(): Promise<void> {
    loadCtl?.abort();
    const mine = new AbortController();
    loadCtl = mine;
    signal.addEventListener('abort', () => mine.abort(), { once: true });
    const params = new URLSearchParams();
    if (state.q) params.set('q', state.q);
    if (state.category) params.set('category', state.category);
    if (state.sort !== '-created_at') params.set('sort', state.sort);
    if (state.page > 1) params.set('page', String(state.page));
    setQuery(params);
    grid.setAttribute('aria-busy', 'true');
    summary.textContent = 'Loading products…';
    if (!grid.firstChild || grid.querySelector('.empty, .banner')) replace(grid, skeleton());
    try {
      const page = await api.listProducts(
        { q: state.q, category: state.category, sort: state.sort, limit: PAGE_SIZE, offset: (state.page - 1) * PAGE_SIZE },
        mine.signal,
      );
      if (page.items.length === 0 && page.total > 0 && state.page > 1) {
        state.page = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
        return load();
      }
      summary.textContent = page.total ? `${formatRange(page.offset, page.items.length, page.total)} products` : '';
      if (!page.items.length) {
        const filtered = state.q || state.category;
        replace(
          grid,
          filtered
            ? emptyState('No product matches these filters.', h('button', { type: 'button', class: 'button button-secondary', onclick: clearFilters }, 'Clear filters'))
            : emptyState('The catalogue is empty.', h('p', null, h('a', { href: '/products/new' }, 'Add the first product'), ' to make it searchable.')),
        );
      } else {
        replace(grid, h('ul', { class: 'product-grid' }, page.items.map(productCard)));
      }
      renderPager(page.total);
    } catch (e) {
      if (isAbort(e)) return;
      summary.textContent = '';
      replace(grid, errorBanner(e, h('button', { type: 'button', class: 'button button-secondary', onclick: () => void load() }, 'Try again')));
      replace(pager);
    } finally {
      if (loadCtl === mine) grid.removeAttribute('aria-busy');
    }
  }

  function clearFilters(): void {
    q.value = '';
    category.value = '';
    changed();
    q.focus();
  }

  function renderPager(total: number): void {
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (pages <= 1) return replace(pager);
    const go = (p: number) => () => {
      state.page = p;
      void load().then(() => root.querySelector<HTMLElement>('#page-title')?.focus());
    };
    replace(
      pager,
      h('button', { type: 'button', class: 'button button-secondary', disabled: state.page <= 1, onclick: go(state.page - 1) }, '← Previous'),
      h('span', { class: 'pager-text' }, `Page ${state.page} of ${pages}`),
      h('button', { type: 'button', class: 'button button-secondary', disabled: state.page >= pages, onclick: go(state.page + 1) }, 'Next →'),
    );
  }

  void load();
}

function productCard(p: ProductListItem): HTMLElement {
  return h(
    'li',
    { class: 'card product-card', dataset: { productId: p.id } },
    h(
      'a',
      { href: `/products/${encodeURIComponent(p.id)}`, class: 'card-link' },
      h('div', { class: 'card-media' }, thumbnail(p.thumbnail_image_id ? api.imageUrl(p.thumbnail_image_id) : null, p.name)),
      h('span', { class: 'card-title' }, p.name),
    ),
    h(
      'div',
      { class: 'card-meta' },
      h('span', { class: 'muted' }, p.category || 'Uncategorised'),
      p.price !== null ? h('span', { class: 'price' }, formatPrice(p.price, p.currency)) : null,
      h('span', { class: 'muted small' }, `SKU ${p.sku}`),
      indexStatusBadge(p.index_status, p.index_error),
    ),
  );
}

function skeleton(): HTMLElement {
  return h(
    'ul',
    { class: 'product-grid', 'aria-hidden': 'true' },
    Array.from({ length: 8 }, () => h('li', { class: 'card skeleton' }, h('div', { class: 'card-media' }, h('div', { class: 'thumb thumb-none' })), h('span', { class: 'skeleton-line' }), h('span', { class: 'skeleton-line short' }))),
  );
}
