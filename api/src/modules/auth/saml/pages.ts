/** Small server-rendered pages for the sign-in flow (outside the web app: they must work without it). */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)} · riglab</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0;display:flex;justify-content:center}
main{background:#fff;margin:8vh 1rem;padding:2rem 2.5rem;border-radius:12px;box-shadow:0 2px 12px #0001;max-width:34rem;width:100%}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;margin:.75rem 0}input:not([type=hidden]){display:block;width:100%;padding:.5rem;font:inherit;border:1px solid #c4c9d4;border-radius:6px;box-sizing:border-box}
button,.button{margin-top:1rem;padding:.55rem 1.2rem;font:inherit;background:#2459d6;color:#fff;border:0;border-radius:6px;cursor:pointer;text-decoration:none;display:inline-block}
.error{background:#fdecec;color:#8a1c1c;padding:.6rem .8rem;border-radius:6px}.note{color:#555}.ref{color:#666;font-size:.9rem}code{background:#eef0f4;padding:0 .25rem;border-radius:4px}
</style></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

/** The page a refused sign-in shows: what failed, in words, and a reference for the help desk. */
export function signInFailedPage(reason: string, reference: string): string {
  return page(
    'Sign-in failed',
    `<p class="error" role="alert">${escapeHtml(reason)}</p>
<p>Try again; if it keeps failing, contact your help desk and quote the reference below.</p>
<p class="ref">Reference: <code>${escapeHtml(reference)}</code></p>
<a class="button" href="/">Back to riglab</a>`,
  );
}
