import { defineConfig } from "vitest/config";

// The browser check of the benchmark report: needs Debian's chromium, so it runs apart from
// `npm test` (`npm run test:browser`; .ci/run installs chromium and runs it).
export default defineConfig({
  test: {
    include: ["test/browser/**/*.browser.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
