import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { LiveChart } from '../chart.js';
import { ConfirmButton, ErrorBanner, Pager, Status } from '../components.js';
import { formatAge, formatCount } from '../format.js';
import { usePoll, useSeries } from '../poll.js';
import { api, enc, query } from '../api.js';

export function GroupsPage() {
  const [offset, setOffset] = useState(0);
  const poll = usePoll('/groups' + query({ offset, limit: 50 }), 5000);
  const page = poll.data;
  return html`<section>
    <h1>Consumer groups</h1>
    <${Status} poll=${poll} what="consumer groups" />
    ${page &&
    html`<table class="data" data-testid="groups-table">
      <thead><tr><th>Group</th><th class="num">Members</th><th class="num">Epoch</th><th>Topics</th><th class="num">Lag (records)</th></tr></thead>
      <tbody>
        ${page.items.length === 0 && html`<tr><td colspan="5" class="muted">No consumer groups.</td></tr>`}
        ${page.items.map(
          (g) => html`<tr data-group=${g.groupId}>
            <td><a href=${'#/groups/' + enc(g.groupId)}>${g.groupId}</a></td>
            <td class="num">${g.memberCount}</td>
            <td class="num">${g.groupEpoch}</td>
            <td>${g.topics.join(', ')}</td>
            <td class="num" data-testid="group-lag">${formatCount(g.lagRecords)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
    <${Pager} page=${page} onChange=${setOffset} />
  </section>`;
}

export function GroupPage({ groupId, info }) {
  const [offset, setOffset] = useState(0);
  const poll = usePoll(`/groups/${enc(groupId)}` + query({ offset, limit: 200 }), 2000);
  const g = poll.data;
  const lagSeries = useSeries(g?.lagRecords, g?.nowMs);
  return html`<section>
    <h1>Consumer group <span class="name">${groupId}</span></h1>
    <${Status} poll=${poll} what="the group" />
    ${g &&
    html`<div>
      <div class="cards">
        <div class="card"><span class="card-label">Members</span><span class="card-value">${g.members.length}</span></div>
        <div class="card"><span class="card-label">Epoch</span><span class="card-value">${g.groupEpoch}</span></div>
        <div class="card"><span class="card-label">Lag (records)</span><span class="card-value" data-testid="group-total-lag">${formatCount(g.lagRecords)}</span></div>
      </div>
      <h2>Lag, live</h2>
      <${LiveChart} series=${lagSeries} label="lag (records)" color="#dc2626" />
      <h2>Members</h2>
      <table class="data" data-testid="members-table">
        <thead><tr><th>Member</th><th>Instance</th><th class="num">Epoch</th><th>Assignment</th><th class="num">Last heartbeat</th></tr></thead>
        <tbody>
          ${g.members.length === 0 && html`<tr><td colspan="5" class="muted">No members: the group has committed offsets only.</td></tr>`}
          ${g.members.map(
            (m) => html`<tr>
              <td><code>${m.memberId}</code>${m.isStreamLost && html` <span class="warn">stream lost</span>`}</td>
              <td>${m.instanceId || html`<span class="muted">–</span>`}</td>
              <td class="num">${m.memberEpoch}</td>
              <td>${m.assignment.map((a) => html`<div><code>${a.topic}</code>: ${a.partitions.join(', ')}</div>`)}</td>
              <td class="num">${formatAge(m.lastHeartbeatAgeMs)} ago</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <h2>Lag per partition</h2>
      <table class="data" data-testid="lag-table">
        <thead><tr><th>Topic</th><th class="num">Partition</th><th class="num">Committed</th><th class="num">End</th><th class="num">Lag</th><th class="num">Lag (time)</th><th>Owner</th></tr></thead>
        <tbody>
          ${g.lag.items.map(
            (l) => html`<tr data-topic=${l.topic} data-partition=${l.partition}>
              <td><a href=${'#/topics/' + enc(l.topic)}>${l.topic}</a></td>
              <td class="num">${l.partition}</td>
              <td class="num">${l.committedOffset < 0 ? html`<span class="muted">none</span>` : formatCount(l.committedOffset)}</td>
              <td class="num">${formatCount(l.logEndOffset)}</td>
              <td class="num" data-testid="partition-lag">${formatCount(l.lagRecords)}</td>
              <td class="num">${formatAge(l.lagMs)}</td>
              <td>${l.ownerMemberId ? html`<code>${l.ownerMemberId}</code>` : html`<span class="muted">unassigned</span>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      <${Pager} page=${g.lag} onChange=${setOffset} />
      <${GroupActions} groupId=${groupId} group=${g} info=${info} onDone=${poll.reload} />
    </div>`}
  </section>`;
}

function GroupActions({ groupId, group, info, onDone }) {
  const topics = [...new Set(group.lag.items.map((l) => l.topic))];
  const [topic, setTopic] = useState(topics[0] ?? '');
  const [to, setTo] = useState('latest');
  const [preview, setPreview] = useState(undefined);
  const [error, setError] = useState(undefined);
  const isEnabled = info?.areActionsEnabled === true;
  const reason = "this server's console is read-only (consoleActions is off)";
  const dryRun = async () => {
    setError(undefined);
    try {
      setPreview(await api(`/groups/${enc(groupId)}/reset-offsets`, { method: 'POST', body: { topic, to, execute: false } }));
    } catch (e) {
      setError(e);
    }
  };
  return html`<div class="actions">
    <h2>Actions</h2>
    ${!isEnabled && html`<p class="muted">Read-only: start the server with <code>consoleActions: true</code> (or <code>--console-actions</code>) to reset offsets or delete groups here.</p>`}
    <div class="action-row">
      <label>Reset offsets of <select value=${topic} onChange=${(e) => setTopic(e.currentTarget.value)} disabled=${!isEnabled}>${topics.map((t) => html`<option value=${t}>${t}</option>`)}</select></label>
      <label>to <select value=${to} onChange=${(e) => setTo(e.currentTarget.value)} disabled=${!isEnabled}><option value="earliest">earliest</option><option value="latest">latest</option></select></label>
      <button onClick=${dryRun} disabled=${!isEnabled || topic === ''} title=${isEnabled ? '' : reason}>Preview</button>
      <${ConfirmButton}
        label="Reset…"
        title=${`Reset ${groupId}'s offsets of ${topic} to ${to}`}
        disabled=${!isEnabled || topic === ''}
        disabledReason=${reason}
        onConfirm=${async () => {
          setPreview(await api(`/groups/${enc(groupId)}/reset-offsets`, { method: 'POST', body: { topic, to, execute: true } }));
          onDone();
        }}
      >
        <p>Members keep running: their commits are fenced first, then they reload the new offsets.</p>
      <//>
      <${ConfirmButton}
        label="Delete group…"
        title=${`Delete group ${groupId}`}
        danger=${true}
        disabled=${!isEnabled || group.members.length > 0}
        disabledReason=${isEnabled ? 'a group with members cannot be deleted' : reason}
        onConfirm=${async () => {
          await api(`/groups/${enc(groupId)}`, { method: 'DELETE' });
          window.location.hash = '#/groups';
        }}
      >
        <p>Its committed offsets are forgotten: a consumer of this group starts over from its reset policy.</p>
      <//>
    </div>
    <${ErrorBanner} error=${error} />
    ${preview &&
    html`<table class="data"><thead><tr><th>Partition</th><th class="num">Before</th><th class="num">After</th></tr></thead>
      <tbody>${preview.changes.map((c) => html`<tr><td>${c.topic}/${c.partition}</td><td class="num">${c.previousOffset < 0 ? 'none' : c.previousOffset}</td><td class="num">${c.newOffset}</td></tr>`)}</tbody>
      <caption>${preview.executed ? 'Done.' : 'Dry run: nothing changed yet.'}</caption></table>`}
  </div>`;
}
