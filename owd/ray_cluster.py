"""Start or join a Ray cluster for one piece of orchestration work.

Only the orchestration package (``owd/``) imports Ray; the stages do not. Every
command that runs on Ray opens :func:`connect` around its work::

    with connect(None) as ray:              # a private local instance on this machine
        ...
    with connect("127.0.0.1:6379") as ray:  # join a cluster started with `ray start --head`
        ...

* ``address=None`` starts a local instance: ``num_cpus`` = ``os.cpu_count()``, no
  dashboard, the loopback address as node address (this machine has no network, and
  Ray's own address detection would otherwise look for one), warnings only, and worker
  output not streamed to the driver (the stages count what they drop; their log lines
  would only interleave with the progress lines). It is shut down on exit.
* ``address="host:port"`` (or ``"auto"``, ``"ray://..."``) joins an existing cluster and
  only disconnects on exit; the cluster keeps running. The driver's node address is
  Ray's to detect (``OWD_RAY_NODE_IP`` overrides it): Ray rewrites a loopback bootstrap
  address to the machine's own address anyway, and on this machine ``ray start --head
  --node-ip-address=127.0.0.1`` still registers the node as 192.0.2.2 (its eth0), so
  forcing 127.0.0.1 on the driver would name a node that does not exist.
* Token authentication: Ray 2.60 turns it on for every cluster it starts (token in
  ``~/.ray/auth_token``), but a driver given an explicit address only sends the token
  when ``RAY_AUTH_MODE=token`` is set. For a loopback address (a cluster on this same
  machine, the case Ray's ``"auto"`` discovery covers) :func:`connect` does what
  ``"auto"`` does: use the local token if there is one. For a remote address, set
  ``RAY_AUTH_MODE=token`` and ``RAY_AUTH_TOKEN`` (or the token file) yourself.
* Nested use is free: if Ray is already initialised in this process (``owd run`` opened
  one connection for all its stages), :func:`connect` yields it and leaves it open.

Workers import the project from the driver's ``sys.path`` (Ray passes it on), so every
node must see the same checkout and venv at the same path, and every task reads and
writes the campaign directory directly: on several nodes it must be a shared filesystem.

``ray.init`` costs 2.6-4.7 s and 0.5-0.75 GB at idle on the 2-core development machine,
so open one connection per command, not per stage.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from contextlib import contextmanager
from typing import Any, Iterator

__all__ = ["connect", "cluster_cpus", "LOOPBACK"]

LOOPBACK = "127.0.0.1"


def _loopback_host(address: str) -> bool:
    host = address.split("://", 1)[-1].rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def connect(address: str | None = None, *, num_cpus: int | None = None,
            resources: dict[str, float] | None = None, log_to_driver: bool = False,
            logging_level: int = logging.WARNING, **init_kwargs: Any) -> Iterator[Any]:
    """Connect this process to Ray for the ``with`` block; yields the ``ray`` module.

    ``num_cpus`` and ``resources`` (custom resources, e.g. ``{"site:lux": 1}``) apply only
    to a local instance; a joined cluster has its own. ``init_kwargs`` go to ``ray.init``
    as they are (e.g. ``object_store_memory``, ``runtime_env``, ``namespace``).
    """
    import ray

    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"logging_level": logging_level, "log_to_driver": log_to_driver, **init_kwargs}
    node_ip = os.environ.get("OWD_RAY_NODE_IP")
    if address is None:
        kwargs.update(address="local", include_dashboard=False, num_cpus=num_cpus or os.cpu_count() or 1,
                      _node_ip_address=node_ip or LOOPBACK)
        if resources:
            kwargs["resources"] = resources
        # Ray 2.60 warns on every start that it turned token authentication on; for a
        # private instance on the loopback address that is no news worth a line per command.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    else:
        if num_cpus is not None or resources:
            raise ValueError("num_cpus and resources describe a local instance; a joined cluster has its own")
        kwargs["address"] = address
        if node_ip and not address.startswith("ray://"):  # a Ray client has no node of its own
            kwargs["_node_ip_address"] = node_ip
        if _loopback_host(address):
            _use_local_token()
    ray.init(**kwargs)
    try:
        yield ray
    finally:
        ray.shutdown()


def _use_local_token() -> None:
    # Ray's own rule for a cluster found by "auto": an explicit RAY_AUTH_MODE wins; else
    # token mode if a token is at hand (it also sets RAY_AUTH_MODE for this process).
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication
        return
    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def cluster_cpus() -> int:
    """CPUs of the connected cluster (at least 1): how many one-CPU workers fit at once."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))
