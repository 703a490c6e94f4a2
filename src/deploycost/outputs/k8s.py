"""Kubernetes manifests of a recommendation: what a platform team applies.

Per model (``manifests``), in one multi-document file, all in the scenario's namespace:

* ``Namespace``: the scenario name as a DNS label;
* ``Deployment``: the replicas, a node selector on the instance type and region, tolerations for the
  GPU / Neuron taints, spread over zones, the container's requests sized to the model
  (``pod_resources``), startup / readiness / liveness probes on the serving port, the
  serving settings as environment variables and the cost figures as annotations;
* ``Service``: the serving port inside the cluster;
* ``PodDisruptionBudget``: the replicas the peak needs at ``utilisation_max`` stay up
  (``min_available``);
* ``HorizontalPodAutoscaler`` (when autoscaling): on requests per second per pod, the signal
  the cost model scales on, with the autoscaler's target ``capacity x utilisation_max``
  (a ``Pods`` metric ``requests_per_second``, served by a custom-metrics adapter such as
  prometheus-adapter).

Names and label values follow the API server's syntax: model names are DNS labels (the
schema's rule), the scenario name is mapped to one, an instance type that is not a valid
label value and an image that is not an image reference are errors.

Serving defaults (the container image is the scenario's; these are what the shipped
servers use): port 8000, KServe v2 / Triton health paths ``/v2/health/ready`` and
``/v2/health/live``, vLLM's ``/health`` for LLMs.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from deploycost.errors import DeployCostError
from deploycost.scenario.schema import Scenario

IMAGE_PLACEHOLDER = "REPLACE-ME.example/{model}:latest"
PORT = 8000
RUNTIME_OVERHEAD_GIB = 2.0  # ESTIMATE: server process, CUDA / Neuron runtime, buffers
CORES_PER_DEVICE = 2  # ESTIMATE: host cores that feed one accelerator
NODE_SHARE = 0.9  # at most this share of a node's memory (the kubelet keeps the rest)
STARTUP_PERIOD_S = 10
STARTUP_MIN_FAILURES = 60  # ten minutes at least: image pull, runtime start, model load
TAINTS = {"gpu": "nvidia.com/gpu", "accelerator": "aws.amazon.com/neuron"}
GB_PER_GIB = 1.073741824

_LABEL_VALUE = re.compile(r"^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
_IMAGE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?"  # registry host[:port]/
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"  # repository path, lowercase
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"  # tag
    r"(?:@sha256:[0-9a-f]{64})?$"  # digest
)


def k8s_name(text: str) -> str:
    """A DNS-1123 label (lowercase letters, digits and '-', at most 63) made of free text
    ('Search Ranking / prod' -> 'search-ranking-prod'); empty when nothing is left."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].strip("-")
    return name


def namespace_of(scn: Scenario) -> str:
    return k8s_name(scn.name) or "deploycost"


def given_image(scn: Scenario, name: str, images: dict[str, str] | None = None) -> str | None:
    """Model ``name``'s container image: ``images`` (``export --image``), else
    ``models[].image``; None when neither names one."""
    return (images or {}).get(name) or scn.model(name).image


def image_of(scn: Scenario, name: str, images: dict[str, str] | None = None) -> str:
    """The image a manifest runs: the given one, else the marked placeholder."""
    return given_image(scn, name, images) or IMAGE_PLACEHOLDER.format(model=name)


