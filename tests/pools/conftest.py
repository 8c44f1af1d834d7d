"""One processed campaign of the test web (plus edge-case documents) with pools, per test session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from owd.core.config import CampaignConfig, load_campaign
from owd.core.schema import write_parquet
from owd.testweb import TestSite, free_port
from owd.pools.build import BuildSummary, build_pools
from tests.conftest import crawl_testweb, run_owd
from tests.pools.helpers import POOLS, synthetic_documents


@dataclass
class PoolCampaign:
    config: Path
    cfg: CampaignConfig
    records: list[dict[str, Any]]  # every document of docs/*.parquet, as rows
    first_build: BuildSummary

    @property
    def pools(self) -> Path:
        return self.cfg.campaign_dir / "pools"


@pytest.fixture(scope="session")
def pool_campaign(tmp_path_factory: pytest.TempPathFactory) -> PoolCampaign:
    """Crawl a small test web (its TDM-reserved and noai hosts included), process it, add
    the synthetic edge cases as one more shard, build the pools once."""
    tmp = tmp_path_factory.mktemp("pools")
    site = TestSite(port=free_port(), pages_per_host=3, real_pages=10)
    config, _ = crawl_testweb(
        site, tmp, "--log-level", "ERROR",
        politeness={"delay": 0.0, "concurrency_per_host": 4, "concurrency": 64, "autothrottle": False},
        limits={"timeout": 2}, pools=POOLS)
    result = run_owd("process", str(config), timeout=400)
    assert result.returncode == 0, result.stderr[-2000:]
    cfg = load_campaign(config)
    docs = cfg.campaign_dir / "docs"
    write_parquet(synthetic_documents(), docs / "zz-synthetic.parquet")
    records = [r for shard in sorted(docs.glob("*.parquet")) for r in pq.read_table(shard).to_pylist()]
    return PoolCampaign(config, cfg, records, build_pools(cfg))


def clone(campaign: PoolCampaign, dest: Path, pools: list[dict[str, Any]] | None = None) -> CampaignConfig:
    """The same documents under another storage root, optionally with other pools."""
    data = yaml.safe_load(campaign.config.read_text())
    data["storage_root"] = str(dest / "data")
    if pools is not None:
        data["pools"] = pools
    shutil.copytree(campaign.cfg.campaign_dir / "docs", dest / "data" / data["campaign"] / "docs")
    for f in campaign.config.parent.glob(f"{data['campaign']}*"):
        if f.is_file() and f != campaign.config:
            shutil.copy(f, dest / f.name)
    path = dest / campaign.config.name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return load_campaign(path)
