// Add a product: the form (SKU, name, description, category, labels, price, currency) and
// its images (drop several, or pick them), uploaded with progress; then the product page
// shows the indexing live. The API's 400/409/413/415 answers land next to the field they
// are about.
import * as api from '../api';
import { dropzone } from '../components/dropzone';
import { errorBanner, pageTitle, progressBar } from '../components/ui';
import { h, isAbort, replace, uid } from '../dom';
import { formErrorsFrom } from '../lib/errors';
import { formatBytes } from '../lib/format';
import { labelsFromRows, type LabelRow } from '../lib/labels';
import { navigate, type PageContext } from '../router';

const FIELDS = ['sku', 'name', 'description', 'category', 'labels', 'price', 'currency', 'images'] as const;
type Field = (typeof FIELDS)[number];

export function addProductPage(ctx: PageContext): void {
  const { root, signal } = ctx;
  const files: { file: File; url: string }[] = [];
  signal.addEventListener('abort', () => files.forEach((f) => URL.revokeObjectURL(f.url)));
  const errors = {} as Record<Field, HTMLElement>;
  const controls = {} as Record<Field, HTMLElement>;

  const field = (name: Field, label: string, control: HTMLElement, help?: string): HTMLElement => {
    const errId = `error-${name}`;
    const helpId = help ? `help-${name}` : null;
    control.id ||= `field-${name}`;
    control.setAttribute('aria-describedby', [helpId, errId].filter(Boolean).join(' '));
    controls[name] = control;
    errors[name] = h('p', { class: 'field-error', id: errId, hidden: true });
    return h(
      'div',
      { class: `field field-${name}`, dataset: { field: name } },
      h('label', { for: control.id }, label),
      control,
      help ? h('p', { class: 'help', id: helpId }, help) : null,
      errors[name],
    );
  };

  const sku = h('input', { name: 'sku', type: 'text', required: true, maxlength: '64', autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { name: 'name', type: 'text', required: true, maxlength: '200' });
  const description = h('textarea', { name: 'description', rows: '3', maxlength: '5000' });
  const categoryList = uid('categories');
  const category = h('input', { name: 'category', type: 'text', maxlength: '100', list: categoryList });
  const categories = h('datalist', { id: categoryList });
  const price = h('input', { name: 'price', type: 'number', min: '0', step: '0.01', inputmode: 'decimal' });
  const currency = h('input', { name: 'currency', type: 'text', maxlength: '3', placeholder: 'EUR', autocapitalize: 'characters', class: 'input-short' });

  // Labels: key=value rows.
  const rowsEl = h('div', { class: 'label-rows', role: 'group', id: 'field-labels', tabindex: '-1' });
  const addRow = (row: LabelRow = { key: '', value: '' }, focus = false) => {
    const n = rowsEl.children.length + 1;
    const key = h('input', { type: 'text', class: 'label-key', value: row.key, placeholder: 'brand', 'aria-label': `Label ${n} name` });
    const value = h('input', { type: 'text', class: 'label-value', value: row.value, placeholder: 'Oatly', 'aria-label': `Label ${n} value` });
    const el = h(
      'div',
      { class: 'label-row' },
      key,
      h('span', { 'aria-hidden': 'true' }, '='),
      value,
      h('button', { type: 'button', class: 'button button-icon', 'aria-label': `Remove label ${n}`, onclick: () => (el.remove(), labelsButton.focus()) }, '×'),
    );
    rowsEl.appendChild(el);
    if (focus) key.focus();
  };
  const labelsButton = h('button', { type: 'button', class: 'button button-secondary button-small', onclick: () => addRow(undefined, true) }, '+ Add label');
  addRow();
  const readRows = (): LabelRow[] =>
    Array.from(rowsEl.querySelectorAll('.label-row')).map((r) => ({
      key: (r.querySelector('.label-key') as HTMLInputElement).value,
      value: (r.querySelector('.label-value') as HTMLInputElement).value,
    }));

  // Images.
  const fileList = h('ul', { class: 'file-list', 'aria-live': 'polite' });
  const renderFiles = () =>
    replace(
      fileList,
      files.map((f, i) =>
        h(
          'li',
          { class: 'file-item' },
          f.file.type.startsWith('image/')
            ? h('img', { src: f.url, alt: '', width: '56', height: '56', class: 'file-thumb' })
            : h('span', { class: 'file-thumb file-thumb-none', 'aria-hidden': 'true' }, (f.file.name.split('.').pop() || 'file').slice(0, 4).toUpperCase()),
          h('span', { class: 'file-name' }, f.file.name, h('small', { class: 'muted' }, ` ${formatBytes(f.file.size)}`)),
          h(
            'button',
            {
              type: 'button',
              class: 'button button-icon',
              'aria-label': `Remove ${f.file.name}`,
              onclick: () => {
                URL.revokeObjectURL(f.url);
                files.splice(i, 1);
                renderFiles();
              },
            },
            '×',
          ),
        ),
      ),
    );
  const drop = dropzone({
    label: 'Drop images here, or choose files',
    hint: 'Several at once. JPEG, PNG, WebP, GIF or TIFF, up to 25 MB each.',
    multiple: true,
    id: 'field-images',
    name: 'images',
    onFiles: (list) => {
      for (const file of list) files.push({ file, url: URL.createObjectURL(file) });
      clearError('images');
      renderFiles();
    },
  });

  const general = h('div', { class: 'form-general' });
  const progress = h('div', { class: 'upload-progress', role: 'status', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'button' }, 'Save product');

  const form = h(
    'form',
    { class: 'product-form', novalidate: true, onsubmit: (e: Event) => (e.preventDefault(), void save()) },
    general,
    h(
      'div',
      { class: 'form-grid' },
      field('sku', 'SKU *', sku, 'Letters, digits, . _ -; unique in the catalogue.'),
      field('name', 'Name *', name),
      field('category', 'Category', category),
      h('div', { class: 'field-pair' }, field('price', 'Price', price), field('currency', 'Currency', currency, 'ISO code, e.g. EUR')),
    ),
    field('description', 'Description', description),
    (() => {
      const el = field('labels', 'Labels', rowsEl, 'Facts shoppers can filter on, e.g. brand = Oatly.');
      el.querySelector('label')!.removeAttribute('for');
      el.querySelector('label')!.id = 'labels-label';
      rowsEl.setAttribute('aria-labelledby', 'labels-label');
      el.insertBefore(labelsButton, el.querySelector('.help'));
      return el;
    })(),
    (() => {
      const el = field('images', 'Images', drop.input);
      el.querySelector('label')!.remove(); // the drop zone's own label names it
      el.insertBefore(drop.el, el.firstChild);
      el.insertBefore(h('h2', { class: 'field-heading' }, 'Images'), drop.el);
      el.appendChild(fileList);
      return el;
    })(),
    progress,
    h('div', { class: 'form-actions' }, submit, h('a', { href: '/catalogue', class: 'button button-secondary' }, 'Cancel')),
    categories,
  );
  // The drop zone's input keeps its place inside the zone.
  drop.el.insertBefore(drop.input, drop.el.firstChild);

  replace(root, pageTitle('Add product', h('p', { class: 'lead' }, 'Its images are indexed right away: every object in them becomes searchable.')), form);

  void api
    .listCategories(signal)
    .then((list) => list.items.forEach((c) => categories.appendChild(h('option', { value: c.name }))))
    .catch(() => {});

  for (const name of FIELDS) {
    const el = controls[name];
    el.addEventListener('input', () => clearError(name));
  }

  function setError(name: Field, message: string): void {
    errors[name].textContent = message;
    errors[name].hidden = false;
    controls[name].setAttribute('aria-invalid', 'true');
    errors[name].closest('.field')?.classList.add('field-invalid');
  }
  function clearError(name: Field): void {
    errors[name].hidden = true;
    errors[name].textContent = '';
    controls[name].removeAttribute('aria-invalid');
    errors[name].closest('.field')?.classList.remove('field-invalid');
  }

  async function save(): Promise<void> {
    FIELDS.forEach(clearError);
    replace(general);
    const labels = labelsFromRows(readRows());
    const local: Partial<Record<Field, string>> = {};
    if (!sku.value.trim()) local.sku = 'The SKU is required';
    if (!name.value.trim()) local.name = 'The name is required';
    if (labels.errors.length) local.labels = labels.errors.join('; ');
    if (price.validity.badInput) local.price = 'The price must be a number';
    const firstLocal = FIELDS.find((f) => local[f]);
    if (firstLocal) {
      for (const f of FIELDS) if (local[f]) setError(f, local[f]!);
      controls[firstLocal].focus();
      return;
    }
    const data = new FormData();
    data.append('sku', sku.value.trim());
    data.append('name', name.value.trim());
    if (description.value.trim()) data.append('description', description.value.trim());
    if (category.value.trim()) data.append('category', category.value.trim());
    if (Object.keys(labels.labels).length) data.append('labels', JSON.stringify(labels.labels));
    if (price.value !== '') data.append('price', price.value);
    if (currency.value.trim()) data.append('currency', currency.value.trim().toUpperCase());
    for (const f of files) data.append('images', f.file, f.file.name);

    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    const label = files.length ? `Uploading ${files.length} image${files.length === 1 ? '' : 's'}` : 'Saving';
    replace(progress, progressBar(0, label), h('span', null, `${label}…`));
    try {
      const created = await api.createProduct(
        data,
        (p) => replace(progress, progressBar(p.fraction, label), h('span', null, p.fraction !== null && p.fraction >= 1 ? 'Saving…' : `${label}… ${formatBytes(p.loaded)} of ${formatBytes(p.total)}`)),
        signal,
      );
      navigate(`/products/${encodeURIComponent(created.body.id)}?created=1`);
    } catch (e) {
      if (isAbort(e)) return;
      replace(progress);
      const mapped = formErrorsFrom(e, FIELDS);
      const first = FIELDS.find((f) => mapped.fields[f]);
      for (const f of FIELDS) if (mapped.fields[f]) setError(f, mapped.fields[f]!);
      if (mapped.general || !first) replace(general, errorBanner(e));
      if (first) (first === 'images' ? drop.input : controls[first]).focus();
      else general.querySelector<HTMLElement>('[role=alert]')?.setAttribute('tabindex', '-1');
    } finally {
      submit.disabled = false;
      form.removeAttribute('aria-busy');
    }
  }
}