def check_images(
    scn: Scenario, names: list[str], images: dict[str, str] | None = None, template: bool = True
) -> None:
    """Container images must be image references (the API server takes any string, the
    kubelet then fails to pull); model names are DNS labels already (the schema's rule).
    Without ``template`` every model needs an image (no placeholder is written)."""
    given = {name: given_image(scn, name, images) for name in names}
    problems = [
        f"models[{name}].image is not a container image reference, got {image!r}"
        for name, image in given.items()
        if image is not None and (len(image) > 255 or not _IMAGE.match(image))
    ]
    missing = [name for name, image in given.items() if not image]
    if missing and not template:
        problems.append(
            f"no container image for {', '.join(missing)}: set models[].image in the "
            f"scenario or pass --image {missing[0]}=REGISTRY/{missing[0]}:TAG (or --template "
            f"to write placeholder images to fill in)"
        )
    if problems:
        raise DeployCostError(
            "cannot write Kubernetes manifests:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def accelerator_limits(hw: pd.Series) -> dict[str, str]:
    """The extended resources a pod on catalog row ``hw`` asks for: its GPUs or Neuron
    devices, or one MIG slice of an accelerator partition row (the NVIDIA device plugin's
    mixed-strategy resource name)."""
    profile = hw.get("partition_profile")
    if isinstance(profile, str):
        return {f"nvidia.com/mig-{profile}": "1"}
    if hw.compute_class in TAINTS and int(hw.accel_count) > 0:
        return {TAINTS[hw.compute_class]: str(int(hw.accel_count))}
    return {}


def tolerations(hw: pd.Series) -> list[dict]:
    """GPU and Neuron node groups are commonly tainted with their device resource name."""
    if hw.compute_class not in TAINTS:
        return []
    return [{"key": TAINTS[hw.compute_class], "operator": "Exists", "effect": "NoSchedule"}]


def node_instance_type(hw: pd.Series, row: str) -> str:
    """The node label value that selects catalog row ``hw`` (named ``row``); an error when
    it is not a valid label value."""
    instance_type = hw.instance_type if isinstance(hw.instance_type, str) else str(hw.name)
    if len(instance_type) > 63 or not _LABEL_VALUE.match(instance_type):
        raise DeployCostError(
            f"cannot write Kubernetes manifests: instance type {instance_type!r} (catalog "
            f"hardware {row!r}) is not a valid node label value; give the row an "
            f"instance_type such as {k8s_name(instance_type)!r}"
        )
    return instance_type


def node_selector(hw: pd.Series, row: str) -> dict[str, str]:
    """Nodes of the instance type, with the MIG layout of a partition row, and, where the
    catalog row has one, its region (the well-known ``topology.kubernetes.io/region``
    label)."""
    selector = {"node.kubernetes.io/instance-type": node_instance_type(hw, row)}
    profile = hw.get("partition_profile")
    if isinstance(profile, str):  # nodes the GPU operator's MIG manager split this way
        selector["nvidia.com/mig.config"] = f"all-{profile}"
    region = hw.get("region")
    if isinstance(region, str) and len(region) <= 63 and _LABEL_VALUE.match(region):
        selector["topology.kubernetes.io/region"] = region
    return selector


def pod_resources(
    hw: pd.Series, host_gb: float, device_gb: float, sharing: int = 1, devices: bool = True
) -> dict:
    """Requests and limits sized to the model, not the node: memory = the model's host RAM
    (``options.performance``: what does not sit on the accelerators; on a CPU instance the
    device figure is RAM too) + ``RUNTIME_OVERHEAD_GIB``, at most ``NODE_SHARE`` of the node;
    CPU = every core but one on a CPU instance (its throughput figure uses them all), else
    ``CORES_PER_DEVICE`` per accelerator; the accelerators themselves as limits. A container
    ``sharing`` the pod with others of a fleet pool takes its share of the node's memory
    cap and of the cores, and the accelerators only when ``devices`` (one container of a
    pod holds them: Kubernetes gives a device to one container)."""
    node_gib = float(hw.memory_gib) / sharing
    ram_gb = host_gb + (0.0 if hw.compute_class in TAINTS else device_gb)
    need_gib = ram_gb / GB_PER_GIB + RUNTIME_OVERHEAD_GIB
    memory = max(1, math.ceil(min(need_gib, NODE_SHARE * node_gib)))
    vcpus = int(hw.vcpus)
    if hw.compute_class in TAINTS:
        cpu = max(1, min(vcpus - 1, CORES_PER_DEVICE * int(hw.accel_count)))
    else:
        cpu = max(1, vcpus - 1)
    cpu = max(1, cpu // sharing)
    devices = accelerator_limits(hw) if devices else {}
    requests = {"cpu": str(cpu), "memory": f"{memory}Gi", **devices}
    return {"requests": requests, "limits": {"memory": requests["memory"], **devices}}


def serving(llm: bool, hw: pd.Series, precision: str, batch: int, tensor_parallel: int):
    """(env, annotations) of a model's server as costed: the batch, or an LLM's
    tensor-parallel degree, sequences per engine and the engines one pod runs (its
    accelerators / tensor-parallel degree: the capacity counted that many)."""
    if not llm:
        env = [
            {"name": "MAX_BATCH_SIZE", "value": str(batch)},
            {"name": "PRECISION", "value": str(precision)},
        ]
        return env, {}
    engines = max(1, int(hw.accel_count) // int(tensor_parallel))
    annotations = {
        "deploycost.io/tensor-parallel": str(tensor_parallel),
        "deploycost.io/sequences-per-engine": str(batch),
        "deploycost.io/engines-per-pod": str(engines),
    }
    env = [
        {"name": "TENSOR_PARALLEL_SIZE", "value": str(tensor_parallel)},
        {"name": "MAX_NUM_SEQS", "value": str(batch)},
        {"name": "ENGINES_PER_POD", "value": str(engines)},
        {"name": "PRECISION", "value": str(precision)},
    ]
    return env, annotations


def probes(llm: bool, cold_start_s: float, port: str = "http") -> dict:
    """Startup (long enough for the cold start, at least ten minutes), readiness and
    liveness probes on the serving port."""
    ready, live = ("/health", "/health") if llm else ("/v2/health/ready", "/v2/health/live")
    failures = max(STARTUP_MIN_FAILURES, math.ceil(3 * cold_start_s / STARTUP_PERIOD_S))
    return {
        "startupProbe": {
            "httpGet": {"path": ready, "port": port},
            "periodSeconds": STARTUP_PERIOD_S,
            "failureThreshold": failures,
        },
        "readinessProbe": {
            "httpGet": {"path": ready, "port": port},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": live, "port": port},
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
    }


def spread(labels: dict) -> list[dict]:
    """Replicas spread over zones where the scheduler can (never blocking a pod)."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {
                "matchLabels": {"app.kubernetes.io/name": labels["app.kubernetes.io/name"]}
            },
        }
    ]


def deployment_doc(
    name: str, namespace: str, labels: dict, annotations: dict, replicas: int, pod: dict
) -> dict:
    """A Deployment of ``replicas`` pods ``pod`` (an empty tolerations list left out),
    locked down (``restricted``)."""
    pod = restricted({key: value for key, value in pod.items() if value != []})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": labels,
            "annotations": annotations,
        },
        "spec": {
            "replicas": int(replicas),
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
        },
    }


# Pod Security Standards "restricted": no root, no privilege escalation, no capabilities,
# the runtime's seccomp profile, a read-only root file system (the server writes to /tmp, an
# emptyDir), no service-account token (a model server does not call the API server)
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
SCRATCH = {"name": "tmp", "emptyDir": {}}


def restricted(pod: dict) -> dict:
    """``pod`` with the restricted security context on it and on every container, and a
    writable /tmp for each container."""
    containers = [
        {
            **c,
            "securityContext": CONTAINER_SECURITY,
            "volumeMounts": [*c.get("volumeMounts", []), {"name": "tmp", "mountPath": "/tmp"}],
        }
        for c in pod["containers"]
    ]
    return {
        **pod,
        "automountServiceAccountToken": False,
        "securityContext": POD_SECURITY,
        "containers": containers,
        "volumes": [*pod.get("volumes", []), SCRATCH],
    }


def namespace_doc(namespace: str, part_of: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": part_of},
    }


def service_doc(name: str, namespace: str, labels: dict, ports: list[dict]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "selector": {"app.kubernetes.io/name": labels["app.kubernetes.io/name"]},
            "ports": [
                {"name": p["name"], "port": p["containerPort"], "targetPort": p["name"]}
                for p in ports
            ],
        },
    }


def pdb_doc(
    name: str, namespace: str, labels: dict, keep: int | None = None, replicas: int = 1
) -> dict:
    """Voluntary disruptions (drains, upgrades) keep ``keep`` of ``replicas`` pods, but
    always allow one when there are two or more (a budget that allows none blocks every
    node drain); without ``keep`` (a count that changes by the hour), one pod at a time."""
    if keep is not None and replicas > 1:
        budget = {"minAvailable": int(min(keep, replicas - 1))}
    else:
        budget = {"maxUnavailable": 1}
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            **budget,
            "selector": {
                "matchLabels": {"app.kubernetes.io/name": labels["app.kubernetes.io/name"]}
            },
        },
    }


def rps_autoscaler(
    name: str, namespace: str, labels: dict, low: int, high: int, target_rps: float
) -> dict:
    """An HPA on requests per second per pod (the cost model's signal), ``target_rps`` the
    autoscaler's target (capacity x utilisation_max)."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": int(max(1, min(low, high))),
            "maxReplicas": int(high),
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "requests_per_second"},
                        "target": {
                            "type": "AverageValue",
                            "averageValue": f"{max(1, round(target_rps * 1000))}m",
                        },
                    },
                }
            ],
        },
    }


