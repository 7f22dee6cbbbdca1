// The home page: visual search. A photo comes in (drop, pick, paste, camera), goes to
// POST /api/v1/searches?wait=20, and the answer is shown as the query image with every
// detected object boxed, the matches per object (tabs, or click a box), and the best
// products overall. On the answer the shopper can drag a box to search that region alone,
// or search with one detected object: both search the stored query image again
// (search_id + box), without uploading it.
import * as api from '../api';
import { annotatedImage, type AnnotatedImage } from '../components/annotated-image';
import { boxBetween, boxDrawing } from '../components/box-draw';
import { dropzone, onPasteImages } from '../components/dropzone';
import { matchFeedback } from '../components/match-feedback';
import { emptyState, errorBanner, infoBanner, pageTitle, progressBar, thumbnail } from '../components/ui';
import { h, isAbort, replace, sleep, uid } from '../dom';
import { regionColor } from '../lib/boxes';
import { ApiError, isMissingRoute } from '../lib/errors';
import { formatDuration, formatPrice, formatScore, regionCaption, regionName } from '../lib/format';
import { labelPairs, parseLabelText } from '../lib/labels';
import { setQuery, type PageContext } from '../router';
import type { Box, ProductBrief, Search, SearchHit, SearchRegion, Size } from '../types';

const WAIT_SECONDS = 20;
const MAX_POLL_MS = 120_000;

