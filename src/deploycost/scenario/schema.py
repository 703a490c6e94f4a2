"""Scenario and deployment files: pydantic schema, one-pass validation, readable errors.

Money in a scenario file is in the scenario ``currency`` unless a field says otherwise;
catalog prices in other currencies are converted with ``exchange_rates`` (scenario
currency units per one foreign unit), which are themselves prices a sweep may vary.

Validation runs in one pass before anything is computed: the schema (types, bounds,
unknown keys) first, then cross-references (fusion members, instance, tier, precision,
role names) against the catalog with the scenario's own overrides applied. Every problem
is reported at once as ``path must ..., got value``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
)

from deploycost.catalog import Catalog, load_catalog
from deploycost.errors import ScenarioError
from deploycost.scenario.checks import (
    _apply_overrides,
    _check_catalog_values,
    _check_currencies,
    _check_fleet,
    _check_fusion,
    _check_models,
    _check_people,
    _check_pricing,
    _check_storage_and_limits,
    _unique,
    usable_instances,
)
from deploycost.scenario.deployment_checks import check_deployment
from deploycost.scenario.exported import deployment_of, is_export, is_fleet_document
from deploycost.scenario.messages import _got, format_errors
from deploycost.scenario.models import (
    DEFAULT_CALIBRATION,
    DEFAULT_REGIONS,
    CatalogOverrides,
    Constraints,
    Currency,
    DataSource,
    DeploymentSpec,
    Fleet,
    FusionConfig,
    ModelSpec,
    OptionSettings,
    People,
    Pos,
    RoleSpec,
    Strict,
    Workload,
)
from deploycost.scenario.yamlfile import parse_yaml, read_input, with_locations


class Scenario(Strict):
    name: str = "scenario"
    description: str = ""
    currency: Currency = "CNY"
    reporting_period: Literal["day", "month", "year"] = "month"
    exchange_rates: dict[Currency, Pos] = {}
    workload: Workload = Workload()
    models: Annotated[list[ModelSpec], Field(min_length=1)]
    model_storage_tiers: Annotated[list[str], Field(min_length=1)] = ["s3-standard"]
    data_sources: list[DataSource] = []
    people: People = People()
    fusion: list[FusionConfig] = []
    constraints: Constraints = Constraints()
    catalog: CatalogOverrides = CatalogOverrides()
    options: OptionSettings = OptionSettings()
    fleet: Fleet | None = None
    baseline_deployment: DeploymentSpec | None = None

    # Filled in by ``validate_scenario``: the catalog with this scenario's overrides.
    _catalog: Catalog | None = PrivateAttr(default=None)
    _models_by_name: dict[str, ModelSpec] | None = PrivateAttr(default=None)

    @property
    def regions(self) -> list[str] | None:
        """The provider regions instances come from: ``catalog.regions``, else the default
        of the currency (``DEFAULT_REGIONS``), else every region (None)."""
        if self.catalog.regions is not None:
            return list(self.catalog.regions)
        default = DEFAULT_REGIONS.get(self.currency)
        return list(default) if default else None

    @property
    def calibration_instance(self) -> str:
        """The instance that prices calibration GPU-hours: ``catalog.calibration_instance``,
        else ``DEFAULT_CALIBRATION`` where usable, else the usable GPU instance with the
        lowest on-demand price, else the first usable instance."""
        if self.catalog.calibration_instance is not None:
            return self.catalog.calibration_instance
        usable = usable_instances(self, self.resolved_catalog)
        if DEFAULT_CALIBRATION in usable:
            return DEFAULT_CALIBRATION
        hw = self.resolved_catalog.hardware.loc[usable]
        gpus = hw[hw.compute_class == "gpu"].price_on_demand_per_hour.dropna()
        return str(gpus.idxmin()) if len(gpus) else usable[0]

    @property
    def resolved_catalog(self) -> Catalog:
        """The catalog with this scenario's overrides; a scenario built with pydantic's own
        ``Scenario.model_validate`` is cross-checked here, on first use."""
        if self._catalog is None:
            cross_check(self)
        return self._catalog

    def model(self, name: str) -> ModelSpec:
        """The model called ``name`` (a dictionary lookup, built on first use)."""
        if self._models_by_name is None or len(self._models_by_name) != len(self.models):
            self._models_by_name = {}
            for m in self.models:
                self._models_by_name.setdefault(m.name, m)
        return self._models_by_name[name]

    @property
    def fusion_configs(self) -> list[FusionConfig]:
        """The declared fusion configurations, or one that serves every model."""
        if self.fusion:
            return list(self.fusion)
        names = [m.name for m in self.models]
        return [
            FusionConfig(
                name="all-models", members=names, method="single" if len(names) == 1 else "cascade"
            )
        ]

    @property
    def role_specs(self) -> dict[str, RoleSpec]:
        """Declared roles, or one engineer role priced from the labor catalog."""
        if self.people.roles:
            return dict(self.people.roles)
        row = "cn-algorithm-engineer" if self.currency == "CNY" else "us-software-developer"
        return {"engineer": RoleSpec(catalog=row)}

    @property
    def default_role(self) -> str:
        return next(iter(self.role_specs))

    def rate_to_scenario(self, currency: str) -> float:
        """Scenario-currency units per one unit of ``currency``."""
        if currency == self.currency:
            return 1.0
        if currency in self.exchange_rates:
            return self.exchange_rates[currency]
        table = self.resolved_catalog.exchange_rates
        direct = table[(table.from_currency == currency) & (table.to_currency == self.currency)]
        if len(direct):
            return float(direct.rate.iloc[0])
        inverse = table[(table.from_currency == self.currency) & (table.to_currency == currency)]
        if len(inverse):
            return 1.0 / float(inverse.rate.iloc[0])
        raise KeyError(currency)


def validate_scenario(raw: Any, source: str = "scenario") -> Scenario:
    """Validate a parsed scenario mapping in one pass; raise ScenarioError listing every problem."""
    if not isinstance(raw, dict):
        raise ScenarioError([f"top level must be a mapping, got {_got(raw)}"], source)
    try:
        scn = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, raw, Scenario, ""), source) from None
    return cross_check(scn, source)


def cross_check(scn: Scenario, source: str = "scenario") -> Scenario:
    """The checks that span fields (unique names, references, catalog rows, currencies,
    the baseline deployment), all at once; resolves the catalog. Raises ScenarioError."""
    problems: list[str] = []
    _unique(scn.models, "models", problems)
    _unique(scn.data_sources, "data_sources", problems)
    _unique(scn.fusion, "fusion", problems)
    catalog = _apply_overrides(scn, problems)
    scn._catalog = catalog
    _check_catalog_values(scn, catalog, problems)
    _check_currencies(scn, catalog, problems)
    _check_models(scn, catalog, problems)
    _check_fusion(scn, catalog, problems)
    _check_people(scn, catalog, problems)
    _check_storage_and_limits(scn, catalog, problems)
    _check_fleet(scn, catalog, problems)
    _check_pricing(scn, catalog, problems)
    if scn.baseline_deployment is not None and not problems:
        problems += check_deployment(scn, scn.baseline_deployment, "baseline_deployment")
    if problems:
        scn._catalog = None  # an invalid scenario is never used
        raise ScenarioError(problems, source)
    return scn


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file (bounded: see ``scenario.yamlfile``); each
    problem names the file, line and column of its field.

    The file is read every time; a text read before (same path, same bytes, same shipped
    catalog) gives the same frozen ``Scenario`` object again, so a process that loads one
    file twice (``diff``, ``report``, a test suite) also reuses the options its solves
    enumerated (``optimize.prepared``)."""
    text = read_input(path)
    key = (str(path), hashlib.sha256(text.encode("utf-8")).hexdigest(), id(load_catalog()))
    if key in _LOADED:
        _LOADED.move_to_end(key)
        return _LOADED[key]
    raw = parse_yaml(text, str(path))
    try:
        scn = validate_scenario(raw, str(path))
    except ScenarioError as exc:
        raise ScenarioError(with_locations(exc.problems, text, str(path)), exc.source) from None
    _LOADED[key] = scn
    if len(_LOADED) > LOADED_KEPT:
        _LOADED.popitem(last=False)
    return scn


