"""Half-space trees whose *structure* is shared by every series, with per-series masses.

River's :class:`~river.anomaly.HalfSpaceTrees` keeps a Python object per node; a default model
costs about a megabyte per series. Here the random structure (split feature and threshold of
every internal node) is drawn once per ``(n_trees, height, features, seed)`` with River's own
:func:`~river.tree.padded.make_padded_tree` and the same random stream, so it is exactly the
structure River would build. Every series only owns node *masses*, stored compactly:

* ``l_leaf``: uint8 ``(n_trees, 2**height)``, the latest window's mass of each leaf;
* ``r_cum``: uint8 ``(n_trees, 2**height + 1)``, the cumulative sum over leaves (in left-to-right
  order) of the reference window's leaf masses, starting at 0.

Nothing else is needed because no feature is ever missing: every learnt point walks to a leaf,
so the mass of an internal node is the sum of the masses of the leaves below it, and those
leaves are a contiguous range ``[a, b)`` in left-to-right order: ``r = r_cum[b] - r_cum[a]``.
Masses never exceed ``window_size``, hence the ``window_size <= 255`` limit and uint8.

The scoring rule is River's: walk root to leaf adding ``r_mass * 2**depth``, stop after the
first node whose reference mass is below ``size_limit = 0.1 * window_size``; the score is
``1 - total / (n_trees * window_size * (2**(height + 1) - 1))``. Integer arithmetic makes the
result bit-identical to River's (see ``tests/unit/stream/detection/test_hst.py``).

All functions are vectorised over a batch of rows ``B`` (series or points).

Examples
--------
>>> import numpy as np
>>> forest = shared_forest(n_trees=2, height=3, features=("x",), seed=1)
>>> forest.n_leaves
8
>>> leaves = forest.leaf_indices(np.array([[0.1], [0.9]]))
>>> leaves.shape
(2, 2)
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from river.tree.padded import PaddedBranch, make_padded_tree

__all__ = ["MAX_WINDOW_SIZE", "Forest", "shared_forest"]

#: Masses are stored as uint8.
MAX_WINDOW_SIZE = 255

IntArray = npt.NDArray[np.intp]
# Times a little-endian word of eight 0/1 bytes, puts byte k's bit at bit 56 + k.
_GATHER_BITS = np.uint64(sum(1 << (56 - 7 * k) for k in range(8)))
FloatArray = npt.NDArray[np.float64]
# Most cells (of all trees) leaf_indices tabulates: 25 trees of height 8 over two features
# have about 400,000 (bytes, one each); beyond, it walks the trees.
_MAX_CELLS = 1 << 22
# Rows raw_scores scores at once: its buffers (about 5 KB a row with 25 trees of height 8)
# stay in a core's cache.
_SCORE_ROWS = 128
U8Array = npt.NDArray[np.uint8]
# Forest._cells: per feature edges, terms, starts; then the leaf of every cell.
_Cells = tuple[
    list[FloatArray], list[IntArray], list[IntArray], npt.NDArray[np.unsignedinteger[Any]]
]


@dataclass(frozen=True, eq=False)
class Forest:
    """The shared, immutable structure of ``n_trees`` complete trees of height ``height``.

    Internal nodes are in heap order (children of ``i`` are ``2i + 1`` and ``2i + 2``).

    Attributes
    ----------
    n_trees, height
        As in River's ``HalfSpaceTrees``.
    features
        Feature names, sorted (River builds its trees over ``sorted(x)``).
    feature
        ``(n_trees, 2**height - 1)`` index into ``features`` of each internal node's split.
    threshold
        ``(n_trees, 2**height - 1)`` split points: left when ``value < threshold``.
    """

    n_trees: int
    height: int
    features: tuple[Any, ...]
    feature: IntArray
    threshold: FloatArray

    @property
    def n_leaves(self) -> int:
        """Leaves per tree: ``2**height``."""
        return 1 << self.height

    def leaf_indices(self, u: FloatArray) -> IntArray:
        """Leaf (0 .. n_leaves-1, left to right) that each row of ``u`` reaches in each tree.

        Parameters
        ----------
        u
            ``(B, n_features)`` feature values, columns in ``features`` order.

        Returns
        -------
        ``(B, n_trees)`` leaf indices.
        """
        cells = self._cells
        if cells is None:
            return _walk(u, self.feature, self.threshold)
        # A point's cell in a tree is fixed by how many of the tree's thresholds of each
        # feature are at most its value (the comparisons of a walk, all made at once): its
        # rank among every tree's thresholds of that feature, by one binary search, then the
        # rank in each tree by a table. NaN goes left at every node, as -inf does.
        cell: IntArray | None = None
        for f, (edges, terms, starts) in enumerate(zip(*cells[:3], strict=True)):
            column = u[:, f]
            rank = edges.searchsorted(np.where(column == column, column, -np.inf), side="right")
            term = terms.take(rank[:, None] + starts)
            cell = term if cell is None else np.add(cell, term, out=cell)
        assert cell is not None
        leaves: IntArray = cells[3].take(cell).astype(np.intp)
        return leaves

    def raw_scores(
        self, r_cum: U8Array, rows: IntArray, leaves: IntArray, window_size: int
    ) -> FloatArray:
        """River's HST score of each row, from its reference masses and reached leaves.

        Parameters
        ----------
        r_cum
            ``(S, n_trees, n_leaves + 1)`` cumulative reference leaf masses of ``S`` series.
        rows
            ``(B,)`` which series (index into the first axis of ``r_cum``) each row belongs to.
        leaves
            ``(B, n_trees)`` from :meth:`leaf_indices`.
        window_size
            River's ``window_size``; ``size_limit`` is a tenth of it.

        Returns
        -------
        ``(B,)`` scores in ``[0, 1]``, higher is more anomalous.
        """
        height = self.height
        n_trees = self.n_trees
        depths = height + 1
        rows = np.asarray(rows, dtype=np.intp)
        total = np.zeros(len(rows))
        # In slices of rows, through buffers made once per call and reused: the slices'
        # temporaries stay in the core's cache, and a step no longer makes (and faults in)
        # megabytes of fresh ones; take() writes into them unbuffered with mode="clip"
        # (every index is in range, so clipping changes nothing).
        size = min(len(rows), _SCORE_ROWS)
        at = np.empty((size, n_trees, 2 * depths), dtype=np.intp)
        cum = np.empty(at.shape, dtype=np.uint8)
        r = np.empty((size, n_trees, depths), dtype=np.uint8)
        weights = np.empty(r.shape)
        below = np.zeros((size, n_trees, 8), dtype=bool)  # bytes past `height` stay 0
        flat = r_cum.reshape(-1)
        row_starts = rows * (n_trees * (self.n_leaves + 1))
        for start in range(0, len(rows), max(size, 1)):
            m = min(size, len(rows) - start)
            part = slice(start, start + m)
            # at[b, t]: where in r_cum each node on row b's path in tree t starts and ends
            self._path_bounds.take(
                leaves[part] + self._tree_offsets, axis=0, out=at[:m], mode="clip"
            )
            at[:m] += row_starts[part, None, None]
            flat.take(at[:m], out=cum[:m], mode="clip")  # one gather: both ends together
            # masses: a node's end is at least its start (cumulative sums), so uint8 holds them
            ends = cum[:m].reshape(-1)
            np.subtract(ends[1::2], ends[::2], out=r[:m].reshape(-1))
            # River stops after the first node (above the leaves) whose mass is below the limit.
            if height <= 8:
                # One byte per node of a path, eight per path read as one little-endian
                # word: a multiplication gathers the bytes' low bits into its top byte (the
                # nodes' products land on distinct bits, so nothing carries), a fifth of
                # packbits' time.
                np.less(r[:m, :, :height], 0.1 * window_size, out=below[:m, :, :height])
                bits = (below[:m].view("<u8")[..., 0] * _GATHER_BITS) >> np.uint64(56)
                self._path_weights_to.take(
                    self._first_set.take(bits), axis=0, out=weights[:m], mode="clip"
                )
            else:
                stop = np.cumsum(r[:m, :, :height] < 0.1 * window_size, axis=-1) == 0
                weights[:m] = np.exp2(np.arange(depths))
                weights[:m, :, 1:] *= stop
            # The weighted masses are integers far below 2**53: float64 sums them exactly,
            # in any order (and no BLAS call, whose threads would spin on other cores).
            weights[:m] *= r[:m]
            weights[:m].reshape(m, -1).sum(axis=1, out=total[part])
        max_score = n_trees * window_size * ((1 << depths) - 1)
        scores: FloatArray = 1.0 - total / max_score
        return scores

    @functools.cached_property
    def _cells(self) -> _Cells | None:
        """Tables of :meth:`leaf_indices`, made once per forest (None: too large, walk).

        Per feature: every tree's thresholds, sorted and unique (``edges``); ``terms[t, r]``,
        the part of the cell index in tree ``t`` of a value with rank ``r`` among ``edges``;
        ``starts``, where tree ``t``'s row of ``terms`` starts, flat. Then ``leaf``: the
        leaf of each cell of each tree, its cells numbered per tree in row-major order of
        the features' ranks, the trees one after another.
        """
        n_features = len(self.features)
        local = [
            [np.unique(self.threshold[t][self.feature[t] == f]) for f in range(n_features)]
            for t in range(self.n_trees)
        ]
        shapes = [tuple(len(ranks) + 1 for ranks in tree) for tree in local]
        sizes = [int(np.prod(shape)) for shape in shapes]
        if sum(sizes) > _MAX_CELLS or not np.isfinite(self.threshold).all():
            return None
        firsts = np.cumsum([0, *sizes[:-1]])
        edges, terms, starts = [], [], []
        for f in range(n_features):
            every = np.unique(np.concatenate([tree[f] for tree in local]))
            below = np.concatenate([[-np.inf], every])  # a value of each global rank
            term = np.empty((self.n_trees, len(below)), dtype=np.intp)
            for t, tree in enumerate(local):
                stride = int(np.prod(shapes[t][f + 1 :]))
                term[t] = tree[f].searchsorted(below, side="right") * stride
                term[t] += firsts[t] if f == 0 else 0
            edges.append(every)
            terms.append(term.ravel())
            starts.append(np.arange(self.n_trees, dtype=np.intp) * len(below))
        leaf = np.empty(sum(sizes), dtype=np.min_scalar_type(self.n_leaves - 1))
        for t, tree in enumerate(local):
            # one point in each cell: per feature, -inf or one of the tree's thresholds
            reps = [np.concatenate([[-np.inf], ranks]) for ranks in tree]
            grids = np.meshgrid(*reps, indexing="ij")
            points = np.stack([g.ravel() for g in grids], axis=1)
            walked = _walk(points, self.feature[t : t + 1], self.threshold[t : t + 1])
            leaf[firsts[t] : firsts[t] + sizes[t]] = walked[:, 0]
        return edges, terms, starts, leaf

    # Tables of raw_scores, made once per forest: paths depend only on (tree, leaf).

    @functools.cached_property
    def _tree_offsets(self) -> IntArray:
        return np.arange(self.n_trees, dtype=np.intp) * self.n_leaves

    @functools.cached_property
    def _path_bounds(self) -> IntArray:
        """Per (tree, leaf): the flat start and end of each node from root to leaf, in turn.

        Ends follow their starts so that all the masses of a slice are one subtraction
        of every other byte from the next, over the whole slice.
        """
        shifts = np.arange(self.height, -1, -1, dtype=np.intp)  # depth k -> height - k
        leaf = np.arange(self.n_leaves, dtype=np.intp)[:, None]
        tree = np.arange(self.n_trees, dtype=np.intp)[:, None, None] * (self.n_leaves + 1)
        starts = ((leaf >> shifts) << shifts)[None] + tree
        bounds: IntArray = np.stack([starts, starts + (1 << shifts)], axis=-1)
        return bounds.reshape(self.n_trees * self.n_leaves, -1)

    @functools.cached_property
    def _path_weights_to(self) -> FloatArray:
        """Row ``s``: ``2**depth`` for the nodes of a path down to depth ``s``, 0 deeper."""
        return np.where(self._included, np.exp2(np.arange(self.height + 1)), 0.0)

    @functools.cached_property
    def _first_set(self) -> IntArray:
        """Index of the lowest set bit of a byte; ``height`` for none (nothing below)."""
        return np.array(
            [(b & -b).bit_length() - 1 if b else self.height for b in range(256)], dtype=np.intp
        )

    @functools.cached_property
    def _included(self) -> npt.NDArray[np.bool_]:
        """Row ``s``: the nodes of a path down to depth ``s`` count, deeper ones do not."""
        depth = np.arange(self.height + 1)
        included: npt.NDArray[np.bool_] = depth[None, :] <= depth[:, None]
        return included


def _walk(u: FloatArray, feature: IntArray, threshold: FloatArray) -> IntArray:
    """Leaf each row of ``u`` reaches in each tree, walking root to leaf (heap order)."""
    n_rows, n_features = u.shape
    n_trees, n_internal = feature.shape
    height = (n_internal + 1).bit_length() - 1
    feature = feature.ravel()
    threshold = threshold.ravel()
    values = np.ascontiguousarray(u, dtype=np.float64).ravel()
    tree_base = np.arange(n_trees, dtype=np.intp) * n_internal
    row_base = (np.arange(n_rows, dtype=np.intp) * n_features)[:, None]
    node = np.zeros((n_rows, n_trees), dtype=np.intp)
    for _ in range(height):
        flat = node + tree_base
        # take() gathers faster than fancy indexing, to the same values
        go_right = values.take(row_base + feature.take(flat)) >= threshold.take(flat)
        node = 2 * node + 1 + go_right
    leaves: IntArray = node - n_internal
    return leaves


def _heap_arrays(
    roots: list[PaddedBranch], height: int, features: tuple[Any, ...]
) -> tuple[IntArray, FloatArray]:
    n_internal = (1 << height) - 1
    feature = np.zeros((len(roots), n_internal), dtype=np.intp)
    threshold = np.zeros((len(roots), n_internal), dtype=np.float64)
    position = {name: i for i, name in enumerate(features)}
    for t, root in enumerate(roots):
        stack = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index >= n_internal:
                continue
            feature[t, index] = position[node.feature]
            threshold[t, index] = node.threshold
            left, right = node.children
            stack.append((left, 2 * index + 1))
            stack.append((right, 2 * index + 2))
    return feature, threshold


@functools.lru_cache(maxsize=32)
def shared_forest(n_trees: int, height: int, features: tuple[Any, ...], seed: int) -> Forest:
    """Build (once per process) the structure River's ``HalfSpaceTrees(seed=seed)`` would build.

    River draws its trees from ``random.Random(seed)`` on the first ``learn_one``, over the
    sorted feature names with limits ``(0, 1)`` and padding 0.15; so does this function.

    Parameters
    ----------
    n_trees, height, seed
        As in River's ``HalfSpaceTrees``.
    features
        Feature names; they are sorted.

    Examples
    --------
    >>> a = shared_forest(3, 4, ("b", "a"), 7)
    >>> a is shared_forest(3, 4, ("b", "a"), 7)
    True
    >>> a.features
    ('a', 'b')
    """
    names = tuple(sorted(features))
    rng = random.Random(seed)
    roots = [
        make_padded_tree(  # type: ignore[no-untyped-call]
            limits={name: (0.0, 1.0) for name in names},
            height=height,
            padding=0.15,
            rng=rng,
            r_mass=0,
            l_mass=0,
        )
        for _ in range(n_trees)
    ]
    feature, threshold = _heap_arrays(roots, height, names)
    feature.setflags(write=False)
    threshold.setflags(write=False)
    return Forest(
        n_trees=n_trees, height=height, features=names, feature=feature, threshold=threshold
    )
