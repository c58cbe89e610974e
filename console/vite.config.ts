import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Fixed file names (no content hashes) and no source maps, so two builds of
// the same sources give the same bytes: CI rebuilds and compares with the
// copy committed under internal/httpapi/console/dist.
export default defineConfig({
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    cssCodeSplit: false,
    modulePreload: false,
    reportCompressedSize: true,
    rollupOptions: {
      output: {
        entryFileNames: "assets/app.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
});
