import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The Python server (`watchkeeper serve`) listens here during development.
const API_SERVER = "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    // Served by the FastAPI app at "/" with assets under "/assets/".
    outDir: "../watchkeeper/api/static",
    emptyOutDir: true,
    assetsDir: "assets",
  },
  server: {
    host: "127.0.0.1",
    port: 5173,
    proxy: {
      "/api": { target: API_SERVER, ws: true },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
