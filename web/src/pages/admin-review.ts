// The admin review queue (/admin/review): what the models were unsure of, one tab per list
// (regions with low detector or label confidence, products without a confident region,
// recent searches whose best match is weak). A region is corrected in place (relabel from
// the labels in use, set primary, delete); the answer shows at once and the item leaves
// the queue. Products link to their page, searches show the query and its best matches.
import * as api from '../api';
import { deleteRegion, updateRegion } from '../admin-api/regions';
import { knownLabels, listReview, type ReviewItem, type ReviewKind, type ReviewPage } from '../admin-api/review';
import { emptyState, errorBanner, loading, pageTitle, thumbnail } from '../components/ui';
import { h, isAbort, replace, uid } from '../dom';
import { formatRange, formatRelativeTime, formatScore } from '../lib/format';
import { setQuery, type PageContext } from '../router';
import { adminCallRefused, requireAdmin } from './admin';
import './admin-review.css';

const PAGE_SIZE = 20;
const KINDS: [ReviewKind, string][] = [
  ['regions', 'Regions'],
  ['products', 'Products'],
  ['searches', 'Searches'],
];
const REASONS: Record<string, string> = {
  low_detector_score: 'low detector confidence',
  low_label_score: 'low label confidence',
  low_detector_and_label_score: 'low detector and label confidence',
  no_region: 'no region at all',
  no_detected_region: 'no object detected',
  low_best_score: 'weak best match',
  no_result: 'nothing found',
};

export async function adminReviewPage(ctx: PageContext): Promise<void> {
  if (!requireAdmin()) return;
  const { root, signal, query } = ctx;
  const state = {
    kind: (KINDS.some(([k]) => k === query.get('kind')) ? query.get('kind') : 'regions') as ReviewKind,
    offset: Math.max(0, parseInt(query.get('offset') ?? '0', 10) || 0),
  };
  // The labels in use, offered by every relabel field after the labeller's own guesses.
  const labelsInUse = knownLabels(signal)
    .then((labels) => labels.items.map((l) => l.label))
    .catch(() => [] as string[]);
  const tabs = h('div', { class: 'review-tabs', role: 'tablist', 'aria-label': 'Review lists' });
  const summary = h('p', { class: 'list-summary', role: 'status', 'aria-live': 'polite' });
  const notice = h('div', { 'aria-live': 'assertive' });
  const body = h('div', { class: 'review-body', role: 'tabpanel' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  replace(
    root,
    pageTitle(
      'Review queue',
      h('button', { type: 'button', class: 'button button-secondary', onclick: () => void load() }, 'Refresh'),
    ),
    h('p', { class: 'lead' }, 'What the models were unsure of, worst first. What you correct here leaves the queue; undo it from the audit log to put it back.'),
    tabs,
    notice,
    summary,
    body,
    pager,
  );

  let last: ReviewPage | null = null;
  const showTabs = () =>
    replace(
      tabs,
      KINDS.map(([kind, title]) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            class: 'review-tab',
            'aria-selected': kind === state.kind ? 'true' : 'false',
            dataset: { kind },
            onclick: () => {
              state.kind = kind;
              state.offset = 0;
              void load();
            },
          },
          title,
          last ? h('span', { class: 'review-count' }, String(last.counts[kind])) : null,
        ),
      ),
    );

  /** An item was handled: it leaves the counts (the card shows what was done). */
  const handled = () => {
    if (!last) return;
    last.counts[state.kind] = Math.max(0, last.counts[state.kind] - 1);
    last.total = Math.max(0, last.total - 1);
    showTabs();
    summary.textContent = `${last.total} to review`;
  };

  let seq = 0;
  async function load(): Promise<void> {
    const mine = ++seq;
    const params = new URLSearchParams();
    if (state.kind !== 'regions') params.set('kind', state.kind);
    if (state.offset) params.set('offset', String(state.offset));
    setQuery(params);
    showTabs();
    body.setAttribute('aria-busy', 'true');
    replace(body, loading());
    replace(notice);
    try {
      const page = await listReview(state.kind, PAGE_SIZE, state.offset, signal);
      if (mine !== seq) return;
      last = page;
      showTabs();
      summary.textContent = page.total ? formatRange(page.offset, page.items.length, page.total) : '';
      replace(
        body,
        page.items.length
          ? h('ul', { class: 'review-list' }, page.items.map((item) => reviewCard(item, labelsInUse, handled, notice)))
          : emptyState(`Nothing to review in ${state.kind}`, h('p', null, 'The models were confident about everything here, or an admin has seen to it.')),
      );
      replace(
        pager,
        state.offset > 0
          ? h('button', { type: 'button', class: 'button button-secondary', onclick: () => ((state.offset = Math.max(0, state.offset - PAGE_SIZE)), void load()) }, 'Previous')
          : null,
        state.offset + page.items.length < page.total
          ? h('button', { type: 'button', class: 'button button-secondary', onclick: () => ((state.offset += PAGE_SIZE), void load()) }, 'Next')
          : null,
      );
    } catch (e) {
      if (isAbort(e)) return;
      if (adminCallRefused(e)) return void requireAdmin();
      replace(body, errorBanner(e, h('button', { type: 'button', class: 'button button-small', onclick: () => void load() }, 'Try again')));
    } finally {
      body.removeAttribute('aria-busy');
    }
  }
  await load();
}

