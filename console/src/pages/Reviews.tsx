import { useEffect, useState } from "react";
import { REVIEW_STATUSES, approvals, errorText, isApiError, post, query, type Me, type Review } from "../api";
import { refreshOpenReviews, useWorkflowList, useWorkflowNames } from "../lookup";
import { navigate } from "../router";
import { PERM, mayDecide, useCan, useMe } from "../session";
import { Due, EmptyRow, ErrorBox, Facts, Json, Link, Loading, Pager, Since, Status, fmtTime, shortId, useGet, usePaged } from "../ui";

// The review inbox: review tasks of waiting executions (GET /v1/reviews),
// open ones by default, oldest first, refreshed every 5 s.
export function Reviews({ search }: { search: URLSearchParams }) {
  const can = useCan();
  const me = useMe();
  const [status, setStatus] = useState(search.get("status") ?? "open");
  const [workflowId, setWorkflowId] = useState(search.get("workflowId") ?? "");
  const [group, setGroup] = useState(search.get("group") ?? "");
  const [order, setOrder] = useState(search.get("order") ?? "");
  // Open tasks oldest first (the longest waiting on top); decided ones newest first.
  const sortOrder = order || (status === "open" ? "ASC" : "DESC");
  const wf = /^[0-9a-fA-F-]{36}$/.test(workflowId.trim()) ? workflowId.trim() : "";
  const grp = /^[A-Za-z0-9_.-]{1,64}$/.test(group.trim()) ? group.trim() : "";
  const params = query({ limit: 20, status: status === "any" ? "" : status, workflowId: wf, group: grp, sortOrder });
  const p = usePaged<Review>("/v1/reviews", params, () => 5000);
  const readWorkflows = can(PERM.workflowsRead);
  const workflows = useWorkflowList(readWorkflows);
  const name = useWorkflowNames(
    p.items.map((r) => r.workflowId),
    readWorkflows,
  );
  const now = Date.now();
  // The groups the caller may decide, and those on the page, as suggestions.
  const groups = [...new Set([...(me?.permissions ?? []).filter((x) => /^reviews:decide:[^*]/.test(x)).map((x) => x.slice(15)), ...p.items.map((r) => r.group ?? "").filter(Boolean)])].sort();

  const apply = (f: Record<string, string>) => {
    const next = { status, workflowId: wf, group: grp, order, ...f };
    const q = new URLSearchParams();
    if (next.status !== "open") q.set("status", next.status);
    for (const k of ["workflowId", "group", "order"] as const) if (next[k]) q.set(k, next[k]);
    const qs = q.toString();
    window.history.replaceState(null, "", "/console/reviews" + (qs ? "?" + qs : ""));
  };

  return (
    <section>
      <header className="page-head">
        <div>
          <h1>Reviews</h1>
          <div className="muted small">Decisions that waiting executions need from analysts. Open a task to read its context and decide.</div>
        </div>
        <span className="live muted-live" title="The list is refreshed every 5 seconds">
          ● live
        </span>
      </header>
      <div className="filters panel" data-testid="review-filters">
        <div className="segmented" role="group" aria-label="Status" data-testid="review-status">
          {[...REVIEW_STATUSES, "any"].map((s) => (
            <button
              key={s}
              className={s === status ? "active" : ""}
              data-status={s}
              onClick={() => {
                setStatus(s);
                apply({ status: s });
              }}
            >
              {s}
            </button>
          ))}
        </div>
        <label>
          Workflow{" "}
          {readWorkflows ? (
            <select
              value={wf}
              data-testid="review-workflow"
              onChange={(e) => {
                setWorkflowId(e.target.value);
                apply({ workflowId: e.target.value });
              }}
            >
              <option value="">any workflow</option>
              {wf && !workflows.some((w) => w.id === wf) && <option value={wf}>{name(wf) || wf}</option>}
              {workflows.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name}
                </option>
              ))}
            </select>
          ) : (
            <input
              value={workflowId}
              placeholder="workflow id"
              size={38}
              data-testid="review-workflow"
              onChange={(e) => {
                setWorkflowId(e.target.value);
                apply({ workflowId: e.target.value.trim() });
              }}
            />
          )}
        </label>
        <label>
          Group{" "}
          <input
            value={group}
            list="review-groups"
            placeholder="any group"
            size={16}
            data-testid="review-group"
            onChange={(e) => {
              setGroup(e.target.value);
              apply({ group: e.target.value.trim() });
            }}
          />
          <datalist id="review-groups">
            {groups.map((g) => (
              <option key={g} value={g} />
            ))}
          </datalist>
        </label>
        <label>
          Order{" "}
          <select
            value={sortOrder}
            onChange={(e) => {
              setOrder(e.target.value);
              apply({ order: e.target.value });
            }}
          >
            <option value="ASC">oldest first</option>
            <option value="DESC">newest first</option>
          </select>
        </label>
      </div>
      {workflowId.trim() && !wf && <div className="warn">The workflow id must be a UUID; the filter is ignored.</div>}
      {group.trim() && !grp && <div className="warn">A group is 1–64 letters, digits, '.', '_' or '-'; the filter is ignored.</div>}
      <ErrorBox error={p.error} />
      <table className="table reviews" data-testid="reviews-table">
        <thead>
          <tr>
            <th>Review</th>
            <th>Status</th>
            <th>Group</th>
            <th>Approvals</th>
            <th>Waiting</th>
            <th>Due</th>
            <th>Execution</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((r) => (
            <tr key={r.id} className={"clickable" + (r.dueAt && r.status === "open" && new Date(r.dueAt).getTime() < now ? " overdue" : "")} data-review-id={r.id} onClick={() => navigate(`/console/reviews/${r.id}`)}>
              <td>
                <Link to={`/console/reviews/${r.id}`} className="review-title">
                  {r.title}
                </Link>
                <div className="muted small">
                  {name(r.workflowId) || <span className="mono">{shortId(r.workflowId)}</span>} · node <span className="mono">{r.nodeId}</span>
                </div>
                <Preview context={r.context} />
              </td>
              <td>
                <ReviewStatus r={r} />
              </td>
              <td>{r.group ? <span className="group">{r.group}</span> : <span className="muted">—</span>}</td>
              <td>
                <Approvals r={r} me={me} />
              </td>
              <td>{r.status === "open" ? <Since time={r.createdAt} now={now} /> : <span className="muted" title={"created " + fmtTime(r.createdAt)}>{r.resolvedAt ? "decided " + fmtTime(r.resolvedAt) : "—"}</span>}</td>
              <td>
                {r.status === "open" ? <Due time={r.dueAt} now={now} /> : <span className="muted">—</span>}
                {r.status === "open" && r.defaultDecision && <div className="muted small">then {r.defaultDecision}</div>}
              </td>
              <td className="mono" onClick={(e) => e.stopPropagation()}>
                {can(PERM.executionsRead) ? <Link to={`/console/executions/${r.executionId}`}>{shortId(r.executionId)}</Link> : shortId(r.executionId)}
              </td>
            </tr>
          ))}
          <EmptyRow shown={p.loaded && p.items.length === 0} cols={7} text={status === "open" ? "No open reviews: nothing waits for a decision." : "No reviews."} />
        </tbody>
      </table>
      <Pager p={p} />
    </section>
  );
}

