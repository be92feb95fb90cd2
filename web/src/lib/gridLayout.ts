/** Live grid layouts: 1, 4, 9 or 16 tiles on a square grid, with pages when there are more cameras. */
export const GRID_SIZES = [1, 4, 9, 16] as const;
export type GridSize = (typeof GRID_SIZES)[number];

export function isGridSize(value: number): value is GridSize {
  return (GRID_SIZES as readonly number[]).includes(value);
}

/** Columns (= rows) of a layout. */
export function gridColumns(size: GridSize): number {
  return Math.round(Math.sqrt(size));
}

export interface GridPage<T> {
  /** Exactly `size` slots; `null` where there is no camera (an empty tile keeps the grid steady). */
  tiles: (T | null)[];
  /** The page shown (clamped into range). */
  page: number;
  pages: number;
}

/** The cameras of page `page` (0-based) of a `size` layout. */
export function gridPage<T>(cameras: readonly T[], size: GridSize, page: number): GridPage<T> {
  const pages = Math.max(1, Math.ceil(cameras.length / size));
  const shown = Math.min(Math.max(0, Math.floor(page)), pages - 1);
  const slice = cameras.slice(shown * size, shown * size + size);
  const tiles: (T | null)[] = [...slice];
  while (tiles.length < size) tiles.push(null);
  return { tiles, page: shown, pages };
}

/** The smallest layout that shows `count` cameras at once (16 at most). */
export function fittingSize(count: number): GridSize {
  return GRID_SIZES.find((size) => size >= count) ?? 16;
}
