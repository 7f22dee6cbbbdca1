// A product: its fields and whether it is searchable, every image with the detected
// regions boxed, the crops, the indexing job of each image (polled while it is queued or
// running), and the products most similar to it (GET /products/{id}/similar).
import * as api from '../api';
import { adminProductTools } from '../components/admin-product-tools';
import { annotatedImage } from '../components/annotated-image';
import { regionEditor } from '../components/region-editor';
import { getAdminSession } from '../lib/admin-session';
import { emptyState, errorBanner, indexStatusBadge, infoBanner, loading, pageTitle, progressBar, statusBadge, thumbnail } from '../components/ui';
import { h, isAbort, replace, sleep } from '../dom';
import { regionColor } from '../lib/boxes';
import { formatBytes, formatPrice, formatRelativeTime, formatScore, regionCaption, regionName } from '../lib/format';
import type { PageContext } from '../router';
import type { ProductDetails, ProductImage, Region, SimilarProducts } from '../types';

const active = (img: ProductImage) => img.job && (img.job.status === 'queued' || img.job.status === 'running');

export async function productPage(ctx: PageContext): Promise<void> {
  const { root, signal, params, query } = ctx;
  replace(root, loading('Loading the product…'));
  let product: ProductDetails;
  try {
    product = await api.getProduct(params.id!, signal);
  } catch (e) {
    if (isAbort(e)) return;
    replace(root, pageTitle('Product'), errorBanner(e), h('p', null, h('a', { href: '/catalogue' }, '← Back to the catalogue')));
    return;
  }
  const imagesEl = h('div', { class: 'product-images' });
  const live = h('div', { class: 'index-status', role: 'status', 'aria-live': 'polite' });
  const factsEl = h('div', null, productFacts(product));
  const similarEl = h('div', { class: 'similar-products', 'aria-busy': 'true' }, loading('Finding similar products…'));
  replace(
    root,
    h('p', { class: 'breadcrumb' }, h('a', { href: '/catalogue' }, 'Catalogue'), ' / ', product.category || 'Uncategorised'),
    pageTitle(product.name),
    query.get('created') ? infoBanner('Product saved. Visor is indexing its images: the detected regions appear below when it is done.') : null,
    factsEl,
    adminProductTools({ product: () => product, imagesEl, query, signal }),
    live,
    h('h2', null, `Images (${product.images.length})`),
    imagesEl,
    h('section', { class: 'similar-section', 'aria-labelledby': 'similar-title' }, h('h2', { id: 'similar-title' }, 'Similar products'), similarEl),
  );
  let similarShown = false;
  const showSimilar = async () => {
    try {
      const similar = await api.similarProducts(product.id, { k: 8 }, signal);
      replace(similarEl, similarList(similar));
      similarShown = true;
    } catch (e) {
      if (!isAbort(e)) replace(similarEl, errorBanner(e));
    } finally {
      similarEl.removeAttribute('aria-busy');
    }
  };
  let lastSeen = '';
  let retried = () => void refresh();
  const render = () => {
    const key = JSON.stringify(product.images);
    if (key === lastSeen) return;
    lastSeen = key;
    replace(factsEl, productFacts(product));
    replace(imagesEl, product.images.length ? product.images.map((img, i) => imageCard(img, i, () => retried())) : emptyState('This product has no images yet, so it cannot be found by a photo.'));
    const pending = product.images.filter(active).length;
    const failed = product.images.filter((i) => i.job?.status === 'failed').length;
    live.textContent = pending
      ? `Indexing ${pending} image${pending === 1 ? '' : 's'}…`
      : product.images.length
        ? failed
          ? `${failed} image${failed === 1 ? '' : 's'} failed to index.`
          : 'All images are indexed.'
        : '';
  };
  const refresh = async () => {
    try {
      product = await api.getProduct(params.id!, signal);
      render();
    } catch (e) {
      if (!isAbort(e)) console.warn(e);
    }
  };
  render();
  void showSimilar();

  // Poll while any job is queued or running: quickly at first, then every 3 s (again after
  // a Retry, which queues the job anew).
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    let delay = 700;
    try {
      while (!signal.aborted && product.images.some(active)) {
        await sleep(delay, signal);
        delay = Math.min(delay * 1.3, 3000);
        await refresh();
      }
    } catch {
      return;
    } finally {
      polling = false;
    }
    // Indexed meanwhile: its own vectors now exist, so look for similar products again.
    if (!signal.aborted && (!similarShown || similarEl.querySelector('.empty'))) void showSimilar();
  };
  retried = () => void refresh().then(poll);
  await poll();
}

