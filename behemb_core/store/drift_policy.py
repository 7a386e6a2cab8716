"""The thresholds a drift report judges by (:mod:`behemb_core.drift`): a store's policy may set them
(``StorePolicy.drift``); without a policy, or without that section, the defaults below apply.

A rule trips *aging* at its ``…_aging`` value and *stale* at its ``…_stale`` value. Shares are fractions (0.08 =
8 %); ratios compare the version's HR@K on the new data with a reference (1.0 = as good). The defaults come from
UCI Online Retail (README, "Drift: when to retrain"): a cooc_softmax version trained through August lacks 4.6 % of
September's events (aging) and 10 % of November's (stale, its HR@10 there 0.85× the one stored at training:
aging too); one trained through October lacks 0.7 % of November's and keeps 0.99× its HR@10 (fresh). Popularity
shift is reported, not judged: November's head differs from October's as much as from August's (the Christmas
season), whichever version is used.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DriftThresholds(BaseModel):
    """When a published version is *aging* or *stale* on new data (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    missing_events_aging: float = Field(0.03, ge=0, le=1, description="Share of new events on items the version has "
                                        "no vector for (cold-start holes) from which it is aging.")
    missing_events_stale: float = Field(0.08, ge=0, le=1, description="… and from which it is stale.")
    hr_vs_stored_aging: float = Field(0.9, ge=0, le=2, description="HR@K on the new data ÷ the HR@K stored at "
                                      "training time (train --evaluate) below which the version is aging.")
    hr_vs_stored_stale: float = Field(0.75, ge=0, le=2, description="… and below which it is stale.")
    hr_vs_item_knn_aging: float = Field(1.0, ge=0, le=10, description="HR@K of the version ÷ HR@K of item-kNN fitted "
                                        "on the new data itself (same held-out pairs) below which it is aging.")
    hr_vs_item_knn_stale: float = Field(0.8, ge=0, le=10, description="… and below which it is stale.")
    neighbor_support_aging: float = Field(0.75, ge=0, le=1, description="Mean share of the version's top-K "
                                          "neighbors of the new data's most popular items that still co-occur with "
                                          "them in the new data, below which the version is aging.")
    neighbor_support_stale: float = Field(0.5, ge=0, le=1, description="… and below which it is stale.")
    min_pairs: int = Field(200, ge=1, description="Fewer next-item pairs than this in the new data: the decay is not "
                           "judged (too few to tell), and with no pairs at all the report could not judge.")

    @model_validator(mode="after")
    def _ordered(self) -> DriftThresholds:
        for name, aging, stale, higher_is_worse in (
            ("missing_events", self.missing_events_aging, self.missing_events_stale, True),
            ("hr_vs_stored", self.hr_vs_stored_aging, self.hr_vs_stored_stale, False),
            ("hr_vs_item_knn", self.hr_vs_item_knn_aging, self.hr_vs_item_knn_stale, False),
            ("neighbor_support", self.neighbor_support_aging, self.neighbor_support_stale, False),
        ):
            if (stale < aging) if higher_is_worse else (stale > aging):
                worse = "above" if higher_is_worse else "below"
                raise ValueError(f"{name}_stale ({stale}) must be at or {worse} {name}_aging ({aging})")
        return self
