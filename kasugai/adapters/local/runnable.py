"""Can this command run on this machine? Said before anything starts, with the reason and the fix.

Pod specs name programs inside container images (``/calcapp``, ``/sidecar``); locally only what
is on this machine can run. A container's ``argv[0]`` must be an existing executable (an absolute
path) or a program on the Pod's PATH. For ``sh -c SCRIPT`` (and bash, dash...) the script's
simple commands are checked the same way, so the original samples' ``bash -c "cp ...; /calcapp
-server ..."`` is reported at once instead of failing inside a shell. Nothing is executed here,
and the script is only tokenised (never evaluated); words built from ``$`` expansions cannot be
known in advance and are not checked.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterator, Sequence

__all__ = ["command_problem"]

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh"})
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", ";;", "|&"})
# Words that start a simple command without being a program.
_PREFIXES = frozenset({"exec", "nohup", "command", "time", "env", "!", "{", "}"})
_KEYWORDS = frozenset({"if", "then", "else", "elif", "do", "while", "until"})
_SKIP_COMMAND = frozenset({"for", "case", "select", "function", "fi", "done", "esac"})
_BUILTINS = frozenset(
    {
        ".", ":", "[", "alias", "break", "cd", "continue", "echo", "eval", "exit", "export",
        "false", "getopts", "hash", "kill", "local", "printf", "pwd", "read", "readonly",
        "return", "set", "shift", "source", "test", "times", "trap", "true", "type", "ulimit",
        "umask", "unalias", "unset", "wait",
    }
)  # fmt: skip

FIX = (
    "use the portable samples (manifests/samples/calc, manifests/samples/video-*) or put the "
    "program on PATH"
)


def command_problem(argv: Sequence[str], path: str, cwd: str, image: str) -> str | None:
    """Why ``argv`` cannot run here (with the fix), or None if it can."""
    if not argv:
        return (
            "has no command: the local runtime cannot run an image's entrypoint; "
            "set `command` in the template"
        )
    problem = _program_problem(argv[0], path, cwd, image)
    if problem:
        return problem
    if os.path.basename(argv[0]) in _SHELLS and len(argv) > 2 and argv[1] == "-c":
        for word in _script_programs(argv[2]):
            problem = _program_problem(word, path, cwd, image)
            if problem:
                return problem
    return None


def _program_problem(word: str, path: str, cwd: str, image: str) -> str | None:
    where = f"inside the image {image}" if image else "inside its image"
    if "/" in word:
        target = word if os.path.isabs(word) else os.path.join(cwd, word)
        if os.path.isfile(target) and os.access(target, os.X_OK):
            return None
        if os.path.isabs(word):
            return f"command {word!r} is a path {where} and does not exist here; {FIX}"
        return f"command {word!r} does not exist in the Pod's working directory {cwd}; {FIX}"
    if word in _BUILTINS or shutil.which(word, path=path):
        return None
    return f"command {word!r} is not on PATH here (it is a program {where}); {FIX}"


def _script_programs(script: str) -> Iterator[str]:
    """The program word of every simple command of a shell script, where it can be known."""
    # A newline ends a command like ";" does (inside quotes the change is harmless: only the
    # program words are read).
    lexer = shlex.shlex(script.replace("\n", ";"), posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: the shell itself will say so
        return
    expecting, skipping = True, False
    for token in tokens:
        if token in _SEPARATORS:
            expecting, skipping = True, False
            continue
        if not expecting or skipping:
            continue
        if token in _PREFIXES or token in _KEYWORDS or _is_assignment(token):
            continue
        expecting = False
        if token in _SKIP_COMMAND:
            skipping = True
            continue
        if "$" not in token and "`" not in token:
            yield token


def _is_assignment(token: str) -> bool:
    name, equals, _ = token.partition("=")
    return bool(equals) and name.isidentifier()
