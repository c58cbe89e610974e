import type { WfNode } from "../api";
import { Json } from "../ui";

type Mapping = { source?: unknown; target?: unknown };

function mappingRows(v: unknown): Mapping[] | null {
  if (!Array.isArray(v)) return null;
  return v.filter((m) => typeof m === "object" && m !== null) as Mapping[];
}

// NodeDetails shows a node's type and its data (provider, mappings,
// condition) as text.
export function NodeDetails({ node }: { node: WfNode }) {
  const d = node.data ?? {};
  const str = (k: string) => (typeof d[k] === "string" || typeof d[k] === "number" ? String(d[k]) : "");
  const facts: [string, string][] = [
    ["Type", node.type],
    ["Node id", node.id],
    ["Name", node.name ?? ""],
    ["Executor", str("executorId")],
    ["Provider configuration", str("providerConfigId")],
    ["Request", [str("method"), str("path")].filter(Boolean).join(" ")],
    ["Condition", str("condition")],
    ["Trigger", str("triggerType")],
    ["Action", str("actionType")],
  ];
  const inMap = mappingRows(d.inputMapping);
  const outMap = mappingRows(d.outputMapping);
  return (
    <div className="node-details" data-testid="node-details">
      <dl className="facts">
        {facts
          .filter(([, v]) => v)
          .map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd className={k === "Condition" ? "mono" : ""}>{v}</dd>
            </div>
          ))}
      </dl>
      {inMap && inMap.length > 0 && <MappingTable title="Input mapping" rows={inMap} />}
      {outMap && outMap.length > 0 && <MappingTable title="Output mapping" rows={outMap} />}
      <h4>Data</h4>
      <Json value={node.data ?? {}} />
    </div>
  );
}

function MappingTable({ title, rows }: { title: string; rows: Mapping[] }) {
  return (
    <>
      <h4>{title}</h4>
      <table className="table compact">
        <thead>
          <tr>
            <th>Source</th>
            <th>Target</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((m, i) => (
            <tr key={i}>
              <td className="mono">{String(m.source ?? "")}</td>
              <td className="mono">{String(m.target ?? "")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
