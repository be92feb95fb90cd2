import { useCallback, useEffect, useState } from "react";

function current(): string {
  if (typeof window === "undefined") return "/";
  const hash = window.location.hash.replace(/^#/, "");
  return hash.startsWith("/") ? hash : "/";
}

/** The route in the URL's hash (`#/incident/inc-1`), and a way to change it (back/forward work). */
export function useHashRoute(): [string, (route: string) => void] {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const onChange = () => setRoute(current());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  const navigate = useCallback((next: string) => {
    window.location.hash = next;
    setRoute(next);
  }, []);
  return [route, navigate];
}
