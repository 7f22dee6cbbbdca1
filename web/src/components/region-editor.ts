// The region editor of the product page (admins only): over one image, drag a box to move
// it or its corners to resize it, draw a new box, relabel, delete, and choose the primary
// region. Save sends the changes to the admin API (src/admin-api/regions.ts) and follows
// the re-crop and re-embed job each one queued until it is done; then the page reloads the
// image, and the new crops appear. Boxes also answer the keyboard (arrows move, Shift +
// arrows resize, by 1% of the image); every other control is a plain button or field.
import { drawRegion, deleteRegion, getJob, updateRegion, type RegionChanges } from '../admin-api/regions';
import { imageUrl } from '../api';
import { h, isAbort, replace, sleep, uid } from '../dom';
import { boxPercent, regionColor } from '../lib/boxes';
import { dragBox, sameBox, wholePixels, type Grip } from '../lib/box-edit';
import { regionName } from '../lib/format';
import { adminCallRefused } from '../pages/admin';
import type { Box, ProductImage, Region, Size } from '../types';
import { boxDrawing } from './box-draw';
import { errorBanner, progressBar, statusBadge } from './ui';
import './region-editor.css';

/** One region as the editor holds it: an existing one (region) or one drawn here (null). */
interface Draft {
  key: string;
  region: Region | null;
  box: Box;
  label: string;
  primary: boolean;
  deleted: boolean;
}

/** What the last save of an image said, and whether its editor was open: the page
 * re-renders the image card after a save, and the new editor shows them again. */
const outcomes = new Map<string, string>();
const openEditors = new Set<string>();

const JOB_TIMEOUT_MS = 120_000;

const changesOf = (d: Draft): RegionChanges | null => {
  if (!d.region || d.deleted) return null;
  const changes: RegionChanges = {};
  const label = d.label.trim();
  if (label && label !== (d.region.label ?? '')) changes.label = label;
  if (d.primary !== d.region.is_primary) changes.is_primary = d.primary;
  if (!sameBox(d.box, d.region.box)) changes.box = d.box;
  return Object.keys(changes).length ? changes : null;
};

const isChanged = (d: Draft) => (d.region ? d.deleted || changesOf(d) !== null : !d.deleted);

