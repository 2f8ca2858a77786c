// Small hand-written SVG charts (a charting library would cost more than the whole initial
// bundle for two chart shapes). Each has a text alternative: the table below it.

export interface Bar {
  label: string;
  values: number[]; // stacked segments
}

const COLORS = ["fill-indigo-500", "fill-sky-400", "fill-emerald-500", "fill-amber-500"];

export function ColumnChart({
  bars,
  series,
  format,
  title,
}: {
  bars: Bar[];
  series: string[];
  format: (value: number) => string;
  title: string;
}) {
  const height = 160;
  const max = Math.max(1e-9, ...bars.map((bar) => bar.values.reduce((a, b) => a + b, 0)));
  const width = Math.max(bars.length * 28, 280);
  const step = width / Math.max(bars.length, 1);
  return (
    <figure>
      <svg viewBox={`0 0 ${width} ${height + 20}`} className="h-48 w-full" role="img" aria-label={title}>
        {bars.map((bar, index) => {
          let y = height;
          return (
            <g key={bar.label}>
              <title>{`${bar.label}: ${bar.values.map((value, i) => `${series[i]} ${format(value)}`).join(", ")}`}</title>
              {bar.values.map((value, segment) => {
                const h = (value / max) * (height - 10);
                y -= h;
                return <rect key={segment} x={index * step + step * 0.15} y={y} width={step * 0.7} height={h} rx={2} className={COLORS[segment % COLORS.length]} />;
              })}
              {(bars.length <= 14 || index % Math.ceil(bars.length / 10) === 0) && (
                <text x={index * step + step / 2} y={height + 14} textAnchor="middle" className="fill-slate-500 text-[9px]">{bar.label.slice(5)}</text>
              )}
            </g>
          );
        })}
      </svg>
      {series.length > 1 && (
        <figcaption className="flex gap-3 text-xs text-slate-500">
          {series.map((name, i) => (
            <span key={name} className="inline-flex items-center gap-1"><svg className="size-2.5" aria-hidden><rect width="10" height="10" className={COLORS[i]} /></svg>{name}</span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}

export function BarList({ items, format }: { items: { label: string; value: number }[]; format: (value: number) => string }) {
  const max = Math.max(1e-9, ...items.map((item) => item.value));
  return (
    <ul className="space-y-1.5">
      {items.map((item) => (
        <li key={item.label} className="text-sm">
          <div className="flex justify-between gap-2"><span className="truncate">{item.label}</span><span className="tabular-nums text-slate-500">{format(item.value)}</span></div>
          <div className="h-1.5 rounded-full bg-slate-200 dark:bg-slate-800"><div className="h-full rounded-full bg-indigo-500" style={{ width: `${(item.value / max) * 100}%` }} /></div>
        </li>
      ))}
    </ul>
  );
}
