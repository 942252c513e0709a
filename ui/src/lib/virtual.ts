// The arithmetic of a virtualised grid: only the rows in view (and a few around them)
// are in the page, so a library of thousands of capsules scrolls like one of ten.

export interface GridInput {
  /** Width available to the grid, in px. */
  width: number;
  /** Narrowest a cell may be; the grid fits as many columns as it can. */
  minCellWidth: number;
  gap: number;
  /** Height of a row including its gap. */
  rowHeight: number;
  count: number;
  scrollTop: number;
  viewportHeight: number;
  /** Rows kept above and below the view. */
  overscan: number;
}

export interface GridLayout {
  columns: number;
  cellWidth: number;
  totalHeight: number;
  /** Index of the first item to render, and one past the last. */
  start: number;
  end: number;
  /** Where the first rendered row sits, from the grid's top. */
  offsetY: number;
}

export function gridLayout(g: GridInput): GridLayout {
  const width = Math.max(0, g.width);
  const columns = Math.max(1, Math.floor((width + g.gap) / (g.minCellWidth + g.gap)));
  const cellWidth = Math.max(0, (width - g.gap * (columns - 1)) / columns);
  const rows = Math.ceil(g.count / columns);
  const totalHeight = Math.max(0, rows * g.rowHeight - (rows > 0 ? g.gap : 0));
  const firstVisible = Math.floor(Math.max(0, g.scrollTop) / g.rowHeight);
  const lastVisible = Math.ceil((Math.max(0, g.scrollTop) + g.viewportHeight) / g.rowHeight);
  const firstRow = Math.max(0, firstVisible - g.overscan);
  const lastRow = Math.min(rows, lastVisible + g.overscan);
  return {
    columns,
    cellWidth,
    totalHeight,
    start: Math.min(g.count, firstRow * columns),
    end: Math.min(g.count, lastRow * columns),
    offsetY: firstRow * g.rowHeight,
  };
}
