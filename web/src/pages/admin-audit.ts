// The audit log (/admin/audit): every admin correction, newest first, with paging and
// filters (action, actor, subject kind and id, undone or not) kept in the URL; each entry shows who did what to
// which subject, its state before → after, when, under which request, and whether it was
// undone. Undo (POST /admin/audit/{id}/undo) asks once more, then says plainly why it was
// refused (already undone, an undo itself, or the subject changed since).
import '../components/admin-panel.css';
import { emptyState, errorBanner, infoBanner, pageTitle } from '../components/ui';
import { h, isAbort, replace, uid } from '../dom';
import { AUDIT_ACTIONS, listAudit, undoAudit, type AuditEntry, type AuditPage } from '../admin-api/jobs-audit';
import { ApiError } from '../lib/errors';
import { shortId, undoRefusal } from '../lib/admin-format';
import { formatRange, formatRelativeTime } from '../lib/format';
import { setQuery, type PageContext } from '../router';
import { adminCallRefused, requireAdmin } from './admin';


const PAGE_SIZE = 25;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const ACTION_TEXT: Record<string, string> = {
  'region.update': 'changed a region',
  'region.delete': 'deleted a region',
  'product.update': 'edited a product',
  'product.merge': 'merged products',
  'image.move': 'moved an image',
  undo: 'undid a correction',
  reindex: 'started a re-index',
};

