import { describe, expect, it } from 'vitest';
import { cropUrl, imageUrl, withQuery } from './api';

describe('withQuery', () => {
  it('skips empty values and repeats arrays', () => {
    expect(withQuery('/api/v1/products', { q: 'oat milk', category: '', limit: 24, offset: 0, x: undefined, y: null })).toBe('/api/v1/products?q=oat+milk&limit=24&offset=0');
    expect(withQuery('/s', { label: ['brand=Oatly', 'size=1l'] })).toBe('/s?label=brand%3DOatly&label=size%3D1l');
    expect(withQuery('/s')).toBe('/s');
    expect(withQuery('/s', {})).toBe('/s');
  });
  it('builds byte URLs', () => {
    expect(imageUrl('abc')).toBe('/api/v1/images/abc/content');
    expect(cropUrl('r/1')).toBe('/api/v1/regions/r%2F1/crop');
  });
});
