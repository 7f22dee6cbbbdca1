// The admin's tools on a product page (shown only when signed in to the admin area):
// "Merge into another product…" (pick the survivor by searching the catalogue, confirm,
// POST /admin/products/{id}/merge, then show the survivor), "Move to another product…" on
// every image card (POST /admin/images/{id}/move), and "Edit name, category, labels…"
// (PATCH /admin/products/{id}). Each change is audited and can be undone from the audit log.
import * as api from '../api';
import './admin-panel.css';
import { errorBanner, infoBanner, thumbnail } from './ui';
import { h, isAbort, replace, sleep, uid } from '../dom';
import { mergeProducts, moveImage, patchProduct, type ProductPatch } from '../admin-api/jobs-audit';
import { getAdminSession } from '../lib/admin-session';
import { labelPairs, parseLabelText } from '../lib/labels';
import { adminCallRefused } from '../pages/admin';
import { navigate } from '../router';
import type { ProductDetails, ProductListItem } from '../types';

export interface AdminProductToolsOptions {
  /** the product as the page shows it now */
  product: () => ProductDetails;
  /** the element holding the page's image cards (article.image-card[data-image-id]) */
  imagesEl: HTMLElement;
  query: URLSearchParams;
  signal: AbortSignal;
}

/** The tools section, or null when nobody is signed in to the admin area. */
export function adminProductTools(options: AdminProductToolsOptions): HTMLElement | null {
  if (!getAdminSession()) return null;
  const { product, imagesEl, query, signal } = options;
  const status = h('div', { 'aria-live': 'polite' });
  const merged = query.get('merged');
  if (merged) status.append(infoBanner(`Merged: the other product's images are now this product's. Undo it from the `, h('a', { href: `/admin/audit?subject_id=${encodeURIComponent(product().id)}` }, 'audit log'), '.'));
  const moved = query.get('moved_to');
  if (moved) status.append(infoBanner('The image moved to ', h('a', { href: `/products/${encodeURIComponent(moved)}` }, 'the other product'), '. Undo it from the ', h('a', { href: '/admin/audit?action=image.move' }, 'audit log'), '.'));
  const fail = (e: unknown) => {
    if (adminCallRefused(e)) navigate(`/admin/sign-in?next=${encodeURIComponent(location.pathname)}`);
    else replace(status, errorBanner(e));
  };

  const mergeButton = h(
    'button',
    {
      type: 'button',
      class: 'button button-secondary',
      onclick: () =>
        void pickProduct({
          title: `Merge “${product().name}” into another product`,
          help: 'Choose the product that stays. This product’s images, regions and vectors move to it, and this product is deleted.',
          exclude: product().id,
          confirm: (target) => `Merge “${product().name}” (${product().images.length} image${product().images.length === 1 ? '' : 's'}) into “${target.name}”? “${product().name}” is deleted; the audit log can undo it.`,
          action: 'Merge',
          signal,
        }).then(async (target) => {
          if (!target) return;
          try {
            await mergeProducts(target.id, product().id);
            navigate(`/products/${encodeURIComponent(target.id)}?merged=${encodeURIComponent(product().id)}`);
          } catch (e) {
            fail(e);
          }
        }),
    },
    'Merge into another product…',
  );
  const editButton = h('button', { type: 'button', class: 'button button-secondary', onclick: () => void editProduct(product(), fail) }, 'Edit name, category, labels…');

  // Every image card gets its own "Move to another product…" (the page re-renders the
  // cards when an image changes, so they are added again as they appear).
  const addMoveButtons = () => {
    imagesEl.querySelectorAll<HTMLElement>('article.image-card[data-image-id]').forEach((card) => {
      if (card.querySelector('.image-admin')) return;
      const imageId = card.dataset.imageId!;
      const name = card.querySelector('.image-name')?.textContent ?? 'this image';
      const button = h(
        'button',
        {
          type: 'button',
          class: 'button button-small button-secondary',
          onclick: () =>
            void pickProduct({
              title: `Move ${name} to another product`,
              help: 'The image, its regions and their vectors move to the product you choose.',
              exclude: product().id,
              confirm: (target) => `Move ${name} from “${product().name}” to “${target.name}”?`,
              action: 'Move',
              signal,
            }).then(async (target) => {
              if (!target) return;
              try {
                await moveImage(imageId, target.id);
                navigate(`/products/${encodeURIComponent(product().id)}?moved_to=${encodeURIComponent(target.id)}`, { replace: true });
              } catch (e) {
                fail(e);
              }
            }),
        },
        'Move to another product…',
      );
      card.querySelector('.image-card-body')?.append(h('div', { class: 'image-admin' }, button));
    });
  };
  const observer = new MutationObserver(addMoveButtons);
  observer.observe(imagesEl, { childList: true, subtree: true });
  signal.addEventListener('abort', () => observer.disconnect(), { once: true });
  queueMicrotask(addMoveButtons);

  return h(
    'section',
    { class: 'admin-tools', 'aria-labelledby': 'admin-tools-title' },
    h('h2', { id: 'admin-tools-title' }, 'Admin'),
    h('div', { class: 'form-actions' }, mergeButton, editButton),
    status,
  );
}

interface PickOptions {
  title: string;
  help: string;
  exclude: string;
  confirm: (target: ProductListItem) => string;
  action: string;
  signal: AbortSignal;
}

