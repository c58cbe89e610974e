import type { Step } from "../api";
import { fmtMs } from "../ui";

// Timeline draws each step as a bar from its start over its duration, on a
// shared time axis: steps of parallel branches overlap.
export function Timeline({ steps, selected, onSelect }: { steps: Step[]; selected?: string; onSelect: (nodeId: string) => void }) {
  if (steps.length === 0) return <p className="muted">No steps recorded yet.</p>;
  const starts = steps.map((s) => new Date(s.executedAt).getTime());
  const t0 = Math.min(...starts);
  const t1 = Math.max(...steps.map((s, i) => starts[i] + Math.max(0, s.durationMs)));
  const span = Math.max(1, t1 - t0);
  return (
    <div className="timeline" data-testid="timeline">
      <div className="tl-axis">
        <span>0 ms</span>
        <span>{fmtMs(Math.round(span / 2))}</span>
        <span>{fmtMs(span)}</span>
      </div>
      {steps.map((s, i) => {
        const left = ((starts[i] - t0) / span) * 100;
        const width = Math.max(0.6, (Math.max(0, s.durationMs) / span) * 100);
        return (
          <button
            key={s.stepNumber + ":" + s.nodeId}
            className={"tl-row" + (selected === s.nodeId ? " tl-selected" : "")}
            onClick={() => onSelect(s.nodeId)}
            data-step={s.nodeId}
          >
            <span className="tl-label">
              <span className="tl-num">{s.stepNumber}</span> {s.stepName}
            </span>
            <span className="tl-track">
              <span
                className={"tl-bar status-bg-" + s.status.replace(/[^a-z]/g, "")}
                style={{ left: `${Math.min(left, 99.4)}%`, width: `${Math.min(width, 100 - Math.min(left, 99.4))}%` }}
                title={`${s.status}, started +${fmtMs(starts[i] - t0)}, took ${fmtMs(s.durationMs)}`}
              />
            </span>
            <span className="tl-dur">{fmtMs(s.durationMs)}</span>
          </button>
        );
      })}
    </div>
  );
}
