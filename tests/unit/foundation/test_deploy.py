"""Deployment manifests parse, name no secret values, and ship every Cedar policy file."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.app import REPO

K8S = REPO / "deploy" / "k8s"


def _documents(path: Path) -> list[dict[str, object]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_manifest_parses_and_has_a_kind() -> None:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in _documents(path):
            assert "kind" in doc, path


def test_the_policy_configmap_ships_every_policy_file() -> None:
    (kustomization,) = _documents(K8S / "kustomization.yaml")
    generators = kustomization["configMapGenerator"]
    assert isinstance(generators, list)
    shipped = {Path(f).name for f in generators[0]["files"]}
    policy_files = (REPO / "policies").iterdir()
    on_disk = {p.name for p in policy_files if p.suffix in {".cedar", ".cedarschema"}}
    assert shipped == on_disk


def test_example_secrets_hold_names_only() -> None:
    for doc in _documents(K8S / "secrets.example.yaml"):
        values = doc["stringData"]
        assert isinstance(values, dict)
        assert all(value == "" for value in values.values())


def test_containers_run_unprivileged() -> None:
    for path in (K8S / "control-plane.yaml", K8S / "agents.yaml", K8S / "migrate-job.yaml"):
        for doc in _documents(path):
            if doc["kind"] not in {"Deployment", "Job"}:
                continue
            pod = doc["spec"]["template"]["spec"]  # type: ignore[index]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for container in pod["containers"]:
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["readOnlyRootFilesystem"] is True


def test_the_audit_witness_file_is_on_a_writable_volume() -> None:
    (config,) = _documents(K8S / "configmap.yaml")
    data = config["data"]
    assert isinstance(data, dict)
    witness = Path(data["CONTROL_PLANE_AUDIT__WITNESS_FILE"])
    (deployment,) = [d for d in _documents(K8S / "control-plane.yaml") if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    mounts = [m for m in container["volumeMounts"] if not m.get("readOnly")]
    assert any(witness.is_relative_to(m["mountPath"]) for m in mounts), witness
    unit = (REPO / "deploy" / "systemd" / "control-plane.service").read_text()
    assert "CONTROL_PLANE_AUDIT__WITNESS_FILE=/var/lib/control-plane/" in unit
    assert "ReadWritePaths=/var/lib/control-plane" in unit


def test_agent_pods_run_the_supervisor_with_only_its_secrets() -> None:
    (deployment,) = _documents(K8S / "agents.yaml")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]  # type: ignore[index]
    assert container["args"][:3] == ["control-plane", "agents", "run"]
    (agent_secrets,) = [
        d
        for d in _documents(K8S / "secrets.example.yaml")
        if d["metadata"]["name"] == "agent-secrets"  # type: ignore[index]
    ]
    assert set(agent_secrets["stringData"]) == {  # type: ignore[call-overload]
        "CONTROL_PLANE_AGENTS__LIVEKIT_API_KEY",
        "CONTROL_PLANE_AGENTS__LIVEKIT_API_SECRET",
        "CONTROL_PLANE_DATABASE__URL",
        "CONTROL_PLANE_KEYS__WORKER_CREDENTIAL_KEY",
    }