export async function searchPage(ctx: PageContext): Promise<void> {
  const { root, signal } = ctx;
  let file: File | null = null;
  let previewUrl: string | null = null;
  let inflight: AbortController | null = null;
  signal.addEventListener('abort', () => {
    inflight?.abort();
    if (previewUrl) URL.revokeObjectURL(previewUrl);
  });

  const status = h('div', { class: 'search-status', role: 'status', 'aria-live': 'polite' });
  const results = h('div', { class: 'search-results' });

  // ---- filters ---------------------------------------------------------------------------
  const categoryId = uid('category');
  const labelsId = uid('labels');
  const kId = uid('k');
  const labelsHelp = uid('help');
  const category = h('select', { id: categoryId, name: 'category' }, h('option', { value: '' }, 'Any category'));
  const labels = h('input', {
    id: labelsId,
    name: 'label',
    type: 'text',
    placeholder: 'brand=Oatly, size=1l',
    autocomplete: 'off',
    'aria-describedby': labelsHelp,
  });
  const labelsError = h('p', { class: 'field-error', id: uid('err'), hidden: true });
  const k = h('input', { id: kId, name: 'k', type: 'number', min: '1', max: '100', value: '10', inputmode: 'numeric' });
  const submit = h('button', { type: 'submit', class: 'button', disabled: true }, 'Search');
  const filters = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Search filters',
      onsubmit: (e: Event) => {
        e.preventDefault();
        if (file) void run(file);
      },
    },
    h('div', { class: 'field' }, h('label', { for: categoryId }, 'Category'), category),
    h(
      'div',
      { class: 'field' },
      h('label', { for: labelsId }, 'Labels'),
      labels,
      h('p', { class: 'help', id: labelsHelp }, 'key=value, all must match'),
      labelsError,
    ),
    h('div', { class: 'field field-k' }, h('label', { for: kId }, 'Results per object'), k),
    h('div', { class: 'field field-submit' }, submit),
  );
  const query = ctx.query;
  if (query.get('k')) k.value = query.get('k')!;
  if (query.get('label')) labels.value = query.getAll('label').join(', ');
  void api
    .listCategories(signal)
    .then((list) => {
      for (const c of list.items) category.appendChild(h('option', { value: c.name }, `${c.name} (${c.product_count})`));
      if (query.get('category')) category.value = query.get('category')!;
    })
    .catch(() => {
      /* the filter stays at "Any category" */
    });

  const drop = dropzone({
    label: 'Drop a photo here, or choose one',
    hint: 'You can also paste an image (Ctrl+V). JPEG, PNG, WebP, GIF, TIFF.',
    capture: 'environment',
    id: 'search-file',
    onFiles: (files) => {
      file = files[0]!;
      submit.disabled = false;
      void run(file);
    },
  });
  onPasteImages(signal, (files) => {
    file = files[0]!;
    submit.disabled = false;
    void run(file);
  });

  replace(
    root,
    pageTitle('Visual search', h('p', { class: 'lead' }, 'Show Visor a photo: it finds each product in it and the most similar products in the catalogue.')),
    h('section', { class: 'search-input', 'aria-label': 'Query photo' }, drop.el, filters),
    status,
    results,
  );

  // ---- one search --------------------------------------------------------------------------
  /** The k, category and label fields of the form, or null (and the error shown) when the labels are bad. */
  function filterForm(): FormData | null {
    const parsed = parseLabelText(labels.value);
    if (parsed.errors.length) {
      labelsError.textContent = parsed.errors.join('; ');
      labelsError.hidden = false;
      labels.setAttribute('aria-invalid', 'true');
      labels.setAttribute('aria-describedby', `${labelsHelp} ${labelsError.id}`);
      labels.focus();
      return null;
    }
    labelsError.hidden = true;
    labels.removeAttribute('aria-invalid');
    labels.setAttribute('aria-describedby', labelsHelp);
    const kValue = Math.min(Math.max(parseInt(k.value, 10) || 10, 1), 100);
    k.value = String(kValue);
    const form = new FormData();
    form.append('k', String(kValue));
    if (category.value) form.append('category', category.value);
    for (const pair of labelPairs(parsed.labels)) form.append('label', pair);
    return form;
  }

  async function run(image: File): Promise<void> {
    const form = filterForm();
    if (!form) return;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(image);
    const previewSize = await imageSize(previewUrl);
    // A file the browser cannot show (not an image, or a format it lacks) has no preview.
    replace(results, previewSize ? h('div', { class: 'query-pending' }, queryFigure(previewUrl, previewSize, image.name)) : null);

    form.append('image', image, image.name || 'photo.jpg');
    await execute(form, 'Uploading the photo', () => file && void run(file));
  }

  /** A region of an earlier search's stored image: a drawn box or a detected object. */
  async function runRegion(searchId: string, box: Box): Promise<void> {
    const form = filterForm();
    if (!form) return;
    form.append('search_id', searchId);
    form.append('box', JSON.stringify(box));
    await execute(form, 'Sending the region', () => void runRegion(searchId, box));
  }

  async function execute(form: FormData, sending: string, again: () => void): Promise<void> {
    inflight?.abort();
    const mine = new AbortController();
    inflight = mine;
    const started = performance.now();
    submit.disabled = true;
    results.setAttribute('aria-busy', 'true');
    replace(status, progressBar(0, sending), h('span', null, 'Uploading…'));
    try {
      const answer = await api.submitSearch(
        form,
        WAIT_SECONDS,
        (p) => {
          if (mine.signal.aborted) return;
          if (p.fraction !== null && p.fraction >= 1) replace(status, progressBar(null, 'Searching'), h('span', null, 'Searching…'));
          else replace(status, progressBar(p.fraction, sending), h('span', null, 'Uploading…'));
        },
        mine.signal,
      );
      replace(status, progressBar(null, 'Searching'), h('span', null, 'Searching…'));
      let search = answer.body;
      const deadline = started + MAX_POLL_MS;
      while (search.status === 'queued' || search.status === 'running') {
        if (performance.now() > deadline) throw new Error('The search is taking too long; it is still queued on the server. Try again later, or look at the Jobs page.');
        const next = await api.getSearch(search.id, WAIT_SECONDS, mine.signal);
        // A server that does not wait: don't spin.
        if (next.status === search.status) await sleep(500, mine.signal);
        search = next;
      }
      const roundTrip = performance.now() - started;
      if (mine.signal.aborted) return;
      const q = new URLSearchParams();
      q.set('search', search.id);
      setQuery(q);
      showSearch(search, roundTrip);
    } catch (e) {
      if (isAbort(e) || mine.signal.aborted) return;
      replace(status);
      if (isMissingRoute(e)) {
        const preview = results.querySelector('.query-pending');
        replace(results, infoBanner('Visual search is not available on this server yet: its search routes are missing. The catalogue and the product pages still work.'), preview);
      } else {
        const preview = results.querySelector('.query-pending');
        const transient = e instanceof ApiError && (e.status === 0 || e.status === 429 || e.status >= 500);
        const retry = transient ? h('button', { type: 'button', class: 'button button-secondary', onclick: again }, 'Try again') : null;
        replace(results, errorBanner(e, retry), preview);
      }
    } finally {
      if (inflight === mine) {
        submit.disabled = !file;
        results.removeAttribute('aria-busy');
      }
    }
  }

  function showSearch(search: Search, roundTrip: number | null): void {
    if (search.status === 'failed') {
      replace(status);
      replace(results, errorBanner(new Error(search.error || 'The search failed')));
      return;
    }
    const regions = search.regions ?? [];
    const objects = regions.filter((r) => !r.whole_image).length;
    replace(
      status,
      h(
        'p',
        { class: 'timing' },
        h('strong', null, search.box ? 'The region you chose' : `${objects} object${objects === 1 ? '' : 's'} found`),
        ` · search took ${formatDuration(search.duration_ms)} on the server`,
        roundTrip !== null ? ` · ${formatDuration(roundTrip)} round-trip` : null,
      ),
    );
    replace(results, renderResults(search, (box) => void runRegion(search.id, box)));
  }

  // A search given in the URL (?search=ID): show it again.
  const shown = query.get('search');
  if (shown) {
    replace(status, progressBar(null, 'Loading the search'), h('span', null, 'Loading the search…'));
    try {
      let search = await api.getSearch(shown, WAIT_SECONDS, signal);
      const deadline = performance.now() + MAX_POLL_MS;
      while ((search.status === 'queued' || search.status === 'running') && performance.now() < deadline) {
        await sleep(500, signal);
        search = await api.getSearch(shown, WAIT_SECONDS, signal);
      }
      showSearch(search, null);
    } catch (e) {
      if (isAbort(e)) return;
      replace(status);
      replace(results, isMissingRoute(e) ? infoBanner('Visual search is not available on this server yet.') : errorBanner(e));
    }
  }
}

