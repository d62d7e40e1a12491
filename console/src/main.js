import 'uplot/dist/uPlot.min.css';
import './style.css';
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { usePoll } from './poll.js';
import { OverviewPage } from './pages/overview.js';
import { TopicPage } from './pages/topic.js';
import { GroupsPage, GroupPage } from './pages/groups.js';
import { QueuesPage, QueuePage } from './pages/queues.js';
import { DeadLettersPage, DeadLetterTopicPage } from './pages/dead-letters.js';

/** Hash routes: the server serves one page, and a reload or a shared link lands on the same view. */
const ROUTES = [
  [/^\/$/, () => html`<${OverviewPage} />`],
  [/^\/topics\/([^/]+)$/, (m, info) => html`<${TopicPage} topic=${decodeURIComponent(m[1])} info=${info} />`],
  [/^\/groups$/, () => html`<${GroupsPage} />`],
  [/^\/groups\/([^/]+)$/, (m, info) => html`<${GroupPage} groupId=${decodeURIComponent(m[1])} info=${info} />`],
  [/^\/queues$/, () => html`<${QueuesPage} />`],
  [/^\/queues\/([^/]+)$/, (m, info) => html`<${QueuePage} groupId=${decodeURIComponent(m[1])} info=${info} />`],
  [/^\/dead-letters$/, () => html`<${DeadLettersPage} />`],
  [/^\/dead-letters\/([^/]+)$/, (m, info) => html`<${DeadLetterTopicPage} topic=${decodeURIComponent(m[1])} info=${info} />`],
];

function currentPath() {
  const hash = window.location.hash.replace(/^#/, '');
  return hash === '' ? '/' : hash;
}

function App() {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const onChange = () => setPath(currentPath());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const info = usePoll('/info', 0).data;
  let page = html`<div class="error" role="alert"><strong>Not found</strong> no page ${path}</div>`;
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(path);
    if (match) {
      page = view(match, info);
      break;
    }
  }
  const section = path.split('/')[1] || 'overview';
  const link = (href, label, name) => html`<a href=${href} class=${section === name || (name === 'overview' && section === 'topics') ? 'active' : ''}>${label}</a>`;
  return html`<div class="layout">
    <header>
      <a class="brand" href="#/">Strata</a>
      <nav>
        ${link('#/', 'Topics', 'overview')} ${link('#/groups', 'Consumer groups', 'groups')} ${link('#/queues', 'Queue groups', 'queues')}
        ${link('#/dead-letters', 'Dead letters', 'dead-letters')}
      </nav>
      <span class=${'mode ' + (info?.areActionsEnabled ? 'mode-actions' : 'mode-readonly')} title=${info?.areActionsEnabled ? 'consoleActions is on: redrive, reset and delete are allowed' : 'consoleActions is off: the console only reads'}>
        ${info === undefined ? '' : info.areActionsEnabled ? 'actions enabled' : 'read-only'}
      </span>
    </header>
    <main key=${path}>${page}</main>
  </div>`;
}

const root = document.getElementById('app');
// The "Loading…" placeholder goes: render adds to a container, it does not replace what is there.
root.replaceChildren();
render(html`<${App} />`, root);