export function regionEditor(img: ProductImage, onSaved: () => void): HTMLElement {
  const size: Size = { width: img.width, height: img.height };
  const name = img.filename || 'this image';
  let drafts: Draft[] = [];
  let selected: string | null = null;
  let saving = false;

  const reset = () => {
    drafts = (img.regions ?? []).map((r) => ({ key: r.id, region: r, box: { ...r.box }, label: r.label ?? '', primary: r.is_primary, deleted: false }));
    selected = null;
  };
  reset();

  const panelId = uid('region-editor');
  const toggle = h('button', { type: 'button', class: 'button button-secondary', 'aria-expanded': 'false', 'aria-controls': panelId }, 'Edit regions');
  const note = h('p', { class: 'region-editor-note small', role: 'status', 'aria-live': 'polite' }, outcomes.get(img.id) ?? '');
  const layer = h('div', { class: 're-layer' });
  const drawing = boxDrawing(size, (box) => {
    const key = uid('new');
    drafts.push({ key, region: null, box: wholePixels(box, size), label: '', primary: false, deleted: false });
    selected = key;
    setDrawing(false);
    render();
    list.querySelector<HTMLInputElement>(`[data-key="${key}"] input[type=text]`)?.focus();
  });
  const frame = h(
    'div',
    { class: 'annotated-frame re-frame', style: { aspectRatio: `${size.width} / ${size.height}` } },
    h('img', { src: imageUrl(img.id), alt: `${name}, regions to edit`, width: String(size.width), height: String(size.height), class: 're-img', draggable: 'false' }),
    layer,
    drawing.el,
  );
  const drawButton = h('button', { type: 'button', class: 'button button-secondary', 'aria-pressed': 'false' }, 'Draw a new box');
  const saveButton = h('button', { type: 'button', class: 'button' }, 'Save changes');
  const discardButton = h('button', { type: 'button', class: 'button button-secondary' }, 'Discard changes');
  const list = h('ol', { class: 're-list' });
  const progress = h('div', { class: 're-progress', role: 'status', 'aria-live': 'polite' });
  const panel = h(
    'div',
    { id: panelId, class: 're-panel', hidden: true },
    h('p', { class: 'muted small' }, 'Drag a box to move it, its corners to resize it (or focus it and use the arrow keys; Shift + arrows resize). Save re-crops and re-embeds what changed.'),
    h('div', { class: 're-toolbar' }, drawButton, saveButton, discardButton),
    frame,
    list,
    progress,
  );

  const setDrawing = (on: boolean) => {
    drawing.setActive(on);
    drawButton.setAttribute('aria-pressed', String(on));
    drawButton.textContent = on ? 'Stop drawing' : 'Draw a new box';
  };
  const setOpen = (open: boolean) => {
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    toggle.textContent = open ? 'Close the region editor' : 'Edit regions';
    if (open) openEditors.add(img.id);
    else openEditors.delete(img.id);
    if (!open) setDrawing(false);
  };

  const place = (el: HTMLElement, box: Box) => {
    const p = boxPercent(box, size);
    Object.assign(el.style, { left: `${p.left}%`, top: `${p.top}%`, width: `${p.width}%`, height: `${p.height}%` });
  };
  const describe = (d: Draft, i: number) => (d.region ? `Region ${i + 1}: ${regionName(d.region)}` : `New region ${i + 1}${d.label ? `: ${d.label}` : ''}`);
  const boxText = (b: Box) => `${Math.round(b.w)}×${Math.round(b.h)} at ${Math.round(b.x)}, ${Math.round(b.y)}`;

  const render = () => {
    replace(
      layer,
      drafts.map((d, i) => (d.deleted ? null : boxElement(d, i))),
    );
    replace(
      list,
      drafts.map((d, i) => rowElement(d, i)),
    );
    const changed = drafts.filter(isChanged).length;
    saveButton.disabled = saving || changed === 0;
    discardButton.disabled = saving || changed === 0;
    drawButton.disabled = saving;
    saveButton.textContent = changed ? `Save ${changed} change${changed === 1 ? '' : 's'}` : 'Save changes';
  };

  const boxElement = (d: Draft, i: number): HTMLElement => {
    const grips = (['nw', 'ne', 'sw', 'se'] as const).map((g) => h('span', { class: `re-grip re-grip-${g}`, dataset: { grip: g }, 'aria-hidden': 'true' }));
    const el = h(
      'div',
      {
        class: `re-box${d.key === selected ? ' re-box-selected' : ''}${d.region ? '' : ' re-box-new'}`,
        style: { '--box-color': regionColor(i) },
        tabindex: '0',
        role: 'button',
        'aria-label': `${describe(d, i)}, box ${boxText(d.box)}. Arrow keys move it, Shift and arrow keys resize it.`,
        dataset: { key: d.key, regionId: d.region?.id ?? '' },
      },
      h('span', { class: 're-tag', 'aria-hidden': 'true' }, String(i + 1)),
      grips,
    );
    place(el, d.box);
    let start: { x: number; y: number; box: Box; grip: Grip; id: number } | null = null;
    const toImage = (e: PointerEvent) => {
      const rect = layer.getBoundingClientRect();
      return { x: ((e.clientX - rect.left) / rect.width) * size.width, y: ((e.clientY - rect.top) / rect.height) * size.height };
    };
    el.addEventListener('pointerdown', (e) => {
      if (e.button !== 0 || saving) return;
      e.preventDefault();
      const grip = ((e.target as HTMLElement).dataset.grip as Grip | undefined) ?? 'move';
      start = { ...toImage(e), box: { ...d.box }, grip, id: e.pointerId };
      el.setPointerCapture(e.pointerId);
      if (selected !== d.key) {
        selected = d.key;
        layer.querySelectorAll('.re-box-selected').forEach((b) => b.classList.remove('re-box-selected'));
        el.classList.add('re-box-selected');
        list.querySelectorAll('.re-row-selected').forEach((r) => r.classList.remove('re-row-selected'));
        list.querySelector(`[data-key="${d.key}"]`)?.classList.add('re-row-selected');
      }
    });
    el.addEventListener('pointermove', (e) => {
      if (!start || e.pointerId !== start.id) return;
      const now = toImage(e);
      d.box = dragBox(start.box, start.grip, now.x - start.x, now.y - start.y, size);
      place(el, d.box);
    });
    const finish = (e: PointerEvent) => {
      if (!start || e.pointerId !== start.id) return;
      start = null;
      render();
      layer.querySelector<HTMLElement>(`[data-key="${d.key}"]`)?.focus({ preventScroll: true });
    };
    el.addEventListener('pointerup', finish);
    el.addEventListener('pointercancel', finish);
    el.addEventListener('keydown', (e) => {
      const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[e.key];
      if (!step || saving) return;
      e.preventDefault();
      const dx = step[0]! * Math.max(1, Math.round(size.width / 100));
      const dy = step[1]! * Math.max(1, Math.round(size.height / 100));
      d.box = dragBox(d.box, e.shiftKey ? 'se' : 'move', dx, dy, size);
      selected = d.key;
      render();
      layer.querySelector<HTMLElement>(`[data-key="${d.key}"]`)?.focus();
    });
    return el;
  };

  const rowElement = (d: Draft, i: number): HTMLElement => {
    const labelId = uid('re-label');
    const labelInput = h('input', {
      id: labelId,
      type: 'text',
      maxlength: '64',
      value: d.label,
      placeholder: d.region ? regionName(d.region) : 'optional',
      disabled: d.deleted || saving,
      oninput: (e: Event) => {
        d.label = (e.target as HTMLInputElement).value;
        const changed = drafts.filter(isChanged).length;
        saveButton.disabled = saving || changed === 0;
        discardButton.disabled = saving || changed === 0;
        saveButton.textContent = changed ? `Save ${changed} change${changed === 1 ? '' : 's'}` : 'Save changes';
      },
    });
    const primary = h('input', {
      type: 'checkbox',
      checked: d.primary,
      disabled: d.deleted || saving,
      onchange: (e: Event) => {
        const on = (e.target as HTMLInputElement).checked;
        if (on) drafts.forEach((o) => (o.primary = false)); // one primary region per product
        d.primary = on;
        render();
      },
    });
    const remove = h(
      'button',
      {
        type: 'button',
        class: 'button button-secondary button-small',
        disabled: saving,
        onclick: () => {
          if (!d.region) drafts = drafts.filter((o) => o !== d);
          else d.deleted = !d.deleted;
          render();
        },
      },
      d.deleted ? 'Keep' : 'Delete',
      h('span', { class: 'visually-hidden' }, ` ${describe(d, i)}`),
    );
    const state = d.deleted ? 'to be deleted' : !d.region ? 'new' : changesOf(d) ? 'changed' : '';
    return h(
      'li',
      {
        class: `re-row${d.key === selected ? ' re-row-selected' : ''}${d.deleted ? ' re-row-deleted' : ''}`,
        style: { '--box-color': regionColor(i) },
        dataset: { key: d.key, regionId: d.region?.id ?? '' },
      },
      h('span', { class: 're-swatch', 'aria-hidden': 'true' }, String(i + 1)),
      h('label', { for: labelId, class: 're-name' }, describe(d, i)),
      labelInput,
      h('label', { class: 're-primary' }, primary, ' Primary'),
      remove,
      h('span', { class: 'muted small re-dims' }, boxText(d.box), state ? ` · ${state}` : ''),
    );
  };

  /** Polls every job until it is done (or failed), showing each one's state. */
  const follow = async (jobs: { id: string; what: string }[]) => {
    const states = new Map<string, { status: string; progress: number; error: string | null }>();
    const show = () => {
      const done = [...states.values()].filter((s) => s.status === 'done').length;
      const running = [...states.values()].reduce((sum, s) => sum + (s.status === 'done' ? 0 : s.progress), 0);
      replace(
        progress,
        h('p', { class: 're-progress-title' }, `Re-cropping and re-embedding: ${done} of ${jobs.length} job${jobs.length === 1 ? '' : 's'} done`),
        progressBar(jobs.length ? (done + running) / jobs.length : 1, 'Re-crop and re-embed progress'),
        h(
          'ul',
          { class: 're-jobs' },
          jobs.map((j) => {
            const s = states.get(j.id);
            return h('li', { dataset: { jobId: j.id } }, statusBadge(s?.status ?? 'queued'), ` ${j.what}`, s?.error ? h('span', { class: 'job-error' }, ` ${s.error}`) : null);
          }),
        ),
      );
    };
    show();
    const deadline = Date.now() + JOB_TIMEOUT_MS;
    let pending = jobs.slice();
    while (pending.length && Date.now() < deadline) {
      for (const j of pending) {
        try {
          const job = await getJob(j.id);
          states.set(j.id, { status: job.status, progress: job.progress ?? 0, error: job.error ?? null });
        } catch (e) {
          if (isAbort(e)) throw e;
        }
      }
      pending = pending.filter((j) => {
        const s = states.get(j.id)?.status;
        return s !== 'done' && s !== 'failed' && s !== 'dead' && s !== 'cancelled';
      });
      show();
      if (pending.length) await sleep(300);
    }
    return [...states.values()].filter((s) => s.status !== 'done').length + pending.length;
  };

  const save = async () => {
    if (saving) return;
    saving = true;
    outcomes.delete(img.id);
    note.textContent = '';
    setDrawing(false);
    render();
    replace(progress, h('p', null, 'Saving…'));
    const jobs: { id: string; what: string }[] = [];
    let applied = 0;
    try {
      for (const [i, d] of drafts.entries()) {
        if (!isChanged(d)) continue;
        const what = describe(d, i);
        let jobId: string | null | undefined = null;
        if (d.region && d.deleted) {
          jobId = (await deleteRegion(d.region.id)).job_id;
          if (jobId) jobs.push({ id: jobId, what: `${what}: deleted, its vector removed` });
        } else if (d.region) {
          const changes = changesOf(d)!;
          jobId = (await updateRegion(d.region.id, changes)).job_id;
          if (jobId) jobs.push({ id: jobId, what: `${what}: ${changes.box ? 're-crop and re-embed' : 'update its vector'}` });
        } else {
          const label = d.label.trim();
          const answer = await drawRegion(img.id, { box: d.box, ...(label ? { label } : {}), ...(d.primary ? { is_primary: true } : {}) });
          jobId = answer.job_id;
          if (jobId) jobs.push({ id: jobId, what: `${what}: crop and embed` });
        }
        applied++;
      }
    } catch (e) {
      saving = false;
      if (adminCallRefused(e)) return;
      replace(progress, errorBanner(e));
      if (applied) {
        outcomes.set(img.id, `${applied} change${applied === 1 ? '' : 's'} saved before an error.`);
        onSaved();
      } else {
        render();
      }
      return;
    }
    let unfinished = 0;
    try {
      unfinished = await follow(jobs);
    } catch {
      return;
    }
    saving = false;
    outcomes.set(
      img.id,
      unfinished
        ? `Saved ${applied} change${applied === 1 ? '' : 's'}; ${unfinished} job${unfinished === 1 ? '' : 's'} did not finish (see the jobs page).`
        : `Saved ${applied} change${applied === 1 ? '' : 's'}: crops cut again and vectors re-embedded.`,
    );
    note.textContent = outcomes.get(img.id)!;
    onSaved();
  };

  toggle.addEventListener('click', () => setOpen(panel.hidden));
  drawButton.addEventListener('click', () => setDrawing(drawButton.getAttribute('aria-pressed') !== 'true'));
  saveButton.addEventListener('click', () => void save());
  discardButton.addEventListener('click', () => {
    reset();
    setDrawing(false);
    replace(progress);
    render();
  });
  render();
  if (openEditors.has(img.id)) setOpen(true);
  return h('section', { class: 'region-editor', 'aria-label': `Region editor for ${name}`, dataset: { imageId: img.id } }, toggle, note, panel);
}
