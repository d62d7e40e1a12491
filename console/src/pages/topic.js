import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { TimeChart } from '../chart.js';
import { ConfirmButton, ErrorBanner, Field, Pager, Status } from '../components.js';
import { formatBytes, formatCount, formatTime } from '../format.js';
import { usePoll } from '../poll.js';
import { api, enc, query } from '../api.js';

export function TopicPage({ topic, info }) {
  const [offset, setOffset] = useState(0);
  const poll = usePoll(`/topics/${enc(topic)}` + query({ offset, limit: 100 }), 3000);
  const t = poll.data;
  return html`<section>
    <h1>Topic <span class="name" data-testid="topic-name">${topic}</span></h1>
    <${Status} poll=${poll} what="the topic" />
    ${t &&
    html`<div>
      <div class="cards">
        <div class="card"><span class="card-label">Partitions</span><span class="card-value">${formatCount(t.partitionCount)}</span></div>
        <div class="card"><span class="card-label">Records</span><span class="card-value" data-testid="topic-records">${formatCount(t.partitions.items.reduce((s, p) => s + Math.max(0, p.highWatermark - p.logStartOffset), 0))}</span></div>
        <div class="card"><span class="card-label">Size</span><span class="card-value">${formatBytes(t.partitions.items.reduce((s, p) => s + p.sizeBytes, 0))}</span></div>
      </div>
      <h2>Throughput</h2>
      ${t.throughput.length >= 2
        ? html`<${TimeChart} xs=${t.throughput.map((p) => p.atMs / 1000)} ys=${t.throughput.map((p) => p.recordsPerSecond)} label="records/s" />`
        : html`<p class="muted">The server samples every few seconds; the chart shows once there are two samples.</p>`}
      <h2>Partitions</h2>
      <table class="data" data-testid="partitions-table">
        <thead><tr><th class="num">Partition</th><th>Status</th><th class="num">Log start</th><th class="num">End (high watermark)</th><th class="num">Records</th><th class="num">Size</th><th class="num">Segments</th></tr></thead>
        <tbody>
          ${t.partitions.items.map(
            (p) => html`<tr>
              <td class="num">${p.partition}</td>
              <td>${p.status === 'online' ? html`<span class="ok">online</span>` : html`<span class="warn" title=${p.error ?? ''}>${p.status}</span>`}</td>
              <td class="num">${formatCount(p.logStartOffset)}</td>
              <td class="num">${formatCount(p.highWatermark)}</td>
              <td class="num">${formatCount(Math.max(0, p.highWatermark - p.logStartOffset))}</td>
              <td class="num">${formatBytes(p.sizeBytes)}</td>
              <td class="num">${p.segmentCount}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <${Pager} page=${t.partitions} onChange=${setOffset} />
      <h2>Configuration</h2>
      <table class="data config">
        <thead><tr><th>Key</th><th>Value</th><th></th></tr></thead>
        <tbody>
          ${Object.entries(t.config).map(([k, v]) => html`<tr><td><code>${k}</code></td><td><code>${v}</code></td><td>${k in t.configOverrides ? html`<span class="badge">set for this topic</span>` : html`<span class="muted">default</span>`}</td></tr>`)}
        </tbody>
      </table>
      <h2>Messages</h2>
      <${MessageBrowser} topic=${topic} partitionCount=${t.partitionCount} />
      <h2>Actions</h2>
      <div class="action-row">
        <${ConfirmButton}
          label="Delete topic…"
          title=${`Delete topic ${topic}`}
          danger=${true}
          disabled=${info?.areActionsEnabled !== true}
          disabledReason="this server's console is read-only (consoleActions is off)"
          onConfirm=${async () => {
            await api(`/topics/${enc(topic)}`, { method: 'DELETE' });
            window.location.hash = '#/';
          }}
        >
          <p>Every record of <code>${topic}</code> is deleted, with consumer groups' committed offsets of it and queue groups' state of it. This cannot be undone.</p>
        <//>
      </div>
    </div>`}
  </section>`;
}

/** Seek by offset or time (or newest / oldest), filter by key, page on from where the last answer stopped. */
function MessageBrowser({ topic, partitionCount }) {
  const [form, setForm] = useState({ partition: partitionCount === 1 ? '0' : '', mode: 'latest', offset: '', time: '', key: '', limit: '50' });
  const [result, setResult] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const set = (field) => (event) => setForm({ ...form, [field]: event.currentTarget.value });
  const load = async (params) => {
    setBusy(true);
    setError(undefined);
    try {
      setResult(await api(`/topics/${enc(topic)}/messages` + query(params)));
    } catch (e) {
      setError(e);
      setResult(undefined);
    } finally {
      setBusy(false);
    }
  };
  const baseParams = () => ({ partition: form.partition, key: form.key === '' ? undefined : form.key, limit: form.limit });
  const search = (event) => {
    event.preventDefault();
    const params = baseParams();
    if (form.mode === 'offset') params.offset = form.offset;
    else if (form.mode === 'time') params.timestampMs = form.time === '' ? '' : String(Date.parse(form.time));
    else params.from = form.mode;
    void load(params);
  };
  // The next page: the first partition the last answer did not finish, from where it stopped.
  const nextPartition = result?.partitions.find((p) => !p.isComplete);
  const next = () => void load({ ...baseParams(), partition: nextPartition.partition, offset: nextPartition.nextOffset });
  return html`<div class="browser">
    <form class="browser-form" onSubmit=${search}>
      <label>Partition
        <select name="partition" value=${form.partition} onChange=${set('partition')}>
          <option value="">all</option>
          ${Array.from({ length: Math.min(partitionCount, 1000) }, (_, p) => html`<option value=${String(p)}>${p}</option>`)}
        </select>
      </label>
      <label>From
        <select name="mode" value=${form.mode} onChange=${set('mode')}>
          <option value="latest">newest</option>
          <option value="earliest">oldest</option>
          <option value="offset">offset</option>
          <option value="time">time</option>
        </select>
      </label>
      ${form.mode === 'offset' && html`<label>Offset <input name="offset" inputmode="numeric" value=${form.offset} onInput=${set('offset')} /></label>`}
      ${form.mode === 'time' && html`<label>Time <input name="time" type="datetime-local" step="1" value=${form.time} onInput=${set('time')} /></label>`}
      <label>Key <input name="key" placeholder="exact key (UTF-8)" value=${form.key} onInput=${set('key')} /></label>
      <label>Max <input name="limit" inputmode="numeric" size="4" value=${form.limit} onInput=${set('limit')} /></label>
      <button class="primary" type="submit" disabled=${busy}>${busy ? 'Reading…' : 'Show'}</button>
    </form>
    <${ErrorBanner} error=${error} />
    ${result &&
    html`<div>
      <p class="muted" data-testid="browser-summary">
        ${result.records.length} record${result.records.length === 1 ? '' : 's'}${result.stoppedBy ? ` (stopped by ${result.stoppedBy})` : ''}, ${formatBytes(result.scannedBytes)} read.
        ${nextPartition && html` <button onClick=${next} disabled=${busy}>Next page (partition ${nextPartition.partition} from ${nextPartition.nextOffset})</button>`}
      </p>
      <${RecordsTable} records=${result.records} />
    </div>`}
  </div>`;
}

export function RecordsTable({ records, extra }) {
  return html`<table class="data records" data-testid="records-table">
    <thead><tr><th class="num">Partition</th><th class="num">Offset</th><th>Time</th><th>Key</th><th>Value</th><th>Headers</th>${extra && html`<th>${extra.title}</th>`}</tr></thead>
    <tbody>
      ${records.length === 0 && html`<tr><td colspan="7" class="muted">No records.</td></tr>`}
      ${records.map(
        (r) => html`<tr data-offset=${r.offset} data-partition=${r.partition}>
          <td class="num">${r.partition}</td>
          <td class="num">${r.offset}</td>
          <td class="nowrap">${formatTime(r.timestampMs)}</td>
          <td><${Field} field=${r.key} /></td>
          <td class="value"><${Field} field=${r.value} /></td>
          <td>${r.headers.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="headers">${r.headers.map((h) => html`<li><code>${h.key}</code>: <${Field} field=${h.value} /></li>`)}</ul>`}</td>
          ${extra && html`<td>${extra.render(r)}</td>`}
        </tr>`,
      )}
    </tbody>
  </table>`;
}