function imageSize(url: string): Promise<Size | null> {
  return new Promise((resolve) => {
    const img = new Image();
    const timer = setTimeout(() => resolve(null), 5000);
    img.onload = () => (clearTimeout(timer), resolve(img.naturalWidth ? { width: img.naturalWidth, height: img.naturalHeight } : null));
    img.onerror = () => (clearTimeout(timer), resolve(null));
    img.src = url;
  });
}

function queryFigure(src: string, size: Size, name: string): HTMLElement {
  return annotatedImage({ src, alt: `Your photo${name ? ` (${name})` : ''}`, size, annotations: [] }).el;
}

function renderResults(search: Search, searchBox: (box: Box) => void): HTMLElement {
  const regions = search.regions ?? [];
  const size = search.image ? { width: search.image.width, height: search.image.height } : { width: 4, height: 3 };
  // A drawn box is the shopper's, whatever the labeller thinks it shows.
  const nameOf = (r: SearchRegion) => (search.box ? `Your box (${regionName(r)})` : regionName(r));
  // Whole pixels inside the image, as the API wants them.
  const searchRegion = (box: Box) => searchBox(boxBetween({ x: box.x, y: box.y }, { x: box.x + box.w, y: box.y + box.h }, size));
  if (!regions.length) {
    return h(
      'div',
      { class: 'results-layout' },
      annotatedImage({ src: api.searchImageUrl(search.id), alt: 'Your photo', size, annotations: [] }).el,
      emptyState('Nothing was found in this photo.'),
    );
  }
  // Start on the object whose match is the best overall, else the first detected object.
  const best = search.products?.[0] ? regions.findIndex((r) => r.ordinal === search.products![0]!.query_ordinal) : -1;
  let selected = best >= 0 ? best : Math.max(0, regions.findIndex((r) => !r.whole_image));
  const tabs: HTMLButtonElement[] = [];
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', id: 'region-panel', tabindex: '0' });
  let figure: AnnotatedImage;
  const select = (index: number, focus = false) => {
    selected = index;
    figure.select(index);
    tabs.forEach((t, i) => {
      t.setAttribute('aria-selected', String(i === index));
      t.tabIndex = i === index ? 0 : -1;
    });
    panel.setAttribute('aria-labelledby', tabs[index]!.id);
    replace(panel, regionResults(search.id, regions[index]!, search.box ? null : searchRegion));
    if (focus) tabs[index]!.focus();
  };
  figure = annotatedImage({
    src: api.searchImageUrl(search.id),
    alt: `Your photo, with ${regions.length} detected region${regions.length === 1 ? '' : 's'} boxed`,
    size,
    annotations: regions.map((r, i) => ({ box: r.box, label: nameOf(r), score: regionCaption(r).score, index: i })),
    onSelect: (i) => select(i),
    selected,
  });
  const tablist = h('div', {
    class: 'tabs',
    role: 'tablist',
    'aria-label': 'Detected objects',
    onkeydown: (e: KeyboardEvent) => {
      const delta = e.key === 'ArrowRight' || e.key === 'ArrowDown' ? 1 : e.key === 'ArrowLeft' || e.key === 'ArrowUp' ? -1 : 0;
      if (e.key === 'Home') select(0, true);
      else if (e.key === 'End') select(regions.length - 1, true);
      else if (delta) select((selected + delta + regions.length) % regions.length, true);
      else return;
      e.preventDefault();
    },
  });
  regions.forEach((r, i) => {
    const tab = h(
      'button',
      { type: 'button', role: 'tab', id: `region-tab-${i}`, class: 'tab', 'aria-controls': 'region-panel', onclick: () => select(i) },
      h('span', { class: 'swatch', style: { background: regionColor(i) }, 'aria-hidden': 'true' }),
      h('span', { class: 'tab-name' }, nameOf(r)),
      h('span', { class: 'tab-count' }, `${r.results.length}`),
    );
    tabs.push(tab);
    tablist.appendChild(tab);
  });
  select(selected);
  // Drag a box on the photo to search that region alone.
  const drawing = boxDrawing(size, (box) => searchRegion(box));
  figure.el.querySelector('.annotated-frame')!.appendChild(drawing.el);
  const drawHelp = h('p', { class: 'help', hidden: true, id: 'draw-help' }, 'Drag over the photo to draw a box around what you want to find.');
  const drawButton = h(
    'button',
    {
      type: 'button',
      class: 'button button-secondary draw-toggle',
      'aria-pressed': 'false',
      'aria-describedby': 'draw-help',
      onclick: () => {
        const on = drawButton.getAttribute('aria-pressed') !== 'true';
        drawButton.setAttribute('aria-pressed', String(on));
        drawing.setActive(on);
        drawHelp.hidden = !on;
      },
    },
    'Draw a box to search',
  );
  const overall = search.products ?? [];
  // The query column is sticky: it scrolls with its row only (query and matches), so it
  // never slides over the overall results below.
  return h(
    'div',
    { class: 'results' },
    h(
      'div',
      { class: 'results-layout' },
      h(
        'div',
        { class: 'results-query' },
        figure.el,
        h('div', { class: 'query-tools' }, drawButton, drawHelp),
        h('p', { class: 'help' }, 'Select a box or a tab to see its matches.'),
      ),
      h('div', { class: 'results-matches' }, h('h2', null, 'Matches per object'), tablist, panel),
    ),
    h(
      'section',
      { class: 'results-overall', 'aria-labelledby': 'overall-title' },
      h('h2', { id: 'overall-title' }, 'Best products overall'),
      overall.length
        ? h(
            'ol',
            { class: 'result-grid overall-list' },
            overall.map((p) =>
              resultCard(p.product, p.score, p.rank, p.crop_url, `via ${regionName(regions.find((r) => r.ordinal === p.query_ordinal) ?? {})}`, matchFeedback(search.id, p.query_ordinal, p.product.id)),
            ),
          )
        : emptyState('No product matches these filters.'),
    ),
  );
}