def min_available(arrival_qps: float, per_replica_qps: float, utilisation_max: float) -> int:
    """The replicas the peak needs at ``utilisation_max``."""
    if not per_replica_qps > 0:
        return 1
    return max(1, math.ceil(arrival_qps / (per_replica_qps * utilisation_max) - 1e-9))


def _annotations(scn: Scenario, model, choice, row, images=None) -> dict[str, str]:
    """What a model's Deployment was costed and sized at (``row``: its line of the plan's
    model table), and a note where its image is a placeholder."""
    parts = ("compute_per_day", "model_storage_per_day", "compression_per_day", "people_per_day")
    cost_day = sum(float(row[c]) for c in parts)
    annotations = (
        {}
        if given_image(scn, model.name, images)
        else {"deploycost.io/image": "placeholder: set models[].image in the scenario"}
    )
    return annotations | {
        "deploycost.io/cost-per-day": f"{cost_day:.2f} {scn.currency}",
        "deploycost.io/compute-per-day": f"{float(row.compute_per_day):.2f} {scn.currency}",
        "deploycost.io/precision": str(choice.precision),
        "deploycost.io/batch": str(choice.batch),
        "deploycost.io/p99-ms": f"{float(row.p99_ms):.3f}",
        "deploycost.io/slo-ms": f"{model.latency_limit_ms:g}",
        "deploycost.io/artifact-tier": str(choice.tier),
    }


