// Client-side routing with the History API. Each page gets the element to render into and
// an AbortSignal that fires when the person navigates away (to stop polling and requests).

export interface PageContext {
  root: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
  signal: AbortSignal;
}

export type Page = (ctx: PageContext) => void | Promise<void>;

interface Route {
  pattern: RegExp;
  keys: string[];
  page: Page;
  nav: string;
}

const routes: Route[] = [];
let current: AbortController | null = null;
let root: HTMLElement;
let onRender: (nav: string) => void = () => {};

/** Registers "/products/:id" → page; `nav` names the top-level section it belongs to. */
export function route(path: string, nav: string, page: Page): void {
  const keys: string[] = [];
  const source = path.replace(/:([a-z_]+)/g, (_, key: string) => {
    keys.push(key);
    return '([^/]+)';
  });
  routes.push({ pattern: new RegExp(`^${source}/?$`), keys, page, nav });
}

export function match(pathname: string): { route: Route; params: Record<string, string> } | null {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((key, i) => (params[key] = decodeURIComponent(m[i + 1]!)));
    return { route: r, params };
  }
  return null;
}

export function start(el: HTMLElement, notFound: Page, rendered: (nav: string) => void): void {
  root = el;
  onRender = rendered;
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const a = (event.target as Element | null)?.closest?.('a');
    if (!a || a.target || a.hasAttribute('download')) return;
    const href = a.getAttribute('href');
    if (!href || !href.startsWith('/') || href.startsWith('/api/') || href.startsWith('//')) return;
    event.preventDefault();
    navigate(href);
  });
  window.addEventListener('popstate', () => render(notFound));
  notFoundPage = notFound;
  render(notFound);
}

let notFoundPage: Page;

export function navigate(url: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render(notFoundPage);
  if (!options.replace) window.scrollTo(0, 0);
}

/** Changes the URL's query without rendering again (a page keeping its state in the URL). */
export function setQuery(query: URLSearchParams): void {
  const qs = query.toString();
  history.replaceState(null, '', location.pathname + (qs ? `?${qs}` : ''));
}

function render(notFound: Page): void {
  current?.abort();
  current = new AbortController();
  const found = match(location.pathname);
  root.replaceChildren();
  const ctx: PageContext = {
    root,
    params: found?.params ?? {},
    query: new URLSearchParams(location.search),
    signal: current.signal,
  };
  onRender(found?.route.nav ?? '');
  void Promise.resolve((found?.route.page ?? notFound)(ctx)).catch((e) => {
    if (!(e instanceof DOMException && e.name === 'AbortError')) console.error(e);
  });
}