function regionResults(searchId: string, region: SearchRegion, searchRegion: ((box: Box) => void) | null): HTMLElement {
  // A detected object can be searched alone (its box, no detector): "search with this object".
  const action = region.whole_image || !searchRegion
    ? null
    : h(
        'p',
        { class: 'region-actions' },
        h('button', { type: 'button', class: 'button button-secondary search-object', onclick: () => searchRegion(region.box) }, `Search with this object (${regionName(region)})`),
      );
  if (!region.results.length) return h('div', null, action, emptyState('No product matches this object with these filters.'));
  return h(
    'div',
    null,
    action,
    h(
      'ol',
      { class: 'result-grid' },
      region.results.map((r: SearchHit) => resultCard(r.product, r.score, r.rank, r.crop_url, null, matchFeedback(searchId, region.ordinal, r.product.id))),
    ),
  );
}

function resultCard(product: ProductBrief, score: number, rank: number, crop: string | undefined, note: string | null, feedback: HTMLElement | null = null): HTMLElement {
  const href = `/products/${encodeURIComponent(product.id)}`;
  return h(
    'li',
    { class: 'card result-card', dataset: { productId: product.id } },
    h(
      'a',
      { href, class: 'card-link' },
      h(
        'div',
        { class: 'card-media' },
        thumbnail(product.thumbnail_image_id ? api.imageUrl(product.thumbnail_image_id) : null, product.name),
        crop ? h('img', { class: 'match-crop', src: crop, alt: 'Matching part', width: '64', height: '64', loading: 'lazy' }) : null,
      ),
      h('span', { class: 'card-title' }, product.name),
    ),
    h(
      'div',
      { class: 'card-meta' },
      h('span', { class: 'score', title: 'Cosine similarity (higher is closer)' }, `#${rank} · score ${formatScore(score)}`),
      product.category ? h('span', { class: 'muted' }, product.category) : null,
      product.price !== null ? h('span', { class: 'price' }, formatPrice(product.price, product.currency)) : null,
      note ? h('span', { class: 'muted' }, note) : null,
    ),
    feedback,
  );
}
