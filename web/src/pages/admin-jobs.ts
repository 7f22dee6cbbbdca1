// The job dashboard (/admin/jobs): jobs per state and kind, throughput (jobs finished per
// minute over the last 1, 5 and 15 minutes, and a bar per minute), the job waiting
// longest, the queue's depths with pause / resume, retry of one failed job or of all
// (optionally of one kind), cancel of a queued or running one, and a link to re-indexing.
// It refreshes itself every 2 s while it is open and the tab is visible; the router's
// AbortSignal stops that when the person navigates away.
import * as api from '../api';
import '../components/admin-panel.css';
import { emptyState, errorBanner, infoBanner, pageTitle, statusBadge } from '../components/ui';
import { h, isAbort, replace, sleep, uid } from '../dom';
import { jobStats, pauseQueue, resumeQueue, retryFailedJobs, type JobStats } from '../admin-api/jobs-audit';
import { formatAge, shortId } from '../lib/admin-format';
import { formatRelativeTime } from '../lib/format';
import type { PageContext } from '../router';
import type { Job } from '../types';
import { adminCallRefused, requireAdmin } from './admin';

const REFRESH_MS = 2000;
const STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
const LIST_SIZE = 10;

export async function adminJobsPage(ctx: PageContext): Promise<void> {
  const { root, signal } = ctx;
  if (!requireAdmin()) return;
  const totalsEl = h('div', { class: 'stat-grid', 'aria-label': 'Jobs per state' });
  const queueEl = h('section', { class: 'dash-card', 'aria-labelledby': 'queue-title' });
  const throughputEl = h('section', { class: 'dash-card', 'aria-labelledby': 'throughput-title' });
  const kindsEl = h('section', { class: 'dash-card dash-wide', 'aria-labelledby': 'kinds-title' });
  const failedEl = h('section', { class: 'dash-card dash-wide', 'aria-labelledby': 'failed-title' });
  const activeEl = h('section', { class: 'dash-card dash-wide', 'aria-labelledby': 'active-title' });
  const notice = h('div', { 'aria-live': 'assertive' });
  const updated = h('span', { class: 'muted small', role: 'status' });
  const autoId = uid('auto');
  const auto = h('input', { id: autoId, type: 'checkbox', checked: true });
  replace(
    root,
    pageTitle(
      'Job dashboard',
      h(
        'div',
        { class: 'page-actions' },
        h('a', { href: '/admin/reindex', class: 'button button-secondary' }, 'Re-index…'),
        h('a', { href: '/jobs', class: 'button button-secondary' }, 'All jobs'),
        h('button', { type: 'button', class: 'button button-secondary', onclick: () => void refresh() }, 'Refresh'),
      ),
    ),
    h('p', { class: 'breadcrumb' }, h('a', { href: '/admin' }, 'Admin'), ' / Jobs'),
    h('p', { class: 'dash-refresh' }, auto, ' ', h('label', { for: autoId }, `Refresh every ${REFRESH_MS / 1000} s`), ' · ', updated),
    notice,
    totalsEl,
    h('div', { class: 'dash-grid' }, queueEl, throughputEl, kindsEl, failedEl, activeEl),
  );

  let stats: JobStats | null = null;
  let failed: Job[] = [];
  let failedTotal = 0;
  let active: Job[] = [];
  let activeTotal = 0;
  const shown: Record<string, string> = {};
  /** Re-renders el only when what it shows changed (so focus and open menus survive a refresh). */
  const render = (key: string, el: HTMLElement, data: unknown, build: () => HTMLElement[]) => {
    const text = JSON.stringify(data);
    if (shown[key] === text) return;
    shown[key] = text;
    replace(el, ...build());
  };

  let seq = 0;
  async function refresh(): Promise<void> {
    const mine = ++seq;
    try {
      const [s, f, q, r] = await Promise.all([
        jobStats(signal),
        api.listJobs({ status: 'failed', limit: LIST_SIZE }, signal),
        api.listJobs({ status: 'queued', limit: LIST_SIZE }, signal),
        api.listJobs({ status: 'running', limit: LIST_SIZE }, signal),
      ]);
      if (mine !== seq) return;
      stats = s;
      failed = f.items;
      failedTotal = f.total;
      active = [...r.items, ...q.items].slice(0, LIST_SIZE);
      activeTotal = r.total + q.total;
      show();
      updated.textContent = `updated ${new Date(s.generated_at).toLocaleTimeString()}`;
    } catch (e) {
      if (isAbort(e) || mine !== seq) return;
      if (adminCallRefused(e)) return void requireAdmin();
      replace(notice, errorBanner(e));
    }
  }

  function show(): void {
    if (!stats) return;
    const s = stats;
    render('totals', totalsEl, s.totals, () =>
      STATUSES.map((status) =>
        h(
          'a',
          { class: `stat stat-${status}`, href: `/jobs?status=${status}`, dataset: { status } },
          h('span', { class: 'stat-value' }, String(s.totals[status])),
          h('span', { class: 'stat-label' }, status),
        ),
      ),
    );
    render('queue', queueEl, [s.queue, s.queue_error, s.oldest_queued?.id], () => queueCard(s));
    const age = queueEl.querySelector('[data-age]');
    if (age && s.oldest_queued) age.textContent = formatAge(s.oldest_queued.age_seconds);
    render('throughput', throughputEl, [s.throughput, s.per_minute], () => throughputCard(s));
    render('kinds', kindsEl, s.counts, () => kindsCard(s));
    render('failed', failedEl, [failed.map((j) => [j.id, j.status, j.error]), failedTotal, s.counts.filter((c) => c.status === 'failed')], () => failedCard(s));
    render('active', activeEl, [active.map((j) => [j.id, j.status, j.progress]), activeTotal], () => activeCard());
  }

  async function act(what: () => Promise<unknown>, button: HTMLButtonElement, done: (result: unknown) => string): Promise<void> {
    button.disabled = true;
    try {
      const result = await what();
      replace(notice, infoBanner(done(result)));
      Object.keys(shown).forEach((k) => delete shown[k]);
      await refresh();
    } catch (e) {
      if (adminCallRefused(e)) return void requireAdmin();
      replace(notice, errorBanner(e));
    } finally {
      button.disabled = false;
    }
  }

  function queueCard(s: JobStats): HTMLElement[] {
    const q = s.queue;
    const paused = q?.paused ?? false;
    const oldest = s.oldest_queued;
    const toggle = h(
      'button',
      {
        type: 'button',
        class: paused ? 'button' : 'button button-secondary',
        onclick: (e: Event) =>
          void act(paused ? resumeQueue : pauseQueue, e.currentTarget as HTMLButtonElement, () =>
            paused ? 'The queue is running again: workers take tasks.' : 'The queue is paused: no new task starts (running ones finish).',
          ),
      },
      paused ? 'Resume the queue' : 'Pause the queue',
    );
    return [
      h('h2', { id: 'queue-title' }, 'Queue ', q ? h('span', { class: `badge ${paused ? 'badge-failed' : 'badge-done'}`, dataset: { queueState: paused ? 'paused' : 'running' } }, paused ? 'paused' : 'running') : null),
      q
        ? h(
            'dl',
            { class: 'fact-list dash-facts' },
            [
              ['Ready', q.ready],
              ['Delayed (retry later)', q.delayed],
              ['Leased (being worked on)', q.leased],
              ['Dead', q.dead],
            ].map(([k, v]) => h('div', null, h('dt', null, String(k)), h('dd', null, String(v)))),
          )
        : errorBanner(new Error(s.queue_error ?? 'The queue does not answer')),
      h(
        'p',
        { class: 'oldest-queued' },
        h('strong', null, 'Oldest waiting: '),
        oldest
          ? [h('span', { dataset: { oldestId: oldest.id }, title: oldest.id }, `${oldest.kind} job ${shortId(oldest.id)}`), ' waiting ', h('span', { dataset: { age: '' } }, formatAge(oldest.age_seconds))]
          : h('span', { class: 'muted' }, 'nothing is waiting'),
      ),
      h('div', { class: 'form-actions' }, toggle),
    ];
  }

  function throughputCard(s: JobStats): HTMLElement[] {
    const perMinute = s.per_minute.done.map((done, i) => ({ done, failed: s.per_minute.failed[i] ?? 0 })).reverse(); // oldest first
    const peak = Math.max(1, ...perMinute.map((m) => m.done + m.failed));
    return [
      h('h2', { id: 'throughput-title' }, 'Throughput'),
      h(
        'dl',
        { class: 'fact-list dash-facts' },
        s.throughput.map((w) =>
          h(
            'div',
            { dataset: { minutes: String(w.minutes) } },
            h('dt', null, `Last ${w.minutes} min`),
            h('dd', null, `${w.per_minute.toFixed(w.per_minute < 10 ? 1 : 0)} / min`, h('span', { class: 'muted small' }, ` (${w.done} done, ${w.failed} failed)`)),
          ),
        ),
      ),
      h(
        'div',
        { class: 'minute-bars', role: 'img', 'aria-label': `Jobs finished per minute over the last ${perMinute.length} minutes: ${perMinute.map((m) => m.done + m.failed).join(', ')}` },
        perMinute.map((m, i) =>
          h(
            'div',
            { class: 'minute-bar', title: `${perMinute.length - 1 - i} min ago: ${m.done} done, ${m.failed} failed` },
            h('span', { class: 'bar-failed', style: { height: `${(m.failed / peak) * 100}%` } }),
            h('span', { class: 'bar-done', style: { height: `${(m.done / peak) * 100}%` } }),
          ),
        ),
      ),
      h('p', { class: 'muted small' }, `Bars: jobs finished each minute, ${perMinute.length} min ago → now (done, failed in red).`),
    ];
  }

  function kindsCard(s: JobStats): HTMLElement[] {
    const kinds = Array.from(new Set(s.counts.map((c) => c.kind)));
    const count = (kind: string, status: string) => s.counts.find((c) => c.kind === kind && c.status === status)?.count ?? 0;
    return [
      h('h2', { id: 'kinds-title' }, 'Jobs per kind and state'),
      kinds.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'jobs-table kinds-table' },
              h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Kind'), STATUSES.map((st) => h('th', { scope: 'col' }, st)))),
              h(
                'tbody',
                null,
                kinds.map((kind) =>
                  h(
                    'tr',
                    { dataset: { kind } },
                    h('th', { scope: 'row' }, kind),
                    STATUSES.map((st) => {
                      const n = count(kind, st);
                      return h('td', { 'data-label': st, dataset: { status: st } }, n ? h('a', { href: `/jobs?status=${st}&kind=${encodeURIComponent(kind)}` }, String(n)) : '0');
                    }),
                  ),
                ),
              ),
            ),
          )
        : emptyState('No jobs yet.'),
    ];
  }

  function failedCard(s: JobStats): HTMLElement[] {
    const failedKinds = s.counts.filter((c) => c.status === 'failed' && c.count > 0);
    const kindId = uid('retry-kind');
    const kind = h(
      'select',
      { id: kindId },
      h('option', { value: '' }, `every kind (${s.totals.failed})`),
      failedKinds.map((c) => h('option', { value: c.kind }, `${c.kind} (${c.count})`)),
    );
    const retryAll = h(
      'button',
      {
        type: 'button',
        class: 'button',
        disabled: s.totals.failed === 0,
        onclick: (e: Event) =>
          void act(
            () => retryFailedJobs(kind.value || undefined),
            e.currentTarget as HTMLButtonElement,
            (r) => {
              const result = r as { retried: number; remaining: number };
              return `Retried ${result.retried} failed job${result.retried === 1 ? '' : 's'}${result.remaining ? `; ${result.remaining} more remain (press again)` : ''}.`;
            },
          ),
      },
      'Retry all failed',
    );
    return [
      h('h2', { id: 'failed-title' }, `Failed jobs (${failedTotal})`),
      h('div', { class: 'toolbar retry-all' }, h('div', { class: 'field' }, h('label', { for: kindId }, 'Retry the failed jobs of'), kind), h('div', { class: 'field field-button' }, retryAll)),
      failed.length ? jobList(failed, failedTotal, 'failed') : emptyState('No failed job.'),
    ];
  }

  function activeCard(): HTMLElement[] {
    return [h('h2', { id: 'active-title' }, `Queued and running (${activeTotal})`), active.length ? jobList(active, activeTotal, 'queued') : emptyState('Nothing is queued or running.')];
  }

  function jobList(jobs: Job[], total: number, status: string): HTMLElement {
    return h(
      'div',
      null,
      h(
        'ul',
        { class: 'dash-jobs' },
        jobs.map((job) =>
          h(
            'li',
            { dataset: { jobId: job.id, status: job.status } },
            statusBadge(job.status),
            h('span', { class: 'mono small' }, `${job.kind} ${shortId(job.id)}`),
            h('span', { class: 'muted small' }, formatRelativeTime(job.finished_at ?? job.updated_at ?? job.created_at)),
            job.status === 'failed' || job.status === 'cancelled'
              ? h(
                  'button',
                  { type: 'button', class: 'button button-small', onclick: (e: Event) => void act(() => api.retryJob(job.id), e.currentTarget as HTMLButtonElement, () => `Job ${shortId(job.id)} is queued again.`) },
                  'Retry',
                )
              : h(
                  'button',
                  { type: 'button', class: 'button button-small button-secondary', onclick: (e: Event) => void act(() => api.cancelJob(job.id), e.currentTarget as HTMLButtonElement, () => `Job ${shortId(job.id)} was cancelled.`) },
                  'Cancel',
                ),
            job.error ? h('span', { class: 'job-error small' }, job.error) : null,
          ),
        ),
      ),
      total > jobs.length ? h('p', { class: 'small' }, h('a', { href: `/jobs?status=${status}` }, `All ${total} on the jobs page →`)) : null,
    );
  }

  await refresh();
  while (!signal.aborted) {
    try {
      await sleep(REFRESH_MS, signal);
    } catch {
      return;
    }
    if (auto.checked && document.visibilityState === 'visible') await refresh();
  }
}
