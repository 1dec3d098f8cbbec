// Validate glTF/GLB files with the Khronos glTF-Validator; prints one JSON report per file.
//   node tools/validate_gltf.mjs model.glb [more.glb ...]
import { readFile } from "node:fs/promises";
import validator from "gltf-validator";

const reports = [];
for (const path of process.argv.slice(2)) {
  const data = new Uint8Array(await readFile(path));
  const report = await validator.validateBytes(data, { maxIssues: 100 });
  reports.push({
    path,
    errors: report.issues.numErrors,
    warnings: report.issues.numWarnings,
    infos: report.issues.numInfos,
    messages: report.issues.messages.map((m) => `${m.severity}:${m.code}:${m.pointer ?? ""}:${m.message}`),
    info: report.info,
  });
}
console.log(JSON.stringify(reports, null, 2));
