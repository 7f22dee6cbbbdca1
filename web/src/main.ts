// The Visor web app: a shopper's visual search and a merchant's catalogue, product pages,
// product form and job list, and the admin area, on the Visor REST API.
import './styles.css';
import { h, replace } from './dom';
import { pageTitle } from './components/ui';
import { clearAdminSession, getAdminSession, onAdminSessionChange, type AdminSession } from './lib/admin-session';
import { adminHomePage, adminSignInPage } from './pages/admin';
import { adminAuditPage } from './pages/admin-audit';
import { adminJobsPage } from './pages/admin-jobs';
import { adminReviewPage } from './pages/admin-review';
import { adminReindexPage } from './pages/admin-reindex';
import { addProductPage } from './pages/add-product';
import { cataloguePage } from './pages/catalogue';
import { jobsPage } from './pages/jobs';
import { productPage } from './pages/product';
import { searchPage } from './pages/search';
import { navigate, route, start } from './router';

const NAV: [string, string, string][] = [
  ['search', '/', 'Search'],
  ['catalogue', '/catalogue', 'Catalogue'],
  ['add', '/products/new', 'Add product'],
  ['jobs', '/jobs', 'Jobs'],
  ['admin', '/admin', 'Admin'],
];

route('/', 'search', searchPage);
route('/catalogue', 'catalogue', cataloguePage);
route('/products', 'catalogue', cataloguePage);
route('/products/new', 'add', addProductPage);
route('/products/:id', 'catalogue', productPage);
route('/jobs', 'jobs', jobsPage);
route('/admin', 'admin', adminHomePage);
route('/admin/sign-in', 'admin', adminSignInPage);
route('/admin/audit', 'admin', adminAuditPage);
route('/admin/jobs', 'admin', adminJobsPage);
route('/admin/review', 'admin', adminReviewPage);
route('/admin/reindex', 'admin', adminReindexPage);

const links = NAV.map(([key, href, text]) => h('a', { href, class: 'nav-link', dataset: { nav: key } }, text));
const main = h('main', { id: 'main', tabindex: '-1' });
// Who is signed in to the admin area, with the sign-out button, in the header.
const adminStatus = h('div', { class: 'admin-status', 'aria-live': 'polite' });
const showAdmin = (session: AdminSession | null) =>
  replace(
    adminStatus,
    session
      ? [
          h('span', { class: 'admin-who' }, `Admin${session.actor ? `: ${session.actor}` : ''}`),
          h('button', { type: 'button', class: 'button button-small button-secondary', onclick: () => (clearAdminSession(), navigate('/')) }, 'Sign out'),
        ]
      : [],
  );
showAdmin(getAdminSession());
onAdminSessionChange(showAdmin);
replace(
  document.getElementById('app')!,
  h('a', { href: '#main', class: 'skip-link', onclick: (e: Event) => (e.preventDefault(), main.focus()) }, 'Skip to content'),
  h(
    'header',
    { class: 'site-header' },
    h('a', { href: '/', class: 'brand', 'aria-label': 'Visor, visual search home' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '◉'), 'Visor'),
    h('nav', { class: 'site-nav', 'aria-label': 'Main' }, links),
    adminStatus,
  ),
  main,
  h('footer', { class: 'site-footer' }, 'Visor · visual product search · ', h('a', { href: '/api/openapi.json' }, 'API')),
);

let first = true;
start(
  main,
  ({ root }) => replace(root, pageTitle('Page not found'), h('p', null, 'There is nothing at this address. ', h('a', { href: '/' }, 'Go to the search'), '.')),
  (nav) => {
    links.forEach((a) => (a.dataset.nav === nav ? a.setAttribute('aria-current', 'page') : a.removeAttribute('aria-current')));
    // After a navigation, move the focus to the page so keyboard and screen-reader users start there.
    if (!first) main.focus({ preventScroll: true });
    first = false;
  },
);
