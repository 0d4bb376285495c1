// Node 20 cannot run .ts worker files: when chaindb runs from sources (vitest, tsx), a worker
// starts here, registers tsx, then imports its .ts entry. Compiled workers (dist/*.js) skip this.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.chaindbTsEntry);
