"""The kasugai command as users run it: real subprocesses, real files, exit statuses, messages."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from core_helpers import CALC, FACTS

KASUGAI = Path(sys.executable).parent / "kasugai"


def kasugai(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KASUGAI), *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def test_plan_prints_the_whole_wired_plan() -> None:
    result = kasugai("plan", "-f", CALC, "-f", FACTS / "calc-basic")
    assert result.returncode == 0, result.stderr
    document = yaml.safe_load(result.stdout)
    assert (document["apiVersion"], document["kind"]) == ("v1", "List")
    kinds = [item["kind"] for item in document["items"]]
    assert (
        kinds
        == ["ServiceAccount", "Role", "RoleBinding"] * 7
        + ["Pod"] * 7
        + ["Service"] * 7
        + ["ConfigMap"] * 7
        + ["DataFlow"]
        + ["FunctionChain"]
        + ["FunctionType"] * 7
    )
    dataflow = document["items"][42]
    assert dataflow["status"]["status"] == "Deployed"
    configs = [item["data"]["config"] for item in document["items"][35:42]]
    assert json.loads(configs[0]) == {
        "ips": ["10.96.101.11"],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }
    as_json = kasugai("plan", "-f", CALC, "-f", FACTS / "calc-basic", "-o", "json")
    assert json.loads(as_json.stdout) == document


def test_bad_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: DataFlow\nmetadata: {name: x\n")
    result = kasugai("plan", "-f", bad)
    assert result.returncode == 2
    assert result.stderr == (
        f"kasugai plan: error: {bad}: invalid YAML: while parsing a flow mapping: "
        "did not find expected ',' or '}' (line 3 column 1)\n"
    )
    assert "Traceback" not in result.stderr


def test_an_object_without_name_names_the_document(tmp_path: Path) -> None:
    bad = tmp_path / "two.yaml"
    bad.write_text("kind: ConfigMap\nmetadata: {name: a}\n---\nkind: ConfigMap\nmetadata: {}\n")
    result = kasugai("plan", "-f", tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"kasugai plan: error: {bad} (document 2): ConfigMap: metadata.name: required "
        "(a non-empty string)\n"
    )


def test_a_missing_path() -> None:
    result = kasugai("plan", "-f", "/nonexistent/dir")
    assert (result.returncode, result.stderr) == (
        2,
        "kasugai plan: error: /nonexistent/dir: no such file or directory\n",
    )


def test_an_invalid_chain_is_reported_with_its_file_and_field(tmp_path: Path) -> None:
    chain = yaml.safe_load((CALC / "functionchain.yaml").read_text())
    chain["spec"]["connections"][2]["to"]["functionKey"] = "x"
    (tmp_path / "chain.yaml").write_text(yaml.safe_dump(chain))
    inputs = [p for p in CALC.iterdir() if p.name != "functionchain.yaml"]
    result = kasugai("plan", *[arg for p in inputs for arg in ("-f", p)], "-f", tmp_path)
    assert result.returncode == 2
    expected = (
        "spec.connections[2].to.functionKey: unknown function 'x' "
        "(known: average, divide, minus, multiply, plus, rcv, send)"
    )
    assert (
        f"error: {tmp_path / 'chain.yaml'}: FunctionChain cpufunc-calcapp/calcapp-chain: {expected}"
        in result.stderr.splitlines()
    )
    assert (
        f"error: {CALC / 'df-cpufunc.yaml'}: DataFlow cpufunc-calcapp/df-calcapp:" in result.stderr
    )
    assert yaml.safe_load(result.stdout)["kind"] == "List"  # the plan is still printed


def live_cluster(tmp_path: Path) -> Path:
    """What a cluster would hold after applying the calc plan: desired objects plus facts."""
    planned = yaml.safe_load(kasugai("plan", "-f", CALC, "-f", FACTS / "calc-basic").stdout)
    facts = {
        (f["kind"], f["metadata"]["name"]): f
        for f in yaml.safe_load_all((FACTS / "calc-basic" / "observed.yaml").read_text())
        if f
    }
    live: list[dict[str, Any]] = []
    for item in planned["items"]:
        if item["kind"] in ("ServiceAccount", "Role", "RoleBinding", "Pod", "Service", "ConfigMap"):
            fact = facts.get((item["kind"], item["metadata"]["name"]), {})
            item["metadata"]["uid"] = "1234"
            if "status" in fact:
                item["status"] = fact["status"]
            if item["kind"] == "Service":
                item["spec"]["clusterIP"] = fact["spec"]["clusterIP"]
            live.append(item)
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump_all(live))
    return path


def test_diff_against_live_objects(tmp_path: Path) -> None:
    live = live_cluster(tmp_path)
    same = kasugai("diff", "-f", CALC, "--live", live)
    assert (same.returncode, same.stdout) == (0, ""), same.stderr

    objects = list(yaml.safe_load_all(live.read_text()))
    configmap = objects[-2]
    configmap["data"]["config"] = "{}"
    gone = objects.pop(next(i for i, o in enumerate(objects) if o["kind"] == "Pod"))
    extra = {**configmap, "metadata": {**configmap["metadata"], "name": "ethcrl.old-pod"}}
    live.write_text(yaml.safe_dump_all([*objects, extra]))
    changed = kasugai("diff", "-f", CALC, "--live", live)
    assert changed.returncode == 1, changed.stderr
    headers = [
        line
        for line in changed.stdout.splitlines()
        if line.endswith(("created", "configured", "deleted"))
    ]
    assert headers == [
        f"Pod/cpufunc-calcapp/{gone['metadata']['name']} created",
        f"ConfigMap/cpufunc-calcapp/{configmap['metadata']['name']} configured",
        "ConfigMap/cpufunc-calcapp/ethcrl.old-pod deleted",
    ]
    assert "+++ desired/Pod/cpufunc-calcapp/" in changed.stdout


def _on_a_terminal(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run kasugai with its stdout on a real pseudo-terminal; its exit status and output."""
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [str(KASUGAI), *map(str, args)], stdout=follower, stderr=subprocess.DEVNULL, env=env
    ) as process:
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        return process.wait(timeout=120), b"".join(chunks).decode()


