// An image with its detected regions drawn as labelled boxes. The wrapper keeps the
// image's aspect ratio (width/height attributes), so nothing jumps while it loads, and the
// boxes are placed in percentages of the original image, so they follow any resize. Each
// box is a button when the caller can select regions.
import { h } from '../dom';
import { boxPercent, isWholeImage, regionColor } from '../lib/boxes';
import { formatScore } from '../lib/format';
import type { Box, Size } from '../types';

export interface Annotation {
  box: Box;
  label: string;
  score?: number | null;
  /** colour index */
  index: number;
}

export interface AnnotatedImage {
  el: HTMLElement;
  select(index: number | null): void;
}

export function annotatedImage(options: {
  src: string;
  alt: string;
  size: Size;
  annotations: Annotation[];
  onSelect?: (index: number) => void;
  selected?: number | null;
  maxHeight?: string;
}): AnnotatedImage {
  const { size, annotations } = options;
  const img = h('img', {
    src: options.src,
    alt: options.alt,
    width: String(size.width),
    height: String(size.height),
    decoding: 'async',
    class: 'annotated-img',
  });
  const boxes: HTMLElement[] = [];
  const layer = h('div', { class: 'box-layer' });
  // Smaller boxes sit above larger ones, so each can be clicked (and hovered).
  const byArea = annotations.map((a, i) => ({ i, area: a.box.w * a.box.h })).sort((p, q) => q.area - p.area);
  const zIndex = new Map(byArea.map((e, rank) => [e.i, rank + 1]));
  annotations.forEach((a, i) => {
    const p = boxPercent(a.box, size);
    const whole = isWholeImage(a.box, size);
    const caption = `${a.label}${a.score !== undefined && a.score !== null ? ` ${formatScore(a.score)}` : ''}`;
    const style = {
      left: `${p.left}%`,
      top: `${p.top}%`,
      width: `${p.width}%`,
      height: `${p.height}%`,
      '--box-color': regionColor(a.index),
      zIndex: String(zIndex.get(i)),
    };
    const tag = h('span', { class: `box-tag${p.top < 8 ? ' box-tag-inside' : ''}` }, caption);
    const box = options.onSelect
      ? h(
          'button',
          {
            type: 'button',
            class: `box${whole ? ' box-whole' : ''}`,
            style,
            'aria-label': `Show matches for ${caption}`,
            'aria-pressed': 'false',
            dataset: { index: String(i) },
            onclick: () => options.onSelect!(i),
          },
          tag,
        )
      : h('div', { class: `box${whole ? ' box-whole' : ''}`, style, role: 'img', 'aria-label': caption }, tag);
    boxes.push(box);
    layer.appendChild(box);
  });
  const el = h(
    'figure',
    { class: 'annotated', style: options.maxHeight ? { '--max-h': options.maxHeight } : undefined },
    h('div', { class: 'annotated-frame', style: { aspectRatio: `${size.width} / ${size.height}`, '--natural-w': `${size.width * 2}px` } }, img, layer),
  );
  const select = (index: number | null) => {
    boxes.forEach((b, i) => {
      b.classList.toggle('box-selected', i === index);
      if (options.onSelect) b.setAttribute('aria-pressed', String(i === index));
    });
  };
  select(options.selected ?? null);
  return { el, select };
}
