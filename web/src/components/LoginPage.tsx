import { type FormEvent, useState } from "react";

import { LockoutError, type Me, login } from "../api/auth";
import { describeError } from "../api/client";

export interface LoginPageProps {
  onLoggedIn: (me: Me) => void;
  /** Why the login page is shown (session ended, signed out, server unreachable...). */
  notice?: string | null;
  /** Clock, for tests. */
  now?: () => number;
}

function clockTime(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** The sign-in form; shown whenever `/api/auth/me` answers 401. */
export function LoginPage({ onLoggedIn, notice = null, now = Date.now }: LoginPageProps) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (busy) return;
    if (!username.trim() || !password) {
      setError("Enter your user name and password.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const me = await login(username.trim(), password);
      setPassword("");
      onLoggedIn(me);
    } catch (err) {
      setPassword("");
      if (err instanceof LockoutError && err.retryAfterS !== null) {
        setError(`${err.message} (at ${clockTime(now() + err.retryAfterS * 1000)})`);
      } else {
        setError(describeError(err));
      }
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <form className="login-card" data-testid="login-form" onSubmit={(event) => void submit(event)} noValidate>
        <h1>Watchkeeper</h1>
        <p className="muted">Sign in to see the cameras you are allowed to.</p>
        {notice && !error ? <p className="login-notice">{notice}</p> : null}
        <label htmlFor="login-username">User name</label>
        <input
          id="login-username"
          data-testid="login-username"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          onChange={(event) => setUsername(event.target.value)}
          disabled={busy}
        />
        <label htmlFor="login-password">Password</label>
        <input
          id="login-password"
          data-testid="login-password"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          disabled={busy}
        />
        {error ? (
          <p className="login-error" role="alert" data-testid="login-error">
            {error}
          </p>
        ) : null}
        <button type="submit" data-testid="login-submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
