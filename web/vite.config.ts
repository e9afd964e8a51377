// Vite build of grove's browser UI. `make` runs `npm run build -- --outDir <build>/web`; the
// server serves that folder (see apps/server/server.h, find_web_assets).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    target: "es2022",
    sourcemap: true,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    // `npm run dev` against a running server: GROVE_API=http://127.0.0.1:8080
    proxy: process.env.GROVE_API ? { "/api": process.env.GROVE_API } : undefined,
  },
});
