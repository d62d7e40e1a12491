import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { ConfirmButton, ErrorBanner, Status } from '../components.js';
import { formatCount, formatTime } from '../format.js';
import { usePoll } from '../poll.js';
import { api, enc, query } from '../api.js';
import { RecordsTable } from './topic.js';

export function DeadLettersPage() {
  const poll = usePoll('/dead-letters' + query({ limit: 200 }), 5000);
  const page = poll.data;
  return html`<section>
    <h1>Dead-letter topics</h1>
    <${Status} poll=${poll} what="dead-letter topics" />
    ${page &&
    html`<table class="data" data-testid="dlq-topics">
      <thead><tr><th>Dead-letter topic</th><th>Source topic</th><th class="num">Partitions</th><th class="num">Records</th><th>Queue groups</th></tr></thead>
      <tbody>
        ${page.items.length === 0 && html`<tr><td colspan="5" class="muted">No dead-letter topics.</td></tr>`}
        ${page.items.map(
          (t) => html`<tr data-topic=${t.topic}>
            <td><a href=${'#/dead-letters/' + enc(t.topic)}>${t.topic}</a></td>
            <td><a href=${'#/topics/' + enc(t.sourceTopic)}>${t.sourceTopic}</a></td>
            <td class="num">${t.partitionCount}</td>
            <td class="num">${formatCount(t.records)}</td>
            <td>${t.queueGroups.map((g) => html`<a href=${'#/queues/' + enc(g)}>${g}</a> `)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
  </section>`;
}

function deadLetterCell(r) {
  const d = r.deadLetter ?? {};
  return html`<div class="dead-letter">
    <div>from <code>${d.sourceTopic ?? '?'}/${d.sourcePartition ?? '?'}@${d.sourceOffset ?? '?'}</code></div>
    <div>group <code>${d.group ?? '?'}</code>, ${d.attempts ?? '?'} attempts, <span class="badge">${d.cause ?? '?'}</span></div>
    ${d.error && html`<div class="muted">${d.error}</div>`}
    <div class="muted">${formatTime(d.deadLetteredAtMs)}</div>
  </div>`;
}

export function DeadLetterTopicPage({ topic, info }) {
  const poll = usePoll(`/dead-letters/${enc(topic)}` + query({ limit: 100 }), 5000);
  const [result, setResult] = useState(undefined);
  const isEnabled = info?.areActionsEnabled === true;
  const records = poll.data?.records ?? [];
  const sources = [...new Set(records.map((r) => r.deadLetter?.sourceTopic).filter(Boolean))];
  return html`<section>
    <h1>Dead letters in <span class="name">${topic}</span></h1>
    <${Status} poll=${poll} what="dead letters" />
    ${poll.data &&
    html`<div>
      <div class="action-row">
        <${ConfirmButton}
          label="Redrive…"
          title=${`Redrive the dead letters of ${topic}`}
          disabled=${!isEnabled}
          disabledReason="this server's console is read-only (consoleActions is off)"
          onConfirm=${async () => {
            setResult(await api(`/dead-letters/${enc(topic)}/redrive`, { method: 'POST', body: {} }));
            poll.reload();
          }}
        >
          <p>Every dead letter of <code>${topic}</code> is appended again to its source topic and partition${sources.length > 0 ? ` (${sources.join(', ')})` : ''}, with its key, value, headers and timestamp; the <code>strata.dlq.*</code> headers are dropped. Each source record goes once.</p>
          <p>The dead letters stay in <code>${topic}</code>: it is a log. Redriving again appends them again.</p>
        <//>
        ${!isEnabled && html`<span class="muted">Read-only: start the server with <code>consoleActions: true</code> to redrive from here (or use <code>strata dlq redrive</code>).</span>`}
      </div>
      ${result &&
      html`<div class="notice" role="status" data-testid="redrive-result">
        Appended ${result.appended} record${result.appended === 1 ? '' : 's'} to their source topics${result.duplicates ? `, ${result.duplicates} duplicates skipped` : ''}${result.withoutSource ? `, ${result.withoutSource} without source headers skipped` : ''}${result.isComplete ? '.' : '. It stopped at the per-request limit:'}
        ${!result.isComplete && html` <button onClick=${async () => setResult(await api(`/dead-letters/${enc(topic)}/redrive`, { method: 'POST', body: { fromOffsets: result.nextOffsets } }))}>Go on from there</button>`}
      </div>`}
      <p class="muted">${records.length} dead letter${records.length === 1 ? '' : 's'} shown (oldest first${poll.data.stoppedBy ? `, stopped by ${poll.data.stoppedBy}` : ''}).</p>
      <${RecordsTable} records=${records} extra=${{ title: 'Dead letter', render: deadLetterCell }} />
    </div>`}
  </section>`;
}