/** A modal dialog: search the catalogue, pick a product, confirm. Resolves with it, or null. */
function pickProduct(options: PickOptions): Promise<ProductListItem | null> {
  return new Promise((resolve) => {
    const searchId = uid('pick');
    const input = h('input', { id: searchId, type: 'search', placeholder: 'name or SKU', autocomplete: 'off' });
    const list = h('ul', { class: 'pick-list', 'aria-label': 'Products' });
    const confirmEl = h('div', { 'aria-live': 'polite' });
    let chosen: ProductListItem | null = null;
    const go = h('button', { type: 'button', class: 'button', disabled: true }, options.action);
    const dialog = h(
      'dialog',
      { class: 'admin-dialog', 'aria-labelledby': `${searchId}-title` },
      h('h2', { id: `${searchId}-title` }, options.title),
      h('p', { class: 'help' }, options.help),
      h('div', { class: 'field' }, h('label', { for: searchId }, 'Find the product'), input),
      list,
      confirmEl,
      h('div', { class: 'form-actions' }, go, h('button', { type: 'button', class: 'button button-secondary', onclick: () => dialog.close() }, 'Cancel')),
    );
    let result: ProductListItem | null = null;
    go.addEventListener('click', () => {
      result = chosen;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    options.signal.addEventListener('abort', () => dialog.open && dialog.close(), { once: true });
    const choose = (item: ProductListItem, button: HTMLButtonElement) => {
      chosen = item;
      list.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b === button)));
      replace(confirmEl, h('p', { class: 'banner banner-info' }, options.confirm(item)));
      go.disabled = false;
    };
    let seq = 0;
    const search = async () => {
      const mine = ++seq;
      await sleep(150).catch(() => {});
      if (mine !== seq) return;
      try {
        const page = await api.listProducts({ q: input.value.trim(), limit: 9, sort: 'name' }, options.signal);
        if (mine !== seq) return;
        const items = page.items.filter((p) => p.id !== options.exclude).slice(0, 8);
        replace(
          list,
          items.length
            ? items.map((item) => {
                const button: HTMLButtonElement = h(
                  'button',
                  { type: 'button', 'aria-pressed': 'false', dataset: { productId: item.id }, onclick: () => choose(item, button) },
                  thumbnail(item.thumbnail_image_id ? api.imageUrl(item.thumbnail_image_id) : null, item.name, 48),
                  h('span', null, h('strong', null, item.name), h('br'), h('span', { class: 'muted small mono' }, item.sku), item.category ? h('span', { class: 'muted small' }, ` · ${item.category}`) : null),
                );
                return h('li', null, button);
              })
            : h('li', { class: 'muted' }, 'No other product matches.'),
        );
      } catch (e) {
        if (!isAbort(e)) replace(list, h('li', null, errorBanner(e)));
      }
    };
    input.addEventListener('input', () => void search());
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
    void search();
  });
}

/** A modal form for the name, category and labels; PATCHes what changed, then reloads the page. */
function editProduct(product: ProductDetails, fail: (e: unknown) => void): void {
  const ids = { name: uid('name'), category: uid('category'), labels: uid('labels') };
  const name = h('input', { id: ids.name, type: 'text', value: product.name, maxlength: '200', required: true });
  const category = h('input', { id: ids.category, type: 'text', value: product.category ?? '', maxlength: '100' });
  const labels = h('textarea', { id: ids.labels, rows: '4', placeholder: 'brand=Oatly\nsize=1l' });
  labels.value = labelPairs(product.labels ?? {}).join('\n');
  const errors = h('div', { 'aria-live': 'assertive' });
  const save = h('button', { type: 'submit', class: 'button' }, 'Save');
  const dialog = h(
    'dialog',
    { class: 'admin-dialog', 'aria-labelledby': `${ids.name}-title` },
    h(
      'form',
      {
        class: 'admin-edit-form',
        novalidate: true,
        onsubmit: (e: Event) => {
          e.preventDefault();
          void submit();
        },
      },
      h('h2', { id: `${ids.name}-title` }, `Edit “${product.name}”`),
      h('div', { class: 'field' }, h('label', { for: ids.name }, 'Name'), name),
      h('div', { class: 'field' }, h('label', { for: ids.category }, 'Category'), category),
      h('div', { class: 'field' }, h('label', { for: ids.labels }, 'Labels (key=value, one per line)'), labels),
      errors,
      h('div', { class: 'form-actions' }, save, h('button', { type: 'button', class: 'button button-secondary', onclick: () => dialog.close() }, 'Cancel')),
    ),
  );
  dialog.addEventListener('close', () => dialog.remove());
  const submit = async () => {
    const parsed = parseLabelText(labels.value);
    if (!name.value.trim()) return void replace(errors, errorBanner(new Error('The name must not be empty')));
    if (parsed.errors.length) return void replace(errors, errorBanner(new Error(`Labels: ${parsed.errors.join('; ')}`)));
    const patch: ProductPatch = {};
    if (name.value.trim() !== product.name) patch.name = name.value.trim();
    if (category.value.trim() !== (product.category ?? '')) patch.category = category.value.trim();
    if (JSON.stringify(parsed.labels) !== JSON.stringify(product.labels ?? {})) patch.labels = parsed.labels;
    if (!Object.keys(patch).length) return void dialog.close();
    save.disabled = true;
    try {
      await patchProduct(product.id, patch);
      dialog.close();
      navigate(location.pathname, { replace: true });
    } catch (e) {
      save.disabled = false;
      if (adminCallRefused(e)) {
        dialog.close();
        fail(e);
      } else replace(errors, errorBanner(e));
    }
  };
  document.body.append(dialog);
  dialog.showModal();
  name.focus();
}
