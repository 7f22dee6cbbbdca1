// Shapes of the Visor REST API, generated at build time from the served OpenAPI document
// (src/api/openapi.json → src/api-types.ts by openapi-typescript, `npm run gen:types`), so
// the build fails when the client reads something the server does not send. These are
// thin names for the generated schemas, plus Size, which is the app's own.
import type { components, paths } from './api-types';

type Schemas = components['schemas'];

/** The JSON answer of route P with method M and status S, as the document describes it. */
export type Answer<P extends keyof paths, M extends keyof paths[P], S extends number = 200> = paths[P][M] extends {
  responses: infer R;
}
  ? S extends keyof R
    ? R[S] extends { content: { 'application/json': infer T } }
      ? T
      : never
    : never
  : never;

export type Box = Schemas['Box'];
export type JobStatus = Schemas['JobStatus'];
export type JobSummary = Schemas['JobSummary'];
export type Job = Schemas['Job'];
export type JobPage = Schemas['JobPage'];
export type Region = Schemas['Region'];
export type RegionLabel = Region['labels'][number];
export type ProductImage = Schemas['ImageDetails'];
export type UploadedImage = Schemas['Image'];
export type Product = Schemas['Product'];
export type ProductListItem = Schemas['ProductListItem'];
export type ProductPage = Schemas['ProductPage'];
export type ProductDetails = Schemas['ProductDetails'];
export type IndexStatus = Product['index_status'];
export type Category = Schemas['Category'];
export type ProductBrief = Schemas['ProductBrief'];
export type SearchHit = Schemas['SearchResult'];
export type SearchRegion = Schemas['SearchRegion'];
export type SearchProduct = Schemas['SearchProduct'];
export type Search = Schemas['Search'];
export type SearchStatus = Search['status'];
export type SimilarProducts = Schemas['SimilarProducts'];
export type ApiErrorBody = Schemas['Error'];

/** Pixel size of an image as shown (not an API shape). */
export interface Size {
  width: number;
  height: number;
}
