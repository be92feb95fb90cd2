/** Users and their roles (`users.manage`): list, add with a role, change the role, disable / enable. */
import { type FormEvent, useCallback, useEffect, useState } from "react";

import { describeError } from "../../api/client";
import { type UserOut, createUser, listUsers, updateUser } from "../../api/settings";
import { Field } from "./Field";

const ROLES = ["viewer", "operator", "investigator", "approver", "admin"];

function roleText(user: UserOut): string {
  return (
    user.roles
      .map((grant) => {
        const scope = [...(grant.sites ?? []), ...(grant.cameras ?? [])];
        return scope.length ? `${grant.role} (${scope.join(", ")})` : grant.role;
      })
      .join(", ") || "no role"
  );
}

/** The user's role when they hold exactly one, unscoped ("" otherwise: the select shows their grants). */
function globalRole(user: UserOut): string {
  const [grant, ...more] = user.roles;
  if (!grant || more.length || grant.sites?.length || grant.cameras?.length) return "";
  return grant.role;
}

export function UsersPanel({ me }: { me: string | null }) {
  const [users, setUsers] = useState<UserOut[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [form, setForm] = useState({ username: "", display: "", password: "", role: "operator" });
  const [busy, setBusy] = useState(false);

  const reload = useCallback(() => {
    listUsers().then(setUsers, (err: unknown) => setError(describeError(err)));
  }, []);
  useEffect(reload, [reload]);

  const act = async (action: () => Promise<UserOut>, done: string) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      setStatus(done);
      reload();
      return true;
    } catch (err) {
      setError(describeError(err));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const ok = await act(() => createUser(form.username, form.password, form.display, form.role), `User ${form.username} added.`);
    if (ok) setForm({ username: "", display: "", password: "", role: "operator" });
  };

  return (
    <section className="panel settings-section" aria-labelledby="users-title" data-testid="settings-users">
      <h2 id="users-title">Users and roles</h2>
      {error ? <p className="form-error" role="alert">{error}</p> : null}
      <p className="small muted" role="status">
        {status}
      </p>
      {users === null ? (
        <p className="empty">Loading users…</p>
      ) : (
        <table className="settings-table">
          <caption className="sr-only">Users</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Roles</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {users.map((user) => (
              <tr key={user.username} data-testid="user-row" data-username={user.username}>
                <td>
                  {user.display_name || user.username} <span className="small muted">{user.username}</span>
                </td>
                <td>
                  <label className="sr-only" htmlFor={`role-${user.username}`}>
                    Role of {user.username}
                  </label>
                  {user.username === me ? (
                    roleText(user)
                  ) : (
                    <select
                      id={`role-${user.username}`}
                      value={globalRole(user)}
                      disabled={busy}
                      onChange={(e) =>
                        void act(
                          () => updateUser(user.username, { roles: [{ role: e.target.value, sites: [], cameras: [] }] }),
                          `${user.username} is now ${e.target.value}.`,
                        )
                      }
                    >
                      <option value="" disabled>
                        {roleText(user)}
                      </option>
                      {ROLES.map((role) => (
                        <option key={role} value={role}>
                          {role}
                        </option>
                      ))}
                    </select>
                  )}
                </td>
                <td>{user.disabled ? "disabled" : "active"}</td>
                <td>
                  {user.username === me ? (
                    <span className="small muted">you</span>
                  ) : (
                    <button
                      type="button"
                      className="btn"
                      disabled={busy}
                      onClick={() =>
                        void act(
                          () => updateUser(user.username, { disabled: !user.disabled }),
                          `${user.username} ${user.disabled ? "enabled" : "disabled"}.`,
                        )
                      }
                    >
                      {user.disabled ? "Enable" : "Disable"}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="inline-form" onSubmit={(e) => void add(e)} aria-labelledby="user-add-title">
        <h3 id="user-add-title">Add a user</h3>
        <Field id="user-new-name" label="Login name">
          {(props) => <input {...props} autoComplete="off" value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} />}
        </Field>
        <Field id="user-new-display" label="Display name">
          {(props) => <input {...props} value={form.display} onChange={(e) => setForm({ ...form, display: e.target.value })} />}
        </Field>
        <Field id="user-new-password" label="Initial password">
          {(props) => (
            <input {...props} type="password" autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} />
          )}
        </Field>
        <Field id="user-new-role" label="Role">
          {(props) => (
            <select {...props} value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}>
              {ROLES.map((role) => (
                <option key={role}>{role}</option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit" className="btn" disabled={busy}>
          Add user
        </button>
      </form>
    </section>
  );
}
