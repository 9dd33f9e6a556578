"""Cases for the Go text/template parity check, and the Go oracle that renders them.

The cases cover the four shipped templates with the configs a sidecar sees, every supported
construct, number formatting and error outcomes. ``gotemplate_vectors.json`` holds Go's answers
so that the check runs without Go; run this file to regenerate it::

    .venv/bin/python tests/component/sidecar/goparity.py --write
"""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
ORACLE_SOURCE = REPO / "tests" / "gotemplate"
TEMPLATES = REPO / "tests" / "fixtures" / "openkasugai" / "templates"
VECTORS = Path(__file__).with_name("gotemplate_vectors.json")

ONE_ADDRESS = {"ips": ["10.96.12.34"], "ports": [{"port": 8080, "protocol": "TCP"}]}
SEVERAL_ADDRESSES = {
    "ips": ["192.168.10.21", "192.168.10.22", "fd00::1"],
    "ports": [{"port": 5678, "protocol": "UDP"}, {"port": 8080, "protocol": "TCP"}],
}
FAN_OUT = {
    **ONE_ADDRESS,
    "outputs": {
        "0": ONE_ADDRESS,
        "1": {"ips": ["10.96.7.8"], "ports": [{"port": 9090, "protocol": "SCTP"}]},
    },
}
CONFIGS: dict[str, Any] = {
    "empty": {},
    "one": ONE_ADDRESS,
    "several": SEVERAL_ADDRESSES,
    "fanout": FAN_OUT,
    "emptylists": {"ips": [], "ports": []},
    "nulls": {"ips": None, "ports": None},
    # A string where a list belongs, of 3 characters and 6 bytes: Go indexes and bounds bytes.
    "multibyte": {"ips": "\u0080\u0080\u0080", "ports": "é"},
}

# Templates exercising each supported construct; each runs against every config above.
FEATURE_TEMPLATES: dict[str, str] = {
    "print_missing": "{{.nothing}}|{{.nothing.deeper}}|{{.ips}}|{{.ports}}",
    "trim": "a  \n {{- .ips -}} \n\t b {{- /* c */ -}}   c\n{{- 3 }} {{-3}}",
    "comment": "x{{/* a comment */}}y{{- /* trimmed */ -}}  z",
    "if_else_if": "{{if .outputs}}fan{{else if .ips}}ips{{else}}none{{end}}",
    "with": "{{with .ports}}{{(index . 0).port}}{{else}}noports{{end}}",
    "with_else_with": "{{with .outputs}}o{{else with .ips}}{{index . 0}}{{else}}-{{end}}",
    "range_list": "{{range .ips}}[{{.}}]{{else}}empty{{end}}",
    "range_vars": "{{range $i, $p := .ports}}{{$i}}:{{$p.port}}/{{$p.protocol}} {{end}}",
    "range_map": "{{range $k, $v := .outputs}}{{$k}}={{index $v.ips 0}};{{end}}",
    "range_break": '{{range .ips}}{{if eq . "192.168.10.22"}}{{break}}{{end}}{{.}},{{end}}',
    "range_continue": "{{range $i, $_ := .ips}}{{if eq $i 0}}{{continue}}{{end}}{{$i}}{{end}}",
    "range_int": "{{range 3}}{{.}}{{end}}",
    "variables": "{{$n := len .ips}}{{$n}}{{$n = 7}} {{$n}} {{$}}",
    "len": '{{len .ips}} {{len .ports}} {{len "héllo"}}',
    "len_pipe": "{{.ips | len}}",
    "compare_floats": "{{$p := (index .ports 0).port}}{{eq $p 8080.0}} {{lt $p 9000.0}} "
    "{{ge $p 5678.0}} {{ne $p 1.0}} {{le $p 1.0}} {{gt $p 1.0}}",
    "compare_float_int": "{{eq (index .ports 0).port 8080}}",
    "compare_strings": '{{eq (index .ports 0).protocol "TCP" "UDP"}} {{lt "a" "b"}}',
    "logic": '{{and .ips .ports}}|{{or .missing .ips}}|{{not .ips}}|{{and 1 0 2}}|{{or 0 ""}}',
    "print": '{{print .ips 1 2 "a" "b" 3.5 nil}}|{{println .ports}}',
    "parens_chain": '{{(index .ports 0).port}} {{(index (index .outputs "1").ports 0).port}}',
    "index_nested": '{{index .outputs "1" "ips" 0}}',
    "index_missing_key": '{{index .outputs "9"}}',
    "dot": "{{.}}",
    "literals": '{{1}} {{1.0}} {{1e3}} {{0x1F}} {{0o17}} {{017}} {{\'a\'}} {{"q\\t\\""}} '
    "{{`raw`}} {{true}} {{-0.0}} {{1_000}}",
    "field_of_nil": "{{.ips.x}}",
    "index_out_of_range": "{{index .ips 5}}",
    "index_missing": "{{index .nothing 0}}",
    "index_float": "{{index .ips 0.0}}",
    "range_float": "{{range (index .ports 0).port}}x{{end}}",
    "len_missing": "{{len .nothing}}",
    "lt_missing": "{{lt .nothing 1}}",
    "eq_missing": '{{eq .nothing .alsonothing}} {{eq .nothing "x"}}',
    "args_to_field": "{{.ips 1}}",
}

