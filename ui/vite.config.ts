import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The app is served from the Tauri binary (ui/dist is embedded at compile time), so
// the build must not rely on a dev server; `npm run dev` is only for working on the UI.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: {
    // WebKitGTK 2.40+ (Debian 12) and current WebView2/WKWebView all take ES2021.
    target: "es2021",
    outDir: "dist",
    emptyOutDir: true,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
    // The unit tests are of pure functions (no mocks, no globals), so the files share one
    // module graph instead of each loading its own: 2 s instead of 7 s, most of it the
    // isolation. A test that needs its own module state has to reset it itself.
    isolate: false,
  },
});
