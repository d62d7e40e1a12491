/**
 * The rails of the layout (STYLE: one direction of dependency), checked by
 * test/architecture/dependencies.test.ts and by `npx depcruise src` by hand:
 *   core <- format <- storage <- {broker, groups, queues, acls, schemas, quotas} <- server <- cli
 * `client` stands alone on core, format and the protocol (generated types and their loader), so it can
 * ship as a library; broker, groups, queues and schemas never import each other; no file imports cli; in server/ only
 * bootstrap.ts (the composition root) imports storage, the services reach it through broker and groups. Static, dynamic
 * (`import()`), side-effect and type-only imports all count, and so does any cycle between files.
 */
const MODULES = ['core', 'generated', 'protocol', 'format', 'storage', 'broker', 'groups', 'queues', 'acls', 'schemas', 'quotas', 'client', 'server', 'cli'];

/** Each module and what it may import besides itself; src/*.ts (the package entries) may import any. */
const ALLOWED = {
  core: [],
  generated: [],
  protocol: ['generated'],
  format: ['core'],
  storage: ['core', 'format'],
  broker: ['core', 'format', 'storage'],
  groups: ['core', 'format', 'storage'],
  queues: ['core', 'format', 'storage'],
  acls: ['core', 'format', 'storage'],
  schemas: ['core', 'format', 'storage'],
  quotas: ['core', 'format', 'storage'],
  client: ['core', 'format', 'generated', 'protocol'],
  server: ['core', 'format', 'storage', 'broker', 'groups', 'queues', 'acls', 'schemas', 'quotas', 'generated', 'protocol'],
  cli: ['core', 'client', 'server', 'generated', 'protocol'],
};

const layerRules = MODULES.map((module) => {
  const forbidden = MODULES.filter((other) => other !== module && !ALLOWED[module].includes(other));
  return {
    name: `layer-${module}`,
    comment: `src/${module} may import only ${ALLOWED[module].join(', ') || 'nothing of ours'}`,
    severity: 'error',
    from: { path: `(^|/)src/${module}/` },
    to: { path: `(^|/)src/(${forbidden.join('|')})/` },
  };
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'server-storage-only-in-bootstrap',
      comment: 'src/server is transport only: it reaches storage through broker and groups, except bootstrap.ts, the composition root that builds them',
      severity: 'error',
      from: { path: '(^|/)src/server/', pathNot: '(^|/)src/server/bootstrap\\.ts$' },
      to: { path: '(^|/)src/storage/' },
    },
    {
      name: 'known-module',
      comment: 'a directory of src/ that the layers above do not name: add it to MODULES and ALLOWED',
      severity: 'error',
      from: { path: '(^|/)src/[^/]+/', pathNot: `(^|/)src/(${MODULES.join('|')})/` },
      to: {},
    },
    {
      name: 'no-cycle',
      comment: 'an import cycle between files: move the shared types one file down',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'resolvable',
      comment: 'an import that resolves to no file',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    moduleSystems: ['es6', 'cjs'],
  },
};
