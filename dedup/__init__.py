"""owd stage package: dedup. Exact and MinHash near-duplicate clustering, per language.

``text`` (normalisation, exact hash) -> ``minhash`` (signatures, band hashes)
-> ``steps`` (SignatureStep -> BucketStep -> ClusterStep -> apply_clusters; clusters are
verified against each cluster's representative, so near-duplicate chains do not merge).
See :mod:`owd.dedup.steps` for the files each step writes and how its memory grows.
"""

from owd.dedup.minhash import MinhashConfig, bands, signature, theoretical_detection, tokenise
from owd.dedup.steps import VERIFY_THRESHOLD, BucketStep, ClusterStep, SignatureStep, apply_clusters
from owd.dedup.text import exact_hash, normalise

__all__ = [
    "MinhashConfig",
    "normalise",
    "exact_hash",
    "tokenise",
    "signature",
    "bands",
    "theoretical_detection",
    "SignatureStep",
    "BucketStep",
    "ClusterStep",
    "VERIFY_THRESHOLD",
    "apply_clusters",
]
