// A JSON Schema's top-level fields as a table: name, type, required,
// secret (writeOnly), default and description. Schemas travel as JSON text
// (the catalog's schema, configSchema and paramSchema fields).

type Prop = {
  type?: string | string[]; description?: string; default?: unknown; writeOnly?: boolean; enum?: unknown[]; format?: string;
  items?: { type?: string }; additionalProperties?: unknown;
};
export type ObjectSchema = { title?: string; description?: string; properties?: Record<string, Prop>; required?: string[] };

export function parseSchema(text?: string): ObjectSchema {
  if (!text) return {};
  try {
    const s = JSON.parse(text) as unknown;
    return typeof s === "object" && s !== null ? (s as ObjectSchema) : {};
  } catch {
    return {};
  }
}

function typeOf(p: Prop): string {
  let t = Array.isArray(p.type) ? p.type.join(" | ") : (p.type ?? "any");
  if (t === "array" && p.items?.type) t = p.items.type + "[]";
  if (t === "object" && p.additionalProperties) t = "map";
  if (p.format) t += ` (${p.format})`;
  return t;
}

export function SchemaFields({ schema, empty, testid }: { schema: ObjectSchema; empty: string; testid?: string }) {
  const props = Object.entries(schema.properties ?? {});
  if (props.length === 0) return <p className="muted">{empty}</p>;
  const required = new Set(schema.required ?? []);
  props.sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)));
  return (
    <table className="table compact fields" data-testid={testid}>
      <thead>
        <tr>
          <th>Field</th>
          <th>Type</th>
          <th>Description</th>
        </tr>
      </thead>
      <tbody>
        {props.map(([name, p]) => (
          <tr key={name}>
            <td>
              <span className="mono">{name}</span>
              <div className="tags">
                {required.has(name) && <span className="tag tag-required">required</span>}
                {p.writeOnly && <span className="tag tag-secret">secret</span>}
              </div>
            </td>
            <td className="mono muted">{typeOf(p)}</td>
            <td>
              {p.description ?? ""}
              {p.enum && <div className="muted small">one of {p.enum.map((v) => JSON.stringify(v)).join(", ")}</div>}
              {p.default !== undefined && (
                <div className="muted small">
                  default <span className="mono">{JSON.stringify(p.default)}</span>
                </div>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
