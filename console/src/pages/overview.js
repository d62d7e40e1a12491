import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { Sparkline } from '../chart.js';
import { Pager, Status } from '../components.js';
import { formatBytes, formatCount, formatRate } from '../format.js';
import { usePoll } from '../poll.js';
import { enc, query } from '../api.js';

export function OverviewPage() {
  const [offset, setOffset] = useState(0);
  const topics = usePoll('/topics' + query({ offset, limit: 100 }), 5000);
  const groups = usePoll('/groups' + query({ limit: 1 }), 10000);
  const queues = usePoll('/queue-groups' + query({ limit: 1 }), 10000);
  const page = topics.data;
  const items = page?.items ?? [];
  return html`<section>
    <h1>Topics</h1>
    <div class="cards">
      <div class="card"><span class="card-label">Topics</span><span class="card-value" data-testid="topic-count">${formatCount(page?.total)}</span></div>
      <div class="card"><span class="card-label">Records (this page)</span><span class="card-value">${formatCount(items.reduce((s, t) => s + t.records, 0))}</span></div>
      <div class="card"><span class="card-label">Size (this page)</span><span class="card-value">${formatBytes(items.reduce((s, t) => s + t.sizeBytes, 0))}</span></div>
      <div class="card"><span class="card-label">Consumer groups</span><span class="card-value">${formatCount(groups.data?.total)}</span></div>
      <div class="card"><span class="card-label">Queue groups</span><span class="card-value">${formatCount(queues.data?.total)}</span></div>
    </div>
    <${Status} poll=${topics} what="topics" />
    ${page &&
    html`<table class="data" data-testid="topics-table">
      <thead><tr><th>Topic</th><th class="num">Partitions</th><th class="num">Records</th><th class="num">Size</th><th>Status</th><th>Throughput (records/s, last minutes)</th><th class="num">Now</th></tr></thead>
      <tbody>
        ${items.length === 0 && html`<tr><td colspan="7" class="muted">No topics yet: create one with <code>strata topics create NAME</code>.</td></tr>`}
        ${items.map(
          (t) => html`<tr data-topic=${t.name}>
            <td><a href=${'#/topics/' + enc(t.name)}>${t.name}</a></td>
            <td class="num">${formatCount(t.partitionCount)}</td>
            <td class="num" data-testid="records">${formatCount(t.records)}</td>
            <td class="num">${formatBytes(t.sizeBytes)}</td>
            <td>${t.partitionsNotOnline === 0 ? html`<span class="ok">online</span>` : html`<span class="warn">${t.partitionsNotOnline} not online</span>`}</td>
            <td><${Sparkline} points=${t.throughput} /></td>
            <td class="num">${formatRate(t.throughput.at(-1)?.recordsPerSecond)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
    <${Pager} page=${page} onChange=${setOffset} />
  </section>`;
}