def test_diff_is_coloured_on_a_terminal_only(tmp_path: Path) -> None:
    live = live_cluster(tmp_path)
    objects = list(yaml.safe_load_all(live.read_text()))
    objects[-2]["data"]["config"] = "{}"
    live.write_text(yaml.safe_dump_all(objects))

    code, shown = _on_a_terminal("diff", "-f", CALC, "--live", live)
    assert code == 1
    assert "\x1b[1mConfigMap/cpufunc-calcapp/" in shown  # the object's header, bold
    assert "\x1b[31m-" in shown and "\x1b[32m+" in shown and "\x1b[36m@@" in shown

    plain = {**os.environ, "NO_COLOR": "1"}
    code, shown = _on_a_terminal("diff", "-f", CALC, "--live", live, env=plain)
    assert code == 1 and "ConfigMap/cpufunc-calcapp/" in shown and "\x1b[" not in shown
    piped = kasugai("diff", "-f", CALC, "--live", live)
    assert piped.returncode == 1 and "\x1b[" not in piped.stdout


def test_facts_may_come_as_a_list_without_a_name(tmp_path: Path) -> None:
    """``kubectl get svc,pod -o yaml`` prints a List that has no name of its own."""
    facts = [
        document
        for file in sorted((FACTS / "calc-basic").glob("*.yaml"))
        for document in yaml.safe_load_all(file.read_text())
        if document
    ]
    listed = tmp_path / "observed.yaml"
    listed.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": facts}))
    from_list = kasugai("plan", "-f", CALC, "-f", listed)
    assert from_list.returncode == 0, from_list.stderr
    assert from_list.stdout == kasugai("plan", "-f", CALC, "-f", FACTS / "calc-basic").stdout


