// Validate a batch of instances against the published Tongxin schemas with ajv (draft 2020-12).
//
//   node validate.mjs <schema folder>  < cases.json  > results.json
//
// stdin:  [{"name": "...", "schema": "member.schema.json", "instance": {...}}, ...]
// stdout: [{"name": "...", "valid": false, "paths": ["/citizenId", ...], "errors": [...]}, ...]
//
// Every *.json file of the folder is registered under its own $id, so the package schema's
// relative $refs ("member.schema.json") resolve. Strict mode stays on; only the standard's own
// annotation keywords are declared. `paths` are JSON Pointers relative to the instance: the
// failing value's instancePath, or for `required` / `additionalProperties` the pointer of the
// missing or unknown property itself.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const ANNOTATIONS = {
  codelist: "string",
  openCodelist: "boolean",
  "x-schemaVersion": "string",
  "x-deprecatedVersion": "string",
};

function engine(folder) {
  const ajv = new Ajv2020({
    strict: true,
    allowUnionTypes: true, // nullable fields are written as "type": ["string", "null"]
    allErrors: true,
    validateFormats: true,
  });
  addFormats(ajv, { mode: "full", formats: ["date", "date-time"] });
  for (const [keyword, schemaType] of Object.entries(ANNOTATIONS)) {
    ajv.addKeyword({ keyword, schemaType });
  }
  const ids = new Map();
  for (const file of readdirSync(folder).filter((f) => f.endsWith(".json")).sort()) {
    const schema = JSON.parse(readFileSync(join(folder, file), "utf8"));
    if (typeof schema.$id !== "string") throw new Error(`${file} has no $id`);
    ajv.addSchema(schema);
    ids.set(file, schema.$id);
  }
  return { ajv, ids };
}

const escape = (token) => String(token).replaceAll("~", "~0").replaceAll("/", "~1");

function pointer(error) {
  if (error.keyword === "required") {
    return `${error.instancePath}/${escape(error.params.missingProperty)}`;
  }
  if (error.keyword === "additionalProperties") {
    return `${error.instancePath}/${escape(error.params.additionalProperty)}`;
  }
  return error.instancePath;
}

function main() {
  const folder = process.argv[2];
  if (!folder) {
    process.stderr.write("usage: node validate.mjs <schema folder> < cases.json\n");
    process.exit(2);
  }
  const { ajv, ids } = engine(folder);
  const validators = new Map();
  const cases = JSON.parse(readFileSync(0, "utf8"));
  const results = cases.map(({ name, schema, instance }) => {
    if (!validators.has(schema)) {
      const id = ids.get(schema);
      if (!id) throw new Error(`case ${name}: unknown schema ${schema}`);
      validators.set(schema, ajv.getSchema(id));
    }
    const validate = validators.get(schema);
    const valid = validate(instance);
    const errors = valid ? [] : validate.errors;
    return {
      name,
      valid,
      paths: [...new Set(errors.map(pointer))].sort(),
      errors: errors.map(({ keyword, instancePath, schemaPath, message }) => ({
        keyword,
        instancePath,
        schemaPath,
        message,
      })),
    };
  });
  process.stdout.write(JSON.stringify(results));
}

main();
