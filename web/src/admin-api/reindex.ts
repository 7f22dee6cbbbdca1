// The re-index API calls of the admin area (POST/GET /api/v1/admin/reindex): start a run,
// follow one, list recent runs with the stale counts under the current embedder.
import { API, request } from '../api';
import type { components } from '../api-types';
import type { Answer } from '../types';

export type ReindexRun = components['schemas']['ReindexRun'];
export type ReindexInput = components['schemas']['ReindexInput'];
export type StaleSummary = components['schemas']['StaleSummary'];
export type ReindexRunPage = Answer<'/api/v1/admin/reindex', 'get'>;

export const startReindex = (input: ReindexInput) =>
  request<Answer<'/api/v1/admin/reindex', 'post', 202>>('POST', `${API}/admin/reindex`, { json: input, admin: true });

export const getReindexRun = (id: string, signal?: AbortSignal) =>
  request<Answer<'/api/v1/admin/reindex/{id}', 'get'>>('GET', `${API}/admin/reindex/${encodeURIComponent(id)}`, { admin: true, signal });

export const listReindexRuns = (limit: number, signal?: AbortSignal) =>
  request<ReindexRunPage>('GET', `${API}/admin/reindex`, { query: { limit }, admin: true, signal });

/** Whether a run is still going (its tasks queued or running). */
export const runActive = (run: ReindexRun) => run.status === 'running';
