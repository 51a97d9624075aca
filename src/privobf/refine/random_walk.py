"""Pixel pairs within a radius, pair affinities and the random walk shared by IRN and AffinityNet.

Both refiners (dissertation §2.3.2, eqs. 2.5 and 2.6; digest §5, §6, §14 item 6) learn an affinity
between pixels a few grid cells apart and diffuse the seed maps along it: vec(M*) = vec(M) · T^t
with T the column-normalised A^β. Everything here is on the stride-4 working grid.

Pairs follow IRN's `PathIndex`: every pixel is paired with the neighbours at offsets (dy, dx),
0 < dy² + dx² < r², of one half-plane (dy > 0, or dy = 0 and dx > 0), so each unordered pair
appears exactly once; its mirror is added when the affinity matrix is made symmetric.

Memory. The official codes build the dense (h·w)² matrix and square it `log_steps` times (IRN:
exp_times = 8, PSA: logt = 8, i.e. 2^8 = 256 steps). We do the same while h·w is at most
`max_dense_nodes` (default 12,544 = (448/4)², every grid of a 448-px model input; IRN's largest
VOC grid is 11,750), so the peak is about three float32 (h·w)² matrices (~1.9 GB at the limit).
Above it the walk runs on a sparse A^β as 2^t sparse products: T itself is never densified, memory
is O(nnz · C) with nnz ≈ (2·#offsets + 1) · h·w, and the result is the same x·T^(2^t) up to float
rounding. (It is also cheaper than dense squaring on a CPU: 256 · nnz · C multiply-adds against
8 · 2 · (h·w)³; squaring only pays on a GPU.) No downsampling, so the answer never depends on which
path ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

DEFAULT_MAX_DENSE_NODES = 0  # [I] always the exact sparse walk: dense squaring is O(N³) (minutes per photo on a CPU at (448/4)² cells); raise it on a GPU


# ------------------------------------------------------------------------------------------ pairs


def neighbour_offsets(radius: int) -> list[tuple[int, int]]:
    """Offsets (dy, dx) with 0 < dy² + dx² < radius² in the half-plane dy > 0 or (dy = 0, dx > 0)."""
    if radius < 2:
        raise ValueError(f"radius must be at least 2 (a pixel and its 4-neighbours), got {radius}")
    offsets = [(0, dx) for dx in range(1, radius)]
    for dy in range(1, radius):
        offsets += [(dy, dx) for dx in range(-radius + 1, radius) if dy * dy + dx * dx < radius * radius]
    return offsets


def segment_path(dy: int, dx: int) -> np.ndarray:
    """The cells (relative to the start pixel) that the segment (0, 0) -> (dy, dx) touches, ends included.

    Cells are closed unit squares around integer centres, so a segment grazing a corner touches all
    the cells meeting there: a one-pixel-thick diagonal boundary cannot be stepped over (the max of
    eq. 2.6 sees it). int64 [L, 2] of (y, x), sorted.
    """
    eps = 1e-9
    cells = []
    for cy in range(min(0, dy), max(0, dy) + 1):
        for cx in range(min(0, dx), max(0, dx) + 1):
            low, high = 0.0, 1.0
            for centre, delta in ((cy, dy), (cx, dx)):
                if delta == 0:
                    if abs(centre) > 0.5 + eps:
                        low, high = 1.0, 0.0
                    continue
                a, b = sorted(((centre - 0.5) / delta, (centre + 0.5) / delta))
                low, high = max(low, a), min(high, b)
            if low <= high + eps:
                cells.append((cy, cx))
    return np.array(sorted(cells), dtype=np.int64)


@dataclass(frozen=True)
class PairIndex:
    """Every pixel pair within `radius` on a `grid`, offset by offset (vectorised per offset).

    The pairs of offset k are the sources in `rectangles[k]` (y0, y1, x0, x1; row-major) and their
    targets at `offsets[k]`; `sources` / `targets` are the flat indices (y·w + x) of all pairs in that
    order, and `paths[k]` the cells between the two ends of offset k (see :func:`segment_path`).
    """

    radius: int
    grid: tuple[int, int]
    offsets: tuple[tuple[int, int], ...]
    rectangles: tuple[tuple[int, int, int, int], ...]
    paths: tuple[np.ndarray, ...]
    sources: torch.Tensor
    targets: torch.Tensor

    @property
    def n_pairs(self) -> int:
        return int(self.sources.numel())

    @property
    def n_nodes(self) -> int:
        return self.grid[0] * self.grid[1]

    def ends(self, values: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Values [..., h, w] at both ends of offset k's pairs: two tensors [..., n_k]."""
        y0, y1, x0, x1 = self.rectangles[k]
        dy, dx = self.offsets[k]
        first = values[..., y0:y1, x0:x1]
        second = values[..., y0 + dy : y1 + dy, x0 + dx : x1 + dx]
        return first.flatten(-2), second.flatten(-2)

    def pair_values(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Values [..., h, w] at the sources and targets of every pair: two tensors [..., P]."""
        flat = values.flatten(-2)
        return flat[..., self.sources], flat[..., self.targets]


@lru_cache(maxsize=32)
def pair_index(grid: tuple[int, int], radius: int) -> PairIndex:
    """The (cached) :class:`PairIndex` of a grid; offsets that do not fit the grid have no pairs."""
    height, width = int(grid[0]), int(grid[1])
    offsets, rectangles, paths, sources, targets = [], [], [], [], []
    for dy, dx in neighbour_offsets(radius):
        y0, y1, x0, x1 = 0, height - dy, max(0, -dx), width - max(0, dx)
        if y1 <= y0 or x1 <= x0:
            continue
        ys, xs = np.meshgrid(np.arange(y0, y1), np.arange(x0, x1), indexing="ij")
        flat = (ys * width + xs).ravel()
        offsets.append((dy, dx))
        rectangles.append((y0, y1, x0, x1))
        paths.append(segment_path(dy, dx))
        sources.append(flat)
        targets.append(flat + dy * width + dx)
    if not offsets:
        raise ValueError(f"grid {grid} is too small for any pair")
    return PairIndex(
        int(radius),
        (height, width),
        tuple(offsets),
        tuple(rectangles),
        tuple(paths),
        torch.from_numpy(np.concatenate(sources)),
        torch.from_numpy(np.concatenate(targets)),
    )


@dataclass
class PairLabels:
    """Which pairs the affinity losses use, from pseudo labels (0 background, k + 1 class k, 255 ignore):
    same label -> positive (split into background and foreground), different -> negative, a 255 at
    either end -> unused (AffinityNet / IRN pair labels). Each a bool tensor [B, P]."""

    background_positive: torch.Tensor
    foreground_positive: torch.Tensor
    negative: torch.Tensor


IGNORE = 255


def pair_labels(labels: torch.Tensor, index: PairIndex) -> PairLabels:
    """Pair labels of label maps [B, h, w] (int) on the grid of `index`."""
    first, second = index.pair_values(labels.long())
    valid = (first != IGNORE) & (second != IGNORE)
    same = (first == second) & valid
    return PairLabels(same & (first == 0), same & (first != 0), valid & (first != second))


# ------------------------------------------------------------------------------------------ affinities


@dataclass
class PairAffinity:
    """A sparse symmetric affinity: `values[p]` between `index.sources[p]` and `index.targets[p]`."""

    index: PairIndex
    values: torch.Tensor  # [P]

    def dense(self) -> torch.Tensor:
        """[N, N] with the mirror pairs and ones on the diagonal (a pixel is fully affine to itself)."""
        n = self.index.n_nodes
        matrix = torch.zeros(n, n, dtype=self.values.dtype)
        matrix[self.index.sources, self.index.targets] = self.values
        matrix[self.index.targets, self.index.sources] = self.values
        matrix.diagonal().fill_(1.0)
        return matrix


def max_along_paths(boundary: torch.Tensor, index: PairIndex) -> torch.Tensor:
    """max_{k ∈ Π_ij} B(x_k) for every pair: boundary [B, h, w] -> [B, P] (differentiable).

    Per offset, the L shifted views of the boundary are stacked and reduced, so no [B, P, L]
    tensor is ever kept (autograd stores only the argmax indices).
    """
    maxima = []
    for k, path in enumerate(index.paths):
        y0, y1, x0, x1 = index.rectangles[k]
        views = [boundary[..., y0 + py : y1 + py, x0 + px : x1 + px] for py, px in path.tolist()]
        maxima.append(torch.stack(views).amax(0).flatten(-2))
    return torch.cat(maxima, dim=-1)


def boundary_pair_affinity(boundary: torch.Tensor, index: PairIndex) -> torch.Tensor:
    """Eq. 2.6, W_ij = 1 - max of the boundary on the segment i-j: [B, h, w] -> [B, P]."""
    return 1.0 - max_along_paths(boundary, index)


def _offset_feature_affinity(embedding: torch.Tensor, index: PairIndex, k: int) -> torch.Tensor:
    first, second = index.ends(embedding, k)
    return torch.exp(-(first - second).abs().mean(dim=-2))


def feature_pair_affinity(embedding: torch.Tensor, index: PairIndex) -> torch.Tensor:
    """Eq. 2.5 with the official channel mean, W_ij = exp(-mean_c |f_i - f_j|): [B, D, h, w] -> [B, P].

    With gradients, each offset's [B, D, n_k] difference is recomputed in the backward pass
    (activation checkpointing) instead of stored: at stride 4 with radius 10 the stored differences
    would be ~150 x D x h·w floats per image.
    """
    parts = []
    for k in range(len(index.offsets)):
        if embedding.requires_grad:
            parts.append(checkpoint(_offset_feature_affinity, embedding, index, k, use_reentrant=False))
        else:
            parts.append(_offset_feature_affinity(embedding, index, k))
    return torch.cat(parts, dim=-1)


def affinity_from_boundary(boundary: torch.Tensor | np.ndarray, radius: int) -> PairAffinity:
    """IRN's affinity (eq. 2.6) of a boundary map [h, w] in [0, 1] between pixels closer than `radius`."""
    boundary = torch.as_tensor(np.asarray(boundary) if isinstance(boundary, np.ndarray) else boundary).float()
    index = pair_index(tuple(boundary.shape), radius)
    return PairAffinity(index, boundary_pair_affinity(boundary[None], index)[0])


def affinity_from_features(embedding: torch.Tensor | np.ndarray, radius: int) -> PairAffinity:
    """AffinityNet's affinity (eq. 2.5, channel mean) of an embedding [D, h, w] within `radius`."""
    embedding = torch.as_tensor(np.asarray(embedding) if isinstance(embedding, np.ndarray) else embedding).float()
    index = pair_index(tuple(embedding.shape[1:]), radius)
    return PairAffinity(index, feature_pair_affinity(embedding[None], index)[0])


# ------------------------------------------------------------------------------------------ walk


@dataclass
class SparseTransition:
    """T = A^β / column sums without the dense matrix: A^β (symmetric, self-loops) as a sparse tensor and its column sums."""

    powered: torch.Tensor  # sparse COO [N, N], coalesced
    column_sums: torch.Tensor  # [N]

    @property
    def n_nodes(self) -> int:
        return int(self.column_sums.numel())


def transition_matrix(affinity: PairAffinity, beta: float) -> torch.Tensor:
    """Dense T [N, N] = A^β with each column divided by its sum (IRN `to_transition_matrix`, PSA
    `infer_aff`): column j holds how pixel j averages its neighbours, so x · T smooths x."""
    powered = affinity.dense().pow_(beta)
    return powered / powered.sum(dim=0, keepdim=True)


def sparse_transition(affinity: PairAffinity, beta: float) -> SparseTransition:
    """The same T as :func:`transition_matrix`, kept sparse (for grids above the dense limit)."""
    index = affinity.index
    n = index.n_nodes
    weights = affinity.values.detach().float().pow(beta)
    diagonal = torch.arange(n)
    rows = torch.cat([index.sources, index.targets, diagonal])
    cols = torch.cat([index.targets, index.sources, diagonal])
    values = torch.cat([weights, weights, torch.ones(n)])
    powered = torch.sparse_coo_tensor(torch.stack([rows, cols]), values, (n, n), check_invariants=False).coalesce()
    column_sums = torch.zeros(n).index_add_(0, cols, values)
    return SparseTransition(powered, column_sums)


def propagate(maps: torch.Tensor, transition: torch.Tensor | SparseTransition, log_steps: int) -> torch.Tensor:
    """maps [C, h, w] after 2^log_steps walk steps: x · T^(2^log_steps).

    Dense T: square it `log_steps` times, then one product (IRN exp_times, PSA logt; §14 item 6).
    Sparse T: 2^log_steps sparse products, x_j <- sum_i x_i A_ij / d_j (A is symmetric).
    """
    channels, height, width = maps.shape
    vectors = maps.reshape(channels, height * width).float()
    if isinstance(transition, SparseTransition):
        if transition.n_nodes != height * width:
            raise ValueError(f"transition has {transition.n_nodes} nodes, maps have {height * width}")
        # scipy's CSR product: ~30x faster per step than torch's sparse COO on a CPU (measured, 112x112 grid).
        import scipy.sparse

        coo = transition.powered
        rows, cols = coo.indices().numpy()
        values = (coo.values() / transition.column_sums[rows]).numpy().astype(np.float32)
        step = scipy.sparse.csr_matrix((values, (rows, cols)), shape=(transition.n_nodes,) * 2)
        columns = np.ascontiguousarray(vectors.t().numpy(), dtype=np.float32)
        for _ in range(2**log_steps):
            columns = step @ columns
        return torch.from_numpy(np.ascontiguousarray(columns.T)).reshape(channels, height, width)
    if transition.shape != (height * width, height * width):
        raise ValueError(f"transition is {tuple(transition.shape)}, maps have {height * width} nodes")
    power = transition
    for _ in range(log_steps):
        power = power @ power
    return (vectors @ power).reshape(channels, height, width)


def random_walk(
    maps: torch.Tensor,
    affinity: PairAffinity,
    beta: float,
    log_steps: int,
    max_dense_nodes: int = DEFAULT_MAX_DENSE_NODES,
) -> torch.Tensor:
    """Walk maps [C, h, w] on `affinity`: dense repeated squaring up to `max_dense_nodes` grid cells,
    the sparse walk above (same result; see the module docstring for the memory bound)."""
    if tuple(maps.shape[1:]) != affinity.index.grid:
        raise ValueError(f"maps are on {tuple(maps.shape[1:])}, the affinity on {affinity.index.grid}")
    with torch.no_grad():
        if affinity.index.n_nodes <= max_dense_nodes:
            return propagate(maps, transition_matrix(affinity, beta), log_steps)
        return propagate(maps, sparse_transition(affinity, beta), log_steps)
