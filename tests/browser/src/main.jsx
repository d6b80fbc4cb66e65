// The test page: fetches a flame graph frame (the rows of cprof.flame_graph as JSON, from the URL
// in ?frame=, default frame.json; the values' unit in ?unit=), turns it into a Grafana DataFrame
// and shows it the way Grafana's flame graph panel does: checkFields first (its message when the
// frame does not fit), then <FlameGraph> with collapsing off (the panel's default). window.cprofPage tells the driver (flame.mjs) when the page has settled:
// "rendered", "rejected" (the panel's message) or "error".
import React from 'react';
import { createRoot } from 'react-dom/client';
import { createDataFrame, createTheme, FieldType } from '@grafana/data';
import { FlameGraph, checkFields, getMessageCheckFieldsResult } from '@grafana/flamegraph';

const theme = createTheme({ colors: { mode: 'dark' } });
const getTheme = () => theme;

// rows: [{level, value, self, label}, ...] in the order given; the columns are the keys of the
// first row, so a frame lacking a column reaches the panel's own check. unit: Grafana's unit of
// value and self (e.g. ns), as a dashboard sets it, or null.
function toDataFrame(rows, unit) {
  const names = rows.length ? Object.keys(rows[0]) : ['level', 'value', 'self', 'label'];
  return createDataFrame({
    name: 'flame_graph',
    meta: { preferredVisualisationType: 'flamegraph' },
    fields: names.map((name) => ({
      name,
      type: name === 'label' ? FieldType.string : FieldType.number,
      values: rows.map((row) => row[name]),
      config: unit && (name === 'value' || name === 'self') ? { unit } : {},
    })),
  });
}

class ErrorBoundary extends React.Component {
  constructor(props) {
    super(props);
    this.state = { error: null };
  }
  static getDerivedStateFromError(error) {
    return { error };
  }
  componentDidCatch(error) {
    window.cprofPage = { state: 'error', message: String(error && error.stack || error) };
  }
  render() {
    if (this.state.error) {
      return <pre data-testid="page-error">{String(this.state.error)}</pre>;
    }
    return this.props.children;
  }
}

function Panel({ frame }) {
  const wrongFields = checkFields(frame);
  if (wrongFields) {
    const message = getMessageCheckFieldsResult(wrongFields);
    window.cprofPage = { state: 'rejected', message };
    return <div data-testid="panel-error" style={{ color: '#ccc' }}>{message}</div>;
  }
  window.cprofPage = { state: 'rendered' };
  return (
    <div style={{ height: 800, padding: 8 }}>
      <FlameGraph data={frame} stickyHeader={false} getTheme={getTheme} disableCollapsing={true}
        showAnalyzeWithAssistant={false} onTableSymbolClick={() => {}} onViewSelected={() => {}}
        onTextAlignSelected={() => {}} onTableSort={() => {}} />
    </div>
  );
}

async function main() {
  const query = new URLSearchParams(location.search);
  const url = query.get('frame') || 'frame.json';
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`${url}: HTTP ${response.status}`);
  }
  const frame = toDataFrame(await response.json(), query.get('unit'));
  createRoot(document.getElementById('root')).render(
    <ErrorBoundary><Panel frame={frame} /></ErrorBoundary>,
  );
}

main().catch((error) => {
  window.cprofPage = { state: 'error', message: String(error && error.stack || error) };
  document.getElementById('root').textContent = String(error);
});