def test_diff_of_a_bad_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[1, 2")
    result = kasugai("diff", "-f", tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"kasugai diff: error: {tmp_path / 'x.json'}: invalid JSON")


def test_replay_reproduces_a_journal_and_catches_a_difference(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    planned = kasugai("plan", "-f", CALC, "-f", FACTS / "calc-basic", "--journal", journal)
    assert planned.returncode == 0, planned.stderr
    replayed = kasugai("replay", journal)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    lines = replayed.stdout.splitlines()
    assert lines and all(line.startswith("= ") for line in lines)
    assert any(
        "DataFlow cpufunc-calcapp/df-calcapp: Deploying -> Deployed (AllReady)" in line
        for line in lines
    )

    # A second run appends a new session: replay starts a fresh engine there.
    again = kasugai("plan", "-f", CALC, "-f", FACTS / "calc-basic", "--journal", journal)
    assert again.returncode == 0, again.stderr
    sessions = [line for line in journal.read_text().splitlines() if '"journal": "session"' in line]
    assert len(sessions) == 2 and '"load_balancer_pool": "cpufunc-pool"' in sessions[0]
    twice = kasugai("replay", journal)
    assert twice.returncode == 0, twice.stdout + twice.stderr
    assert len(twice.stdout.splitlines()) == 2 * len(lines)

    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    last = max(i for i, e in enumerate(entries) if e.get("event") == "Transitioned")
    entries[last]["to_state"] = "Degraded"
    journal.write_text("".join(json.dumps(e) + "\n" for e in entries))
    tampered = kasugai("replay", journal)
    assert tampered.returncode == 1
    assert [line[0] for line in tampered.stdout.splitlines() if line[0] in "-+"] == ["-", "+"]

    journal.write_text('{"event": "Observed", "kind": "Pod"}\n')
    broken = kasugai("replay", journal)
    assert broken.returncode == 2
    assert broken.stderr.startswith(f"kasugai replay: error: {journal}:1: not a journal event")


def test_replay_checks_plans_too_and_catches_a_decision_that_does_not_follow(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    planned = kasugai("plan", "-f", CALC, "-f", FACTS / "calc-basic", "--journal", journal)
    assert planned.returncode == 0, planned.stderr
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert entries[0]["plans"] is True
    replayed = kasugai("replay", journal)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "= plan DataFlow cpufunc-calcapp/df-calcapp: sha256:" in replayed.stdout
    assert "= plan FunctionChain cpufunc-calcapp/calcapp-chain: sha256:" in replayed.stdout

    def replay(changed: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
        journal.write_text("".join(json.dumps(e) + "\n" for e in changed))
        return kasugai("replay", journal)

    def marked(result: subprocess.CompletedProcess[str]) -> list[str]:
        return [line for line in result.stdout.splitlines() if line[0] in "-+"]

    # A plan that is not the one the events make.
    last = max(i for i, e in enumerate(entries) if e.get("journal") == "planned")
    tampered = [*entries[:last], {**entries[last], "digest": "0" * 64}, *entries[last + 1 :]]
    result = replay(tampered)
    assert result.returncode == 1
    assert [line[:2] for line in marked(result)] == ["- ", "+ "]
    assert "0000000000000000" in marked(result)[0]

    # A move the machine would not take there: out of Terminating, which is final.
    move = {
        "event": "Transitioned",
        "object": {"kind": "DataFlow", "namespace": "cpufunc-calcapp", "name": "df-calcapp"},
        "machine": "DataFlow",
        "subject": "",
        "from_state": "Terminating",
        "to_state": "Deploying",
        "reason": "Resolved",
        "message": "",
    }
    result = replay([*entries, move])
    assert result.returncode == 1
    assert marked(result) == [
        "- DataFlow cpufunc-calcapp/df-calcapp: Terminating -> Deploying (Resolved) "
    ]

    # A decision left out is one the replay takes alone.
    first = next(i for i, e in enumerate(entries) if e.get("event") == "Transitioned")
    result = replay(entries[:first] + entries[first + 1 :])
    assert result.returncode == 1 and [line[0] for line in marked(result)] == ["+"]

    # A journal from before plans were recorded: its transitions are still checked.
    older = [
        {k: v for k, v in e.items() if k != "plans"}
        for e in entries
        if e.get("journal") != "planned"
    ]
    result = replay(older)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "plan " not in result.stdout and "AllReady" in result.stdout


def test_no_command_is_a_usage_error_that_lists_the_commands() -> None:
    result = kasugai()
    assert result.returncode == 2
    assert "usage: kasugai" in result.stderr
    assert "plan" in result.stderr and "controller" in result.stderr and "replay" in result.stderr


def test_one_filename_option_takes_several_paths() -> None:
    files = [CALC / name for name in sorted(p.name for p in CALC.iterdir())]
    together = kasugai("plan", "-f", *files)
    assert together.returncode == 0, together.stderr
    separate = kasugai("plan", *(arg for file in files for arg in ("-f", file)))
    assert together.stdout == separate.stdout


def test_an_unknown_kind_a_duplicate_or_an_empty_file_is_refused(tmp_path: Path) -> None:
    chain = tmp_path / "chain.yaml"
    chain.write_text(
        (CALC / "functionchain.yaml")
        .read_text()
        .replace("kind: FunctionChain", "kind: FunctionChian")
    )
    typo = kasugai("plan", "-f", chain)
    assert typo.returncode == 2
    assert "kind: 'FunctionChian' is not a kind of example.com (did you mean FunctionChain?)" in (
        typo.stderr
    )

    twice = tmp_path / "twice.yaml"
    twice.write_text((CALC / "df-cpufunc.yaml").read_text())
    duplicate = kasugai("plan", "-f", CALC, "-f", twice)
    assert duplicate.returncode == 2
    assert "DataFlow 'cpufunc-calcapp'/'df-calcapp' is also defined in" in duplicate.stderr

    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n---\n")
    nothing = kasugai("plan", "-f", empty)
    assert nothing.returncode == 2 and "no objects in it" in nothing.stderr
