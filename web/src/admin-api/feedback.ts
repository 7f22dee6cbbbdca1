// Admin API calls of match feedback: confirm or reject one match of a search's query region
// (POST /admin/searches/{id}/feedback), and undo it (POST /admin/audit/{id}/undo).
import { API, request } from '../api';
import type { components } from '../api-types';
import type { Answer } from '../types';

export type FeedbackInput = components['schemas']['FeedbackInput'];
export type Verdict = FeedbackInput['verdict'];
export type Correction = Answer<'/api/v1/admin/searches/{id}/feedback', 'post'>;

export const sendMatchFeedback = (searchId: string, input: FeedbackInput) =>
  request<Correction>('POST', `${API}/admin/searches/${encodeURIComponent(searchId)}/feedback`, { json: input, admin: true });

export const undoMatchFeedback = (auditId: string) =>
  request<Answer<'/api/v1/admin/audit/{id}/undo', 'post'>>('POST', `${API}/admin/audit/${encodeURIComponent(auditId)}/undo`, { admin: true });
