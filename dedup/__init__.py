"""owd stage package: dedup. Exact and MinHash near-duplicate clustering, per language.

``text`` (normalisation, exact hash) -> ``minhash`` (signatures, band hashes)
-> ``steps`` (SignatureStep -> BucketStep -> ClusterStep -> apply_clusters).
See :mod:`owd.dedup.steps` for the files each step writes and how its memory grows.
"""

from owd.dedup.minhash import MinhashConfig, bands, signature, theoretical_detection, tokenise
from owd.dedup.steps import BucketStep, ClusterStep, SignatureStep, apply_clusters
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
    "apply_clusters",
]
