import { describe, expect, it } from "vitest";
import { spawnWorker, workerUrl } from "../../bindings/runtime/index.ts";

describe("runtime workers", () => {
  it("starts a .ts worker from sources, shares a SharedArrayBuffer, and echoes", async () => {
    const url = workerUrl(new URL("../helpers/echo.ts", import.meta.url).href, "echo-worker");
    expect(url.pathname.endsWith("helpers/echo-worker.ts")).toBe(true);
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const reply = await new Promise((resolve, reject) => {
      const worker = spawnWorker(url, {
        onMessage: (m) => {
          resolve(m);
          void worker.terminate();
        },
        onError: reject,
      });
      worker.postMessage({ counter, value: 42 });
    });
    expect(reply).toEqual({ echo: 42 });
    expect(counter[0]).toBe(1);
  });

  it("picks .js next to compiled callers", () => {
    expect(workerUrl("file:///x/dist/a/b.js", "w").href).toBe("file:///x/dist/a/w.js");
  });
});
