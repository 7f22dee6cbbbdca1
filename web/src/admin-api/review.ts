// Admin API calls of the review queue page: the queue's lists, the labels in use, and the
// region corrections an admin makes in place (relabel, set primary, delete).
import { API, request } from '../api';
import type { Answer } from '../types';

export type ReviewKind = 'regions' | 'products' | 'searches';
export type ReviewPage = Answer<'/api/v1/admin/review', 'get'>;
export type ReviewItem = ReviewPage['items'][number];
export type KnownLabels = Answer<'/api/v1/admin/review/labels', 'get'>;
export type Correction = Answer<'/api/v1/admin/regions/{id}', 'patch'>;

export const listReview = (kind: ReviewKind, limit: number, offset: number, signal?: AbortSignal) =>
  request<ReviewPage>('GET', `${API}/admin/review`, { query: { kind, limit, offset }, signal, admin: true });

export const knownLabels = (signal?: AbortSignal) => request<KnownLabels>('GET', `${API}/admin/review/labels`, { signal, admin: true });

const regionPath = (id: string) => `${API}/admin/regions/${encodeURIComponent(id)}`;

export const relabelRegion = (id: string, label: string) => request<Correction>('PATCH', regionPath(id), { json: { label }, admin: true });

export const setPrimaryRegion = (id: string) => request<Correction>('PATCH', regionPath(id), { json: { is_primary: true }, admin: true });

export const deleteRegion = (id: string) => request<Answer<'/api/v1/admin/regions/{id}', 'delete'>>('DELETE', regionPath(id), { admin: true });
