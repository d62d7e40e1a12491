// Numbers as an operator reads them.

const integer = new Intl.NumberFormat('en-US');
const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

export const formatCount = (n) => (n === undefined || n === null ? '–' : integer.format(n));

export function formatRate(perSecond) {
  if (perSecond === undefined) return '–';
  return `${decimal.format(perSecond)}/s`;
}

export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${decimal.format(value)} ${units[unit]}`;
}

export function formatAge(ms) {
  if (ms === undefined || ms === null || ms < 0) return '–';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${decimal.format(s)} s`;
  if (s < 3600) return `${decimal.format(s / 60)} min`;
  if (s < 86400) return `${decimal.format(s / 3600)} h`;
  return `${decimal.format(s / 86400)} d`;
}

export const formatTime = (ms) => (ms ? new Date(ms).toISOString().replace('T', ' ').replace('Z', ' UTC') : '–');
