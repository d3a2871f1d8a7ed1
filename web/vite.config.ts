import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const portal = 'http://localhost:8000';

// React without @vitejs/plugin-react: esbuild compiles JSX with the automatic runtime.
export default defineConfig({
  root,
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
  },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: portal, changeOrigin: false },
      '/metrics': { target: portal },
      '/auth': { target: portal },
      '/user': { target: portal, ws: true },
    },
  },
});
