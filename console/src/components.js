import { html } from 'htm/preact';
import { useState } from 'preact/hooks';

export function ErrorBanner({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert"><strong>${error.code ?? 'Error'}</strong> ${error.message}</div>`;
}

export function Loading({ what }) {
  return html`<p class="muted loading">Loading ${what}…</p>`;
}

/** A page's request state: its error banner, or "loading", or nothing (data is there). */
export function Status({ poll, what }) {
  if (poll.error && poll.data === undefined && poll.error.status === 404) return html`<div class="error" role="alert"><strong>Not found</strong> ${poll.error.message}</div>`;
  if (poll.error) return html`<${ErrorBanner} error=${poll.error} />`;
  if (poll.data === undefined) return html`<${Loading} what=${what} />`;
  return null;
}

export function Pager({ page, onChange }) {
  if (!page || page.total <= page.limit) return null;
  const last = Math.max(0, Math.floor((page.total - 1) / page.limit) * page.limit);
  return html`<div class="pager">
    <button disabled=${page.offset === 0} onClick=${() => onChange(Math.max(0, page.offset - page.limit))}>Previous</button>
    <span>${page.offset + 1}–${Math.min(page.total, page.offset + page.limit)} of ${page.total}</span>
    <button disabled=${page.offset >= last} onClick=${() => onChange(page.offset + page.limit)}>Next</button>
  </div>`;
}

/** A key, value or header value as the API decoded it (UTF-8, JSON or hex), with its encoding and size. */
export function Field({ field, long = false }) {
  if (!field || field.encoding === 'null') return html`<span class="muted null">null</span>`;
  const badge = html`<span class=${'badge enc-' + field.encoding}>${field.encoding}</span>`;
  const cut = field.isTruncated ? html`<span class="muted"> (first part of ${field.sizeBytes} bytes)</span>` : null;
  if (long || field.encoding === 'json') return html`<div class="field">${badge}${cut}<pre>${field.text}</pre></div>`;
  return html`<span class="field">${badge} <code>${field.text}</code>${cut}</span>`;
}

/** A button that asks before it acts: a dialog in the page saying what will happen, Confirm or Cancel. */
export function ConfirmButton({ label, title, children, onConfirm, disabled, disabledReason, danger = false }) {
  const [isOpen, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(undefined);
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm();
      setOpen(false);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<span>
    <button class=${danger ? 'danger' : 'primary'} disabled=${disabled} title=${disabled ? disabledReason : ''} onClick=${() => setOpen(true)}>${label}</button>
    ${isOpen &&
    html`<div class="modal-backdrop">
      <div class="modal" role="dialog" aria-modal="true" aria-label=${title}>
        <h3>${title}</h3>
        <div class="modal-body">${children}</div>
        <${ErrorBanner} error=${error} />
        <div class="modal-actions">
          <button onClick=${() => setOpen(false)} disabled=${busy}>Cancel</button>
          <button class=${danger ? 'danger' : 'primary'} onClick=${confirm} disabled=${busy}>${busy ? 'Working…' : 'Confirm'}</button>
        </div>
      </div>
    </div>`}
  </span>`;
}
