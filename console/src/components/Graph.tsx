import { useMemo } from "react";
import { ReactFlow, Background, Controls, MarkerType, type Edge, type Node } from "@xyflow/react";
import dagre from "@dagrejs/dagre";
import type { WfEdge, WfNode } from "../api";

const W = 200;
const H = 64;

// positions honours the stored positions; when every node sits at 0,0 (or
// has none) the graph is laid out top to bottom with dagre.
function positions(nodes: WfNode[], edges: WfEdge[]): Map<string, { x: number; y: number }> {
  const out = new Map<string, { x: number; y: number }>();
  const placed = nodes.some((n) => n.position && (n.position.x !== 0 || n.position.y !== 0));
  if (placed) {
    for (const n of nodes) out.set(n.id, { x: n.position?.x ?? 0, y: n.position?.y ?? 0 });
    return out;
  }
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: 40, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: W, height: H });
  for (const e of edges) if (g.hasNode(e.source) && g.hasNode(e.target)) g.setEdge(e.source, e.target);
  dagre.layout(g);
  for (const n of nodes) {
    const p = g.node(n.id);
    out.set(n.id, { x: (p?.x ?? 0) - W / 2, y: (p?.y ?? 0) - H / 2 });
  }
  return out;
}

export type NodeState = string; // completed, failed, skipped, running, cancelled, not-reached

export function Graph({
  nodes,
  edges,
  selected,
  onSelect,
  states,
  problem,
}: {
  nodes: WfNode[];
  edges: WfEdge[];
  selected?: string;
  onSelect: (id: string) => void;
  states?: Map<string, NodeState>;
  // problem attaches a validation message to the node or edge it names.
  problem?: { kind: "node" | "edge"; id: string; message: string };
}) {
  // The layout depends on the definition only, and a selection changes one
  // node object: React Flow re-renders just the nodes whose object changed,
  // so a click on a 100-node graph does not lay it out and draw it again.
  const pos = useMemo(() => positions(nodes, edges), [nodes, edges]);
  const drawn = useMemo<Node[]>(
    () =>
      nodes.map((n) => {
        const state = states?.get(n.id);
        const cls = ["fk-node", "fk-type-" + safe(n.type)];
        if (state) cls.push("fk-state-" + safe(state));
        const bad = problem?.kind === "node" && problem.id === n.id;
        if (bad) cls.push("fk-invalid");
        return {
          id: n.id,
          position: pos.get(n.id) ?? { x: 0, y: 0 },
          data: {
            label: (
              <div className="fk-node-body" data-node-id={n.id} data-state={state ?? ""}>
                <div className="fk-node-name">{n.name || n.id}</div>
                <div className="fk-node-meta">
                  {n.type}
                  {state ? " · " + state : ""}
                </div>
                {bad && (
                  <div className="fk-node-error" data-testid="node-error" role="alert">
                    {problem.message}
                  </div>
                )}
              </div>
            ),
          },
          className: cls.join(" "),
          style: { width: W },
          draggable: false,
          connectable: false,
        };
      }),
    [nodes, pos, states, problem],
  );
  const rfNodes = useMemo<Node[]>(
    () => drawn.map((n) => (n.id === selected ? { ...n, className: n.className + " fk-selected" } : n)),
    [drawn, selected],
  );

  const rfEdges = useMemo<Edge[]>(
    () =>
      edges.map((e, i) => {
        const bad = problem?.kind === "edge" && problem.id === e.id;
        return {
          id: e.id || `e${i}`,
          source: e.source,
          target: e.target,
          label: bad ? "⚠ " + problem.message : e.label || (e.sourceHandle ? e.sourceHandle : undefined),
          className: bad ? "fk-edge-invalid" : undefined,
          labelStyle: bad ? { fill: "#b42318", fontWeight: 600 } : undefined,
          markerEnd: { type: MarkerType.ArrowClosed },
          animated: states?.get(e.target) === "running",
        };
      }),
    [edges, states, problem],
  );

  return (
    <div className="graph" data-testid="graph" data-problem={problem ? problem.kind + ":" + problem.id : ""}>
      <ReactFlow
        nodes={rfNodes}
        edges={rfEdges}
        onNodeClick={(_, n) => onSelect(n.id)}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={true}
        fitView
        fitViewOptions={{ padding: 0.2, maxZoom: 1.2 }}
        minZoom={0.2}
        proOptions={{ hideAttribution: true }}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

function safe(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, "");
}
