"""The six cost components of the founding document, as quantities x prices.

For D deployments the model builds a quantity matrix ``q[d, l]`` over *ledger lines*
``l`` = (component, owner, price). Each line's daily cost is ``q[d, l] * p[price(l)]``;
summing lines per price gives ``Q[d, r]`` with ``cost = Q @ p``, so a whole price sweep is
one matrix product ``Q @ P.T``. No term divides or multiplies two prices: every component is
linear in the price vector.

All quantities are *per day*; month = 30.4 days, year = 365 days (``deploycost.periods``).

Formulas (i model, d deployment, t tier, h instance type, s data source; units in brackets):

* data (seed C_acq): per source s,
  ``acquired GB/day = gb_per_day / usable_fraction`` x ``data_acquisition_gb[s]`` [CUR/GB]
  + the same GB x ``data_cleaning_gb[s]``
  + ``gb_per_day * retention_days * billed(t) / 30.4`` [GB-month/day] x ``storage_gb_month[t]``
  + ``read_gb_per_day`` x ``retrieval_gb[t]`` + labelling person-days/month / 30.4 x
  ``day_rate``. The seed multiplied *model size x response time x queries*, which is not a
  data volume; we count gigabytes acquired, cleaned, stored and read.
* model storage (seed C_store): artifact GB = params x bytes/param(precision) x
  size_factor(file compression, width class of the precision); stored GB = artifact x
  versions_kept x (1 + backups);
  ``stored * billed(t) / 30.4`` [GB-month/day] x ``storage_gb_month[t]`` + loads/day x
  artifact GB x ``retrieval_gb[t]``, where loads/day = replicas x retrains/30.4 (each new
  version is pulled by every replica) + replica starts/day when autoscaling. The seed paid
  ``price x (need - capacity)``, negative when the model fits; storage is paid per GB stored,
  and owned capacity is a constraint of the optimiser, not a cost.
* compression (seed C_comp, no formula there): when the served precision differs from the
  checkpoint, each retrain costs ``person_days_per_retrain`` x ``day_rate[role]`` +
  ``calibration_gpu_hours_per_retrain`` x ``instance_hour[calibration_instance]``;
  per day: x retrains_per_month / 30.4.
* compute (seed C_calc): ``replicas x 24`` [instance-hour/day] x ``instance_hour[h]``, or,
  when autoscaled, sum over the 24 hours of the replicas the hourly traffic needs at the
  autoscaler's capacity and the utilisation ceiling (between min_replicas and the deployed
  peak replicas; the capacity meets the latency limits every hour,
  ``options.autoscale``); reserved
  instances are paid every hour of the term, so under ``reserved_*`` pricing it is always
  ``replicas x 24``. The seed's ``size / speed x time x queries`` is not a cost.
* people (seed C_hum): maintenance person-days/month per model x automation multiplier /
  30.4 x ``day_rate[role]`` + training person-days/month / 30.4 x ``day_rate`` + the
  automation level's fixed cost x 1/30.4 [month/day] x ``automation_fixed_month[a]``.
  The seed scaled people with query count.
* fusion (seed C_fuse = C_cost-fuse x F, kept): complexity F x ``fusion_unit_day[f]``
  [CUR/day per unit of F] + fusion-layer replicas x 24 x ``instance_hour[h]`` + fusion
  maintenance person-days/month x automation multiplier / 30.4 x ``day_rate``.

``billed(t) = max(1, min_storage_days(t) / lifetime_days)``: objects deleted before the
tier's minimum storage duration are billed for the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from deploycost.catalog import COMMITTED_PLANS, PRICING_COLUMNS
from deploycost.cost.constants import (
    ModelConstants,
    artifact_loads_per_day,
    billed_factor,
    daily_replicas,
    fusion_matrices,
)
from deploycost.cost.deployments import Deployments, Space
from deploycost.cost.ledger import COMPONENTS, Block, Quantities, choice_block, fixed_block
from deploycost.cost.prices import PriceVector, build_prices
from deploycost.errors import DeployCostError
from deploycost.periods import DAYS_PER_MONTH, DAYS_PER_YEAR, HOURS_PER_DAY
from deploycost.scenario.schema import Scenario

COMMITTED_PRICING = COMMITTED_PLANS  # price plans paid per hour of the term, used or not


class CostModel:
    """The six components for one scenario and price vector, for any number of deployments.

    Scenario-level figures (per-model constants, catalog columns, the ledger layout) are
    computed once here; ``quantities`` then does array work only. Each ``_component``
    method returns the ledger blocks of one component over the (deployment, owner) axes.
    The model-owned terms take the model constants as an argument, so that
    ``option_quantities`` can price thousands of single-model options as the columns of
    one deployment.
    """

    def __init__(self, scn: Scenario, prices: PriceVector | None = None) -> None:
        self.scn = scn
        self.prices = prices or build_prices(scn)
        self.space = space = Space.of(scn)
        plan = PRICING_COLUMNS[scn.catalog.pricing]
        hardware = scn.resolved_catalog.hardware
        priced = hardware[plan].reindex(list(space.instances)).notna().to_numpy(bool)
        # (H,) paid every hour of a term under the pricing plan
        self.committed = priced & (scn.catalog.pricing in COMMITTED_PRICING)
        self.const = ModelConstants.of(scn, space)
        self.member, self.fraction = fusion_matrices(scn, space)
        cat = scn.resolved_catalog
        self.min_days = (
            cat.storage.min_storage_days.reindex(list(space.tiers)).fillna(0).to_numpy(float)
        )
        self.bytes_per = cat.precision.bytes_per_param.reindex(list(space.precisions)).to_numpy(
            float
        )
        # (C, Z) by the precision's width: weights at fewer bits compress less
        self.size_factor = cat.size_factors(list(space.precisions), list(space.compressions))
        # (M, C) relative quality change: the model's own measurement, else the catalog's
        catalog_delta = cat.precision.quality_delta_rel.reindex(list(space.precisions)).to_dict()
        self.quality_delta = np.array(
            [
                [m.quality_deltas.get(p, catalog_delta[p]) for p in space.precisions]
                for m in scn.models
            ],
            float,
        ).reshape(len(scn.models), len(space.precisions))
        self.multiplier = np.array([a.person_day_multiplier for a in scn.people.automation_levels])
        # the artifact tiers and file compressions options may use, as axis indices
        self.artifact_tiers = np.array([space.tiers.index(t) for t in scn.model_storage_tiers])
        self.file_compressions = np.array(
            [space.compressions.index(z) for z in scn.options.file_compressions]
        )
        self.names = {
            "inst": [f"instance_hour[{h}]" for h in space.instances],
            "store": [f"storage_gb_month[{t}]" for t in space.tiers],
            "fetch": [f"retrieval_gb[{t}]" for t in space.tiers],
            "rate": [f"day_rate[{r}]" for r in space.roles],
        }
        self._layout: tuple[pd.DataFrame, np.ndarray] | None = None

    def _role(self, name: str | None) -> int:
        return self.space.roles.index(name or self.scn.default_role)

    def artifact_gb(
        self, const: ModelConstants, precision: np.ndarray, compression: np.ndarray
    ) -> np.ndarray:
        """GB of one stored model artifact: params x bytes/param x file-compression factor
        (of the precision's width class)."""
        return (
            const.gb_per_param_byte
            * self.bytes_per[precision]
            * self.size_factor[precision, compression]
        )

    def _compute(self, dep: Deployments, hours: np.ndarray, owners: list[str]) -> list[Block]:
        return [
            choice_block(
                "compute",
                "model",
                owners,
                self.names["inst"],
                "instance-hour/day",
                hours,
                dep.instance,
            )
        ]

    def _model_storage(
        self,
        dep: Deployments,
        active: np.ndarray,
        starts: np.ndarray,
        const: ModelConstants,
        owners: list[str],
    ) -> list[Block]:
        artifact_gb = self.artifact_gb(const, dep.precision, dep.compression)
        stored_gb = artifact_gb * const.versions_kept * (1 + dep.backups)
        with np.errstate(divide="ignore"):
            lifetime = np.where(
                const.retrains_per_day > 0, const.versions_kept / const.retrains_per_day, np.inf
            )
        billed = billed_factor(self.min_days[dep.tier], np.broadcast_to(lifetime, dep.tier.shape))
        loads = artifact_loads_per_day(dep.replicas * active, const.retrains_per_day, starts)
        return [
            choice_block(
                "model_storage",
                "model",
                owners,
                self.names["store"],
                "GB-month/day",
                stored_gb * billed / DAYS_PER_MONTH * active,
                dep.tier,
            ),
            choice_block(
                "model_storage",
                "model",
                owners,
                self.names["fetch"],
                "GB/day",
                artifact_gb * loads * active,
                dep.tier,
            ),
        ]

    def _compression(
        self, dep: Deployments, active: np.ndarray, const: ModelConstants, owners: list[str]
    ) -> list[Block]:
        retrains = const.retrains_per_day * ((dep.precision != const.checkpoint_precision) & active)
        calibration = f"instance_hour[{self.scn.calibration_instance}]"
        return [
            choice_block(
                "compression",
                "model",
                owners,
                self.names["rate"],
                "person-day/day",
                const.effort_pd_per_retrain * retrains,
                np.broadcast_to(const.role, retrains.shape),
            ),
            fixed_block(
                "compression",
                "model",
                owners,
                [calibration] * len(owners),
                "instance-hour/day",
                const.effort_gpu_h_per_retrain * retrains,
            ),
        ]

    def _maintenance(
        self, automation: np.ndarray, active: np.ndarray, const: ModelConstants, owners: list[str]
    ) -> list[Block]:
        """Maintenance of the active models at automation level ``automation`` (D,)."""
        multiplier = self.multiplier[automation][:, None]
        return [
            choice_block(
                "people",
                "model",
                owners,
                self.names["rate"],
                "person-day/day",
                const.maintenance_pd_per_day * multiplier * active,
                np.broadcast_to(const.role, active.shape),
            )
        ]

    def _people_shared(self, automation: np.ndarray) -> list[Block]:
        """Training and the automation level's fixed cost, for levels ``automation`` (D,)."""
        scn, d = self.scn, len(automation)
        training = np.full((d, 1), scn.people.training_person_days_per_month / DAYS_PER_MONTH)
        return [
            fixed_block(
                "people",
                "shared",
                ["training"],
                [self.names["rate"][self._role(scn.people.training_role)]],
                "person-day/day",
                training,
            ),
            choice_block(
                "people",
                "shared",
                ["automation"],
                [f"automation_fixed_month[{a}]" for a in self.space.automation],
                "month/day",
                np.full((d, 1), 1.0 / DAYS_PER_MONTH),
                automation[:, None],
            ),
        ]

    def _fusion(self, f: np.ndarray, automation: np.ndarray) -> list[Block]:
        """The fusion layer of configurations ``f`` (D,) at automation levels (D,)."""
        cfgs = self.scn.fusion_configs
        complexity = np.array([c.complexity for c in cfgs])
        upkeep = np.array([c.maintenance_person_days_per_month for c in cfgs]) / DAYS_PER_MONTH
        role = np.array([self._role(c.role) for c in cfgs])
        hours = np.array([c.replicas * HOURS_PER_DAY for c in cfgs])
        inst = np.array([self.space.instances.index(c.instance) if c.instance else 0 for c in cfgs])
        multiplier = self.multiplier[automation]
        return [
            choice_block(
                "fusion",
                "fusion",
                ["fusion"],
                [f"fusion_unit_day[{name}]" for name in self.space.fusions],
                "complexity-day/day",
                complexity[f][:, None],
                f[:, None],
            ),
            choice_block(
                "fusion",
                "fusion",
                ["fusion"],
                self.names["rate"],
                "person-day/day",
                (upkeep[f] * multiplier)[:, None],
                role[f][:, None],
            ),
            choice_block(
                "fusion",
                "fusion",
                ["fusion"],
                self.names["inst"],
                "instance-hour/day",
                hours[f][:, None],
                inst[f][:, None],
            ),
        ]

    def _data(self, data_tier: np.ndarray) -> list[Block]:
        """The data component with source s kept on tier ``data_tier[d, s]``."""
        src = self.scn.data_sources
        if not src:
            return []
        shape = (len(data_tier), len(src))
        names = list(self.space.sources)
        gb = np.array([s.gb_per_day for s in src])
        raw_gb = np.broadcast_to(gb / np.array([s.usable_fraction for s in src]), shape)
        retention = np.array([s.retention_days for s in src])
        billed = billed_factor(self.min_days[data_tier], np.broadcast_to(retention, shape))
        reads = np.broadcast_to(np.array([s.read_gb_per_day for s in src]), shape)
        labelling = np.array([s.labelling_person_days_per_month for s in src]) / DAYS_PER_MONTH
        return [
            fixed_block(
                "data",
                "data_source",
                names,
                [f"data_acquisition_gb[{n}]" for n in names],
                "GB/day",
                raw_gb,
            ),
            fixed_block(
                "data",
                "data_source",
                names,
                [f"data_cleaning_gb[{n}]" for n in names],
                "GB/day",
                raw_gb,
            ),
            choice_block(
                "data",
                "data_source",
                names,
                self.names["store"],
                "GB-month/day",
                gb * retention * billed / DAYS_PER_MONTH,
                data_tier,
            ),
            choice_block(
                "data", "data_source", names, self.names["fetch"], "GB/day", reads, data_tier
            ),
            fixed_block(
                "data",
                "data_source",
                names,
                [self.names["rate"][self._role(s.role)] for s in src],
                "person-day/day",
                np.broadcast_to(labelling, shape),
            ),
        ]

    def _model_blocks(
        self,
        dep: Deployments,
        active: np.ndarray,
        share: np.ndarray,
        const: ModelConstants,
        owners: list[str],
    ) -> list[Block]:
        hours, starts = daily_replicas(
            self.scn, dep.replicas, dep.capacity_qps, share, const.min_replicas
        )
        if self.committed.any():
            # a reserved instance is paid for every hour of its term, running or not: the
            # fleet is bought at its peak, whatever autoscaling does within it (an instance
            # without a reserved price is bought on demand and paid per hour run)
            peak = np.asarray(dep.replicas, float) * HOURS_PER_DAY
            hours = np.where(self.committed[dep.instance], peak, hours)
        return [
            *self._model_storage(dep, active, starts * active, const, owners),
            *self._compression(dep, active, const, owners),
            *self._compute(dep, hours * active, owners),
        ]

    def quantities(self, dep: Deployments) -> Quantities:
        """Quantity matrix of D deployments over every ledger line (no loop over deployments)."""
        active = self.member[dep.fusion]  # (D, M)
        share = self.const.requests_per_query * self.fraction[dep.fusion]  # (D, M)
        owners = list(self.space.models)
        blocks = [
            *self._data(dep.data_tier),
            *self._model_blocks(dep, active, share, self.const, owners),
            *self._maintenance(dep.automation, active, self.const, owners),
            *self._people_shared(dep.automation),
            *self._fusion(dep.fusion, dep.automation),
        ]
        lines, price_of_line = self._layout or self._lay_out(blocks)
        return Quantities(
            q=np.concatenate([b.q for b in blocks], axis=1),
            lines=lines,
            price_of_line=price_of_line,
            n_prices=len(self.prices.names),
        )

    def option_quantities(
        self, model: np.ndarray, share: np.ndarray, choices: dict[str, np.ndarray]
    ) -> sp.csr_matrix:
        """(O, P) sparse quantities per price of O single-model options, model-owned terms.

        Option o deploys model ``model[o]`` with requests per user query ``share[o]`` and
        the per-option ``choices`` (instance, replicas, precision, batch, tier, backups,
        compression, capacity_qps). People's maintenance is left out: it depends on the
        automation level, which the formulation prices with the fusion choice.
        """
        count = len(model)
        n_prices = len(self.prices.names)
        if count == 0:
            return sp.csr_matrix((0, n_prices))
        dep = Deployments(
            **{k: np.asarray(v)[None, :] for k, v in choices.items()},
            fusion=np.zeros(1, np.intp),
            data_tier=np.zeros((1, len(self.space.sources)), np.intp),
            automation=np.zeros(1, np.intp),
        )
        const = self.const.take(model)
        owners = ["option"] * count
        blocks = self._model_blocks(dep, np.ones((1, count), bool), share[None, :], const, owners)
        # one entry per option and block: memory grows with options x blocks, not x prices
        return self._sparse(blocks, np.arange(count)[None, :], count)

    def artifact_quantities(
        self,
        model: np.ndarray,
        choices: dict[str, np.ndarray],
        loads_per_day: np.ndarray,
        component: str | None = None,
    ) -> sp.csr_matrix:
        """(O, P) sparse quantities of O artifact choices without compute: model storage
        and compression of model ``model[o]`` kept as ``choices`` (precision, tier, backups,
        compression), pulled ``loads_per_day[o]`` times a day (the fleet optimiser buys
        instances separately); only the lines of ``component`` when given."""
        count = len(model)
        if count == 0:
            return sp.csr_matrix((0, len(self.prices.names)))
        zeros = np.zeros((1, count))
        dep = Deployments(
            **{k: np.asarray(v)[None, :] for k, v in choices.items()},
            instance=zeros.astype(np.intp),
            replicas=zeros,
            batch=np.ones((1, count), np.intp),
            capacity_qps=np.full((1, count), np.nan),
            fusion=np.zeros(1, np.intp),
            data_tier=np.zeros((1, len(self.space.sources)), np.intp),
            automation=np.zeros(1, np.intp),
        )
        const = self.const.take(model)
        owners = ["artifact"] * count
        active = np.ones((1, count), bool)
        blocks = [
            *self._model_storage(
                dep, active, np.asarray(loads_per_day, float)[None], const, owners
            ),
            *self._compression(dep, active, const, owners),
        ]
        blocks = [b for b in blocks if component in (None, b.component)]
        return self._sparse(blocks, np.arange(count)[None, :], count)

    def _sparse(self, blocks: list[Block], rows: np.ndarray, n_rows: int) -> sp.csr_matrix:
        """Block quantities summed into a sparse (n_rows, P) matrix: the quantity of owner o
        in deployment d goes to row ``rows[d, o]`` (broadcast), at its price's column."""
        all_rows, all_cols, all_vals = [], [], []
        for block in blocks:
            idx = self.prices.indices(block.prices)
            values = np.asarray(block.values, float)
            cols = idx[None, :] if block.fixed else idx[block.choice]
            shape = np.broadcast_shapes(values.shape, cols.shape, np.shape(rows))
            all_rows.append(np.broadcast_to(rows, shape).ravel())
            all_cols.append(np.broadcast_to(cols, shape).ravel())
            all_vals.append(np.broadcast_to(values, shape).ravel())
        if not all_rows:
            return sp.csr_matrix((n_rows, len(self.prices.names)))
        out = sp.csr_matrix(
            (np.concatenate(all_vals), (np.concatenate(all_rows), np.concatenate(all_cols))),
            shape=(n_rows, len(self.prices.names)),
        )
        out.sum_duplicates()
        out.eliminate_zeros()
        return out

    def system_quantities(
        self, fusion: np.ndarray, automation: np.ndarray, component: str | None = None
    ) -> sp.csr_matrix:
        """(D, P) sparse quantities of what a (fusion configuration, automation level) pair
        brings: the fusion layer, its members' maintenance, training and the automation
        level (summed over owners: memory grows with pairs x models, not x prices); only
        the lines of ``component`` when given."""
        fusion, automation = np.asarray(fusion), np.asarray(automation)
        owners = list(self.space.models)
        blocks = [
            *self._maintenance(automation, self.member[fusion], self.const, owners),
            *self._people_shared(automation),
            *self._fusion(fusion, automation),
        ]
        blocks = [b for b in blocks if component in (None, b.component)]
        return self._sparse(blocks, np.arange(len(fusion))[:, None], len(fusion))

    def maintenance_per_day(self, fusion: int, automation: int) -> np.ndarray:
        """(M,) each model's maintenance cost per day at these prices, under fusion
        configuration ``fusion`` and automation level ``automation`` (0 off its members)."""
        (block,) = self._maintenance(
            np.array([automation]), self.member[[fusion]], self.const, list(self.space.models)
        )
        rate = self.prices.values[self.prices.indices(block.prices)]
        return (np.asarray(block.values, float) * rate[block.choice])[0]

    def data_quantities(self) -> sp.csr_matrix:
        """(S x T, P) sparse quantities of data source s kept on tier t, in row s T + t
        (every tier, allowed or not)."""
        tiers, sources = len(self.space.tiers), len(self.space.sources)
        if not sources:
            return sp.csr_matrix((0, len(self.prices.names)))
        every_tier = np.repeat(np.arange(tiers)[:, None], sources, axis=1)  # (T, S)
        rows = np.arange(sources)[None, :] * tiers + np.arange(tiers)[:, None]
        return self._sparse(self._data(every_tier), rows, sources * tiers)

    def _lay_out(self, blocks: list[Block]) -> tuple[pd.DataFrame, np.ndarray]:
        """The ledger lines (the same for every call): built once, on first use."""
        owners = [b.line_owner for b in blocks]
        prices = [b.line_price for b in blocks]
        lines = pd.DataFrame(
            {
                "component": [b.component for b, p in zip(blocks, prices, strict=True) for _ in p],
                "owner": [o for block_owners in owners for o in block_owners],
                "owner_kind": [
                    b.owner_kind for b, p in zip(blocks, prices, strict=True) for _ in p
                ],
                "price": [p for block_prices in prices for p in block_prices],
                "unit": [b.unit for b, p in zip(blocks, prices, strict=True) for _ in p],
            }
        )
        self._layout = (lines, self.prices.indices(list(lines.price)))
        return self._layout


def quantities(scn: Scenario, dep: Deployments, prices: PriceVector | None = None) -> Quantities:
    """Quantity matrix of D deployments (see ``CostModel``; build one to reuse it)."""
    return CostModel(scn, prices).quantities(dep)


@dataclass(frozen=True)
class Evaluation:
    """Costs of D deployments under one price vector."""

    scenario: Scenario
    prices: PriceVector
    quantities: Quantities

    @cached_property
    def line_costs(self) -> np.ndarray:
        return self.quantities.line_costs(self.prices.values)

    @property
    def total_per_day(self) -> np.ndarray:
        return self.line_costs.sum(axis=1)

    def components(self) -> pd.DataFrame:
        """One row per deployment: the six components and the total, per day."""
        frame = pd.DataFrame(
            self.quantities.component_costs(self.prices.values), columns=list(COMPONENTS)
        )
        frame["total"] = frame.sum(axis=1)
        return frame

    def breakdown(self, row: int = 0) -> pd.DataFrame:
        """Cost of deployment ``row`` per component and owner, per day, month and year."""
        lines = self.quantities.lines.assign(per_day=self.line_costs[row])
        table = (
            lines.groupby(["component", "owner_kind", "owner"], sort=False)["per_day"]
            .sum()
            .reset_index()
        )
        table = table[table.per_day != 0].copy()
        table["component"] = pd.Categorical(table.component, categories=COMPONENTS, ordered=True)
        table = table.sort_values(["component", "owner"], kind="stable").reset_index(drop=True)
        table["per_month"] = table.per_day * DAYS_PER_MONTH
        table["per_year"] = table.per_day * DAYS_PER_YEAR
        return table

    def ledger(self, row: int = 0) -> pd.DataFrame:
        """Every non-zero line of deployment ``row``: quantity, unit price and cost per day."""
        lines = self.quantities.lines.copy()
        lines["quantity_per_day"] = self.quantities.q[row]
        lines["unit_price"] = self.prices.values[self.quantities.price_of_line]
        lines["per_day"] = self.line_costs[row]
        return lines[lines.quantity_per_day != 0].reset_index(drop=True)


def evaluate(scn: Scenario, dep: Deployments, prices: PriceVector | None = None) -> Evaluation:
    """Costs of the deployments ``dep``; an input that drives a quantity or a price out of
    the finite range is an error naming the ledger line, never a NaN total."""
    prices = prices or build_prices(scn)
    result = Evaluation(scn, prices, quantities(scn, dep, prices))
    line_costs = result.line_costs
    bad = np.nonzero(~np.isfinite(line_costs).all(axis=0))[0]
    if len(bad):
        j = int(bad[0])
        line = result.quantities.lines.iloc[j]
        quantity = float(np.max(np.abs(result.quantities.q[:, j])))
        price = float(prices.values[result.quantities.price_of_line[j]])
        raise DeployCostError(
            f"the cost of {line.component} / {line.owner} / {line.price} is not a finite "
            f"number (quantity {quantity:g} {line.unit}, price {price:g}): an input of that "
            f"term is too small or too large"
        )
    return result
