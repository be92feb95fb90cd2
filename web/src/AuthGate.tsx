import { useCallback, useEffect, useState } from "react";

import { App } from "./App";
import { type Me, getMe, logout } from "./api/auth";
import { describeError, onUnauthorized } from "./api/client";
import { LoginPage } from "./components/LoginPage";

type Session =
  | { kind: "checking" }
  | { kind: "signed_out"; notice: string | null }
  | { kind: "signed_in"; me: Me };

export const SESSION_ENDED = "Your session has ended. Please sign in again.";
export const SIGNED_OUT = "You are signed out.";

/** Shows the login page until `/api/auth/me` knows the user, then the console; back to login on any 401. */
export function AuthGate() {
  const [session, setSession] = useState<Session>({ kind: "checking" });

  useEffect(() => {
    const controller = new AbortController();
    getMe(controller.signal).then(
      (me) => setSession(me ? { kind: "signed_in", me } : { kind: "signed_out", notice: null }),
      (err: unknown) => {
        if (!controller.signal.aborted) setSession({ kind: "signed_out", notice: describeError(err) });
      },
    );
    return () => controller.abort();
  }, []);

  useEffect(
    () =>
      onUnauthorized(() =>
        setSession((current) => (current.kind === "signed_in" ? { kind: "signed_out", notice: SESSION_ENDED } : current)),
      ),
    [],
  );

  const signOut = useCallback(() => {
    void logout()
      .catch(() => undefined)
      .then(() => setSession({ kind: "signed_out", notice: SIGNED_OUT }));
  }, []);

  if (session.kind === "checking") {
    return (
      <p className="muted login-checking" data-testid="auth-checking">
        Checking your session…
      </p>
    );
  }
  if (session.kind === "signed_out") {
    return <LoginPage notice={session.notice} onLoggedIn={(me) => setSession({ kind: "signed_in", me })} />;
  }
  return <App user={session.me} onLogout={signOut} />;
}
