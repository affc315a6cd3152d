// A node --test reporter that prints nothing while tests run and, at the end, one block per
// failed test: its file, its suite path and the error. run-tests.mjs runs it after the TAP
// reporter, so a log that keeps only its last lines (meson keeps 100) still names what failed.

function message(err) {
  if (!err) return "(no error)";
  const inner = err.cause ?? err;
  const text = inner.stack ?? inner.message ?? String(inner);
  return String(text).split("\n").slice(0, 8).join("\n");
}

export default async function* failureSummary(source) {
  const failed = [];
  const open = []; // names of the suites around the current test, by nesting level
  for await (const event of source) {
    if (event.type === "test:start") {
      open[event.data.nesting] = event.data.name;
      open.length = event.data.nesting + 1;
    } else if (event.type === "test:fail") {
      const { name, nesting, file, details } = event.data;
      // A suite fails when one of its tests does; report only the tests themselves.
      if (details?.error?.failureType === "subtestsFailed") continue;
      const path = [...open.slice(0, nesting), name].join(" > ");
      failed.push(`${file ?? "?"}: ${path}\n${message(details?.error)}`);
    }
  }
  if (failed.length) {
    yield `\n# ${failed.length} failed:\n`;
    for (const f of failed) yield `${f.replace(/^/gm, "#   ")}\n\n`;
  }
}
