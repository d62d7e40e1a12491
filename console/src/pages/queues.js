import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { LiveChart } from '../chart.js';
import { ConfirmButton, Pager, Status } from '../components.js';
import { formatAge, formatCount } from '../format.js';
import { usePoll, useSeries } from '../poll.js';
import { api, enc, query } from '../api.js';

export function QueuesPage() {
  const [offset, setOffset] = useState(0);
  const poll = usePoll('/queue-groups' + query({ offset, limit: 50 }), 3000);
  const page = poll.data;
  return html`<section>
    <h1>Queue groups</h1>
    <${Status} poll=${poll} what="queue groups" />
    ${page &&
    html`<table class="data" data-testid="queues-table">
      <thead><tr><th>Group</th><th class="num">Members</th><th>Topics</th><th class="num">Depth</th><th class="num">In flight</th><th class="num">Oldest unacknowledged</th><th class="num">Dead-letter depth</th><th>Dead-letter topics</th></tr></thead>
      <tbody>
        ${page.items.length === 0 && html`<tr><td colspan="8" class="muted">No queue groups.</td></tr>`}
        ${page.items.map(
          (g) => html`<tr data-group=${g.groupId}>
            <td><a href=${'#/queues/' + enc(g.groupId)}>${g.groupId}</a></td>
            <td class="num">${g.memberCount}</td>
            <td>${g.topics.join(', ')}</td>
            <td class="num" data-testid="queue-depth">${formatCount(g.total.depth)}</td>
            <td class="num">${formatCount(g.total.inFlight)}</td>
            <td class="num">${formatAge(g.total.oldestUnacknowledgedAgeMs)}</td>
            <td class="num" data-testid="queue-dlq-depth">${formatCount(g.total.deadLetterDepth)}</td>
            <td>${g.deadLetterTopics.map((t) => html`<a href=${'#/dead-letters/' + enc(t)}>${t}</a> `)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
    <${Pager} page=${page} onChange=${setOffset} />
  </section>`;
}

export function QueuePage({ groupId, info }) {
  const [offset, setOffset] = useState(0);
  const poll = usePoll(`/queue-groups/${enc(groupId)}` + query({ offset, limit: 200 }), 2000);
  const g = poll.data;
  const depth = useSeries(g?.total.depth, g?.nowMs);
  return html`<section>
    <h1>Queue group <span class="name">${groupId}</span></h1>
    <${Status} poll=${poll} what="the queue group" />
    ${g &&
    html`<div>
      <div class="cards">
        <div class="card"><span class="card-label">Depth</span><span class="card-value" data-testid="queue-total-depth">${formatCount(g.total.depth)}</span></div>
        <div class="card"><span class="card-label">In flight</span><span class="card-value">${formatCount(g.total.inFlight)}</span></div>
        <div class="card"><span class="card-label">Waiting to retry</span><span class="card-value">${formatCount(g.total.waitingForRetry)}</span></div>
        <div class="card"><span class="card-label">Oldest unacknowledged</span><span class="card-value">${formatAge(g.total.oldestUnacknowledgedAgeMs)}</span></div>
        <div class="card"><span class="card-label">Dead-letter depth</span><span class="card-value" data-testid="queue-total-dlq">${formatCount(g.total.deadLetterDepth)}</span></div>
        <div class="card"><span class="card-label">Redeliveries</span><span class="card-value">${formatCount(g.total.redeliveries)}</span></div>
      </div>
      <p>Dead letters: ${g.deadLetterTopics.map((t) => html`<a class="button" href=${'#/dead-letters/' + enc(t)}>inspect ${t}</a> `)}</p>
      <h2>Depth, live</h2>
      <${LiveChart} series=${depth} label="depth (records)" color="#7c3aed" />
      <h2>Members</h2>
      <table class="data">
        <thead><tr><th>Member</th><th>Client</th><th>Topics</th><th class="num">In flight</th><th class="num">Limit</th></tr></thead>
        <tbody>
          ${g.members.length === 0 && html`<tr><td colspan="5" class="muted">No members.</td></tr>`}
          ${g.members.map((m) => html`<tr><td><code>${m.memberId}</code></td><td>${m.clientId}</td><td>${m.topics.join(', ')}</td><td class="num">${m.inFlight}</td><td class="num">${m.inFlightLimit}</td></tr>`)}
        </tbody>
      </table>
      <h2>Partitions</h2>
      <table class="data" data-testid="queue-partitions">
        <thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Start</th><th class="num">End</th><th class="num">Depth</th><th class="num">In flight</th><th class="num">Retrying</th><th class="num">Oldest</th><th class="num">Dead-lettered</th><th>Dead-letter topic</th></tr></thead>
        <tbody>
          ${g.partitions.items.map(
            (p) => html`<tr>
              <td>${p.topic}</td><td class="num">${p.partition}</td><td class="num">${formatCount(p.startOffset)}</td><td class="num">${formatCount(p.highWatermark)}</td>
              <td class="num">${formatCount(p.depth.depth)}</td><td class="num">${formatCount(p.depth.inFlight)}</td><td class="num">${formatCount(p.depth.waitingForRetry)}</td>
              <td class="num">${formatAge(p.depth.oldestUnacknowledgedAgeMs)}</td><td class="num">${formatCount(p.depth.deadLettered)}</td>
              <td><a href=${'#/dead-letters/' + enc(p.deadLetterTopic)}>${p.deadLetterTopic}</a></td>
            </tr>`,
          )}
        </tbody>
      </table>
      <${Pager} page=${g.partitions} onChange=${setOffset} />
      <h2>Configuration</h2>
      <table class="data config"><tbody>${Object.entries(g.config).map(([k, v]) => html`<tr><td><code>${k}</code></td><td><code>${String(v)}</code></td></tr>`)}</tbody></table>
      <h2>Actions</h2>
      <div class="action-row">
        <${ConfirmButton}
          label="Delete queue group…"
          title=${`Delete queue group ${groupId}`}
          danger=${true}
          disabled=${info?.areActionsEnabled !== true || g.members.length > 0}
          disabledReason=${info?.areActionsEnabled === true ? 'a queue group with members cannot be deleted' : "this server's console is read-only (consoleActions is off)"}
          onConfirm=${async () => {
            await api(`/queue-groups/${enc(groupId)}`, { method: 'DELETE' });
            window.location.hash = '#/queues';
          }}
        >
          <p>Its state goes: where it stands in each partition, its delivery counts and its configuration. Its dead-letter topics stay.</p>
        <//>
      </div>
    </div>`}
  </section>`;
}
