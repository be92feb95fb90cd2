/** Sites (add, rename) and the global retention days. */
import { type FormEvent, useState } from "react";

import {
  type ChangeOut,
  type JsonObject,
  type RetentionSettings,
  createSite,
  setRetention,
  updateSite,
} from "../../api/settings";
import { Field } from "./Field";
import { numberValue, text } from "./form";
import { useSubmit } from "./useSubmit";

interface SavedProps {
  onSaved: (change: ChangeOut) => void;
}

function SiteRow({ site, onSaved }: { site: JsonObject } & SavedProps) {
  const id = text(site.id);
  const [name, setName] = useState(text(site.name));
  const { errors, formError, busy, run } = useSubmit(onSaved);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void run(() => updateSite(id, { ...site, name }));
  };
  return (
    <li>
      <form className="inline-form" onSubmit={submit} aria-label={`Site ${id}`}>
        <Field id={`site-${id}-name`} label={`Name of site ${id}`} error={errors.name ?? formError ?? undefined}>
          {(props) => <input {...props} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <button type="submit" className="btn" disabled={busy || name === text(site.name)}>
          Rename
        </button>
      </form>
    </li>
  );
}

export function SitesPanel({ sites, onSaved }: { sites: JsonObject[] } & SavedProps) {
  const [id, setId] = useState("");
  const [name, setName] = useState("");
  const { errors, formError, busy, run } = useSubmit(onSaved);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await run(() => createSite({ id, name }))) {
      setId("");
      setName("");
    }
  };
  return (
    <section className="panel settings-section" aria-labelledby="sites-title" data-testid="settings-sites">
      <h2 id="sites-title">Sites</h2>
      <ul className="list">
        {sites.map((site) => (
          <SiteRow key={text(site.id)} site={site} onSaved={onSaved} />
        ))}
      </ul>
      <form className="inline-form" onSubmit={(e) => void submit(e)} aria-labelledby="site-add-title" noValidate>
        <h3 id="site-add-title">Add a site</h3>
        {formError ? <p className="form-error" role="alert">{formError}</p> : null}
        <Field id="site-new-id" label="Site id" error={errors.id}>
          {(props) => <input {...props} value={id} onChange={(e) => setId(e.target.value)} />}
        </Field>
        <Field id="site-new-name" label="Site name" error={errors.name}>
          {(props) => <input {...props} value={name} onChange={(e) => setName(e.target.value)} />}
        </Field>
        <button type="submit" className="btn" disabled={busy}>
          Add site
        </button>
      </form>
    </section>
  );
}

export function RetentionPanel({ retention, onSaved }: { retention: RetentionSettings } & SavedProps) {
  const [days, setDays] = useState(String(retention.retain_days));
  const [eventDays, setEventDays] = useState(String(retention.event_retain_days));
  const { errors, formError, busy, run } = useSubmit(onSaved);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const body = { retain_days: numberValue(days), event_retain_days: numberValue(eventDays) } as unknown as RetentionSettings;
    void run(() => setRetention(body));
  };
  return (
    <section className="panel settings-section" aria-labelledby="retention-title" data-testid="settings-retention">
      <h2 id="retention-title">Retention</h2>
      <form className="inline-form" onSubmit={submit} noValidate>
        {formError ? <p className="form-error" role="alert">{formError}</p> : null}
        <Field id="retain-days" label="Keep recordings (days)" error={errors.retain_days} hint="0..3650; evidence-locked footage is exempt">
          {(props) => <input {...props} inputMode="numeric" value={days} onChange={(e) => setDays(e.target.value)} />}
        </Field>
        <Field id="event-retain-days" label="Keep event footage (days)" error={errors.event_retain_days}>
          {(props) => <input {...props} inputMode="numeric" value={eventDays} onChange={(e) => setEventDays(e.target.value)} />}
        </Field>
        <button type="submit" className="btn" disabled={busy} data-testid="retention-save">
          Save retention
        </button>
      </form>
    </section>
  );
}
