/**
 * In-process Prometheus metrics (text exposition format 0.0.4): counters with labels and one latency histogram.
 * Per-process values; Prometheus sums instances.
 */

const BUCKETS_SEC = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] as const;

export interface Metrics {
  inc(name: string, labels: Record<string, string>, help: string): void;
  observeRequest(route: string, seconds: number): void;
  gauge(name: string, help: string, read: () => number): void;
  render(): string;
}

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const fmtLabels = (l: Record<string, string>): string => {
  const parts = Object.keys(l).sort().map((k) => `${k}="${esc(l[k]!)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
};

export function createMetrics(): Metrics {
  const labelCache = new Map<string, string>();
  const labelsOf = (l: Record<string, string>): string => {
    let raw = '';
    for (const k in l) raw += `${k}\u0000${l[k]}\u0000`;
    let f = labelCache.get(raw);
    if (f === undefined) {
      f = fmtLabels(l);
      if (labelCache.size < 10_000) labelCache.set(raw, f);
    }
    return f;
  };
  const counters = new Map<string, { help: string; values: Map<string, number> }>();
  const gauges = new Map<string, { help: string; read: () => number }>();
  const hist = new Map<string, { counts: number[]; sum: number; count: number }>();
  return {
    inc(name, labels, help) {
      let c = counters.get(name);
      if (!c) counters.set(name, (c = { help, values: new Map() }));
      const k = labelsOf(labels);
      c.values.set(k, (c.values.get(k) ?? 0) + 1);
    },
    observeRequest(route, seconds) {
      let h = hist.get(route);
      if (!h) hist.set(route, (h = { counts: BUCKETS_SEC.map(() => 0), sum: 0, count: 0 }));
      for (let i = 0; i < BUCKETS_SEC.length; i++) if (seconds <= BUCKETS_SEC[i]!) h.counts[i]!++;
      h.sum += seconds;
      h.count++;
    },
    gauge(name, help, read) {
      gauges.set(name, { help, read });
    },
    render() {
      const out: string[] = [];
      for (const [name, c] of counters) {
        out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
        for (const [k, v] of c.values) out.push(`${name}${k} ${v}`);
      }
      for (const [name, g] of gauges) out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.read()}`);
      const hn = 'tokenforge_http_request_duration_seconds';
      out.push(`# HELP ${hn} HTTP request latency by route.`, `# TYPE ${hn} histogram`);
      for (const [route, h] of hist) {
        const r = esc(route);
        BUCKETS_SEC.forEach((b, i) => out.push(`${hn}_bucket{le="${b}",route="${r}"} ${h.counts[i]}`));
        out.push(`${hn}_bucket{le="+Inf",route="${r}"} ${h.count}`, `${hn}_sum{route="${r}"} ${h.sum}`, `${hn}_count{route="${r}"} ${h.count}`);
      }
      return out.join('\n') + '\n';
    },
  };
}
