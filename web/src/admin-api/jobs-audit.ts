// Admin API calls of the audit log, the job dashboard and the product tools (merge, image
// move, field edits): every call carries the admin headers, and each answer is typed from
// the OpenAPI document.
import { API, request, type Query } from '../api';
import type { components } from '../api-types';
import type { Answer } from '../types';

type Schemas = components['schemas'];
export type AuditEntry = Schemas['AuditEntry'];
export type AuditAction = Schemas['AuditAction'];
export type AuditPage = Answer<'/api/v1/admin/audit', 'get'>;
export type Correction = Schemas['Correction'];
export type JobStats = Schemas['JobStats'];
export type QueueStats = Schemas['QueueStats'];
export type RetryFailed = Answer<'/api/v1/admin/jobs/retry-failed', 'post'>;
export type ProductPatch = Schemas['ProductPatch'];

const id = (value: string) => encodeURIComponent(value);

export const AUDIT_ACTIONS: AuditAction[] = ['region.update', 'region.delete', 'product.update', 'product.merge', 'image.move', 'undo', 'reindex'];

export const listAudit = (query: Query, signal?: AbortSignal) => request<AuditPage>('GET', `${API}/admin/audit`, { query, signal, admin: true });

export const undoAudit = (auditId: string) =>
  request<Answer<'/api/v1/admin/audit/{id}/undo', 'post'>>('POST', `${API}/admin/audit/${id(auditId)}/undo`, { admin: true });

export const jobStats = (signal?: AbortSignal) => request<JobStats>('GET', `${API}/admin/jobs/stats`, { signal, admin: true });

export const retryFailedJobs = (kind?: string) =>
  request<RetryFailed>('POST', `${API}/admin/jobs/retry-failed`, { json: kind ? { kind } : {}, admin: true });

export const pauseQueue = () => request<Answer<'/api/v1/admin/queue/pause', 'post'>>('POST', `${API}/admin/queue/pause`, { admin: true });
export const resumeQueue = () => request<Answer<'/api/v1/admin/queue/resume', 'post'>>('POST', `${API}/admin/queue/resume`, { admin: true });

/** Merges `from` into `survivor` (from's images move, from is soft-deleted). */
export const mergeProducts = (survivor: string, from: string) =>
  request<Answer<'/api/v1/admin/products/{id}/merge', 'post'>>('POST', `${API}/admin/products/${id(survivor)}/merge`, { json: { from }, admin: true });

export const moveImage = (imageId: string, productId: string) =>
  request<Answer<'/api/v1/admin/images/{id}/move', 'post'>>('POST', `${API}/admin/images/${id(imageId)}/move`, { json: { product_id: productId }, admin: true });

export const patchProduct = (productId: string, patch: ProductPatch) =>
  request<Answer<'/api/v1/admin/products/{id}', 'patch'>>('PATCH', `${API}/admin/products/${id(productId)}`, { json: patch, admin: true });
