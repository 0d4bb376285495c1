// Sums what .ci/run ran: vitest JSON reports, Deno's JUnit XML, and {passed, failed} JSON files.
// A report that is missing counts as one failure, so a suite that crashed cannot look green.
import { existsSync, readFileSync } from "node:fs";

const dir = process.argv[2] ?? ".ci/out";
let passed = 0;
let failed = 0;

function vitest(file) {
  if (!existsSync(file)) return void ((failed += 1), console.log(`missing report: ${file}`));
  const r = JSON.parse(readFileSync(file, "utf8"));
  passed += r.numPassedTests;
  failed +=
    r.numFailedTests + (r.numTotalTestSuites > 0 && r.success === false && r.numFailedTests === 0 ? 1 : 0);
  console.log(
    `${file}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`,
  );
}

function junit(file) {
  if (!existsSync(file)) return void ((failed += 1), console.log(`missing report: ${file}`));
  const xml = readFileSync(file, "utf8");
  const cases = (xml.match(/<testcase\b/g) ?? []).length;
  const failures = (xml.match(/<failure\b/g) ?? []).length + (xml.match(/<error\b/g) ?? []).length;
  passed += cases - failures;
  failed += failures;
  console.log(`${file}: ${cases - failures} passed, ${failures} failed`);
}

function counts(file) {
  if (!existsSync(file)) return void ((failed += 1), console.log(`missing report: ${file}`));
  const r = JSON.parse(readFileSync(file, "utf8"));
  passed += r.passed;
  failed += r.failed;
  console.log(`${file}: ${r.passed} passed, ${r.failed} failed`);
}

for (const guard of ["lint", "format", "typecheck", "boundaries", "generated", "pack"])
  counts(`${dir}/${guard}.json`);
vitest(`${dir}/vitest.json`);
vitest(`${dir}/vitest-slow.json`);
vitest(`${dir}/browser.json`);
junit(`${dir}/deno.xml`);
counts(`${dir}/docs.json`);
counts(`${dir}/examples.json`);
counts(`${dir}/bench.json`);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