LOADED_KEPT = 16  # scenario files kept validated, the least recently loaded dropped first
_LOADED: OrderedDict[tuple[str, str, int], Scenario] = OrderedDict()


def as_scenario(scenario: str | Path | Mapping[str, Any] | Scenario) -> Scenario:
    """A validated scenario from a YAML path, a parsed mapping or a ``Scenario`` (one built
    with ``Scenario.model_validate`` is cross-checked here); raises ``ScenarioError``."""
    if isinstance(scenario, Scenario):
        scenario.resolved_catalog  # noqa: B018 - cross-checks a scenario built without it
        return scenario
    if isinstance(scenario, Mapping):
        return validate_scenario(dict(scenario))
    if isinstance(scenario, str | Path):
        return load_scenario(scenario)
    raise ScenarioError(
        [f"scenario must be a path, a mapping or a Scenario, got {type(scenario).__name__}"]
    )


def validate_deployment(scn: Scenario, raw: Any, source: str = "deployment") -> DeploymentSpec:
    """A deployment file (or mapping): a deployment as ``DeploymentSpec`` states it, or an
    export's ``recommended.yaml`` (``scenario.exported``)."""
    if is_export(raw):
        if is_fleet_document(raw):
            raise ScenarioError(
                [
                    "this is a fleet's recommended.yaml (it has pools), not a deployment: "
                    "`deploycost evaluate SCN --deployment FILE` and `deploycost diff SCN "
                    "--recommended FILE` cost it as a fleet; a baseline is one deployment "
                    "per model"
                ],
                source,
            )
        raw = deployment_of(raw)
    if not isinstance(raw, dict):
        raise ScenarioError([f"top level must be a mapping, got {_got(raw)}"], source)
    try:
        dep = DeploymentSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(format_errors(exc, raw, DeploymentSpec, ""), source) from None
    problems = check_deployment(scn, dep, "deployment")
    if problems:
        raise ScenarioError(problems, source)
    return dep


def load_deployment(scn: Scenario, path: str | Path) -> DeploymentSpec:
    return _read_plan(scn, path, fleets=False)


def load_plan_file(scn: Scenario, path: str | Path) -> DeploymentSpec | dict:
    """A deployment file as a ``DeploymentSpec``, or a fleet's export document as its
    mapping (``optimize.fleet_given`` costs it); the file is read and parsed once."""
    return _read_plan(scn, path, fleets=True)


def _read_plan(scn: Scenario, path: str | Path, fleets: bool) -> DeploymentSpec | dict:
    text = read_input(path)
    raw = parse_yaml(text, str(path))
    if fleets and is_fleet_document(raw):
        return raw
    try:
        return validate_deployment(scn, raw, str(path))
    except ScenarioError as exc:
        raise ScenarioError(with_locations(exc.problems, text, str(path)), exc.source) from None


def scenario_json_schema() -> dict:
    """JSON Schema of scenario files, for editors and generated docs: every property with
    its description and unit (``scenario.field_docs``)."""
    from deploycost.scenario.field_docs import annotate

    return annotate(Scenario.model_json_schema())
