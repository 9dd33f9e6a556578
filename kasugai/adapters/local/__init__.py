"""The local runtime: DataFlows on one machine, planned by the same core as in a cluster.

Pods become supervised process groups with their own loopback address, config directory and
working directory; Services resolve to those addresses; connection ConfigMaps are files read by
each Pod's sidecar. Modules, from the bottom up:

  layout       the state directory's files
  addresses    Pod -> 127.0.x.y, stable and collision-free
  runnable     can a container's command run here (and what to do if not)
  podspec      a desired Pod -> argv, env and directories per container
  processes    process groups tied to the supervisor; leftovers by marker
  pods         supervision: restart with backoff, graceful stop
  facts        observed Pods and Services, as Kubernetes would report them
  configmaps   connection ConfigMaps as files
  inputs       the watched input directory -> events
  reconciler   engine + diff -> actions on this machine
  snapshot     state.json
  lock, leftovers, lookup   one supervisor per state directory; proof of a clean stop; find Pods
  supervisor   all of it together, until stopped
"""

from kasugai.adapters.local.layout import StateDir, state_dir
from kasugai.adapters.local.supervisor import Settings, StartError, Supervisor
from kasugai.backoff import Backoff

__all__ = ["Backoff", "Settings", "StartError", "StateDir", "Supervisor", "state_dir"]