export async function adminAuditPage(ctx: PageContext): Promise<void> {
  const { root, signal, query } = ctx;
  if (!requireAdmin()) return;
  const state = {
    action: query.get('action') ?? '',
    actor: query.get('actor') ?? '',
    subject: query.get('subject_id') ?? '',
    kind: query.get('subject_kind') ?? '',
    undone: query.get('undone') ?? '',
    page: Math.max(1, parseInt(query.get('page') ?? '1', 10) || 1),
  };
  const ids = { action: uid('action'), actor: uid('actor'), subject: uid('subject'), kind: uid('kind'), undone: uid('undone') };
  const action = h('select', { id: ids.action, name: 'action' }, h('option', { value: '' }, 'Any action'), AUDIT_ACTIONS.map((a) => h('option', { value: a }, a)));
  const actor = h('input', { id: ids.actor, name: 'actor', type: 'search', placeholder: 'e.g. admin/alice', maxlength: '159' });
  const subject = h('input', { id: ids.subject, name: 'subject_id', type: 'search', placeholder: 'a product, region or image id', class: 'mono', size: '38' });
  const kind = h('select', { id: ids.kind, name: 'subject_kind' }, h('option', { value: '' }, 'Any subject'), ['product', 'region', 'image', 'reindex'].map((k) => h('option', { value: k }, k)));
  const undone = h(
    'select',
    { id: ids.undone, name: 'undone' },
    h('option', { value: '' }, 'All entries'),
    h('option', { value: 'false' }, 'Still in force'),
    h('option', { value: 'true' }, 'Undone'),
  );
  kind.value = state.kind;
  undone.value = state.undone;
  action.value = state.action;
  actor.value = state.actor;
  subject.value = state.subject;
  const summary = h('p', { class: 'list-summary', role: 'status', 'aria-live': 'polite' });
  const notice = h('div', { 'aria-live': 'assertive' });
  const body = h('div', { class: 'audit-body' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  const apply = (e?: Event) => {
    e?.preventDefault();
    const subjectText = subject.value.trim();
    if (subjectText && !UUID.test(subjectText)) {
      replace(notice, errorBanner(new ApiError(400, 'invalid_argument', 'The subject id must be a UUID (a product, region or image id)')));
      subject.focus();
      return;
    }
    state.action = action.value;
    state.kind = kind.value;
    state.undone = undone.value;
    state.actor = actor.value.trim();
    state.subject = subjectText.toLowerCase();
    state.page = 1;
    replace(notice);
    void load();
  };
  [action, kind, undone].forEach((select) => select.addEventListener('change', () => apply()));
  replace(
    root,
    pageTitle('Audit log', h('p', { class: 'lead' }, 'Every admin correction, newest first. Undo applies what was there before.')),
    h('p', { class: 'breadcrumb' }, h('a', { href: '/admin' }, 'Admin'), ' / Audit log'),
    h(
      'form',
      { class: 'toolbar', role: 'search', 'aria-label': 'Filter the audit log', onsubmit: apply },
      h('div', { class: 'field' }, h('label', { for: ids.action }, 'Action'), action),
      h('div', { class: 'field' }, h('label', { for: ids.actor }, 'Actor'), actor),
      h('div', { class: 'field' }, h('label', { for: ids.kind }, 'Subject'), kind),
      h('div', { class: 'field' }, h('label', { for: ids.subject }, 'Subject id'), subject),
      h('div', { class: 'field' }, h('label', { for: ids.undone }, 'State'), undone),
      h('div', { class: 'field field-button' }, h('button', { type: 'submit', class: 'button' }, 'Filter')),
    ),
    notice,
    summary,
    body,
    pager,
  );

  let seq = 0;
  async function load(): Promise<void> {
    const mine = ++seq;
    const params = new URLSearchParams();
    if (state.action) params.set('action', state.action);
    if (state.actor) params.set('actor', state.actor);
    if (state.subject) params.set('subject_id', state.subject);
    if (state.kind) params.set('subject_kind', state.kind);
    if (state.undone) params.set('undone', state.undone);
    if (state.page > 1) params.set('page', String(state.page));
    setQuery(params);
    body.setAttribute('aria-busy', 'true');
    try {
      const page: AuditPage = await listAudit(
        { action: state.action, actor: state.actor, subject_id: state.subject, subject_kind: state.kind, undone: state.undone, limit: PAGE_SIZE, offset: (state.page - 1) * PAGE_SIZE },
        signal,
      );
      if (mine !== seq) return;
      summary.textContent = page.total ? `${formatRange(page.offset, page.items.length, page.total)} entries` : '';
      const filtered = state.action || state.actor || state.subject || state.kind || state.undone;
      replace(body, page.items.length ? auditTable(page.items) : emptyState(filtered ? 'No entry matches these filters.' : 'No corrections yet. Every admin change appears here.'));
      const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
      const go = (p: number) => () => ((state.page = p), void load());
      replace(
        pager,
        pages > 1
          ? [
              h('button', { type: 'button', class: 'button button-secondary', disabled: state.page <= 1, onclick: go(state.page - 1) }, '← Newer'),
              h('span', { class: 'pager-text' }, `Page ${state.page} of ${pages}`),
              h('button', { type: 'button', class: 'button button-secondary', disabled: state.page >= pages, onclick: go(state.page + 1) }, 'Older →'),
            ]
          : null,
      );
    } catch (e) {
      if (isAbort(e) || mine !== seq) return;
      if (adminCallRefused(e)) return void requireAdmin();
      replace(body, errorBanner(e));
    } finally {
      if (mine === seq) body.removeAttribute('aria-busy');
    }
  }

  async function undo(entry: AuditEntry, cell: HTMLElement): Promise<void> {
    const buttons = Array.from(cell.querySelectorAll('button'));
    buttons.forEach((b) => (b.disabled = true));
    try {
      const result = await undoAudit(entry.id);
      replace(notice, infoBanner(`Undone: ${describe(entry)}. The undo is entry ${shortId(result.audit.id)} at the top.`));
      await load();
    } catch (e) {
      if (adminCallRefused(e)) return void requireAdmin();
      const refusal = undoRefusal(e);
      replace(notice, refusal ? h('div', { class: 'banner banner-error', role: 'alert' }, h('strong', null, 'Not undone: '), refusal) : errorBanner(e));
      await load();
    }
  }

  function undoCell(entry: AuditEntry): HTMLElement {
    const cell = h('td', { class: 'actions' });
    if (entry.undone_at) {
      replace(cell, h('span', { class: 'muted small' }, `undone ${formatRelativeTime(entry.undone_at)}${entry.undone_by ? ` by ${entry.undone_by}` : ''}`));
      return cell;
    }
    if (entry.action === 'undo' || entry.action === 'reindex') return cell; // a re-index is not undone
    const ask = () =>
      replace(
        cell,
        h('span', { class: 'small' }, 'Undo this? '),
        h('button', { type: 'button', class: 'button button-small button-danger', onclick: () => void undo(entry, cell) }, 'Yes, undo'),
        h('button', { type: 'button', class: 'button button-small button-secondary', onclick: () => replace(cell, undoButton()) }, 'Keep'),
      );
    const undoButton = () => h('button', { type: 'button', class: 'button button-small button-secondary', 'aria-label': `Undo: ${describe(entry)}`, onclick: ask }, 'Undo');
    replace(cell, undoButton());
    return cell;
  }

  function auditTable(entries: AuditEntry[]): HTMLElement {
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'jobs-table audit-table' },
        h('caption', { class: 'visually-hidden' }, 'Audit log, newest first'),
        h('thead', null, h('tr', null, ['When', 'Who', 'What', 'Subject', 'Before → after', 'Request', ''].map((t) => h('th', { scope: 'col' }, t || h('span', { class: 'visually-hidden' }, 'Undo'))))),
        h(
          'tbody',
          null,
          entries.map((entry) =>
            h(
              'tr',
              { dataset: { auditId: entry.id, action: entry.action, undone: entry.undone_at ? 'true' : 'false' } },
              h('td', { 'data-label': 'When' }, h('time', { datetime: entry.created_at, title: entry.created_at }, formatRelativeTime(entry.created_at))),
              h('td', { 'data-label': 'Who' }, entry.actor),
              h('td', { 'data-label': 'What' }, h('span', { class: 'mono small' }, entry.action), h('br'), h('span', { class: 'muted small' }, describe(entry))),
              h('td', { 'data-label': 'Subject' }, subjectLink(entry)),
              h('td', { 'data-label': 'Before → after', class: 'audit-change' }, changeList(entry)),
              h('td', { 'data-label': 'Request', class: 'mono small' }, entry.request_id ?? '–'),
              undoCell(entry),
            ),
          ),
        ),
      ),
    );
  }

  await load();
}

