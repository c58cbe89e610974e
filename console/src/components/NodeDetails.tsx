import type { WfNode } from "../api";
import { Json } from "../ui";

type Mapping = { source?: unknown; target?: unknown };

function mappingRows(v: unknown): Mapping[] | null {
  if (!Array.isArray(v)) return null;
  return v.filter((m) => typeof m === "object" && m !== null) as Mapping[];
}

// waitFacts describes a review, wait_for_callback or delay node's data,
// with the engine's defaults (docs/waiting.md); [] for other nodes.
export function waitFacts(node: WfNode): [string, string][] {
  const d = node.data ?? {};
  const str = (k: string) => (typeof d[k] === "string" || typeof d[k] === "number" ? String(d[k]) : "");
  switch (node.type) {
    case "review": {
      const decisions = Array.isArray(d.decisions) ? d.decisions.map(String) : ["approve", "reject"];
      return [
        ["Review title", str("title") || node.name || "Review"],
        ["Instructions", str("instructions")],
        ["Decisions", decisions.join(", ")],
        ["Approvals needed", str("requiredApprovals") || "1"],
        ["Group", str("group") || "none (anyone with reviews:decide)"],
        ["Deadline", str("deadline") ? `${str("deadline")}, then ${str("defaultDecision")}` : "none"],
      ];
    }
    case "wait_for_callback":
      return [
        ["Waits for", "a callback (execution.callbacks." + node.id + ") or the signal below"],
        ["Signal", str("signal") || node.id],
        ["Timeout", str("timeout") ? `${str("timeout")}, then the "timeout" path` : "none"],
      ];
    case "delay":
      return [["Waits", str("duration") ? "for " + str("duration") : str("until") ? "until the time in " + str("until") : ""]];
  }
  return [];
}

// NodeDetails shows a node's type and its data (provider, mappings,
// condition, what a wait node waits for) as text.
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
    ...waitFacts(node),
  ];
  const inMap = mappingRows(d.inputMapping);
  const outMap = mappingRows(d.outputMapping);
  const ctxMap = node.type === "review" ? mappingRows(d.context) : null;
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
      {ctxMap && ctxMap.length > 0 && <MappingTable title="Shown to reviewers (context)" rows={ctxMap} />}
      <h4>Data</h4>
      <Json value={node.data ?? {}} />
    </div>
  );
}

export function MappingTable({ title, rows }: { title: string; rows: Mapping[] }) {
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
