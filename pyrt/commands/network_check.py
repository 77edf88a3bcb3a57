"""`pyrt network check ID`: the CNI CHECK of a container's network; 0 ok, 1 not, 2 bad input."""

from __future__ import annotations

from pyrt.commands.state import Store
from pyrt.common.errors import PyrtError
from pyrt.common.log import log


def network_command(store: Store, action: str, cid: str) -> int:
    from pyrt.network.cni import Attachment

    if action != "check":
        log.error(f"network: unknown action {action!r} (pyrt network check ID)")
        return 2
    try:
        record = store.read(cid)
    except PyrtError as exc:
        log.error(f"network check {cid}: {exc}")
        return 2
    if not record.get("network"):
        log.error(f"network check {cid}: the container has no network (create it with --network NAME)")
        return 2
    att = Attachment.from_record(record["network"], cid)
    try:
        att.check()
    except PyrtError as exc:
        log.error(f"network check {cid}: {att.field}: {exc}")
        return 1
    print(f"{cid}: network {record['network']['name']}: ok")
    return 0
