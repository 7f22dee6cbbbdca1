// Drawing a box on an annotated image by dragging (mouse, pen or touch): a layer over the
// image that, while drawing is on, turns a drag into a box in original-image pixels.
import { h } from '../dom';
import type { Box, Size } from '../types';

/** Boxes smaller than this many original pixels a side are ignored (the API's minimum). */
export const MIN_BOX_SIDE = 8;

export interface BoxDrawing {
  /** the layer to put inside the image's frame */
  el: HTMLElement;
  setActive(active: boolean): void;
}

/** Clamps the rectangle between two points (original pixels) to the image. */
export function boxBetween(a: { x: number; y: number }, b: { x: number; y: number }, size: Size): Box {
  const clamp = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  const x0 = clamp(Math.min(a.x, b.x), size.width);
  const y0 = clamp(Math.min(a.y, b.y), size.height);
  const x1 = clamp(Math.max(a.x, b.x), size.width);
  const y1 = clamp(Math.max(a.y, b.y), size.height);
  return { x: Math.round(x0), y: Math.round(y0), w: Math.round(x1 - x0), h: Math.round(y1 - y0) };
}

export function boxDrawing(size: Size, onBox: (box: Box) => void): BoxDrawing {
  const outline = h('div', { class: 'draw-box', hidden: true });
  const layer = h('div', { class: 'draw-layer', hidden: true, 'aria-hidden': 'true' }, outline);
  let start: { x: number; y: number } | null = null;
  const toImage = (e: PointerEvent) => {
    const rect = layer.getBoundingClientRect();
    return { x: ((e.clientX - rect.left) / rect.width) * size.width, y: ((e.clientY - rect.top) / rect.height) * size.height };
  };
  const show = (box: Box) => {
    outline.hidden = false;
    Object.assign(outline.style, {
      left: `${(box.x / size.width) * 100}%`,
      top: `${(box.y / size.height) * 100}%`,
      width: `${(box.w / size.width) * 100}%`,
      height: `${(box.h / size.height) * 100}%`,
    });
  };
  layer.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    start = toImage(e);
    layer.setPointerCapture(e.pointerId);
    show({ x: start.x, y: start.y, w: 0, h: 0 });
  });
  layer.addEventListener('pointermove', (e) => {
    if (start) show(boxBetween(start, toImage(e), size));
  });
  const finish = (e: PointerEvent, cancelled: boolean) => {
    if (!start) return;
    const box = boxBetween(start, toImage(e), size);
    start = null;
    if (cancelled || box.w < MIN_BOX_SIDE || box.h < MIN_BOX_SIDE) {
      outline.hidden = true;
      return;
    }
    onBox(box);
  };
  layer.addEventListener('pointerup', (e) => finish(e, false));
  layer.addEventListener('pointercancel', (e) => finish(e, true));
  return {
    el: layer,
    setActive(active: boolean) {
      layer.hidden = !active;
      if (!active) outline.hidden = true;
    },
  };
}
