import { useState } from "react";
import type { ProviderConfig } from "../api";
import { ErrorBox, Json, Pager, Status, fmtTime, usePaged, EmptyRow } from "../ui";

// Provider configurations as the API gives them: secret fields arrive
// masked and are shown as given.
export function Configurations() {
  const p = usePaged<ProviderConfig>("/v1/provider-configurations", "?limit=20", () => 0);
  const [open, setOpen] = useState<string>();
  return (
    <section>
      <header className="page-head">
        <h1>Provider configurations</h1>
      </header>
      <ErrorBox error={p.error} />
      <table className="table" data-testid="configs-table">
        <thead>
          <tr>
            <th>Name</th>
            <th>Provider</th>
            <th>Status</th>
            <th>Revision</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {p.items.map((c) => (
            <ConfigRow key={c.id} c={c} open={open === c.id} toggle={() => setOpen(open === c.id ? undefined : c.id)} />
          ))}
          <EmptyRow shown={p.loaded && p.items.length === 0} cols={5} text="No provider configurations." />
        </tbody>
      </table>
      <Pager p={p} />
    </section>
  );
}

function ConfigRow({ c, open, toggle }: { c: ProviderConfig; open: boolean; toggle: () => void }) {
  return (
    <>
      <tr className="clickable" onClick={toggle}>
        <td>
          {c.name}
          {c.description && <div className="muted small">{c.description}</div>}
        </td>
        <td>{c.providerId}</td>
        <td>
          <Status value={c.status} />
        </td>
        <td>{c.revision}</td>
        <td>{fmtTime(c.updatedAt)}</td>
      </tr>
      {open && (
        <tr>
          <td colSpan={5}>
            <div className="muted small">
              id <span className="mono">{c.id}</span> · configuration (secrets masked by the server):
            </div>
            <Json value={c.config} />
          </td>
        </tr>
      )}
    </>
  );
}
