// The Visor API client: JSON requests with fetch, uploads with XMLHttpRequest (for upload
// progress events), every failure an ApiError.
import { adminHeaders } from './lib/admin-session';
import { ApiError, parseApiError } from './lib/errors';
import type { Answer } from './types';

export const API = '/api/v1';

export type Query = Record<string, string | number | undefined | null | (string | number)[]>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, String(v)));
    else params.append(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(
  method: string,
  path: string,
  options: { query?: Query; json?: unknown; signal?: AbortSignal; admin?: boolean } = {},
): Promise<T> {
  let response: Response;
  const headers: Record<string, string> = { Accept: 'application/json', ...(options.admin ? adminHeaders() : {}) };
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
      signal: options.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw parseApiError(0, '');
  }
  const text = await response.text();
  if (!response.ok) throw parseApiError(response.status, text, response.headers.get('X-Request-Id'));
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(response.status, 'bad_response', 'The server sent an answer that is not JSON');
  }
}

export interface UploadProgress {
  loaded: number;
  total: number;
  /** 0..1, or null when the size is unknown */
  fraction: number | null;
}

export interface UploadResult<T> {
  status: number;
  body: T;
}

/** POSTs a multipart form with upload progress; resolves on 2xx, rejects with ApiError. */
export function upload<T>(
  path: string,
  form: FormData,
  options: { onProgress?: (p: UploadProgress) => void; signal?: AbortSignal } = {},
): Promise<UploadResult<T>> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (event) => {
      options.onProgress?.({
        loaded: event.loaded,
        total: event.total,
        fraction: event.lengthComputable && event.total > 0 ? event.loaded / event.total : null,
      });
    };
    xhr.onload = () => {
      const requestId = xhr.getResponseHeader('X-Request-Id');
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(parseApiError(xhr.status, xhr.responseText, requestId));
        return;
      }
      try {
        resolve({ status: xhr.status, body: (xhr.responseText ? JSON.parse(xhr.responseText) : undefined) as T });
      } catch {
        reject(new ApiError(xhr.status, 'bad_response', 'The server sent an answer that is not JSON', requestId));
      }
    };
    xhr.onerror = () => reject(parseApiError(0, ''));
    xhr.onabort = () => reject(new DOMException('The upload was cancelled', 'AbortError'));
    xhr.ontimeout = () => reject(new ApiError(0, 'timeout', 'The upload timed out'));
    if (options.signal) {
      if (options.signal.aborted) {
        reject(new DOMException('The upload was cancelled', 'AbortError'));
        return;
      }
      options.signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(form);
  });
}

// ---- routes ----------------------------------------------------------------------------

export const imageUrl = (imageId: string) => `${API}/images/${encodeURIComponent(imageId)}/content`;
export const cropUrl = (regionId: string) => `${API}/regions/${encodeURIComponent(regionId)}/crop`;
export const searchImageUrl = (searchId: string) => `${API}/searches/${encodeURIComponent(searchId)}/image`;

export const listProducts = (query: Query, signal?: AbortSignal) =>
  request<Answer<'/api/v1/products', 'get'>>('GET', `${API}/products`, { query, signal });

export const getProduct = (id: string, signal?: AbortSignal) =>
  request<Answer<'/api/v1/products/{id}', 'get'>>('GET', `${API}/products/${encodeURIComponent(id)}`, { signal });

export const listCategories = (signal?: AbortSignal) =>
  request<Answer<'/api/v1/categories', 'get'>>('GET', `${API}/categories`, { signal });

export const createProduct = (form: FormData, onProgress?: (p: UploadProgress) => void, signal?: AbortSignal) =>
  upload<Answer<'/api/v1/products', 'post', 201>>(`${API}/products`, form, { onProgress, signal });

/** Checks an admin token (and the name to act as) against an admin route: resolves, or rejects with 401/403. */
export const checkAdmin = (token: string, actor: string) =>
  fetch(`${API}/admin/queue`, { headers: { Accept: 'application/json', ...adminHeaders({ token, actor }) } }).then(async (response) => {
    if (!response.ok) throw parseApiError(response.status, await response.text(), response.headers.get('X-Request-Id'));
  });

export const listJobs = (query: Query, signal?: AbortSignal) => request<Answer<'/api/v1/jobs', 'get'>>('GET', `${API}/jobs`, { query, signal });

export const retryJob = (id: string) => request<Answer<'/api/v1/jobs/{id}/retry', 'post'>>('POST', `${API}/jobs/${encodeURIComponent(id)}/retry`);
export const cancelJob = (id: string) => request<Answer<'/api/v1/jobs/{id}/cancel', 'post'>>('POST', `${API}/jobs/${encodeURIComponent(id)}/cancel`);

/** Submits a search; 200 with the whole search when it finished within `wait`, else 202. */
export const submitSearch = (form: FormData, wait: number, onProgress?: (p: UploadProgress) => void, signal?: AbortSignal) =>
  upload<Answer<'/api/v1/searches', 'post'>>(withQuery(`${API}/searches`, { wait }), form, { onProgress, signal });

export const getSearch = (id: string, wait: number, signal?: AbortSignal) =>
  request<Answer<'/api/v1/searches/{id}', 'get'>>('GET', `${API}/searches/${encodeURIComponent(id)}`, { query: { wait }, signal });

export const similarProducts = (id: string, query: Query, signal?: AbortSignal) =>
  request<Answer<'/api/v1/products/{id}/similar', 'get'>>('GET', `${API}/products/${encodeURIComponent(id)}/similar`, { query, signal });
