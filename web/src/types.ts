// Shapes of the Visor REST API (docs/API.md). Only what the web app reads.

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Size {
  width: number;
  height: number;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobSummary {
  id: string;
  status: JobStatus;
  progress: number | null;
  attempts: number;
  error: string | null;
}

export interface Job extends JobSummary {
  kind: string;
  subject_id: string | null;
  payload: Record<string, unknown> | null;
  max_attempts: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface RegionLabel {
  name: string;
  score: number;
}

export interface Region {
  id: string;
  image_id: string;
  product_id: string | null;
  box: Box;
  whole_image: boolean;
  label: string | null;
  label_score: number | null;
  labels?: RegionLabel[];
  detector_label: string | null;
  detector_score: number | null;
  source: 'model' | 'admin';
  is_primary: boolean;
  model: string | null;
  crop_url?: string;
}

export interface ProductImage {
  id: string;
  product_id: string;
  filename: string | null;
  content_type: string;
  width: number;
  height: number;
  format: string;
  size_bytes: number;
  status: 'pending' | 'indexed' | 'failed';
  job_id: string | null;
  created_at: string;
  job?: JobSummary;
  regions?: Region[];
}

export interface Product {
  id: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  labels: Record<string, string>;
  price: number | null;
  currency: string | null;
  created_at: string;
  updated_at: string;
}

export interface ProductListItem extends Product {
  thumbnail_image_id: string | null;
  image_count: number;
}

export interface ProductDetails extends Product {
  images: ProductImage[];
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Category {
  name: string;
  product_count: number;
}

export interface ProductBrief {
  id: string;
  sku: string;
  name: string;
  category: string;
  price: number | null;
  currency: string | null;
  thumbnail_image_id: string | null;
}

export interface SearchHit {
  rank: number;
  score: number;
  product_id: string;
  region_id: string;
  crop_url?: string;
  product: ProductBrief;
}

export interface SearchRegion {
  ordinal: number;
  box: Box;
  whole_image: boolean;
  label: string | null;
  label_score: number | null;
  detector_label: string | null;
  detector_score: number | null;
  results: SearchHit[];
}

export interface SearchProduct extends SearchHit {
  query_ordinal: number;
}

export type SearchStatus = 'queued' | 'running' | 'done' | 'failed';

export interface Search {
  id: string;
  job_id?: string;
  status: SearchStatus;
  k?: number;
  filters?: { category?: string[]; label?: string[] | Record<string, string> } | null;
  error?: string | null;
  duration_ms?: number | null;
  created_at?: string;
  image?: { id: string; width: number; height: number };
  regions?: SearchRegion[];
  products?: SearchProduct[];
}

export interface ApiErrorBody {
  error: { code: string; message: string; request_id?: string };
}
