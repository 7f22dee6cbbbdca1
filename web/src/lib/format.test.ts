import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatPercent, formatPrice, formatRange, formatRelativeTime, formatScore, regionCaption, regionName } from './format';

describe('format', () => {
  it('formatPrice', () => {
    expect(formatPrice(1.5, 'EUR')).toBe('€1.50');
    expect(formatPrice(12, 'USD')).toBe('$12.00');
    expect(formatPrice(3, null)).toBe('3.00');
    expect(formatPrice(null, 'EUR')).toBe('');
    expect(formatPrice(2, 'eu')).toBe('2.00 eu');
  });
  it('formatScore', () => {
    expect(formatScore(0.87345)).toBe('0.873');
    expect(formatScore(-0.1)).toBe('-0.100');
    expect(formatScore(null)).toBe('–');
  });
  it('formatPercent clamps', () => {
    expect(formatPercent(0.456)).toBe('46%');
    expect(formatPercent(1.2)).toBe('100%');
    expect(formatPercent(-1)).toBe('0%');
    expect(formatPercent(null)).toBe('0%');
  });
  it('formatDuration', () => {
    expect(formatDuration(12.4)).toBe('12 ms');
    expect(formatDuration(1234)).toBe('1.23 s');
    expect(formatDuration(12_345)).toBe('12.3 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
    expect(formatDuration(undefined)).toBe('–');
  });
  it('formatBytes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(6093)).toBe('6.0 KB');
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MB');
  });
  it('formatRelativeTime', () => {
    const now = Date.parse('2026-11-24T10:00:00Z');
    expect(formatRelativeTime('2026-11-24T09:59:59.500Z', now)).toBe('just now');
    expect(formatRelativeTime('2026-11-24T09:59:30Z', now)).toBe('30 s ago');
    expect(formatRelativeTime('2026-11-24T09:55:00Z', now)).toBe('5 min ago');
    expect(formatRelativeTime('2026-11-24T07:00:00Z', now)).toBe('3 h ago');
    expect(formatRelativeTime('2026-11-20T07:00:00Z', now)).toBe('2026-11-20 07:00');
    expect(formatRelativeTime(null, now)).toBe('–');
  });
  it('formatRange', () => {
    expect(formatRange(0, 24, 57)).toBe('1–24 of 57');
    expect(formatRange(48, 9, 57)).toBe('49–57 of 57');
    expect(formatRange(0, 0, 0)).toBe('0 of 0');
  });
  it('regionName', () => {
    expect(regionName({ label: 'banana', detector_label: 'banana' })).toBe('banana');
    expect(regionName({ label: null, detector_label: 'bottle' })).toBe('bottle');
    expect(regionName({})).toBe('Object');
    expect(regionName({ whole_image: true, label: 'carton' })).toBe('Whole image (carton)');
  });
  it('regionCaption takes the surer of the labeller and the detector', () => {
    expect(regionCaption({ label: "jack-o'-lantern", label_score: 0.1, detector_label: 'orange', detector_score: 0.59 })).toEqual({ name: 'orange', score: 0.59 });
    expect(regionCaption({ label: 'banana', label_score: 0.95, detector_label: 'banana', detector_score: 0.6 })).toEqual({ name: 'banana', score: 0.95 });
    expect(regionCaption({ whole_image: true, label: 'ear', label_score: 0.4 })).toEqual({ name: 'Whole image (ear)', score: 0.4 });
    expect(regionCaption({ detector_label: 'bottle', detector_score: 0.5 })).toEqual({ name: 'bottle', score: 0.5 });
    expect(regionCaption({})).toEqual({ name: 'Object', score: null });
  });
});
