import { useEffect, type ReactNode } from 'react';

export function ErrorMessage({ message, title }: { message: string; title?: string }) {
  return (
    <div className="alert alert-error" role="alert">
      {title ? <strong>{title} </strong> : null}
      {message}
    </div>
  );
}

export function Badge({ tone, children }: { tone: 'ok' | 'bad' | 'warn' | 'neutral'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function roleLabel(role: string): string {
  switch (role) {
    case 'admin':
      return 'Campus IT admin';
    case 'staff':
      return 'Staff';
    case 'student':
      return 'Student';
    case 'instructor':
      return 'Instructor';
    case 'ta':
      return 'Teaching assistant';
    default:
      return role;
  }
}

export function formatDate(iso: string | null | undefined, empty = 'never'): string {
  if (!iso) return empty;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Runs `load` now and every `everyMs` while the tab is visible (a hidden tab asks the portal nothing). */
export function usePolling(load: () => Promise<void>, everyMs = 30_000): void {
  useEffect(() => {
    void load();
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') void load();
    }, everyMs);
    return () => window.clearInterval(t);
  }, [load, everyMs]);
}
