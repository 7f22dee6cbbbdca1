// Vite builds the SPA into dist/ (served by `visor serve --web-dir web/dist`).
// `npm run dev` proxies /api, /healthz and /readyz to a running server: set VISOR_API
// (default http://localhost:8080).
import { defineConfig } from 'vitest/config';

const api = process.env.VISOR_API ?? 'http://localhost:8080';

export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No source maps in the production build (the server refuses *.map anyway).
    sourcemap: false,
  },
  server: {
    proxy: {
      '/api': api,
      '/healthz': api,
      '/readyz': api,
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
