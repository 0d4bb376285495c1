// A real cluster: 4 validator processes over TCP on loopback, each with its file WAL. One is
// killed with SIGKILL mid-run and restarted: the chain goes on, the restarted node catches up
// from its log and its peers, and no validator ever signs two different values for one slot.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const N = 4;
const dir = mkdtempSync(join(tmpdir(), "chaindb-consensus-cluster-"));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("consensus cluster (processes, TCP, SIGKILL)", () => {
  it("goes on after a SIGKILL, the restarted validator catches up, nobody double-signs", async () => {
    const ports = await Promise.all(Array.from({ length: N }, freePort));
    const heights = Array<number>(N).fill(0);
    const signed = new Map<string, string>();
    const problems: string[] = [];
    const restoredFrom: number[] = [];
    const spawnNode = (i: number) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "test/helpers/consensus-cluster-node.ts", String(i), dir, ports.join(",")],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      children.push(child);
      let buffer = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        buffer += chunk.toString();
        for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
          const line = JSON.parse(buffer.slice(0, nl)) as {
            height?: number;
            slot?: string;
            id?: string;
            restored?: boolean;
          };
          buffer = buffer.slice(nl + 1);
          if (line.restored === true) restoredFrom.push(line.height!);
          if (line.height !== undefined) heights[i] = Math.max(heights[i]!, line.height);
          if (line.slot !== undefined) {
            if ((signed.get(line.slot) ?? line.id) !== line.id) problems.push(`double sign at ${line.slot}`);
            signed.set(line.slot, line.id!);
          }
        }
      });
      child.stderr!.on("data", (chunk: Buffer) => problems.push(`v${i}: ${chunk.toString().slice(0, 500)}`));
      return child;
    };
    const until = (done: () => boolean, ms: number) =>
      new Promise<boolean>((resolve) => {
        const t0 = Date.now();
        const check = () =>
          done() ? resolve(true) : Date.now() - t0 > ms ? resolve(false) : setTimeout(check, 50);
        check();
      });

    const nodes = Array.from({ length: N }, (_, i) => spawnNode(i));
    expect(
      await until(() => Math.min(...heights) >= 3, 60_000),
      `heights ${heights}; ${problems.join("; ")}`,
    ).toBe(true);
    nodes[2]!.kill("SIGKILL");
    await until(() => nodes[2]!.exitCode !== null || nodes[2]!.signalCode !== null, 5_000);
    const atKill = heights[2]!;
    const others = () => Math.min(...heights.filter((_, i) => i !== 2));
    expect(
      await until(() => others() >= Math.max(...heights) && others() >= atKill + 3, 60_000),
      `heights ${heights}`,
    ).toBe(true);
    nodes[2] = spawnNode(2);
    const target = Math.max(...heights) + 2;
    expect(
      await until(() => Math.min(...heights) >= target, 60_000),
      `heights ${heights} (target ${target}); ${problems.join("; ")}`,
    ).toBe(true);
    for (const c of nodes) c.kill("SIGTERM");
    expect(restoredFrom).toHaveLength(1); // the restarted process resumed from its own WAL
    expect(restoredFrom[0]).toBeGreaterThanOrEqual(3);
    expect(problems).toEqual([]);
    expect(signed.size).toBeGreaterThan(N * 3);
  }, 180_000);
});
