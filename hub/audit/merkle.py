"""RFC 6962 / RFC 9162 Merkle tree hashing, proofs and their verification.

Leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right).
Proof generation works over any source of subtree hashes (`RangeHash`), so
the same code serves the SQLite store and in-memory trees in tests. The
verification functions follow RFC 9162 sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from camhub.audit.errors import VerificationFailed

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256

# A function giving MTH of leaves [start, end); end > start.
RangeHash = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly below n (n >= 2): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over a list of leaf hashes, bottom-up (the reference for small trees)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        # An odd node at the right edge moves up unchanged, as RFC 6962's split does.
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class CompactRange:
    """The right edge of a growing tree: one hash per set bit of its size.

    Appending is amortised O(1) hashes, the root O(log n); it is the state the
    hub keeps so that every new checkpoint extends the tree it signed before.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if len(hashes) != bin(size).count("1"):
            raise ValueError(f"a compact range of size {size} needs {bin(size).count('1')} hashes, got {len(hashes)}")
        self.size = size
        self.hashes = list(hashes)  # largest subtree first

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf hash; returns the complete subtrees (level, index, hash) it finished."""
        finished: list[tuple[int, int, bytes]] = []
        h = leaf
        level = 0
        index = self.size
        # Each trailing 1-bit of size is a subtree of that level that now merges.
        while (self.size >> level) & 1:
            h = node_hash(self.hashes.pop(), h)
            level += 1
            index >>= 1
            finished.append((level, index, h))
        self.hashes.append(h)
        self.size += 1
        return finished

    def extend(self, leaves: Iterable[bytes], min_level: int = 1) -> list[tuple[int, int, bytes]]:
        """`append` for many leaf hashes (the same result), as one tight loop; the subtrees of
        `min_level` and up they finished."""
        finished: list[tuple[int, int, bytes]] = []
        hashes, size, sha256 = self.hashes, self.size, _sha256
        for h in leaves:
            level = 0
            while (size >> level) & 1:
                h = sha256(b"\x01" + hashes.pop() + h).digest()
                level += 1
                if level >= min_level:
                    finished.append((level, size >> level, h))
            hashes.append(h)
            size += 1
        self.size = size
        return finished

    def add_leaves(self, leaves: Sequence[bytes]) -> None:
        """`append` for many leaf hashes, giving the same tree: each largest aligned
        subtree is hashed level by level in comprehensions (what verify runs per entry)."""
        at, n, sha256 = 0, len(leaves), _sha256
        while at < n:
            room = self.size & -self.size or 1 << 62  # the largest subtree aligned at the current size
            width = 1 << ((n - at).bit_length() - 1)
            width = min(width, room)
            level = leaves[at : at + width]
            height = 0
            while len(level) > 1:
                pairs = iter(level)
                level = [sha256(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
                height += 1
            h, merged = level[0], self.size >> height
            while merged & 1:  # the subtree closes complete subtrees to its left, as `append` does
                h = sha256(b"\x01" + self.hashes.pop() + h).digest()
                merged >>= 1
            self.hashes.append(h)
            self.size += width
            at += width

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        h = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            h = node_hash(left, h)
        return h

    def to_bytes(self) -> bytes:
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> CompactRange:
        return cls(size, [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)])


def inclusion_proof(index: int, size: int, mth: RangeHash) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1."""
    if not 0 <= index < size:
        raise ValueError(f"entry {index} is not in a tree of size {size}")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index - start < k:
            proof.append(mth(start + k, end))
            end = start + k
        else:
            proof.append(mth(start, start + k))
            start += k
    proof.reverse()  # the recursion above walked top-down; proofs list leaf-side first
    return proof


def consistency_proof(old_size: int, new_size: int, mth: RangeHash) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            proof.append(mth(start + k, end))
            end = start + k
        else:
            proof.append(mth(start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        proof.append(mth(start, end))
    proof.reverse()
    return proof


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise VerificationFailed unless `proof` shows leaf `index` in the tree `root` of `size`."""
    if not 0 <= index < size:
        raise VerificationFailed(f"inclusion proof: entry {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationFailed(
                f"inclusion proof for entry {index} at size {size} has {len(proof)} hashes: too many"
            )
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationFailed(f"inclusion proof for entry {index} at size {size} has {len(proof)} hashes: too few")
    if r != root:
        raise VerificationFailed(f"inclusion proof for entry {index} does not lead to the root of size {size}")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Raise VerificationFailed unless the tree (new_size, new_root) extends (old_size, old_root)."""
    if not 0 <= old_size <= new_size:
        raise VerificationFailed(f"consistency proof: size {old_size} is larger than size {new_size}")
    if old_size == new_size:
        if proof:
            raise VerificationFailed(f"consistency proof between equal sizes {old_size} must be empty")
        if old_root != new_root:
            raise VerificationFailed(f"two different roots for the same tree size {old_size}: a fork")
        return
    if old_size == 0:
        if proof:
            raise VerificationFailed("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise VerificationFailed(f"consistency proof from size {old_size} to {new_size} is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is itself a node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationFailed(f"consistency proof from size {old_size} to {new_size} has too many hashes")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationFailed(f"consistency proof from size {old_size} to {new_size} has too few hashes")
    if fr != old_root:
        raise VerificationFailed(f"consistency proof does not lead to the old root of size {old_size}")
    if sr != new_root:
        raise VerificationFailed(f"consistency proof does not lead to the new root of size {new_size}")
