/// <reference types="vitest" />
import { defineConfig } from 'vite';

// The API (and /config.json) run on `make dev` at 127.0.0.1:8080; `npm run dev` proxies to it
// so that the portal is same-origin during development (the API has no CORS).
const api = process.env.ATELIER_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  server: {
    proxy: {
      '/v1': api,
      '/config.json': api,
      '/_local': api,
    },
  },
  build: { sourcemap: false },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    // Type-level tests (src/**/*.test-d.ts): the generated API types refuse what the document
    // does not say. Needs src/generated/openapi.ts (README "API types").
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts'] },
  },
});
