import type { ProviderConfig } from "../api";
import { ConnectivityTest } from "../components/TestResult";
import { navigate } from "../router";
import { PERM, useCan } from "../session";
import { DetailHeader, EmptyRow, ErrorBox, Facts, Json, Link, Loading, Pager, Status, fmtTime, useGet, usePaged } from "../ui";

// Provider configurations as the API gives them: secret fields arrive
// masked and are shown as given.
export function Configurations() {
  const p = usePaged<ProviderConfig>("/v1/provider-configurations", "?limit=20", () => 0);
  return (
    <section>
      <header className="page-head">
        <div>
          <h1>Provider configurations</h1>
          <p className="muted small">Where and how Flowker calls each provider. Secrets are masked by the server.</p>
        </div>
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
            <tr key={c.id} className="clickable" onClick={() => navigate(`/console/configurations/${c.id}`)}>
              <td>
                <Link to={`/console/configurations/${c.id}`}>{c.name}</Link>
                {c.description && <div className="muted small">{c.description}</div>}
              </td>
              <td>{c.providerId}</td>
              <td>
                <Status value={c.status} />
              </td>
              <td>{c.revision}</td>
              <td>{fmtTime(c.updatedAt)}</td>
            </tr>
          ))}
          <EmptyRow shown={p.loaded && p.items.length === 0} cols={5} text="No provider configurations." />
        </tbody>
      </table>
      <Pager p={p} />
    </section>
  );
}

export function ProviderConfigDetail({ id }: { id: string }) {
  const can = useCan();
  const path = `/v1/provider-configurations/${encodeURIComponent(id)}`;
  const { data: c, error } = useGet<ProviderConfig>(path);
  if (!c) return <Loading error={error} />;
  return (
    <section>
      <DetailHeader list="/console/configurations" listLabel="Provider configurations" item={c} testid="config-name" />
      <div className="two-col">
        <div className="panel">
          <h3>Details</h3>
          <Facts
            rows={[
              ["Provider", <Link to={`/console/catalog?tab=providers&id=${encodeURIComponent(c.providerId)}`}>{c.providerId}</Link>],
              ["Status", c.status],
              ["Created", fmtTime(c.createdAt)],
              ["Updated", fmtTime(c.updatedAt)],
            ]}
          />
          <h4>Configuration (secrets masked by the server)</h4>
          <div data-testid="config-values">
            <Json value={c.config} />
          </div>
        </div>
        {can(PERM.providerConfigsManage) ? (
          <ConnectivityTest path={`${path}/test`} />
        ) : (
          <div className="panel muted small">Testing connectivity needs the permission provider-configurations:manage.</div>
        )}
      </div>
    </section>
  );
}
