// Generates the SDK's types and its operation table from the OpenAPI document:
//   src/generated/schema.ts      TypeScript types of every path, operation and schema (openapi-typescript)
//   src/generated/operations.ts  operationId -> HTTP method, path, server stream, public, tenant-scoped,
//                                binary request / response (google.api.HttpBody: content other than JSON)
// Usage: node scripts/generate.mjs <openapi.json> <out dir>
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import openapiTS, { astToString } from "openapi-typescript";

const [source, outDir] = process.argv.slice(2);
if (!source || !outDir) {
  console.error("usage: generate.mjs <openapi.json> <out dir>");
  process.exit(2);
}
const document = JSON.parse(await readFile(resolve(source), "utf8"));
const banner = "// Generated from gen/openapi/tenantmesh.openapi.json by scripts/generate.mjs - do not edit.\n";

const ast = await openapiTS(document, { exportType: false, alphabetize: false });
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, "schema.ts"), banner + "/* eslint-disable */\n" + astToString(ast));

// An operation's body is binary when the document gives it a content type other than JSON
// (HttpBody is documented as `*/*`, format binary): the client sends such a body as given and
// returns such an answer as the Response, without JSON in between.
function binary(content) {
  const types = Object.keys(content ?? {});
  return types.length > 0 && !types.includes("application/json");
}

const table = {};
for (const [path, item] of Object.entries(document.paths)) {
  for (const [method, operation] of Object.entries(item)) {
    const access = operation["x-tenantmesh-access"] ?? {};
    table[operation.operationId] = {
      method: method.toUpperCase(),
      path,
      stream: operation["x-stream"] === "server",
      public: access.public === true,
      tenantScoped: access.scope === "TENANT",
      binaryRequest: binary(operation.requestBody?.content),
      binaryResponse: binary(operation.responses?.["200"]?.content),
    };
  }
}
const entries = JSON.stringify(table, null, 2);
await writeFile(
  join(outDir, "operations.ts"),
  banner +
    'import type { operations } from "./schema.js";\n\n' +
    "export interface OperationInfo {\n  method: string;\n  path: string;\n  stream: boolean;\n" +
    "  public: boolean;\n  tenantScoped: boolean;\n" +
    "  /** The request body is not JSON (HttpBody): sent as given, with the caller's content type. */\n" +
    "  binaryRequest: boolean;\n" +
    "  /** The answer is not JSON (HttpBody): call() returns the Response. */\n" +
    "  binaryResponse: boolean;\n}\n\n" +
    `export const OPERATIONS: Record<keyof operations, OperationInfo> = ${entries};\n`,
);
console.log(`generated ${Object.keys(table).length} operations into ${outDir}`);
