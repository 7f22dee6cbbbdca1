import { describe, expect, it } from 'vitest';
import { boxPercent, clampBox, containRect, isWholeImage, regionColor, scaleBox } from './boxes';

describe('scaleBox: original pixels → displayed pixels', () => {
  it('scales with the displayed size when the aspect ratio is the same', () => {
    expect(scaleBox({ x: 100, y: 50, w: 200, h: 100 }, { width: 1000, height: 500 }, { width: 500, height: 250 })).toEqual({
      left: 50,
      top: 25,
      width: 100,
      height: 50,
    });
  });

  it('scales up a small image', () => {
    expect(scaleBox({ x: 10, y: 20, w: 30, h: 40 }, { width: 198, height: 198 }, { width: 396, height: 396 })).toEqual({
      left: 20,
      top: 40,
      width: 60,
      height: 80,
    });
  });

  it('adds the letterbox offset of object-fit: contain (wide element)', () => {
    // A 400x300 image in an 800x300 element: scale 1, centred with 200px each side.
    expect(scaleBox({ x: 0, y: 0, w: 400, h: 300 }, { width: 400, height: 300 }, { width: 800, height: 300 })).toEqual({
      left: 200,
      top: 0,
      width: 400,
      height: 300,
    });
  });

  it('adds the letterbox offset of object-fit: contain (tall element)', () => {
    // A 200x100 image in a 100x100 element: scale 0.5, 25px bands above and below.
    expect(scaleBox({ x: 100, y: 50, w: 100, h: 50 }, { width: 200, height: 100 }, { width: 100, height: 100 })).toEqual({
      left: 50,
      top: 50,
      width: 50,
      height: 25,
    });
  });

  it('clamps a box that spills over the image edge', () => {
    expect(scaleBox({ x: -10, y: 90, w: 50, h: 50 }, { width: 100, height: 100 }, { width: 100, height: 100 })).toEqual({
      left: 0,
      top: 90,
      width: 40,
      height: 10,
    });
  });

  it('gives an empty rect for a zero-size image or element', () => {
    const empty = { left: 0, top: 0, width: 0, height: 0 };
    expect(scaleBox({ x: 1, y: 1, w: 1, h: 1 }, { width: 0, height: 0 }, { width: 100, height: 100 })).toEqual(empty);
    expect(scaleBox({ x: 1, y: 1, w: 1, h: 1 }, { width: 10, height: 10 }, { width: 0, height: 100 })).toEqual(empty);
  });
});

describe('boxPercent', () => {
  it('gives the box as percentages of the image', () => {
    expect(boxPercent({ x: 25, y: 10, w: 50, h: 80 }, { width: 100, height: 200 })).toEqual({ left: 25, top: 5, width: 50, height: 40 });
  });
  it('rounds to 4 decimals', () => {
    expect(boxPercent({ x: 1, y: 0, w: 1, h: 3 }, { width: 3, height: 3 }).left).toBe(33.3333);
  });
  it('covers the whole image for a whole-image region', () => {
    expect(boxPercent({ x: 0, y: 0, w: 640, h: 480 }, { width: 640, height: 480 })).toEqual({ left: 0, top: 0, width: 100, height: 100 });
  });
});

describe('helpers', () => {
  it('clampBox keeps boxes inside', () => {
    expect(clampBox({ x: 90, y: 90, w: 20, h: 20 }, { width: 100, height: 100 })).toEqual({ x: 90, y: 90, w: 10, h: 10 });
    expect(clampBox({ x: 200, y: 0, w: 20, h: 20 }, { width: 100, height: 100 })).toEqual({ x: 100, y: 0, w: 0, h: 20 });
  });
  it('containRect centres the image', () => {
    expect(containRect({ width: 100, height: 50 }, { width: 100, height: 100 })).toEqual({ left: 0, top: 25, width: 100, height: 50 });
  });
  it('isWholeImage', () => {
    expect(isWholeImage({ x: 0, y: 0, w: 100, h: 100 }, { width: 100, height: 100 })).toBe(true);
    expect(isWholeImage({ x: 10, y: 10, w: 80, h: 80 }, { width: 100, height: 100 })).toBe(false);
  });
  it('regionColor cycles and never fails', () => {
    expect(regionColor(0)).toMatch(/^#[0-9a-f]{6}$/);
    expect(regionColor(10)).toBe(regionColor(0));
    expect(regionColor(-1)).toMatch(/^#/);
  });
});