function reasonBadge(item: ReviewItem): HTMLElement {
  return h('span', { class: 'badge badge-queued review-reason', dataset: { reason: item.reason } }, REASONS[item.reason] ?? item.reason);
}

function reviewCard(item: ReviewItem, labelsInUse: Promise<string[]>, handled: () => void, notice: HTMLElement): HTMLElement {
  if (item.kind === 'region') return regionCard(item, labelsInUse, handled, notice);
  if (item.kind === 'product') return productCard(item);
  return searchCard(item);
}

function regionCard(item: ReviewItem, labelsInUse: Promise<string[]>, handled: () => void, notice: HTMLElement): HTMLElement {
  const region = item.region!;
  const product = item.product!;
  const inputId = uid('label');
  const input = h('input', { id: inputId, type: 'text', list: `${inputId}-labels`, value: region.label ?? '', maxlength: '64', required: true, autocomplete: 'off' });
  const guesses = region.labels.map((l) => l.name);
  const candidates = h('datalist', { id: `${inputId}-labels` }, guesses.map((name) => h('option', { value: name })));
  void labelsInUse.then((labels) => candidates.append(...labels.filter((l) => !guesses.includes(l)).map((l) => h('option', { value: l }))));
  const status = h('p', { class: 'review-status', role: 'status', 'aria-live': 'polite' });
  const card = h('li', { class: 'card review-item', dataset: { regionId: region.id } });
  const buttons: HTMLButtonElement[] = [];
  const act = async (what: string, call: () => Promise<unknown>) => {
    buttons.forEach((b) => (b.disabled = true));
    input.disabled = true;
    replace(notice);
    try {
      await call();
      card.classList.add('review-done');
      replace(status, h('strong', null, '✓ '), what, ' — it has left the queue.');
      handled();
    } catch (e) {
      buttons.forEach((b) => (b.disabled = false));
      input.disabled = false;
      if (adminCallRefused(e)) return void requireAdmin();
      replace(status, errorBanner(e));
    }
  };
  const relabel = () => {
    const label = input.value.trim();
    if (!label) return replace(status, 'Enter a label');
    void act(`Label set to “${label}”`, () => updateRegion(region.id, { label }));
  };
  buttons.push(
    h('button', { type: 'submit', class: 'button button-small' }, 'Save label'),
    h('button', { type: 'button', class: 'button button-small button-secondary', onclick: () => void act('Set as the primary region', () => updateRegion(region.id, { is_primary: true })) }, 'Set primary'),
    h('button', { type: 'button', class: 'button button-small button-secondary button-danger', onclick: () => void act('Region deleted', () => deleteRegion(region.id)) }, 'Delete'),
  );
  const candidateNames = region.labels.slice(0, 3).map((l) => `${l.name} ${formatScore(l.score)}`);
  replace(
    card,
    h('div', { class: 'review-media' }, h('img', { class: 'thumb', src: region.crop_url, alt: `Crop: ${region.label ?? 'unlabelled'}`, width: '160', height: '160', loading: 'lazy' })),
    h(
      'div',
      { class: 'review-main' },
      h('p', { class: 'review-head' }, reasonBadge(item), ' ', h('span', { class: 'score', title: 'the low confidence' }, formatScore(item.score))),
      h('p', null, 'Product: ', h('a', { href: `/products/${encodeURIComponent(product.id)}` }, product.name || product.sku), h('span', { class: 'muted' }, ` · ${product.sku}`)),
      h(
        'dl',
        { class: 'review-facts' },
        h('dt', null, 'Label'),
        h('dd', { class: 'review-label' }, region.label ?? '–', ' ', h('span', { class: 'muted' }, formatScore(region.label_score))),
        h('dt', null, 'Detector'),
        h('dd', null, region.whole_image ? 'whole image' : `${region.detector_label ?? '–'} ${formatScore(region.detector_score)}`),
        h('dt', null, 'Labeller also saw'),
        h('dd', { class: 'small' }, candidateNames.join(', ') || '–'),
        h('dt', null, 'Primary'),
        h('dd', null, region.is_primary ? 'yes' : 'no'),
      ),
      h(
        'form',
        { class: 'review-actions', onsubmit: (e: Event) => (e.preventDefault(), relabel()) },
        h('label', { for: inputId, class: 'visually-hidden' }, `New label for this region of ${product.name || product.sku}`),
        input,
        candidates,
        ...buttons,
      ),
      status,
    ),
  );
  return card;
}

