// Admin API calls of the region editor: change a region (label, primary, box), draw one,
// delete one, and follow the sync job a correction queued (GET /api/v1/jobs/{id}).
import { API, request } from '../api';
import type { Answer, Box } from '../types';

export type Correction = Answer<'/api/v1/admin/regions/{id}', 'patch'>;
export type RegionCreated = Answer<'/api/v1/admin/images/{id}/regions', 'post', 201>;
export type JobDetails = Answer<'/api/v1/jobs/{id}', 'get'>;

export interface RegionChanges {
  label?: string;
  is_primary?: boolean;
  box?: Box;
}

export const updateRegion = (id: string, changes: RegionChanges, signal?: AbortSignal) =>
  request<Correction>('PATCH', `${API}/admin/regions/${encodeURIComponent(id)}`, { json: changes, signal, admin: true });

export const deleteRegion = (id: string, signal?: AbortSignal) =>
  request<Correction>('DELETE', `${API}/admin/regions/${encodeURIComponent(id)}`, { signal, admin: true });

export const drawRegion = (imageId: string, region: RegionChanges & { box: Box }, signal?: AbortSignal) =>
  request<RegionCreated>('POST', `${API}/admin/images/${encodeURIComponent(imageId)}/regions`, { json: region, signal, admin: true });

export const getJob = (id: string, signal?: AbortSignal) =>
  request<JobDetails>('GET', `${API}/jobs/${encodeURIComponent(id)}`, { signal });