function similarList(similar: SimilarProducts): HTMLElement {
  if (!similar.items.length) return emptyState('No similar product yet: they appear once this product and others are indexed.');
  return h(
    'ol',
    { class: 'result-grid similar-list' },
    similar.items.map((item) =>
      h(
        'li',
        { class: 'card result-card similar-card', dataset: { productId: item.product_id } },
        h(
          'a',
          { href: `/products/${encodeURIComponent(item.product_id)}`, class: 'card-link' },
          h(
            'div',
            { class: 'card-media' },
            thumbnail(item.product.thumbnail_image_id ? api.imageUrl(item.product.thumbnail_image_id) : null, item.product.name),
            h('img', { class: 'match-crop', src: item.crop_url, alt: 'Best-matching part', width: '64', height: '64', loading: 'lazy' }),
          ),
          h('span', { class: 'card-title' }, item.product.name),
        ),
        h(
          'div',
          { class: 'card-meta' },
          h('span', { class: 'score', title: 'Cosine similarity (higher is closer)' }, `#${item.rank} · score ${formatScore(item.score)}`),
          item.product.category ? h('span', { class: 'muted' }, item.product.category) : null,
          item.product.price !== null ? h('span', { class: 'price' }, formatPrice(item.product.price, item.product.currency)) : null,
        ),
      ),
    ),
  );
}

function productFacts(p: ProductDetails): HTMLElement {
  const labels = Object.entries(p.labels ?? {});
  return h(
    'section',
    { class: 'facts', 'aria-label': 'Product details' },
    h(
      'dl',
      { class: 'fact-list' },
      h('div', null, h('dt', null, 'SKU'), h('dd', { class: 'mono' }, p.sku)),
      h('div', null, h('dt', null, 'Category'), h('dd', null, p.category || '–')),
      h('div', null, h('dt', null, 'Price'), h('dd', null, formatPrice(p.price, p.currency) || '–')),
      h(
        'div',
        null,
        h('dt', null, 'Search index'),
        h(
          'dd',
          { class: 'index-facts' },
          indexStatusBadge(p.index_status, p.index_error),
          p.index_status === 'searchable' && p.indexed_at ? h('span', { class: 'muted small' }, ` since ${formatRelativeTime(p.indexed_at)}`) : null,
          p.index_error ? h('span', { class: 'job-error small' }, ` ${p.index_error}`) : null,
          // Vectors of another embedder than the current one: not found until re-indexed.
          p.stale ? h('a', { class: 'badge badge-failed', dataset: { stale: 'true' }, href: `/admin/reindex?product=${encodeURIComponent(p.id)}` }, 'stale: re-index') : null,
        ),
      ),
      h(
        'div',
        null,
        h('dt', null, 'Labels'),
        h('dd', null, labels.length ? h('ul', { class: 'chips' }, labels.map(([k, v]) => h('li', { class: 'chip' }, `${k}=${v}`))) : '–'),
      ),
    ),
    p.description ? h('p', { class: 'description' }, p.description) : null,
  );
}

