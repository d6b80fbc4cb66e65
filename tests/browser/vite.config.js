// Builds the test page (index.html, src/) into dist/ with relative paths, so any static server
// can serve it from any folder. No dev server; JSX is compiled by Vite itself.
// Three things a Grafana server would otherwise provide or Grafana's own bundler would do:
//   - the icons of @grafana/ui, which it fetches from public/build/img/icons/ beside the page;
//   - react-custom-scrollbars-2's component as a default import (src/shims/);
//   - quiet about the "use client" directives of some React libraries, meaningless here.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = (file) => fileURLToPath(new URL(file, import.meta.url));

const grafanaIcons = {
  name: 'cprof-grafana-icons',
  apply: 'build',
  closeBundle() {
    fs.cpSync(here('node_modules/@grafana/ui/dist/public/img/icons'), here('dist/public/build/img/icons'),
      { recursive: true });
  },
};

export default defineConfig({
  base: './',
  logLevel: 'warn',
  plugins: [grafanaIcons],
  resolve: {
    alias: [
      { find: /^react-custom-scrollbars-2$/, replacement: here('src/shims/react-custom-scrollbars-2.js') },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 20000,
    minify: false,
    rolldownOptions: {
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
});
