// Recent jobs (indexing and searches): state, progress, attempts, error; retry a failed
// one, cancel a queued one. Refreshes itself while any job on the page is active.
import * as api from '../api';
import { emptyState, errorBanner, pageTitle, progressBar, statusBadge } from '../components/ui';
import { h, isAbort, replace, sleep, uid } from '../dom';
import { formatRange, formatRelativeTime } from '../lib/format';
import { setQuery, type PageContext } from '../router';
import type { Job, JobPage } from '../types';

const PAGE_SIZE = 50;
const STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'];

export async function jobsPage(ctx: PageContext): Promise<void> {
  const { root, signal, query } = ctx;
  const state = { status: query.get('status') ?? '', kind: query.get('kind') ?? '', page: Math.max(1, parseInt(query.get('page') ?? '1', 10) || 1) };
  const statusId = uid('status');
  const kindId = uid('kind');
  const status = h('select', { id: statusId }, h('option', { value: '' }, 'Any state'), STATUSES.map((s) => h('option', { value: s }, s)));
  const kind = h('select', { id: kindId }, h('option', { value: '' }, 'Any kind'), h('option', { value: 'index' }, 'index'), h('option', { value: 'search' }, 'search'));
  status.value = state.status;
  kind.value = state.kind;
  const summary = h('p', { class: 'list-summary', role: 'status', 'aria-live': 'polite' });
  const body = h('div', { class: 'jobs-body' });
  const notice = h('div', { 'aria-live': 'assertive' });
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  replace(
    root,
    pageTitle('Jobs', h('button', { type: 'button', class: 'button button-secondary', onclick: () => void load() }, 'Refresh')),
    h(
      'form',
      { class: 'toolbar', onsubmit: (e: Event) => e.preventDefault() },
      h('div', { class: 'field' }, h('label', { for: statusId }, 'State'), status),
      h('div', { class: 'field' }, h('label', { for: kindId }, 'Kind'), kind),
    ),
    notice,
    summary,
    body,
    pager,
  );
  const changed = () => {
    state.status = status.value;
    state.kind = kind.value;
    state.page = 1;
    void load();
  };
  status.addEventListener('change', changed);
  kind.addEventListener('change', changed);

  let last: JobPage | null = null;
  const anyActive = () => (last as JobPage | null)?.items.some((j) => j.status === 'queued' || j.status === 'running') ?? false;
  let seq = 0;
  async function load(): Promise<void> {
    const mine = ++seq;
    const params = new URLSearchParams();
    if (state.status) params.set('status', state.status);
    if (state.kind) params.set('kind', state.kind);
    if (state.page > 1) params.set('page', String(state.page));
    setQuery(params);
    body.setAttribute('aria-busy', 'true');
    try {
      const page = await api.listJobs({ status: state.status, kind: state.kind, limit: PAGE_SIZE, offset: (state.page - 1) * PAGE_SIZE }, signal);
      if (mine !== seq) return;
      last = page;
      summary.textContent = page.total ? `${formatRange(page.offset, page.items.length, page.total)} jobs` : '';
      replace(body, page.items.length ? jobTable(page.items) : emptyState(state.status || state.kind ? 'No job matches these filters.' : 'No jobs yet. Adding a product image or searching creates one.'));
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
      last = null;
      replace(body, errorBanner(e));
    } finally {
      if (mine === seq) body.removeAttribute('aria-busy');
    }
  }

  async function act(job: Job, action: 'retry' | 'cancel', button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await (action === 'retry' ? api.retryJob(job.id) : api.cancelJob(job.id));
      replace(notice, h('p', { class: 'banner banner-info' }, `Job ${job.id.slice(0, 8)}… ${action === 'retry' ? 'is queued again' : 'was cancelled'}.`));
      await load();
    } catch (e) {
      button.disabled = false;
      replace(notice, errorBanner(e));
    }
  }

  function jobTable(jobs: Job[]): HTMLElement {
    return h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'jobs-table' },
        h('caption', { class: 'visually-hidden' }, 'Jobs, newest first'),
        h('thead', null, h('tr', null, ['Kind', 'State', 'Progress', 'Subject', 'Attempts', 'Created', 'Error', ''].map((t) => h('th', { scope: 'col' }, t || h('span', { class: 'visually-hidden' }, 'Actions'))))),
        h(
          'tbody',
          null,
          jobs.map((job) =>
            h(
              'tr',
              { dataset: { jobId: job.id, status: job.status } },
              h('td', { 'data-label': 'Kind' }, job.kind),
              h('td', { 'data-label': 'State' }, statusBadge(job.status)),
              h('td', { 'data-label': 'Progress' }, progressBar(job.status === 'done' ? 1 : job.status === 'queued' ? 0 : job.progress ?? 0, `Progress of job ${job.id}`)),
              h('td', { 'data-label': 'Subject' }, subjectLink(job)),
              h('td', { 'data-label': 'Attempts' }, `${job.attempts} / ${job.max_attempts}`),
              h('td', { 'data-label': 'Created' }, h('time', { datetime: job.created_at, title: job.created_at }, formatRelativeTime(job.created_at))),
              h('td', { 'data-label': 'Error', class: 'job-error-cell' }, job.error ?? ''),
              h(
                'td',
                { class: 'actions' },
                job.status === 'failed' || job.status === 'cancelled'
                  ? h('button', { type: 'button', class: 'button button-small', onclick: (e: Event) => void act(job, 'retry', e.currentTarget as HTMLButtonElement) }, 'Retry')
                  : null,
                job.status === 'queued' || job.status === 'running'
                  ? h('button', { type: 'button', class: 'button button-small button-secondary', onclick: (e: Event) => void act(job, 'cancel', e.currentTarget as HTMLButtonElement) }, 'Cancel')
                  : null,
              ),
            ),
          ),
        ),
      ),
    );
  }

  await load();
  // Auto-refresh while something on the page is queued or running (every 2 s, visible tab).
  while (!signal.aborted) {
    try {
      await sleep(2000, signal);
    } catch {
      return;
    }
    if (document.visibilityState === 'visible' && anyActive()) await load();
  }
}

function subjectLink(job: Job): HTMLElement | string {
  const payload = job.payload ?? {};
  const productId = typeof payload.product_id === 'string' ? payload.product_id : null;
  if (job.kind === 'index' && productId) return h('a', { href: `/products/${encodeURIComponent(productId)}` }, 'product image');
  if (job.kind === 'search') {
    const searchId = typeof payload.search_id === 'string' ? payload.search_id : job.subject_id;
    if (searchId) return h('a', { href: `/?search=${encodeURIComponent(searchId)}` }, 'search');
  }
  return job.subject_id ? h('span', { class: 'mono small' }, job.subject_id.slice(0, 8) + '…') : '–';
}