def manifests(
    scn: Scenario, result, images: dict[str, str] | None = None, template: bool = True
) -> dict[str, list[dict]]:
    """Per model of a ``SolveResult``: Namespace, Deployment, Service, PodDisruptionBudget
    and, when autoscaling, a HorizontalPodAutoscaler (see the module docstring)."""
    cat = scn.resolved_catalog
    out: dict[str, list[dict]] = {}
    models = result.plan.models.set_index("model")
    spec = result.plan.deployment
    check_images(scn, sorted(spec.models), images, template)
    namespace = namespace_of(scn)
    part_of = {"app.kubernetes.io/part-of": namespace, "app.kubernetes.io/managed-by": "deploycost"}
    for name, choice in sorted(spec.models.items()):
        hw = cat.hardware.loc[choice.instance]
        model = scn.model(name)
        row = models.loc[name]
        labels = {"app.kubernetes.io/name": name, **part_of}
        annotations = _annotations(scn, model, choice, row, images)
        env, llm_notes = serving(
            model.is_llm, hw, choice.precision, choice.batch, choice.tensor_parallel
        )
        annotations |= llm_notes
        ports = [{"name": "http", "containerPort": PORT}]
        pod_spec = {
            "nodeSelector": node_selector(hw, choice.instance),
            "tolerations": tolerations(hw),
            "topologySpreadConstraints": spread(labels),
            "containers": [
                {
                    "name": name,
                    "image": image_of(scn, name, images),
                    "ports": ports,
                    "resources": pod_resources(hw, float(row.host_gb), float(row.device_gb)),
                    "env": env,
                    **probes(model.is_llm, float(row.cold_start_s)),
                }
            ],
        }
        deployment = deployment_doc(
            name, namespace, labels, annotations, int(choice.replicas), pod_spec
        )
        per_replica = float(row.capacity_qps) / int(choice.replicas)
        keep = min_available(float(row.arrival_qps), per_replica, scn.constraints.utilisation_max)
        docs = [
            namespace_doc(namespace, part_of),
            deployment,
            service_doc(name, namespace, labels, ports),
            pdb_doc(name, namespace, labels, keep, int(choice.replicas)),
        ]
        if choice.autoscale and choice.capacity_qps:
            docs.append(
                rps_autoscaler(
                    name,
                    namespace,
                    labels,
                    int(model.min_replicas),
                    int(choice.replicas),
                    choice.capacity_qps * scn.constraints.utilisation_max,
                )
            )
        out[name] = docs
    return out