function productCard(item: ReviewItem): HTMLElement {
  const product = item.product!;
  const href = `/products/${encodeURIComponent(product.id)}`;
  return h(
    'li',
    { class: 'card review-item', dataset: { productId: product.id } },
    h('a', { class: 'review-media', href }, thumbnail(product.thumbnail_image_id ? api.imageUrl(product.thumbnail_image_id) : null, product.name || product.sku, 160)),
    h(
      'div',
      { class: 'review-main' },
      h('p', { class: 'review-head' }, reasonBadge(item), ' ', h('span', { class: 'score', title: 'best detector score' }, formatScore(item.score))),
      h('p', null, h('a', { href }, product.name || product.sku), h('span', { class: 'muted' }, ` · ${product.sku}${product.category ? ` · ${product.category}` : ''}`)),
      h('p', { class: 'small muted' }, `${item.region_count ?? 0} region${item.region_count === 1 ? '' : 's'} · indexed ${formatRelativeTime(item.indexed_at)}`),
    ),
  );
}

function searchCard(item: ReviewItem): HTMLElement {
  const search = item.search!;
  const href = `/?search=${encodeURIComponent(search.id)}`;
  return h(
    'li',
    { class: 'card review-item', dataset: { searchId: search.id } },
    h('a', { class: 'review-media', href }, h('img', { class: 'thumb', src: api.searchImageUrl(search.id), alt: 'The query photo', width: '160', height: '160', loading: 'lazy' })),
    h(
      'div',
      { class: 'review-main' },
      h('p', { class: 'review-head' }, reasonBadge(item), ' ', h('span', { class: 'score', title: 'best score' }, formatScore(item.score))),
      h('p', null, h('a', { href }, 'Open the search'), h('span', { class: 'muted' }, ` · ${formatRelativeTime(search.created_at)} · ${item.result_count ?? 0} results`)),
      item.results?.length
        ? h(
            'ol',
            { class: 'review-results' },
            item.results.map((r) =>
              h(
                'li',
                null,
                r.crop_url ? h('img', { class: 'review-result-crop', src: r.crop_url, alt: '', width: '48', height: '48', loading: 'lazy' }) : null,
                h('a', { href: `/products/${encodeURIComponent(r.product_id)}` }, r.product.name || r.product.sku),
                ' ',
                h('span', { class: 'score' }, formatScore(r.score)),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No product matched.'),
    ),
  );
}
