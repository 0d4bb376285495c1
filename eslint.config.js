// Type-aware lint: typescript-eslint's recommended type-checked set, plus the promise and
// exhaustiveness rules the house relies on. `npm run lint`; .ci/run runs it and counts it.
// Where a rule is relaxed, the reason is beside it.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const unsafeAny = [
  "@typescript-eslint/no-unsafe-argument",
  "@typescript-eslint/no-unsafe-assignment",
  "@typescript-eslint/no-unsafe-call",
  "@typescript-eslint/no-unsafe-member-access",
  "@typescript-eslint/no-unsafe-return",
];
const off = (rules) => Object.fromEntries(rules.map((r) => [r, "off"]));

export default tseslint.config(
  {
    ignores: [
      "assembly/**",
      "dist/**",
      "build/**",
      "docs/**",
      "node_modules/**",
      ".ci/**",
      "bench/results/**",
      "**/*.generated.ts",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true },
      ],
      // The `!` after an indexed read is deliberate: the code is written for
      // noUncheckedIndexedAccess (17 reads short of it), where each of them is needed.
      "@typescript-eslint/no-unnecessary-type-assertion": "off",
      // Async methods implement Promise-returning interfaces (Transport, stores, ledgers): a throw
      // inside them must reach the caller as a rejection, which `async` without `await` gives.
      "@typescript-eslint/require-await": "off",
      // The house writes short two-step bodies as comma sequences, `(out.set(p, at), (at += n))`,
      // and `c ? f() : g()` as statements; the harmful unused expression, an unawaited promise,
      // is no-floating-promises' job.
      "@typescript-eslint/no-unused-expressions": "off",
      // Decoders compare wire numbers with enum members on purpose (`type !== VoteType.Prevote`).
      "@typescript-eslint/no-unsafe-enum-comparison": "off",
      // `catch (e) { return Promise.reject(e) }` passes on whatever was thrown.
      "@typescript-eslint/prefer-promise-reject-errors": ["error", { allowThrowingUnknown: true }],
      // `let pool; … onReply: (m) => pool?.onReply(m) …; pool = new MinerPool(…)`: read in a closure first.
      "prefer-const": ["error", { ignoreReadBeforeAssign: true }],
      "@typescript-eslint/no-unused-vars": [
        "error",
        {
          argsIgnorePattern: "^_",
          varsIgnorePattern: "^_",
          caughtErrors: "none",
          destructuredArrayIgnorePattern: "^_",
        },
      ],
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true },
      ],
    },
  },
  {
    // @sqlite.org/sqlite-wasm's C API is typed loosely (`any`); its glue and its benchmark use it as is.
    files: [
      "bindings/store/durable.ts",
      "bindings/store/node-vfs.ts",
      "bindings/store/sqlite.ts",
      "bench/store.bench.ts",
      "bench/peers.ts",
    ],
    rules: {
      ...off(unsafeAny),
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-redundant-type-constituents": "off",
    },
  },
  {
    // Tests poke at JSON output, child-process messages and deliberately wrong inputs.
    files: ["test/**"],
    rules: off(unsafeAny),
  },
  {
    // Plain JS (scripts, the worker bootstrap, configs) and the Deno suite are outside tsconfig.json:
    // lint them without types (`npm run typecheck` checks them with tsc and `deno check`).
    files: ["**/*.mjs", "**/*.js", "test/deno/**"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: {
        Deno: "readonly",
        console: "readonly",
        process: "readonly",
        URL: "readonly",
        Buffer: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        performance: "readonly",
      },
    },
  },
);