function imageCard(img: ProductImage, index: number, onChange: () => void): HTMLElement {
  const regions = img.regions ?? [];
  const job = img.job;
  const name = img.filename || `Image ${index + 1}`;
  const figure = annotatedImage({
    src: api.imageUrl(img.id),
    alt: `${name}${regions.length ? `, with ${regions.length} region${regions.length === 1 ? '' : 's'} boxed` : ''}`,
    size: { width: img.width, height: img.height },
    annotations: regions.map((r, i) => ({ box: r.box, label: regionName(r), score: regionCaption(r).score, index: i })),
  });
  const retry = async (button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      await api.retryJob(job!.id);
      onChange();
    } catch (e) {
      button.disabled = false;
      button.after(errorBanner(e));
    }
  };
  return h(
    'article',
    { class: 'image-card', dataset: { imageId: img.id, status: img.status } },
    h('div', { class: 'image-card-media' }, figure.el, getAdminSession() && img.status === 'indexed' ? regionEditor(img, onChange) : null),
    h(
      'div',
      { class: 'image-card-body' },
      h('h3', { class: 'image-name' }, name),
      h('p', { class: 'muted small' }, `${img.width}×${img.height} ${img.format?.toUpperCase() ?? ''} · ${formatBytes(img.size_bytes)}`),
      job
        ? h(
            'div',
            { class: 'job-line' },
            h('span', null, 'Indexing: '),
            statusBadge(job.status),
            job.status === 'queued' || job.status === 'running' ? progressBar(job.status === 'queued' ? null : job.progress ?? 0, `Indexing ${name}`) : null,
            job.attempts > 1 ? h('span', { class: 'muted small' }, `attempt ${job.attempts}`) : null,
            job.error ? h('p', { class: 'job-error' }, job.error) : null,
            img.status === 'failed' && img.index_error && img.index_error !== job.error ? h('p', { class: 'job-error' }, img.index_error) : null,
            job.status === 'failed' || job.status === 'cancelled'
              ? h('button', { type: 'button', class: 'button button-secondary', onclick: (e: Event) => void retry(e.currentTarget as HTMLButtonElement) }, 'Retry')
              : null,
          )
        : null,
      regions.length
        ? h('div', null, h('h4', null, `Regions (${regions.length})`), h('ul', { class: 'crop-list' }, regions.map((r, i) => cropItem(r, i))))
        : job && (job.status === 'queued' || job.status === 'running')
          ? h('p', { class: 'muted' }, 'Regions appear here when indexing is done.')
          : h('p', { class: 'muted' }, 'No regions.'),
    ),
  );
}

function cropItem(r: Region, i: number): HTMLElement {
  const w = Math.max(1, Math.round(r.box.w));
  const hgt = Math.max(1, Math.round(r.box.h));
  const scale = 96 / Math.max(w, hgt);
  const alt = `Crop ${i + 1}: ${regionName(r)}`;
  const top = (r.labels ?? []).slice(0, 5).filter((l, n) => n === 0 || l.score >= 0.01).map((l) => `${l.name} ${formatScore(l.score)}`).join(', ');
  return h(
    'li',
    { class: 'crop', style: { '--box-color': regionColor(i) }, dataset: { regionId: r.id } },
    h('img', {
      src: r.crop_url || api.cropUrl(r.id),
      alt,
      width: String(Math.round(w * scale)),
      height: String(Math.round(hgt * scale)),
      loading: 'lazy',
    }),
    h(
      'div',
      { class: 'crop-text' },
      h('span', { class: 'crop-label' }, regionName(r)),
      regionCaption(r).score !== null ? h('span', { class: 'score' }, formatScore(regionCaption(r).score)) : null,
      r.detector_label && !r.whole_image ? h('span', { class: 'muted small' }, `detector: ${r.detector_label} ${formatScore(r.detector_score)}`) : null,
            top ? h('span', { class: 'muted small' }, `top labels: ${top}`) : null,
      r.is_primary ? h('span', { class: 'chip' }, 'primary') : null,
    ),
  );
}