# Templates that Go refuses to parse; each runs against the empty config.
PARSE_ERRORS: dict[str, str] = {
    "unclosed_action": "a {{ .ips ",
    "unknown_function": "{{printf2 .ips}}",
    "undefined_variable": "{{$x}}",
    "end_without_if": "{{end}}",
    "else_outside": "{{else}}",
    "missing_end": "{{if .ips}}x",
    "empty_action": "{{}}",
    "bad_number": "{{3x}}",
    "unclosed_paren": "{{(index .ips 0}}",
    "stray_paren": "{{index .ips 0)}}",
    "break_outside": "{{break}}",
    "unterminated_string": '{{"abc}}',
    "bad_escape": '{{"\\q"}}',
    "non_executable_stage": "{{.ips | 3}}",
    "unclosed_comment": "{{/* never closed",
    "comment_then_text": "{{/* c */ .x}}",
    "too_many_decls": "{{$a, $b := .ips}}",
    "dot_after_literal": "{{3.x}}",
    "second_line": "line one\n{{if}}\n",
}

NUMBERS = [
    "8080",
    "0",
    "-0",
    "1",
    "-1",
    "1.5",
    "0.1",
    "1e6",
    "1e+06",
    "999999",
    "1000000",
    "1234567",
    "123456789",
    "123456.7",
    "1e5",
    "100000",
    "0.0001",
    "0.00001",
    "0.000123",
    "1e-7",
    "1e20",
    "1e21",
    "1e22",
    "12345678901234567890",
    "3.14159265358979",
    "2.5e-10",
    "5e-324",
    "1.7976931348623157e308",
    "65535",
    "-273.15",
    "0.30000000000000004",
    "4.35",
    "100",
    "1e100",
    "9007199254740993",
    "123456789012",
    "0.5",
    "1.0",
]


def _random_floats(count: int) -> list[str]:
    """Deterministic random float64 bit patterns (finite), written as Python's repr."""
    rng = random.Random(20240601)
    out: list[str] = []
    while len(out) < count:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if value == value and abs(value) != float("inf"):
            out.append(repr(value))
        scaled = rng.uniform(-1e7, 1e7) / 10 ** rng.randint(0, 12)
        out.append(repr(round(scaled, rng.randint(0, 9))))
    return out[:count]


def cases() -> list[dict[str, str]]:
    """Every parity case: name, template text and data (JSON text, as a ConfigMap holds it)."""
    out: list[dict[str, str]] = []
    for path in sorted(TEMPLATES.glob("*.tmpl")):
        for config_name, config in CONFIGS.items():
            out.append(
                {
                    "name": f"{path.name}/{config_name}",
                    "template": path.read_text(),
                    "data": json.dumps(config, indent=2),
                }
            )
    for template_name, text in FEATURE_TEMPLATES.items():
        for config_name, config in CONFIGS.items():
            out.append(
                {
                    "name": f"{template_name}/{config_name}",
                    "template": text,
                    "data": json.dumps(config),
                }
            )
    for template_name, text in PARSE_ERRORS.items():
        out.append({"name": f"parse/{template_name}", "template": text, "data": "{}"})
    for i, number in enumerate(NUMBERS + _random_floats(400)):
        out.append(
            {
                "name": f"number/{i}",
                "template": "{{.n}} {{.list}} {{.map}}",
                "data": f'{{"n": {number}, "list": [{number}], "map": {{"k": {number}}}}}',
            }
        )
    return out


def build_oracle(directory: Path) -> Path:
    """Build the Go oracle into ``directory``; a clear error when Go is missing."""
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        raise RuntimeError(
            "the Go toolchain is needed to check the template renderer against Go itself: "
            "install Go (scripts/setup.sh) or put `go` on PATH"
        )
    binary = directory / "gotemplate"
    subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=ORACLE_SOURCE, check=True, timeout=600
    )
    return binary


def run_oracle(binary: Path, case_list: list[dict[str, str]]) -> list[dict[str, str]]:
    """Go's outcome for each case, in order."""
    result = subprocess.run(
        [str(binary)],
        input=json.dumps(case_list),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    outcomes: list[dict[str, str]] = json.loads(result.stdout)
    return outcomes


def main() -> None:
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {sys.argv[0]} --write   (regenerates {VECTORS.name} with Go)")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        case_list = cases()
        outcomes = run_oracle(build_oracle(Path(tmp)), case_list)
    vectors = [{**case, **outcome} for case, outcome in zip(case_list, outcomes, strict=True)]
    VECTORS.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(vectors)} vectors to {VECTORS}")


if __name__ == "__main__":
    main()