// Preview: the first few plain values of a review's context, to tell
// tasks of one workflow apart (as text; the page shows them all).
function Preview({ context }: { context: Record<string, unknown> }) {
  const plain = Object.entries(context ?? {}).filter(([, v]) => typeof v === "string" || typeof v === "number" || typeof v === "boolean");
  if (plain.length === 0) return null;
  const cut = (v: unknown) => {
    const s = String(v);
    return s.length > 40 ? s.slice(0, 39) + "…" : s;
  };
  return (
    <div className="preview" data-testid="review-preview">
      {plain.slice(0, 4).map(([k, v]) => (
        <span key={k}>
          <span className="muted">{k}</span> {cut(v)}
        </span>
      ))}
    </div>
  );
}

// voted is the caller's vote on r, if any.
function voted(r: Review, me: Me | null) {
  if (!me || me.authentication === "disabled") return undefined;
  return r.votes.find((v) => v.actor.id === me.actor.id && v.actor.type === me.actor.type);
}

function ReviewStatus({ r }: { r: Review }) {
  return (
    <span className="review-status">
      <Status value={r.status} />
      {r.decision && <Decision value={r.decision} />}
    </span>
  );
}

function Decision({ value }: { value: string }) {
  return <span className={"decision decision-" + value.replace(/[^a-z_-]/gi, "").toLowerCase()}>{value}</span>;
}

// Approvals: "1 of 2" with a dot per approval needed, and the caller's vote.
function Approvals({ r, me }: { r: Review; me: Me | null }) {
  const n = approvals(r);
  const mine = voted(r, me);
  return (
    <span className="approvals" data-testid="approvals" title={`${n} of ${r.requiredApprovals} approval${r.requiredApprovals > 1 ? "s" : ""}`}>
      <span className="pips" aria-hidden="true">
        {Array.from({ length: r.requiredApprovals }, (_, i) => (
          <span key={i} className={"pip" + (i < n ? " on" : "")} />
        ))}
      </span>
      {n} of {r.requiredApprovals}
      {mine && <span className="tag tag-mine">you: {mine.decision}</span>}
    </span>
  );
}

