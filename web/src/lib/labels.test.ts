import { describe, expect, it } from 'vitest';
import { labelPairs, labelsFromRows, parseLabelText, rowsFromLabels } from './labels';

describe('labelsFromRows', () => {
  it('builds the labels object, trimming and skipping blank rows', () => {
    expect(labelsFromRows([{ key: ' brand ', value: ' Oatly ' }, { key: '', value: '' }, { key: 'size', value: '1l' }])).toEqual({
      labels: { brand: 'Oatly', size: '1l' },
      errors: [],
    });
  });
  it('reports an empty name, a duplicate and a name with =', () => {
    const r = labelsFromRows([
      { key: '', value: 'x' },
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
      { key: 'b=c', value: '3' },
    ]);
    expect(r.labels).toEqual({ a: '1' });
    expect(r.errors).toEqual(["label 1: the name is empty", "label 3: 'a' is given twice", "label 4: the name must not contain '='"]);
  });
  it('checks the lengths and the count', () => {
    expect(labelsFromRows([{ key: 'k'.repeat(65), value: 'v' }]).errors[0]).toMatch(/longer than 64/);
    expect(labelsFromRows([{ key: 'k', value: 'v'.repeat(257) }]).errors[0]).toMatch(/longer than 256/);
    const many = Array.from({ length: 33 }, (_, i) => ({ key: `k${i}`, value: 'v' }));
    expect(labelsFromRows(many).errors).toEqual(['at most 32 labels']);
  });
  it('allows an empty value', () => {
    expect(labelsFromRows([{ key: 'organic', value: '' }]).labels).toEqual({ organic: '' });
  });
});

describe('parseLabelText', () => {
  it('reads comma- or line-separated key=value', () => {
    expect(parseLabelText('brand=Oatly, size = 1l\ncolour=blue=ish')).toEqual({
      labels: { brand: 'Oatly', size: '1l', colour: 'blue=ish' },
      errors: [],
    });
  });
  it('reports an item without =', () => {
    expect(parseLabelText('brand').errors).toEqual(["'brand' is not key=value"]);
  });
  it('gives nothing for blank text', () => {
    expect(parseLabelText('  , \n')).toEqual({ labels: {}, errors: [] });
  });
});

describe('round trips', () => {
  it('rowsFromLabels and labelPairs', () => {
    expect(rowsFromLabels({ a: '1' })).toEqual([{ key: 'a', value: '1' }]);
    expect(rowsFromLabels(null)).toEqual([]);
    expect(labelPairs({ brand: 'Oatly', size: '1l' })).toEqual(['brand=Oatly', 'size=1l']);
  });
});
