// Fails when src/api/schema.d.ts is not what openapi-typescript generates from ../openapi.json.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const committed = "src/api/schema.d.ts";
if (!existsSync("../openapi.json")) {
  console.error("check:api FAILED: ../openapi.json is missing (generate it with `python -m watchkeeper.api.openapi > openapi.json`).");
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), "wk-api-"));
const fresh = join(dir, "schema.d.ts");
try {
  execFileSync("npx", ["--no-install", "openapi-typescript", "../openapi.json", "-o", fresh], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  let current = "";
  try {
    current = readFileSync(committed, "utf8");
  } catch {
    current = "";
  }
  if (current !== readFileSync(fresh, "utf8")) {
    console.error(
      `check:api FAILED: ${committed} is out of date with ../openapi.json.\n` +
        "Regenerate it with `npm run gen:api` (after `python -m watchkeeper.api.openapi > openapi.json`) and commit the result.",
    );
    process.exit(1);
  }
  console.log(`check:api OK: ${committed} matches ../openapi.json`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
