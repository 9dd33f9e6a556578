"""A stand-in function process: counts the SIGHUPs it receives.

Usage: python sighup_counter.py LOG [CONFIG]. On each SIGHUP it appends one line to LOG: the
number of the signal and, when CONFIG is given, the content of CONFIG it then reads (as a
function reloading its config would). It writes "ready" once its handler is installed.
"""

import signal
import sys
import time
from pathlib import Path

log_path = Path(sys.argv[1])
config_path = Path(sys.argv[2]) if len(sys.argv) > 2 else None
count = 0


def on_sighup(_signum: int, _frame: object) -> None:
    global count
    count += 1
    seen = config_path.read_text().replace("\n", "\\n") if config_path else ""
    with log_path.open("a") as log:
        log.write(f"{count} {seen}\n")


signal.signal(signal.SIGHUP, on_sighup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
with log_path.open("a") as log:
    log.write("ready\n")
while True:
    time.sleep(3600)
