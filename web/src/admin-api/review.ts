// Admin API calls of the review queue page: the queue's lists and the labels in use (the
// region corrections it makes are in regions.ts).
import { API, request } from '../api';
import type { Answer } from '../types';

export type ReviewKind = 'regions' | 'products' | 'searches';
export type ReviewPage = Answer<'/api/v1/admin/review', 'get'>;
export type ReviewItem = ReviewPage['items'][number];
export type KnownLabels = Answer<'/api/v1/admin/review/labels', 'get'>;

export const listReview = (kind: ReviewKind, limit: number, offset: number, signal?: AbortSignal) =>
  request<ReviewPage>('GET', `${API}/admin/review`, { query: { kind, limit, offset }, signal, admin: true });

export const knownLabels = (signal?: AbortSignal) => request<KnownLabels>('GET', `${API}/admin/review/labels`, { signal, admin: true });