function describe(entry: AuditEntry): string {
  const text = ACTION_TEXT[entry.action] ?? entry.action;
  return entry.undo_of ? `${text} (entry ${shortId(entry.undo_of)})` : text;
}

function subjectLink(entry: AuditEntry): HTMLElement {
  const short = `${entry.subject_kind} ${shortId(entry.subject_id)}`;
  if (entry.subject_kind === 'product') return h('a', { href: `/products/${encodeURIComponent(entry.subject_id)}`, title: entry.subject_id }, short);
  if (entry.subject_kind === 'reindex') return h('a', { href: `/admin/reindex?run=${encodeURIComponent(entry.subject_id)}`, title: entry.subject_id }, `run ${shortId(entry.subject_id)}`);
  return h('span', { class: 'mono small', title: entry.subject_id }, short);
}

const show = (value: unknown): string => {
  if (value === undefined) return '–';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
};

/** One line per field that differs between before and after (all fields of an undo). */
function changeList(entry: AuditEntry): HTMLElement {
  const before = (entry.before ?? {}) as Record<string, unknown>;
  const after = (entry.after ?? {}) as Record<string, unknown>;
  const keys = Array.from(new Set([...Object.keys(before), ...Object.keys(after)]));
  const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
  const rows = (changed.length ? changed : keys).map((k) =>
    h('li', null, h('span', { class: 'audit-key' }, k), ': ', h('span', { class: 'audit-before' }, show(before[k])), ' → ', h('span', { class: 'audit-after' }, show(after[k]))),
  );
  return h(
    'div',
    null,
    rows.length ? h('ul', { class: 'audit-changes' }, rows) : h('span', { class: 'muted' }, '–'),
    h('details', { class: 'audit-json' }, h('summary', null, 'Full record'), h('pre', null, JSON.stringify({ before, after }, null, 2))),
  );
}