// ReviewDetail: one review task — what to decide on, who decided what,
// and the decision buttons for a caller who may decide it.
export function ReviewDetail({ id }: { id: string }) {
  const can = useCan();
  const me = useMe();
  const { data: r, error, reload: load, setData: setR } = useGet<Review>(`/v1/reviews/${encodeURIComponent(id)}`);
  // While open, others' votes and the deadline show up within 3 s.
  const isOpen = r?.status === "open";
  useEffect(() => {
    if (!isOpen) return;
    const t = window.setInterval(() => void load(), 3000);
    return () => window.clearInterval(t);
  }, [isOpen, load]);
  const name = useWorkflowNames(r ? [r.workflowId] : [], can(PERM.workflowsRead));
  // A refused decision, kept here rather than in the decision panel: a 409
  // (decided meanwhile) reloads the review, which closes the panel, and
  // the refusal must stay on the page.
  const [decideError, setDecideError] = useState<unknown>(null);

  if (!r) return <Loading error={error} />;
  const now = Date.now();
  const ctx = Object.entries(r.context ?? {});
  return (
    <section>
      <header className="page-head">
        <div>
          <div className="crumbs">
            <Link to="/console/reviews">Reviews</Link> /
          </div>
          <h1 data-testid="review-title">{r.title}</h1>
          <div className="muted small review-sub">
            <span data-testid="review-status">
              <ReviewStatus r={r} />
            </span>
            <Approvals r={r} me={me} />
            {r.group && (
              <span>
                group <span className="group">{r.group}</span>
              </span>
            )}
            <span>
              opened <Since time={r.createdAt} now={now} /> ago
            </span>
            {r.status === "open" && r.dueAt && (
              <span>
                due <Due time={r.dueAt} now={now} />
              </span>
            )}
          </div>
        </div>
      </header>
      <ErrorBox error={error} />
      {r.status !== "open" && decideError !== null && (
        <div className="error" role="alert" data-testid="decide-error">
          Your decision was not recorded: {errorText(decideError)}
        </div>
      )}
      <Outcome r={r} />
      <div className="two-col">
        <div>
          {r.instructions && (
            <div className="panel">
              <h3>Instructions</h3>
              <p className="instructions" data-testid="review-instructions">
                {r.instructions}
              </p>
            </div>
          )}
          <div className="panel">
            <h3>What to decide on</h3>
            {ctx.length === 0 ? (
              <p className="muted">This review shows no values from its execution (its node maps no context).</p>
            ) : (
              <table className="table compact kv" data-testid="review-context">
                <tbody>
                  {ctx.map(([k, v]) => (
                    <tr key={k}>
                      <th scope="row" className="mono">
                        {k}
                      </th>
                      <td>{typeof v === "string" ? <span className="kv-text">{v}</span> : v !== null && typeof v === "object" ? <Json value={v} /> : <span className="mono">{JSON.stringify(v)}</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
          <div className="panel">
            <h3>Votes</h3>
            <Votes r={r} />
          </div>
        </div>
        <div>
          {r.status === "open" && <Decide r={r} me={me} onDecided={setR} reload={load} error={decideError} setError={setDecideError} />}
          <div className="panel">
            <h3>Details</h3>
            <Facts
              testid="review-facts"
              rows={[
                ["Workflow", can(PERM.workflowsRead) ? <Link to={`/console/workflows/${r.workflowId}`}>{name(r.workflowId) || r.workflowId}</Link> : <span className="mono">{r.workflowId}</span>],
                [
                  "Execution",
                  can(PERM.executionsRead) ? (
                    <Link to={`/console/executions/${r.executionId}`} data-testid="review-execution">
                      <span className="mono">{r.executionId}</span>
                    </Link>
                  ) : (
                    <span className="mono">{r.executionId}</span>
                  ),
                ],
                ["Node", <span className="mono">{r.nodeId}</span>],
                ["Decisions", r.decisions.join(", ")],
                ["Approvals needed", `${r.requiredApprovals}${r.requiredApprovals > 1 ? " distinct people" : ""}`],
                ["Group", r.group ?? "—"],
                ["Opened", fmtTime(r.createdAt)],
                ["Deadline", r.dueAt ? fmtTime(r.dueAt) : "none"],
                ["Default decision", r.defaultDecision ? `${r.defaultDecision} (taken when the deadline passes)` : "—"],
                ["Decided", r.resolvedAt ? fmtTime(r.resolvedAt) : "—"],
                ["Review id", <span className="mono">{r.id}</span>],
              ]}
            />
          </div>
        </div>
      </div>
    </section>
  );
}

// Outcome says how a closed review ended.
function Outcome({ r }: { r: Review }) {
  if (r.status === "open") return null;
  let text: string;
  if (r.status === "resolved") {
    const by = r.votes.filter((v) => v.decision === r.decision).map((v) => v.actor.id);
    text = `Decided: ${r.decision}${by.length ? " by " + by.join(" and ") : ""}, ${fmtTime(r.resolvedAt)}. The execution went on through its “${r.decision}” path.`;
  } else if (r.status === "expired") {
    text = `Expired: the deadline passed at ${fmtTime(r.dueAt)} and the default decision “${r.decision}” was taken.`;
  } else {
    text = "Cancelled: its execution was cancelled or ended before a decision.";
  }
  const good = r.decision === "approve";
  return (
    <div className={r.status === "cancelled" ? "warn" : good ? "ok" : "error"} data-testid="review-outcome">
      {text}
    </div>
  );
}

function Votes({ r }: { r: Review }) {
  if (r.votes.length === 0) return <p className="muted" data-testid="review-votes">No votes yet.</p>;
  return (
    <table className="table compact" data-testid="review-votes">
      <thead>
        <tr>
          <th>Who</th>
          <th>Decision</th>
          <th>Comment</th>
          <th>When</th>
        </tr>
      </thead>
      <tbody>
        {r.votes.map((v, i) => (
          <tr key={i}>
            <td>
              {v.actor.id} <span className="muted small">{v.actor.type === "api_key" ? "API key" : v.actor.type}</span>
            </td>
            <td>
              <Decision value={v.decision} />
            </td>
            <td className="comment">{v.comment ?? <span className="muted">—</span>}</td>
            <td>{fmtTime(v.decidedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// Decide: a comment and one button per allowed decision; the answer is the
// review after the decision. Errors are the API's words (409 already
// decided / no longer open, 403 group).
function Decide({ r, me, onDecided, reload, error, setError }: {
  r: Review; me: Me | null; onDecided: (r: Review) => void; reload: () => Promise<void>; error: unknown; setError: (e: unknown) => void;
}) {
  const can = useCan();
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState("");
  if (!can(PERM.reviewsDecide))
    return (
      <div className="panel" data-testid="decide-readonly">
        <h3>Decision</h3>
        <p className="muted">You can read this review; deciding needs the permission <span className="mono">reviews:decide</span>.</p>
      </div>
    );
  if (!mayDecide(me, r.group))
    return (
      <div className="panel" data-testid="decide-readonly">
        <h3>Decision</h3>
        <p className="muted">
          Reviews of the group <span className="group">{r.group}</span> are decided by its members: it needs the permission{" "}
          <span className="mono">reviews:decide:{r.group}</span>.
        </p>
      </div>
    );
  const mine = voted(r, me);
  const decide = async (decision: string) => {
    setBusy(true);
    setError(null);
    setDone("");
    try {
      const after = await post<Review>(`/v1/reviews/${encodeURIComponent(r.id)}/decisions`, { decision, comment: comment.trim() });
      onDecided(after);
      setComment("");
      const n = approvals(after);
      setDone(
        after.status === "open"
          ? `Your “${decision}” is recorded: ${n} of ${after.requiredApprovals} approvals. Another person must approve.`
          : `Your “${decision}” is recorded.`,
      );
      refreshOpenReviews();
    } catch (e) {
      setError(e);
      if (isApiError(e) && e.status === 409) void reload(); // decided meanwhile: show what is
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="panel decide" data-testid="decide">
      <h3>Your decision</h3>
      {mine && (
        <p className="note" data-testid="decide-mine">
          You decided “{mine.decision}” {fmtTime(mine.decidedAt)}.{r.requiredApprovals > 1 ? " Four-eyes needs another person's approval." : ""}
        </p>
      )}
      <label className="block">
        Comment (optional, kept with your vote)
        <textarea
          rows={3}
          maxLength={2000}
          value={comment}
          data-testid="decide-comment"
          placeholder="Why — e.g. documents match the customer record"
          onChange={(e) => setComment(e.target.value)}
        />
      </label>
      <div className="decide-buttons">
        {r.decisions.map((d) => (
          <button key={d} className={d === "approve" ? "approve" : d === "reject" ? "danger" : ""} data-testid={"decide-" + d} disabled={busy} onClick={() => void decide(d)}>
            {label(d)}
          </button>
        ))}
      </div>
      {r.requiredApprovals > 1 && r.decisions.includes("approve") && (
        <p className="muted small">
          Needs {r.requiredApprovals} approvals from different people; any other decision settles it at once.
        </p>
      )}
      {done && (
        <div className="ok" data-testid="decide-result">
          {done}
        </div>
      )}
      {error !== null && (
        <div className="error" role="alert" data-testid="decide-error">
          {errorText(error)}
        </div>
      )}
    </div>
  );
}

function label(d: string): string {
  return d.charAt(0).toUpperCase() + d.slice(1).replace(/[_-]/g, " ");
}
