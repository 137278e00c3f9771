"""How a non-personal answer is picked: popularity, re-ranked for genre diversity, plus exploration.

Pure functions over item ids; no store, no settings.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

#: Candidates considered per slot of the diversified part (the best of them by popularity).
CANDIDATES_PER_SLOT = 3
#: Random draws per exploration slot before the draw gives up (the catalogue may be nearly shown).
DRAWS_PER_SLOT = 20


def diversified(
    candidates: Sequence[int], genres: Mapping[int, tuple[str, ...]], count: int, weight: float
) -> list[int]:
    """``count`` of ``candidates`` (best first), picked greedily: each pick maximises its popularity
    score (1 for the first candidate down to 0 past the last) minus ``weight`` times the share of its
    genres already covered by the picks before it (an MMR-style penalty; 0 keeps the order)."""
    if count <= 0 or not candidates:
        return []
    if weight <= 0:
        return list(candidates[:count])
    size = len(candidates)
    left = list(range(size))
    covered: set[str] = set()
    picked: list[int] = []
    while left and len(picked) < count:
        best, best_score = left[0], float("-inf")
        for position in left:
            own = genres.get(candidates[position], ())
            overlap = sum(1 for genre in own if genre in covered) / len(own) if own else 0.0
            score = 1.0 - position / size - weight * overlap
            if score > best_score:
                best, best_score = position, score
        left.remove(best)
        picked.append(candidates[best])
        covered.update(genres.get(candidates[best], ()))
    return picked


def explore(items: Sequence[int], allowed: Callable[[int], bool], count: int, rng: random.Random) -> list[int]:
    """Up to ``count`` distinct random ``items`` that ``allowed`` accepts (fewer when the draws keep
    hitting refused items: the caller fills the rest)."""
    found: list[int] = []
    if not items:
        return found
    for _ in range(count * DRAWS_PER_SLOT):
        if len(found) >= count:
            break
        item = items[rng.randrange(len(items))]
        if allowed(item) and item not in found:
            found.append(item)
    return found
